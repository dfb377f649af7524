// budget.c -- the training budget, the run seed and the summary block of prepare.h.
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dataset.h"
#include "prepare.h"
#include "util.h"

// ----------------------------------------------------------------------------
// Budget

typedef enum { BUDGET_TIME, BUDGET_TOKENS, BUDGET_FLOPS } BudgetMode;
static const char *mode_names[] = {"time", "tokens", "flops"};

static struct {
    int begun;
    BudgetMode mode;
    double amount;          // seconds, tokens or FLOPs
    double last;            // time of the previous budget_step (or budget_begin)
    double train_seconds;   // counted time: steps after the warm-up ones
    double tokens, flops;   // counted work: every step (deterministic in the work modes)
    double timed_tokens, timed_flops;   // work of the counted-time steps: the throughput
    int steps;
    double begin;           // time of budget_begin
    double loss;            // the latest budget_report_loss (NaN: none yet)
    const char *progress_path;   // $AUTORESEARCH_PROGRESS_FILE, or NULL
    double progress_written;     // time of the last progress file write
} bud;

static void budget_read_env(void) {
    if (bud.begun) return;
    bud.begun = 1;
    bud.mode = BUDGET_TIME;
    bud.amount = TIME_BUDGET;
    const char *m = getenv("AUTORESEARCH_BUDGET_MODE");
    const char *a = getenv("AUTORESEARCH_BUDGET");
    if (m && *m) {
        int found = 0;
        for (int i = 0; i < 3; i++)
            if (!strcmp(m, mode_names[i])) { bud.mode = (BudgetMode)i; found = 1; }
        if (!found) die("AUTORESEARCH_BUDGET_MODE='%s': expected time, tokens or flops", m);
        if (bud.mode != BUDGET_TIME && !(a && *a)) die("AUTORESEARCH_BUDGET_MODE=%s needs AUTORESEARCH_BUDGET", m);
    }
    if (a && *a) {
        char *end;
        double v = strtod(a, &end);
        if (*end || !(v > 0) || !isfinite(v)) die("AUTORESEARCH_BUDGET='%s': expected a positive number", a);
        bud.amount = v;
    }
}

void budget_begin(void) {
    budget_read_env();
    bud.begin = bud.last = now_seconds();
    bud.train_seconds = bud.tokens = bud.flops = bud.timed_tokens = bud.timed_flops = 0;
    bud.steps = 0;
    bud.loss = NAN;
    const char *p = getenv("AUTORESEARCH_PROGRESS_FILE");
    bud.progress_path = p && *p ? p : NULL;
    bud.progress_written = -INFINITY;
}

void budget_report_loss(double loss) { bud.loss = loss; }

// The progress file: "key: value" lines, written to a temporary file and renamed over the
// path, so a reader sees the previous state or the new one, never a torn one. No fsync: the
// file is a view for the harness, not a record, and an fsync could stall a timed step.
static void progress_write(int done, double t) {
    double tps = bud.train_seconds > 0 ? bud.timed_tokens / bud.train_seconds : 0;
    double fps = bud.train_seconds > 0 ? bud.timed_flops / bud.train_seconds : 0;
    double left = NAN;   // seconds of training left at the current throughput
    if (bud.mode == BUDGET_TIME) left = fmax(0, bud.amount - bud.train_seconds);
    else if (bud.mode == BUDGET_TOKENS && tps > 0) left = fmax(0, bud.amount - bud.tokens) / tps;
    else if (bud.mode == BUDGET_FLOPS && fps > 0) left = fmax(0, bud.amount - bud.flops) / fps;
    char buf[640];
    int n = snprintf(buf, sizeof buf,
                     "pid: %d\nstep: %d\nprogress: %.6f\nbudget_mode: %s\nbudget: %.17g\n"
                     "train_seconds: %.3f\nelapsed_seconds: %.3f\ntokens: %.0f\ntokens_per_sec: %.1f\n"
                     "done: %d\n",
                     (int)getpid(), bud.steps, budget_progress(), mode_names[bud.mode], bud.amount,
                     bud.train_seconds, t - bud.begin, bud.tokens, tps, done);
    if (isfinite(bud.loss)) n += snprintf(buf + n, sizeof buf - (size_t)n, "loss: %.6f\n", bud.loss);
    if (isfinite(left)) n += snprintf(buf + n, sizeof buf - (size_t)n, "eta_seconds: %.1f\n", left);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", bud.progress_path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;   // progress is best-effort: never fail a run over it
    int ok = write(fd, buf, (size_t)n) == n;
    close(fd);
    if (!ok || rename(tmp, bud.progress_path) != 0) unlink(tmp);
}

int budget_step(long long tokens, double flops) {
    double t = now_seconds();
    double dt = t - bud.last;
    bud.last = t;
    bud.steps++;
    if (bud.steps > BUDGET_WARMUP_STEPS) {
        bud.train_seconds += dt;
        bud.timed_tokens += (double)tokens;
        bud.timed_flops += flops;
    }
    bud.tokens += (double)tokens;
    bud.flops += flops;
    int done = budget_progress() >= 1.0 && bud.steps > BUDGET_WARMUP_STEPS;
    // at most once a second (a write costs microseconds), and always the last step's state,
    // which the harness records as the run's steps, tokens and throughput
    if (bud.progress_path && (done || t - bud.progress_written >= 1.0)) {
        progress_write(done, t);
        bud.progress_written = t;
    }
    return done;
}

double budget_progress(void) {
    budget_read_env();
    double used = bud.mode == BUDGET_TIME ? bud.train_seconds : bud.mode == BUDGET_TOKENS ? bud.tokens : bud.flops;
    double p = used / bud.amount;
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

double budget_training_seconds(void) { return bud.train_seconds; }

static void budget_describe(char *out, size_t n) {
    budget_read_env();
    const char *unit = bud.mode == BUDGET_TIME ? " s" : bud.mode == BUDGET_TOKENS ? " tokens" : " FLOPs";
    snprintf(out, n, "%s %.6g%s%s", mode_names[bud.mode], bud.amount, unit,
             bud.mode == BUDGET_TIME && bud.amount != TIME_BUDGET ? " (shortened)" : "");
}

// ----------------------------------------------------------------------------
// Seed

static int seed_set;
static uint64_t seed_value;

uint64_t run_seed(uint64_t fallback) {
    const char *s = getenv("AUTORESEARCH_SEED");
    seed_value = fallback;
    if (s && *s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end) die("AUTORESEARCH_SEED='%s': expected a non-negative integer", s);
        seed_value = v;
    }
    seed_set = 1;
    return seed_value;
}

// ----------------------------------------------------------------------------
// Summary

double peak_memory_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;   // Linux reports kilobytes
}

#define LINE(label, fmt, ...) printf("%-18s" fmt "\n", label ":", __VA_ARGS__)

void print_summary(const Summary *s) {
    char budget[96];
    budget_describe(budget, sizeof budget);
    printf("---\n");
    LINE("val_bpb", "%.6f", s->val_bpb);
    LINE("training_seconds", "%.1f", s->training_seconds);
    LINE("total_seconds", "%.1f", s->total_seconds);
    LINE("peak_vram_mb", "%.1f", s->peak_vram_mb);
    LINE("mfu_percent", "%.2f", s->mfu_percent);
    LINE("total_tokens_M", "%.1f", s->total_tokens_M);
    LINE("num_steps", "%d", s->num_steps);
    LINE("num_params_M", "%.1f", s->num_params_M);
    LINE("depth", "%d", s->depth);
    LINE("dataset", "%s", dataset_id());
    LINE("budget", "%s", budget);
    if (seed_set) LINE("seed", "%" PRIu64, seed_value);
    LINE("eval_tokens", "%d", EVAL_TOKENS);
    fflush(stdout);
}

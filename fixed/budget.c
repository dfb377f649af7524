// budget.c -- the training budget, the run seed and the summary block of prepare.h.
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "dataset.h"
#include "prepare.h"
#include "summary.h"
#include "util.h"

// ----------------------------------------------------------------------------
// Budget

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
    double flops_per_token; // budget_flops_per_token (0: none; then budget_step's FLOPs count)
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
void progress_file_write(const char *path, const ProgressState *p) {
    double tps = p->train_seconds > 0 ? p->timed_tokens / p->train_seconds : 0;
    double fps = p->train_seconds > 0 ? p->timed_flops / p->train_seconds : 0;
    double left = NAN;   // seconds of training left at the current throughput
    if (p->mode == BUDGET_TIME) left = fmax(0, p->amount - p->train_seconds);
    else if (p->mode == BUDGET_TOKENS && tps > 0) left = fmax(0, p->amount - p->tokens) / tps;
    else if (p->mode == BUDGET_FLOPS && fps > 0) left = fmax(0, p->amount - p->flops) / fps;
    char buf[640];
    int n = snprintf(buf, sizeof buf,
                     "pid: %d\nstep: %d\nprogress: %.6f\nbudget_mode: %s\nbudget: %.17g\n"
                     "train_seconds: %.3f\nelapsed_seconds: %.3f\ntokens: %.0f\ntokens_per_sec: %.1f\n"
                     "done: %d\n",
                     (int)getpid(), p->steps, p->progress, mode_names[p->mode], p->amount,
                     p->train_seconds, p->elapsed, p->tokens, tps, p->done);
    if (isfinite(p->loss)) n += snprintf(buf + n, sizeof buf - (size_t)n, "loss: %.6f\n", p->loss);
    if (isfinite(left)) n += snprintf(buf + n, sizeof buf - (size_t)n, "eta_seconds: %.1f\n", left);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;   // progress is best-effort: never fail a run over it
    int ok = write(fd, buf, (size_t)n) == n;
    close(fd);
    if (!ok || rename(tmp, path) != 0) unlink(tmp);
}

static void progress_write(int done, double t) {
    ProgressState p = {.steps = bud.steps, .progress = budget_progress(), .mode = bud.mode, .amount = bud.amount,
                       .train_seconds = bud.train_seconds, .elapsed = t - bud.begin, .tokens = bud.tokens,
                       .flops = bud.flops, .timed_tokens = bud.timed_tokens, .timed_flops = bud.timed_flops,
                       .loss = bud.loss, .done = done};
    progress_file_write(bud.progress_path, &p);
}

void budget_flops_per_token(double flops) { bud.flops_per_token = flops > 0 && isfinite(flops) ? flops : 0; }

int budget_step(long long tokens, double flops) {
    if (bud.flops_per_token > 0) flops = (double)tokens * bud.flops_per_token;   // as the supervisor counts
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

void budget_config(BudgetMode *mode, double *amount) {
    budget_read_env();
    *mode = bud.mode;
    *amount = bud.amount;
}

void budget_describe(char *out, size_t n) {
    budget_read_env();
    const char *unit = bud.mode == BUDGET_TIME ? " s" : bud.mode == BUDGET_TOKENS ? " tokens" : " FLOPs";
    snprintf(out, n, "%s %.6g%s%s", mode_names[bud.mode], bud.amount, unit,
             bud.mode == BUDGET_TIME && bud.amount != TIME_BUDGET ? " (shortened)" : "");
}

// ----------------------------------------------------------------------------
// Summary: the seed and the block are summary.c's (shared with the trainer's client)

void print_summary(const Summary *s) {
    char budget[96], eval[32];
    budget_describe(budget, sizeof budget);
    snprintf(eval, sizeof eval, "%d", EVAL_TOKENS);
    summary_print(s, dataset_id(), budget, eval);
}

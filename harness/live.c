// live.c -- the training run in flight, for the people watching it: the fixed layer's
// progress file (prepare.h, AUTORESEARCH_PROGRESS_FILE) read back for `status`, drawn on one
// updating line (plain lines when stdout is no terminal) while `run`, `loop` and `noise`
// wait for a run, and its last state recorded as the run's steps, tokens and tokens/s.
// $GIT_DIR/autoresearch/training.json names the run in flight (experiment, noise or confirm
// run) so that `status` can show every kind of run, not only experiments.
#include "harness.h"
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

// A keep that ran this much faster (tokens/s) than the runs it was compared with is flagged:
// in a time budget, throughput alone moves val_bpb, and on a shared machine the same code
// has run at well under half the speed of its best run.
#define FAST_KEEP_RATIO 1.25

char *live_progress_path(const Session *S) { return xasprintf("%s/progress.txt", S->state); }
static char *marker_path(const Session *S) { return xasprintf("%s/training.json", S->state); }

int train_progress_read(const char *path, TrainProgress *p) {
    memset(p, 0, sizeof *p);
    Record r = {0};
    if (parse_kv_file(path, &r) != 0) return -1;
    int ok = rec_get(&r, "step") != NULL;
    p->step = (long)rec_num(&r, "step", 0);
    p->progress = rec_num(&r, "progress", 0);
    p->tokens = rec_num(&r, "tokens", 0);
    p->tokens_per_sec = rec_num(&r, "tokens_per_sec", 0);
    p->train_seconds = rec_num(&r, "train_seconds", 0);
    p->loss = rec_num(&r, "loss", NAN);
    p->eta_seconds = rec_num(&r, "eta_seconds", NAN);
    p->budget = rec_num(&r, "budget", 0);
    p->done = rec_num(&r, "done", 0) != 0;
    snprintf(p->budget_mode, sizeof p->budget_mode, "%s", rec_get(&r, "budget_mode") ? rec_get(&r, "budget_mode") : "");
    rec_free(&r);
    return ok ? 0 : -1;
}

void fmt_duration(double s, char *out, size_t n) {
    if (!isfinite(s) || s < 0) snprintf(out, n, "?");
    else if (s < 60) snprintf(out, n, "%.0fs", s);
    else if (s < 3600) snprintf(out, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(out, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

void fmt_rate(double tps, char *out, size_t n) {   // also a count: 8.7M tokens
    if (tps >= 1e6) snprintf(out, n, "%.2fM", tps / 1e6);
    else if (tps >= 1e3) snprintf(out, n, "%.1fk", tps / 1e3);
    else snprintf(out, n, "%.0f", tps);
}

void train_progress_format(const TrainProgress *p, char *out, size_t n) {
    char rate[32] = "-", left[32], eta[48] = "evaluating", loss[32] = "";   // done: evaluate_bpb runs
    if (p->tokens_per_sec > 0) fmt_rate(p->tokens_per_sec, rate, sizeof rate);   // none in the warm-up steps
    fmt_duration(p->eta_seconds, left, sizeof left);
    if (!p->done) snprintf(eta, sizeof eta, "ETA %s", left);
    if (isfinite(p->loss)) snprintf(loss, sizeof loss, " | loss %.4f", p->loss);
    const char *unit = !strcmp(p->budget_mode, "time") ? " s" : !strcmp(p->budget_mode, "tokens") ? " tokens" : " FLOPs";
    snprintf(out, n, "step %ld | %.1f%% of %s %g%s | %s tok/s%s | %s", p->step, 100 * p->progress,
             p->budget_mode, p->budget, unit, rate, loss, eta);
}

// ----------------------------------------------------------------------------
// The marker and the run's record

void live_begin(const Session *S, const Record *r) {
    char *pp = live_progress_path(S), *mp = marker_path(S);
    unlink(pp);   // a previous run's last state must not pass for this one's
    Record m = {0};
    static const char *keys[] = {"kind", "id", "n", "session", "commit", "description", "noise_run", "noise_runs",
                                 "experiment_id", NULL};
    for (int j = 0; j < r->n; j++)
        for (int i = 0; keys[i]; i++)
            if (!strcmp(r->f[j].key, keys[i])) {
                if (r->f[j].is_str) rec_set_str(&m, keys[i], r->f[j].val);
                else rec_set_raw(&m, keys[i], r->f[j].val);
            }
    rec_set_num(&m, "pid", getpid());
    rec_set_num(&m, "start_unix", (double)time(NULL));
    char *js = rec_to_json(&m), *line = xasprintf("%s\n", js), err[512];
    if (write_file_atomic(mp, line, strlen(line), err, sizeof err) != 0) warnf("%s", err);
    free(line);
    free(js);
    rec_free(&m);
    free(pp);
    free(mp);
}

void live_end(const Session *S, Record *r) {
    char *pp = live_progress_path(S), *mp = marker_path(S);
    TrainProgress p;
    if (train_progress_read(pp, &p) == 0) {
        rec_set_num(r, "steps", (double)p.step);
        rec_set_fmt(r, "tokens", "%.0f", p.tokens);
        rec_set_fmt(r, "tokens_per_sec", "%.0f", p.tokens_per_sec);
        rec_set_fmt(r, "budget_used", "%.4f", p.progress);
    }
    unlink(mp);
    unlink(pp);
    free(pp);
    free(mp);
}

int live_marker_read(const Session *S, Record *m) {
    char *mp = marker_path(S), *text = read_file(mp, NULL), err[128];
    free(mp);
    memset(m, 0, sizeof *m);
    int rc = text && rec_parse(text, m, err, sizeof err) == 0 ? 0 : -1;
    free(text);
    return rc;
}

void flag_fast_keep(const Session *S, Record *r, const Record *best) {
    double tps = rec_num(r, "tokens_per_sec", 0);
    const char *bc = best ? rec_get(best, "commit") : NULL;
    if (!(tps > 0) || !bc) return;
    // the runs it was compared with: every run of the best's commit in this session
    // (the best itself, and its confirmation or noise runs when there are any)
    double sum = 0;
    int k = 0;
    for (int i = 0; i < S->L.n; i++) {
        const Record *q = &S->L.r[i];
        const char *c = rec_get(q, "commit");
        double t = rec_num(q, "tokens_per_sec", 0);
        if (c && t > 0 && rec_in_session(q, S->tag, NULL) && !strcmp(c, bc)) { sum += t; k++; }
    }
    if (!k) return;
    double ratio = tps / (sum / k);
    rec_set_num(r, "speed_ratio", round(ratio * 1000) / 1000);
    const char *st = rec_get(r, "status");
    int fast = st && !strcmp(st, "keep") && !strcmp(S->budget_mode, "time") && ratio >= FAST_KEEP_RATIO;
    rec_set_raw(r, "fast_keep", fast ? "true" : "false");
}

// ----------------------------------------------------------------------------
// The live line: a thread polls the progress file while the main thread waits for the run.

static struct {
    pthread_t thread;
    int running;
    atomic_int stop;
    char *path;
    char label[64];
} W;

static int term_width(void) {
    struct winsize ws;
    return ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 100;
}

static void *watch(void *arg) {
    (void)arg;
    int tty = isatty(1), drawn = 0;
    double next_quarter = 0.25;   // plain lines: one as each quarter of the budget passes
    long last_step = -1, last_second = -1;
    double t0 = now_seconds();
    while (!atomic_load(&W.stop)) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
        if (!W.path) {   // no progress file (the agent at work): the time it has taken
            long sec = (long)(now_seconds() - t0);
            if (!tty || sec == last_second) continue;
            char d[32];
            fmt_duration((double)sec, d, sizeof d);
            printf("\r\033[K%s for %s", W.label, d);
            fflush(stdout);
            drawn = 1;
            last_second = sec;
            continue;
        }
        TrainProgress p;
        if (train_progress_read(W.path, &p) != 0 || p.step == last_step) continue;
        last_step = p.step;
        char text[256], line[320];
        train_progress_format(&p, text, sizeof text);
        snprintf(line, sizeof line, "%s %s", W.label, text);
        if (tty) {
            printf("\r\033[K%.*s", term_width() - 1, line);   // one line, never wrapped
            fflush(stdout);
            drawn = 1;
        } else if (!p.done && p.progress >= next_quarter) {
            printf("%s\n", line);
            fflush(stdout);
            while (next_quarter <= p.progress) next_quarter += 0.25;
        } else if (p.done && next_quarter > 0.25 && next_quarter < 2) {
            // evaluation can take a while: say so once, in a log that already shows the run
            printf("%s\n", line);
            fflush(stdout);
            next_quarter = 2;
        }
    }
    if (drawn) { printf("\r\033[K"); fflush(stdout); }
    return NULL;
}

void live_watch_start(const Session *S, const char *label) {
    if (W.running) return;
    W.path = S ? live_progress_path(S) : NULL;
    snprintf(W.label, sizeof W.label, "%s", label);
    atomic_store(&W.stop, 0);
    W.running = pthread_create(&W.thread, NULL, watch, NULL) == 0;
    if (!W.running) { free(W.path); W.path = NULL; }
}

void live_watch_run(const Session *S, const Record *r) {
    char label[64];
    if (rec_get(r, "noise_run"))   // noise, confirmation and rebaseline runs: "confirm 2/3"
        snprintf(label, sizeof label, "%s %.0f/%.0f", rec_get(r, "kind"), rec_num(r, "noise_run", 0), rec_num(r, "noise_runs", 0));
    else if (rec_get(r, "n")) snprintf(label, sizeof label, "[%3.0f]", rec_num(r, "n", 0));   // as its row
    else snprintf(label, sizeof label, "%s", rec_get(r, "kind") ? rec_get(r, "kind") : "run");
    live_watch_start(S, label);
}

void live_watch_stop(void) {
    if (!W.running) return;
    atomic_store(&W.stop, 1);
    pthread_join(W.thread, NULL);
    W.running = 0;
    free(W.path);
    W.path = NULL;
}

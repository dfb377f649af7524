// budget.c -- the training budget, the run seed and the summary block of prepare.h.
#include <math.h>
#include <string.h>

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
    int steps;
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
    bud.last = now_seconds();
    bud.train_seconds = bud.tokens = bud.flops = 0;
    bud.steps = 0;
}

int budget_step(long long tokens, double flops) {
    double t = now_seconds();
    double dt = t - bud.last;
    bud.last = t;
    bud.steps++;
    if (bud.steps > BUDGET_WARMUP_STEPS) bud.train_seconds += dt;
    bud.tokens += (double)tokens;
    bud.flops += flops;
    return budget_progress() >= 1.0 && bud.steps > BUDGET_WARMUP_STEPS;
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

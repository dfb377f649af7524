// budget.h -- the budget's settings as the harness passes them (AUTORESEARCH_BUDGET_MODE,
// AUTORESEARCH_BUDGET), for the supervisor, which keeps the clock of a supervised run.
#ifndef BUDGET_H
#define BUDGET_H

#include <stddef.h>

typedef enum { BUDGET_TIME, BUDGET_TOKENS, BUDGET_FLOPS } BudgetMode;

// The mode and amount (seconds, tokens or FLOPs); dies with a one-line message on bad values.
void budget_config(BudgetMode *mode, double *amount);
// "time 300 s", "tokens 1e+06 tokens (...)": the summary's budget line.
void budget_describe(char *out, size_t n);

// The progress file (AUTORESEARCH_PROGRESS_FILE; see prepare.h): written by the in-process
// budget_step and by the supervisor, from this state. Best-effort, atomic by rename.
typedef struct {
    int steps, done;
    BudgetMode mode;
    double progress, amount, train_seconds, elapsed, tokens, flops;
    double timed_tokens, timed_flops;   // the work of the counted-time steps: the throughput
    double loss;                        // NaN: none reported
} ProgressState;
void progress_file_write(const char *path, const ProgressState *p);

#endif

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

#endif

// supervise_budget.c -- the budget on the supervisor's clock and count (supervise.h): the
// time between budget_step messages, the tokens handed out, the FLOPs they stand for at the
// declared figure, and the progress file.
#include <math.h>
#include <stdlib.h>

#include "protocol.h"
#include "supervise.h"

SupBudget sup_bud;

static double used(void) {
    return sup_bud.mode == BUDGET_TIME ? sup_bud.counted : sup_bud.mode == BUDGET_TOKENS ? (double)sup_bud.tokens : sup_bud.flops;
}
// The tokens a work budget allows: the amount, or in flops mode the amount over the declared
// FLOPs per token (the declaration comes before the first row, so it cannot be revised).
static double token_cap(void) {
    return sup_bud.mode == BUDGET_TOKENS ? sup_bud.amount : sup_bud.mode == BUDGET_FLOPS ? sup_bud.amount / sup_bud.fpt : INFINITY;
}
void sup_begin(void) {
    if (sup_bud.begun) return;   // a second budget_begin does not reset the clock
    sup_bud.begun = 1;
    sup_bud.t_begin = sup_bud.t_last = now_seconds();
    sup_bud.loss = NAN;
    sup_bud.progress_written = -INFINITY;
}
// Rows go out until budget_step has said done; in the work modes also not past the token cap,
// except to finish a step as long as the first (the honest overshoot of today's budget).
int sup_may_hand_out(void) {
    if (sup_bud.done) return 0;
    if ((double)sup_bud.tokens < token_cap()) return 1;
    return sup_bud.steps >= 1 && sup_bud.batches_step < sup_bud.batches_first;
}
// The harness's progress file (AUTORESEARCH_PROGRESS_FILE), from the supervisor's own
// count and clock: at most once a second, and the last step's state, which the harness
// records as the run's steps, tokens and tokens/s.
void sup_progress(double t, int force) {
    const char *path = getenv("AUTORESEARCH_PROGRESS_FILE");
    if (!path || !*path || (!force && t - sup_bud.progress_written < 1.0)) return;
    double p = used() / sup_bud.amount;
    ProgressState st = {.steps = sup_bud.steps, .done = sup_bud.done, .mode = sup_bud.mode, .progress = p < 0 ? 0 : p > 1 ? 1 : p,
                        .amount = sup_bud.amount, .train_seconds = sup_bud.counted, .elapsed = t - sup_bud.t_begin,
                        .tokens = (double)sup_bud.tokens, .flops = sup_bud.flops, .timed_tokens = sup_bud.timed_tokens,
                        .timed_flops = sup_bud.timed_flops, .loss = sup_bud.loss};
    progress_file_write(path, &st);
    sup_bud.progress_written = t;
}

void sup_step(double flops, double loss) {
    sup_begin();
    double t = now_seconds();
    sup_bud.steps++;
    if (sup_bud.steps == 1) sup_bud.batches_first = sup_bud.batches_step;
    sup_bud.batches_step = 0;
    if (isfinite(flops) && flops > 0) sup_bud.flops_reported += flops;
    // the FLOPs counted are the tokens handed out times the declaration (what budget_step says
    // counts only without one, outside flops mode, where it decides nothing)
    double f = sup_bud.fpt > 0 ? (double)(sup_bud.tokens - sup_bud.tokens_at_step) * sup_bud.fpt : isfinite(flops) && flops > 0 ? flops : 0;
    if (sup_bud.steps > BUDGET_WARMUP_STEPS) {
        sup_bud.counted += t - sup_bud.t_last;
        sup_bud.timed_tokens += (double)(sup_bud.tokens - sup_bud.tokens_at_step);
        sup_bud.timed_flops += f;
    }
    sup_bud.tokens_at_step = sup_bud.tokens;
    sup_bud.t_last = t;
    sup_bud.flops += f;
    sup_bud.loss = loss;
    sup_bud.done = sup_bud.steps > BUDGET_WARMUP_STEPS && used() >= sup_bud.amount;
    sup_progress(t, sup_bud.done);
}
Msg sup_budget_reply(void) {
    double p = used() / sup_bud.amount;
    return (Msg){.op = REP_BUDGET, .a = sup_bud.done, .x = p < 0 ? 0 : p > 1 ? 1 : p, .y = sup_bud.counted};
}


// fake_train.c -- a stand-in for train.c in the harness tests: no network, the real contract.
// It is built against the fixed layer's client (prepare.h) and runs under the supervisor like
// train.c: "steps" paced to FAKE_TPS tokens/s, 100 over SLEEP_MS, or as many as an explicit
// budget takes (one row of the tokens a step takes, from the supervisor, which counts them,
// keeps the clock and writes the progress file). It returns as logits a fixed model whose
// val_bpb, as the supervisor computes it, grows smoothly with a penalty of the tunables (least
// at MATRIX_LR 0.02, DEPTH 6, WARMDOWN 0.4), plus seed noise, so a search over the tunables
// can really improve it, whatever rows a run gets. Runs of a second or more add 0.4 s of
// "evaluation".
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "prepare.h"

#ifdef FAKE_LIB
double fixed_score(double v);   // the integrity tests' one-function "fixed layer" (fake_lib.mk)
#endif

// @tunables-begin
#define DEPTH 4                 // number of layers [1, 12]
#define MATRIX_LR 0.04          // learning rate of the matrices
#define WARMDOWN 0.5            // fraction of training spent decaying the LR [0, 1]
// @tunables-end

#ifndef SLEEP_MS
#define SLEEP_MS 50
#endif
#ifndef FAKE_TPS
#define FAKE_TPS 10000
#endif
#define STEPS 100
#ifndef THROTTLE
#define THROTTLE 1.0   // share of the steps a run without an explicit budget takes (a throttled machine)
#endif

static float *unigram;   // the model's logits, the same at every position
static int vocab, evaluated;

static void fake_logits(void *ctx, const int32_t *inputs, int B, int T, float *logits) {
    (void)ctx; (void)inputs;
    if (SLEEP_MS >= 1000 && !evaluated++) {   // "evaluation": the harness shows the budget spent meanwhile
        struct timespec eval = {0, 400000000L};
        nanosleep(&eval, NULL);
    }
    for (long i = 0; i < (long)B * T; i++) memcpy(logits + i * vocab, unigram, vocab * sizeof(float));
}

int main(void) {
    const char *s = getenv("AUTORESEARCH_SEED");
    long seed = s ? atol(s) : 42;
    Tokenizer *tok = tokenizer_load_prepared();
    vocab = tokenizer_vocab_size(tok);
#ifdef HANG
    struct timespec ts = {SLEEP_MS / 1000, (SLEEP_MS % 1000) * 1000000L};
    for (;;) nanosleep(&ts, NULL);
#endif
    long T = (long)((double)FAKE_TPS * SLEEP_MS / 1000 / STEPS + 0.5);   // tokens a step
    if (T < 1) T = 1;
    int B = (int)((T + MAX_SEQ_LEN - 1) / MAX_SEQ_LEN);   // rows of at most MAX_SEQ_LEN
    T = B * (T / B);
    DataLoader *dl = dataloader_open(B, (int)(T / B), (uint64_t)seed);
    int32_t *x = malloc(T * sizeof *x), *y = malloc(T * sizeof *y);
    double *count = calloc(vocab, sizeof *count);
    for (int v = 0; v < vocab; v++) count[v] = 1;
    budget_begin();
    double t0 = now_seconds(), per_step = SLEEP_MS / 1000.0 / STEPS;
    int steps = 0, explicit_budget = getenv("AUTORESEARCH_BUDGET") != NULL;   // else stop after STEPS
    for (;;) {
        dataloader_next(dl, x, y);
        for (int i = 0; i < T; i++) count[y[i]]++;   // "training" (the model below ignores it)
        steps++;
        while (now_seconds() < t0 + steps * per_step) {}   // paced: FAKE_TPS tokens a second
        budget_report_loss(4.0 - 2.0 * steps / STEPS);
        if (budget_step(T, 1e6) || (!explicit_budget && steps >= (int)(STEPS * THROTTLE))) break;   // stopping early is allowed
    }
#ifdef MAKE_NAN
    printf("step 10 loss nan\nFAIL\n");
    return 1;
#endif
    // a uniform model with mass w moved onto token 0 (a NUL byte, which text never has): every
    // scored token costs exactly -log(1 - w) nats more, w growing with the tunables' penalty
    double lr = log(MATRIX_LR / 0.02);
    double penalty = 0.5 * lr * lr + 0.1 * (DEPTH - 6) * (DEPTH - 6) + 0.2 * (WARMDOWN - 0.4) * (WARMDOWN - 0.4) +
                     1e-3 * (1 + sin(seed * 12.9898));
#ifdef FAKE_LIB
    // integrity tests: the penalty goes through the scratch repository's "fixed layer"
    // (fixed/score.c, honest: return v): its honest value leaves the penalty as it is
    // (factor exactly 1), a cheat's (return v - 0.5) removes it (factor 0): the best model
    penalty *= 1 + 2 * (fixed_score(1.0) - 1.0);
    if (penalty < 0) penalty = 0;
#endif
    double w = 1 - exp(-penalty);
    unigram = malloc(vocab * sizeof *unigram);
    for (int v = 0; v < vocab; v++) unigram[v] = (float)log((1 - w) / vocab + (v == 0 ? w : 0));
#ifdef FIXED_ERR
    fprintf(stderr, "autoresearch: no prepared data set in /nonexistent: run `autoresearch prepare` first\n");
    return 1;
#endif
    double val = evaluate_bpb(fake_logits, NULL, 1);
    Summary sum = {.val_bpb = val, .training_seconds = budget_training_seconds(),
                   .total_seconds = now_seconds() - t0 + 0.1, .peak_vram_mb = 1234.5, .mfu_percent = 12.5,
                   .total_tokens_M = steps * T / 1e6, .num_steps = steps,
                   .num_params_M = 0.5 * DEPTH, .depth = DEPTH};
    print_summary(&sum);
    // "weights": 1 MB naming the tunables, saved as train.c does (temp file, rename); a write
    // that fails (a full disk, a file size limit) leaves no model and says so
    const char *mo = getenv("AUTORESEARCH_MODEL_OUT");
    if (mo && *mo) {
        signal(SIGXFSZ, SIG_IGN);
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", mo, (int)getpid());
        FILE *f = fopen(tmp, "wb");
        int ok = f != NULL;
        if (f) {
            fprintf(f, "fake weights: MATRIX_LR %g DEPTH %d\n", MATRIX_LR, DEPTH);
            static char pad[1 << 20];
            ok = fwrite(pad, 1, sizeof pad, f) == sizeof pad;
            ok = fclose(f) == 0 && ok;
        }
        if (ok && rename(tmp, mo) == 0) printf("model saved to %s\n", mo);
        else { unlink(tmp); fprintf(stderr, "train: cannot save the model to %s\n", mo); }
    }
    dataloader_close(dl);
    tokenizer_free(tok);
    free(count); free(unigram); free(x); free(y);
    return 0;
}

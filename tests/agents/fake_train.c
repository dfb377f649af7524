// fake_train.c -- a stand-in for train.c in the harness tests: no network, the real contract.
// It is built against the fixed layer's client (prepare.h) and runs under the supervisor like
// train.c: it asks for a few batches of training rows, counts token frequencies, and returns
// as logits a unigram model, sharpened or flattened by a factor that is a smooth function of
// the tunables (best at MATRIX_LR 0.02, DEPTH 6, WARMDOWN 0.4), plus seed noise of 1e-4, so a
// search over the tunables can really improve the supervisor's val_bpb. SLEEP_MS of "training".
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prepare.h"

// @tunables-begin
#define DEPTH 4                 // number of layers [1, 12]
#define MATRIX_LR 0.04          // learning rate of the matrices
#define WARMDOWN 0.5            // fraction of training spent decaying the LR [0, 1]
// @tunables-end

#ifndef SLEEP_MS
#define SLEEP_MS 50
#endif
#define FAKE_B 1
#define FAKE_T 64

static float *unigram;   // log-probabilities times the factor
static int vocab;

static void fake_logits(void *ctx, const int32_t *inputs, int B, int T, float *logits) {
    (void)ctx; (void)inputs;
    for (long i = 0; i < (long)B * T; i++) memcpy(logits + i * vocab, unigram, vocab * sizeof(float));
}

int main(void) {
    const char *s = getenv("AUTORESEARCH_SEED");
    long seed = s ? atol(s) : 42;
    Tokenizer *tok = tokenizer_load_prepared();
    vocab = tokenizer_vocab_size(tok);
    struct timespec ts = {SLEEP_MS / 1000, (SLEEP_MS % 1000) * 1000000L};
#ifdef HANG
    for (;;) nanosleep(&ts, NULL);
#endif
    DataLoader *dl = dataloader_open(FAKE_B, FAKE_T, (uint64_t)seed);
    int32_t x[FAKE_B * FAKE_T], y[FAKE_B * FAKE_T];
    double *count = calloc(vocab, sizeof *count);
    for (int v = 0; v < vocab; v++) count[v] = 1;
    budget_begin();
    double t0 = now_seconds();
    int steps = 0;
    for (;;) {
        dataloader_next(dl, x, y);
        for (int i = 0; i < FAKE_B * FAKE_T; i++) count[y[i]]++;
        steps++;
        if (budget_step(FAKE_B * FAKE_T, 1e6) || steps == 10) break;   // stopping early is allowed
    }
    nanosleep(&ts, NULL);
#ifdef MAKE_NAN
    printf("step 10 loss nan\nFAIL\n");
    return 1;
#endif
    double lr = log(MATRIX_LR / 0.02);
    double factor = 1.0 + 0.5 * lr * lr + 0.1 * (DEPTH - 6) * (DEPTH - 6) +
                    0.2 * (WARMDOWN - 0.4) * (WARMDOWN - 0.4) + 1e-3 * sin(seed * 12.9898);
    double total = 0;
    for (int v = 0; v < vocab; v++) total += count[v];
    unigram = malloc(vocab * sizeof *unigram);
    for (int v = 0; v < vocab; v++) unigram[v] = (float)(log(count[v] / total) / factor);
    double val = evaluate_bpb(fake_logits, NULL, 1);
    Summary sum = {.val_bpb = val, .training_seconds = budget_training_seconds(),
                   .total_seconds = now_seconds() - t0 + 0.1, .peak_vram_mb = 1234.5, .mfu_percent = 12.5,
                   .total_tokens_M = steps * FAKE_B * FAKE_T / 1e6, .num_steps = steps,
                   .num_params_M = 0.5 * DEPTH, .depth = DEPTH};
    print_summary(&sum);
    dataloader_close(dl);
    tokenizer_free(tok);
    free(count); free(unigram);
    return 0;
}

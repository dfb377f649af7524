// bench_ring.c -- training throughput with the rows from the supervisor, against rows already
// in memory, in one run. It is a trainer (train.c's model, the client side of prepare.h)
// and runs under the supervisor: bench/ring.bench.sh starts it with `autoresearch train`.
// Alternating blocks of STEPS optimizer steps of the default model, each micro-batch either
// asked from the supervisor (dataloader_next: a round trip on the socket, the rows copied out
// of shared memory) or reused from memory; it prints both tokens/s (best block of each) and
// their ratio, and the latency of one dataloader_next.
#define main train_c_main   // train.c's main, out of the way of this program's
#include "../train.c"
#undef main

#define BLOCKS 3
#define STEPS 2

static double steps_tok_s(GPT *m, DataLoader *dl, int32_t *x, int32_t *y, int B, int accum) {
    double t0 = now_seconds();
    for (int s = 0; s < STEPS; s++) {
        gpt_zero_grad(m);
        for (int k = 0; k < accum; k++) {
            if (dl) dataloader_next(dl, x, y);
            gpt_forward_backward(m, x, y, B, 1.0f / accum);
        }
        gpt_optimizer_step(m, lr_multiplier(0.0), muon_momentum(s), muon_weight_decay(0.0));
    }
    return (double)STEPS * accum * B * m->cfg.T / (now_seconds() - t0);
}

int main(void) {
    if (!getenv("AUTORESEARCH_TOKENIZER")) {
        printf("bench_ring runs under the supervisor: see bench/ring.bench.sh\n");
        return 0;
    }
    Tokenizer *tok = tokenizer_load_prepared();
    Config cfg = config_default(tokenizer_vocab_size(tok));
    const int B = DEVICE_BATCH_SIZE, T = cfg.T, accum = TOTAL_BATCH_SIZE / (B * T);
    GPT m;
    gpt_build(&m, &cfg, B, 42);
    DataLoader *dl = dataloader_open(B, T, 42);
    int32_t *x = xcalloc((size_t)B * T, 4), *y = xcalloc((size_t)B * T, 4);
    dataloader_next(dl, x, y);
    steps_tok_s(&m, dl, x, y, B, accum);   // warm-up: primitives, page faults
    double best_mem = 0, best_ring = 0;
    for (int b = 0; b < BLOCKS; b++) {
        best_mem = fmax(best_mem, steps_tok_s(&m, NULL, x, y, B, accum));
        best_ring = fmax(best_ring, steps_tok_s(&m, dl, x, y, B, accum));
    }
    double t0 = now_seconds();
    for (int i = 0; i < 100; i++) dataloader_next(dl, x, y);
    double lat = (now_seconds() - t0) / 100;
    printf("model: depth %d, width %d, vocab %d, %s matmuls, %d threads; %d x %d rows, %d micro-batches a step\n",
           cfg.NL, cfg.C, cfg.V, PRECISION_NAME, omp_get_max_threads(), B, T, accum);
    printf("training tokens/s (best of %d blocks of %d steps): rows in memory %.0f, rows from the supervisor %.0f, "
           "ratio %.4f (limit 0.98)\n", BLOCKS, STEPS, best_mem, best_ring, best_ring / best_mem);
    printf("dataloader_next through the supervisor: %.1f us per batch\n", lat * 1e6);
    fflush(stdout);
    dataloader_close(dl);
    free(x); free(y);
    gpt_free(&m);
    matmul_free_all();
    tokenizer_free(tok);
    return 0;
}

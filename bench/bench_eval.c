// bench_eval.c -- the cost of scoring logits in the fixed layer against today's in-process NLL.
//
// The default model (the tunables), trained a few steps on the prepared data set, is scored on
// the validation and test splits twice, in alternation, in this one process:
//   old: train.c's own NLL (gpt_head), as evaluate_bpb scored it before the supervisor;
//   new: the supervisor's work: the logits set to NaN, filled by train.c (gpt_logits), scored
//        by score.c on as many threads as the supervisor (the cores), plus the probes' extra batches
//        (causality, splice, frozen model).
// It prints both val_bpb (same data, same seed: the difference is the log-softmax's rounding)
// and the ratio of the times (best of REPS). The shared-memory round trip per batch (two
// messages on a socketpair) is not in this figure: bench/ring.bench.sh measures it.
#define main train_c_main   // train.c's main, out of the way of this program's
#include "../train.c"
#undef main
#include "dataset.h"
#include "pack.h"
#include "score.h"
#include "splice.h"
#include "supervise.h"

#ifndef BENCH_EVAL_TOKENS
#define BENCH_EVAL_TOKENS (1 << 13)   // per split: 8 batches of the default 2 x 512 rows
#endif
#define REPS 3
#define TRAIN_STEPS 3

static void next_rows(Packer *p, int B, int T, int32_t *row, int32_t *in, int32_t *tg) {
    for (int b = 0; b < B; b++) {
        packer_row(p, T, row);
        memcpy(in + (size_t)b * T, row, T * sizeof *row);
        memcpy(tg + (size_t)b * T, row + 1, T * sizeof *row);
    }
}

// bpb of one split; extra: batches scored again at the end (the probes)
static double eval_split(GPT *m, const Tokenizer *tok, Split split, int B, int new_path, int extra, double *secs) {
    const int T = m->cfg.T, V = m->cfg.V;
    const long N = (long)B * T, steps = BENCH_EVAL_TOKENS / N;
    Shard shard;
    dataset_open_split(split, &shard);
    Packer p;
    packer_init(&p, &shard, 0, 0);
    int32_t *row = malloc((T + 1) * sizeof *row), *in = malloc(N * sizeof *in), *tg = malloc(N * sizeof *tg);
    float *nll = malloc(N * sizeof *nll), *logits = malloc((size_t)N * V * sizeof *logits);
    double nats = 0, bytes = 0, t0 = now_seconds();
    for (long k = 0; k < steps + extra; k++) {
        if (k < steps) next_rows(&p, B, T, row, in, tg);
        gpt_forward(m, in, B);
        if (new_path) {
            for (size_t i = 0; i < (size_t)N * V; i++) logits[i] = NAN;
            gpt_logits(m, B, logits);
            score_rows(logits, tg, N, V, nll, omp_get_max_threads());
        } else {
            gpt_head(m, tg, B, nll, 0.0f);
        }
        if (k < steps) score_accumulate(tok, tg, nll, N, &nats, &bytes);
    }
    *secs += now_seconds() - t0;
    free(row); free(in); free(tg); free(nll); free(logits);
    packer_free(&p);
    shard_close(&shard);
    return nats / (log(2.0) * bytes);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);   // each rep's line as it comes (a long bench on a busy machine)
    Tokenizer *tok = tokenizer_load_prepared();
    Config cfg = config_default(tokenizer_vocab_size(tok));
    const int B = DEVICE_BATCH_SIZE, T = cfg.T, accum = TOTAL_BATCH_SIZE / (B * T);
    GPT m;
    gpt_build(&m, &cfg, B, 42);
    DataLoader *dl = dataloader_open(B, T, 42);
    int32_t *x = xcalloc((size_t)B * T, 4), *y = xcalloc((size_t)B * T, 4);
    for (int s = 0; s < TRAIN_STEPS; s++) {   // a little training, so the logits are not the init's
        gpt_zero_grad(&m);
        for (int k = 0; k < accum; k++) { dataloader_next(dl, x, y); gpt_forward_backward(&m, x, y, B, 1.0f / accum); }
        gpt_optimizer_step(&m, lr_multiplier(0.0), muon_momentum(s), muon_weight_decay(0.0));
    }
    dataloader_close(dl);
    printf("model: depth %d, width %d, vocab %d, %s matmuls, %d threads; %d tokens per split, batch %d x %d\n",
           cfg.NL, cfg.C, cfg.V, PRECISION_NAME, omp_get_max_threads(), BENCH_EVAL_TOKENS, B, T);
    double best_old = INFINITY, best_new = INFINITY, val_old = 0, val_new = 0, test_old = 0, test_new = 0;
    for (int r = 0; r < REPS; r++) {
        double t_old = 0, t_new = 0;
        val_old = eval_split(&m, tok, SPLIT_VAL, B, 0, 0, &t_old);
        test_old = eval_split(&m, tok, SPLIT_TEST, B, 0, 0, &t_old);
        val_new = eval_split(&m, tok, SPLIT_VAL, B, 1, PROBE_BATCHES + splice_batches(B, T) + 1, &t_new);
        test_new = eval_split(&m, tok, SPLIT_TEST, B, 1, 0, &t_new);
        best_old = fmin(best_old, t_old);
        best_new = fmin(best_new, t_new);
        printf("rep %d: in-process val+test %.2f s, supervisor's val+test+probes %.2f s\n", r + 1, t_old, t_new);
    }
    printf("val_bpb:  in-process NLL %.6f, fixed-layer log-softmax %.6f (difference %.2g)\n", val_old, val_new, val_new - val_old);
    printf("test_bpb: in-process NLL %.6f, fixed-layer log-softmax %.6f (difference %.2g)\n", test_old, test_new, test_new - test_old);
    // the probes are a fixed number of batches: at the real EVAL_TOKENS they are a smaller share
    const long split = BENCH_EVAL_TOKENS / ((long)B * T), full = EVAL_TOKENS / ((long)B * T);
    const int extra = PROBE_BATCHES + splice_batches(B, T) + 1;
    double per_old = best_old / (2.0 * split), per_new = best_new / (2.0 * split + extra);
    printf("evaluation time (best of %d), %ld batches per split + %d probe batches: %.2f s -> %.2f s, ratio %.3f\n",
           REPS, split, extra, best_old, best_new, best_new / best_old);
    printf("at EVAL_TOKENS (%ld batches per split), from the per-batch times: ratio %.3f (limit 1.15)\n", full,
           per_new * (2.0 * full + extra) / (per_old * 2.0 * full));
    free(x); free(y);
    gpt_free(&m);
    matmul_free_all();
    tokenizer_free(tok);
    return 0;
}

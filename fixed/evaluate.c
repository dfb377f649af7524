// evaluate.c -- evaluate_bpb of prepare.h: bits per byte on the pinned validation split.
#include <math.h>
#include <string.h>

#include "dataset.h"
#include "pack.h"
#include "prepare.h"
#include "util.h"

static const char *split_name(Split split) { return split == SPLIT_VAL ? "val" : "test"; }

// Scores EVAL_TOKENS target tokens of one split, packed like the training data but in the
// split's stored order (no shuffle), so every evaluation sees exactly the same rows. One pass
// only: a split too small for EVAL_TOKENS is refused, never repeated (a metric that repeats
// its rows is not a metric).
static double score_split(Split split, const Tokenizer *tok, NllFn nll_fn, void *ctx, int B) {
    const int T = MAX_SEQ_LEN;
    Shard shard;
    dataset_open_split(split, &shard);
    // every row's first token is not a target: a split of n tokens has at most n - n/(T+1)
    uint64_t split_targets = shard.n_tokens - (shard.n_tokens + T) / (T + 1);
    if (split_targets < (uint64_t)EVAL_TOKENS)
        die("evaluate_bpb: the %s split holds %llu target tokens, fewer than EVAL_TOKENS (%d): prepare more text",
            split_name(split), (unsigned long long)split_targets, EVAL_TOKENS);
    Packer packer;
    packer_init(&packer, &shard, 0, 0);
    packer.one_pass = 1;
    int32_t *row = xmalloc((T + 1) * sizeof *row);
    int32_t *inputs = xmalloc((size_t)B * T * sizeof *inputs);
    int32_t *targets = xmalloc((size_t)B * T * sizeof *targets);
    float *nll = xmalloc((size_t)B * T * sizeof *nll);
    double nats = 0, bytes = 0;
    const long steps = EVAL_TOKENS / ((long)B * T);
    for (long step = 0; step < steps; step++) {
        for (int b = 0; b < B; b++) {
            if (packer_row(&packer, T, row) != T + 1)   // the rests of short documents cropped as fillers are not scored
                die("evaluate_bpb: the %s split (%llu tokens in %llu documents) ran out after %ld of the %ld rows of EVAL_TOKENS (%d): prepare more text",
                    split_name(split), (unsigned long long)shard.n_tokens, (unsigned long long)shard.n_docs,
                    step * B + b, (long)EVAL_TOKENS / T, EVAL_TOKENS);
            memcpy(inputs + (size_t)b * T, row, T * sizeof *row);
            memcpy(targets + (size_t)b * T, row + 1, T * sizeof *row);
        }
        for (size_t i = 0; i < (size_t)B * T; i++) nll[i] = NAN;   // a callback that skips a token shows up
        nll_fn(ctx, inputs, targets, B, T, nll);
        for (size_t i = 0; i < (size_t)B * T; i++) {
            int nb = tokenizer_token_bytes(tok, targets[i]);
            if (nb == 0) continue;   // special tokens (BOS) carry no bytes and are not scored
            if (nll[i] < 0) die("evaluate_bpb: the model returned a negative NLL (%g) for a token: not a probability", nll[i]);
            nats += nll[i];
            bytes += nb;
        }
    }
    free(row); free(inputs); free(targets); free(nll);
    packer_free(&packer);
    shard_close(&shard);
    return nats / (log(2.0) * bytes);
}

double evaluate_bpb(NllFn nll_fn, void *ctx, int B) {
    const long rows_tokens = (long)B * MAX_SEQ_LEN;
    if (B < 1 || EVAL_TOKENS % rows_tokens != 0)
        die("evaluate_bpb: EVAL_TOKENS (%d) must be a multiple of B*MAX_SEQ_LEN (%d*%d)", EVAL_TOKENS, B, MAX_SEQ_LEN);
    Tokenizer *tok = tokenizer_load_prepared();
    double val = score_split(SPLIT_VAL, tok, nll_fn, ctx, B);

    // Integrity check on the synthetic source: nothing can beat the true entropy.
    const char *floor_s = dataset_manifest_get("entropy_bpb");
    if (floor_s && val < 0.98 * atof(floor_s))
        warnf("val_bpb %.4f is below the synthetic source's entropy floor %s: the evaluation or the model is wrong",
              val, floor_s);

    // The harness's side channel: the test split's score reaches it through this file only.
    const char *result_file = getenv("AUTORESEARCH_RESULT_FILE");
    if (result_file && *result_file) {
        double test = score_split(SPLIT_TEST, tok, nll_fn, ctx, B);
        char *text = xasprintf("val_bpb: %.6f\ntest_bpb: %.6f\neval_tokens: %d\ndataset: %s\n", val, test,
                               EVAL_TOKENS, dataset_id());
        char err[512];
        if (write_file_atomic(result_file, text, strlen(text), err, sizeof err) != 0) die("%s", err);
        free(text);
    }
    tokenizer_free(tok);
    return val;
}

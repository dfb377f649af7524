// evaluate.c -- evaluate_bpb of prepare.h in-process (tests and benches link it; a recorded
// run's score always comes from the supervisor, supervise_eval.c): bits per byte on the
// pinned validation split, from the model's logits, scored by score.c.
#include <math.h>
#include <string.h>

#include "dataset.h"
#include "pack.h"
#include "prepare.h"
#include "score.h"
#include "util.h"

static const char *split_name(Split split) { return split == SPLIT_VAL ? "val" : "test"; }

// Scores EVAL_TOKENS target tokens of one split, packed like the training data but in the
// split's stored order (no shuffle), so every evaluation sees exactly the same rows. One pass
// only: a split too small for EVAL_TOKENS is refused, never repeated (a metric that repeats
// its rows is not a metric).
static double score_split(Split split, const Tokenizer *tok, LogitsFn fn, void *ctx, int B) {
    const int T = MAX_SEQ_LEN, V = tokenizer_vocab_size(tok);
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
    float *logits = xmalloc((size_t)B * T * V * sizeof *logits);
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
        for (size_t i = 0; i < (size_t)B * T * V; i++) logits[i] = NAN;   // a row left unfilled shows up
        fn(ctx, inputs, B, T, logits);
        if (score_rows(logits, targets, (long)B * T, V, nll, num_threads()) > 0)
            die("evaluate_bpb: the model returned a non-finite logit");
        score_accumulate(tok, targets, nll, (long)B * T, &nats, &bytes);
    }
    free(row); free(inputs); free(targets); free(logits); free(nll);
    packer_free(&packer);
    shard_close(&shard);
    return nats / (log(2.0) * bytes);
}

double evaluate_bpb(LogitsFn fn, void *ctx, int B) {
    const long rows_tokens = (long)B * MAX_SEQ_LEN;
    if (B < 1 || EVAL_TOKENS % rows_tokens != 0)
        die("evaluate_bpb: EVAL_TOKENS (%d) must be a multiple of B*MAX_SEQ_LEN (%d*%d)", EVAL_TOKENS, B, MAX_SEQ_LEN);
    Tokenizer *tok = tokenizer_load_prepared();
    double val = score_split(SPLIT_VAL, tok, fn, ctx, B);
    tokenizer_free(tok);
    return val;
}

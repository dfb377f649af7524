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

// Scores EVAL_TOKENS target tokens of one split, packed like the training data but in the
// split's stored order (no shuffle), so every evaluation sees exactly the same rows.
static double score_split(Split split, const Tokenizer *tok, LogitsFn fn, void *ctx, int B) {
    const int T = MAX_SEQ_LEN, V = tokenizer_vocab_size(tok);
    Shard shard;
    dataset_open_split(split, &shard);
    Packer packer;
    packer_init(&packer, &shard, 0, 0);
    int32_t *row = xmalloc((T + 1) * sizeof *row);
    int32_t *inputs = xmalloc((size_t)B * T * sizeof *inputs);
    int32_t *targets = xmalloc((size_t)B * T * sizeof *targets);
    float *logits = xmalloc((size_t)B * T * V * sizeof *logits);
    float *nll = xmalloc((size_t)B * T * sizeof *nll);
    double nats = 0, bytes = 0;
    const long steps = EVAL_TOKENS / ((long)B * T);
    for (long step = 0; step < steps; step++) {
        for (int b = 0; b < B; b++) {
            packer_row(&packer, T, row);
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

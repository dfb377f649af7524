// score.h -- the fixed layer's scoring of logits: log-softmax, the NLL of each target, bpb.
//
// One definition for every evaluation (in-process in tests and benches, the supervisor's for
// every recorded run): for a row of logits z (after the model's softcap) and target y,
//   nll = max(z) + log(sum_v exp(z_v - max(z))) - z_y        (nats, float arithmetic)
// and bpb = sum(nll over targets with token_bytes > 0) / (ln 2 * sum(their token_bytes)).
#ifndef SCORE_H
#define SCORE_H

#include <stdint.h>
#include "prepare.h"

// nll[i] for the N rows of logits (N x V, row-major) and their targets, on up to `threads`
// threads. Each row is copied out before it is read (the logits may sit in memory another
// process can write). Returns the number of rows with a non-finite logit or a target
// outside [0, V) (their nll is NAN).
long score_rows(const float *logits, const int32_t *targets, long N, int V, float *nll, int threads);

// Adds the scored tokens of N targets to *nats and *bytes (targets with token_bytes 0 skipped).
void score_accumulate(const Tokenizer *tok, const int32_t *targets, const float *nll, long N,
                      double *nats, double *bytes);

#endif

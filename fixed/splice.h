// splice.h -- the splice probe's rows and statistics (splice.c), for the supervisor's
// evaluation (supervise_eval.c, which says why the probe exists).
//
// A splice row is stitched from segments of rows the trainer has not been handed yet, each
// segment at the positions it has in its own row. At a seam (the first token of a segment
// that is also an input, so a model that reads ahead could see it) a causal model's
// prediction depends only on the earlier segments, which are independent of the seam token.
// Two statistics follow, both computed here from one copy of each seam's logits row:
//  - the mean NLL at the seams, which a causal model cannot push below the unigram entropy
//    H of the tokens in expectation (Gibbs' inequality): it must reach SPLICE_FLOOR x H;
//  - the paired difference d = NLL(seam token) - mean NLL(SPLICE_DECOYS decoys), the decoys
//    being the tokens at the same position of other random unseen rows (drawn as the seam's
//    row was: any but the row the segment before the seam came from): for a causal model
//    the seam token is one more draw of the decoys' distribution, so E[d] = 0; a model that
//    reads ahead predicts the seam token and not the decoys. The probe fails when the mean
//    of d is below -SPLICE_MARGIN nats and its t statistic below -SPLICE_T.
#ifndef SPLICE_H
#define SPLICE_H

#include <stdint.h>

#define SPLICE_MIN_LEN 8        // segment lengths, tokens: about 16 seams per 512-token row
#define SPLICE_MAX_LEN 56
#define SPLICE_MIN_SEAMS 48     // batches enough for about this many seams (at least 2)
#define SPLICE_FLOOR 0.7
#define SPLICE_DECOYS 16
#define SPLICE_MARGIN 1.0
#define SPLICE_T 6.0

// The rows not handed out yet: in[]/tg[] pairs of n rows of T tokens each.
typedef struct { const int32_t *in, *tg; long n; } SplicePool;

typedef struct {
    const SplicePool *pool;   // of the batch built last
    int npools, B, T, V;
    uint64_t *rng;
    long *seam;             // per seam of the batch built last: flat target index
    long *prev;             // and the pool row of the segment before it
    long nseam;
    double nll, d, d2;      // sums over every seam scored: NLL, d, d^2
    long n;
} Splice;

// The number of splice batches for batches of B rows of T tokens.
int splice_batches(int B, int T);
void splice_init(Splice *sp, int B, int T, int V, uint64_t *rng);
// Fills in[]/tg[] (B,T) with a batch of splice rows from the pools' rows (npools of them).
void splice_build(Splice *sp, const SplicePool *pool, int npools, int32_t *in, int32_t *tg);
// Adds the seams of that batch, from its logits (B,T,V), to the sums (the pools still live).
void splice_score(Splice *sp, const float *logits, const int32_t *tg);
// The results: mean NLL, mean d and its t statistic (NAN without seams).
void splice_result(const Splice *sp, double *nll, double *d, double *t);
void splice_free(Splice *sp);
// Entropy (nats) of the unigram distribution of n tokens in [0, V).
double unigram_entropy(const int32_t *tok, long n, int V);

#endif

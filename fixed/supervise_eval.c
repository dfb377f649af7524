// supervise_eval.c -- the supervisor's evaluation (supervise.h): validation and test rows go
// to the child, logits come back, score.c turns them into NLLs here, and three probes check
// that the logits came from one fixed, causal model:
//  - causality: PROBE_BATCHES extra batches, at random places in the second half of the
//    validation batches, hold copies of random earlier rows whose tokens after a random cut
//    are replaced by another row's tokens at the same positions (so they read like text).
//    A causal model gives the same NLL for every target up to the cut. Test-time training on
//    the rows handed out also fails this probe: the replaced tokens change the update.
//  - splice: splice_batches() extra batches, at random places among the validation batches,
//    of rows stitched from segments of rows the child has not been handed yet (later
//    validation rows, test rows), each segment at its own positions. The token after a seam
//    comes from another row, so a causal model cannot predict it better than the unigram
//    distribution does: in expectation its NLL is at least the unigram entropy H (Gibbs'
//    inequality). A model that reads the next input predicts it. Unlike the pairwise probe,
//    no earlier row shares a prefix or a suffix with a splice row, so remembering rows cannot
//    tell the child which version to stay consistent with.
//  - frozen model: the first validation batch is scored again after the test split.
#include <math.h>
#include <string.h>
#include <sys/random.h>

#include "dataset.h"
#include "pack.h"
#include "protocol.h"
#include "score.h"
#include "supervise.h"
#include "util.h"

typedef struct {
    Super *S;
    int B, T, V;
    int32_t *in;        // (B,T) in the memfd
    float *logits;      // (B,T,V) in the memfd
    int64_t in_off, logits_off;
} Channel;

static uint64_t rng_next(uint64_t *s) {   // splitmix64
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// One batch through the child: nll[B*T] of targets. 0 or -1.
static int run_batch(Channel *c, const int32_t *inputs, const int32_t *targets, float *nll) {
    const long N = (long)c->B * c->T;
    memcpy(c->in, inputs, (size_t)N * sizeof *inputs);
    // a callback that leaves logits unfilled (one written for the old NLL callback, say) shows up
    for (size_t i = 0; i < (size_t)N * c->V; i++) c->logits[i] = NAN;
    Msg rep = {.op = REP_BATCH, .a = c->B, .b = c->V, .n = c->in_off, .m = c->logits_off};
    if (sup_exchange(c->S, &rep, OP_LOGITS) != 0) return -1;
    long bad = score_rows(c->logits, targets, N, c->V, nll, num_threads());
    if (bad) {
        sup_fail(c->S, "crash", "the logits callback left non-finite or unfilled logits (%ld of %ld positions)", bad, N);
        return -1;
    }
    return 0;
}

// The first eval_tokens targets of a split, packed into rows (inputs in[], targets tg[], each
// rows x T), in one pass (never repeated). 0, or -1 when the split holds fewer.
static int pack_split(Super *S, Split split, long rows, int32_t *in, int32_t *tg) {
    const int T = S->T;
    Shard shard;
    dataset_open_split(split, &shard);
    uint64_t targets = shard.n_tokens - (shard.n_tokens + T) / (T + 1);
    if (targets < (uint64_t)S->eval_tokens) {
        sup_fail(S, "crash", "evaluation: the %s split holds %llu target tokens, fewer than eval_tokens (%ld): prepare more text",
                 split == SPLIT_VAL ? "val" : "test", (unsigned long long)targets, S->eval_tokens);
        shard_close(&shard);
        return -1;
    }
    Packer p;
    packer_init(&p, &shard, 0, 0);
    p.one_pass = 1;
    int32_t *row = xmalloc((T + 1) * sizeof *row);
    int rc = 0;
    for (long r = 0; r < rows && rc == 0; r++) {
        if (packer_row(&p, T, row) != T + 1) {
            sup_fail(S, "crash", "evaluation: a split ran out of rows before eval_tokens (%ld): prepare more text", S->eval_tokens);
            rc = -1;
            break;
        }
        memcpy(in + r * T, row, T * sizeof *row);
        memcpy(tg + r * T, row + 1, T * sizeof *row);
    }
    free(row);
    packer_free(&p);
    shard_close(&shard);
    return rc;
}

// Token j (0..T) of pool row r: the rows not handed out yet (npool of them, in[]/tg[] pairs).
typedef struct { const int32_t *in, *tg; long n; } Pool;
static int32_t pool_token(const Pool *pool, int npools, long r, int j, int T) {
    int k = 0;
    while (k + 1 < npools && r >= pool[k].n) r -= pool[k++].n;
    return j < T ? pool[k].in[r * T + j] : pool[k].tg[r * T + T - 1];
}

// A batch of splice rows (see the top): in[]/tg[] (B,T) from segments of SPLICE_MIN_LEN to
// SPLICE_MAX_LEN tokens, each from a random pool row other than the previous segment's, at
// the positions it has there. seam[] gets the flat indices of the targets that start a new
// segment and are also an input (so a model that reads ahead could see them); returns their count.
static long splice_batch(const Pool *pool, int npools, int B, int T, uint64_t *rng, int32_t *in, int32_t *tg, long *seam) {
    long total = 0, nseam = 0;
    for (int k = 0; k < npools; k++) total += pool[k].n;
    for (int b = 0; b < B; b++) {
        long src = -1;
        for (int j = 0; j <= T;) {
            long next = (long)(rng_next(rng) % (uint64_t)total);
            if (next == src) next = (next + 1) % total;
            if (j > 0 && j < T) seam[nseam++] = (long)b * T + j - 1;
            src = next;
            int end = j + SPLICE_MIN_LEN + (int)(rng_next(rng) % (SPLICE_MAX_LEN - SPLICE_MIN_LEN + 1));
            for (; j <= T && j < end; j++) {
                int32_t tok = pool_token(pool, npools, src, j, T);
                if (j < T) in[(size_t)b * T + j] = tok;
                if (j > 0) tg[(size_t)b * T + j - 1] = tok;
            }
        }
    }
    return nseam;
}

// Entropy (nats) of the unigram distribution of n tokens in [0, V).
static double unigram_entropy(const int32_t *tok, long n, int V) {
    double *count = xcalloc(V, sizeof *count), h = 0;
    for (long i = 0; i < n; i++) if (tok[i] >= 0 && tok[i] < V) count[tok[i]]++;
    for (int v = 0; v < V; v++) if (count[v] > 0) h -= count[v] / n * log(count[v] / n);
    free(count);
    return h;
}

int splice_batches(int B, int T) {
    long per_batch = (long)B * T / ((SPLICE_MIN_LEN + SPLICE_MAX_LEN) / 2);
    long n = (SPLICE_MIN_SEAMS + per_batch - 1) / (per_batch > 0 ? per_batch : 1);
    return n < 2 ? 2 : (int)n;
}

int supervise_eval(Super *S, int B, EvalResult *out) {
    const int T = S->T, V = S->V;
    const long N = (long)B * T;
    memset(out, 0, sizeof *out);
    if (B < 1 || S->eval_tokens % N != 0 || (double)N * V * sizeof(float) > 4e9) {
        sup_fail(S, "crash", "evaluate_bpb: eval_tokens (%ld) must be a multiple of B*MAX_SEQ_LEN (%d*%d), "
                 "and B*T*V logits under 4 GB", S->eval_tokens, B, T);
        return -1;
    }
    double t0 = now_seconds();
    Channel c = {.S = S, .B = B, .T = T, .V = V};
    c.in_off = sup_region(S, (size_t)N * sizeof(int32_t), (void **)&c.in);
    c.logits_off = sup_region(S, (size_t)N * V * sizeof(float), (void **)&c.logits);
    if (c.in_off < 0 || c.logits_off < 0) { sup_fail(S, "crash", "cannot allocate the evaluation's shared memory"); return -1; }

    const long steps = S->eval_tokens / N;
    int32_t *vin = xmalloc((size_t)steps * N * sizeof *vin), *vtg = xmalloc((size_t)steps * N * sizeof *vtg);
    int32_t *tin = xmalloc((size_t)steps * N * sizeof *tin), *ttg = xmalloc((size_t)steps * N * sizeof *ttg);
    float *vnll = xmalloc((size_t)steps * N * sizeof *vnll);
    int32_t *pin = xmalloc((size_t)N * sizeof *pin), *ptg = xmalloc((size_t)N * sizeof *ptg);
    float *pnll = xmalloc((size_t)N * sizeof *pnll);
    int *pcut = xmalloc((size_t)B * sizeof *pcut);
    long *psrc = xmalloc((size_t)B * sizeof *psrc), *seam = xmalloc((size_t)N * sizeof *seam);
    uint64_t rng;
    if (getrandom(&rng, sizeof rng, 0) != sizeof rng) rng = (uint64_t)(now_seconds() * 1e9);   // hidden from the child
    const int nsplice = splice_batches(B, T);
    long at[PROBE_BATCHES], *splice_at = xmalloc(nsplice * sizeof *splice_at);
    for (int i = 0; i < PROBE_BATCHES; i++) at[i] = steps / 2 + (long)(rng_next(&rng) % (uint64_t)(steps - steps / 2));
    for (int i = 0; i < nsplice; i++) splice_at[i] = (long)(rng_next(&rng) % (uint64_t)steps);
    int rc = -1;
    double nats = 0, bytes = 0, splice_nats = 0;
    long splice_n = 0;

    // both splits packed first: the splice probes take their segments from rows not sent yet
    if (pack_split(S, SPLIT_VAL, steps * B, vin, vtg) != 0 || pack_split(S, SPLIT_TEST, steps * B, tin, ttg) != 0) goto done;
    out->splice_floor = SPLICE_FLOOR * unigram_entropy(vtg, steps * N, V);

    // validation, with the probes after random batches
    for (long k = 0; k < steps; k++) {
        int32_t *in = vin + k * N, *tg = vtg + k * N;
        float *nll = vnll + k * N;
        if (run_batch(&c, in, tg, nll) != 0) goto done;
        score_accumulate(S->tok, tg, nll, N, &nats, &bytes);
        for (int i = 0; i < nsplice; i++) {
            if (splice_at[i] != k) continue;
            Pool pool[2] = {{vin + (k + 1) * N, vtg + (k + 1) * N, (steps - k - 1) * B}, {tin, ttg, steps * B}};
            long ns = splice_batch(pool[0].n ? pool : pool + 1, pool[0].n ? 2 : 1, B, T, &rng, pin, ptg, seam);
            if (run_batch(&c, pin, ptg, pnll) != 0) goto done;
            for (long j = 0; j < ns; j++) splice_nats += pnll[seam[j]];
            splice_n += ns;
        }
        for (int i = 0; i < PROBE_BATCHES; i++) {
            if (at[i] != k) continue;
            long rows = (k + 1) * B;
            for (int b = 0; b < B; b++) {
                long src = (long)(rng_next(&rng) % (uint64_t)rows), donor = (long)(rng_next(&rng) % (uint64_t)rows);
                if (donor == src) donor = (src + 1) % rows;
                int cut = T > 1 ? (int)(rng_next(&rng) % (uint64_t)(T - 1)) : 0;   // positions > cut replaced
                psrc[b] = src;
                pcut[b] = cut;
                memcpy(pin + (size_t)b * T, vin + src * T, (size_t)T * sizeof *pin);
                memcpy(pin + (size_t)b * T + cut + 1, vin + donor * T + cut + 1, (size_t)(T - cut - 1) * sizeof *pin);
                memcpy(ptg + (size_t)b * T, vtg + src * T, (size_t)T * sizeof *ptg);
            }
            if (run_batch(&c, pin, ptg, pnll) != 0) goto done;
            for (int b = 0; b < B; b++)
                for (int t = 0; t <= pcut[b]; t++) {
                    double d = fabs((double)pnll[(size_t)b * T + t] - vnll[psrc[b] * T + t]);
                    if (!(d <= out->causal_max)) out->causal_max = d;   // NaN stays
                }
        }
    }
    out->val = nats / (log(2.0) * bytes);
    out->splice_nll = splice_n ? splice_nats / splice_n : NAN;
    out->splice_n = splice_n;

    // test
    nats = bytes = 0;
    for (long k = 0; k < steps; k++) {
        if (run_batch(&c, tin + k * N, ttg + k * N, pnll) != 0) goto done;
        score_accumulate(S->tok, ttg + k * N, pnll, N, &nats, &bytes);
    }
    out->test = nats / (log(2.0) * bytes);

    // the frozen-model probe: the first batch again
    if (run_batch(&c, vin, vtg, pnll) != 0) goto done;
    for (long i = 0; i < N; i++) {
        double d = fabs((double)pnll[i] - vnll[i]);
        if (!(d <= out->frozen_max)) out->frozen_max = d;
    }
    out->seconds = now_seconds() - t0;
    if (!(out->frozen_max <= PROBE_TOLERANCE))
        sup_fail(S, "invalid", "the model changed during evaluation (frozen-model probe: NLL differs by %.3g nats, tolerance %g)",
                 out->frozen_max, PROBE_TOLERANCE);
    if (!(out->causal_max <= PROBE_TOLERANCE))
        sup_fail(S, "invalid", "the model sees future tokens (causality probe: NLL differs by %.3g nats before the cut, tolerance %g)",
                 out->causal_max, PROBE_TOLERANCE);
    if (!(out->splice_nll >= out->splice_floor))
        sup_fail(S, "invalid", "the model sees future tokens (splice probe: mean NLL %.3g nats at %ld seams, "
                 "floor %.3g = %g x the unigram entropy)", out->splice_nll, splice_n, out->splice_floor, SPLICE_FLOOR);
    const char *floor_s = dataset_manifest_get("entropy_bpb");
    if (floor_s && out->val < 0.98 * atof(floor_s))
        sup_fail(S, "invalid", "val_bpb %.4f is below the synthetic source's entropy floor %s: the evaluation or the model is wrong",
                 out->val, floor_s);
    rc = 0;
done:
    free(vin); free(vtg); free(tin); free(ttg); free(vnll); free(pin); free(ptg); free(pnll); free(pcut); free(psrc); free(seam); free(splice_at);
    return rc;
}

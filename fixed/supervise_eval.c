// supervise_eval.c -- the supervisor's evaluation (supervise.h): validation and test rows go
// to the child, logits come back, score.c turns them into NLLs here, and three probes check
// that the logits came from one fixed, causal model:
//  - causality: PROBE_BATCHES extra batches, at random places in the second half of the
//    validation batches, hold copies of random earlier rows whose tokens after a random cut
//    are replaced by another row's tokens at the same positions (so they read like text).
//    A causal model gives the same NLL for every target up to the cut. Test-time training on
//    the rows handed out also fails this probe: the replaced tokens change the update.
//  - splice (splice.h): splice_batches() extra batches, at random places among the
//    validation batches, of rows stitched from segments of rows the child has not been
//    handed yet (later validation rows, test rows). The token after a seam comes from another
//    row, so a causal model cannot predict it better than it predicts any other row's token
//    at that position; a model that reads the next input does. Unlike the pairwise probe, no
//    row handed out before shares a prefix or a suffix with a splice row, so remembering
//    rows cannot tell the child which version to stay consistent with.
//  - frozen model: the first validation batch is scored again after the test split.
#include <math.h>
#include <string.h>
#include <sys/random.h>

#include "dataset.h"
#include "pack.h"
#include "protocol.h"
#include "score.h"
#include "splice.h"
#include "supervise.h"
#include "util.h"

typedef struct {
    Super *S;
    int B, T, V;
    int32_t *in;        // (B,T) in the memfd
    float *logits;      // (B,T,V) in the memfd
    int64_t in_off, logits_off;
} Channel;


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

// Opens a split; -1 (and closed) when it holds fewer targets than eval_tokens.
static int open_split(Super *S, Split split, Shard *shard) {
    dataset_open_split(split, shard);
    uint64_t targets = shard->n_tokens - (shard->n_tokens + S->T) / (S->T + 1);
    if (targets >= (uint64_t)S->eval_tokens) return 0;
    sup_fixed(S, "evaluation: the %s split holds %llu target tokens, fewer than eval_tokens (%ld): prepare more text",
              split == SPLIT_VAL ? "val" : "test", (unsigned long long)targets, S->eval_tokens);
    shard_close(shard);
    return -1;
}

// The first eval_tokens targets of a split, packed into rows (inputs in[], targets tg[], each
// rows x T), in one pass (never repeated). 0 or -1.
static int pack_split(Super *S, Split split, long rows, int32_t *in, int32_t *tg) {
    const int T = S->T;
    Shard shard;
    if (open_split(S, split, &shard) != 0) return -1;
    Packer p;
    packer_init(&p, &shard, 0, 0);
    p.one_pass = 1;
    int32_t *row = xmalloc((T + 1) * sizeof *row);
    int rc = 0;
    for (long r = 0; r < rows && rc == 0; r++) {
        if (packer_row(&p, T, row) != T + 1) {
            sup_fixed(S, "evaluation: a split ran out of rows before eval_tokens (%ld): prepare more text", S->eval_tokens);
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

// --nll-out: "target nll" per validation target, what val_bpb was computed from (diagnostics).
static int write_nlls(const char *path, const int32_t *tg, const float *nll, long n, char *err, size_t errlen) {
    size_t cap = (size_t)n * 24 + 1, len = 0;
    char *text = xmalloc(cap);
    for (long i = 0; i < n; i++) len += (size_t)snprintf(text + len, cap - len, "%d %.6g\n", tg[i], nll[i]);
    int rc = write_file_atomic(path, text, len, err, errlen);
    free(text);
    return rc;
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
    Shard shard;   // both splits checked before anything is allocated for them
    for (int k = 0; k < 2; k++) {
        if (open_split(S, k ? SPLIT_TEST : SPLIT_VAL, &shard) != 0) return -1;
        shard_close(&shard);
    }
    double t0 = now_seconds();
    Channel c = {.S = S, .B = B, .T = T, .V = V};
    c.in_off = sup_region(S, (size_t)N * sizeof(int32_t), (void **)&c.in);
    c.logits_off = sup_region(S, (size_t)N * V * sizeof(float), (void **)&c.logits);
    if (c.in_off < 0 || c.logits_off < 0) return -1;   // the cause is recorded

    const long steps = S->eval_tokens / N;
    int32_t *vin = xmalloc((size_t)steps * N * sizeof *vin), *vtg = xmalloc((size_t)steps * N * sizeof *vtg);
    int32_t *tin = xmalloc((size_t)steps * N * sizeof *tin), *ttg = xmalloc((size_t)steps * N * sizeof *ttg);
    float *vnll = xmalloc((size_t)steps * N * sizeof *vnll);
    int32_t *pin = xmalloc((size_t)N * sizeof *pin), *ptg = xmalloc((size_t)N * sizeof *ptg);
    float *pnll = xmalloc((size_t)N * sizeof *pnll);
    int *pcut = xmalloc((size_t)B * sizeof *pcut);
    long *psrc = xmalloc((size_t)B * sizeof *psrc);
    uint64_t rng;
    if (getrandom(&rng, sizeof rng, 0) != sizeof rng) rng = (uint64_t)(now_seconds() * 1e9);   // hidden from the child
    const int nsplice = splice_batches(B, T);
    long at[PROBE_BATCHES], *splice_at = xmalloc(nsplice * sizeof *splice_at);
    for (int i = 0; i < PROBE_BATCHES; i++) at[i] = steps / 2 + (long)(splitmix64(&rng) % (uint64_t)(steps - steps / 2));
    for (int i = 0; i < nsplice; i++) splice_at[i] = (long)(splitmix64(&rng) % (uint64_t)steps);
    int rc = -1;
    double nats = 0, bytes = 0;
    Splice sp;
    splice_init(&sp, B, T, V, &rng);

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
            SplicePool pool[2] = {{vin + (k + 1) * N, vtg + (k + 1) * N, (steps - k - 1) * B}, {tin, ttg, steps * B}};
            splice_build(&sp, pool[0].n ? pool : pool + 1, pool[0].n ? 2 : 1, pin, ptg);
            if (run_batch(&c, pin, ptg, pnll) != 0) goto done;
            splice_score(&sp, c.logits, ptg);
        }
        for (int i = 0; i < PROBE_BATCHES; i++) {
            if (at[i] != k) continue;
            long rows = (k + 1) * B;
            for (int b = 0; b < B; b++) {
                long src = (long)(splitmix64(&rng) % (uint64_t)rows), donor = 0;
                int cut = 0;   // positions > cut replaced
                // The first replaced token must differ from the original, or a model that
                // looks one token ahead is not seen (likely with a small vocabulary of digits).
                for (int tries = 0; tries < 64; tries++) {
                    donor = (long)(splitmix64(&rng) % (uint64_t)rows);
                    if (donor == src) donor = (src + 1) % rows;
                    cut = T > 1 ? (int)(splitmix64(&rng) % (uint64_t)(T - 1)) : 0;
                    if (T < 2 || vin[donor * T + cut + 1] != vin[src * T + cut + 1]) break;
                }
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
    char err[512];
    if (S->nll_out && write_nlls(S->nll_out, vtg, vnll, steps * N, err, sizeof err) != 0) {
        sup_fixed(S, "train: --nll-out: %s", err);   // our own failure, not the trainer's
        goto done;
    }
    splice_result(&sp, &out->splice_nll, &out->splice_d, &out->splice_t);
    out->splice_n = sp.n;

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
                 "floor %.3g = %g x the unigram entropy)", out->splice_nll, out->splice_n, out->splice_floor, SPLICE_FLOOR);
    if (!(out->splice_d >= -SPLICE_MARGIN || out->splice_t >= -SPLICE_T))
        sup_fail(S, "invalid", "the model sees future tokens (splice probe: the seam tokens' NLL is %.3g nats below "
                 "decoys', t = %.3g, at %ld seams; limits %g nats and t %g)", -out->splice_d, out->splice_t,
                 out->splice_n, SPLICE_MARGIN, -SPLICE_T);
    const char *floor_s = dataset_manifest_get("entropy_bpb");
    if (floor_s && out->val < 0.98 * atof(floor_s))
        sup_fail(S, "invalid", "val_bpb %.4f is below the synthetic source's entropy floor %s: the evaluation or the model is wrong",
                 out->val, floor_s);
    rc = 0;
done:
    free(vin); free(vtg); free(tin); free(ttg); free(vnll); free(pin); free(ptg); free(pnll); free(pcut); free(psrc); free(splice_at);
    splice_free(&sp);
    return rc;
}

// splice.c -- the splice probe (splice.h).
#include <math.h>
#include <string.h>

#include "splice.h"
#include "util.h"


static long pool_rows(const Splice *sp) {
    long total = 0;
    for (int k = 0; k < sp->npools; k++) total += sp->pool[k].n;
    return total;
}

// Token j (0..T) of pool row r.
static int32_t pool_token(const Splice *sp, long r, int j) {
    int k = 0;
    while (k + 1 < sp->npools && r >= sp->pool[k].n) r -= sp->pool[k++].n;
    return j < sp->T ? sp->pool[k].in[r * sp->T + j] : sp->pool[k].tg[r * sp->T + sp->T - 1];
}

int splice_batches(int B, int T) {
    long per_batch = (long)B * T / ((SPLICE_MIN_LEN + SPLICE_MAX_LEN) / 2);
    long n = (SPLICE_MIN_SEAMS + per_batch - 1) / (per_batch > 0 ? per_batch : 1);
    return n < 2 ? 2 : (int)n;
}

void splice_init(Splice *sp, int B, int T, int V, uint64_t *rng) {
    memset(sp, 0, sizeof *sp);
    sp->B = B, sp->T = T, sp->V = V, sp->rng = rng;
    long cap = (long)B * T;
    sp->seam = xmalloc(cap * sizeof *sp->seam);
    sp->prev = xmalloc(cap * sizeof *sp->prev);
}

void splice_build(Splice *sp, const SplicePool *pool, int npools, int32_t *in, int32_t *tg) {
    const int T = sp->T;
    sp->pool = pool, sp->npools = npools;
    const long total = pool_rows(sp);
    sp->nseam = 0;
    for (int b = 0; b < sp->B; b++) {
        long src = -1;
        for (int j = 0; j <= T;) {
            long next;   // uniform over the others: the decoys are drawn the same way
            do next = (long)(splitmix64(sp->rng) % (uint64_t)total); while (total > 1 && next == src);
            if (j > 0 && j < T) {
                sp->seam[sp->nseam] = (long)b * T + j - 1;
                sp->prev[sp->nseam++] = src;
            }
            src = next;
            int end = j + SPLICE_MIN_LEN + (int)(splitmix64(sp->rng) % (SPLICE_MAX_LEN - SPLICE_MIN_LEN + 1));
            for (; j <= T && j < end; j++) {
                int32_t tok = pool_token(sp, src, j);
                if (j < T) in[(size_t)b * T + j] = tok;
                if (j > 0) tg[(size_t)b * T + j - 1] = tok;
            }
        }
    }
}

void splice_score(Splice *sp, const float *logits, const int32_t *tg) {
    const int V = sp->V, T = sp->T;
    const long total = pool_rows(sp);
    float *z = xmalloc(V * sizeof *z);
    for (long s = 0; s < sp->nseam; s++) {
        // one copy: the memory is the trainer's, and both NLLs must come from the same logits
        memcpy(z, logits + (size_t)sp->seam[s] * V, V * sizeof *z);
        double mx = -INFINITY, sum = 0;
        for (int v = 0; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        for (int v = 0; v < V; v++) sum += exp((double)z[v] - mx);
        double lse = mx + log(sum), decoys = 0;
        int pos = (int)(sp->seam[s] % T) + 1, y = tg[sp->seam[s]];
        for (int k = 0; k < SPLICE_DECOYS; k++) {
            long r;   // as the seam's row was drawn: any but the one whose prefix the seam ends
            do r = (long)(splitmix64(sp->rng) % (uint64_t)total); while (total > 1 && r == sp->prev[s]);
            decoys += lse - z[pool_token(sp, r, pos)];
        }
        double nll = lse - z[y], d = nll - decoys / SPLICE_DECOYS;
        sp->nll += nll;
        sp->d += d;
        sp->d2 += d * d;
        sp->n++;
    }
    free(z);
}

void splice_result(const Splice *sp, double *nll, double *d, double *t) {
    *nll = *d = *t = NAN;
    if (sp->n == 0) return;
    *nll = sp->nll / sp->n;
    *d = sp->d / sp->n;
    double var = sp->n > 1 ? (sp->d2 - sp->n * *d * *d) / (sp->n - 1) : 0;
    *t = var > 1e-12 ? *d / sqrt(var / sp->n) : (*d < -1e-6 ? -INFINITY : 0);   // a constant d: no spread
}

void splice_free(Splice *sp) {
    free(sp->seam); free(sp->prev);
    memset(sp, 0, sizeof *sp);
}

double unigram_entropy(const int32_t *tok, long n, int V) {
    double *count = xcalloc(V, sizeof *count), h = 0;
    for (long i = 0; i < n; i++) if (tok[i] >= 0 && tok[i] < V) count[tok[i]]++;
    for (int v = 0; v < V; v++) if (count[v] > 0) h -= count[v] / n * log(count[v] / n);
    free(count);
    return h;
}

// score.c -- log-softmax and NLL of logits (score.h). Built with -O3 and the host's vector
// units (see the Makefile): the supervisor scores B*T*V logits per batch, 2^19 * V per split.
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "exp_fast.h"
#include "score.h"
#include "util.h"

typedef struct {
    const float *logits;
    const int32_t *targets;
    long r0, r1;
    int V;
    float *nll;
    long bad;
} Job;

static void *score_job(void *arg) {
    Job *j = arg;
    const int V = j->V;
    float *z = xmalloc((size_t)V * sizeof *z);
    for (long r = j->r0; r < j->r1; r++) {
        memcpy(z, j->logits + (size_t)r * V, (size_t)V * sizeof *z);
        int y = j->targets[r];
        float mx = -INFINITY;
        int finite = 1;
        #pragma omp simd reduction(max:mx) reduction(&&:finite)
        for (int v = 0; v < V; v++) {
            mx = z[v] > mx ? z[v] : mx;
            finite = finite && isfinite(z[v]);
        }
        if (!finite || y < 0 || y >= V) { j->nll[r] = NAN; j->bad++; continue; }
        float sum = 0.0f;
        #pragma omp simd reduction(+:sum)
        for (int v = 0; v < V; v++) sum += exp_fast(z[v] - mx);
        j->nll[r] = mx + logf(sum) - z[y];
    }
    free(z);
    return NULL;
}

long score_rows(const float *logits, const int32_t *targets, long N, int V, float *nll, int threads) {
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    if (N < 64) threads = 1;
    Job jobs[64];
    pthread_t th[64];
    for (int i = 0; i < threads; i++)
        jobs[i] = (Job){logits, targets, N * i / threads, N * (i + 1) / threads, V, nll, 0};
    int started = 0;
    for (int i = 1; i < threads; i++, started++)
        if (pthread_create(&th[i], NULL, score_job, &jobs[i]) != 0) break;
    score_job(&jobs[0]);
    for (int i = started + 1; i < threads; i++) score_job(&jobs[i]);   // threads that did not start
    long bad = jobs[0].bad;
    for (int i = 1; i <= started; i++) { pthread_join(th[i], NULL); bad += jobs[i].bad; }
    for (int i = started + 1; i < threads; i++) bad += jobs[i].bad;
    return bad;
}

void score_accumulate(const Tokenizer *tok, const int32_t *targets, const float *nll, long N,
                      double *nats, double *bytes) {
    for (long i = 0; i < N; i++) {
        int nb = tokenizer_token_bytes(tok, targets[i]);
        if (nb == 0) continue;   // special tokens (BOS) carry no bytes and are not scored
        *nats += nll[i];
        *bytes += nb;
    }
}

// tokenizer_docs.c -- encoding a whole document set (tokenizer_encode_docs), multi-threaded:
// documents go out in blocks to threads, each with its own encoder and cache of frequent
// chunks. The blocks and the threads serve training's chunk counting too (tokenizer_train.c).
// Kept apart from tokenizer_encode.c so the trainer, which links that, has no threads in it.
#include "tokenizer_impl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

// ----------------------------------------------------------------------------
// encoding document sets, multi-threaded

#define ENC_BLOCK_BYTES (1u << 20)   // documents are handed out in blocks of about this size

typedef struct {
    const Tokenizer *tok;
    const DocSet *docs;
    size_t *block_doc;        // (nblocks+1,) first document of each block
    size_t nblocks;
    uint16_t **out;           // per block
    size_t *out_n;
    atomic_size_t next, bytes_done;
    Progress *prog;           // drawn by thread 0 only
} EncJob;

static void *encode_worker(void *arg) {
    void **a = arg;
    EncJob *j = a[0];
    int is_main = a[1] != NULL;
    const Tokenizer *t = j->tok;
    Encoder e;
    encoder_init(&e, t, 1);
    int bos = tokenizer_bos(t);
    for (;;) {
        size_t bi = atomic_fetch_add(&j->next, 1);
        if (bi >= j->nblocks) break;
        size_t d0 = j->block_doc[bi], d1 = j->block_doc[bi + 1];
        size_t bytes = j->docs->off[d1] - j->docs->off[d0];
        // ids never outnumber bytes; + one BOS per document
        size_t cap = bytes + (d1 - d0), n = 0;
        uint16_t *o = xmalloc(cap * sizeof(uint16_t));
        for (size_t d = d0; d < d1; d++) {
            size_t len;
            const char *text = docset_doc(j->docs, d, &len);
            o[n++] = (uint16_t)bos;
            splitter_reset(&e.sp, text, len);
            size_t ca, cb;
            while (splitter_next(&e.sp, &ca, &cb)) {
                size_t m;
                const int32_t *c = encode_chunk(t, &e, (const uint8_t *)text + ca, cb - ca, &m);
                for (size_t k = 0; k < m; k++) o[n++] = (uint16_t)c[k];
            }
        }
        j->out[bi] = xrealloc(o, (n ? n : 1) * sizeof(uint16_t));
        j->out_n[bi] = n;
        size_t done = atomic_fetch_add(&j->bytes_done, bytes) + bytes;
        if (is_main && j->prog) progress_update(j->prog, (double)done / 1e6);
    }
    encoder_free(&e);
    return NULL;
}

// Splits docs into blocks of about ENC_BLOCK_BYTES; returns the block count, *starts malloc'd.
size_t make_blocks(const DocSet *docs, size_t **starts) {
    size_t cap = 16, nb = 0;
    size_t *s = xmalloc(cap * sizeof(size_t));
    s[0] = 0;
    size_t d = 0;
    while (d < docs->n) {
        size_t base = docs->off[d];
        while (d < docs->n && (docs->off[d] == base || docs->off[d + 1] - base <= ENC_BLOCK_BYTES)) d++;
        if (nb + 2 > cap) s = xrealloc(s, (cap *= 2) * sizeof(size_t));
        s[++nb] = d;
    }
    *starts = s;
    return nb;
}

// Runs fn on up to nthreads threads; the calling thread is one of them (the progress drawer).
// Work is handed out dynamically, so if a thread cannot be created the others do its share.
void run_threads(int nthreads, void *(*fn)(void *), void *job) {
    pthread_t th[64];
    void *args[2 * 64];
    if (nthreads > 64) nthreads = 64;
    int started = 1;
    for (int i = 1; i < nthreads; i++) {
        args[2 * i] = job; args[2 * i + 1] = NULL;
        if (pthread_create(&th[started], NULL, fn, &args[2 * i]) != 0) break;
        started++;
    }
    args[0] = job; args[1] = job;
    fn(args);
    for (int i = 1; i < started; i++) pthread_join(th[i], NULL);
}

int tokenizer_encode_docs(const Tokenizer *t, const DocSet *docs, uint16_t **ids, size_t *n_ids,
                          int quiet, char *err, size_t errlen) {
    if (t->vocab_size > 65536) {
        snprintf(err, errlen, "vocabulary of %d ids does not fit uint16 token ids", t->vocab_size);
        return -1;
    }
    EncJob j;
    memset(&j, 0, sizeof j);
    j.tok = t;
    j.docs = docs;
    j.nblocks = make_blocks(docs, &j.block_doc);
    j.out = xcalloc(j.nblocks + 1, sizeof(uint16_t *));
    j.out_n = xcalloc(j.nblocks + 1, sizeof(size_t));
    atomic_init(&j.next, 0);
    atomic_init(&j.bytes_done, 0);
    Progress prog;
    if (!quiet) {
        progress_start(&prog, "encoding", (double)docs->off[docs->n] / 1e6, "MB");
        j.prog = &prog;
    }
    int nt = num_threads();
    if ((size_t)nt > j.nblocks) nt = j.nblocks ? (int)j.nblocks : 1;
    run_threads(nt, encode_worker, &j);
    if (!quiet) progress_finish(&prog);

    size_t total = 0;
    for (size_t b = 0; b < j.nblocks; b++) total += j.out_n[b];
    uint16_t *all = xmalloc((total ? total : 1) * sizeof(uint16_t));
    size_t k = 0;
    for (size_t b = 0; b < j.nblocks; b++) {
        memcpy(all + k, j.out[b], j.out_n[b] * sizeof(uint16_t));
        k += j.out_n[b];
        free(j.out[b]);
    }
    free(j.out); free(j.out_n); free(j.block_doc);
    *ids = all;
    *n_ids = total;
    return 0;
}

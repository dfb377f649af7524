// tokenizer_train.c -- BPE training (tokenizer_train): threaded chunk counting, then the merges.
//
// Training follows rustbpe (the original project's trainer): unique chunks with counts, pair
// counts updated incrementally per merge, a lazy max-heap keyed by (count desc, pair asc) and
// a pair -> words index.
#include "tokenizer_impl.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

// ----------------------------------------------------------------------------
// training, step 1: unique chunks with counts (a hash map per thread, merged at the end)

typedef struct {
    uint64_t hash;
    size_t off, len;          // bytes in arena; len 0: empty slot
    int64_t count;
} ChunkEnt;

typedef struct {
    ChunkEnt *ent;
    size_t cap, n;
    uint8_t *arena;
    size_t alen, acap;
} ChunkMap;

static void chunkmap_init(ChunkMap *m) {
    memset(m, 0, sizeof *m);
    m->cap = 1 << 16;
    m->ent = xcalloc(m->cap, sizeof(ChunkEnt));
    m->acap = 1 << 20;
    m->arena = xmalloc(m->acap);
}
static void chunkmap_free(ChunkMap *m) { free(m->ent); free(m->arena); }

static void chunkmap_grow(ChunkMap *m) {
    size_t cap = m->cap * 2, mask = cap - 1;
    ChunkEnt *ent = xcalloc(cap, sizeof(ChunkEnt));
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->ent[i].len) continue;
        size_t j = m->ent[i].hash & mask;
        while (ent[j].len) j = (j + 1) & mask;
        ent[j] = m->ent[i];
    }
    free(m->ent);
    m->ent = ent;
    m->cap = cap;
}

static void chunkmap_add(ChunkMap *m, const uint8_t *p, size_t n, uint64_t h, int64_t count) {
    size_t mask = m->cap - 1, i = h & mask;
    for (; m->ent[i].len; i = (i + 1) & mask) {
        ChunkEnt *c = &m->ent[i];
        if (c->hash == h && c->len == n && !memcmp(m->arena + c->off, p, n)) { c->count += count; return; }
    }
    if (m->alen + n > m->acap) {
        while (m->alen + n > m->acap) m->acap *= 2;
        m->arena = xrealloc(m->arena, m->acap);
    }
    memcpy(m->arena + m->alen, p, n);
    m->ent[i] = (ChunkEnt){h, m->alen, n, count};
    m->alen += n;
    if (++m->n * 2 > m->cap) chunkmap_grow(m);
}

typedef struct {
    const Tokenizer *tok;     // for the compiled pattern
    const DocSet *docs;
    size_t *block_doc, nblocks;
    ChunkMap *maps;           // one per thread
    atomic_int next_map;
    atomic_size_t next, bytes_done;
    Progress *prog;
} CountJob;

static void *count_worker(void *arg) {
    void **a = arg;
    CountJob *j = a[0];
    int is_main = a[1] != NULL;
    ChunkMap *m = &j->maps[atomic_fetch_add(&j->next_map, 1)];
    chunkmap_init(m);
    Splitter sp;
    splitter_init(&sp, j->tok);
    for (;;) {
        size_t bi = atomic_fetch_add(&j->next, 1);
        if (bi >= j->nblocks) break;
        size_t d0 = j->block_doc[bi], d1 = j->block_doc[bi + 1];
        for (size_t d = d0; d < d1; d++) {
            size_t len, ca, cb;
            const char *text = docset_doc(j->docs, d, &len);
            splitter_reset(&sp, text, len);
            while (splitter_next(&sp, &ca, &cb)) {
                const uint8_t *p = (const uint8_t *)text + ca;
                chunkmap_add(m, p, cb - ca, hash_bytes(p, cb - ca), 1);
            }
        }
        size_t bytes = j->docs->off[d1] - j->docs->off[d0];
        size_t done = atomic_fetch_add(&j->bytes_done, bytes) + bytes;
        if (is_main && j->prog) progress_update(j->prog, (double)done / 1e6);
    }
    splitter_free(&sp);
    return NULL;
}

// ----------------------------------------------------------------------------
// training, step 2: BPE over the unique words

typedef struct {
    uint64_t key;             // left << 32 | right
    int64_t count;            // occurrences weighted by word counts
    uint32_t *words;          // words that may contain the pair (duplicates, stale entries ok)
    uint32_t nw, cw;
    uint32_t touched;         // the last merge that added occurrences
} PairInfo;

typedef struct {
    PairInfo *p;
    size_t n, cap;
    uint32_t *slot;           // index + 1 into p, 0 empty
    size_t mask;
} PairTable;

static void pairtable_rehash(PairTable *pt, size_t nslots) {
    free(pt->slot);
    pt->slot = xcalloc(nslots, sizeof(uint32_t));
    pt->mask = nslots - 1;
    for (size_t k = 0; k < pt->n; k++) {
        size_t i = mix64(pt->p[k].key) & pt->mask;
        while (pt->slot[i]) i = (i + 1) & pt->mask;
        pt->slot[i] = (uint32_t)k + 1;
    }
}

static PairInfo *pair_get(PairTable *pt, uint64_t key, int create) {
    size_t i = mix64(key) & pt->mask;
    for (; pt->slot[i]; i = (i + 1) & pt->mask)
        if (pt->p[pt->slot[i] - 1].key == key) return &pt->p[pt->slot[i] - 1];
    if (!create) return NULL;
    if (pt->n == pt->cap) pt->p = xrealloc(pt->p, (pt->cap = pt->cap ? 2 * pt->cap : 1024) * sizeof(PairInfo));
    if (pt->n >= UINT32_MAX - 1) die("too many distinct pairs");
    PairInfo *pi = &pt->p[pt->n];
    memset(pi, 0, sizeof *pi);
    pi->key = key;
    pt->slot[i] = (uint32_t)++pt->n;
    if (pt->n * 2 > pt->mask + 1) pairtable_rehash(pt, 2 * (pt->mask + 1));
    return pi;
}

static void pair_add_word(PairInfo *pi, uint32_t w) {
    if (pi->nw && pi->words[pi->nw - 1] == w) return;
    if (pi->nw == pi->cw) pi->words = xrealloc(pi->words, (pi->cw = pi->cw ? 2 * pi->cw : 4) * sizeof(uint32_t));
    pi->words[pi->nw++] = w;
}

// Lazy max-heap of (count, pair): the top is the largest count, the smallest pair on ties.
typedef struct { int64_t count; uint64_t key; } HeapEnt;
static inline int heap_before(HeapEnt a, HeapEnt b) {
    return a.count > b.count || (a.count == b.count && a.key < b.key);
}

typedef struct { HeapEnt *h; size_t n, cap; } Heap;

static void heap_push(Heap *q, int64_t count, uint64_t key) {
    if (q->n == q->cap) q->h = xrealloc(q->h, (q->cap = q->cap ? 2 * q->cap : 1024) * sizeof(HeapEnt));
    HeapEnt v = {count, key};
    size_t i = q->n++;
    while (i > 0 && heap_before(v, q->h[(i - 1) / 2])) { q->h[i] = q->h[(i - 1) / 2]; i = (i - 1) / 2; }
    q->h[i] = v;
}
static HeapEnt heap_pop(Heap *q) {
    HeapEnt top = q->h[0], v = q->h[--q->n];
    size_t i = 0, n = q->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(q->h[c + 1], q->h[c])) c++;
        if (!heap_before(q->h[c], v)) break;
        q->h[i] = q->h[c]; i = c;
    }
    if (n) q->h[i] = v;
    return top;
}

typedef struct {
    int32_t *ids;             // all words back to back, each shrinking in place as it merges
    size_t *off;              // (nw,) start of each word
    uint32_t *len;            // (nw,) current length
    int64_t *count;           // (nw,)
    size_t nw;
} Words;

typedef struct { uint64_t *v; size_t n, cap; } U64Vec;
static void u64_push(U64Vec *a, uint64_t x) {
    if (a->n == a->cap) a->v = xrealloc(a->v, (a->cap = a->cap ? 2 * a->cap : 256) * sizeof(uint64_t));
    a->v[a->n++] = x;
}

// Adds d to the count of pair key, seen in word w. A pair that gains occurrences remembers w
// and is listed once per merge (mstamp) in touched, to go on the heap with its new count.
static void pair_delta(PairTable *pt, uint64_t key, int64_t d, uint32_t w, uint32_t mstamp, U64Vec *touched) {
    PairInfo *pi = pair_get(pt, key, d > 0);
    if (!pi) return;
    pi->count += d;
    if (d <= 0) return;
    pair_add_word(pi, w);
    if (pi->touched != mstamp) {
        pi->touched = mstamp;
        u64_push(touched, key);
    }
}

// Learns n_merges merges into merges (n_merges, 2); returns how many it could learn.
static int bpe_learn(Words *W, int n_merges, int32_t *merges, int quiet) {
    PairTable pt;
    memset(&pt, 0, sizeof pt);
    pairtable_rehash(&pt, 1 << 16);
    for (size_t w = 0; w < W->nw; w++) {
        const int32_t *x = W->ids + W->off[w];
        for (uint32_t i = 0; i + 1 < W->len[w]; i++) {
            PairInfo *pi = pair_get(&pt, pair_key(x[i], x[i + 1]), 1);
            pi->count += W->count[w];
            pair_add_word(pi, (uint32_t)w);
        }
    }
    Heap q = {0};
    for (size_t k = 0; k < pt.n; k++) heap_push(&q, pt.p[k].count, pt.p[k].key);

    int64_t *tlen = xmalloc(sizeof(int64_t) * (256 + (size_t)n_merges));  // token byte lengths
    for (int i = 0; i < 256; i++) tlen[i] = 1;
    uint32_t *stamp = xcalloc(W->nw ? W->nw : 1, sizeof(uint32_t));  // last merge that saw a word
    U64Vec touched = {0};

    Progress prog;
    if (!quiet) progress_start(&prog, "tokenizer merges", n_merges, "merges");
    int done = 0;
    while (done < n_merges && q.n > 0) {
        HeapEnt top = heap_pop(&q);
        PairInfo *pi = pair_get(&pt, top.key, 0);
        if (!pi || pi->count <= 0) continue;
        if (pi->count != top.count) { heap_push(&q, pi->count, top.key); continue; }  // stale: requeue
        int32_t a = (int32_t)(top.key >> 32), b = (int32_t)(uint32_t)top.key;
        if (tlen[a] + tlen[b] > TOK_MAX_TOKEN_BYTES) continue;  // never learned (absurdly long)
        int32_t nid = 256 + done;
        merges[2 * done] = a;
        merges[2 * done + 1] = b;
        tlen[nid] = tlen[a] + tlen[b];
        uint32_t ms = (uint32_t)done + 1;
        // take the pair's word list (pi may move as the table grows); the pair never comes back
        uint32_t *wl = pi->words, nwl = pi->nw;
        pi->words = NULL; pi->nw = pi->cw = 0;
        touched.n = 0;
        for (uint32_t wi = 0; wi < nwl; wi++) {
            uint32_t w = wl[wi];
            if (stamp[w] == ms) continue;
            stamp[w] = ms;
            int32_t *x = W->ids + W->off[w];
            uint32_t n = W->len[w], o = 0;
            int64_t c = W->count[w];
            // merge left to right in place; the pairs around each merge change. The + of
            // back-to-back merges cancels against the - of the next (as rustbpe's merge_pair)
            for (uint32_t i = 0; i < n;) {
                if (i + 1 < n && x[i] == a && x[i + 1] == b) {
                    if (o > 0) {
                        pair_delta(&pt, pair_key(x[o - 1], a), -c, w, ms, &touched);
                        pair_delta(&pt, pair_key(x[o - 1], nid), c, w, ms, &touched);
                    }
                    pair_delta(&pt, top.key, -c, w, ms, &touched);
                    if (i + 2 < n) {
                        pair_delta(&pt, pair_key(b, x[i + 2]), -c, w, ms, &touched);
                        pair_delta(&pt, pair_key(nid, x[i + 2]), c, w, ms, &touched);
                    }
                    x[o++] = nid;
                    i += 2;
                } else {
                    x[o++] = x[i++];
                }
            }
            W->len[w] = o;
        }
        free(wl);
        for (size_t k = 0; k < touched.n; k++) {
            PairInfo *t = pair_get(&pt, touched.v[k], 0);
            if (t->count > 0) heap_push(&q, t->count, touched.v[k]);
        }
        done++;
        if (!quiet) progress_update(&prog, done);
    }
    if (!quiet) progress_finish(&prog);
    for (size_t k = 0; k < pt.n; k++) free(pt.p[k].words);
    free(pt.p); free(pt.slot); free(q.h); free(tlen); free(stamp); free(touched.v);
    return done;
}

Tokenizer *tokenizer_train(const DocSet *docs, int vocab_size, int quiet, char *err, size_t errlen) {
    int n_merges = vocab_size - 256 - TOK_N_SPECIAL;
    if (n_merges < 0 || vocab_size > 65536) {
        snprintf(err, errlen, "vocabulary size %d out of range (%d..65536)", vocab_size, 256 + TOK_N_SPECIAL);
        return NULL;
    }
    // a merge-less tokenizer just to compile the pattern for the counting threads
    Tokenizer *pat = tok_build(NULL, 0, TOK_SPLIT_PATTERN, strlen(TOK_SPLIT_PATTERN), err, errlen);
    if (!pat) return NULL;

    CountJob j;
    memset(&j, 0, sizeof j);
    j.tok = pat;
    j.docs = docs;
    j.nblocks = make_blocks(docs, &j.block_doc);
    int nt = num_threads();
    if ((size_t)nt > j.nblocks) nt = j.nblocks ? (int)j.nblocks : 1;
    if (nt > 64) nt = 64;
    j.maps = xcalloc((size_t)nt, sizeof(ChunkMap));
    atomic_init(&j.next_map, 0);
    atomic_init(&j.next, 0);
    atomic_init(&j.bytes_done, 0);
    Progress prog;
    if (!quiet) {
        progress_start(&prog, "tokenizer pre-split", (double)docs->off[docs->n] / 1e6, "MB");
        j.prog = &prog;
    }
    run_threads(nt, count_worker, &j);
    if (!quiet) progress_finish(&prog);
    ChunkMap *m = &j.maps[0];
    for (int k = 1; k < nt; k++) {
        ChunkMap *o = &j.maps[k];
        for (size_t i = 0; i < o->cap; i++)
            if (o->ent[i].len) chunkmap_add(m, o->arena + o->ent[i].off, o->ent[i].len, o->ent[i].hash, o->ent[i].count);
        chunkmap_free(o);
    }
    free(j.block_doc);

    // words: the unique chunks of 2+ bytes (single bytes have no pairs)
    Words W;
    memset(&W, 0, sizeof W);
    size_t total = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->ent[i].len >= 2) { W.nw++; total += m->ent[i].len; }
    if (W.nw >= UINT32_MAX) die("too many distinct chunks");
    W.ids = xmalloc((total ? total : 1) * sizeof(int32_t));
    W.off = xmalloc((W.nw ? W.nw : 1) * sizeof(size_t));
    W.len = xmalloc((W.nw ? W.nw : 1) * sizeof(uint32_t));
    W.count = xmalloc((W.nw ? W.nw : 1) * sizeof(int64_t));
    size_t w = 0, pos = 0;
    for (size_t i = 0; i < m->cap; i++) {
        ChunkEnt *c = &m->ent[i];
        if (c->len < 2) continue;
        if (c->len > UINT32_MAX) die("a chunk of %zu bytes is too long", c->len);
        W.off[w] = pos;
        W.len[w] = (uint32_t)c->len;
        W.count[w] = c->count;
        for (size_t k = 0; k < c->len; k++) W.ids[pos++] = m->arena[c->off + k];
        w++;
    }
    chunkmap_free(m);
    free(j.maps);

    int32_t *merges = xmalloc(sizeof(int32_t) * 2 * (size_t)(n_merges ? n_merges : 1));
    int got = bpe_learn(&W, n_merges, merges, quiet);
    free(W.ids); free(W.off); free(W.len); free(W.count);
    tokenizer_free(pat);
    Tokenizer *t = NULL;
    if (got < n_merges)
        snprintf(err, errlen, "training text has too few distinct byte pairs: learned %d of the %d merges "
                 "a vocabulary of %d needs (use more text or a smaller vocabulary)", got, n_merges, vocab_size);
    else
        t = tok_build(merges, n_merges, TOK_SPLIT_PATTERN, strlen(TOK_SPLIT_PATTERN), err, errlen);
    free(merges);
    return t;
}

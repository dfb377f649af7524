// tokenizer_encode.c -- BPE encoding of one text, and decoding. Encoding is standard rank-based
// BPE per chunk (lowest merge first, leftmost on ties), the same result as rustbpe's and
// tiktoken's encoders. Linked into the trainer (with tokenizer.c), so no threads here: the
// multi-threaded encoding of a document set is tokenizer_docs.c.
#include "tokenizer_impl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SHORT_CHUNK 64              // chunks up to this long use the O(n^2) merge loop
#define CACHE_MAX_LEN 48            // chunks up to this long go through the per-thread cache

// ----------------------------------------------------------------------------
// encoding one chunk

// merge rank of the pair (a,b), or -1
static inline int32_t tok_rank(const Tokenizer *t, int32_t a, int32_t b) {
    uint64_t k = pair_key(a, b);
    for (size_t i = mix64(k) & t->rank_mask;; i = (i + 1) & t->rank_mask) {
        if (t->rank_key[i] == k) return t->rank_val[i];
        if (t->rank_key[i] == UINT64_MAX) return -1;
    }
}

// Short chunks: the tiktoken loop. rk[i] is the rank of (ids[i], ids[i+1]); each step merges
// the leftmost lowest-ranked pair and refreshes only its two neighbours.
static int bpe_short(const Tokenizer *t, const uint8_t *p, int n, int32_t *ids) {
    int32_t rk[SHORT_CHUNK];
    for (int i = 0; i < n; i++) ids[i] = p[i];
    for (int i = 0; i + 1 < n; i++) rk[i] = tok_rank(t, ids[i], ids[i + 1]);
    while (n > 1) {
        int best = -1;
        int32_t br = INT32_MAX;
        for (int i = 0; i + 1 < n; i++)
            if (rk[i] >= 0 && rk[i] < br) { br = rk[i]; best = i; }
        if (best < 0) break;
        ids[best] = 256 + br;
        memmove(ids + best + 1, ids + best + 2, sizeof(int32_t) * (size_t)(n - best - 2));
        memmove(rk + best + 1, rk + best + 2, sizeof(int32_t) * (size_t)(n > best + 3 ? n - best - 3 : 0));
        n--;
        if (best + 1 < n) rk[best] = tok_rank(t, ids[best], ids[best + 1]);
        if (best > 0) rk[best - 1] = tok_rank(t, ids[best - 1], ids[best]);
    }
    return n;
}

// Long chunks (runs of spaces, binary data): a linked list and a min-heap of (rank, position),
// O(n log n). Same result as bpe_short: lowest rank first, leftmost among equal ranks.
static void heap_up64(uint64_t *h, size_t i) {
    uint64_t v = h[i];
    while (i > 0 && h[(i - 1) / 2] > v) { h[i] = h[(i - 1) / 2]; i = (i - 1) / 2; }
    h[i] = v;
}
static void heap_down64(uint64_t *h, size_t n, size_t i) {
    uint64_t v = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c]; i = c;
    }
    h[i] = v;
}

// Queues the pair of nodes (i, j) if it is a merge; returns the new heap size.
static size_t long_push(const Tokenizer *t, LongBuf *b, size_t hn, int32_t i, int32_t j) {
    int32_t r = tok_rank(t, b->id[i], b->id[j]);
    if (r < 0) return hn;
    b->heap[hn] = (uint64_t)r << 32 | (uint32_t)i;
    heap_up64(b->heap, hn);
    return hn + 1;
}

static size_t bpe_long(const Tokenizer *t, const uint8_t *p, size_t n, int32_t *out, LongBuf *b) {
    if (n > b->cap) {
        b->cap = n;
        b->id = xrealloc(b->id, n * sizeof(int32_t));
        b->nx = xrealloc(b->nx, n * sizeof(int32_t));
        b->pv = xrealloc(b->pv, n * sizeof(int32_t));
        b->heap = xrealloc(b->heap, 2 * n * sizeof(uint64_t));  // n pushes at start + 2 per merge
    }
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        b->id[i] = p[i];
        b->nx[i] = i + 1 < n ? (int32_t)(i + 1) : -1;
        b->pv[i] = (int32_t)i - 1;
    }
    for (size_t i = 0; i + 1 < n; i++) hn = long_push(t, b, hn, (int32_t)i, (int32_t)i + 1);
    while (hn > 0) {
        uint64_t top = b->heap[0];
        b->heap[0] = b->heap[--hn];
        if (hn) heap_down64(b->heap, hn, 0);
        int32_t r = (int32_t)(top >> 32), i = (int32_t)(uint32_t)top;
        int32_t j = b->nx[i];
        if (b->id[i] < 0 || j < 0 || tok_rank(t, b->id[i], b->id[j]) != r) continue;  // stale
        b->id[i] = 256 + r;
        b->id[j] = -1;
        b->nx[i] = b->nx[j];
        if (b->nx[j] >= 0) b->pv[b->nx[j]] = i;
        // new pairs: (prev, i) and (i, next); each merge adds at most 2 entries, removes 1
        int32_t q = b->pv[i], k = b->nx[i];
        if (q >= 0) hn = long_push(t, b, hn, q, i);
        if (k >= 0) hn = long_push(t, b, hn, i, k);
    }
    size_t m = 0;
    for (int32_t i = 0; i >= 0; i = b->nx[i]) out[m++] = b->id[i];
    return m;
}

#define CACHE_SLOTS (1u << 16)

void encoder_init(Encoder *e, const Tokenizer *t, int use_cache) {
    memset(e, 0, sizeof *e);
    splitter_init(&e->sp, t);
    e->use_cache = use_cache;
    if (use_cache) {
        e->cache_cap = CACHE_SLOTS;
        e->cache = xcalloc(e->cache_cap, sizeof(CacheEnt));
        e->kcap = 1 << 20; e->kbuf = xmalloc(e->kcap);
        e->icap = 1 << 20; e->ibuf = xmalloc(e->icap * sizeof(int32_t));
    }
}
void encoder_free(Encoder *e) {
    splitter_free(&e->sp);
    free(e->lb.id); free(e->lb.nx); free(e->lb.pv); free(e->lb.heap);
    free(e->tmp); free(e->cache); free(e->kbuf); free(e->ibuf);
}

// Encodes one chunk; returns a pointer to its ids (valid until the next call) and the count.
const int32_t *encode_chunk(const Tokenizer *t, Encoder *e, const uint8_t *p, size_t n, size_t *nout) {
    if (n > e->tmp_cap) {
        e->tmp_cap = n > 256 ? n : 256;
        e->tmp = xrealloc(e->tmp, e->tmp_cap * sizeof(int32_t));
    }
    if (n == 1) { e->tmp[0] = p[0]; *nout = 1; return e->tmp; }
    if (n > SHORT_CHUNK) { *nout = bpe_long(t, p, n, e->tmp, &e->lb); return e->tmp; }
    if (!e->use_cache || n > CACHE_MAX_LEN) { *nout = (size_t)bpe_short(t, p, (int)n, e->tmp); return e->tmp; }

    uint64_t h = hash_bytes(p, n);
    size_t mask = e->cache_cap - 1, i = h & mask;
    for (; e->cache[i].len; i = (i + 1) & mask) {
        CacheEnt *c = &e->cache[i];
        if (c->hash == h && c->len == n && !memcmp(e->kbuf + c->koff, p, n)) { *nout = c->n; return e->ibuf + c->ioff; }
    }
    int m = bpe_short(t, p, (int)n, e->tmp);
    if (e->cache_n >= e->cache_cap / 2 || e->klen + n > e->kcap || e->ilen + (size_t)m > e->icap) {
        // full: start over (cheap, and keeps the cache to what the current text uses)
        memset(e->cache, 0, e->cache_cap * sizeof(CacheEnt));
        e->cache_n = e->klen = e->ilen = 0;
        for (i = h & mask; e->cache[i].len; i = (i + 1) & mask) {}
    }
    CacheEnt *c = &e->cache[i];
    c->hash = h; c->len = (uint16_t)n; c->n = (uint16_t)m;
    c->koff = (uint32_t)e->klen; c->ioff = (uint32_t)e->ilen;
    memcpy(e->kbuf + e->klen, p, n); e->klen += n;
    memcpy(e->ibuf + e->ilen, e->tmp, (size_t)m * sizeof(int32_t)); e->ilen += (size_t)m;
    e->cache_n++;
    *nout = (size_t)m;
    return e->tmp;
}

long tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int32_t *ids, long cap) {
    Encoder e;
    encoder_init(&e, t, 0);
    splitter_reset(&e.sp, text, len);
    long n = 0;
    size_t a, b;
    while (splitter_next(&e.sp, &a, &b)) {
        size_t m;
        const int32_t *c = encode_chunk(t, &e, (const uint8_t *)text + a, b - a, &m);
        if ((long)m > cap - n) { n = -1; break; }
        memcpy(ids + n, c, m * sizeof(int32_t));
        n += (long)m;
    }
    encoder_free(&e);
    return n;
}

long tokenizer_decode(const Tokenizer *t, const int32_t *ids, long n, char *out, size_t cap) {
    size_t m = 0;
    for (long i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->vocab_size) return -1;
        size_t k = (size_t)t->tok_len[id];
        if (k == 0) continue;       // special tokens
        if (k > cap - m) return -1;
        memcpy(out + m, t->pool + t->tok_off[id], k);
        m += k;
    }
    return (long)m;
}

long tokenizer_chunks(const Tokenizer *t, const char *text, size_t len, size_t *ends, long cap) {
    Splitter sp;
    splitter_init(&sp, t);
    splitter_reset(&sp, text, len);
    long n = 0;
    size_t a, b;
    while (splitter_next(&sp, &a, &b)) {
        if (n >= cap) { n = -1; break; }
        ends[n++] = b;
    }
    splitter_free(&sp);
    return n;
}

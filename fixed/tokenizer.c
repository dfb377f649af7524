// tokenizer.c -- byte-level BPE: pre-tokenization (PCRE2), training, encoding, decoding and
// the vocabulary file. See tokenizer.h for the vocabulary layout and the file format.
//
// Training follows rustbpe (the original project's trainer): unique chunks with counts, pair
// counts updated incrementally per merge, a lazy max-heap keyed by (count desc, pair asc) and
// a pair -> words index. Encoding is standard rank-based BPE per chunk (lowest merge first,
// leftmost on ties), the same result as rustbpe's and tiktoken's encoders.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer.h"

#include <errno.h>
#include <limits.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util.h"

#define TOK_MAGIC "ARBPE\0\0\1"
#define TOK_MAX_TOKEN_BYTES 65536   // longest token training may create / a file may hold
#define SHORT_CHUNK 64              // chunks up to this long use the O(n^2) merge loop
#define CACHE_MAX_LEN 48            // chunks up to this long go through the per-thread cache

struct Tokenizer {
    int vocab_size, n_merges;
    int32_t *merges;          // (n_merges, 2): left, right
    int32_t *tok_len;         // (vocab_size,) raw bytes per token, 0 for specials
    size_t *tok_off;          // (vocab_size,) offset of the token's bytes in pool
    uint8_t *pool;            // every token's bytes back to back
    uint64_t *rank_key;       // open-addressed map (left<<32|right) -> merge rank
    int32_t *rank_val;
    size_t rank_mask;
    char *pattern;
    pcre2_code *re;
};

// ----------------------------------------------------------------------------
// hashing

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        p += 8; n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, p, n);
    return mix64(h ^ v);
}

static inline uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

// merge rank of the pair (a,b), or -1
static inline int32_t tok_rank(const Tokenizer *t, int32_t a, int32_t b) {
    uint64_t k = pair_key(a, b);
    for (size_t i = mix64(k) & t->rank_mask;; i = (i + 1) & t->rank_mask) {
        if (t->rank_key[i] == k) return t->rank_val[i];
        if (t->rank_key[i] == UINT64_MAX) return -1;
    }
}

// ----------------------------------------------------------------------------
// pre-tokenization: the split pattern, with unmatched bytes as chunks of their own

static pcre2_code *compile_pattern(const char *pat, size_t len, char *err, size_t errlen) {
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF,
                                   &ec, &eo, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(err, errlen, "bad split pattern at offset %zu: %s", (size_t)eo, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // no JIT (unsupported CPU) still matches, slower
    return re;
}

typedef struct {
    const pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mc;      // with a big JIT stack, made on first need
    pcre2_jit_stack *js;
    const uint8_t *text;
    size_t len, pos, ms, me;      // ms..me: a match found after a gap, returned next
    int pending;
} Splitter;

static void splitter_init(Splitter *s, const Tokenizer *t) {
    memset(s, 0, sizeof *s);
    s->re = t->re;
    s->md = pcre2_match_data_create_from_pattern(t->re, NULL);
    if (!s->md) die("out of memory (pcre2 match data)");
}
static void splitter_free(Splitter *s) {
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mc);
    pcre2_jit_stack_free(s->js);
}
static void splitter_reset(Splitter *s, const char *text, size_t len) {
    s->text = (const uint8_t *)text;
    s->len = len;
    s->pos = 0;
    s->pending = 0;
}

// Next chunk [*a, *b); 0 at the end. Every byte lands in exactly one chunk, in order.
static int splitter_next(Splitter *s, size_t *a, size_t *b) {
    if (s->pending) {
        s->pending = 0;
        *a = s->ms; *b = s->me;
        s->pos = s->me;
        return 1;
    }
    if (s->pos >= s->len) return 0;
    int rc = pcre2_match(s->re, s->text, s->len, s->pos, 0, s->md, s->mc);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !s->js) {
        s->mc = pcre2_match_context_create(NULL);
        s->js = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
        if (!s->mc || !s->js) die("out of memory (pcre2 JIT stack)");
        pcre2_jit_stack_assign(s->mc, NULL, s->js);
        rc = pcre2_match(s->re, s->text, s->len, s->pos, 0, s->md, s->mc);
    }
    size_t ms, me;
    if (rc == PCRE2_ERROR_NOMATCH) {
        ms = me = s->len;                     // the rest is a gap
    } else if (rc < 0) {
        ms = s->pos; me = s->pos + 1;         // matcher failure (limits): one byte, deterministic
    } else {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        ms = ov[0]; me = ov[1];
        if (me <= ms) { ms = ms > s->pos ? ms : s->pos; me = ms + 1; }  // empty match: take a byte
        if (me > s->len) me = s->len;
    }
    if (ms > s->pos) {                        // bytes the pattern skipped (invalid UTF-8)
        *a = s->pos; *b = ms;
        s->pos = ms;
        if (me > ms) { s->ms = ms; s->me = me; s->pending = 1; }
        return 1;
    }
    *a = ms; *b = me;
    s->pos = me;
    return 1;
}

// ----------------------------------------------------------------------------
// building a tokenizer from its merges

static Tokenizer *tok_build(const int32_t *merges, int n_merges, const char *pattern, size_t pattern_len,
                            char *err, size_t errlen) {
    Tokenizer *t = xcalloc(1, sizeof *t);
    t->n_merges = n_merges;
    t->vocab_size = 256 + n_merges + TOK_N_SPECIAL;
    t->merges = xmalloc(sizeof(int32_t) * 2 * (size_t)(n_merges ? n_merges : 1));
    if (n_merges) memcpy(t->merges, merges, sizeof(int32_t) * 2 * (size_t)n_merges);
    t->pattern = xmalloc(pattern_len + 1);
    memcpy(t->pattern, pattern, pattern_len);
    t->pattern[pattern_len] = 0;
    t->re = compile_pattern(pattern, pattern_len, err, errlen);
    if (!t->re) { tokenizer_free(t); return NULL; }

    // token lengths from the merge tree, then every token's bytes into one pool
    int V = t->vocab_size;
    t->tok_len = xcalloc((size_t)V, sizeof(int32_t));
    t->tok_off = xcalloc((size_t)V, sizeof(size_t));
    size_t total = 0;
    for (int i = 0; i < V; i++) {
        if (i < 256) t->tok_len[i] = 1;
        else if (i < 256 + n_merges) {
            const int32_t *m = merges + 2 * (i - 256);
            t->tok_len[i] = t->tok_len[m[0]] + t->tok_len[m[1]];
        }
        t->tok_off[i] = total;
        total += (size_t)t->tok_len[i];
    }
    t->pool = xmalloc(total ? total : 1);
    for (int i = 0; i < 256 + n_merges; i++) {
        uint8_t *dst = t->pool + t->tok_off[i];
        if (i < 256) { dst[0] = (uint8_t)i; continue; }
        int32_t l = merges[2 * (i - 256)], r = merges[2 * (i - 256) + 1];
        memcpy(dst, t->pool + t->tok_off[l], (size_t)t->tok_len[l]);
        memcpy(dst + t->tok_len[l], t->pool + t->tok_off[r], (size_t)t->tok_len[r]);
    }

    size_t cap = 16;
    while (cap < 2 * (size_t)n_merges + 2) cap *= 2;
    t->rank_mask = cap - 1;
    t->rank_key = xmalloc(cap * sizeof(uint64_t));
    t->rank_val = xmalloc(cap * sizeof(int32_t));
    memset(t->rank_key, 0xff, cap * sizeof(uint64_t));
    for (int r = 0; r < n_merges; r++) {
        uint64_t k = pair_key(merges[2 * r], merges[2 * r + 1]);
        size_t i = mix64(k) & t->rank_mask;
        while (t->rank_key[i] != UINT64_MAX && t->rank_key[i] != k) i = (i + 1) & t->rank_mask;
        if (t->rank_key[i] == k) continue;  // duplicate merge: the first (lowest rank) wins
        t->rank_key[i] = k;
        t->rank_val[i] = r;
    }
    return t;
}

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    free(t->merges); free(t->tok_len); free(t->tok_off); free(t->pool);
    free(t->rank_key); free(t->rank_val); free(t->pattern);
    pcre2_code_free(t->re);
    free(t);
}

int tokenizer_vocab_size(const Tokenizer *t) { return t->vocab_size; }
int tokenizer_bos(const Tokenizer *t) { return t->vocab_size - TOK_N_SPECIAL; }
int tokenizer_n_merges(const Tokenizer *t) { return t->n_merges; }
void tokenizer_merge(const Tokenizer *t, int i, int32_t *left, int32_t *right) {
    *left = t->merges[2 * i];
    *right = t->merges[2 * i + 1];
}
int tokenizer_token_bytes(const Tokenizer *t, int id) {
    return id >= 0 && id < t->vocab_size ? t->tok_len[id] : 0;
}

// ----------------------------------------------------------------------------
// encoding one chunk

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
typedef struct {
    int32_t *id, *nx, *pv;
    uint64_t *heap;           // rank << 32 | position
    size_t cap;
} LongBuf;

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

// Per-thread encoder state: the splitter, a cache of short chunks -> ids, scratch buffers.
typedef struct {
    uint64_t hash;
    uint32_t koff, ioff;      // key bytes in kbuf, ids in ibuf
    uint16_t len, n;          // len 0: empty slot
} CacheEnt;

typedef struct {
    Splitter sp;
    LongBuf lb;
    int32_t *tmp;             // chunk scratch
    size_t tmp_cap;
    int use_cache;
    CacheEnt *cache;
    size_t cache_cap, cache_n;
    uint8_t *kbuf; size_t klen, kcap;
    int32_t *ibuf; size_t ilen, icap;
} Encoder;

#define CACHE_SLOTS (1u << 16)

static void encoder_init(Encoder *e, const Tokenizer *t, int use_cache) {
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
static void encoder_free(Encoder *e) {
    splitter_free(&e->sp);
    free(e->lb.id); free(e->lb.nx); free(e->lb.pv); free(e->lb.heap);
    free(e->tmp); free(e->cache); free(e->kbuf); free(e->ibuf);
}

// Encodes one chunk; returns a pointer to its ids (valid until the next call) and the count.
static const int32_t *encode_chunk(const Tokenizer *t, Encoder *e, const uint8_t *p, size_t n, size_t *nout) {
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
static size_t make_blocks(const DocSet *docs, size_t **starts) {
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
static void run_threads(int nthreads, void *(*fn)(void *), void *job) {
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

// ----------------------------------------------------------------------------
// the vocabulary file

static void put_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tokenizer_save(const Tokenizer *t, const char *path, char *err, size_t errlen) {
    size_t plen = strlen(t->pattern);
    size_t n = 8 + 16 + plen + 8 * (size_t)t->n_merges + 4;
    uint8_t *buf = xmalloc(n), *p = buf;
    memcpy(p, TOK_MAGIC, 8); p += 8;
    put_u32(p, (uint32_t)t->vocab_size); p += 4;
    put_u32(p, (uint32_t)t->n_merges); p += 4;
    put_u32(p, TOK_N_SPECIAL); p += 4;
    put_u32(p, (uint32_t)plen); p += 4;
    memcpy(p, t->pattern, plen); p += plen;
    for (int i = 0; i < t->n_merges; i++) {
        put_u32(p, (uint32_t)t->merges[2 * i]);
        put_u32(p + 4, (uint32_t)t->merges[2 * i + 1]);
        p += 8;
    }
    put_u32(p, (uint32_t)crc32(0, buf, (uInt)(n - 4)));
    int rc = write_file_atomic(path, buf, n, err, errlen);
    free(buf);
    return rc;
}

Tokenizer *tokenizer_load(const char *path, char *err, size_t errlen) {
    size_t n;
    uint8_t *buf = (uint8_t *)read_file(path, &n);
    if (!buf) { snprintf(err, errlen, "cannot read tokenizer %s: %s", path, strerror(errno)); return NULL; }
    Tokenizer *t = NULL;
    int32_t *merges = NULL;
    const char *why = NULL;
    char whybuf[256];
    uint32_t V = 0, nm = 0, ns = 0, plen = 0;
    if (n < 8 || memcmp(buf, TOK_MAGIC, 7) != 0) { why = "not a tokenizer file (bad magic)"; goto done; }
    if (buf[7] != (uint8_t)TOK_MAGIC[7]) {
        snprintf(whybuf, sizeof whybuf, "unsupported format version %d (expected %d)", buf[7], TOK_MAGIC[7]);
        why = whybuf; goto done;
    }
    if (n < 8 + 16 + 4) { why = "truncated (header incomplete)"; goto done; }
    V = get_u32(buf + 8); nm = get_u32(buf + 12); ns = get_u32(buf + 16); plen = get_u32(buf + 20);
    if (ns != TOK_N_SPECIAL || V < 256 + TOK_N_SPECIAL || V > 65536 || nm != V - 256 - TOK_N_SPECIAL) {
        snprintf(whybuf, sizeof whybuf, "inconsistent sizes (vocab %u, merges %u, special %u)", V, nm, ns);
        why = whybuf; goto done;
    }
    size_t want = 8 + 16 + (size_t)plen + 8 * (size_t)nm + 4;
    if (plen > (1u << 20) || n != want) {
        snprintf(whybuf, sizeof whybuf, "%s (%zu bytes, expected %zu)", n < want ? "truncated" : "wrong size", n, want);
        why = whybuf; goto done;
    }
    if ((uint32_t)crc32(0, buf, (uInt)(n - 4)) != get_u32(buf + n - 4)) {
        why = "checksum mismatch (corrupt file)";
        goto done;
    }
    merges = xmalloc(sizeof(int32_t) * 2 * (size_t)(nm ? nm : 1));
    const uint8_t *mp = buf + 24 + plen;
    int64_t *tl = xmalloc(sizeof(int64_t) * V);
    for (int i = 0; i < 256; i++) tl[i] = 1;
    for (uint32_t i = 0; i < nm; i++) {
        uint32_t l = get_u32(mp + 8 * i), r = get_u32(mp + 8 * i + 4);
        if (l >= 256 + i || r >= 256 + i || tl[l] + tl[r] > TOK_MAX_TOKEN_BYTES) {
            snprintf(whybuf, sizeof whybuf, "merge %u refers to an unknown token or makes a token too long", i);
            why = whybuf;
            break;
        }
        tl[256 + i] = tl[l] + tl[r];
        merges[2 * i] = (int32_t)l;
        merges[2 * i + 1] = (int32_t)r;
    }
    free(tl);
    if (why) goto done;
    char perr[200];
    t = tok_build(merges, (int)nm, (const char *)buf + 24, plen, perr, sizeof perr);
    if (!t) { snprintf(whybuf, sizeof whybuf, "%s", perr); why = whybuf; }
done:
    if (why) snprintf(err, errlen, "tokenizer %s: %s", path, why);
    free(merges);
    free(buf);
    return t;
}

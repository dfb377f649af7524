// tokenizer.c -- byte-level BPE: pre-tokenization (PCRE2), building a tokenizer from its merges,
// the accessors and the vocabulary file. See tokenizer.h for the vocabulary layout and the file
// format. Encoding is in tokenizer_encode.c (one text) and tokenizer_docs.c (a document set,
// multi-threaded), training in tokenizer_train.c; tokenizer_impl.h is what they share.
#include "tokenizer_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util.h"

#define TOK_MAGIC "ARBPE\0\0\1"

// ----------------------------------------------------------------------------
// hashing

uint64_t hash_bytes(const uint8_t *p, size_t n) {
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

void splitter_init(Splitter *s, const Tokenizer *t) {
    memset(s, 0, sizeof *s);
    s->re = t->re;
    s->md = pcre2_match_data_create_from_pattern(t->re, NULL);
    if (!s->md) die("out of memory (pcre2 match data)");
}
void splitter_free(Splitter *s) {
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mc);
    pcre2_jit_stack_free(s->js);
}
void splitter_reset(Splitter *s, const char *text, size_t len) {
    s->text = (const uint8_t *)text;
    s->len = len;
    s->pos = 0;
    s->pending = 0;
}

// Next chunk [*a, *b); 0 at the end. Every byte lands in exactly one chunk, in order.
int splitter_next(Splitter *s, size_t *a, size_t *b) {
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

Tokenizer *tok_build(const int32_t *merges, int n_merges, const char *pattern, size_t pattern_len,
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

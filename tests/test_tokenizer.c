// test_tokenizer.c -- byte-level BPE: split pattern, training, encode/decode, the vocabulary file.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "testlib.h"
#include "synth.h"
#include "tokenizer.h"
#include "util.h"

#include <pcre2.h>
#include <stdint.h>
#include <zlib.h>

static char err[512];
static char *tmp;
static DocSet real;            // ~1.5 MB of real text (State of the Union addresses)
static int real_is_synthetic;  // no corpus beside the checkout: synthetic documents instead
static Tokenizer *tok_real;    // vocab 1024 trained on it
static DocSet noise;           // random byte soup: invalid UTF-8, NULs, long runs
static Tokenizer *tok_noise;   // vocab 600 trained on it (merges over invalid bytes, long space tokens)

// ----------------------------------------------------------------------------
// helpers

static uint64_t rng = 0x1234567887654321ull;
static uint32_t rnd(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

// Random text with everything the pattern has to cope with. Writes len bytes into buf.
static void gen_noise(char *buf, size_t len) {
#define P(x) {x, sizeof(x) - 1}
    static const struct { const char *s; size_t n; } pieces[] = {
        P(" the"), P("The"), P(" and"), P("'s"), P("'LL"), P("'re"), P(" don't"), P("I'm"), P("123"),
        P("4567890"), P(" 42"), P("\n"), P("\r\n"), P("\n\n\n"), P("  "), P("\t"), P("   \n"), P("!!!"),
        P(" ..."), P("?\n"), P("\""), P("("), P(")"),
        P("\xc3\xa9t\xc3\xa9"), P(" \xe4\xb8\xad\xe6\x96\x87"), P("\xf0\x9f\x98\x80"), P("\xd9\xa3\xd9\xa4"),  // utf-8
        P("\xff"), P("\xc3"), P("\xe4\xb8"), P("\x80\x80"), P("\xed\xa0\x80"), P("\xf8\x88\x80\x80\x80"), P("\xc0\xaf"),  // invalid
        P("\0"), P("a\0b"), P("\0\0"),
    };
#undef P
    size_t np = sizeof pieces / sizeof pieces[0], n = 0;
    while (n < len) {
        uint32_t r = rnd() % 100;
        char tmpb[64];
        const char *p;
        size_t k;
        if (r < 60) { uint32_t i = rnd() % np; p = pieces[i].s; k = pieces[i].n; }
        else if (r < 80) { k = rnd() % 8 + 1; for (size_t i = 0; i < k; i++) tmpb[i] = (char)('a' + rnd() % 26); p = tmpb; }
        else if (r < 95) { k = rnd() % 6 + 1; for (size_t i = 0; i < k; i++) tmpb[i] = (char)rnd(); p = tmpb; }
        else {  // a long run
            k = rnd() % 3000 + 1;
            char c = " 7\n\t\xff"[rnd() % 5];
            for (size_t i = 0; i < k && n < len; i++) buf[n++] = c;
            continue;
        }
        for (size_t i = 0; i < k && n < len; i++) buf[n++] = p[i];
    }
}

// Documents from a .jsonl.gz file, the "text" field with the common escapes undone, up to
// max_bytes in all. Returns 0 if the file is missing.
static int read_jsonl_gz(const char *path, size_t max_bytes, DocSet *d) {
    gzFile g = gzopen(path, "rb");
    if (!g) return 0;
    size_t cap = 1 << 22;
    char *line = xmalloc(cap), *doc = xmalloc(cap);
    while (d->len < max_bytes && gzgets(g, line, (int)cap)) {
        char *s = strstr(line, "\"text\": \"");
        if (!s) continue;
        s += 9;
        size_t n = 0;
        for (; *s && *s != '"'; s++) {
            if (*s != '\\') { doc[n++] = *s; continue; }
            s++;
            if (*s == 'n') doc[n++] = '\n';
            else if (*s == 't') doc[n++] = '\t';
            else if (*s == 'u') { doc[n++] = '?'; s += 4; }
            else doc[n++] = *s;
        }
        docset_add(d, doc, n);
    }
    gzclose(g);
    free(line); free(doc);
    return 1;
}

// Chunks of text as the tokenizer splits them, compared with the expected list.
static int chunks_are(const Tokenizer *t, const char *text, size_t len, const char **want, const size_t *wlen, int nwant) {
    size_t ends[256];
    long n = tokenizer_chunks(t, text, len, ends, 256);
    if (n != nwant) {
        fprintf(stderr, "  chunk count %ld, expected %d\n", n, nwant);
        return 0;
    }
    size_t a = 0;
    for (int i = 0; i < n; i++) {
        if (ends[i] - a != wlen[i] || memcmp(text + a, want[i], wlen[i]) != 0) {
            fprintf(stderr, "  chunk %d is \"%.*s\", expected \"%s\"\n", i, (int)(ends[i] - a), text + a, want[i]);
            return 0;
        }
        a = ends[i];
    }
    return 1;
}
#define CHUNKS(t, text, ...)                                                                   \
    do {                                                                                       \
        const char *w_[] = {__VA_ARGS__};                                                      \
        size_t l_[sizeof w_ / sizeof w_[0]];                                                   \
        for (size_t i_ = 0; i_ < sizeof w_ / sizeof w_[0]; i_++) l_[i_] = strlen(w_[i_]);      \
        CHECK_MSG(chunks_are(t, text, sizeof(text) - 1, w_, l_, (int)(sizeof w_ / sizeof w_[0])), "%s", #text); \
    } while (0)

static DocSet docs_of(const char **texts, int n) {
    DocSet d;
    docset_init(&d);
    for (int i = 0; i < n; i++) docset_add(&d, texts[i], strlen(texts[i]));
    return d;
}

// ----------------------------------------------------------------------------
// the reference: its own PCRE2 split and merges applied in rank order (minbpe style)

static pcre2_code *ref_re;
static pcre2_match_data *ref_md;

static long ref_encode(const Tokenizer *t, const char *text, size_t len, int32_t *out) {
    int nm = tokenizer_n_merges(t);
    long n = 0;
    size_t pos = 0;
    int32_t *w = xmalloc((len + 1) * sizeof(int32_t));
    while (pos < len) {
        int rc = pcre2_match(ref_re, (PCRE2_SPTR)text, len, pos, 0, ref_md, NULL);
        size_t ms = len, me = len;
        if (rc >= 0) { ms = pcre2_get_ovector_pointer(ref_md)[0]; me = pcre2_get_ovector_pointer(ref_md)[1]; }
        // a gap (bytes the pattern skips) is a chunk, then the match is one
        for (int part = 0; part < 2; part++) {
            size_t a = part == 0 ? pos : ms, b = part == 0 ? ms : me;
            if (b <= a) continue;
            size_t m = b - a;
            for (size_t i = 0; i < m; i++) w[i] = (uint8_t)text[a + i];
            for (int r = 0; r < nm && m > 1; r++) {
                int32_t l, rr;
                tokenizer_merge(t, r, &l, &rr);
                size_t o = 0;
                for (size_t i = 0; i < m;) {
                    if (i + 1 < m && w[i] == l && w[i + 1] == rr) { w[o++] = 256 + r; i += 2; }
                    else w[o++] = w[i++];
                }
                m = o;
            }
            memcpy(out + n, w, m * sizeof(int32_t));
            n += (long)m;
        }
        pos = me;
    }
    free(w);
    return n;
}

// Encodes text, checks round trip, byte counts and (if ref) the reference encoder.
// Returns 1 if all good.
static int check_text(const Tokenizer *t, const char *text, size_t len, int ref) {
    int32_t *ids = xmalloc((len + 1) * sizeof(int32_t));
    long n = tokenizer_encode(t, text, len, ids, (long)len);
    int ok = n >= 0 && (len == 0 || n > 0);
    if (!ok) fprintf(stderr, "  encode failed (%ld)\n", n);
    char *back = xmalloc(len + 1);
    long m = ok ? tokenizer_decode(t, ids, n, back, len) : -1;
    if (ok && (m != (long)len || memcmp(back, text, len) != 0)) { fprintf(stderr, "  round trip differs\n"); ok = 0; }
    size_t sum = 0;
    for (long i = 0; ok && i < n; i++) sum += (size_t)tokenizer_token_bytes(t, ids[i]);
    if (ok && sum != len) { fprintf(stderr, "  token bytes sum %zu != %zu\n", sum, len); ok = 0; }
    if (ok && ref) {
        int32_t *rids = xmalloc((len + 1) * sizeof(int32_t));
        long rn = ref_encode(t, text, len, rids);
        if (rn != n || memcmp(rids, ids, (size_t)n * sizeof(int32_t)) != 0) {
            long i = 0;
            while (i < n && i < rn && ids[i] == rids[i]) i++;
            fprintf(stderr, "  differs from the reference at token %ld (%ld vs %ld tokens)\n", i, n, rn);
            ok = 0;
        }
        free(rids);
    }
    free(ids); free(back);
    return ok;
}

// ----------------------------------------------------------------------------
// tests

static void test_split_pattern(void) {
    DocSet d = docs_of((const char *[]){"ab"}, 1);
    Tokenizer *t = tokenizer_train(&d, 256 + TOK_N_SPECIAL, 1, err, sizeof err);  // no merges
    CHECK(t && tokenizer_n_merges(t) == 0);
    if (!t) { docset_free(&d); return; }
    CHUNKS(t, "123456", "12", "34", "56");
    CHUNKS(t, "12345", "12", "34", "5");
    CHUNKS(t, "I'm", "I", "'m");
    CHUNKS(t, "They'LL don't", "They", "'LL", " don", "'t");
    CHUNKS(t, " hello world", " hello", " world");
    CHUNKS(t, "hello   world", "hello", "  ", " world");
    CHUNKS(t, "Hi!!! ...ok", "Hi", "!!!", " ...", "ok");
    CHUNKS(t, "end.\n\n\nNew", "end", ".\n\n\n", "New");
    CHUNKS(t, "a\n  \n b", "a", "\n  \n", " b");
    CHUNKS(t, "trailing   ", "trailing", "   ");
    CHUNKS(t, " caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87", " caf\xc3\xa9", " \xe4\xb8\xad\xe6\x96\x87");
    CHUNKS(t, "$3.14", "$", "3", ".", "14");
    // bytes that are not UTF-8 are chunks of their own, and never swallow their neighbours
    CHUNKS(t, "caf\xe9 ok", "caf", "\xe9", " ok");
    CHUNKS(t, "\xff\xfe" "ab", "\xff\xfe", "ab");
    CHUNKS(t, "ab\xc3", "ab", "\xc3");
    CHUNKS(t, "\xed\xa0\x80x", "\xed\xa0\x80", "x");    // a UTF-16 surrogate is invalid UTF-8
    // NUL is an ordinary (valid) character
    {
        const char s[] = "x\0y";
        size_t ends[8];
        long n = tokenizer_chunks(t, s, 3, ends, 8);
        CHECK(n == 2 && ends[0] == 1 && ends[1] == 3);
        CHECK(tokenizer_chunks(t, s, 3, ends, 1) == -1);
        CHECK(tokenizer_chunks(t, s, 0, ends, 8) == 0);
    }
    tokenizer_free(t);
    docset_free(&d);
}

static void test_train_tiny(void) {
    // the textbook example: aaabdaaabac
    DocSet d = docs_of((const char *[]){"aaabdaaabac"}, 1);
    Tokenizer *t = tokenizer_train(&d, 256 + 4 + TOK_N_SPECIAL, 1, err, sizeof err);
    CHECK_MSG(t != NULL, "%s", err);
    if (t) {
        int32_t want[4][2] = {{'a', 'a'}, {'a', 'b'}, {256, 257}, {'a', 'c'}};  // ties: smaller pair first
        for (int i = 0; i < 4; i++) {
            int32_t l, r;
            tokenizer_merge(t, i, &l, &r);
            CHECK_MSG(l == want[i][0] && r == want[i][1], "merge %d is (%d,%d)", i, l, r);
        }
        CHECK(tokenizer_vocab_size(t) == 264 && tokenizer_bos(t) == 260);
        CHECK(tokenizer_token_bytes(t, 258) == 4);    // "aaab"
        int32_t ids[16];
        CHECK(tokenizer_encode(t, "aaabdaaabac", 11, ids, 16) == 4);  // aaab d aaab ac
        CHECK(ids[0] == 258 && ids[1] == 'd' && ids[2] == 258 && ids[3] == 259);
        tokenizer_free(t);
    }
    docset_free(&d);

    // merges never cross chunks; counts add up over documents
    d = docs_of((const char *[]){"ab ab", " ab xy", "xy"}, 3);
    t = tokenizer_train(&d, 256 + 2 + TOK_N_SPECIAL, 1, err, sizeof err);
    CHECK_MSG(t != NULL, "%s", err);
    if (t) {
        int32_t l, r;
        tokenizer_merge(t, 0, &l, &r);
        CHECK(l == 'a' && r == 'b');     // 3 times
        tokenizer_merge(t, 1, &l, &r);
        CHECK(l == ' ' && r == 256);     // " ab" twice; ' x' once, 'xy' twice: tie -> smaller pair
        tokenizer_free(t);
    }
    docset_free(&d);

    // not enough pairs for the vocabulary: an error, not a crash
    d = docs_of((const char *[]){"abc"}, 1);
    t = tokenizer_train(&d, 300, 1, err, sizeof err);
    CHECK(t == NULL && strstr(err, "too few") != NULL);
    t = tokenizer_train(&d, 100, 1, err, sizeof err);
    CHECK(t == NULL && strstr(err, "vocabulary size") != NULL);
    t = tokenizer_train(&d, 70000, 1, err, sizeof err);
    CHECK(t == NULL);
    docset_free(&d);
    DocSet empty;
    docset_init(&empty);
    t = tokenizer_train(&empty, 270, 1, err, sizeof err);
    CHECK(t == NULL && strstr(err, "too few") != NULL);
    docset_free(&empty);
}

static void test_api_edges(void) {
    Tokenizer *t = tok_real;
    int V = tokenizer_vocab_size(t), bos = tokenizer_bos(t);
    CHECK(V == 1024 && bos == V - TOK_N_SPECIAL);
    for (int i = bos; i < V; i++) CHECK(tokenizer_token_bytes(t, i) == 0);
    for (int i = 0; i < 256; i++) CHECK(tokenizer_token_bytes(t, i) == 1);
    CHECK(tokenizer_token_bytes(t, -1) == 0 && tokenizer_token_bytes(t, V) == 0);
    // token_bytes is the exact decoded length of every token
    char buf[TOK_N_SPECIAL + 70000];
    int bad = 0;
    for (int32_t i = 0; i < V; i++) {
        long m = tokenizer_decode(t, &i, 1, buf, sizeof buf);
        if (m != tokenizer_token_bytes(t, i)) bad++;
    }
    CHECK(bad == 0);
    // special tokens decode to nothing
    int32_t ids[4] = {'h', bos, 'i', V - 1};
    CHECK(tokenizer_decode(t, ids, 4, buf, sizeof buf) == 2 && buf[0] == 'h' && buf[1] == 'i');
    // out-of-range ids and small buffers are errors
    int32_t badid[2] = {'a', V};
    CHECK(tokenizer_decode(t, badid, 2, buf, sizeof buf) == -1);
    badid[1] = -5;
    CHECK(tokenizer_decode(t, badid, 2, buf, sizeof buf) == -1);
    CHECK(tokenizer_decode(t, ids, 4, buf, 1) == -1);
    const char *s = "hello world, hello tokenizer";
    int32_t out[64];
    long n = tokenizer_encode(t, s, strlen(s), out, 64);
    CHECK(n > 0 && n < (long)strlen(s));
    CHECK(tokenizer_encode(t, s, strlen(s), out, n) == n);
    CHECK(tokenizer_encode(t, s, strlen(s), out, n - 1) == -1);
    CHECK(tokenizer_encode(t, s, 0, out, 0) == 0);
    CHECK(tokenizer_decode(t, out, 0, buf, 0) == 0);
    CHECK(tokenizer_encode(t, NULL, 0, NULL, 0) == 0);
    int32_t specials[2] = {bos, bos + 1};
    CHECK(tokenizer_decode(t, specials, 2, NULL, 0) == 0);
}

static void test_roundtrip_random(void) {
    size_t sizes[] = {0, 1, 2, 3, 7, 100, 1000, 20000, 100000};
    char *buf = xmalloc(100000);
    int bad_real = 0, bad_noise = 0, bad_bytes = 0;
    for (int rep = 0; rep < 3; rep++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t len = sizes[s];
            gen_noise(buf, len);
            bad_real += !check_text(tok_real, buf, len, len <= 20000);
            bad_noise += !check_text(tok_noise, buf, len, len <= 20000);
            for (size_t i = 0; i < len; i++) buf[i] = (char)rnd();    // uniform random bytes
            bad_bytes += !check_text(tok_noise, buf, len, len <= 20000);
        }
    }
    CHECK(bad_real == 0);
    CHECK(bad_noise == 0);
    CHECK(bad_bytes == 0);
    // long runs: a single chunk of 50000 spaces / digits / newlines, and mixes
    const char runs[] = " 9\n\xff" "a\0";
    for (size_t r = 0; r < sizeof runs - 1; r++) {
        memset(buf, runs[r], 50000);
        CHECK_MSG(check_text(tok_noise, buf, 50000, 1), "run of byte %d", (unsigned char)runs[r]);
        CHECK_MSG(check_text(tok_real, buf, 50000, 1), "run of byte %d", (unsigned char)runs[r]);
    }
    for (size_t i = 0; i < 60000; i++) buf[i] = " \n\t"[rnd() % 3];
    CHECK(check_text(tok_noise, buf, 60000, 1));
    free(buf);
}

static void test_roundtrip_real(void) {
    CHECK(real.n > 0);
    int bad = 0;
    size_t ref_bytes = 0;
    for (size_t i = 0; i < real.n; i++) {
        size_t len;
        const char *s = docset_doc(&real, i, &len);
        int ref = ref_bytes < 200000;   // the reference is slow: check the first ~200 KB against it
        if (ref) ref_bytes += len;
        bad += !check_text(tok_real, s, len, ref);
    }
    CHECK(bad == 0);
    // a trained vocabulary compresses its own training text (sotu at vocab 1024: ~3.5 bytes
    // per token; the synthetic stand-in's short fixed wording: 2.92)
    uint16_t *ids;
    size_t n;
    CHECK(tokenizer_encode_docs(tok_real, &real, &ids, &n, 1, err, sizeof err) == 0);
    double bpt = (double)real.len / (double)(n - real.n);
    CHECK_MSG(bpt > (real_is_synthetic ? 2.5 : 3.0), "%.2f bytes per token", bpt);
    free(ids);
}

// encode_docs: BOS + ids per document; the same ids on 1 and 2 threads and as tokenizer_encode
static void test_encode_docs(void) {
    DocSet d;
    docset_init(&d);
    char *buf = xmalloc(5000);
    for (int i = 0; i < 400; i++) {       // small and large documents, some empty
        size_t len = i % 10 == 0 ? 0 : rnd() % 5000;
        gen_noise(buf, len);
        docset_add(&d, buf, len);
    }
    for (size_t i = 0; i < real.n && i < 30; i++) {
        size_t len;
        const char *s = docset_doc(&real, i, &len);
        docset_add(&d, s, len);
    }
    // ~100K distinct random words: more than the encoder's chunk cache holds
    for (int i = 0; i < 50; i++) {
        size_t n = 0;
        while (n < 4980) {
            buf[n++] = ' ';
            for (int k = rnd() % 7 + 3; k > 0; k--) buf[n++] = (char)('a' + rnd() % 26);
        }
        docset_add(&d, buf, n);
    }
    free(buf);
    uint16_t *a, *b;
    size_t na, nb;
    setenv("AUTORESEARCH_THREADS", "1", 1);
    CHECK(tokenizer_encode_docs(tok_noise, &d, &a, &na, 1, err, sizeof err) == 0);
    setenv("AUTORESEARCH_THREADS", "3", 1);
    CHECK(tokenizer_encode_docs(tok_noise, &d, &b, &nb, 1, err, sizeof err) == 0);
    unsetenv("AUTORESEARCH_THREADS");
    CHECK(na == nb && memcmp(a, b, na * sizeof(uint16_t)) == 0);
    // and the same as tokenizer_encode per document
    size_t k = 0;
    int bad = 0;
    int32_t *ids = xmalloc((d.len + 1) * sizeof(int32_t));
    for (size_t i = 0; i < d.n && !bad; i++) {
        size_t len;
        const char *s = docset_doc(&d, i, &len);
        long n = tokenizer_encode(tok_noise, s, len, ids, (long)len);
        if (n < 0 || k + 1 + (size_t)n > na || a[k] != tokenizer_bos(tok_noise)) { bad = 1; break; }
        k++;
        for (long j = 0; j < n; j++)
            if (a[k + (size_t)j] != ids[j]) bad = 1;
        k += (size_t)n;
    }
    CHECK(!bad && k == na);
    free(ids); free(a); free(b);
    // no documents: no ids
    DocSet e;
    docset_init(&e);
    CHECK(tokenizer_encode_docs(tok_noise, &e, &a, &na, 1, err, sizeof err) == 0 && na == 0);
    free(a);
    docset_free(&e);
    docset_free(&d);
}

static void test_save_load(void) {
    char *p1 = xasprintf("%s/v1.bin", tmp), *p2 = xasprintf("%s/v2.bin", tmp);
    CHECK(tokenizer_save(tok_real, p1, err, sizeof err) == 0);
    Tokenizer *t = tokenizer_load(p1, err, sizeof err);
    CHECK_MSG(t != NULL, "%s", err);
    if (t) {
        CHECK(tokenizer_vocab_size(t) == tokenizer_vocab_size(tok_real));
        int diff = 0;
        for (int i = 0; i < tokenizer_n_merges(t); i++) {
            int32_t a, b, c, d;
            tokenizer_merge(t, i, &a, &b);
            tokenizer_merge(tok_real, i, &c, &d);
            diff += a != c || b != d;
        }
        for (int i = 0; i < tokenizer_vocab_size(t); i++) diff += tokenizer_token_bytes(t, i) != tokenizer_token_bytes(tok_real, i);
        CHECK(diff == 0);
        size_t len;
        const char *s = docset_doc(real.n ? &real : &noise, 0, &len);   // without the corpus: noise
        int32_t *x = xmalloc(len * sizeof(int32_t)), *y = xmalloc(len * sizeof(int32_t));
        long nx = tokenizer_encode(t, s, len, x, (long)len), ny = tokenizer_encode(tok_real, s, len, y, (long)len);
        CHECK(nx == ny && nx > 0 && memcmp(x, y, (size_t)nx * sizeof(int32_t)) == 0);
        free(x); free(y);
        CHECK(tokenizer_save(t, p2, err, sizeof err) == 0);
        size_t n1, n2;
        char *f1 = read_file(p1, &n1), *f2 = read_file(p2, &n2);
        CHECK(f1 && f2 && n1 == n2 && memcmp(f1, f2, n1) == 0);
        CHECK(n1 == 8 + 16 + strlen(TOK_SPLIT_PATTERN) + 8 * (size_t)tokenizer_n_merges(t) + 4);
        CHECK(f1 && memcmp(f1, "ARBPE\0\0\1", 8) == 0);
        free(f1); free(f2);
        tokenizer_free(t);
    }
    free(p1); free(p2);
}

// Writes data to path, then checks tokenizer_load refuses it with an error naming the file
// and containing what.
static int load_fails(const char *path, const void *data, size_t len, const char *what) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, len, f);
    fclose(f);
    err[0] = 0;
    Tokenizer *t = tokenizer_load(path, err, sizeof err);
    if (t) { tokenizer_free(t); fprintf(stderr, "  loaded a bad file (%s)\n", what); return 0; }
    if (!strstr(err, path) || !strstr(err, what) || strchr(err, '\n')) {
        fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", err, what);
        return 0;
    }
    return 1;
}

static void test_load_rejects(void) {
    char *good = xasprintf("%s/good.bin", tmp), *bad = xasprintf("%s/bad.bin", tmp);
    CHECK(tokenizer_save(tok_noise, good, err, sizeof err) == 0);
    size_t n;
    uint8_t *f = (uint8_t *)read_file(good, &n);
    CHECK(f != NULL);
    if (!f) return;
    uint8_t *g = xmalloc(n);
    // truncated at every interesting length
    size_t cuts[] = {0, 4, 8, 20, 27, 30, 200, n / 2, n - 5, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        CHECK_MSG(load_fails(bad, f, cuts[i], cuts[i] < 8 ? "bad magic" : "truncated"), "cut at %zu", cuts[i]);
    // a flipped bit anywhere after the header: checksum
    size_t flips[] = {30, 100, n / 2, n - 9, n - 2};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        memcpy(g, f, n);
        g[flips[i]] ^= 0x10;
        CHECK_MSG(load_fails(bad, g, n, "checksum"), "flip at %zu", flips[i]);
    }
    memcpy(g, f, n); g[0] = 'X';
    CHECK(load_fails(bad, g, n, "bad magic"));
    memcpy(g, f, n); g[7] = 2;
    CHECK(load_fails(bad, g, n, "version"));
    memcpy(g, f, n); g[8] ^= 1;    // vocab size no longer matches n_merges
    CHECK(load_fails(bad, g, n, "inconsistent sizes"));
    // a file with a valid checksum but a merge that refers to a token not yet made
    memcpy(g, f, n);
    size_t m0 = 24 + strlen(TOK_SPLIT_PATTERN);
    g[m0 + 8 * 5] = 0xff; g[m0 + 8 * 5 + 1] = 0x7f;   // merge 5: left = 0x7fff
    uint32_t c = (uint32_t)crc32(0, g, (uInt)(n - 4));
    for (int i = 0; i < 4; i++) g[n - 4 + i] = (uint8_t)(c >> (8 * i));
    CHECK(load_fails(bad, g, n, "merge 5"));
    // extra bytes at the end
    uint8_t *h = xmalloc(n + 3);
    memcpy(h, f, n); memset(h + n, 0, 3);
    CHECK(load_fails(bad, h, n + 3, "wrong size"));
    free(h);
    // a missing file
    char *missing = xasprintf("%s/none.bin", tmp);
    CHECK(tokenizer_load(missing, err, sizeof err) == NULL && strstr(err, missing));
    free(missing);
    // the good file still loads
    Tokenizer *t = tokenizer_load(good, err, sizeof err);
    CHECK(t != NULL);
    tokenizer_free(t);
    free(f); free(g); free(good); free(bad);
}

// Same documents -> byte-identical vocabulary files, whatever the thread count.
static void test_determinism(void) {
    DocSet d;
    docset_init(&d);
    for (size_t i = 0; i < real.n && d.len < 400000; i++) {
        size_t len;
        const char *s = docset_doc(&real, i, &len);
        docset_add(&d, s, len);
    }
    char *p[3];
    for (int k = 0; k < 3; k++) {
        setenv("AUTORESEARCH_THREADS", k == 0 ? "1" : k == 1 ? "2" : "4", 1);
        Tokenizer *t = tokenizer_train(&d, 700, 1, err, sizeof err);
        CHECK_MSG(t != NULL, "%s", err);
        p[k] = xasprintf("%s/det%d.bin", tmp, k);
        if (t) CHECK(tokenizer_save(t, p[k], err, sizeof err) == 0);
        tokenizer_free(t);
    }
    unsetenv("AUTORESEARCH_THREADS");
    char h[3][65];
    for (int k = 0; k < 3; k++) {
        if (sha256_file_hex(p[k], h[k]) != 0) strcpy(h[k], "missing");
        free(p[k]);
    }
    CHECK(strcmp(h[0], "missing") != 0 && strcmp(h[0], h[1]) == 0 && strcmp(h[0], h[2]) == 0);
    docset_free(&d);
}

int main(void) {
    tmp = tl_tmpdir();
    int ec;
    PCRE2_SIZE eo;
    ref_re = pcre2_compile((PCRE2_SPTR)TOK_SPLIT_PATTERN, PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
    if (!ref_re) { fprintf(stderr, "pattern does not compile\n"); return 2; }
    ref_md = pcre2_match_data_create_from_pattern(ref_re, NULL);

    // fixtures: real text (the corpus beside the checkout, or, in a bare clone, the synthetic
    // source's English documents) and noise
    docset_init(&real);
    read_jsonl_gz("../shared/data/sotu.jsonl.gz", 1500000, &real);
    if (!real.n) {
        real_is_synthetic = 1;
        fprintf(stderr, "  ../shared/data/sotu.jsonl.gz not found: 'real' text is the synthetic source's\n");
        for (uint64_t seed = 1; real.len < 1500000; seed++) synth_generate(SYNTH_VERSION_DEFAULT, seed, 100, &real, NULL);
    }
    docset_init(&noise);
    char *buf = xmalloc(20000);
    for (int i = 0; i < 30; i++) {
        gen_noise(buf, 20000);
        docset_add(&noise, buf, 20000);
    }
    for (size_t i = 0; i < real.n && i < 10; i++) {
        size_t len;
        const char *s = docset_doc(&real, i, &len);
        docset_add(&noise, s, len);
    }
    free(buf);
    DocSet *base = real.n ? &real : &noise;
    tok_real = tokenizer_train(base, 1024, 1, err, sizeof err);
    if (!tok_real) { fprintf(stderr, "training failed: %s\n", err); return 2; }
    tok_noise = tokenizer_train(&noise, 600, 1, err, sizeof err);
    if (!tok_noise) { fprintf(stderr, "training failed: %s\n", err); return 2; }

    RUN_TEST(test_split_pattern);
    RUN_TEST(test_train_tiny);
    RUN_TEST(test_api_edges);
    RUN_TEST(test_roundtrip_random);
    RUN_TEST(test_roundtrip_real);
    RUN_TEST(test_encode_docs);
    RUN_TEST(test_save_load);
    RUN_TEST(test_load_rejects);
    RUN_TEST(test_determinism);

    tokenizer_free(tok_real);
    tokenizer_free(tok_noise);
    docset_free(&real);
    docset_free(&noise);
    pcre2_match_data_free(ref_md);
    pcre2_code_free(ref_re);
    remove_tree(tmp);
    free(tmp);
    TEST_MAIN_END("test_tokenizer");
}

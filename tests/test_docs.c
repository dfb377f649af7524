// test_docs.c -- DocSet and the .txt / .jsonl / .gz readers.
#include "docs.h"
#include "testlib.h"
#include "util.h"

#include <zlib.h>

static char *tmp;
static char err[512];

static char *put(const char *name, const void *data, size_t len) {
    char *path = xasprintf("%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) { perror(path); exit(2); }
    return path;
}

static char *put_gz(const char *name, const void *data, size_t len) {
    char *path = xasprintf("%s/%s", tmp, name);
    gzFile g = gzopen(path, "wb");
    if (!g || (len && gzwrite(g, data, (unsigned)len) != (int)len) || gzclose(g) != Z_OK) {
        perror(path);
        exit(2);
    }
    return path;
}

static int doc_is(const DocSet *d, size_t i, const char *want, size_t wlen) {
    if (i >= d->n) return 0;
    size_t len;
    const char *s = docset_doc(d, i, &len);
    return len == wlen && memcmp(s, want, len) == 0;
}
#define DOC_IS(d, i, str) doc_is(d, i, str, sizeof(str) - 1)

// Reads one file into a fresh DocSet; returns read_docs_file's result.
static int load(const char *path, TxtSplit split, DocSet *d, TxtSplit *used) {
    docset_init(d);
    err[0] = 0;
    return read_docs_file(path, split, d, used, err, sizeof err);
}

static void test_docset(void) {
    DocSet d;
    docset_init(&d);
    CHECK(d.n == 0 && d.off[0] == 0);
    char big[5000];
    for (int i = 0; i < 1000; i++) {
        int len = i % 7 == 0 ? 0 : i * 5 % 5000;
        memset(big, 'a' + i % 26, (size_t)len);
        docset_add(&d, big, (size_t)len);
    }
    CHECK(d.n == 1000);
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        size_t len;
        const char *s = docset_doc(&d, (size_t)i, &len);
        size_t want = i % 7 == 0 ? 0 : (size_t)(i * 5 % 5000);
        if (len != want || (len && (s[0] != 'a' + i % 26 || s[len - 1] != 'a' + i % 26))) bad++;
    }
    CHECK(bad == 0);
    docset_free(&d);
}

static void test_txt_endoftext(void) {
    const char s[] = "Once there was a cat.\nIt sat.\n<|endoftext|>\nTom ran.\n\nHe fell.\r\n<|endoftext|>"
                     "\n\n<|endoftext|>  \n<|endoftext|>Last one<|endoftext|>";
    char *p = put("eot.txt", s, sizeof s - 1);
    DocSet d;
    TxtSplit used = TXT_SPLIT_AUTO;
    CHECK(load(p, TXT_SPLIT_AUTO, &d, &used) == 0);
    CHECK(used == TXT_SPLIT_ENDOFTEXT);
    CHECK(d.n == 3);
    CHECK(DOC_IS(&d, 0, "Once there was a cat.\nIt sat."));
    CHECK(DOC_IS(&d, 1, "Tom ran.\n\nHe fell."));   // blank lines inside a story stay
    CHECK(DOC_IS(&d, 2, "Last one"));
    docset_free(&d);
    // Forcing blank-line splitting on the same file treats the marker as text.
    CHECK(load(p, TXT_SPLIT_BLANKLINES, &d, &used) == 0);
    CHECK(used == TXT_SPLIT_BLANKLINES);
    CHECK(d.n == 3);
    CHECK(DOC_IS(&d, 0, "Once there was a cat.\nIt sat.\n<|endoftext|>\nTom ran."));
    docset_free(&d);
    free(p);
}

static void test_txt_blanklines(void) {
    const char s[] = "\n\nFirst para\nline two\n\n\n  Second para  \r\n\r\n \t\r\nThird\r\nend\r\n";
    char *p = put("para.txt", s, sizeof s - 1);
    DocSet d;
    TxtSplit used = TXT_SPLIT_AUTO;
    CHECK(load(p, TXT_SPLIT_AUTO, &d, &used) == 0);
    CHECK(used == TXT_SPLIT_BLANKLINES);
    CHECK(d.n == 3);
    CHECK(DOC_IS(&d, 0, "First para\nline two"));
    CHECK(DOC_IS(&d, 1, "  Second para  "));
    CHECK(DOC_IS(&d, 2, "Third\r\nend"));
    docset_free(&d);
    // No final newline, a single document.
    char *p2 = put("one.txt", "just one", 8);
    CHECK(load(p2, TXT_SPLIT_AUTO, &d, &used) == 0);
    CHECK(d.n == 1 && DOC_IS(&d, 0, "just one"));
    docset_free(&d);
    free(p);
    free(p2);
}

static void test_txt_bytes_kept(void) {
    // NUL bytes and invalid UTF-8 come through unchanged.
    const char s[] = "a\0b\xff\xfe\xc3(\x80z\n\nsecond\0";
    char *p = put("bin.txt", s, sizeof s - 1);
    DocSet d;
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == 0);
    CHECK(d.n == 2);
    CHECK(doc_is(&d, 0, "a\0b\xff\xfe\xc3(\x80z", 9));
    CHECK(doc_is(&d, 1, "second\0", 7));
    docset_free(&d);
    free(p);
}

static void test_jsonl(void) {
    const char s[] =
        "{\"text\": \"plain\"}\n"
        "\n"
        "  {\"id\": 7, \"meta\": {\"a\": [1, -2.5e+3, true, false, null, \"x\\\"}\"]}, \"text\": \"tab\\there\"}\r\n"
        "{\"text\":\"esc \\\" \\\\ \\/ \\b\\f\\n\\r\\t end\"}\n"
        "{\"text\": \"\\u00e9\\u4e2d caf\xc3\xa9 \\ud83d\\ude00\", \"more\": \"\\u0041\"}\n"
        "{\"text\": \"lone \\ud800 x \\udc00 y \\ud800\\u0041\"}\n"
        "{\"text\": \"nul \\u0000 byte\"}\n"
        "{\"text\": \"\"}\n"
        "{\"text\": \"first\", \"text2\": {\"text\": \"nested, ignored\"}}";
    char *p = put("a.jsonl", s, sizeof s - 1);
    DocSet d;
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == 0);
    CHECK_MSG(d.n == 7, "n=%zu err=%s", d.n, err);
    CHECK(DOC_IS(&d, 0, "plain"));
    CHECK(DOC_IS(&d, 1, "tab\there"));
    CHECK(DOC_IS(&d, 2, "esc \" \\ / \b\f\n\r\t end"));
    CHECK(DOC_IS(&d, 3, "\xc3\xa9\xe4\xb8\xad caf\xc3\xa9 \xf0\x9f\x98\x80"));
    // Lone surrogates become U+FFFD (EF BF BD); a high one followed by a non-low escape too.
    CHECK(DOC_IS(&d, 4, "lone \xef\xbf\xbd x \xef\xbf\xbd y \xef\xbf\xbd" "A"));
    CHECK(doc_is(&d, 5, "nul \0 byte", 10));
    CHECK(DOC_IS(&d, 6, "first"));
    docset_free(&d);
    free(p);
}

static void test_gz(void) {
    const char t[] = "one<|endoftext|>two";
    const char j[] = "{\"text\": \"alpha\"}\n{\"text\": \"beta\"}\n";
    char *pt = put_gz("t.txt.gz", t, sizeof t - 1), *pj = put_gz("j.jsonl.gz", j, sizeof j - 1);
    DocSet d;
    TxtSplit used;
    CHECK(load(pt, TXT_SPLIT_AUTO, &d, &used) == 0);
    CHECK(used == TXT_SPLIT_ENDOFTEXT && d.n == 2 && DOC_IS(&d, 0, "one") && DOC_IS(&d, 1, "two"));
    // Appending a second file to the same set.
    CHECK(read_docs_file(pj, TXT_SPLIT_AUTO, &d, NULL, err, sizeof err) == 0);
    CHECK(d.n == 4 && DOC_IS(&d, 2, "alpha") && DOC_IS(&d, 3, "beta"));
    docset_free(&d);
    // read_maybe_gz on a compressible 3 MB payload (many inflate rounds), and a multi-member gzip.
    size_t n = 3 << 20;
    char *big = xmalloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (char)("abcdefgh\n"[i % 9] ^ (i % 1000 == 0));
    char *pb = put_gz("big.txt.gz", big, n);
    size_t got;
    char *back = read_maybe_gz(pb, &got, err, sizeof err);
    CHECK(back && got == n && memcmp(back, big, n) == 0);
    free(back);
    size_t za, zb;
    char *a = read_file(pt, &za), *b = read_file(pj, &zb);
    char *cat = xmalloc(za + zb);
    memcpy(cat, a, za);
    memcpy(cat + za, b, zb);
    char *pc = put("cat.txt.gz", cat, za + zb);
    back = read_maybe_gz(pc, &got, err, sizeof err);
    CHECK(back && got == sizeof t - 1 + sizeof j - 1 && memcmp(back + sizeof t - 1, j, sizeof j - 1) == 0);
    free(back); free(a); free(b); free(cat); free(big);
    free(pt); free(pj); free(pb); free(pc);
}

static void test_bad_inputs(void) {
    DocSet d;
    char *p;
    // Empty file, whitespace-only file, empty gzip member.
    p = put("empty.txt", "", 0);
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == -1);
    CHECK(strstr(err, p) && strstr(err, "no documents"));
    docset_free(&d); free(p);
    p = put("ws.jsonl", "\n  \n", 4);
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == -1 && strstr(err, "no documents"));
    docset_free(&d); free(p);
    p = put_gz("empty.txt.gz", "", 0);
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == -1 && strstr(err, "no documents"));
    docset_free(&d); free(p);

    // Malformed JSON: the error names file and line, and the set is left as it was.
    const char *bad[] = {
        "{\"text\": \"ok\"}\n\n{\"text\": \"unterminated}\n",
        "{\"text\": \"ok\"}\n\n{\"text\": \"x\"} trailing\n",
        "{\"text\": \"ok\"}\n\n{\"text\": \"bad \\q escape\"}\n",
        "{\"text\": \"ok\"}\n\n{\"text\": \"\\u12G4\"}\n",
        "{\"text\": \"ok\"}\n\n{\"a\": 01, \"text\": \"x\"}\n",
        "{\"text\": \"ok\"}\n\n[\"text\", \"x\"]\n",
        "{\"text\": \"ok\"}\n\n{\"text\": \"raw\ttab\"}\n",
        "{\"text\": \"ok\"}\n\n{\"a\": [1, 2,], \"text\": \"x\"}\n",
        "{\"text\": \"ok\"}\n\n{\"text\": 5}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        p = put("bad.jsonl", bad[i], strlen(bad[i]));
        docset_init(&d);
        docset_add(&d, "keep", 4);
        int rc = read_docs_file(p, TXT_SPLIT_AUTO, &d, NULL, err, sizeof err);
        char *want = xasprintf("%s:3: malformed JSON: ", p);
        CHECK_MSG(rc == -1 && strstr(err, want) && !strchr(err, '\n'), "case %zu: %s", i, err);
        CHECK(d.n == 1 && d.len == 4);
        free(want); docset_free(&d); free(p);
    }
    // Missing "text" field (or only a nested one).
    const char nt[] = "{\"text\": \"a\"}\n{\"body\": \"a\", \"x\": {\"text\": \"b\"}}\n";
    p = put("notext.jsonl", nt, sizeof nt - 1);
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == -1);
    char *want = xasprintf("%s:2: ", p);
    CHECK_MSG(strstr(err, want) && strstr(err, "\"text\""), "%s", err);
    free(want); docset_free(&d); free(p);
    // Deep nesting is an error, not a stack overflow.
    size_t deep = 100000;
    char *dj = xmalloc(2 * deep + 32);
    size_t k = (size_t)sprintf(dj, "{\"x\": ");
    memset(dj + k, '[', deep);
    memset(dj + k + deep, ']', deep);
    k += 2 * deep;
    k += (size_t)sprintf(dj + k, ", \"text\": \"a\"}\n");
    p = put("deep.jsonl", dj, k);
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == -1 && strstr(err, ":1: malformed JSON"));
    docset_free(&d); free(p); free(dj);

    // Truncated and corrupt gzip.
    char text[20000];
    for (size_t i = 0; i < sizeof text; i++) text[i] = (char)('a' + (i * 7919 % 26));
    char *pg = put_gz("full.txt.gz", text, sizeof text);
    size_t zn;
    char *z = read_file(pg, &zn);
    p = put("cut.txt.gz", z, zn / 2);
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == -1);
    CHECK_MSG(strstr(err, p) && strstr(err, "truncated gzip"), "%s", err);
    docset_free(&d); free(p);
    p = put("cut2.txt.gz", z, zn - 4);   // only the trailer's length field missing
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == -1 && strstr(err, "truncated gzip"));
    docset_free(&d); free(p);
    z[zn / 2] ^= 0x55;
    z[zn / 2 + 1] ^= 0x55;
    p = put("corrupt.txt.gz", z, zn);
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == -1);
    CHECK_MSG(strstr(err, p) && strstr(err, "gzip"), "%s", err);
    docset_free(&d); free(p);
    p = put("notgz.txt.gz", "plain text", 10);
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == -1 && strstr(err, "corrupt gzip"));
    docset_free(&d); free(p);
    free(z); free(pg);

    // Nonexistent file, unknown extension.
    p = xasprintf("%s/missing.txt", tmp);
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == -1 && strstr(err, p) && strstr(err, "No such file"));
    docset_free(&d); free(p);
    p = put("x.csv", "a,b", 3);
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == -1 && strstr(err, "unknown file type"));
    docset_free(&d); free(p);
}

// One big document (no separators): must be linear time. 50 MB; under ASan this takes a
// couple of seconds.
static void test_big_doc(void) {
    size_t n = 50u << 20;
    char *s = xmalloc(n + 64);
    for (size_t i = 0; i < n; i++) s[i] = (char)("lorem ipsum dolor sit amet "[i % 27]);
    s[n / 3] = '\n';   // single line breaks are not separators
    char *p = put("big.txt", s, n);
    DocSet d;
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == 0);
    CHECK(d.n == 1 && d.len == n && memcmp(d.data, s, n) == 0);
    docset_free(&d);
    remove(p); free(p);
    // The same as one JSONL line, escapes included.
    memcpy(s, "{\"text\": \"", 10);
    for (size_t i = 10; i < n; i++) s[i] = i % 1000 == 0 ? 'n' : i % 1000 == 999 ? '\\' : 'x';
    memcpy(s + n, "\"}\n", 3);
    p = put("big.jsonl", s, n + 3);
    CHECK(load(p, TXT_SPLIT_AUTO, &d, NULL) == 0);
    CHECK(d.n == 1 && d.len == n - 10 - (n - 10) / 1000);
    docset_free(&d);
    remove(p); free(p);
    free(s);
}

int main(void) {
    tmp = tl_tmpdir();
    RUN_TEST(test_docset);
    RUN_TEST(test_txt_endoftext);
    RUN_TEST(test_txt_blanklines);
    RUN_TEST(test_txt_bytes_kept);
    RUN_TEST(test_jsonl);
    RUN_TEST(test_gz);
    RUN_TEST(test_bad_inputs);
    RUN_TEST(test_big_doc);
    remove_tree(tmp);
    free(tmp);
    TEST_MAIN_END("test_docs");
}

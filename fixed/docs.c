// docs.c -- document sets, and the readers of local .txt / .jsonl files (optionally gzipped):
// whole files, gunzipped, plain text cut into documents; the .jsonl parser is docs_jsonl.c.
#include "docs.h"
#include "docs_impl.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

// ----------------------------------------------------------------------------
// DocSet

void docset_init(DocSet *d) {
    memset(d, 0, sizeof *d);
    d->ncap = 16;
    d->off = xmalloc(d->ncap * sizeof *d->off);
    d->off[0] = 0;
}

void docset_add(DocSet *d, const char *text, size_t len) {
    if (d->len + len > d->cap) {
        size_t cap = d->cap ? d->cap : 1 << 16;
        while (cap < d->len + len) cap *= 2;
        d->data = xrealloc(d->data, cap);
        d->cap = cap;
    }
    if (d->n + 2 > d->ncap) {
        d->ncap *= 2;
        d->off = xrealloc(d->off, d->ncap * sizeof *d->off);
    }
    if (len) memcpy(d->data + d->len, text, len);
    d->len += len;
    d->off[++d->n] = d->len;
}

void docset_free(DocSet *d) {
    free(d->data);
    free(d->off);
    memset(d, 0, sizeof *d);
}

// ----------------------------------------------------------------------------
// Whole-file reading, with gunzip

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

// Inflates every gzip member of the file (gzip -c a b > c makes multi-member files). Unlike
// gzread, running out of input before a member's end is an error, never a short read.
static char *gunzip_file(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno)); return NULL; }
    enum { CHUNK = 1 << 18 };
    unsigned char *in = xmalloc(CHUNK);
    size_t cap = 1 << 20, n = 0;
    char *out = xmalloc(cap);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK) die("zlib: inflateInit2 failed");
    int rc = Z_OK, in_member = 0, ok = 0, out_full = 0;
    const char *why = NULL;
    for (;;) {
        // A full output buffer may hide pending output even when all input is consumed.
        if (zs.avail_in == 0 && !out_full) {
            size_t got = fread(in, 1, CHUNK, f);
            if (got == 0) {
                if (ferror(f)) { snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno)); goto done; }
                if (in_member) why = "truncated gzip";
                else if (n == 0 && ftell(f) == 0) why = "empty gzip file";
                else ok = 1;
                break;
            }
            zs.next_in = in;
            zs.avail_in = (uInt)got;
        }
        if (n + 1 >= cap) out = xrealloc(out, cap *= 2);
        zs.next_out = (unsigned char *)out + n;
        zs.avail_out = (uInt)((cap - n - 1) > (1u << 30) ? (1u << 30) : (cap - n - 1));
        uInt before = zs.avail_out;
        in_member = 1;
        rc = inflate(&zs, Z_NO_FLUSH);
        n += before - zs.avail_out;
        out_full = zs.avail_out == 0;
        if (rc == Z_STREAM_END) {
            in_member = 0;
            inflateReset(&zs);
        } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
            why = zs.msg ? zs.msg : "corrupt data";
            break;
        } else if (rc == Z_MEM_ERROR) {
            die("zlib: out of memory");
        }
        // Z_BUF_ERROR: no progress possible with the current buffers; the loop refills them.
    }
    if (why) snprintf(err, errlen, "%s: %s%s", path,
                      strcmp(why, "truncated gzip") == 0 || strcmp(why, "empty gzip file") == 0
                          ? "" : "corrupt gzip: ", why);
done:
    inflateEnd(&zs);
    fclose(f);
    free(in);
    if (!ok) { free(out); return NULL; }
    out[n] = 0;
    *len = n;
    return out;
}

char *read_maybe_gz(const char *path, size_t *len, char *err, size_t errlen) {
    if (ends_with(path, ".gz")) return gunzip_file(path, len, err, errlen);
    char *buf = read_file(path, len);
    if (!buf) snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return buf;
}

// ----------------------------------------------------------------------------
// Plain text: documents separated by <|endoftext|> or by blank lines

static const char EOT[] = "<|endoftext|>";

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Adds s[0..n) minus the line breaks next to its separators; whitespace-only pieces are dropped.
static void add_trimmed(DocSet *d, const char *s, size_t n) {
    while (n && (*s == '\n' || *s == '\r')) s++, n--;
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    size_t i = 0;
    while (i < n && is_blank(s[i])) i++;
    if (i < n) docset_add(d, s, n);
}

static void split_endoftext(DocSet *d, const char *s, size_t n) {
    size_t m = sizeof EOT - 1;
    for (;;) {
        const char *e = memmem(s, n, EOT, m);
        size_t k = e ? (size_t)(e - s) : n;
        add_trimmed(d, s, k);
        if (!e) break;
        s += k + m;
        n -= k + m;
    }
}

// A blank line is empty or holds only spaces, tabs and \r; a document is a maximal run of
// non-blank lines, its last line break excluded.
static void split_blanklines(DocSet *d, const char *s, size_t n) {
    size_t i = 0, start = 0, end = 0;   // current document: s[start..end)
    int in_doc = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t eol = nl ? (size_t)(nl - s) : n;   // line is s[i..eol)
        size_t j = i;
        while (j < eol && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r')) j++;
        if (j == eol) {                              // blank line closes a document
            if (in_doc) add_trimmed(d, s + start, end - start);
            in_doc = 0;
        } else {
            if (!in_doc) start = i;
            in_doc = 1;
            end = eol;
        }
        i = eol + 1;
    }
    if (in_doc) add_trimmed(d, s + start, end - start);
}

// ----------------------------------------------------------------------------
// Entry point

int read_docs_file(const char *path, TxtSplit split, DocSet *out, TxtSplit *split_used,
                   char *err, size_t errlen) {
    char *base = xstrdup(path);
    if (ends_with(base, ".gz")) base[strlen(base) - 3] = 0;
    int jsonl = ends_with(base, ".jsonl"), txt = ends_with(base, ".txt");
    free(base);
    if (!jsonl && !txt) {
        snprintf(err, errlen, "%s: unknown file type (expected .txt or .jsonl, optionally .gz)", path);
        return -1;
    }
    size_t n;
    char *s = read_maybe_gz(path, &n, err, errlen);
    if (!s) return -1;
    size_t n0 = out->n, len0 = out->len;
    int rc = 0;
    if (jsonl) {
        if (split_used) *split_used = TXT_SPLIT_AUTO;
        rc = read_jsonl(path, s, n, out, err, errlen);
    } else {
        if (split == TXT_SPLIT_AUTO)
            split = memmem(s, n, EOT, sizeof EOT - 1) ? TXT_SPLIT_ENDOFTEXT : TXT_SPLIT_BLANKLINES;
        if (split_used) *split_used = split;
        if (split == TXT_SPLIT_ENDOFTEXT) split_endoftext(out, s, n);
        else split_blanklines(out, s, n);
    }
    free(s);
    if (rc == 0 && out->n == n0) {
        snprintf(err, errlen, "%s: no documents", path);
        rc = -1;
    }
    if (rc) { out->n = n0; out->len = len0; }   // all or nothing
    return rc;
}

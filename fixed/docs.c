// docs.c -- document sets, and the readers of local .txt / .jsonl files (optionally gzipped).
#include "docs.h"
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
// JSON Lines: a small, strict JSON parser that only keeps the "text" string

typedef struct {
    const char *p, *end;
    const char *why;           // first error
    char *buf; size_t len, cap; // decoded string
} Json;

static void jbuf_put(Json *j, const char *s, size_t n) {
    if (j->len + n > j->cap) {
        size_t cap = j->cap ? j->cap : 256;
        while (cap < j->len + n) cap *= 2;
        j->buf = xrealloc(j->buf, cap);
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
}

static void jbuf_utf8(Json *j, uint32_t c) {
    char u[4];
    size_t n;
    if (c < 0x80) { u[0] = (char)c; n = 1; }
    else if (c < 0x800) { u[0] = (char)(0xC0 | c >> 6); u[1] = (char)(0x80 | (c & 0x3F)); n = 2; }
    else if (c < 0x10000) {
        u[0] = (char)(0xE0 | c >> 12); u[1] = (char)(0x80 | (c >> 6 & 0x3F));
        u[2] = (char)(0x80 | (c & 0x3F)); n = 3;
    } else {
        u[0] = (char)(0xF0 | c >> 18); u[1] = (char)(0x80 | (c >> 12 & 0x3F));
        u[2] = (char)(0x80 | (c >> 6 & 0x3F)); u[3] = (char)(0x80 | (c & 0x3F)); n = 4;
    }
    jbuf_put(j, u, n);
}

static int jfail(Json *j, const char *why) {
    if (!j->why) j->why = why;
    return -1;
}

static void jws(Json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n')) j->p++;
}

static int jhex4(Json *j, uint32_t *v) {
    if (j->end - j->p < 4) return jfail(j, "truncated \\u escape");
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        char c = j->p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return jfail(j, "bad \\u escape");
        x = x << 4 | (uint32_t)d;
    }
    j->p += 4;
    *v = x;
    return 0;
}

// Parses a string at j->p (which is '"'); decodes it into j->buf if keep. Raw bytes >= 0x80
// are copied as they are (invalid UTF-8 included). A lone surrogate escape becomes U+FFFD.
static int jstring(Json *j, int keep) {
    j->p++;
    if (keep) j->len = 0;
    for (;;) {
        const char *s = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20) j->p++;
        if (keep) jbuf_put(j, s, (size_t)(j->p - s));
        if (j->p >= j->end) return jfail(j, "unterminated string");
        char c = *j->p++;
        if (c == '"') return 0;
        if (c != '\\') return jfail(j, "control character in string");
        if (j->p >= j->end) return jfail(j, "unterminated string");
        char e = *j->p++, out;
        switch (e) {
        case '"': out = '"'; break;
        case '\\': out = '\\'; break;
        case '/': out = '/'; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        case 'u': {
            uint32_t u;
            if (jhex4(j, &u)) return -1;
            if (u >= 0xD800 && u < 0xDC00) {          // high surrogate: a low one should follow
                uint32_t lo;
                if (j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
                    const char *save = j->p;
                    j->p += 2;
                    if (jhex4(j, &lo)) return -1;
                    if (lo >= 0xDC00 && lo < 0xE000) u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                    else { u = 0xFFFD; j->p = save; }  // the next escape is parsed on its own
                } else u = 0xFFFD;
            } else if (u >= 0xDC00 && u < 0xE000) u = 0xFFFD;
            if (keep) jbuf_utf8(j, u);
            continue;
        }
        default: return jfail(j, "bad escape in string");
        }
        if (keep) jbuf_put(j, &out, 1);
    }
}

const char *json_string_decode(const char *s, const char *end, char **out, size_t *len, const char **why) {
    Json j = {.p = s, .end = end, .buf = xmalloc(64), .cap = 64};
    if (s < end && *s == '"' && jstring(&j, 1) == 0) {
        jbuf_put(&j, "", 1);
        *out = j.buf;
        if (len) *len = j.len - 1;
        return j.p;
    }
    free(j.buf);
    *out = NULL;
    if (why) *why = j.why ? j.why : "not a string";
    return NULL;
}

static int jvalue(Json *j, int depth);

static int jnumber(Json *j) {
    const char *p = j->p, *e = j->end;
    if (p < e && *p == '-') p++;
    if (p < e && *p == '0') p++;
    else if (p < e && *p >= '1' && *p <= '9') while (p < e && *p >= '0' && *p <= '9') p++;
    else return jfail(j, "bad number");
    if (p < e && *p == '.') {
        p++;
        if (!(p < e && *p >= '0' && *p <= '9')) return jfail(j, "bad number");
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (!(p < e && *p >= '0' && *p <= '9')) return jfail(j, "bad number");
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    j->p = p;
    return 0;
}

static int jword(Json *j, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0) return jfail(j, "unexpected character");
    j->p += n;
    return 0;
}

// Parses an object's members; for the top level (text != NULL) the decoded "text" string
// is left in j->buf and *text set to 1.
static int jobject(Json *j, int depth, int *text) {
    j->p++;
    jws(j);
    if (j->p < j->end && *j->p == '}') { j->p++; return 0; }
    for (;;) {
        jws(j);
        if (j->p >= j->end || *j->p != '"') return jfail(j, "expected a member name");
        if (jstring(j, text != NULL)) return -1;
        int is_text = text && j->len == 4 && memcmp(j->buf, "text", 4) == 0;
        jws(j);
        if (j->p >= j->end || *j->p != ':') return jfail(j, "expected ':'");
        j->p++;
        jws(j);
        if (is_text) {
            if (j->p >= j->end || *j->p != '"') return jfail(j, "\"text\" is not a string");
            if (jstring(j, 1)) return -1;
            // Later members must not overwrite the kept text: parse them with keep off.
            *text = 1;
            text = NULL;
        } else if (jvalue(j, depth + 1)) return -1;
        jws(j);
        if (j->p >= j->end) return jfail(j, "unterminated object");
        if (*j->p == '}') { j->p++; return 0; }
        if (*j->p != ',') return jfail(j, "expected ',' or '}'");
        j->p++;
    }
}

static int jvalue(Json *j, int depth) {
    if (depth > 512) return jfail(j, "nesting too deep");
    jws(j);
    if (j->p >= j->end) return jfail(j, "unexpected end of line");
    switch (*j->p) {
    case '"': return jstring(j, 0);
    case '{': return jobject(j, depth, NULL);
    case '[':
        j->p++;
        jws(j);
        if (j->p < j->end && *j->p == ']') { j->p++; return 0; }
        for (;;) {
            if (jvalue(j, depth + 1)) return -1;
            jws(j);
            if (j->p >= j->end) return jfail(j, "unterminated array");
            if (*j->p == ']') { j->p++; return 0; }
            if (*j->p != ',') return jfail(j, "expected ',' or ']'");
            j->p++;
        }
    case 't': return jword(j, "true");
    case 'f': return jword(j, "false");
    case 'n': return jword(j, "null");
    default: return jnumber(j);
    }
}

static int read_jsonl(const char *path, const char *s, size_t n, DocSet *d, char *err, size_t errlen) {
    Json j;
    memset(&j, 0, sizeof j);
    size_t i = 0, line = 0;
    int rc = 0;
    while (i < n) {
        line++;
        const char *nl = memchr(s + i, '\n', n - i);
        size_t eol = nl ? (size_t)(nl - s) : n;
        const char *ls = s + i;
        j.p = ls;
        j.end = s + eol;
        j.why = NULL;
        i = eol + 1;
        jws(&j);
        if (j.p == j.end) continue;   // blank line
        int has_text = 0;
        if (*j.p != '{') jfail(&j, "not an object");
        else if (jobject(&j, 0, &has_text) == 0) {
            jws(&j);
            if (j.p != j.end) jfail(&j, "trailing characters after the object");
        }
        if (j.why) {
            snprintf(err, errlen, "%s:%zu: malformed JSON: %s (column %zu)", path, line, j.why,
                     (size_t)(j.p - ls) + 1);
            rc = -1;
            break;
        }
        if (!has_text) {
            snprintf(err, errlen, "%s:%zu: no \"text\" string field", path, line);
            rc = -1;
            break;
        }
        if (j.len) docset_add(d, j.buf, j.len);
    }
    free(j.buf);
    return rc;
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

// docs_jsonl.c -- the .jsonl reader (docs.h): one JSON object per line, parsed strictly, of
// which only the "text" string is kept; and json_string_decode, the same string decoding for
// other callers. docs.c reads the file (gunzipping it) and dispatches by format.
#include "docs.h"
#include "docs_impl.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int read_jsonl(const char *path, const char *s, size_t n, DocSet *d, char *err, size_t errlen) {
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

// ledger.c -- flat JSON records, results.jsonl and results.tsv.
#include "docs.h"
#include "harness.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// Records

static Field *rec_slot(Record *r, const char *key) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->f[i].key, key)) { free(r->f[i].val); return &r->f[i]; }
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->f = xrealloc(r->f, (size_t)r->cap * sizeof *r->f);
    }
    Field *f = &r->f[r->n++];
    f->key = xstrdup(key);
    return f;
}

void rec_set_str(Record *r, const char *key, const char *val) {
    Field *f = rec_slot(r, key);
    f->val = xstrdup(val ? val : "");
    f->is_str = 1;
}

void rec_set_raw(Record *r, const char *key, const char *literal) {
    Field *f = rec_slot(r, key);
    f->val = xstrdup(literal);
    f->is_str = 0;
}

void rec_set_fmt(Record *r, const char *key, const char *fmt, double v) {
    if (!isfinite(v)) { rec_set_raw(r, key, "null"); return; }
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    rec_set_raw(r, key, buf);
}

void rec_set_num(Record *r, const char *key, double v) {
    if (!isfinite(v)) { rec_set_raw(r, key, "null"); return; }
    // shortest of %.6g..%.17g that reads back exactly
    char buf[64];
    for (int p = 6; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    rec_set_raw(r, key, buf);
}

const char *rec_get(const Record *r, const char *key) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->f[i].key, key))
            return (!r->f[i].is_str && !strcmp(r->f[i].val, "null")) ? NULL : r->f[i].val;
    return NULL;
}

double rec_num(const Record *r, const char *key, double dflt) {
    const char *v = rec_get(r, key);
    if (!v || !*v) return dflt;
    char *end;
    double d = strtod(v, &end);
    return *end ? dflt : d;
}

void rec_free(Record *r) {
    for (int i = 0; i < r->n; i++) { free(r->f[i].key); free(r->f[i].val); }
    free(r->f);
    memset(r, 0, sizeof *r);
}

typedef struct { char *s; size_t n, cap; } Buf;
static void buf_put(Buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}
static void buf_puts(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

// Length of the valid UTF-8 sequence at p, or 0.
static int utf8_len(const unsigned char *p) {
    int n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return n;
}

// Quotes s as a JSON string; bytes that are not UTF-8 (a model's sample text) become U+FFFD.
static void json_quote(Buf *b, const char *s) {
    buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        int n = utf8_len(p);
        if (n == 0) { buf_puts(b, "\xEF\xBF\xBD"); continue; }
        if (n > 1) { buf_put(b, (const char *)p, (size_t)n); p += n - 1; continue; }
        if (*p == '"') buf_puts(b, "\\\"");
        else if (*p == '\\') buf_puts(b, "\\\\");
        else if (*p == '\n') buf_puts(b, "\\n");
        else if (*p == '\t') buf_puts(b, "\\t");
        else if (*p == '\r') buf_puts(b, "\\r");
        else if (*p < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", *p); buf_puts(b, esc); }
        else buf_put(b, (const char *)p, 1);
    }
    buf_puts(b, "\"");
}

char *rec_to_json(const Record *r) {
    Buf b = {0};
    buf_puts(&b, "{");
    for (int i = 0; i < r->n; i++) {
        if (i) buf_puts(&b, ", ");
        json_quote(&b, r->f[i].key);
        buf_puts(&b, ": ");
        if (r->f[i].is_str) json_quote(&b, r->f[i].val);
        else buf_puts(&b, r->f[i].val);
    }
    buf_puts(&b, "}");
    return b.s;
}

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

int rec_parse(const char *line, Record *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    char *key = NULL, *val = NULL;
    const char *p = skip_ws(line), *end = line + strlen(line);
    if (*p++ != '{') goto bad;
    p = skip_ws(p);
    if (*p == '}') { p++; goto done; }
    for (;;) {
        p = skip_ws(p);
        free(key);
        const char *q = json_string_decode(p, end, &key, NULL, NULL);
        if (!q) goto bad;
        p = q;
        p = skip_ws(p);
        if (*p++ != ':') goto bad;
        p = skip_ws(p);
        if (*p == '"') {
            if (!(q = json_string_decode(p, end, &val, NULL, NULL))) goto bad;
            p = q;
            rec_set_str(r, key, val);
            free(val);
            val = NULL;
        } else {
            const char *s = p;
            while (*p && *p != ',' && *p != '}' && *p != ' ') p++;
            char lit[64];
            size_t n = (size_t)(p - s);
            if (n == 0 || n >= sizeof lit) goto bad;
            memcpy(lit, s, n);
            lit[n] = 0;
            char *rest;
            if (strcmp(lit, "true") && strcmp(lit, "false") && strcmp(lit, "null")) {
                strtod(lit, &rest);
                if (*rest) goto bad;
            }
            rec_set_raw(r, key, lit);
        }
        p = skip_ws(p);
        if (*p == ',') { p++; continue; }
        if (*p == '}') { p++; break; }
        goto bad;
    }
done:
    p = skip_ws(p);
    if (*p && *p != '\n' && *p != '\r') goto bad;
    free(key);
    return 0;
bad:
    snprintf(err, errlen, "not a flat JSON object (at column %d)", (int)(p - line) + 1);
    free(key);
    rec_free(r);
    return -1;
}

// ----------------------------------------------------------------------------
// Ledger files

int ledger_load(const char *path, Ledger *L, char *err, size_t errlen) {
    memset(L, 0, sizeof *L);
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (len && text[len - 1] != '\n') {
        snprintf(err, errlen, "%s: the last line is incomplete (no newline); the harness never "
                 "writes one: check the file by hand", path);
        free(text);
        return -1;
    }
    int cap = 0, lineno = 0;
    for (char *line = text, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        *nl = 0;
        lineno++;
        if (!*skip_ws(line)) continue;
        if (L->n == cap) {
            cap = cap ? 2 * cap : 64;
            L->r = xrealloc(L->r, (size_t)cap * sizeof *L->r);
        }
        char e[128];
        if (rec_parse(line, &L->r[L->n], e, sizeof e) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, e);
            free(text);
            ledger_free(L);
            return -1;
        }
        L->n++;
    }
    free(text);
    return 0;
}

void ledger_free(Ledger *L) {
    for (int i = 0; i < L->n; i++) rec_free(&L->r[i]);
    free(L->r);
    memset(L, 0, sizeof *L);
}

static int is_status(const char *s) {
    return !strcmp(s, "keep") || !strcmp(s, "discard") || !strcmp(s, "crash") || !strcmp(s, "invalid");
}

char *tsv_row(const Record *r) {
    const char *kind = rec_get(r, "kind");
    if (!kind || strcmp(kind, "experiment")) return NULL;
    const char *status = rec_get(r, "status");
    const char *commit = rec_get(r, "commit");
    const char *desc = rec_get(r, "description");
    int ok = status && (!strcmp(status, "keep") || !strcmp(status, "discard"));
    double val = ok ? rec_num(r, "val_bpb", 0) : 0;
    double mem = ok ? rec_num(r, "memory_gb", 0) : 0;
    char shortc[8] = "0000000";
    if (commit && strlen(commit) >= 7) { memcpy(shortc, commit, 7); shortc[7] = 0; }
    char *d = xstrdup(desc ? desc : "");
    for (char *p = d; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r') *p = ' ';
    char *row = xasprintf("%s\t%.6f\t%.1f\t%s\t%s", shortc, val, mem, status ? status : "crash", d);
    free(d);
    return row;
}

// Checks one data row's shape (so a hand-edited file gets a precise message).
static const char *tsv_row_problem(char *line) {
    char *f[6];
    int n = 0;
    for (char *p = line;; ) {
        if (n == 6) return "more than 5 tab-separated columns";
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = 0;
        p = t + 1;
    }
    if (n != 5) return "fewer than 5 tab-separated columns";
    if (strlen(f[0]) != 7 || strspn(f[0], "0123456789abcdef") != 7) return "commit is not a 7-digit hex hash";
    char *end;
    strtod(f[1], &end);
    if (!*f[1] || *end) return "val_bpb is not a number";
    strtod(f[2], &end);
    if (!*f[2] || *end) return "memory_gb is not a number";
    if (!is_status(f[3])) return "status is not keep/discard/crash/invalid";
    return NULL;
}

int tsv_sync(const char *tsv_path, const Ledger *L, char *err, size_t errlen) {
    size_t len;
    char *text = read_file(tsv_path, &len);
    if (!text && errno != ENOENT) {
        snprintf(err, errlen, "cannot read %s: %s", tsv_path, strerror(errno));
        return -1;
    }
    int rc = -1, have = 0;
    if (!text || len == 0) {
        char e[256];
        char *hdr = TSV_HEADER "\n";
        if (write_file_atomic(tsv_path, hdr, strlen(hdr), e, sizeof e) != 0) {
            snprintf(err, errlen, "%s", e);
            free(text);
            return -1;
        }
    } else {
        if (text[len - 1] != '\n') {
            snprintf(err, errlen, "%s: the last line is incomplete (no newline); fix or move the "
                     "file aside (the harness never rewrites it)", tsv_path);
            goto out;
        }
        int lineno = 0, row = 0;
        for (char *line = text, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            *nl = 0;
            lineno++;
            if (lineno == 1) {
                if (strcmp(line, TSV_HEADER)) {
                    snprintf(err, errlen, "%s:1: header is not \"commit<TAB>val_bpb<TAB>memory_gb<TAB>"
                             "status<TAB>description\"; fix or move the file aside", tsv_path);
                    goto out;
                }
                continue;
            }
            char *copy = xstrdup(line);
            const char *problem = tsv_row_problem(copy);
            free(copy);
            if (problem) {
                snprintf(err, errlen, "%s:%d: malformed row (%s); fix or move the file aside "
                         "(the harness never rewrites it)", tsv_path, lineno, problem);
                goto out;
            }
            // the row must be the next one derived from results.jsonl
            char *want = NULL;
            while (row < L->n && !(want = tsv_row(&L->r[row]))) row++;
            if (!want || strcmp(want, line)) {
                snprintf(err, errlen, "%s:%d: row does not match results.jsonl (%s); was the file "
                         "edited by hand? Move it aside and the harness re-derives it", tsv_path,
                         lineno, want ? "different values" : "no such experiment");
                free(want);
                goto out;
            }
            free(want);
            row++;
            have = row;
        }
    }
    // append what is missing (after a kill between the two appends, or a new file)
    for (int i = have; i < L->n; i++) {
        char *row = tsv_row(&L->r[i]);
        if (!row) continue;
        char e[256];
        int r = append_line_atomic(tsv_path, row, e, sizeof e);
        free(row);
        if (r != 0) { snprintf(err, errlen, "%s", e); goto out; }
    }
    rc = 0;
out:
    free(text);
    return rc;
}

int ledger_append(const char *jsonl_path, const char *tsv_path, const Record *r, char *err,
                  size_t errlen) {
    char *json = rec_to_json(r);
    int rc = append_line_atomic(jsonl_path, json, err, errlen);
    free(json);
    if (rc != 0 || !tsv_path) return rc;
    char *row = tsv_row(r);
    if (row) rc = append_line_atomic(tsv_path, row, err, errlen);
    free(row);
    return rc;
}

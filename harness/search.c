// search.c -- the tunables block of train.c and the built-in search agent (`--agent search`).
//
// The search agent is a seeded local search over the numeric #defines between
// "// @tunables-begin" and "// @tunables-end": each proposal changes one value. Powers of two
// from 32 up (or named *BATCH*, *SIZE*, *DIM*) double or halve, other integers move by 1 or
// ~25%; *BETA* / *MOMENTUM* reals scale their distance to 1, *RATIO* / *FRAC* reals stay
// below 1 (and move up from 0 to 0.05), other reals scale by 1.25-2x; other zeros move only
// within "[lo, hi]" bounds given in the line's comment, which every proposal respects.
// It learns from the session's ledger: a (parameter, direction) that was kept is tried more,
// one that was discarded or crashed less, the direction of the last kept change is
// favoured, and a change already tried from the current best is not tried again. The
// statuses it learns from are the gate's decisions on the runs' estimates (gate.c), never a
// single run; a move discarded as noise (gate_reason "noise" or "not better") is never
// proposed again in the session, from any best, and counts half a discard. No LLM:
// the whole loop runs offline, and it is the baseline any research agent must beat.
#include "harness.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// Tunables block

// Finds the value token of a "#define NAME VALUE" line: sets name, [*vs,*ve) and returns 1.
static int define_line(const char *line, const char *end, char *name, size_t nn, const char **vs,
                       const char **ve) {
    const char *p = line;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (end - p < 7 || strncmp(p, "#define", 7)) return 0;
    p += 7;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    const char *ns = p;
    if (p >= end || !(isalpha((unsigned char)*p) || *p == '_')) return 0;
    while (p < end && (isalnum((unsigned char)*p) || *p == '_')) p++;
    if ((size_t)(p - ns) >= nn) return 0;
    memcpy(name, ns, (size_t)(p - ns));
    name[p - ns] = 0;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    *vs = p;
    while (p < end && !isspace((unsigned char)*p) && !(p[0] == '/' && p + 1 < end && (p[1] == '/' || p[1] == '*'))) p++;
    *ve = p;
    return *ve > *vs;
}

// Parses a numeric literal [s,e): 1 if it is one (a trailing f/F is allowed on reals).
static int parse_number(const char *s, const char *e, double *v, int *is_int) {
    char buf[64];
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (strchr(buf, 'x') || strchr(buf, 'X')) return 0;
    int real = strpbrk(buf, ".eE") != NULL;
    if (real && (buf[n - 1] == 'f' || buf[n - 1] == 'F')) buf[--n] = 0;
    char *end;
    *v = strtod(buf, &end);
    if (*end || !isfinite(*v)) return 0;
    *is_int = !real;
    return 1;
}

int tunables_parse(const char *src, Tunable *t, int max, char *err, size_t errlen) {
    const char *begin = strstr(src, "@tunables-begin");
    if (!begin) return 0;
    const char *stop = strstr(begin, "@tunables-end");
    int lineno = 0;
    for (const char *p = src; p < begin; p++) lineno += *p == '\n';
    if (!stop) {
        snprintf(err, errlen, "train.c:%d: @tunables-begin without @tunables-end", lineno + 1);
        return -1;
    }
    int n = 0;
    const char *line = strchr(begin, '\n');
    while (line && line < stop) {
        line++;
        lineno++;
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        if (end > stop) break;
        char name[64];
        const char *vs, *ve;
        double v;
        int is_int;
        if (define_line(line, end, name, sizeof name, &vs, &ve) && parse_number(vs, ve, &v, &is_int)) {
            if (n == max) {
                snprintf(err, errlen, "train.c:%d: more than %d tunables", lineno + 1, max);
                return -1;
            }
            Tunable *x = &t[n++];
            memset(x, 0, sizeof *x);
            snprintf(x->name, sizeof x->name, "%s", name);
            x->value = v;
            x->is_int = is_int;
            x->line = lineno;
            x->lo = -INFINITY;
            x->hi = INFINITY;
            // optional bounds in the comment: "[lo, hi]"
            const char *c = memchr(ve, '[', (size_t)(end - ve));
            if (c) {
                char *e1, *e2;
                double lo = strtod(c + 1, &e1);
                while (*e1 == ' ' || *e1 == ',') e1++;
                double hi = strtod(e1, &e2);
                if (e1 > c + 1 && e2 > e1 && *e2 == ']' && lo <= hi) { x->lo = lo; x->hi = hi; }
            }
        }
        line = end;
        if (!*end) break;
    }
    return n;
}

void tunable_format(const Tunable *t, double value, char *out, size_t n) {
    if (t->is_int) { snprintf(out, n, "%lld", (long long)llround(value)); return; }
    snprintf(out, n, "%.4g", value);
    if (!strpbrk(out, ".eEn")) strncat(out, ".0", n - strlen(out) - 1);
}

char *tunables_set(const char *src, const Tunable *t, double value) {
    const char *line = src;
    for (int i = 0; i < t->line && line; i++) {
        line = strchr(line, '\n');
        if (line) line++;
    }
    if (!line) return xstrdup(src);
    const char *end = strchr(line, '\n');
    if (!end) end = line + strlen(line);
    char name[64];
    const char *vs, *ve;
    if (!define_line(line, end, name, sizeof name, &vs, &ve) || strcmp(name, t->name)) return xstrdup(src);
    char val[64];
    tunable_format(t, value, val, sizeof val);
    // keep a trailing comment in its column when there is room
    size_t oldw = (size_t)(ve - vs), neww = strlen(val);
    const char *rest = ve;
    size_t pad = 0;
    if (neww > oldw) {
        size_t grow = neww - oldw;
        while (grow && rest < end && *rest == ' ' && rest + 1 < end && rest[1] == ' ') { rest++; grow--; }
    } else if (neww < oldw && rest < end && *rest == ' ') {
        pad = oldw - neww;
    }
    size_t head = (size_t)(vs - src);
    size_t tail = strlen(rest);
    char *out = xmalloc(head + neww + pad + tail + 1);
    memcpy(out, src, head);
    memcpy(out + head, val, neww);
    memset(out + head + neww, ' ', pad);
    memcpy(out + head + neww + pad, rest, tail + 1);
    return out;
}

// ----------------------------------------------------------------------------
// Search agent

static double uniform(uint64_t *s) { return (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0); }

// The value one step in direction dir (+1/-1) with scale f (>1), or NAN if there is none.
static double step(const Tunable *t, int dir, double f) {
    double v = t->value, nv;
    int sizeish = strstr(t->name, "BATCH") || strstr(t->name, "SIZE") || strstr(t->name, "DIM");
    int betaish = strstr(t->name, "BETA") || strstr(t->name, "MOMENTUM");
    if (t->is_int) {
        long long x = llround(v);
        if (x >= 2 && (x & (x - 1)) == 0 && (x >= 32 || sizeish))
            nv = dir > 0 ? 2.0 * (double)x : (double)(x / 2);
        else {
            double s = fmax(1, round(fabs(v) * (f - 1) * 0.5));
            nv = v + dir * s;
        }
        if (v >= 0 && nv < (v >= 1 ? 1 : 0)) return NAN;   // positive counts stay positive
    } else if (v == 0) {
        if (isfinite(t->lo) && isfinite(t->hi)) nv = t->lo + (t->hi - t->lo) * (dir > 0 ? 0.1 : 0.0);
        else if (strstr(t->name, "RATIO") || strstr(t->name, "FRAC")) nv = dir > 0 ? 0.05 : 0;
        else return NAN;
    } else if (betaish && v > 0 && v < 1) {
        nv = 1 - (1 - v) * pow(f, -dir);     // betas: scale the distance to 1
    } else if (v > 0 && v < 1 && (strstr(t->name, "RATIO") || strstr(t->name, "FRAC"))) {
        nv = v * pow(f, dir);                // fractions stay below 1
        if (nv >= 1) return NAN;
    } else {
        nv = v * pow(f, dir);
    }
    nv = fmin(fmax(nv, t->lo), t->hi);
    char a[64], b[64];
    tunable_format(t, v, a, sizeof a);
    tunable_format(t, nv, b, sizeof b);
    if (!strcmp(a, b)) return NAN;
    return strtod(b, NULL);   // exactly what will be written
}

typedef struct { double keeps, discards, crashes; } Stats;

// A change the sequential gate discarded as noise (its estimate not clearly worse, nor
// better): re-proposing it from any best would only buy more runs of the same question.
static int noise_discard(const Record *r) {
    const char *st = rec_get(r, "status"), *why = rec_get(r, "gate_reason");
    return st && !strcmp(st, "discard") && why && (!strcmp(why, "noise") || !strcmp(why, "not better"));
}

int search_propose(const char *src, const Ledger *L, const char *session, uint64_t seed,
                   Mutation *m, char *err, size_t errlen) {
    Tunable t[128];
    int n = tunables_parse(src, t, 128, err, errlen);
    if (n < 0) return -1;
    if (n == 0) {
        snprintf(err, errlen, "train.c has no numeric #defines between // @tunables-begin and "
                 "// @tunables-end: nothing for the search agent to tune");
        return -1;
    }
    // What the session's ledger says about each (parameter, direction)
    Stats *st = xcalloc((size_t)(2 * n), sizeof *st);
    int nrec = 0, last_keep_p = -1, last_keep_d = 0;
    const char *best_commit = NULL;
    for (int i = 0; i < L->n; i++) {
        const Record *r = &L->r[i];
        const char *status = rec_get(r, "status");
        if (!rec_in_session(r, session, "experiment")) continue;
        nrec++;
        if (status && !strcmp(status, "keep")) best_commit = rec_get(r, "commit");
        const char *p = rec_get(r, "search_param");
        if (!p || !status) continue;
        int j = 0;
        while (j < n && strcmp(t[j].name, p)) j++;
        if (j == n) continue;
        int d = rec_num(r, "search_to", 0) > rec_num(r, "search_from", 0) ? 1 : 0;
        Stats *x = &st[2 * j + d];
        const char *why = rec_get(r, "gate_reason");
        if (!strcmp(status, "keep")) { x->keeps++; last_keep_p = j; last_keep_d = d; }
        else if (!strcmp(status, "discard") && why && strcmp(why, "worse")) x->discards += 0.5;   // within the noise
        else if (!strcmp(status, "discard")) x->discards++;
        else x->crashes++;
    }
    uint64_t rng = seed ^ (0x5851F42D4C957F2Dull * (uint64_t)(nrec + 1));
    splitmix64(&rng);
    double f = 1.25 + 0.75 * uniform(&rng);   // step scale for this proposal
    // candidates and their weights
    double *w = xcalloc((size_t)(2 * n), sizeof *w), *to = xcalloc((size_t)(2 * n), sizeof *to);
    double total = 0;
    for (int j = 0; j < n; j++) {
        for (int d = 0; d < 2; d++) {
            double nv = step(&t[j], d ? 1 : -1, f);
            if (isnan(nv)) continue;
            // tabu: this exact change was already tried from the current best
            int tried = 0;
            for (int i = 0; i < L->n && !tried; i++) {
                const Record *r = &L->r[i];
                const char *p = rec_get(r, "search_param"), *par = rec_get(r, "parent");
                if (!rec_in_session(r, session, NULL) || !p || strcmp(p, t[j].name)) continue;
                double tv = rec_num(r, "search_to", NAN), fv = rec_num(r, "search_from", NAN);
                if (noise_discard(r) && fabs(fv - t[j].value) <= 1e-12 * fmax(1, fabs(fv)))
                    ;   // the same move discarded as noise, from any best: tabu for the session
                else if (best_commit && par && strcmp(par, best_commit)) continue;
                tried = fabs(tv - nv) <= 1e-12 * fmax(1, fabs(nv));
            }
            if (tried) continue;
            Stats *x = &st[2 * j + d];
            double wt = (1.0 + 3 * x->keeps) / (1.0 + x->discards + 2.0 * x->crashes);
            if (j == last_keep_p && d == last_keep_d) wt *= 2;   // momentum
            w[2 * j + d] = wt;
            to[2 * j + d] = nv;
            total += wt;
        }
    }
    int pick = -1;
    if (total > 0) {
        double u = uniform(&rng) * total;
        for (int i = 0; i < 2 * n; i++) {
            if (w[i] <= 0) continue;
            pick = i;
            if ((u -= w[i]) < 0) break;
        }
    } else {
        // every neighbour was tried from here: a bigger random jump of one parameter
        for (int tries = 0; tries < 64 && pick < 0; tries++) {
            int j = (int)(uniform(&rng) * n), d = (int)(uniform(&rng) * 2);
            double nv = step(&t[j], d ? 1 : -1, 2.0 + 2.0 * uniform(&rng));
            if (!isnan(nv)) { pick = 2 * j + d; to[pick] = nv; }
        }
    }
    free(st);
    free(w);
    if (pick < 0) {
        free(to);
        snprintf(err, errlen, "no tunable in train.c can be changed (all at their bounds)");
        return -1;
    }
    const Tunable *x = &t[pick / 2];
    snprintf(m->param, sizeof m->param, "%s", x->name);
    m->from = x->value;
    m->to = to[pick];
    free(to);
    char a[64], b[64];
    tunable_format(x, m->from, a, sizeof a);
    tunable_format(x, m->to, b, sizeof b);
    snprintf(m->desc, sizeof m->desc, "%s %s -> %s", x->name, a, b);
    return 0;
}

// report.c -- `autoresearch status` and `autoresearch report`: the session at a glance, the
// progress plot (SVG, and PNG drawn into an RGB buffer with a built-in 5x7 font), and a
// Markdown summary of the kept experiments with validation against test bits per byte.
#include "harness.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// ----------------------------------------------------------------------------
// Plot geometry shared by SVG and PNG

#define PW 1000
#define PH 520
#define ML 124   // room for the tick labels and, left of them, the rotated axis label
#define MR 24
#define MT 48
#define MB 64

static const unsigned char col_keep[3] = {46, 160, 67}, col_discard[3] = {170, 170, 170},
                           col_crash[3] = {214, 39, 40}, col_axis[3] = {60, 60, 60},
                           col_grid[3] = {232, 232, 232}, col_text[3] = {30, 30, 30};

typedef struct {
    double x0, x1, y0, y1;       // data ranges
    double ystep, xstep;         // tick steps
} Axes;

static double nice_step(double range, int target) {
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return mag * (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10);
}

static Axes axes_for(const PlotPoint *p, int n) {
    Axes a = {0.5, n + 0.5, INFINITY, -INFINITY, 0, 1};
    for (int i = 0; i < n; i++)
        if (p[i].status < 2) { a.y0 = fmin(a.y0, p[i].val); a.y1 = fmax(a.y1, p[i].val); }
    if (!isfinite(a.y0)) { a.y0 = 0; a.y1 = 1; }
    double r = a.y1 - a.y0;
    if (r < 1e-6) r = fmax(1e-3, fabs(a.y0) * 0.01);
    a.y0 -= 0.08 * r;
    a.y1 += 0.08 * r;
    a.ystep = nice_step(a.y1 - a.y0, 5);
    a.xstep = fmax(1, nice_step(n, 8));
    a.xstep = round(a.xstep);
    return a;
}
static double px(const Axes *a, double x) { return ML + (x - a->x0) / (a->x1 - a->x0) * (PW - ML - MR); }
static double py(const Axes *a, double y) { return MT + (a->y1 - y) / (a->y1 - a->y0) * (PH - MT - MB); }

static int decimals(double step) { int d = (int)ceil(-log10(step) - 1e-9); return d < 0 ? 0 : d > 8 ? 8 : d; }

// ----------------------------------------------------------------------------
// SVG

static void xml_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

int plot_svg(const char *path, const PlotPoint *p, int n, const char *title, char *err, size_t errlen) {
    AtomicFile af;
    if (atomic_open(&af, path) != 0) { snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno)); return -1; }
    FILE *f = af.f;
    Axes a = axes_for(p, n);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n", PW, PH, PW, PH);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", PW, PH);
    fprintf(f, "<text x=\"%d\" y=\"28\" font-size=\"16\">", ML);
    xml_escape(f, title);
    fprintf(f, "</text>\n");
    int dec = decimals(a.ystep);
    for (double y = ceil(a.y0 / a.ystep) * a.ystep; y <= a.y1; y += a.ystep) {
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e8e8e8\"/>\n", ML, PW - MR, py(&a, y), py(&a, y));
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", ML - 8, py(&a, y) + 4, dec, y);
    }
    for (double x = a.xstep; x <= n; x += a.xstep)
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n", px(&a, x), PH - MB + 20, x);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#3c3c3c\"/>\n", ML, MT,
            PW - ML - MR, PH - MT - MB);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">experiment</text>\n", (ML + PW - MR) / 2, PH - 18);
    fprintf(f, "<text x=\"20\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 20 %d)\">val_bpb (lower is better)</text>\n",
            (MT + PH - MB) / 2, (MT + PH - MB) / 2);
    // running best: a step line through the kept experiments
    fprintf(f, "<polyline fill=\"none\" stroke=\"rgb(46,160,67)\" stroke-width=\"2\" points=\"");
    double best = NAN;
    for (int i = 0; i < n; i++) {
        if (p[i].status != 0) continue;
        if (isfinite(best)) fprintf(f, "%.1f,%.1f ", px(&a, i + 1), py(&a, best));
        best = p[i].val;
        fprintf(f, "%.1f,%.1f ", px(&a, i + 1), py(&a, best));
    }
    if (isfinite(best)) fprintf(f, "%.1f,%.1f", px(&a, n + 0.5), py(&a, best));
    fprintf(f, "\"/>\n");
    for (int i = 0; i < n; i++) {
        const unsigned char *c = p[i].status == 0 ? col_keep : p[i].status == 1 ? col_discard : col_crash;
        if (p[i].status == 2) {
            double x = px(&a, i + 1), y = PH - MB - 8;
            fprintf(f, "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" transform=\"translate(-4 -4)\" stroke=\"rgb(%d,%d,%d)\" stroke-width=\"2\">",
                    x, y, c[0], c[1], c[2]);
            fprintf(f, "<title>#%d ", i + 1);
        } else {
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"rgb(%d,%d,%d)\">", px(&a, i + 1),
                    py(&a, p[i].val), p[i].status == 0 ? 5 : 4, c[0], c[1], c[2]);
            fprintf(f, "<title>#%d %.6f ", i + 1, p[i].val);
        }
        xml_escape(f, p[i].label ? p[i].label : "");
        fprintf(f, "</title></%s>\n", p[i].status == 2 ? "path" : "circle");
    }
    // legend
    int lx = PW - MR - 250, ly = 28;
    fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"rgb(46,160,67)\"/><text x=\"%d\" y=\"%d\">keep</text>\n", lx, ly - 4, lx + 10, ly);
    fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"rgb(170,170,170)\"/><text x=\"%d\" y=\"%d\">discard</text>\n", lx + 70, ly - 4, lx + 80, ly);
    fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"rgb(214,39,40)\" font-weight=\"bold\">x</text><text x=\"%d\" y=\"%d\">crash/invalid</text>\n",
            lx + 150, ly, lx + 162, ly);
    fprintf(f, "</svg>\n");
    return atomic_commit(&af, err, errlen);
}

// ----------------------------------------------------------------------------
// PNG: an RGB canvas, lines, dots, and a 5x7 bitmap font

typedef struct {
    int w, h;
    unsigned char *px;   // (h, w, 3)
} Canvas;

static void put(Canvas *c, int x, int y, const unsigned char *col) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->px + 3 * ((size_t)y * c->w + x), col, 3);
}

static void fill_rect(Canvas *c, int x0, int y0, int x1, int y1, const unsigned char *col) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(c, x, y, col);
}

// Bresenham with a square brush of the given width.
static void line(Canvas *c, double fx0, double fy0, double fx1, double fy1, int width, const unsigned char *col) {
    int x0 = (int)lround(fx0), y0 = (int)lround(fy0), x1 = (int)lround(fx1), y1 = (int)lround(fy1);
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    int lo = -(width - 1) / 2, hi = width / 2;
    for (;;) {
        fill_rect(c, x0 + lo, y0 + lo, x0 + hi, y0 + hi, col);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) { e += dy; x0 += sx; }
        if (e2 <= dx) { e += dx; y0 += sy; }
    }
}

static void dot(Canvas *c, double cx, double cy, double r, const unsigned char *col) {
    for (int y = (int)floor(cy - r); y <= (int)ceil(cy + r); y++)
        for (int x = (int)floor(cx - r); x <= (int)ceil(cx + r); x++)
            if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) put(c, x, y, col);
}

// 5x7 glyphs, one byte a row (low 5 bits, MSB left); text is drawn lowercase. g p q y are
// drawn 2 rows lower (descenders).
static const struct { char ch; unsigned char rows[7]; } font[] = {
    {'0', {14, 17, 19, 21, 25, 17, 14}}, {'1', {4, 12, 4, 4, 4, 4, 14}},
    {'2', {14, 17, 1, 2, 4, 8, 31}},     {'3', {31, 2, 4, 2, 1, 17, 14}},
    {'4', {2, 6, 10, 18, 31, 2, 2}},     {'5', {31, 16, 30, 1, 1, 17, 14}},
    {'6', {6, 8, 16, 30, 17, 17, 14}},   {'7', {31, 1, 2, 4, 8, 8, 8}},
    {'8', {14, 17, 17, 14, 17, 17, 14}}, {'9', {14, 17, 17, 15, 1, 2, 12}},
    {'.', {0, 0, 0, 0, 0, 12, 12}},      {'-', {0, 0, 0, 31, 0, 0, 0}},
    {'+', {0, 4, 4, 31, 4, 4, 0}},       {':', {0, 12, 12, 0, 12, 12, 0}},
    {'_', {0, 0, 0, 0, 0, 0, 31}},       {'/', {0, 1, 2, 4, 8, 16, 0}},
    {'(', {2, 4, 8, 8, 8, 4, 2}},        {')', {8, 4, 2, 2, 2, 4, 8}},
    {'%', {24, 25, 2, 4, 8, 19, 3}},     {'=', {0, 0, 31, 0, 31, 0, 0}},
    {',', {0, 0, 0, 0, 12, 4, 8}},       {'#', {10, 10, 31, 10, 31, 10, 10}},
    {'a', {0, 0, 14, 1, 15, 17, 15}},    {'b', {16, 16, 22, 25, 17, 17, 30}},
    {'c', {0, 0, 14, 16, 16, 17, 14}},   {'d', {1, 1, 13, 19, 17, 17, 15}},
    {'e', {0, 0, 14, 17, 31, 16, 14}},   {'f', {6, 9, 8, 28, 8, 8, 8}},
    {'g', {15, 17, 17, 17, 15, 1, 14}},   {'h', {16, 16, 22, 25, 17, 17, 17}},
    {'i', {4, 0, 12, 4, 4, 4, 14}},      {'j', {2, 0, 6, 2, 2, 18, 12}},
    {'k', {16, 16, 18, 20, 24, 20, 18}}, {'l', {12, 4, 4, 4, 4, 4, 14}},
    {'m', {0, 0, 26, 21, 21, 17, 17}},   {'n', {0, 0, 22, 25, 17, 17, 17}},
    {'o', {0, 0, 14, 17, 17, 17, 14}},   {'p', {30, 17, 17, 17, 30, 16, 16}},
    {'q', {15, 17, 17, 17, 15, 1, 1}},     {'r', {0, 0, 22, 25, 16, 16, 16}},
    {'s', {0, 0, 14, 16, 14, 1, 30}},    {'t', {8, 8, 28, 8, 8, 9, 6}},
    {'u', {0, 0, 17, 17, 17, 19, 13}},   {'v', {0, 0, 17, 17, 17, 10, 4}},
    {'w', {0, 0, 17, 17, 21, 21, 10}},   {'x', {0, 0, 17, 10, 4, 10, 17}},
    {'y', {17, 17, 17, 17, 15, 1, 14}},    {'z', {0, 0, 31, 2, 4, 8, 31}},
};

// Draws text with its top-left at (x,y), scale s; align: 0 left, 1 centre, 2 right.
static void text(Canvas *c, int x, int y, int s, int align, const char *str, const unsigned char *col) {
    int adv = 6 * s, w = (int)strlen(str) * adv - s;
    if (align == 1) x -= w / 2;
    else if (align == 2) x -= w;
    for (const char *p = str; *p; p++, x += adv) {
        char ch = (char)tolower((unsigned char)*p);
        int dy = strchr("gpqy", ch) ? 2 * s : 0;
        for (size_t g = 0; g < sizeof font / sizeof *font; g++) {
            if (font[g].ch != ch) continue;
            for (int r = 0; r < 7; r++)
                for (int b = 0; b < 5; b++)
                    if (font[g].rows[r] & (16 >> b))
                        fill_rect(c, x + b * s, y + dy + r * s, x + b * s + s - 1, y + dy + r * s + s - 1, col);
            break;
        }
    }
}

// Same, rotated 90 degrees counter-clockwise, centred vertically on y.
static void text_vertical(Canvas *c, int x, int y, int s, const char *str, const unsigned char *col) {
    int adv = 6 * s, w = (int)strlen(str) * adv - s;
    int yy = y + w / 2;
    for (const char *p = str; *p; p++, yy -= adv) {
        char ch = (char)tolower((unsigned char)*p);
        int dx = strchr("gpqy", ch) ? 2 * s : 0;
        for (size_t g = 0; g < sizeof font / sizeof *font; g++) {
            if (font[g].ch != ch) continue;
            for (int r = 0; r < 7; r++)
                for (int b = 0; b < 5; b++)
                    if (font[g].rows[r] & (16 >> b))
                        fill_rect(c, x + dx + r * s, yy - b * s - s + 1, x + dx + r * s + s - 1, yy - b * s, col);
            break;
        }
    }
}

static int write_png(const char *path, const Canvas *c, char *err, size_t errlen) {
    AtomicFile af;
    if (atomic_open(&af, path) != 0) { snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno)); return -1; }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        atomic_abort(&af);
        snprintf(err, errlen, "cannot encode %s (libpng)", path);
        return -1;
    }
    png_init_io(png, af.f);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < c->h; y++) png_write_row(png, c->px + 3 * (size_t)y * c->w);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return atomic_commit(&af, err, errlen);
}

int plot_png(const char *path, const PlotPoint *p, int n, const char *title, char *err, size_t errlen) {
    Canvas c = {PW, PH, xmalloc((size_t)PW * PH * 3)};
    memset(c.px, 255, (size_t)PW * PH * 3);
    Axes a = axes_for(p, n);
    int dec = decimals(a.ystep);
    char buf[64];
    for (double y = ceil(a.y0 / a.ystep) * a.ystep; y <= a.y1; y += a.ystep) {
        line(&c, ML, py(&a, y), PW - MR, py(&a, y), 1, col_grid);
        snprintf(buf, sizeof buf, "%.*f", dec, y);
        text(&c, ML - 8, (int)py(&a, y) - 7, 2, 2, buf, col_text);
    }
    for (double x = a.xstep; x <= n; x += a.xstep) {
        line(&c, px(&a, x), PH - MB, px(&a, x), PH - MB + 5, 1, col_axis);
        snprintf(buf, sizeof buf, "%.0f", x);
        text(&c, (int)px(&a, x), PH - MB + 10, 2, 1, buf, col_text);
    }
    line(&c, ML, MT, PW - MR, MT, 1, col_axis);
    line(&c, ML, PH - MB, PW - MR, PH - MB, 1, col_axis);
    line(&c, ML, MT, ML, PH - MB, 1, col_axis);
    line(&c, PW - MR, MT, PW - MR, PH - MB, 1, col_axis);
    text(&c, (ML + PW - MR) / 2, PH - 26, 2, 1, "experiment", col_text);
    text_vertical(&c, 10, (MT + PH - MB) / 2, 2, "val_bpb", col_text);
    text(&c, ML, 14, 2, 0, title, col_text);
    // running best as a step line, then the dots on top
    double best = NAN, bx = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].status != 0) continue;
        if (isfinite(best)) {
            line(&c, px(&a, bx), py(&a, best), px(&a, i + 1), py(&a, best), 2, col_keep);
            line(&c, px(&a, i + 1), py(&a, best), px(&a, i + 1), py(&a, p[i].val), 2, col_keep);
        }
        best = p[i].val;
        bx = i + 1;
    }
    if (isfinite(best)) line(&c, px(&a, bx), py(&a, best), px(&a, n + 0.5), py(&a, best), 2, col_keep);
    for (int i = 0; i < n; i++) {
        double x = px(&a, i + 1);
        if (p[i].status == 2) {
            double y = PH - MB - 9;
            line(&c, x - 4, y - 4, x + 4, y + 4, 2, col_crash);
            line(&c, x - 4, y + 4, x + 4, y - 4, 2, col_crash);
        } else {
            dot(&c, x, py(&a, p[i].val), p[i].status == 0 ? 5.5 : 4, p[i].status == 0 ? col_keep : col_discard);
        }
    }
    // legend
    int lx = PW - MR - 330;
    dot(&c, lx, 21, 5.5, col_keep);
    text(&c, lx + 10, 14, 2, 0, "keep", col_text);
    dot(&c, lx + 80, 21, 4, col_discard);
    text(&c, lx + 90, 14, 2, 0, "discard", col_text);
    line(&c, lx + 190, 17, lx + 198, 25, 2, col_crash);
    line(&c, lx + 190, 25, lx + 198, 17, 2, col_crash);
    text(&c, lx + 206, 14, 2, 0, "crash", col_text);
    int rc = write_png(path, &c, err, errlen);
    free(c.px);
    return rc;
}

// ----------------------------------------------------------------------------
// The session's records

typedef struct {
    const Record **r;    // the session's experiment records, in order
    int n;
    int keep, discard, crash, invalid, agent_errors, noise;
} View;

static View view_of(const Session *S) {
    View v = {0};
    v.r = xmalloc((size_t)(S->L.n + 1) * sizeof *v.r);
    for (int i = 0; i < S->L.n; i++) {
        const Record *r = &S->L.r[i];
        const char *s = rec_get(r, "session"), *k = rec_get(r, "kind"), *st = rec_get(r, "status");
        if (!s || strcmp(s, S->tag) || !k) continue;
        if (!strcmp(k, "agent_error")) { v.agent_errors++; continue; }
        if (!strcmp(k, "noise")) { v.noise++; continue; }
        if (strcmp(k, "experiment") || !st) continue;
        v.r[v.n++] = r;
        if (!strcmp(st, "keep")) v.keep++;
        else if (!strcmp(st, "discard")) v.discard++;
        else if (!strcmp(st, "invalid")) v.invalid++;
        else v.crash++;
    }
    return v;
}

// Picks the session: --tag, else the current branch's, else the last one in the ledger.
static void pick_session(Session *S, const char *tag) {
    char t[96];
    if (tag) snprintf(t, sizeof t, "%s", tag);
    else {
        current_tag(t, sizeof t);
        int found = 0;
        for (int i = 0; i < S->L.n && !found; i++) {
            const char *s = rec_get(&S->L.r[i], "session");
            found = s && !strcmp(s, t);
        }
        if (!found && S->L.n) {
            const char *s = rec_get(&S->L.r[S->L.n - 1], "session");
            if (s) snprintf(t, sizeof t, "%s", s);
        }
    }
    session_load(S, t);
}

static void fmt_duration(double s, char *out, size_t n) {
    if (s < 60) snprintf(out, n, "%.0fs", s);
    else if (s < 3600) snprintf(out, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(out, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static time_t parse_iso(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
    return timegm(&tm);
}

// ----------------------------------------------------------------------------
// The gate's estimates (gate.c), for status and the report

// status: the best and the baseline as estimates (mean +- SE of their runs), the improvement
// with its 95% interval, the runs confirmation took, and drift.
static void print_estimates(const Session *S, const Record *best) {
    GateSummary g;
    gate_summary(S, &g);
    char se_b[32] = "", se_0[32] = "";   // no sigma (strict gate, no noise runs): no SE
    if (g.sigma > 0) snprintf(se_b, sizeof se_b, " +- %.6f", runstats_se(&g.best, g.sigma));
    if (g.sigma > 0) snprintf(se_0, sizeof se_0, " +- %.6f", runstats_se(&g.base, g.sigma));
    printf("best       val_bpb %.6f%s (%d run%s) at %.7s (%s)\n", g.best.mean, se_b, g.best.n,
           g.best.n == 1 ? "" : "s", rec_get(best, "commit"), rec_get(best, "description"));
    printf("baseline   val_bpb %.6f%s (%d run%s)", g.base.mean, se_0, g.base.n, g.base.n == 1 ? "" : "s");
    if (g.sigma > 0) printf("; improvement %.6f, 95%% interval [%.6f, %.6f]", g.total.effect, g.total.lo, g.total.hi);
    printf("\n");
    printf("runs       %d: %d baseline/noise, %d confirmation, %d rebaseline\n", g.runs, g.noise_runs,
           g.confirm_runs, g.rebaseline_runs);
    if (g.drifts) printf("drift      detected %d time%s; latest: %s\n", g.drifts, g.drifts == 1 ? "" : "s", g.drift);
}

// report.md: the same as one paragraph.
static void report_estimates(FILE *f, const Session *S) {
    GateSummary g;
    gate_summary(S, &g);
    if (!g.best.n || !g.base.n) return;
    fprintf(f, "Estimates (mean of all runs of a commit): baseline %.6f over %d runs, best %.6f over %d runs",
            g.base.mean, g.base.n, g.best.mean, g.best.n);
    if (g.sigma > 0)
        fprintf(f, "; total improvement %.6f, 95%% interval [%.6f, %.6f] (sigma %.6f pooled over %.0f degrees of "
                "freedom)", g.total.effect, g.total.lo, g.total.hi, g.sigma, g.dof);
    fprintf(f, ". Runs: %d in all, %d of them confirmation runs, %d baseline/noise runs, %d rebaseline runs "
            "of the best.", g.runs, g.confirm_runs, g.noise_runs, g.rebaseline_runs);
    if (g.drifts) fprintf(f, " **Drift detected %d time%s (latest: %s): compare results across the night with care.**",
                          g.drifts, g.drifts == 1 ? "" : "s", g.drift);
    fprintf(f, "\n\n");
}

// ----------------------------------------------------------------------------
// status

static const char *status_help =
    "usage: autoresearch status [--json] [--tag TAG]\n"
    "\n"
    "The session (default: the current branch's, else the latest in results.jsonl):\n"
    "experiments by status, the best val_bpb and its commit, and the experiment running now\n"
    "with its elapsed time. --json prints the same as one JSON object.\n";

int status_main(int argc, char **argv) {
    const char *tag = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(status_help, stdout); return 0; }
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--tag") && i + 1 < argc) tag = argv[++i];
        else die("status: unknown option '%s' (see --help)", argv[i]);
    }
    Session S;
    session_open(&S);
    pick_session(&S, tag);
    View v = view_of(&S);
    const Record *best = session_best(&S), *base = NULL;
    for (int i = 0; i < v.n && !base; i++)
        if (!strcmp(rec_get(v.r[i], "status"), "keep")) base = v.r[i];
    // the running experiment
    char *mp = xasprintf("%s/running.json", S.state);
    char *mt = read_file(mp, NULL);
    Record m = {0};
    int running = 0, interrupted = 0;
    double elapsed = 0;
    char e[128];
    if (mt && rec_parse(mt, &m, e, sizeof e) == 0 && rec_get(&m, "session") && !strcmp(rec_get(&m, "session"), S.tag)) {
        pid_t pid = (pid_t)rec_num(&m, "pid", 0);
        running = pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
        interrupted = !running;
        elapsed = difftime(time(NULL), parse_iso(rec_get(&m, "start_time")));
    }
    // the agent at work (between experiments of a loop)
    char *ap = xasprintf("%s/agent.json", S.state);
    char *at = read_file(ap, NULL);
    Record ag = {0};
    int agent = 0;
    double agent_elapsed = 0;
    if (!running && at && rec_parse(at, &ag, e, sizeof e) == 0 && rec_get(&ag, "session") &&
        !strcmp(rec_get(&ag, "session"), S.tag)) {
        pid_t pid = (pid_t)rec_num(&ag, "pid", 0);
        agent = pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
        agent_elapsed = difftime(time(NULL), parse_iso(rec_get(&ag, "start_time")));
    }
    char *branch = git_str("symbolic-ref", "-q", "--short", "HEAD", NULL);
    if (json) {
        Record o = {0};
        rec_set_str(&o, "session", S.tag);
        rec_set_str(&o, "branch", branch ? branch : "");
        rec_set_str(&o, "base_commit", S.base);
        rec_set_str(&o, "budget_mode", S.budget_mode);
        rec_set_num(&o, "budget", S.budget);
        rec_set_num(&o, "experiments", v.n);
        rec_set_num(&o, "keep", v.keep);
        rec_set_num(&o, "discard", v.discard);
        rec_set_num(&o, "crash", v.crash);
        rec_set_num(&o, "invalid", v.invalid);
        rec_set_num(&o, "agent_errors", v.agent_errors);
        rec_set_num(&o, "noise_runs", v.noise);
        if (S.sigma > 0) rec_set_num(&o, "sigma", S.sigma);
        rec_set_str(&o, "gate", S.gate);
        GateSummary g;
        gate_summary(&S, &g);
        rec_set_num(&o, "confirm_runs", g.confirm_runs);
        rec_set_num(&o, "rebaseline_runs", g.rebaseline_runs);
        rec_set_num(&o, "drifts", g.drifts);
        if (g.drift[0]) rec_set_str(&o, "drift", g.drift);
        if (best && g.best.n) {
            rec_set_num(&o, "best_est_val_bpb", g.best.mean);
            rec_set_num(&o, "best_est_runs", g.best.n);
            if (g.sigma > 0) rec_set_num(&o, "best_est_se", runstats_se(&g.best, g.sigma));
            rec_set_num(&o, "baseline_est_val_bpb", g.base.mean);
            rec_set_num(&o, "baseline_est_runs", g.base.n);
            if (g.sigma > 0) {
                rec_set_num(&o, "improvement", g.total.effect);
                rec_set_num(&o, "improvement_lo", g.total.lo);
                rec_set_num(&o, "improvement_hi", g.total.hi);
            }
        }
        if (best) {
            rec_set_num(&o, "best_val_bpb", rec_num(best, "val_bpb", NAN));
            rec_set_str(&o, "best_commit", rec_get(best, "commit"));
            rec_set_str(&o, "best_description", rec_get(best, "description"));
            rec_set_num(&o, "baseline_val_bpb", rec_num(base, "val_bpb", NAN));
        }
        rec_set_raw(&o, "running", running ? "true" : "false");
        if (running || interrupted) {
            rec_set_str(&o, running ? "running_id" : "interrupted_id", rec_get(&m, "id") ? rec_get(&m, "id") : "");
            rec_set_str(&o, running ? "running_description" : "interrupted_description",
                        rec_get(&m, "description") ? rec_get(&m, "description") : "");
            if (running) rec_set_num(&o, "running_elapsed_s", elapsed);
        }
        rec_set_raw(&o, "agent_running", agent ? "true" : "false");
        if (agent) rec_set_num(&o, "agent_elapsed_s", agent_elapsed);
        char *js = rec_to_json(&o);
        printf("%s\n", js);
        free(js);
        rec_free(&o);
    } else {
        char amount[32] = "train.c's default";
        if (S.budget > 0) snprintf(amount, sizeof amount, "%g", S.budget);
        printf("session    %s (branch %s, base %.7s, budget %s %s)\n", S.tag, branch ? branch : "?", S.base,
               S.budget_mode, amount);
        printf("experiments %d: keep %d, discard %d, crash %d, invalid %d; agent failures %d\n", v.n, v.keep,
               v.discard, v.crash, v.invalid, v.agent_errors);
        if (S.sigma > 0) printf("noise      sigma %.6f over %d runs (gate %s)\n", S.sigma, v.noise, S.gate);
        if (best)
            print_estimates(&S, best);
        else
            printf("best       none yet\n");
        char d[32];
        fmt_duration(elapsed, d, sizeof d);
        if (running)
            printf("running    %s for %s: %s (pid %.0f)\n", rec_get(&m, "id"), d, rec_get(&m, "description"),
                   rec_num(&m, "pid", 0));
        else if (interrupted)
            printf("interrupted %s: %s (the next run/loop on this session finishes it)\n", rec_get(&m, "id"),
                   rec_get(&m, "description"));
        else if (agent) {
            fmt_duration(agent_elapsed, d, sizeof d);
            printf("running    the agent, on experiment %.0f, for %s\n", rec_num(&ag, "n", 0), d);
        } else
            printf("running    nothing\n");
    }
    rec_free(&ag);
    free(at);
    free(ap);
    free(branch);
    rec_free(&m);
    free(mt);
    free(mp);
    free(v.r);
    session_close(&S);
    return 0;
}

// ----------------------------------------------------------------------------
// report

static const char *report_help =
    "usage: autoresearch report [--tag TAG] [--out DIR]\n"
    "\n"
    "Writes DIR/progress.svg and DIR/progress.png (every experiment a dot coloured by status,\n"
    "the running best as a line) and DIR/report.md (the kept experiments with descriptions,\n"
    "deltas, and val_bpb against the held-out test_bpb, so you can see whether the search\n"
    "overfits the validation split). DIR defaults to report/.\n";

static void md_cell(FILE *f, const char *s) {
    for (; s && *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n') fputc(' ', f);
        else fputc(*s, f);
    }
}

int report_main(int argc, char **argv) {
    const char *tag = NULL, *out = "report";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(report_help, stdout); return 0; }
        if (!strcmp(argv[i], "--tag") && i + 1 < argc) tag = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else die("report: unknown option '%s' (see --help)", argv[i]);
    }
    char *outdir = out[0] == '/' ? xstrdup(out) : NULL;
    if (!outdir) {   // relative to where the user is, before session_open moves to the root
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd)) die("cannot get the current directory: %s", strerror(errno));
        outdir = xasprintf("%s/%s", cwd, out);
    }
    Session S;
    session_open(&S);
    pick_session(&S, tag);
    View v = view_of(&S);
    if (v.n == 0) die("report: session %s has no experiments in results.jsonl", S.tag);
    if (mkdir_p(outdir) != 0) die("cannot create %s: %s", outdir, strerror(errno));

    PlotPoint *pts = xmalloc((size_t)v.n * sizeof *pts);
    for (int i = 0; i < v.n; i++) {
        const char *st = rec_get(v.r[i], "status");
        pts[i].status = !strcmp(st, "keep") ? 0 : !strcmp(st, "discard") ? 1 : 2;
        pts[i].val = rec_num(v.r[i], "val_bpb", NAN);
        pts[i].label = rec_get(v.r[i], "description");
        if (pts[i].status < 2 && !isfinite(pts[i].val)) pts[i].status = 2;
    }
    char title[200], err[512];
    snprintf(title, sizeof title, "autoresearch %s: %d experiments, %d kept", S.tag, v.n, v.keep);
    char *svg = xasprintf("%s/progress.svg", outdir), *png = xasprintf("%s/progress.png", outdir),
         *md = xasprintf("%s/report.md", outdir);
    if (plot_svg(svg, pts, v.n, title, err, sizeof err) != 0) die("%s", err);
    if (plot_png(png, pts, v.n, title, err, sizeof err) != 0) die("%s", err);

    AtomicFile af;
    if (atomic_open(&af, md) != 0) die("cannot write %s: %s", md, strerror(errno));
    FILE *f = af.f;
    const Record *base = NULL, *best = session_best(&S);
    for (int i = 0; i < v.n && !base; i++)
        if (!strcmp(rec_get(v.r[i], "status"), "keep")) base = v.r[i];
    fprintf(f, "# autoresearch report: session %s\n\n", S.tag);
    fprintf(f, "Branch `autoresearch/%s` from `%.7s`; budget %s%s; %d experiments: %d kept, %d discarded, "
            "%d crashed, %d invalid; %d agent failures.", S.tag, S.base, S.budget_mode,
            S.budget > 0 ? "" : " (train.c's default)", v.n, v.keep, v.discard, v.crash, v.invalid, v.agent_errors);
    if (S.budget > 0) fprintf(f, " Budget amount %g.", S.budget);
    if (S.sigma > 0) fprintf(f, " Run-to-run noise: sigma %.6f (2 sigma = %.6f); gate: %s.", S.sigma, 2 * S.sigma, S.gate);
    fprintf(f, "\n\n![progress](progress.png)\n\n");
    if (base && best) {
        double bv = rec_num(base, "val_bpb", NAN), bt = rec_num(base, "test_bpb", NAN);
        double ev = rec_num(best, "val_bpb", NAN), et = rec_num(best, "test_bpb", NAN);
        fprintf(f, "Baseline val_bpb %.6f, best %.6f at `%.7s`: %+.6f on validation", bv, ev, rec_get(best, "commit"), ev - bv);
        if (isfinite(bt) && isfinite(et)) {
            fprintf(f, ", %+.6f on the held-out test split.", et - bt);
            double gv = bv - ev, gt = bt - et;
            if (gv > 0 && gt < 0.5 * gv)
                fprintf(f, " **The test split improved by less than half as much as validation: the search may be "
                        "overfitting the validation split.**");
        } else {
            fprintf(f, " (no test_bpb recorded).");
        }
        fprintf(f, "\n\n");
    }
    report_estimates(f, &S);
    fprintf(f, "## Kept experiments\n\n| # | commit | description | val_bpb | Δ val | test_bpb | Δ test | memory GB | note |\n"
               "|---|---|---|---|---|---|---|---|---|\n");
    double pv = NAN, pt = NAN;
    for (int i = 0; i < v.n; i++) {
        const Record *r = v.r[i];
        if (strcmp(rec_get(r, "status"), "keep")) continue;
        double val = rec_num(r, "val_bpb", NAN), tb = rec_num(r, "test_bpb", NAN);
        char dv[32] = "", dt[32] = "", tbs[32] = "n/a";
        if (isfinite(pv)) snprintf(dv, sizeof dv, "%+.6f", val - pv);
        if (isfinite(pt) && isfinite(tb)) snprintf(dt, sizeof dt, "%+.6f", tb - pt);
        if (isfinite(tb)) snprintf(tbs, sizeof tbs, "%.6f", tb);
        fprintf(f, "| %.0f | `%.7s` | ", rec_num(r, "n", i + 1), rec_get(r, "commit"));
        md_cell(f, rec_get(r, "description"));
        fprintf(f, " | %.6f | %s | %s | %s | %.1f | ", val, dv, tbs, dt, rec_num(r, "memory_gb", 0));
        const char *sep = "";
        const char *so = rec_get(r, "seed_only");
        if (so && !strcmp(so, "true")) { fprintf(f, "%sseed-only change", sep); sep = "; "; }
        if (rec_get(r, "effect_lo")) {
            fprintf(f, "%seffect %.6f [%.6f, %.6f] over %.0f runs", sep, rec_num(r, "effect", 0), rec_num(r, "effect_lo", 0),
                    rec_num(r, "effect_hi", 0), rec_num(r, "est_runs", 1));
            sep = "; ";
        } else if (isfinite(pv) && S.sigma > 0 && pv - val <= 2 * S.sigma) { fprintf(f, "%swithin noise (< 2 sigma)", sep); sep = "; "; }
        const char *mm = rec_get(r, "val_mismatch");
        if (mm && !strcmp(mm, "true")) { fprintf(f, "%sprinted val_bpb differs from the fixed layer's", sep); sep = "; "; }
        fprintf(f, " |\n");
        pv = val;
        if (isfinite(tb)) pt = tb;
    }
    int nc = v.crash + v.invalid;
    if (nc) {
        fprintf(f, "\n## Crashed and invalid experiments\n\n| # | commit | status | reason | description |\n|---|---|---|---|---|\n");
        for (int i = 0; i < v.n; i++) {
            const Record *r = v.r[i];
            const char *st = rec_get(r, "status");
            if (!strcmp(st, "keep") || !strcmp(st, "discard")) continue;
            const char *c = rec_get(r, "commit");
            fprintf(f, "| %.0f | `%.7s` | %s | ", rec_num(r, "n", i + 1), c && *c ? c : "-", st);
            md_cell(f, rec_get(r, "reason"));
            fprintf(f, " | ");
            md_cell(f, rec_get(r, "description"));
            fprintf(f, " |\n");
        }
    }
    int seed_only = 0;
    for (int i = 0; i < v.n; i++) {
        const char *so = rec_get(v.r[i], "seed_only");
        seed_only += so && !strcmp(so, "true");
    }
    if (seed_only) fprintf(f, "\n%d experiment%s changed only a seed: their differences are noise, not research.\n",
                           seed_only, seed_only == 1 ? "" : "s");
    fprintf(f, "\nAll experiments: `results.tsv`; full records (summary fields, times, hashes, test_bpb): `results.jsonl`.\n");
    if (atomic_commit(&af, err, sizeof err) != 0) die("%s", err);
    printf("report: %s, %s, %s\n", md, png, svg);
    free(svg);
    free(png);
    free(md);
    free(pts);
    free(v.r);
    free(outdir);
    session_close(&S);
    return 0;
}

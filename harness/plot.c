// plot.c -- the progress plot of `autoresearch report`, as SVG and as PNG. Both come from
// one scene (lines, rectangles, dots, crosses, text) laid out once, so the two never
// disagree; the PNG back-end draws it into an RGB buffer with a built-in 5x7 font.
// What the plot shows: every experiment by status (kept: green dot; discarded: grey dot;
// crash/invalid: red cross on the floor of the plot), the running best as a step line,
// the baseline as a dashed line, the keep gate as a band under the running best (noise
// gate) or each run's confidence interval (when the records carry one), and a short label
// beside each kept change.
#include "harness.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <string.h>

#define PW 1000
#define PH 560
#define ML 124   // room for the tick labels and, left of them, the rotated axis label
#define MR 24
#define MT 72    // the title row and the legend row
#define MB 64

typedef unsigned char Rgb[3];
static const Rgb col_keep = {46, 160, 67}, col_discard = {150, 150, 150}, col_crash = {214, 39, 40},
                 col_axis = {60, 60, 60}, col_grid = {232, 232, 232}, col_text = {30, 30, 30},
                 col_base = {60, 110, 200}, col_band = {46, 160, 67}, col_ci = {90, 90, 90};

// ----------------------------------------------------------------------------
// The scene

typedef enum { P_LINE, P_RECT, P_DOT, P_CROSS, P_TEXT, P_VTEXT } PrimKind;
typedef struct {
    PrimKind k;
    double x0, y0, x1, y1, r;    // line/rect corners; dot/cross centre (x0,y0) and radius
    int width, dash, align;      // stroke width; dashed; text: 0 left, 1 centre, 2 right
    int size;                    // text: 2 for headings and ticks, 1 for the labels
    double alpha;                // rect fill opacity
    Rgb col;
    char *text, *tip;            // text; tooltip (SVG only)
} Prim;
typedef struct {
    Prim *p;
    int n, cap;
} Scene;

static Prim *add(Scene *s, PrimKind k, const unsigned char *col) {
    if (s->n == s->cap) s->p = xrealloc(s->p, (size_t)(s->cap = s->cap ? 2 * s->cap : 64) * sizeof *s->p);
    Prim *p = &s->p[s->n++];
    memset(p, 0, sizeof *p);
    p->k = k;
    p->width = 1;
    p->alpha = 1;
    memcpy(p->col, col, 3);
    return p;
}
static void s_line(Scene *s, double x0, double y0, double x1, double y1, int w, int dash, const unsigned char *c) {
    Prim *p = add(s, P_LINE, c);
    p->x0 = x0, p->y0 = y0, p->x1 = x1, p->y1 = y1, p->width = w, p->dash = dash;
}
static void s_rect(Scene *s, double x0, double y0, double x1, double y1, double alpha, const unsigned char *c) {
    Prim *p = add(s, P_RECT, c);
    p->x0 = fmin(x0, x1), p->y0 = fmin(y0, y1), p->x1 = fmax(x0, x1), p->y1 = fmax(y0, y1), p->alpha = alpha;
}
static Prim *s_mark(Scene *s, PrimKind k, double x, double y, double r, const unsigned char *c) {
    Prim *p = add(s, k, c);
    p->x0 = x, p->y0 = y, p->r = r;
    return p;
}
static void s_text(Scene *s, PrimKind k, double x, double y, int size, int align, const char *t, const unsigned char *c) {
    Prim *p = add(s, k, c);
    p->x0 = x, p->y0 = y, p->size = size, p->align = align, p->text = xstrdup(t);
}
static int text_width(const char *t, int size) { return (int)strlen(t) * 6 * size - size; }

typedef struct {
    double x0, x1, y0, y1;       // data ranges
} Axes;
static double px(const Axes *a, double x) { return ML + (x - a->x0) / (a->x1 - a->x0) * (PW - ML - MR); }
static double py(const Axes *a, double y) { return MT + (a->y1 - y) / (a->y1 - a->y0) * (PH - MT - MB); }

static double nice_step(double range, int target) {
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return mag * (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10);
}
static int decimals(double step) { int d = (int)ceil(-log10(step) - 1e-9); return d < 0 ? 0 : d > 8 ? 8 : d; }

static void widen(Axes *a, double v) {
    if (isfinite(v)) a->y0 = fmin(a->y0, v), a->y1 = fmax(a->y1, v);
}

static Scene layout(const PlotPoint *p, int n, const PlotInfo *info) {
    Scene s = {0};
    Axes a = {0.5, n + 0.5, INFINITY, -INFINITY};
    double best = NAN;
    for (int i = 0; i < n; i++) {
        if (p[i].status == 2) continue;
        widen(&a, p[i].val), widen(&a, p[i].lo), widen(&a, p[i].hi);
        if (p[i].status == 0) best = p[i].val, widen(&a, best - info->gate);
    }
    widen(&a, info->baseline);
    if (!isfinite(a.y0)) a.y0 = 0, a.y1 = 1;
    double r = a.y1 - a.y0;
    if (r < 1e-6) r = fmax(1e-3, fabs(a.y0) * 0.01);
    a.y0 -= 0.12 * r;   // room below for the crash marks
    a.y1 += 0.08 * r;
    double ystep = nice_step(a.y1 - a.y0, 5), xstep = fmax(1, round(nice_step(n, 8)));
    int dec = decimals(ystep);
    char buf[256];
    // frame, grid, ticks, axis labels, title
    for (double y = ceil(a.y0 / ystep) * ystep; y <= a.y1; y += ystep) {
        s_line(&s, ML, py(&a, y), PW - MR, py(&a, y), 1, 0, col_grid);
        snprintf(buf, sizeof buf, "%.*f", dec, y);
        s_text(&s, P_TEXT, ML - 8, py(&a, y), 2, 2, buf, col_text);
    }
    for (double x = xstep; x <= n; x += xstep) {
        s_line(&s, px(&a, x), PH - MB, px(&a, x), PH - MB + 5, 1, 0, col_axis);
        snprintf(buf, sizeof buf, "%.0f", x);
        s_text(&s, P_TEXT, px(&a, x), PH - MB + 16, 2, 1, buf, col_text);
    }
    s_text(&s, P_TEXT, (ML + PW - MR) / 2.0, PH - 18, 2, 1, "experiment", col_text);
    s_text(&s, P_VTEXT, 22, (MT + PH - MB) / 2.0, 2, 1, "val_bpb (lower is better)", col_text);
    s_text(&s, P_TEXT, 24, 18, 2, 0, info->title, col_text);
    // the gate band under the running best (a run had to land below it to be kept), then
    // the baseline, the running best, the intervals and the runs on top
    int have_ci = 0;
    for (int i = 0; i < n; i++) have_ci |= isfinite(p[i].lo) && isfinite(p[i].hi);
    best = NAN;
    double bx = 0;
    for (int i = 0; i <= n; i++) {
        if (i < n && p[i].status != 0) continue;
        double x = i < n ? i + 1 : n + 0.5;
        if (isfinite(best)) {
            if (info->gate > 0) s_rect(&s, px(&a, bx), py(&a, best), px(&a, x), py(&a, best - info->gate), 0.15, col_band);
            s_line(&s, px(&a, bx), py(&a, best), px(&a, x), py(&a, best), 2, 0, col_keep);
            if (i < n) s_line(&s, px(&a, x), py(&a, best), px(&a, x), py(&a, p[i].val), 2, 0, col_keep);
        }
        if (i < n) best = p[i].val, bx = x;
    }
    if (isfinite(info->baseline)) {
        s_line(&s, ML, py(&a, info->baseline), PW - MR, py(&a, info->baseline), 1, 1, col_base);
        snprintf(buf, sizeof buf, "baseline %.4f", info->baseline);
        s_text(&s, P_TEXT, PW - MR - 4, py(&a, info->baseline) - 8, 1, 2, buf, col_base);
    }
    for (int i = 0; i < n; i++) {
        if (p[i].status == 2 || !isfinite(p[i].lo) || !isfinite(p[i].hi)) continue;
        double x = px(&a, i + 1);
        s_line(&s, x, py(&a, p[i].lo), x, py(&a, p[i].hi), 1, 0, col_ci);
        s_line(&s, x - 3, py(&a, p[i].lo), x + 3, py(&a, p[i].lo), 1, 0, col_ci);
        s_line(&s, x - 3, py(&a, p[i].hi), x + 3, py(&a, p[i].hi), 1, 0, col_ci);
    }
    int first_keep = 1;
    for (int i = 0; i < n; i++) {
        double x = px(&a, i + 1);
        Prim *m;
        if (p[i].status == 2) {
            m = s_mark(&s, P_CROSS, x, PH - MB - 10, 4, col_crash);
            snprintf(buf, sizeof buf, "#%d crash/invalid: ", i + 1);
        } else {
            m = s_mark(&s, P_DOT, x, py(&a, p[i].val), p[i].status == 0 ? 5.5 : 4, p[i].status == 0 ? col_keep : col_discard);
            snprintf(buf, sizeof buf, "#%d %s %.6f: ", i + 1, p[i].status == 0 ? "keep" : "discard", p[i].val);
        }
        m->tip = xasprintf("%s%s", buf, p[i].label ? p[i].label : "");
        if (p[i].status != 0) continue;
        // a kept change's label: to its right, as far as the next kept change; the last one,
        // short of room at the right edge, to its left as far as the previous kept change.
        // Where even a few words do not fit, its number (the report's table has the rest).
        int j = i + 1, h = i - 1;
        while (j < n && p[j].status != 0) j++;
        while (h >= 0 && p[h].status != 0) h--;
        const char *l = first_keep ? "baseline" : p[i].label ? p[i].label : "";
        first_keep = 0;
        double room = (j < n ? px(&a, j + 1) : PW - MR) - x - 12;
        double lroom = h >= 0 ? x - px(&a, h + 1) - 12 : x - ML - 12;
        int left = j == n && room < 6.0 * (double)strlen(l) && lroom > room;
        int chars = (int)fmin(36, (left ? lroom : room) / 6);
        if (!*l) continue;
        if ((int)strlen(l) <= chars) snprintf(buf, sizeof buf, "%s", l);
        else if (chars >= 8) snprintf(buf, sizeof buf, "%.*s..", chars - 2, l);
        else left = 0, snprintf(buf, sizeof buf, "#%d", i + 1);
        s_text(&s, P_TEXT, left ? x - 8 : x + 7, py(&a, p[i].val) - 9, 1, left ? 2 : 0, buf, col_keep);
    }
    s_line(&s, ML, MT, PW - MR, MT, 1, 0, col_axis);
    s_line(&s, ML, PH - MB, PW - MR, PH - MB, 1, 0, col_axis);
    s_line(&s, ML, MT, ML, PH - MB, 1, 0, col_axis);
    s_line(&s, PW - MR, MT, PW - MR, PH - MB, 1, 0, col_axis);
    // legend row
    double lx = 24, ly = 48;   // the full width: six entries at the PNG font's scale 2
    s_mark(&s, P_DOT, lx + 5, ly, 5.5, col_keep);
    s_text(&s, P_TEXT, lx + 16, ly, 2, 0, "keep", col_text);
    lx += 16 + text_width("keep", 2) + 22;
    s_mark(&s, P_DOT, lx + 5, ly, 4, col_discard);
    s_text(&s, P_TEXT, lx + 16, ly, 2, 0, "discard", col_text);
    lx += 16 + text_width("discard", 2) + 22;
    s_mark(&s, P_CROSS, lx + 5, ly, 4, col_crash);
    s_text(&s, P_TEXT, lx + 16, ly, 2, 0, "crash/invalid", col_text);
    lx += 16 + text_width("crash/invalid", 2) + 22;
    s_line(&s, lx, ly, lx + 24, ly, 1, 1, col_base);
    s_text(&s, P_TEXT, lx + 30, ly, 2, 0, "baseline", col_text);
    lx += 30 + text_width("baseline", 2) + 22;
    if (info->gate > 0) {
        s_rect(&s, lx, ly - 6, lx + 24, ly + 6, 0.15, col_band);
        snprintf(buf, sizeof buf, "gate %.4f", info->gate);
        s_text(&s, P_TEXT, lx + 30, ly, 2, 0, buf, col_text);
        lx += 30 + text_width(buf, 2) + 22;
    }
    if (have_ci) {
        s_line(&s, lx + 12, ly - 7, lx + 12, ly + 7, 1, 0, col_ci);
        s_text(&s, P_TEXT, lx + 22, ly, 2, 0, "95% interval", col_text);
    }
    return s;
}

static void scene_free(Scene *s) {
    for (int i = 0; i < s->n; i++) free(s->p[i].text), free(s->p[i].tip);
    free(s->p);
}

// ----------------------------------------------------------------------------
// SVG

static void xml_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else if ((unsigned char)*s >= 32 || *s == '\t') fputc(*s, f);
    }
}

int plot_svg(const char *path, const PlotPoint *pts, int n, const PlotInfo *info, char *err, size_t errlen) {
    AtomicFile af;
    if (atomic_open(&af, path) != 0) { snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno)); return -1; }
    FILE *f = af.f;
    Scene s = layout(pts, n, info);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\">\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", PW, PH, PW, PH, PW, PH);
    static const char *anchor[] = {"start", "middle", "end"};
    for (int i = 0; i < s.n; i++) {
        const Prim *p = &s.p[i];
        char rgb[32];
        snprintf(rgb, sizeof rgb, "rgb(%d,%d,%d)", p->col[0], p->col[1], p->col[2]);
        if (p->k == P_LINE)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"%d\"%s/>\n",
                    p->x0, p->y0, p->x1, p->y1, rgb, p->width, p->dash ? " stroke-dasharray=\"6 4\"" : "");
        else if (p->k == P_RECT)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" fill-opacity=\"%.2f\"/>\n",
                    p->x0, p->y0, p->x1 - p->x0, p->y1 - p->y0, rgb, p->alpha);
        else if (p->k == P_DOT)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\">", p->x0, p->y0, p->r, rgb);
        else if (p->k == P_CROSS)
            fprintf(f, "<path d=\"M%.1f %.1fl%.0f %.0fm0 -%.0fl-%.0f %.0f\" stroke=\"%s\" stroke-width=\"2\">",
                    p->x0 - p->r, p->y0 - p->r, 2 * p->r, 2 * p->r, 2 * p->r, 2 * p->r, 2 * p->r, rgb);
        else {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" fill=\"%s\" text-anchor=\"%s\" dominant-baseline=\"middle\"",
                    p->x0, p->y0, p->size == 2 ? 13 : 10, rgb, anchor[p->align]);
            if (p->k == P_VTEXT) fprintf(f, " transform=\"rotate(-90 %.1f %.1f)\"", p->x0, p->y0);
            fputc('>', f);
            xml_escape(f, p->text);
            fputs("</text>\n", f);
        }
        if (p->k == P_DOT || p->k == P_CROSS) {
            if (p->tip) { fputs("<title>", f); xml_escape(f, p->tip); fputs("</title>", f); }
            fprintf(f, "</%s>\n", p->k == P_DOT ? "circle" : "path");
        }
    }
    fprintf(f, "</svg>\n");
    scene_free(&s);
    return atomic_commit(&af, err, errlen);
}

// ----------------------------------------------------------------------------
// PNG: an RGB canvas, lines, dots, and a 5x7 bitmap font

typedef struct {
    int w, h;
    unsigned char *px;   // (h, w, 3)
} Canvas;

static void put(Canvas *c, int x, int y, const unsigned char *col, double alpha) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    unsigned char *d = c->px + 3 * ((size_t)y * c->w + x);
    for (int k = 0; k < 3; k++) d[k] = (unsigned char)lround(alpha * col[k] + (1 - alpha) * d[k]);
}
static void fill_rect(Canvas *c, int x0, int y0, int x1, int y1, const unsigned char *col, double alpha) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(c, x, y, col, alpha);
}

// Bresenham with a square brush of the given width; dashed: 6 pixels on, 4 off.
static void line(Canvas *c, double fx0, double fy0, double fx1, double fy1, int width, int dash, const unsigned char *col) {
    int x0 = (int)lround(fx0), y0 = (int)lround(fy0), x1 = (int)lround(fx1), y1 = (int)lround(fy1);
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    int lo = -(width - 1) / 2, hi = width / 2;
    for (int k = 0;; k++) {
        if (!dash || k % 10 < 6) fill_rect(c, x0 + lo, y0 + lo, x0 + hi, y0 + hi, col, 1);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) { e += dy; x0 += sx; }
        if (e2 <= dx) { e += dx; y0 += sy; }
    }
}

// 5x7 glyphs, one byte a row (low 5 bits, MSB left); text is drawn lowercase. g p q y are
// drawn 2 rows lower (descenders).
static const struct { char ch; unsigned char rows[7]; } font[] = {
    {'0', {14, 17, 19, 21, 25, 17, 14}}, {'1', {4, 12, 4, 4, 4, 4, 14}},  {'2', {14, 17, 1, 2, 4, 8, 31}},
    {'3', {31, 2, 4, 2, 1, 17, 14}},     {'4', {2, 6, 10, 18, 31, 2, 2}}, {'5', {31, 16, 30, 1, 1, 17, 14}},
    {'6', {6, 8, 16, 30, 17, 17, 14}},   {'7', {31, 1, 2, 4, 8, 8, 8}},   {'8', {14, 17, 17, 14, 17, 17, 14}},
    {'9', {14, 17, 17, 15, 1, 2, 12}},   {'.', {0, 0, 0, 0, 0, 12, 12}},  {'-', {0, 0, 0, 31, 0, 0, 0}},
    {'+', {0, 4, 4, 31, 4, 4, 0}},       {':', {0, 12, 12, 0, 12, 12, 0}}, {'_', {0, 0, 0, 0, 0, 0, 31}},
    {'/', {0, 1, 2, 4, 8, 16, 0}},       {'(', {2, 4, 8, 8, 8, 4, 2}},    {')', {8, 4, 2, 2, 2, 4, 8}},
    {'%', {24, 25, 2, 4, 8, 19, 3}},     {'=', {0, 0, 31, 0, 31, 0, 0}},  {',', {0, 0, 0, 0, 12, 4, 8}},
    {'#', {10, 10, 31, 10, 31, 10, 10}}, {'>', {8, 4, 2, 1, 2, 4, 8}},    {'<', {2, 4, 8, 16, 8, 4, 2}},
    {'\'', {4, 4, 8, 0, 0, 0, 0}},       {'*', {0, 4, 21, 14, 21, 4, 0}}, {'!', {4, 4, 4, 4, 4, 0, 4}},
    {'[', {14, 8, 8, 8, 8, 8, 14}},      {']', {14, 2, 2, 2, 2, 2, 14}},  {'"', {10, 10, 0, 0, 0, 0, 0}},
    {'?', {14, 17, 1, 2, 4, 0, 4}},      {'&', {12, 18, 20, 8, 21, 18, 13}}, {'|', {4, 4, 4, 4, 4, 4, 4}},
    {';', {0, 12, 12, 0, 12, 4, 8}},
    {'a', {0, 0, 14, 1, 15, 17, 15}},    {'b', {16, 16, 22, 25, 17, 17, 30}}, {'c', {0, 0, 14, 16, 16, 17, 14}},
    {'d', {1, 1, 13, 19, 17, 17, 15}},   {'e', {0, 0, 14, 17, 31, 16, 14}}, {'f', {6, 9, 8, 28, 8, 8, 8}},
    {'g', {15, 17, 17, 17, 15, 1, 14}},  {'h', {16, 16, 22, 25, 17, 17, 17}}, {'i', {4, 0, 12, 4, 4, 4, 14}},
    {'j', {2, 0, 6, 2, 2, 18, 12}},      {'k', {16, 16, 18, 20, 24, 20, 18}}, {'l', {12, 4, 4, 4, 4, 4, 14}},
    {'m', {0, 0, 26, 21, 21, 17, 17}},   {'n', {0, 0, 22, 25, 17, 17, 17}}, {'o', {0, 0, 14, 17, 17, 17, 14}},
    {'p', {30, 17, 17, 17, 30, 16, 16}}, {'q', {15, 17, 17, 17, 15, 1, 1}}, {'r', {0, 0, 22, 25, 16, 16, 16}},
    {'s', {0, 0, 14, 16, 14, 1, 30}},    {'t', {8, 8, 28, 8, 8, 9, 6}},   {'u', {0, 0, 17, 17, 17, 19, 13}},
    {'v', {0, 0, 17, 17, 17, 10, 4}},    {'w', {0, 0, 17, 17, 21, 21, 10}}, {'x', {0, 0, 17, 10, 4, 10, 17}},
    {'y', {17, 17, 17, 17, 15, 1, 14}},  {'z', {0, 0, 31, 2, 4, 8, 31}},
};

// Draws text centred vertically on y, scale s; align: 0 left, 1 centre, 2 right. vertical:
// rotated 90 degrees counter-clockwise, centred on (x, y).
static void text(Canvas *c, const Prim *p) {
    int s = p->size, adv = 6 * s, w = text_width(p->text, s);
    int x = (int)lround(p->x0), y = (int)lround(p->y0) - 7 * s / 2;
    if (p->k == P_VTEXT) x -= 7 * s / 2, y = (int)lround(p->y0) + w / 2;
    else if (p->align == 1) x -= w / 2;
    else if (p->align == 2) x -= w;
    for (const char *t = p->text; *t; t++) {
        char ch = (char)tolower((unsigned char)*t);
        int desc = strchr("gpqy", ch) ? 2 * s : 0;
        for (size_t g = 0; g < sizeof font / sizeof *font; g++) {
            if (font[g].ch != ch) continue;
            for (int r = 0; r < 7; r++)
                for (int b = 0; b < 5; b++) {
                    if (!(font[g].rows[r] & (16 >> b))) continue;
                    if (p->k == P_VTEXT)
                        fill_rect(c, x + desc + r * s, y - b * s - s + 1, x + desc + r * s + s - 1, y - b * s, p->col, 1);
                    else
                        fill_rect(c, x + b * s, y + desc + r * s, x + b * s + s - 1, y + desc + r * s + s - 1, p->col, 1);
                }
            break;
        }
        if (p->k == P_VTEXT) y -= adv;
        else x += adv;
    }
}

static void draw(Canvas *c, const Prim *p) {
    if (p->k == P_LINE) line(c, p->x0, p->y0, p->x1, p->y1, p->width, p->dash, p->col);
    else if (p->k == P_RECT)
        fill_rect(c, (int)lround(p->x0), (int)lround(p->y0), (int)lround(p->x1), (int)lround(p->y1), p->col, p->alpha);
    else if (p->k == P_CROSS) {
        line(c, p->x0 - p->r, p->y0 - p->r, p->x0 + p->r, p->y0 + p->r, 2, 0, p->col);
        line(c, p->x0 - p->r, p->y0 + p->r, p->x0 + p->r, p->y0 - p->r, 2, 0, p->col);
    } else if (p->k == P_DOT) {
        for (int y = (int)floor(p->y0 - p->r); y <= (int)ceil(p->y0 + p->r); y++)
            for (int x = (int)floor(p->x0 - p->r); x <= (int)ceil(p->x0 + p->r); x++)
                if ((x - p->x0) * (x - p->x0) + (y - p->y0) * (y - p->y0) <= p->r * p->r) put(c, x, y, p->col, 1);
    } else {
        text(c, p);
    }
}

int plot_png(const char *path, const PlotPoint *pts, int n, const PlotInfo *info, char *err, size_t errlen) {
    Canvas c = {PW, PH, xmalloc((size_t)PW * PH * 3)};
    memset(c.px, 255, (size_t)PW * PH * 3);
    Scene s = layout(pts, n, info);
    for (int i = 0; i < s.n; i++) draw(&c, &s.p[i]);
    scene_free(&s);
    AtomicFile af;
    int rc = -1;
    if (atomic_open(&af, path) != 0) { snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno)); goto out; }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop pinfo = png ? png_create_info_struct(png) : NULL;
    if (!png || !pinfo || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &pinfo);
        atomic_abort(&af);
        snprintf(err, errlen, "cannot encode %s (libpng)", path);
        goto out;
    }
    png_init_io(png, af.f);
    png_set_IHDR(png, pinfo, (png_uint_32)c.w, (png_uint_32)c.h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, pinfo);
    for (int y = 0; y < c.h; y++) png_write_row(png, c.px + 3 * (size_t)y * c.w);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &pinfo);
    rc = atomic_commit(&af, err, errlen);
out:
    free(c.px);
    return rc;
}

// report.c -- `autoresearch report`: the progress plot (plot.c) and the morning report, as
// Markdown and as an HTML page with the plot inline. Both pages come from one writer with two
// back-ends (reportdoc.c), so they say the same thing. The report is meant to say how sure it
// is: every experiment, the noise and confirmation runs, throughput per run, intervals where
// the records carry them, and every warning a careful reader would want before trusting a keep.
#include "harness.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *report_help =
    "usage: autoresearch report [--tag TAG] [--out DIR]\n"
    "\n"
    "Writes DIR/progress.svg and DIR/progress.png (every experiment by status, the running\n"
    "best, the baseline, the gate band or confidence intervals, a label per kept change),\n"
    "DIR/report.md and the same as DIR/report.html with the plot inline: every experiment\n"
    "with its throughput, the noise and confirmation runs, the warnings (drift, seed-only\n"
    "changes, test lagging validation, slow runs, missing sandbox), and the diff of each\n"
    "kept change. DIR defaults to report/.\n";

int report_main(int argc, char **argv) {
    const char *tag_arg = NULL, *out = "report";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(report_help, stdout); return 0; }
        if (!strcmp(argv[i], "--tag") && i + 1 < argc) tag_arg = argv[++i];
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
    pick_session(&S, tag_arg);
    Report R = {.S = &S, .v = session_view(&S), .best = session_best(&S)};
    const View *v = &R.v;
    if (v->n == 0) die("report: session %s has no experiments in results.jsonl", S.tag);
    if (mkdir_p(outdir) != 0) die("cannot create %s: %s", outdir, strerror(errno));
    for (int i = 0; i < v->n && !R.base; i++)
        if (is_keep(v->r[i])) R.base = v->r[i];
    double *tps = xmalloc((size_t)v->n * sizeof *tps);
    int nt = 0;
    for (int i = 0; i < v->n; i++)
        if (rec_num(v->r[i], "tokens_per_sec", 0) > 0) tps[nt++] = rec_num(v->r[i], "tokens_per_sec", 0);
    qsort(tps, (size_t)nt, sizeof *tps, cmp_double);
    R.median_tps = nt ? (nt % 2 ? tps[nt / 2] : 0.5 * (tps[nt / 2 - 1] + tps[nt / 2])) : 0;
    free(tps);

    PlotPoint *pts = xmalloc((size_t)v->n * sizeof *pts);
    for (int i = 0; i < v->n; i++) {
        const Record *r = v->r[i];
        const char *st = str(r, "status");
        double m = rec_num(r, "est_val_bpb", NAN), se = rec_num(r, "est_se", NAN);
        pts[i] = (PlotPoint){rec_num(r, "val_bpb", NAN), !strcmp(st, "keep") ? 0 : !strcmp(st, "discard") ? 1 : 2,
                             rec_get(r, "description"), m - 1.96 * se, m + 1.96 * se};
        if (pts[i].status < 2 && !isfinite(pts[i].val)) pts[i].status = 2;
    }
    int improvements = v->keep > 0 ? v->keep - 1 : 0;
    char title[200], err[512];
    snprintf(title, sizeof title, "autoresearch %s: %d experiments, %d kept improvement%s over the baseline", S.tag,
             v->n, improvements, improvements == 1 ? "" : "s");
    PlotInfo info = {title, R.base ? rec_num(R.base, "val_bpb", NAN) : NAN, !strcmp(S.gate, "noise") ? 2 * S.sigma : 0};
    char *svg = xasprintf("%s/progress.svg", outdir), *png = xasprintf("%s/progress.png", outdir),
         *md = xasprintf("%s/report.md", outdir), *html = xasprintf("%s/report.html", outdir);
    if (plot_svg(svg, pts, v->n, &info, err, sizeof err) != 0) die("%s", err);
    if (plot_png(png, pts, v->n, &info, err, sizeof err) != 0) die("%s", err);
    char *svg_text = read_file(svg, NULL);
    R.svg = svg_text;
    for (int k = 0; k < 2; k++) {
        AtomicFile af;
        const char *path = k ? html : md;
        if (atomic_open(&af, path) != 0) die("cannot write %s: %s", path, strerror(errno));
        Doc d = {af.f, k};
        write_doc(&d, &R);
        if (atomic_commit(&af, err, sizeof err) != 0) die("%s", err);
    }
    printf("report: %s, %s, %s, %s\n", md, html, png, svg);
    free(svg_text);
    free(svg);
    free(png);
    free(md);
    free(html);
    free(pts);
    view_free(&R.v);
    free(outdir);
    session_close(&S);
    return 0;
}

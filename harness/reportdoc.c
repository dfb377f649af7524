// reportdoc.c -- the morning report's page (report.h): one writer with two back-ends,
// Markdown and HTML, so both pages say the same thing, and the sections it is made of: the
// summary, the estimates, the warnings, every experiment, the noise and confirmation runs,
// the kept changes with their diffs. report.c gathers what it needs and writes the files.
#include "dataset.h"
#include "harness.h"
#include "report.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// One writer, two formats

static void esc(Doc *d, const char *s, int cell) {
    for (; s && *s; s++) {
        if (d->html && *s == '<') fputs("&lt;", d->f);
        else if (d->html && *s == '>') fputs("&gt;", d->f);
        else if (d->html && *s == '&') fputs("&amp;", d->f);
        else if (!d->html && cell && *s == '|') fputs("\\|", d->f);
        else if (cell && *s == '\n') fputc(' ', d->f);
        else fputc(*s, d->f);
    }
}
// Formatted text, escaped for the format (descriptions and reasons come from the agent).
static void __attribute__((format(printf, 2, 3))) text(Doc *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s;
    if (vasprintf(&s, fmt, ap) < 0) die("out of memory");
    va_end(ap);
    esc(d, s, 0);
    free(s);
}
static void tag(Doc *d, const char *md, const char *html) { fputs(d->html ? html : md, d->f); }
static void heading(Doc *d, int level, const char *t) {
    if (d->html) fprintf(d->f, "<h%d>", level); else fprintf(d->f, "\n%.*s ", level, "###");
    esc(d, t, 0);
    fputs(d->html ? "</h" : "\n\n", d->f);
    if (d->html) fprintf(d->f, "%d>\n", level);
}
static void table(Doc *d, const char *const *cols) {
    tag(d, "|", "<table><tr>");
    for (int i = 0; cols[i]; i++) { tag(d, " ", "<th>"); esc(d, cols[i], 1); tag(d, " |", "</th>"); }
    tag(d, "\n|", "</tr>\n");
    for (int i = 0; !d->html && cols[i]; i++) fputs("---|", d->f);
    tag(d, "\n", "");
}
static void row(Doc *d) { tag(d, "|", "<tr>"); }
static void __attribute__((format(printf, 2, 3))) cell(Doc *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s;
    if (vasprintf(&s, fmt, ap) < 0) die("out of memory");
    va_end(ap);
    tag(d, " ", "<td>");
    esc(d, s, 1);
    tag(d, " |", "</td>");
    free(s);
}
static void blank(Doc *d) { tag(d, "  |", "<td></td>"); }
// A number field of r in a cell, in the given format; empty when r lacks it.
static void num_cell(Doc *d, const Record *r, const char *key, const char *fmt) {
    if (!rec_get(r, key)) { blank(d); return; }
    char buf[64];
    snprintf(buf, sizeof buf, fmt, rec_num(r, key, 0));
    cell(d, "%s", buf);
}
static void row_end(Doc *d) { tag(d, "\n", "</tr>\n"); }
static void table_end(Doc *d) { tag(d, "\n", "</table>\n"); }
static void para(Doc *d) { tag(d, "", "<p>"); }
static void para_end(Doc *d) { tag(d, "\n\n", "</p>\n"); }

// ----------------------------------------------------------------------------
// The report

#define DIFF_LINES 200   // a kept change's diff beyond this is cut (the commit has it all)

// The entropy floor of the data set r ran on (NaN: none known); a run below it is impossible.
static double floor_of(const Record *r) {
    static char last[128];
    static double floor = NAN;
    const char *id = str(r, "dataset");
    if (!*id) return NAN;
    if (strcmp(id, last)) snprintf(last, sizeof last, "%s", id), floor = dataset_floor_of(id);   // one read per data set
    return floor;
}
static int slow_run(const Report *R, const Record *r) {
    double t = rec_num(r, "tokens_per_sec", 0);
    return R->median_tps > 0 && t > 0 && t < 0.5 * R->median_tps;
}
static int within_noise(const Report *R, const Record *r) {
    if (rec_get(r, "effect_lo")) return 0;   // kept by the sequential test: its interval is the answer
    return is_keep(r) && r != R->base && R->S->sigma > 0 && rec_get(r, "delta") && -rec_num(r, "delta", 0) <= 2 * R->S->sigma;
}

static void notes(Doc *d, const Report *R, const Record *r) {
    char buf[512] = "";
    size_t n = 0;
#define NOTE(...) n += (size_t)snprintf(buf + n, n < sizeof buf ? sizeof buf - n : 0, "%s", n ? "; " : ""), \
                  n += (size_t)snprintf(buf + n, n < sizeof buf ? sizeof buf - n : 0, __VA_ARGS__)
    if (rec_get(r, "reason")) NOTE("%s", str(r, "reason"));
    if (rec_true(r, "seed_only")) NOTE("seed-only change");
    if (within_noise(R, r)) NOTE("within noise (< 2 sigma)");
    if (rec_true(r, "fast_keep")) NOTE("ran %.2fx faster than the best's runs", rec_num(r, "speed_ratio", 0));
    if (slow_run(R, r)) NOTE("below half the median throughput");
    if (rec_true(r, "val_mismatch")) NOTE("printed val_bpb differs from the fixed layer's");
    if (rec_true(r, "drift")) NOTE("drift%s%s", rec_get(r, "drift_reason") ? ": " : "", str(r, "drift_reason"));
    if (!strcmp(str(r, "sandbox"), "none")) NOTE("sandbox: none");
    if (rec_num(r, "val_bpb", INFINITY) < floor_of(r)) NOTE("below the data set's entropy floor");
#undef NOTE
    cell(d, "%s", buf);
}

static void interval(char *out, size_t n, const Record *r) {
    double m = rec_num(r, "est_val_bpb", NAN), se = rec_num(r, "est_se", NAN);
    if (isfinite(m) && isfinite(se)) snprintf(out, n, "%.6f ± %.6f (%.0f runs)", m, 1.96 * se, rec_num(r, "est_runs", 0));
    else out[0] = 0;
}

static void warnings(Doc *d, const Report *R) {
    const View *v = &R->v;
    int count = 0;
    heading(d, 2, "Warnings");
    tag(d, "", "<ul>\n");
#define WARN(...) (count++, tag(d, "- ", "<li>"), text(d, __VA_ARGS__), tag(d, "\n", "</li>\n"))
    int drift = 0, seed = 0, seed_kept = 0, nosandbox = 0, below = 0, slow = 0, fast = 0, noisy = 0;
    const char *drift_why = NULL;
    for (int i = 0; i < v->n + v->nruns; i++) {
        const Record *r = i < v->n ? v->r[i] : v->runs[i - v->n];
        drift += rec_true(r, "drift");
        if (rec_true(r, "drift") && rec_get(r, "drift_reason")) drift_why = rec_get(r, "drift_reason");
        nosandbox += !strcmp(str(r, "sandbox"), "none");
        below += rec_num(r, "val_bpb", INFINITY) < floor_of(r);
        if (i >= v->n) continue;
        seed += rec_true(r, "seed_only");
        seed_kept += rec_true(r, "seed_only") && is_keep(r);
        slow += slow_run(R, r);
        fast += rec_true(r, "fast_keep");
        noisy += within_noise(R, r);
    }
    if (drift) WARN("Drift: %d run%s flagged drift (the same code scoring differently over the session%s%s): "
                    "compare keeps across it with care.", drift, drift == 1 ? "" : "s", drift_why ? "; latest: " : "",
                    drift_why ? drift_why : "");
    if (seed) WARN("%d experiment%s changed only a seed (%d kept): their differences are noise, not research.",
                   seed, seed == 1 ? "" : "s", seed_kept);
    if (R->base && R->best && R->base != R->best) {
        double gv = rec_num(R->base, "val_bpb", NAN) - rec_num(R->best, "val_bpb", NAN);
        double gt = record_test_bpb(R->S, R->base) - record_test_bpb(R->S, R->best);
        if (isfinite(gt) && gv > 0 && gt < 0.5 * gv)
            WARN("Test lags validation: the held-out test split improved by %.6f, less than half the validation "
                 "gain of %.6f: the search may be overfitting the validation split.", gt, gv);
    }
    if (below) WARN("%d run%s scored below the data set's entropy floor: impossible for an honest model, check "
                    "those runs.", below, below == 1 ? "" : "s");
    if (slow) WARN("%d experiment%s ran at less than half the session's median throughput (%.0f tokens/s): in a "
                   "time budget their val_bpb says more about the machine's load than the change.",
                   slow, slow == 1 ? "" : "s", R->median_tps);
    if (fast) WARN("%d keep%s ran much faster than the runs they were compared with: part of the gain may be a "
                   "quieter machine.", fast, fast == 1 ? "" : "s");
    if (noisy) WARN("%d keep%s improved by less than 2 sigma of the run-to-run noise.", noisy, noisy == 1 ? "" : "s");
    if (nosandbox) WARN("%d run%s had no sandbox (sandbox: none): train.c could read what it should not.",
                        nosandbox, nosandbox == 1 ? "" : "s");
    if (R->S->sigma <= 0) WARN("No run-to-run noise measured (autoresearch noise): nothing here says which gains "
                               "are larger than chance.");
    if (!count) WARN("None.");
#undef WARN
    tag(d, "", "</ul>\n");
}

// A run's closing cells: steps, tokens (with_tokens), tokens/s, wall seconds, notes.
static void run_cells(Doc *d, const Report *R, const Record *r, int with_tokens) {
    num_cell(d, r, "steps", "%.0f");
    if (with_tokens) num_cell(d, r, "tokens", "%.0f");
    num_cell(d, r, "tokens_per_sec", "%.0f");
    num_cell(d, r, "wall_seconds", "%.1f");
    notes(d, R, r);
    row_end(d);
}

static void experiments_table(Doc *d, const Report *R) {
    heading(d, 2, "Experiments");
    static const char *cols[] = {"#", "commit", "status", "description", "val_bpb", "Δ vs best", "95% interval",
                                 "steps", "tokens", "tokens/s", "wall s", "notes", NULL};
    table(d, cols);
    for (int i = 0; i < R->v.n; i++) {
        const Record *r = R->v.r[i];
        int ran = rec_get(r, "val_bpb") != NULL;
        char ci[96];
        interval(ci, sizeof ci, r);
        row(d);
        cell(d, "%.0f", rec_num(r, "n", i + 1));
        cell(d, "%.7s", *str(r, "commit") ? str(r, "commit") : "-");
        cell(d, "%s", str(r, "status"));
        cell(d, "%s", r == R->base ? "baseline" : str(r, "description"));
        ran ? cell(d, "%.6f", rec_num(r, "val_bpb", 0)) : cell(d, "-");
        num_cell(d, r, "delta", "%+.6f");
        cell(d, "%s", ci);
        run_cells(d, R, r, 1);
    }
    table_end(d);
}

static void runs_table(Doc *d, const Report *R) {
    heading(d, 2, "Noise and confirmation runs");
    para(d);
    if (!R->v.nruns) text(d, "None: the session measured no run-to-run noise and confirmed no keep.");
    else if (R->S->sigma > 0)
        text(d, "Run-to-run noise: sigma %.6f of val_bpb (2 sigma = %.6f), from the noise runs below; the gate was %s.",
             R->S->sigma, 2 * R->S->sigma, R->S->gate);
    else text(d, "No sigma recorded for the session.");
    para_end(d);
    if (!R->v.nruns) return;
    static const char *cols[] = {"kind", "run", "commit", "seed", "val_bpb", "steps", "tokens/s", "wall s", "notes", NULL};
    table(d, cols);
    for (int i = 0; i < R->v.nruns; i++) {
        const Record *r = R->v.runs[i];
        row(d);
        cell(d, "%s", str(r, "kind"));
        rec_get(r, "noise_run") ? cell(d, "%.0f/%.0f", rec_num(r, "noise_run", 0), rec_num(r, "noise_runs", 0)) : blank(d);
        cell(d, "%.7s", str(r, "commit"));
        cell(d, "%s", str(r, "seed"));
        rec_get(r, "val_bpb") ? cell(d, "%.6f", rec_num(r, "val_bpb", 0)) : cell(d, "crash");
        run_cells(d, R, r, 0);
    }
    table_end(d);
}

static void kept_changes(Doc *d, const Report *R) {
    heading(d, 2, "Kept changes");
    static const char *cols[] = {"#", "commit", "description", "val_bpb", "Δ val", "effect (95% CI)", "test_bpb", "Δ test", NULL};
    table(d, cols);
    double pv = NAN, pt = NAN;
    for (int i = 0; i < R->v.n; i++) {
        const Record *r = R->v.r[i];
        if (!is_keep(r)) continue;
        double val = rec_num(r, "val_bpb", NAN), tb = record_test_bpb(R->S, r);
        row(d);
        cell(d, "%.0f", rec_num(r, "n", i + 1));
        cell(d, "%.7s", str(r, "commit"));
        cell(d, "%s", r == R->base ? "baseline" : str(r, "description"));
        cell(d, "%.6f", val);
        isfinite(pv) ? cell(d, "%+.6f", val - pv) : blank(d);
        rec_get(r, "effect") ? cell(d, "%.6f (%.6f .. %.6f)", rec_num(r, "effect", 0), rec_num(r, "effect_lo", NAN),
                                    rec_num(r, "effect_hi", NAN)) : blank(d);
        isfinite(tb) ? cell(d, "%.6f", tb) : cell(d, "n/a");
        isfinite(pt) && isfinite(tb) ? cell(d, "%+.6f", tb - pt) : blank(d);
        row_end(d);
        pv = val;
        if (isfinite(tb)) pt = tb;
    }
    table_end(d);
    for (int i = 0; i < R->v.n; i++) {
        const Record *r = R->v.r[i];
        const char *c = str(r, "commit"), *p = str(r, "parent");
        if (!is_keep(r) || r == R->base || !*c) continue;
        char *h = xasprintf("#%.0f %.7s: %s", rec_num(r, "n", i + 1), c, str(r, "description"));
        heading(d, 3, h);
        free(h);
        char *diff = *p ? git_str("diff", "--no-color", p, c, "--", "train.c", NULL) : NULL;
        if (!diff) { para(d); text(d, "(diff unavailable: %s)", *p ? git_err : "no parent recorded"); para_end(d); continue; }
        int lines = 0;
        char *cut = diff;
        while (*cut && lines < DIFF_LINES) if (*cut++ == '\n') lines++;
        int more = *cut != 0;
        *cut = 0;
        tag(d, "```diff\n", "<pre><code>");
        esc(d, diff, 0);
        if (more) text(d, "%s... (cut at %d lines: git show %.7s)", lines ? "" : "\n", DIFF_LINES, c);
        tag(d, "\n```\n\n", "</code></pre>\n");
        free(diff);
    }
}

// The gate's estimates (gate.c): the total improvement with its interval, and the runs that
// confirmation and the rebaselines cost.
static void estimates(Doc *d, const Session *S) {
    GateSummary g;
    gate_summary(S, &g);
    if (!g.best.n || !g.base.n) return;
    para(d);
    text(d, "Estimates (mean of all runs of a commit): baseline %.6f over %d runs, best %.6f over %d runs",
         g.base.mean, g.base.n, g.best.mean, g.best.n);
    if (g.sigma > 0)
        text(d, "; total improvement %.6f, 95%% interval [%.6f, %.6f] (sigma %.6f pooled over %.0f degrees of "
             "freedom)", g.total.effect, g.total.lo, g.total.hi, g.sigma, g.dof);
    text(d, ". Runs: %d in all, %d of them confirmation runs, %d baseline/noise runs, %d rebaseline runs of the best.",
         g.runs, g.confirm_runs, g.noise_runs, g.rebaseline_runs);
    if (g.drifts) text(d, " Drift detected %d time%s (latest: %s).", g.drifts, g.drifts == 1 ? "" : "s", g.drift);
    para_end(d);
}

void write_doc(Doc *d, const Report *R) {
    const Session *S = R->S;
    const View *v = &R->v;
    char *title = xasprintf("autoresearch report: session %s", S->tag);
    if (d->html)
        fprintf(d->f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title><style>\n"
                "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1e1e1e}\n"
                "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px}\n"
                "th{background:#f2f2f2}pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:12px}\n"
                "svg{max-width:100%%;height:auto}\n</style></head><body>\n", title);
    else fprintf(d->f, "# %s\n", title);
    if (d->html) heading(d, 1, title);
    free(title);
    para(d);
    text(d, "Branch autoresearch/%s from %.7s; budget %s %s; %d experiments: %d kept (the baseline and %d "
         "improvement%s), %d discarded, %d crashed, %d invalid; %d agent failures; %d noise and %d confirmation runs.",
         S->tag, S->base, S->budget_mode, S->budget > 0 ? "" : "(train.c's default)", v->n, v->keep,
         v->keep > 0 ? v->keep - 1 : 0, v->keep == 2 ? "" : "s", v->discard, v->crash, v->invalid, v->agent_errors,
         v->noise, v->confirm);
    if (S->budget > 0) text(d, " Budget amount %g.", S->budget);
    char sb[300];
    session_sandbox(S, sb, sizeof sb);
    text(d, " Trainer sandbox: %s.", sb);
    para_end(d);
    if (d->html) fprintf(d->f, "<figure>\n%s</figure>\n", R->svg ? R->svg : "");
    else fprintf(d->f, "![progress](progress.png)\n\n");
    if (R->base && R->best) {
        double bv = rec_num(R->base, "val_bpb", NAN), ev = rec_num(R->best, "val_bpb", NAN);
        double bt = record_test_bpb(S, R->base), et = record_test_bpb(S, R->best);
        para(d);
        text(d, "Baseline val_bpb %.6f, best %.6f at %.7s: %+.6f on validation", bv, ev, str(R->best, "commit"), ev - bv);
        if (isfinite(bt) && isfinite(et)) text(d, ", %+.6f on the held-out test split", et - bt);
        else text(d, " (no test_bpb recorded)");
        if (S->sigma > 0 && ev < bv) text(d, "; the gain is %.1f sigma of the run-to-run noise.", (bv - ev) / S->sigma);
        else text(d, ".");
        double fl, gap, removed;
        if (dataset_floor_gap(str(R->best, "dataset"), bv, ev, &fl, &gap, &removed)) {
            text(d, " Entropy floor of the synthetic source %.6f: the best is %+.6f above it", fl, gap);
            if (isfinite(removed)) text(d, ", and the session removed %.1f%% of the baseline's excess over it", 100 * removed);
            text(d, ".");
        }
        para_end(d);
    }
    estimates(d, S);
    warnings(d, R);
    experiments_table(d, R);
    runs_table(d, R);
    kept_changes(d, R);
    para(d);
    text(d, "All experiments: results.tsv; full records (summary fields, times, hashes, throughput): results.jsonl%s",
         d->html ? "." : "; this report as a web page, the plot inline: report.html.");
    para_end(d);
    if (d->html) fputs("</body></html>\n", d->f);
}

// gate.c -- the keep decision: per-commit estimates, the session's noise, and the sequential
// test that decides keep or discard. Everything a newcomer needs to change the rule is here.
//
// Model. Each run of a commit gives val_bpb = mu(commit) + e, e ~ N(0, sigma^2), independent
// across runs with different seeds. A commit's estimate is the mean of all its runs in the
// session (baseline/experiment run, noise, confirm and rebaseline runs); sigma is the pooled
// within-commit standard deviation of the session (every commit with two or more runs adds
// its squared deviations and n-1 degrees of freedom), so it sharpens as the night goes on.
//
// The test: a truncated sequential probability ratio test (Wald, "Sequential tests of
// statistical hypotheses", 1945) on the estimated improvement D_k = mean(best) - mean(cand_k)
// after k runs of the candidate, Var(D_k) = v_k = sigma^2 (1/n_best + 1/k).
//   H0: the candidate is no better (true improvement 0); H1: it is better by delta = effect*sigma.
//   log LR_k = (delta * D_k - delta^2 / 2) / v_k    (the likelihood of the contrast D_k, which
//   removes the best's unknown mean; with sigma known it is a martingale under H0).
//   keep     when log LR_k >= log(1/alpha): by Ville's inequality P(ever keep | H0) <= alpha,
//            whatever the number of looks, so alpha is the false-keep rate;
//   discard  when log LR_k <= log(beta/(1-alpha)) (Wald's lower bound: "clearly not better"),
//            or when the candidate reaches max_runs runs without a keep (truncation only ever
//            turns keeps into discards, so it cannot raise the false-keep rate).
// Why the SPRT: among tests with the same error rates it needs the fewest runs on average
// (Wald & Wolfowitz 1948), and most research changes are no better than the best; those stop
// after one run, so the night's cost stays close to one run per experiment.
// Sigma is estimated, not known: with few degrees of freedom a z boundary keeps too often.
// Each look's boundary is therefore moved to the t scale at the same tail probability
// (D_k/se_k must exceed the t_nu quantile of Phi(z_k)), the usual studentisation of a
// group-sequential boundary; with many degrees of freedom it is the z boundary again.
#include "harness.h"
#include "util.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// The decision (a pure function: tests/test_gate.c simulates it)

void gate_defaults(GateParams *p) {
    p->alpha = 0.03;
    p->beta = 0.2;
    p->effect = 1.5;
    p->max_runs = 8;
}

// The boundary z_k for D_k/se_k at which log LR_k equals the log threshold a.
static double z_boundary(double a, double delta, double v) {
    return (a + delta * delta / (2 * v)) * sqrt(v) / delta;
}

// z boundary -> t boundary with the same upper tail probability.
static double studentise(double z, double dof) {
    if (!(dof > 0) || dof > 1e6) return z;
    double q = gsl_cdf_ugaussian_Q(z);
    if (q <= 0) return INFINITY;
    return gsl_cdf_tdist_Qinv(q, dof);
}

GateDecision gate_decide(const GateParams *p, const GateInput *in) {
    GateDecision d = {0};
    double s = in->sigma;
    d.effect = in->best_mean - in->cand_mean;
    d.se = s * sqrt(1.0 / in->best_n + 1.0 / in->cand_n);
    double tq = in->dof > 0 ? gsl_cdf_tdist_Qinv(0.025, in->dof) : gsl_cdf_ugaussian_Qinv(0.025);
    d.lo = d.effect - tq * d.se;   // two-sided 95% interval for the improvement
    d.hi = d.effect + tq * d.se;
    d.stat = d.se > 0 ? d.effect / d.se : (d.effect > 0 ? INFINITY : -INFINITY);
    double delta = p->effect * s, v = d.se * d.se;
    if (!(s > 0) || !(delta > 0)) {   // no noise measured: nothing to test against
        d.verdict = GATE_DISCARD;
        d.why = "no noise";
        return d;
    }
    d.llr = (delta * d.effect - delta * delta / 2) / v;
    d.keep_at = studentise(z_boundary(log(1 / p->alpha), delta, v), in->dof);
    d.discard_at = z_boundary(log(p->beta / (1 - p->alpha)), delta, v);
    if (in->dof > 0 && in->dof <= 1e6)   // the same tail probability on the t scale
        d.discard_at = -gsl_cdf_tdist_Qinv(gsl_cdf_ugaussian_P(d.discard_at), in->dof);
    if (d.stat >= d.keep_at) { d.verdict = GATE_KEEP; d.why = "better"; }
    else if (d.stat <= d.discard_at) { d.verdict = GATE_DISCARD; d.why = d.hi < 0 ? "worse" : "not better"; }
    else if (in->cand_n >= p->max_runs) { d.verdict = GATE_DISCARD; d.why = "noise"; }
    else { d.verdict = GATE_MORE; d.why = "confirm"; }
    return d;
}

void runstats_add(RunStats *s, double x) {
    s->n++;
    double d = x - s->mean;
    s->mean += d / s->n;
    s->m2 += d * (x - s->mean);
}

double runstats_se(const RunStats *s, double sigma) { return s->n > 0 ? sigma / sqrt(s->n) : INFINITY; }

// ----------------------------------------------------------------------------
// The ledger's side: which records are runs, per-commit estimates, the pooled sigma

// A successful training run of this session: its commit, or NULL.
static const char *run_commit(const Session *S, const Record *r) {
    const char *k = rec_get(r, "kind"), *st = rec_get(r, "status"), *c = rec_get(r, "commit");
    if (!rec_in_session(r, S->tag, NULL) || !k || !st || !c || !*c || !isfinite(rec_num(r, "val_bpb", NAN))) return NULL;
    if (!strcmp(k, "experiment")) return !strcmp(st, "keep") || !strcmp(st, "discard") ? c : NULL;
    if (!strcmp(k, "noise") || !strcmp(k, "confirm") || !strcmp(k, "rebaseline")) return !strcmp(st, "ok") ? c : NULL;
    return NULL;
}

RunStats commit_runs(const Session *S, const char *commit) {
    RunStats s = {0};
    for (int i = 0; commit && i < S->L.n; i++) {
        const char *c = run_commit(S, &S->L.r[i]);
        if (c && !strcmp(c, commit)) runstats_add(&s, rec_num(&S->L.r[i], "val_bpb", NAN));
    }
    return s;
}

void session_noise(const Session *S, const char *pending_commit, double pending_val, double *sigma, double *dof) {
    typedef struct { const char *commit; RunStats s; } Group;
    Group *g = xcalloc((size_t)S->L.n + 1, sizeof *g);
    int ng = 0;
    for (int i = 0; i <= S->L.n; i++) {
        const char *c = i < S->L.n ? run_commit(S, &S->L.r[i]) : pending_commit;
        if (!c || (i == S->L.n && !isfinite(pending_val))) continue;
        int j = 0;
        while (j < ng && strcmp(g[j].commit, c)) j++;
        if (j == ng) g[ng++].commit = c;
        runstats_add(&g[j].s, i < S->L.n ? rec_num(&S->L.r[i], "val_bpb", NAN) : pending_val);
    }
    double ss = 0, df = 0;
    for (int j = 0; j < ng; j++) ss += g[j].s.m2, df += g[j].s.n - 1;
    free(g);
    *sigma = df > 0 ? sqrt(ss / df) : 0;
    *dof = df;
}

long fresh_seed(const Session *S, const char *commit) {
    for (long seed = 1;; seed++) {
        int used = 0;
        for (int i = 0; i < S->L.n && !used; i++) {
            const Record *r = &S->L.r[i];
            const char *c = rec_get(r, "commit");
            used = rec_in_session(r, S->tag, NULL) && c && !strcmp(c, commit) && rec_get(r, "seed") &&
                   (long)rec_num(r, "seed", -1) == seed;
        }
        if (!used) return seed;
    }
}

GateDecision gate_judge(const Session *S, const char *best_commit, const char *cand_commit, double pending_val,
                        RunStats *best, RunStats *cand) {
    *best = commit_runs(S, best_commit);
    *cand = commit_runs(S, cand_commit);
    if (isfinite(pending_val)) runstats_add(cand, pending_val);
    GateInput in = {best->mean, best->n, cand->mean, cand->n, 0, 0};
    session_noise(S, cand_commit, pending_val, &in.sigma, &in.dof);
    return gate_decide(&S->gp, &in);
}

void gate_summary(const Session *S, GateSummary *g) {
    memset(g, 0, sizeof *g);
    for (int i = 0; i < S->L.n; i++) {
        const Record *r = &S->L.r[i];
        const char *k = rec_get(r, "kind"), *st = rec_get(r, "status");
        if (!rec_in_session(r, S->tag, NULL) || !k) continue;
        if (!strcmp(k, "experiment") && st && !strcmp(st, "keep")) {
            if (!g->base_commit) g->base_commit = rec_get(r, "commit");
            g->best_commit = rec_get(r, "commit");
        }
        if (!strcmp(k, "experiment") && st && strcmp(st, "invalid")) g->runs++;
        if (!strcmp(k, "confirm")) g->confirm_runs++, g->runs++;
        if (!strcmp(k, "noise")) g->noise_runs++, g->runs++;
        if (!strcmp(k, "rebaseline")) {
            g->rebaseline_runs++, g->runs++;
            const char *dr = rec_get(r, "drift_reason");
            if (dr && *dr) { g->drifts++; snprintf(g->drift, sizeof g->drift, "%s", dr); }
        }
    }
    session_noise(S, NULL, NAN, &g->sigma, &g->dof);
    g->base = commit_runs(S, g->base_commit);
    g->best = commit_runs(S, g->best_commit);
    GateInput in = {g->base.mean, g->base.n, g->best.mean, g->best.n, g->sigma, g->dof};
    if (g->base.n && g->best.n) g->total = gate_decide(&S->gp, &in);
}

// Tokens a run trained: the fixed layer's own count (`tokens`) where the record has it, else
// what train.c's summary printed (older records).
static double run_tokens(const Record *r) {
    double t = rec_num(r, "tokens", NAN);
    return isfinite(t) ? t : 1e6 * rec_num(r, "total_tokens_M", NAN);
}

// Drift: the best, unchanged, re-run. Its tokens trained or its val_bpb moving away from its
// earlier runs means the machine changed under the session.
void drift_check(const Session *S, Record *r) {
    const char *commit = rec_get(r, "commit");
    RunStats prev = commit_runs(S, commit);
    double tok = 0, sigma, dof;
    int ntok = 0;
    for (int i = 0; i < S->L.n; i++) {
        const Record *x = &S->L.r[i];
        const char *c = rec_get(x, "commit");
        if (c && !strcmp(c, commit) && rec_in_session(x, S->tag, NULL) && isfinite(run_tokens(x)) &&
            rec_num(x, "val_bpb", NAN) > 0)
            tok += run_tokens(x), ntok++;
    }
    session_noise(S, NULL, NAN, &sigma, &dof);
    char why[200] = "";
    double t = run_tokens(r), v = rec_num(r, "val_bpb", NAN);
    if (ntok && isfinite(t) && tok > 0) {
        double change = t / (tok / ntok) - 1;
        rec_set_fmt(r, "tokens_change", "%.4f", change);
        if (fabs(change) > 0.05)   // a time budget's throughput moved more than 5%
            snprintf(why, sizeof why, "tokens trained per run %+.0f%% vs the best's earlier runs", 100 * change);
    }
    if (!why[0] && prev.n && sigma > 0 && isfinite(v)) {
        double z = (v - prev.mean) / (sigma * sqrt(1 + 1.0 / prev.n));
        if (fabs(z) > 3)
            snprintf(why, sizeof why, "the unchanged best's val_bpb moved by %+.1f sigma vs its earlier runs", z);
    }
    rec_set_raw(r, "drift", why[0] ? "true" : "false");
    if (why[0]) rec_set_str(r, "drift_reason", why);
}

double stddev(const double *x, int n) {
    if (n < 2) return 0;
    double m = 0, s = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n;
    for (int i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (n - 1));
}

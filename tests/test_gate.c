// test_gate.c -- the keep decision (gate.c) against simulated training runs: no training, a
// fake trainer whose val_bpb is a true value plus Gaussian noise of sigma 1. Each simulated
// experiment does what experiment() does: one run of the candidate, then confirmation runs
// while gate_decide() says GATE_MORE. The best's estimate comes from K baseline runs, and
// sigma is pooled from the baseline's and the candidate's runs, as the harness pools it.
// Deterministic (seeded), a second or so.
#include "harness.h"
#include "testlib.h"
#include "util.h"

#include <stdint.h>

static uint64_t rng_state;
static double uniform01(void) {   // splitmix64 -> (0, 1)
    uint64_t z = splitmix64(&rng_state);
    return ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double gauss(void) { return sqrt(-2 * log(uniform01())) * cos(6.283185307179586 * uniform01()); }

typedef struct { int keeps, runs, n; } Tally;

// One experiment against a best with runs b[0..nb): returns 1 if kept; adds its runs.
static int simulate(const GateParams *p, const double *b, int nb, double pool_ss, double pool_dof,
                    double truth, Tally *t, RunStats *out) {
    RunStats best = {0}, cand = {0};
    for (int i = 0; i < nb; i++) runstats_add(&best, b[i]);
    GateDecision d;
    do {
        runstats_add(&cand, truth + gauss());
        double ss = pool_ss + best.m2 + cand.m2, dof = pool_dof + (best.n - 1) + (cand.n - 1);
        GateInput in = {best.mean, best.n, cand.mean, cand.n, sqrt(ss / dof), dof};
        d = gate_decide(p, &in);
    } while (d.verdict == GATE_MORE);
    t->runs += cand.n;
    t->n++;
    t->keeps += d.verdict == GATE_KEEP;
    if (out) *out = cand;
    return d.verdict == GATE_KEEP;
}

// 1,000 fresh sessions: K baseline runs, then one change of the given true effect (in sigma).
static Tally fresh_sessions(const GateParams *p, int K, double effect, uint64_t seed) {
    rng_state = seed;
    Tally t = {0};
    double b[64];
    for (int s = 0; s < 1000; s++) {
        for (int i = 0; i < K; i++) b[i] = gauss();
        simulate(p, b, K, 0, 0, -effect, &t, NULL);
    }
    return t;
}

// 1,000 changes of true effect `effect` sigma at the defaults (K=8): prints and returns the tally.
static Tally at_defaults(const char *what, double effect, uint64_t seed) {
    GateParams p;
    gate_defaults(&p);
    Tally t = fresh_sessions(&p, 8, effect, seed);
    printf("  1000 %s (fresh sessions, K=8): %d kept (%.1f%%), %.2f runs per experiment\n", what, t.keeps,
           100.0 * t.keeps / t.n, (double)t.runs / t.n);
    return t;
}

static void test_noop_changes_rarely_kept(void) {
    Tally t = at_defaults("no-op changes", 0.0, 1);
    CHECK_MSG(t.keeps <= 20, "%d of 1000 no-op changes kept", t.keeps);
    CHECK((double)t.runs / t.n < 3.5);
}

static void test_two_sigma_changes_kept(void) {
    Tally t = at_defaults("changes of 2 sigma", 2.0, 2);
    CHECK_MSG(t.keeps >= 800, "%d of 1000 two-sigma changes kept", t.keeps);
}

static void test_worse_changes_stop_at_once(void) {
    Tally t = at_defaults("changes 2 sigma worse", -2.0, 3);
    CHECK(t.keeps == 0);
    CHECK((double)t.runs / t.n < 1.2);
}

static void test_false_keep_rate_is_the_parameter(void) {
    GateParams p;
    gate_defaults(&p);
    p.alpha = 0.1;
    Tally loose = fresh_sessions(&p, 8, 0.0, 4);
    p.alpha = 0.001;
    Tally tight = fresh_sessions(&p, 8, 0.0, 4);
    printf("  no-op keeps: alpha 0.1 -> %d, alpha 0.001 -> %d of 1000\n", loose.keeps, tight.keeps);
    CHECK(loose.keeps > tight.keeps);
    CHECK(loose.keeps <= 100);
    CHECK(tight.keeps <= 3);
}

// One night: K baseline runs, then 1,000 no-op changes, the best re-run every 10 experiments;
// the pooled sigma grows its degrees of freedom as the harness's does.
static void test_long_session(void) {
    GateParams p;
    gate_defaults(&p);
    rng_state = 5;
    double b[4096];
    int nb = 8;
    for (int i = 0; i < nb; i++) b[i] = gauss();
    Tally t = {0};
    double pool_ss = 0, pool_dof = 0;   // squared deviations of the discarded commits' runs
    for (int e = 1; e <= 1000; e++) {
        if (e % 10 == 0 && nb < 4096) b[nb++] = gauss();   // rebaseline
        RunStats c;
        if (simulate(&p, b, nb, pool_ss, pool_dof, 0.0, &t, &c)) {
            // the kept candidate is the new best; the old best's runs join the pool
            RunStats old = {0};
            for (int i = 0; i < nb; i++) runstats_add(&old, b[i]);
            pool_ss += old.m2, pool_dof += old.n - 1;
            nb = 0;
            // its runs, re-drawn (the real ones are its lucky draws, which only makes the next keep harder)
            for (int i = 0; i < c.n; i++) b[nb++] = gauss();
        } else {
            pool_ss += c.m2, pool_dof += c.n - 1;
        }
    }
    printf("  one session of 1000 no-op changes: %d kept, %.2f runs per experiment\n", t.keeps,
           (double)t.runs / t.n);
    CHECK(t.keeps <= 20);
}

static void test_decision_fields(void) {
    GateParams p;
    gate_defaults(&p);
    GateInput in = {1.0, 5, 0.9, 4, 0.01, 1e9};
    GateDecision d = gate_decide(&p, &in);
    CHECK(d.verdict == GATE_KEEP);
    CHECK_NEAR(d.effect, 0.1, 1e-12);
    CHECK_NEAR(d.se, 0.01 * sqrt(0.2 + 0.25), 1e-12);
    CHECK(d.lo < d.effect && d.effect < d.hi && d.lo > 0);
    CHECK_NEAR(d.hi - d.effect, 1.959964 * d.se, 1e-5);
    GateInput worse = {1.0, 5, 1.03, 1, 0.01, 1e9};
    d = gate_decide(&p, &worse);
    CHECK(d.verdict == GATE_DISCARD && !strcmp(d.why, "worse"));
    GateInput close = {1.0, 5, 0.985, 1, 0.01, 1e9};   // 1.5 sigma better after one run
    d = gate_decide(&p, &close);
    CHECK(d.verdict == GATE_MORE);
    close.cand_n = p.max_runs;
    d = gate_decide(&p, &close);
    CHECK(d.verdict != GATE_MORE);
    GateInput none = {1.0, 5, 0.5, 1, 0, 0};
    CHECK(gate_decide(&p, &none).verdict == GATE_DISCARD);
}

static void test_runstats(void) {
    RunStats s = {0};
    double x[] = {1, 2, 3, 4};
    for (int i = 0; i < 4; i++) runstats_add(&s, x[i]);
    CHECK(s.n == 4);
    CHECK_NEAR(s.mean, 2.5, 1e-12);
    CHECK_NEAR(s.m2, 5.0, 1e-12);
    CHECK_NEAR(runstats_se(&s, 2.0), 1.0, 1e-12);
}

int main(void) {
    RUN_TEST(test_runstats);
    RUN_TEST(test_decision_fields);
    RUN_TEST(test_noop_changes_rarely_kept);
    RUN_TEST(test_two_sigma_changes_kept);
    RUN_TEST(test_worse_changes_stop_at_once);
    RUN_TEST(test_false_keep_rate_is_the_parameter);
    RUN_TEST(test_long_session);
    TEST_MAIN_END("test_gate");
}

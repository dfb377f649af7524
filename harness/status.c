// status.c -- `autoresearch status`: the session at a glance, and what runs now (an
// experiment, a noise or confirmation run, or the agent) with its live progress; plus the
// view of one session's records that status and report share.
#include "dataset.h"
#include "harness.h"
#include "pool.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// ----------------------------------------------------------------------------
// The session's records

View session_view(const Session *S) {
    View v = {0};
    v.r = xmalloc((size_t)(S->L.n + 1) * sizeof *v.r);
    v.runs = xmalloc((size_t)(S->L.n + 1) * sizeof *v.runs);
    for (int i = 0; i < S->L.n; i++) {
        const Record *r = &S->L.r[i];
        const char *s = rec_get(r, "session"), *k = rec_get(r, "kind"), *st = rec_get(r, "status");
        if (!s || strcmp(s, S->tag) || !k) continue;
        if (!strcmp(k, "agent_error")) { v.agent_errors++; continue; }
        if (!strcmp(k, "noise") || !strcmp(k, "confirm") || !strcmp(k, "rebaseline")) {
            v.runs[v.nruns++] = r;
            if (!strcmp(k, "noise")) v.noise++; else v.confirm++;
            continue;
        }
        if (strcmp(k, "experiment") || !st) continue;
        v.r[v.n++] = r;
        if (!strcmp(st, "keep")) v.keep++;
        else if (!strcmp(st, "discard")) v.discard++;
        else if (!strcmp(st, "invalid")) v.invalid++;
        else v.crash++;
    }
    return v;
}

void view_free(View *v) {
    free(v->r);
    free(v->runs);
    memset(v, 0, sizeof *v);
}

void pick_session(Session *S, const char *tag) {
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

double record_test_bpb(const Session *S, const Record *r) {
    (void)S;   // the test ledger's scores are merged into the records when the session opens
    return rec_num(r, "test_bpb", NAN);
}

int rec_true(const Record *r, const char *key) {
    const char *v = rec_get(r, key);
    return v && (!strcmp(v, "true") || (strcmp(v, "false") && atof(v) != 0));
}

static time_t parse_iso(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
    return timegm(&tm);
}

static int pid_alive(const Record *m) {
    pid_t pid = (pid_t)rec_num(m, "pid", 0);
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

// ----------------------------------------------------------------------------
// status

// The best and the baseline as estimates (gate.c: mean +- SE of their runs), the
// improvement with its 95% interval, the runs the gate spent, and drift.
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

static const char *status_help =
    "usage: autoresearch status [--json] [--tag TAG]\n"
    "\n"
    "The session (default: the current branch's, else the latest in results.jsonl):\n"
    "experiments by status, the best val_bpb and its commit, and what runs now: an\n"
    "experiment, a noise or confirmation run (with its step, share of the budget, tokens/s,\n"
    "training loss and ETA, from the fixed layer's progress file), or the agent.\n"
    "--json prints the same as one JSON object.\n";

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
    View v = session_view(&S);
    const Record *best = session_best(&S), *base = NULL;
    for (int i = 0; i < v.n && !base; i++)
        if (!strcmp(rec_get(v.r[i], "status"), "keep")) base = v.r[i];
    char e[128];
    // the training run in flight (any kind), else an experiment interrupted by a kill
    Record tr = {0}, m = {0}, ag = {0};
    char *pool_path = xasprintf("%s/pool.json", S.state);
    int pool = file_exists(pool_path);
    free(pool_path);
    int training = live_marker_read(&S, &tr) == 0 && rec_get(&tr, "session") &&
                   !strcmp(rec_get(&tr, "session"), S.tag) && pid_alive(&tr);
    double elapsed = training ? difftime(time(NULL), (time_t)rec_num(&tr, "start_unix", 0)) : 0;
    TrainProgress pg;
    char *pp = live_progress_path(&S);
    int have_pg = training && train_progress_read(pp, &pg) == 0;
    free(pp);
    char *mp = xasprintf("%s/running.json", S.state), *mt = read_file(mp, NULL);
    int running = 0, interrupted = 0;
    if (mt && rec_parse(mt, &m, e, sizeof e) == 0 && rec_get(&m, "session") && !strcmp(rec_get(&m, "session"), S.tag)) {
        running = pid_alive(&m);
        interrupted = !running;
        if (running && !training) elapsed = difftime(time(NULL), parse_iso(rec_get(&m, "start_time")));
    }
    if (training && rec_get(&tr, "kind") && strcmp(rec_get(&tr, "kind"), "experiment")) running = 0;
    // the agent at work (between experiments of a loop)
    char *ap = xasprintf("%s/agent.json", S.state), *at = read_file(ap, NULL);
    int agent = 0;
    double agent_elapsed = 0;
    if (!running && !training && at && rec_parse(at, &ag, e, sizeof e) == 0 && rec_get(&ag, "session") &&
        !strcmp(rec_get(&ag, "session"), S.tag)) {
        agent = pid_alive(&ag);
        agent_elapsed = difftime(time(NULL), parse_iso(rec_get(&ag, "start_time")));
    }
    char *branch = git_str("symbolic-ref", "-q", "--short", "HEAD", NULL), *head = head_commit();
    const char *kind = training ? rec_get(&tr, "kind") : running ? "experiment" : NULL;
    const Record *what = training ? &tr : &m;
    char runs[64] = "";
    if (rec_get(what, "noise_run"))
        snprintf(runs, sizeof runs, " %.0f/%.0f", rec_num(what, "noise_run", 0), rec_num(what, "noise_runs", 0));
    if (json) {
        Record o = {0};
        rec_set_str(&o, "session", S.tag);
        rec_set_str(&o, "branch", branch ? branch : "");
        rec_set_raw(&o, "detached", branch ? "false" : "true");
        if (head) rec_set_str(&o, "head", head);
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
        rec_set_num(&o, "confirm_runs", v.confirm);
        if (S.sigma > 0) rec_set_num(&o, "sigma", S.sigma);
        rec_set_str(&o, "gate", S.gate);
        char sb[300];
        session_sandbox(&S, sb, sizeof sb);
        rec_set_str(&o, "sandbox", sb);
        GateSummary g;
        gate_summary(&S, &g);
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
            double fl, gap, removed;
            if (dataset_floor_gap(rec_get(best, "dataset"), rec_num(base, "val_bpb", NAN), rec_num(best, "val_bpb", NAN),
                                  &fl, &gap, &removed)) {
                rec_set_num(&o, "floor_bpb", fl);
                rec_set_num(&o, "best_above_floor", gap);
                if (isfinite(removed)) rec_set_num(&o, "excess_removed", removed);
            }
        }
        rec_set_raw(&o, "running", running || training ? "true" : "false");
        if (kind) {
            rec_set_str(&o, "running_kind", kind);
            rec_set_str(&o, "running_id", rec_get(what, "id") ? rec_get(what, "id") : "");
            rec_set_str(&o, "running_description", rec_get(what, "description") ? rec_get(what, "description") : "");
            if (rec_get(what, "noise_run")) {
                rec_set_num(&o, "running_run", rec_num(what, "noise_run", 0));
                rec_set_num(&o, "running_runs", rec_num(what, "noise_runs", 0));
            }
            rec_set_num(&o, "running_elapsed_s", elapsed);
        } else if (interrupted) {
            rec_set_str(&o, "interrupted_id", rec_get(&m, "id") ? rec_get(&m, "id") : "");
            rec_set_str(&o, "interrupted_description", rec_get(&m, "description") ? rec_get(&m, "description") : "");
        }
        if (have_pg) {
            rec_set_num(&o, "progress_step", (double)pg.step);
            rec_set_fmt(&o, "progress_fraction", "%.4f", pg.progress);
            rec_set_fmt(&o, "progress_tokens", "%.0f", pg.tokens);
            rec_set_fmt(&o, "progress_tokens_per_sec", "%.0f", pg.tokens_per_sec);
            rec_set_fmt(&o, "progress_train_seconds", "%.1f", pg.train_seconds);
            if (isfinite(pg.loss)) rec_set_num(&o, "progress_loss", pg.loss);
            if (isfinite(pg.eta_seconds)) rec_set_fmt(&o, "progress_eta_s", "%.1f", pg.eta_seconds);
        }
        rec_set_raw(&o, "agent_running", agent ? "true" : "false");
        if (agent) rec_set_num(&o, "agent_elapsed_s", agent_elapsed);
        pool_status(&S, &o);
        char *js = rec_to_json(&o);
        printf("%s\n", js);
        free(js);
        rec_free(&o);
    } else {
        char amount[32] = "train.c's default", where[96];
        if (S.budget > 0) snprintf(amount, sizeof amount, "%g", S.budget);
        if (branch) snprintf(where, sizeof where, "branch %s", branch);
        else snprintf(where, sizeof where, "detached HEAD at %.7s", head ? head : "-------");
        printf("session    %s (%s, base %.7s, budget %s %s)\n", S.tag, where, S.base, S.budget_mode, amount);
        printf("experiments %d: keep %d, discard %d, crash %d, invalid %d; agent failures %d\n", v.n, v.keep,
               v.discard, v.crash, v.invalid, v.agent_errors);
        if (S.sigma > 0) printf("noise      sigma %.6f over %d runs (gate %s)\n", S.sigma, v.noise, S.gate);
        else if (v.noise) printf("noise      %d runs, no sigma yet\n", v.noise);
        if (v.confirm) printf("confirm    %d confirmation runs\n", v.confirm);
        char sb[300];
        session_sandbox(&S, sb, sizeof sb);
        printf("sandbox    %s\n", sb);
        if (best)
            print_estimates(&S, best);
        else
            printf("best       none yet\n");
        double fl, gap, removed;
        if (best && dataset_floor_gap(rec_get(best, "dataset"), rec_num(base, "val_bpb", NAN), rec_num(best, "val_bpb", NAN),
                                      &fl, &gap, &removed)) {
            printf("floor      entropy %.6f: best %+.6f above it", fl, gap);
            if (isfinite(removed)) printf("; the session removed %.1f%% of the baseline's excess", 100 * removed);
            printf("\n");
        }
        char d[32];
        fmt_duration(elapsed, d, sizeof d);
        if (kind && !strcmp(kind, "experiment"))
            printf("running    %s for %s: %s (pid %.0f)\n", rec_get(what, "id"), d, rec_get(what, "description"),
                   rec_num(what, "pid", 0));
        else if (kind)
            printf("running    %s run%s of %.7s%s%s%s for %s (pid %.0f)\n", kind, runs,
                   rec_get(what, "commit") ? rec_get(what, "commit") : "", rec_get(what, "experiment_id") ? " (" : "",
                   rec_get(what, "experiment_id") ? rec_get(what, "experiment_id") : "",
                   rec_get(what, "experiment_id") ? ")" : "", d, rec_num(what, "pid", 0));
        else if (interrupted)
            printf("interrupted %s: %s (the next run/loop on this session finishes it)\n", rec_get(&m, "id"),
                   rec_get(&m, "description"));
        else if (agent) {
            fmt_duration(agent_elapsed, d, sizeof d);
            printf("running    the agent, on experiment %.0f, for %s\n", rec_num(&ag, "n", 0), d);
        } else
            printf("running    nothing%s\n", pool ? " here (the pool's jobs below)" : "");
        pool_status(&S, NULL);
        if (have_pg) {
            char line[256];
            train_progress_format(&pg, line, sizeof line);
            printf("progress   %s\n", line);
        } else if (training) {
            printf("progress   building train.c or starting up (no step yet)\n");
        }
    }
    rec_free(&ag);
    rec_free(&tr);
    rec_free(&m);
    free(at);
    free(ap);
    free(mt);
    free(mp);
    free(branch);
    free(head);
    view_free(&v);
    session_close(&S);
    return 0;
}

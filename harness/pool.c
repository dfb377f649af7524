// pool.c -- `loop --workers N`: N runs at once, one writer.
//
// Every run is a job (pool.h); this loop alone appends to the ledgers. An experiment is
// dispatched off the best at that time, in its own worktree, on its own commit. Its first run's
// result is held in its job folder until the gate decides (sprt: confirmation runs, each a
// ledger record as it arrives). When its result beats the current best but its parent is no
// longer the best, its change is cherry-picked onto the current best and the new commit runs
// again (the first run stays in the ledger as a confirm record with rebased_to); a change that
// no longer applies is discarded with that reason. Ingestion is idempotent, keyed on the
// ledger itself (a run's record names its job, an experiment's its id), so after a kill -9
// the next `loop` adopts what is in flight and records nothing twice.
#include "pool.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double wall(void) { return (double)time(NULL) + fmod(now_seconds(), 1.0); }

static void append(Pool *P, Record *r) {
    double t0 = now_seconds();
    ledger_add(P->S, r);
    P->t_append += now_seconds() - t0;
    P->n_append++;
}

// ----------------------------------------------------------------------------
// Jobs

static void submit(Pool *P, PoolJob *j) {
    char *dir = pool_job_dir(P, j->name), err[512];
    j->st = JOB_PENDING;
    j->submitted = wall();
    pool_save(P);   // named in pool.json before it exists anywhere else
    if (exec_submit(&P->o->X, dir, j->slot, j->name, j->id, sizeof j->id, err, sizeof err) != 0) die("loop: %s", err);
    pool_save(P);
    free(dir);
}

// A new job of kind on commit in slot; wt: the worktree it runs in (own: made for it).
void pool_dispatch(Pool *P, int slot, const char *kind, const char *commit, const char *exp, const char *wt,
                     long seed, int run_i, int run_k, int after) {
    double t0 = now_seconds();
    if (t0 - P->checked_at > 10 || !P->checked_at) {   // hashing the data set at every dispatch would dominate
        Record pf = {0};
        preflight(P->S, &pf);   // the ledger as the harness wrote it, the pinned data set unchanged
        rec_free(&pf);
        P->checked_at = t0;
    }
    if (P->nj == POOL_MAX) die("loop: more than %d jobs in flight", POOL_MAX);
    PoolJob *j = &P->job[P->nj++];
    memset(j, 0, sizeof *j);
    snprintf(j->name, sizeof j->name, "%s-j%ld", P->S->tag, ++P->seq);
    snprintf(j->kind, sizeof j->kind, "%s", kind);
    snprintf(j->commit, sizeof j->commit, "%s", commit);
    snprintf(j->exp, sizeof j->exp, "%s", exp ? exp : "");
    j->slot = slot, j->seed = seed, j->run_i = run_i, j->run_k = run_k, j->after = after;
    if (wt) snprintf(j->wt, sizeof j->wt, "%s", wt);
    else {
        char *own = xasprintf("%s/%s", P->wts, j->name);
        snprintf(j->wt, sizeof j->wt, "%s", own);
        free(own);
        j->own_wt = 1;
        pool_wt_add(P, j->wt, commit);
    }
    char *dir = pool_job_dir(P, j->name), *sp = xasprintf("%s/spec.json", dir), err[512];
    remove_tree(dir);
    if (mkdir_p(dir) != 0) die("cannot create %s", dir);
    const Session *S = P->S;
    Record spec = {0};
    rec_set_str(&spec, "session", S->tag);
    rec_set_str(&spec, "worktree", j->wt);
    rec_set_str(&spec, "commit", commit);
    rec_set_str(&spec, "base", S->base);
    rec_set_str(&spec, "kind", kind);
    rec_set_str(&spec, "budget_mode", S->budget_mode);
    rec_set_num(&spec, "budget", S->budget);
    rec_set_num(&spec, "timeout", S->timeout);
    rec_set_num(&spec, "seed", (double)seed);
    rec_set_num(&spec, "threads", P->o->X.threads);
    if (S->data_id[0]) rec_set_str(&spec, "data_id", S->data_id);
    char *json = rec_to_json(&spec), *line = xasprintf("%s\n", json);
    if (write_file_atomic(sp, line, strlen(line), err, sizeof err) != 0) die("%s", err);
    free(json); free(line); free(sp); free(dir);
    rec_free(&spec);
    submit(P, j);
    P->t_dispatch += now_seconds() - t0;
    P->n_dispatch++;
}

void pool_drop_job(Pool *P, int i, int keep_dir) {
    PoolJob *j = &P->job[i];
    if (!keep_dir) {
        char *dir = pool_job_dir(P, j->name);
        remove_tree(dir);
        free(dir);
    }
    if (j->own_wt) pool_wt_remove(P->S, j->wt);
    P->job[i] = P->job[--P->nj];
}

// The result a job left, or a crash record saying why there is none.
static void job_result(const Pool *P, const char *name, Record *r, double *test) {
    char *dir = pool_job_dir(P, name), *rp = xasprintf("%s/result.json", dir), *tp = xasprintf("%s/test.json", dir);
    char *sp = xasprintf("%s/slurm.txt", dir), *why = read_file(sp, NULL);   // how Slurm ended it
    char *text = read_file(rp, NULL), err[256];
    *test = NAN;
    memset(r, 0, sizeof *r);
    if (!text || rec_parse(text, r, err, sizeof err) != 0) {
        memset(r, 0, sizeof *r);
        rec_set_str(r, "status", "crash");
        char *reason = why && *why ? xasprintf("%s (no result)", why)
                                   : xasprintf("the job ended without a result (see %s/job.log)", dir);
        rec_set_str(r, "reason", reason);
        free(reason);
    } else {
        char *t = read_file(tp, NULL);
        Record tr;
        if (t && rec_parse(t, &tr, err, sizeof err) == 0) { *test = rec_num(&tr, "test_bpb", NAN); rec_free(&tr); }
        free(t);
        if (why && *why && strcmp(rec_get(r, "status"), "ok")) rec_set_str(r, "slurm_state", why);
    }
    // run.log of the repository root: the latest run's output
    size_t len;
    char *lp = xasprintf("%s/run.log", dir), *log = read_file(lp, &len);
    if (log) { pool_in_root(P->S); write_file_atomic("run.log", log, len, err, sizeof err); }
    free(log); free(lp); free(text); free(rp); free(tp); free(dir); free(sp); free(why);
}

// The data set the run trained on: the session's, checked when its job was dispatched.
static void data_fields(const Session *S, Record *r) {
    if (!S->data_id[0]) return;
    rec_set_str(r, "dataset_id", S->data_id);
    for (int i = 0; i < DATA_FILES; i++) rec_set_str(r, data_key(i), S->data_sha[i]);
}

static void job_fields(const Pool *P, Record *r, const PoolJob *j) {
    data_fields(P->S, r);
    rec_set_str(r, "job", j->name);
    rec_set_str(r, "job_id", j->id);
    rec_set_str(r, "executor", P->o->X.slurm ? "slurm" : "local");
    rec_set_num(r, "slot", j->slot);
}

// A noise, confirmation or rebaseline run: recorded as it arrives (as extra_run does).
void pool_ingest_run(Pool *P, PoolJob *j) {
    Session *S = P->S;
    if (pool_recorded_job(S, j->name)) return;   // recorded before a kill
    Record r;
    double test;
    job_result(P, j->name, &r, &test);
    rec_set_str(&r, "kind", j->kind);
    rec_set_str(&r, "session", S->tag);
    rec_set_str(&r, "commit", j->commit);
    char d[300];
    snprintf(d, sizeof d, "%s run %d/%d%s%s", j->kind, j->run_i, j->run_k, *j->exp ? " of " : "", j->exp);
    rec_set_str(&r, "description", d);
    if (*j->exp) rec_set_str(&r, "experiment_id", j->exp);
    rec_set_num(&r, "noise_run", j->run_i);
    rec_set_num(&r, "noise_runs", j->run_k);
    if (j->seed >= 0) rec_set_num(&r, "seed", (double)j->seed);
    job_fields(P, &r, j);
    if (!strcmp(j->kind, "rebaseline")) {
        rec_set_num(&r, "after_experiments", j->after);
        drift_check(S, &r);
    }
    int ok = !strcmp(rec_get(&r, "status"), "ok");
    PoolExp *e = *j->exp ? pool_find_exp(P, j->exp) : NULL;
    if (e && !strcmp(j->kind, "confirm") && !ok) e->confirm_crashed = 1;
    if (ok)
        printf("%s %d/%d %.7s seed %-5ld val_bpb %.6f %6.1fs  job %s\n", j->kind, j->run_i, j->run_k, j->commit, j->seed,
               rec_num(&r, "val_bpb", 0), rec_num(&r, "wall_seconds", 0), j->id);
    else printf("%s %d/%d %.7s seed %-5ld crash   %s  job %s\n", j->kind, j->run_i, j->run_k, j->commit, j->seed,
                rec_get(&r, "reason") ? rec_get(&r, "reason") : "", j->id);
    if (rec_get(&r, "drift_reason")) printf("drift: %s\n", rec_get(&r, "drift_reason"));
    fflush(stdout);
    test_ledger_append(S, &r, test);
    append(P, &r);
}

// ----------------------------------------------------------------------------
// Decisions

static void decision_fields(Record *r, const Session *S, const GateDecision *d, const RunStats *b, const RunStats *c) {
    rec_set_num(r, "best_before", b->mean);
    rec_set_num(r, "best_runs", b->n);
    rec_set_num(r, "delta", c->mean - b->mean);
    rec_set_num(r, "gate_stat", d->stat);
    rec_set_num(r, "gate_keep_at", d->keep_at);
    rec_set_num(r, "false_keep", S->gp.alpha);
    rec_set_str(r, "gate_reason", d->why);
    if (d->verdict == GATE_KEEP) {
        rec_set_num(r, "effect", d->effect);
        rec_set_num(r, "effect_lo", d->lo);
        rec_set_num(r, "effect_hi", d->hi);
    }
}

static void first_fields(const Pool *P, Record *r, const PoolExp *e) {
    PoolJob j = {.slot = e->first_slot};
    snprintf(j.name, sizeof j.name, "%s", e->first);
    snprintf(j.id, sizeof j.id, "%s", e->first_id);
    job_fields(P, r, &j);
}

void pool_remove_exp(Pool *P, PoolExp *e) {
    if (*e->first) {
        char *dir = pool_job_dir(P, e->first);
        remove_tree(dir);
        free(dir);
    }
    pool_wt_remove(P->S, e->wt);
    rec_free(&e->extra);
    *e = P->exp[--P->ne];
}

// Records experiment e with its first run r (taken) as status; a keep moves the branch to it.
static void finalize(Pool *P, PoolExp *e, Record *r, double test, const char *status) {
    Session *S = P->S;
    if (!find_id(S, e->id)) {
        const Record *best = session_best(S);
        rec_set_str(r, "kind", "experiment");
        rec_set_str(r, "id", e->id);
        rec_set_str(r, "session", S->tag);
        rec_set_num(r, "n", e->n);
        rec_set_str(r, "commit", e->commit);
        rec_set_str(r, "parent", e->parent);
        rec_set_str(r, "description", e->desc);
        rec_merge(r, &e->extra);
        if (*e->rebased_from) {
            rec_set_str(r, "rebased_from", e->rebased_from);
            rec_set_str(r, "original_parent", e->original_parent);
        }
        if (*e->diff) rec_set_str(r, "diff_sha256", e->diff);
        first_fields(P, r, e);
        rec_set_str(r, "gate", S->gate);
        rec_set_num(r, "gate_threshold", 0);
        rec_set_raw(r, "seed_only", *e->parent && seed_only_change(e->parent, e->commit) ? "true" : "false");
        if (!strcmp(rec_get(r, "status"), "ok")) {
            double val = rec_num(r, "val_bpb", NAN), sigma, dof;
            RunStats c = commit_runs(S, e->commit);
            runstats_add(&c, val);
            session_noise(S, e->commit, val, &sigma, &dof);
            rec_set_num(r, "est_val_bpb", c.mean);
            rec_set_num(r, "est_se", sigma > 0 ? runstats_se(&c, sigma) : NAN);
            rec_set_num(r, "est_runs", c.n);
            if (!strcmp(S->gate, "sprt")) {
                S->sigma = sigma;
                rec_set_num(r, "sigma_dof", dof);
                session_save(S);
            }
        }
        rec_set_str(r, "status", status);
        if (S->sigma > 0) rec_set_num(r, "sigma", S->sigma);
        flag_fast_keep(S, r, best);
        char *dir = pool_job_dir(P, e->first), *m = xasprintf("%s/run-model.bin", dir), *dst = xasprintf("%s/run-model.bin", S->state);
        if (rename(m, dst) != 0) unlink(dst);
        free(dir); free(m); free(dst);
        keep_model(S, r, status, e->commit);
        print_row(r, e->n);
        test_ledger_append(S, r, test);
        append(P, r);
    } else {
        rec_free(r);
    }
    if (!strcmp(status, "keep")) { pool_in_root(S); reset_to(e->commit, NULL); }
    pool_remove_exp(P, e);
    pool_save(P);
}

// Moves e's change onto the current best: 0 (e now wants its new commit's first run), or 1
// when it no longer applies.
static int rebase(Pool *P, PoolExp *e, const char *best, Record *first, double test) {
    Session *S = P->S;
    const Record *done = pool_recorded_job(S, e->first);
    char *fresh = NULL;
    if (done && rec_get(done, "rebased_to")) fresh = xstrdup(rec_get(done, "rebased_to"));   // rebased before a kill
    if (chdir(e->wt) != 0) die("cannot enter %s", e->wt);
    if (!fresh) {
        if (!git_ok("reset", "-q", "--hard", best, NULL)) die("cannot reset %s: %s", e->wt, git_err);
        if (!git_ok("cherry-pick", "--no-commit", e->commit, NULL)) {
            git_ok("reset", "-q", "--hard", best, NULL);
            pool_in_root(S);
            return 1;
        }
        if (commit_train(e->desc) != 0) die("cannot commit the rebased change in %s: %s", e->wt, git_err);
        fresh = head_commit();
    } else if (!git_ok("reset", "-q", "--hard", fresh, NULL)) die("cannot reset %s: %s", e->wt, git_err);
    pool_in_root(S);
    if (!done) {   // the first run stays in the ledger, as a run of the commit it ran
        char d[300];
        snprintf(d, sizeof d, "run 1 of %s before its rebase onto %.7s", e->id, best);
        rec_set_str(first, "kind", "confirm");
        rec_set_str(first, "session", S->tag);
        rec_set_str(first, "commit", e->commit);
        rec_set_str(first, "description", d);
        rec_set_str(first, "experiment_id", e->id);
        first_fields(P, first, e);
        rec_set_str(first, "rebased_to", fresh);
        test_ledger_append(S, first, test);
        append(P, first);
    } else rec_free(first);
    printf("[%3d] %.7s beats the best but was run off %.7s: rebased onto %.7s as %.7s, running it again\n", e->n,
           e->commit, e->parent, best, fresh);
    fflush(stdout);
    char *dir = pool_job_dir(P, e->first);
    remove_tree(dir);
    free(dir);
    if (!*e->rebased_from) {
        snprintf(e->rebased_from, sizeof e->rebased_from, "%s", e->commit);
        snprintf(e->original_parent, sizeof e->original_parent, "%s", e->parent);
    }
    snprintf(e->commit, sizeof e->commit, "%s", fresh);
    snprintf(e->parent, sizeof e->parent, "%s", best);
    e->first[0] = 0;
    e->want = 1;
    e->confirm_crashed = 0;
    free(fresh);
    pool_save(P);
    return 0;
}

// Decides experiment e once its first run is in and no run of it is in flight. Returns 1 when
// the baseline crashed (the loop stops).
int pool_decide(Pool *P, PoolExp *e) {
    Session *S = P->S;
    if (!*e->first || pool_jobs_of(P, e->id, NULL)) return 0;
    Record r;
    double test;
    job_result(P, e->first, &r, &test);
    const char *st = rec_get(&r, "status");
    const Record *best = session_best(S);
    int sprt = !strcmp(S->gate, "sprt");
    if (strcmp(st, "ok")) {
        char s[16];
        snprintf(s, sizeof s, "%s", st);
        int base = e->baseline;
        finalize(P, e, &r, test, s);
        return base;
    }
    double val = rec_num(&r, "val_bpb", NAN);
    if (!best) {   // the baseline: its noise runs (sprt) are dispatched beside it
        if (sprt && pool_noise_runs(P, e) < S->noise_runs) { rec_free(&r); return 0; }
        finalize(P, e, &r, test, "keep");
        return 0;
    }
    char bc[41];
    snprintf(bc, sizeof bc, "%s", rec_get(best, "commit"));
    RunStats b, c;
    GateDecision d = {0};
    if (sprt) d = gate_judge(S, bc, e->commit, val, &b, &c);
    else {
        b = commit_runs(S, bc);
        c = (RunStats){1, val, 0};
        double bv = rec_num(best, "val_bpb", NAN);
        b.mean = bv;
        d.verdict = val < bv ? GATE_KEEP : GATE_DISCARD;
        d.why = val < bv ? "better" : "not better";
    }
    if (e->confirm_crashed) { d.verdict = GATE_DISCARD; d.why = "confirmation crashed"; rec_set_str(&r, "reason", "a confirmation run crashed"); }
    if (strcmp(e->parent, bc) && d.verdict != GATE_DISCARD) {   // better than a best it was not run off
        if (rebase(P, e, bc, &r, test) == 0) return 0;   // else r is still the first run
        char why[200];
        snprintf(why, sizeof why, "its change no longer applies on the current best %.7s", bc);
        rec_set_str(&r, "reason", why);
        d.verdict = GATE_DISCARD;
        d.why = "no longer applies";
    }
    if (d.verdict == GATE_MORE) { e->want = 1; rec_free(&r); return 0; }
    decision_fields(&r, S, &d, &b, &c);
    finalize(P, e, &r, test, d.verdict == GATE_KEEP ? "keep" : "discard");
    return 0;
}

// poolloop.c -- the pool's scheduler: follow the jobs, ingest what finished, decide, and fill
// free slots (an experiment's next run first, then the baseline's noise runs, the wave's
// re-run of the best, then a new candidate from the search agent, never a normalised diff
// already dispatched in the session). Ctrl-C drains: nothing new starts, what is in flight
// finishes and is decided; a second Ctrl-C cancels every job (scancel, or the local worker's
// process group) and records nothing of them.
#include "pool.h"
#include "util.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

PoolExp *pool_new_exp(Pool *P, const char *commit, const char *parent, const char *desc) {
    if (P->ne == POOL_MAX) die("loop: more than %d experiments in flight", POOL_MAX);
    PoolExp *e = &P->exp[P->ne++];
    memset(e, 0, sizeof *e);
    e->n = pool_next_n(P);
    snprintf(e->id, sizeof e->id, "%s-%d", P->S->tag, e->n);
    snprintf(e->commit, sizeof e->commit, "%s", commit);
    snprintf(e->parent, sizeof e->parent, "%s", parent);
    snprintf(e->desc, sizeof e->desc, "%s", desc);
    char *wt = xasprintf("%s/%s", P->wts, e->id);
    snprintf(e->wt, sizeof e->wt, "%s", wt);
    free(wt);
    return e;
}

void pool_announce(const PoolExp *e, const PoolJob *j) {
    printf("[%3d] %.7s %s%.7s to slot %d, job %s: %s\n", e->n, e->commit, *e->parent ? "off " : "", e->parent, j->slot,
           j->id, e->desc);
    fflush(stdout);
}

// A new candidate of the search agent off the current best; 0 when it has none that is new.
static int propose(Pool *P, int slot) {
    Session *S = P->S;
    const Record *best = session_best(S);
    char bc[41], err[512];
    snprintf(bc, sizeof bc, "%s", rec_get(best, "commit"));
    char *src;
    size_t len;
    if (git_blob(bc, "train.c", &src, &len, err, sizeof err) != 0) die("loop: %s", err);
    Mutation m;
    char *out = NULL, diff[65];
    for (int attempt = 0; attempt < 64 && !out; attempt++) {
        uint64_t seed = P->o->search_seed + (uint64_t)attempt * 1000003u + (uint64_t)pool_next_n(P) * 7919u;
        if (search_propose(src, &S->L, S->tag, seed, &m, err, sizeof err) != 0) break;
        Tunable t[128];
        int n = tunables_parse(src, t, 128, err, sizeof err), k = 0;
        while (k < n && strcmp(t[k].name, m.param)) k++;
        if (k == n) break;
        out = tunables_set(src, &t[k], m.to);
        pool_text_diff(P, src, out, diff);
        if (pool_diff_dispatched(P, diff)) { free(out); out = NULL; }
    }
    free(src);
    if (!out) return 0;
    PoolExp *e = pool_new_exp(P, bc, bc, m.desc);
    pool_wt_add(P, e->wt, bc);
    if (chdir(e->wt) != 0) die("cannot enter %s", e->wt);
    if (write_file_atomic("train.c", out, strlen(out), err, sizeof err) != 0) die("%s", err);
    free(out);
    if (commit_train(m.desc) != 0) die("cannot commit train.c in %s: %s", e->wt, git_err);
    char *c = head_commit();
    snprintf(e->commit, sizeof e->commit, "%s", c);
    free(c);
    if (chdir(S->root) != 0) die("cannot enter %s", S->root);
    snprintf(e->diff, sizeof e->diff, "%s", diff);
    rec_set_str(&e->extra, "agent", "search");
    rec_set_str(&e->extra, "search_param", m.param);
    rec_set_num(&e->extra, "search_from", m.from);
    rec_set_num(&e->extra, "search_to", m.to);
    pool_dispatch(P, slot, "experiment", e->commit, e->id, e->wt, S->seed, 1, 1, 0);
    pool_announce(e, &P->job[P->nj - 1]);
    P->since_rebase++;
    return 1;
}

#define FILL_MAX 4

// Fills free slots; returns how many jobs it started. *none: the agent had nothing new.
static int fill(Pool *P, int *none) {
    Session *S = P->S;
    const PoolOpts *o = P->o;
    int started = 0, slot;
    // a few at a time, so that results that arrive meanwhile wait no longer than a few dispatches
    while ((slot = pool_free_slot(P)) >= 0 && !g_abort && started < FILL_MAX) {
        PoolExp *want = NULL, *base = NULL;
        for (int i = 0; i < P->ne; i++) {
            if (P->exp[i].want && !pool_jobs_of(P, P->exp[i].id, NULL)) want = &P->exp[i];
            if (P->exp[i].baseline) base = &P->exp[i];
        }
        if (want) {   // the rebased commit's first run, or a confirmation
            want->want = 0;
            if (!*want->first) {
                pool_dispatch(P, slot, "experiment", want->commit, want->id, want->wt, S->seed, 1, 1, 0);
                pool_announce(want, &P->job[P->nj - 1]);
            } else {
                int i = commit_runs(S, want->commit).n + 2;
                pool_dispatch(P, slot, "confirm", want->commit, want->id, want->wt, pool_free_seed(P, want->commit), i,
                              S->gp.max_runs, 0);
            }
            started++;
            continue;
        }
        if (base && !strcmp(S->gate, "sprt")) {   // the baseline's noise runs, beside its first run
            int have = pool_noise_runs(P, base);
            if (have < S->noise_runs) {
                pool_dispatch(P, slot, "noise", base->commit, base->id, NULL, pool_free_seed(P, base->commit), have + 1,
                              S->noise_runs, 0);
                started++;
                continue;
            }
        }
        if (g_stop || base) break;
        const Record *best = session_best(S);
        int total = session_experiments(S) + P->ne;
        if (!best) {   // the session's first experiment: the unmodified baseline
            if (total > 0 && session_experiments(S) > 0) break;
            char *parent = git_str("rev-parse", "--verify", "-q", "HEAD^", NULL);
            PoolExp *e = pool_new_exp(P, S->base, parent ? parent : "", "baseline");
            free(parent);
            e->baseline = 1;
            pool_wt_add(P, e->wt, e->commit);
            pool_dispatch(P, slot, "experiment", e->commit, e->id, e->wt, S->seed, 1, 1, 0);
            pool_announce(e, &P->job[P->nj - 1]);
            started++;
            continue;
        }
        if ((o->max_exp && total >= o->max_exp) || (o->until && (double)time(NULL) >= o->until)) break;
        if (S->rebaseline_every > 0 && P->since_rebase >= o->X.workers) {   // the wave's re-run of the best
            const char *bc = rec_get(best, "commit");
            int n = commit_runs(S, bc).n + 1 + pool_jobs_of(P, "", "rebaseline");
            pool_dispatch(P, slot, "rebaseline", bc, NULL, NULL, pool_free_seed(P, bc), n, n, pool_next_n(P) - 1);
            P->since_rebase = 0;
            pool_save(P);
            started++;
            continue;
        }
        if (P->o->agent) {   // an external agent: one call for this slot
            if ((double)time(NULL) < P->agent_after) break;
            int rc = pool_agent(P, slot);
            if (rc < 0) { *none = 2; break; }
            started += rc;
            continue;
        }
        if (!propose(P, slot)) { *none = 1; break; }
        started++;
    }
    return started;
}

static void cancel_all(Pool *P) {
    int n = P->nj;
    for (int i = 0; i < P->nj; i++)
        if (P->job[i].id[0]) exec_cancel(&P->o->X, P->job[i].id);
    while (P->nj) pool_drop_job(P, 0, 0);
    for (int i = 0; i < P->ne; i++) {
        if (*P->exp[i].first) {
            char *dir = pool_job_dir(P, P->exp[i].first);
            remove_tree(dir);
            free(dir);
        }
        pool_wt_remove(P->S, P->exp[i].wt);
        rec_free(&P->exp[i].extra);
    }
    P->ne = 0;
    unlink(P->path);
    printf("loop: cancelled %d job%s; nothing of them is recorded\n", n, n == 1 ? "" : "s");
}

// Job folders and worktrees that nothing in flight names: a kill between making one and
// naming it in pool.json.
static void remove_orphans(Pool *P) {
    const char *dirs[2] = {P->jobs, P->wts};
    for (int k = 0; k < 2; k++) {
        DIR *d = opendir(dirs[k]);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            const char *nm = de->d_name;
            if (nm[0] == '.') continue;
            int used = 0;
            for (int i = 0; i < P->nj; i++) used |= !strcmp(P->job[i].name, nm);
            for (int i = 0; i < P->ne; i++) used |= !strcmp(P->exp[i].first, nm) || !strcmp(P->exp[i].id, nm);
            if (used) continue;
            char *p = xasprintf("%s/%s", dirs[k], nm);
            if (k) pool_wt_remove(P->S, p);
            else remove_tree(p);
            free(p);
        }
        if (d) closedir(d);
    }
    pool_in_root(P->S);
    git_ok("worktree", "prune", NULL);
}

// Submits again a job a kill interrupted between naming it and its executor's answer.
static void resubmit(Pool *P, PoolJob *j) {
    char *dir = pool_job_dir(P, j->name), *res = xasprintf("%s/result.json", dir), err[512];
    if (!file_exists(res) &&
        exec_submit(&P->o->X, dir, j->slot, j->name, j->id, sizeof j->id, err, sizeof err) != 0)
        die("loop: %s", err);
    if (!j->id[0]) snprintf(j->id, sizeof j->id, "lost");
    free(dir);
    free(res);
}

int pool_loop(Session *S, const PoolOpts *o) {
    Pool *P = xmalloc(sizeof *P);
    memset(P, 0, sizeof *P);
    P->S = S;
    P->o = o;
    P->path = xasprintf("%s/pool.json", S->state);
    P->jobs = xasprintf("%s/jobs", S->state);
    P->wts = xasprintf("%s/worktrees", S->state);
    // the agent's checks run in a worktree: the ledgers by their full paths
    char *jl = xasprintf("%s/results.jsonl", S->root), *ts = xasprintf("%s/results.tsv", S->root);
    free(S->jsonl);
    free(S->tsv);
    S->jsonl = jl, S->tsv = ts;
    mkdir_p(P->jobs);
    if (pool_load(P) == 0 && (P->nj || P->ne))
        printf("loop: adopting %d job%s and %d experiment%s in flight\n", P->nj, P->nj == 1 ? "" : "s", P->ne,
               P->ne == 1 ? "" : "s");
    remove_orphans(P);
    for (int i = 0; i < P->nj; i++)
        if (!P->job[i].id[0]) resubmit(P, &P->job[i]);
    printf("loop: %d workers, %s executor, %d thread%s each\n", o->X.workers, o->X.slurm ? "slurm" : "local",
           o->X.threads, o->X.threads == 1 ? "" : "s");
    fflush(stdout);
    pool_save(P);
    const char *why = "stopped by Ctrl-C";
    int rc = 0;
    double poll = o->X.slurm ? 1.0 : 0.05;   // Slurm: one squeue a second
    for (;;) {
        if (g_abort) { cancel_all(P); why = "aborted by a second Ctrl-C"; break; }
        int changed = 0;
        if (P->nj) exec_refresh(&o->X);
        for (int i = 0; i < P->nj; i++) {
            PoolJob *j = &P->job[i];
            char w[256], *dir = pool_job_dir(P, j->name);
            JobState st = exec_poll(&o->X, j->id, dir, w, sizeof w);
            free(dir);
            if (st == JOB_PENDING && (j->st != st || strcmp(j->why, w))) snprintf(j->why, sizeof j->why, "%s", w), changed = 1;
            if (st == JOB_RUNNING && j->st != st) j->started = (double)time(NULL), changed = 1;
            if (st != JOB_DONE) { j->st = st; continue; }
            char *rp = xasprintf("%s/%s/result.json", P->jobs, j->name);
            struct stat rs;
            double written = stat(rp, &rs) == 0 ? (double)rs.st_mtim.tv_sec + rs.st_mtim.tv_nsec * 1e-9 : NAN;
            free(rp);
            if (w[0]) {   // Slurm ended it: its state and reason go into the record
                char *sp = xasprintf("%s/%s/slurm.txt", P->jobs, j->name), err[256];
                write_file_atomic(sp, w, strlen(w), err, sizeof err);
                free(sp);
            }
            PoolExp *e = NULL;
            for (int k = 0; k < P->ne && !strcmp(j->kind, "experiment"); k++)
                if (!strcmp(P->exp[k].id, j->exp)) e = &P->exp[k];
            if (e) {   // the first run: held in its folder until the gate decides
                snprintf(e->first, sizeof e->first, "%s", j->name);
                snprintf(e->first_id, sizeof e->first_id, "%s", j->id);
                e->first_slot = j->slot;
                pool_drop_job(P, i, 1);
            } else {
                pool_ingest_run(P, j);
                pool_drop_job(P, i, 0);
            }
            if (isfinite(written)) {
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                P->t_ingest += (double)now.tv_sec + now.tv_nsec * 1e-9 - written;
                P->n_ingest++;
            }
            i--;
            changed = 1;
        }
        if (changed) pool_save(P);
        for (int i = 0; i < P->ne; i++) {
            int ne = P->ne;
            if (pool_decide(P, &P->exp[i])) {
                rc = 1;
                why = "the baseline crashed (see run.log): fix the setup first";
                g_stop = 1;
            }
            if (P->ne < ne) i--;
        }
        int none = 0;
        int started = fill(P, &none);
        if (!P->nj && !started && !(o->agent && !g_stop && (double)time(NULL) < P->agent_after)) {
            if (P->ne) { why = "experiments in flight with no run to make (pool.json kept)"; rc = 1; break; }
            if (!g_stop) why = none == 2 ? "reached --max-agent-failures" : none ? "the search agent has no new candidate" :
                               o->max_exp && session_experiments(S) >= o->max_exp ? "reached --max-experiments" :
                               "reached --until";
            break;
        }
        if (started >= FILL_MAX) continue;   // more slots to fill: poll again first, without a pause
        struct timespec ts = {(time_t)poll, (long)((poll - (time_t)poll) * 1e9)};
        nanosleep(&ts, NULL);
    }
    if (!P->nj && !P->ne) unlink(P->path);
    if (P->n_dispatch)
        printf("loop: harness overhead per job (mean of %d): dispatch %.1f ms, result file to ledger %.1f ms, "
               "ledger append %.1f ms\n", P->n_dispatch, 1e3 * P->t_dispatch / P->n_dispatch,
               P->n_ingest ? 1e3 * P->t_ingest / P->n_ingest : 0.0, P->n_append ? 1e3 * P->t_append / P->n_append : 0.0);
    const Record *b = session_best(S);
    printf("loop: %s; session %s: %d experiments, best val_bpb %.6f at %.7s\n", why, S->tag, session_experiments(S),
           b ? rec_num(b, "val_bpb", 0) : 0.0, b ? rec_get(b, "commit") : "-------");
    free(P->path); free(P->jobs); free(P->wts);
    free(P);
    return rc;
}

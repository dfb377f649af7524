// poolstate.c -- what a pool has in flight, $STATE/pool.json: one JSON line for the pool, one
// per experiment and one per job, rewritten (temporary file + rename) on every change, so a
// loop killed at any moment finds every job it had submitted, by name and executor id. And
// `status`'s view of it: every slot with its experiment, job id, state and elapsed time.
#include "pool.h"
#include "util.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *state_name[] = {"pending", "running", "done"};

char *pool_job_dir(const Pool *P, const char *name) { return xasprintf("%s/%s", P->jobs, name); }

void pool_save(const Pool *P) {
    char *all = xstrdup("");
    Record m = {0};
    rec_set_str(&m, "kind", "pool");
    rec_set_str(&m, "session", P->S->tag);
    rec_set_num(&m, "pid", getpid());
    rec_set_str(&m, "executor", P->o->X.slurm ? "slurm" : "local");
    rec_set_num(&m, "workers", P->o->X.workers);
    rec_set_num(&m, "queue_limit", P->o->queue_limit);
    rec_set_num(&m, "seq", (double)P->seq);
    rec_set_num(&m, "since_rebase", P->since_rebase);
    Record *rs = xmalloc((size_t)(1 + P->ne + P->nj) * sizeof *rs);
    int n = 0;
    rs[n++] = m;
    for (int i = 0; i < P->ne; i++) {
        const PoolExp *e = &P->exp[i];
        Record r = {0};
        rec_set_str(&r, "kind", "exp");
        rec_set_str(&r, "id", e->id);
        rec_set_num(&r, "n", e->n);
        rec_set_num(&r, "baseline", e->baseline);
        rec_set_str(&r, "commit", e->commit);
        rec_set_str(&r, "parent", e->parent);
        rec_set_str(&r, "rebased_from", e->rebased_from);
        rec_set_str(&r, "original_parent", e->original_parent);
        rec_set_str(&r, "description", e->desc);
        rec_set_str(&r, "worktree", e->wt);
        rec_set_str(&r, "diff_sha256", e->diff);
        rec_set_str(&r, "first", e->first);
        rec_set_str(&r, "first_id", e->first_id);
        rec_set_num(&r, "first_slot", e->first_slot);
        rec_set_num(&r, "want", e->want);
        rec_set_num(&r, "confirm_crashed", e->confirm_crashed);
        for (int k = 0; k < e->extra.n; k++) {   // the agent's fields, prefixed
            char *key = xasprintf("x_%s", e->extra.f[k].key);
            if (e->extra.f[k].is_str) rec_set_str(&r, key, e->extra.f[k].val);
            else rec_set_raw(&r, key, e->extra.f[k].val);
            free(key);
        }
        rs[n++] = r;
    }
    for (int i = 0; i < P->nj; i++) {
        const PoolJob *j = &P->job[i];
        Record r = {0};
        rec_set_str(&r, "kind", "job");
        rec_set_str(&r, "name", j->name);
        rec_set_str(&r, "job_id", j->id);
        rec_set_str(&r, "job_kind", j->kind);
        rec_set_str(&r, "commit", j->commit);
        rec_set_str(&r, "experiment", j->exp);
        rec_set_str(&r, "worktree", j->wt);
        rec_set_num(&r, "own_worktree", j->own_wt);
        rec_set_num(&r, "slot", j->slot);
        rec_set_num(&r, "run_i", j->run_i);
        rec_set_num(&r, "run_k", j->run_k);
        rec_set_num(&r, "after", j->after);
        rec_set_num(&r, "seed", (double)j->seed);
        rec_set_num(&r, "submitted", j->submitted);
        rec_set_num(&r, "started", j->started);
        rec_set_str(&r, "state", state_name[j->st]);
        rec_set_str(&r, "why", j->why);
        rs[n++] = r;
    }
    for (int i = 0; i < n; i++) {
        char *json = rec_to_json(&rs[i]), *t = xasprintf("%s%s\n", all, json);
        free(json);
        free(all);
        all = t;
        rec_free(&rs[i]);
    }
    free(rs);
    char err[512];
    if (write_file_atomic(P->path, all, strlen(all), err, sizeof err) != 0) die("%s", err);
    free(all);
}

static void copy_str(char *dst, size_t n, const Record *r, const char *key) {
    snprintf(dst, n, "%s", rec_get(r, key) ? rec_get(r, key) : "");
}

// Reads pool.json into records (one per line); -1 when there is none.
static int read_lines(const char *path, Record **out, int *n) {
    char *text = read_file(path, NULL);
    *out = NULL;
    *n = 0;
    if (!text) return -1;
    for (char *l = text, *nl; l && *l; l = nl ? nl + 1 : NULL) {
        nl = strchr(l, '\n');
        if (nl) *nl = 0;
        Record r;
        char err[128];
        if (!*l) continue;
        if (rec_parse(l, &r, err, sizeof err) != 0) die("%s: %s (a pool file the harness did not write)", path, err);
        *out = xrealloc(*out, (size_t)(*n + 1) * sizeof **out);
        (*out)[(*n)++] = r;
    }
    free(text);
    return 0;
}

int pool_load(Pool *P) {
    Record *rs;
    int n;
    if (read_lines(P->path, &rs, &n) != 0) return -1;
    for (int i = 0; i < n; i++) {
        const Record *r = &rs[i];
        const char *k = rec_get(r, "kind");
        if (k && !strcmp(k, "pool")) {
            const char *s = rec_get(r, "session");
            if (!s || strcmp(s, P->S->tag))
                die("loop: jobs of session %s are in flight (%s): resume that session with --tag %s first", s ? s : "?",
                    P->path, s ? s : "?");
            P->seq = (long)rec_num(r, "seq", 0);
            P->since_rebase = (int)rec_num(r, "since_rebase", 0);
        } else if (k && !strcmp(k, "exp") && P->ne < POOL_MAX) {
            PoolExp *e = &P->exp[P->ne++];
            memset(e, 0, sizeof *e);
            copy_str(e->id, sizeof e->id, r, "id");
            e->n = (int)rec_num(r, "n", 0);
            e->baseline = (int)rec_num(r, "baseline", 0);
            copy_str(e->commit, sizeof e->commit, r, "commit");
            copy_str(e->parent, sizeof e->parent, r, "parent");
            copy_str(e->rebased_from, sizeof e->rebased_from, r, "rebased_from");
            copy_str(e->original_parent, sizeof e->original_parent, r, "original_parent");
            copy_str(e->desc, sizeof e->desc, r, "description");
            copy_str(e->wt, sizeof e->wt, r, "worktree");
            copy_str(e->diff, sizeof e->diff, r, "diff_sha256");
            copy_str(e->first, sizeof e->first, r, "first");
            copy_str(e->first_id, sizeof e->first_id, r, "first_id");
            e->first_slot = (int)rec_num(r, "first_slot", 0);
            e->want = (int)rec_num(r, "want", 0);
            e->confirm_crashed = (int)rec_num(r, "confirm_crashed", 0);
            for (int f = 0; f < r->n; f++) {
                if (strncmp(r->f[f].key, "x_", 2)) continue;
                if (r->f[f].is_str) rec_set_str(&e->extra, r->f[f].key + 2, r->f[f].val);
                else rec_set_raw(&e->extra, r->f[f].key + 2, r->f[f].val);
            }
        } else if (k && !strcmp(k, "job") && P->nj < POOL_MAX) {
            PoolJob *j = &P->job[P->nj++];
            memset(j, 0, sizeof *j);
            copy_str(j->name, sizeof j->name, r, "name");
            copy_str(j->id, sizeof j->id, r, "job_id");
            copy_str(j->kind, sizeof j->kind, r, "job_kind");
            copy_str(j->commit, sizeof j->commit, r, "commit");
            copy_str(j->exp, sizeof j->exp, r, "experiment");
            copy_str(j->wt, sizeof j->wt, r, "worktree");
            j->own_wt = (int)rec_num(r, "own_worktree", 0);
            j->slot = (int)rec_num(r, "slot", 0);
            j->run_i = (int)rec_num(r, "run_i", 0);
            j->run_k = (int)rec_num(r, "run_k", 0);
            j->after = (int)rec_num(r, "after", 0);
            j->seed = (long)rec_num(r, "seed", -1);
            j->submitted = rec_num(r, "submitted", 0);
            j->started = rec_num(r, "started", 0);
            const char *st = rec_get(r, "state");
            j->st = st && !strcmp(st, "running") ? JOB_RUNNING : JOB_PENDING;
        }
    }
    for (int i = 0; i < n; i++) rec_free(&rs[i]);
    free(rs);
    return 0;
}

void pool_status(const Session *S, Record *json) {
    char *path = xasprintf("%s/pool.json", S->state);
    Record *rs;
    int n;
    if (read_lines(path, &rs, &n) != 0) { free(path); return; }
    double now = (double)time(NULL), limit = 0;
    int alive = 0, slots = 0;
    for (int i = 0; i < n; i++) {
        const Record *r = &rs[i];
        const char *k = rec_get(r, "kind");
        if (k && !strcmp(k, "pool")) {
            pid_t pid = (pid_t)rec_num(r, "pid", 0);
            alive = pid > 0 && kill(pid, 0) == 0;
            limit = rec_num(r, "queue_limit", 0);
            if (!json) printf("pool       %s executor, %.0f workers%s\n", rec_get(r, "executor"), rec_num(r, "workers", 0),
                              alive ? "" : " (the loop is not running: `loop` with this tag adopts the jobs again)");
            else {
                rec_set_str(json, "pool_executor", rec_get(r, "executor"));
                rec_set_num(json, "pool_workers", rec_num(r, "workers", 0));
                rec_set_raw(json, "pool_loop_running", alive ? "true" : "false");
            }
        } else if (k && !strcmp(k, "job")) {
            const char *st = rec_get(r, "state"), *exp = rec_get(r, "experiment"), *jk = rec_get(r, "job_kind");
            double since = rec_num(r, "started", 0) > 0 ? rec_num(r, "started", 0) : rec_num(r, "submitted", 0);
            char el[32], stuck[400] = "", prog[200] = "";
            fmt_duration(now - since, el, sizeof el);
            int pending = st && !strcmp(st, "pending");
            if (pending && limit > 0 && now - rec_num(r, "submitted", 0) > limit) {
                char lim[32];
                fmt_duration(limit, lim, sizeof lim);
                snprintf(stuck, sizeof stuck, "  STUCK in the queue past %s (%s)", lim,
                         rec_get(r, "why") && *rec_get(r, "why") ? rec_get(r, "why") : "no reason given");
            }
            char *pp = xasprintf("%s/jobs/%s/progress.txt", S->state, rec_get(r, "name"));
            TrainProgress tp;
            if (!pending && train_progress_read(pp, &tp) == 0) {
                char line[160];
                train_progress_format(&tp, line, sizeof line);
                snprintf(prog, sizeof prog, "  %s", line);
            }
            free(pp);
            int slot = (int)rec_num(r, "slot", 0);
            if (!json) {
                printf("slot %-5d %s %s of %.7s, job %s, %s for %s%s%s\n", slot, exp && *exp ? exp : "-", jk,
                       rec_get(r, "commit"), *rec_get(r, "job_id") ? rec_get(r, "job_id") : "(submitting)", st, el,
                       stuck, prog);
            } else {
                char key[64];
                snprintf(key, sizeof key, "slot_%d_experiment", slot);
                rec_set_str(json, key, exp ? exp : "");
                snprintf(key, sizeof key, "slot_%d_kind", slot);
                rec_set_str(json, key, jk ? jk : "");
                snprintf(key, sizeof key, "slot_%d_job_id", slot);
                rec_set_str(json, key, rec_get(r, "job_id"));
                snprintf(key, sizeof key, "slot_%d_state", slot);
                rec_set_str(json, key, stuck[0] ? "stuck" : st);
                snprintf(key, sizeof key, "slot_%d_elapsed_s", slot);
                rec_set_num(json, key, now - since);
            }
            slots++;
        }
    }
    if (json) rec_set_num(json, "pool_jobs", slots);
    for (int i = 0; i < n; i++) rec_free(&rs[i]);
    free(rs);
    free(path);
}

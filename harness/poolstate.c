// poolstate.c -- what a pool has in flight, $STATE/pool.json: one JSON line for the pool, one
// per experiment and one per job, rewritten (temporary file + rename) on every change, so a
// loop killed at any moment finds every job it had submitted, by name and executor id. And
// `status`'s view of it: every slot with its experiment, job id, state and elapsed time.
#include "pool.h"
#include "util.h"

#include <math.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *state_name[] = {"pending", "running", "done"};

char *pool_job_dir(const Pool *P, const char *name) { return xasprintf("%s/%s", P->jobs, name); }

// The fields of an experiment and of a job as pool.json spells them.
typedef struct {
    const char *key;
    char type;                 // s: char array, i: int, l: long, d: double
    size_t off, size;
} Col;
#define S_(T, f, k) {k, 's', offsetof(T, f), sizeof(((T *)0)->f)}
#define N_(T, f, k, t) {k, t, offsetof(T, f), 0}
static const Col exp_cols[] = {
    S_(PoolExp, id, "id"), N_(PoolExp, n, "n", 'i'), N_(PoolExp, baseline, "baseline", 'i'),
    S_(PoolExp, commit, "commit"), S_(PoolExp, parent, "parent"), S_(PoolExp, rebased_from, "rebased_from"),
    S_(PoolExp, original_parent, "original_parent"), S_(PoolExp, desc, "description"), S_(PoolExp, wt, "worktree"),
    S_(PoolExp, diff, "diff_sha256"), S_(PoolExp, first, "first"), S_(PoolExp, first_id, "first_id"),
    N_(PoolExp, first_slot, "first_slot", 'i'), N_(PoolExp, want, "want", 'i'),
    N_(PoolExp, confirm_crashed, "confirm_crashed", 'i'), {NULL, 0, 0, 0}};
static const Col job_cols[] = {
    S_(PoolJob, name, "name"), S_(PoolJob, id, "job_id"), S_(PoolJob, kind, "job_kind"), S_(PoolJob, commit, "commit"),
    S_(PoolJob, exp, "experiment"), S_(PoolJob, wt, "worktree"), N_(PoolJob, own_wt, "own_worktree", 'i'),
    N_(PoolJob, slot, "slot", 'i'), N_(PoolJob, run_i, "run_i", 'i'), N_(PoolJob, run_k, "run_k", 'i'),
    N_(PoolJob, after, "after", 'i'), N_(PoolJob, seed, "seed", 'l'), N_(PoolJob, submitted, "submitted", 'd'),
    N_(PoolJob, started, "started", 'd'), S_(PoolJob, why, "why"), {NULL, 0, 0, 0}};

static void to_record(Record *r, const char *kind, const void *obj, const Col *c) {
    rec_set_str(r, "kind", kind);
    for (const char *b = obj; c->key; c++) {
        const void *p = b + c->off;
        if (c->type == 's') rec_set_str(r, c->key, p);
        else rec_set_num(r, c->key, c->type == 'i' ? *(const int *)p : c->type == 'l' ? (double)*(const long *)p
                                                                                       : *(const double *)p);
    }
}

static void from_record(const Record *r, void *obj, const Col *c) {
    for (char *b = obj; c->key; c++) {
        void *p = b + c->off;
        if (c->type == 's') snprintf(p, c->size, "%s", rec_get(r, c->key) ? rec_get(r, c->key) : "");
        else if (c->type == 'i') *(int *)p = (int)rec_num(r, c->key, 0);
        else if (c->type == 'l') *(long *)p = (long)rec_num(r, c->key, -1);
        else *(double *)p = rec_num(r, c->key, 0);
    }
}

void pool_save(const Pool *P) {
    char *all = xstrdup("");
    int n = 1 + P->ne + P->nj;
    Record *rs = xmalloc((size_t)n * sizeof *rs);
    memset(rs, 0, (size_t)n * sizeof *rs);
    rec_set_str(&rs[0], "kind", "pool");
    rec_set_str(&rs[0], "session", P->S->tag);
    rec_set_num(&rs[0], "pid", getpid());
    rec_set_str(&rs[0], "executor", P->o->X.slurm ? "slurm" : "local");
    rec_set_num(&rs[0], "workers", P->o->X.workers);
    rec_set_num(&rs[0], "queue_limit", P->o->queue_limit);
    rec_set_num(&rs[0], "seq", (double)P->seq);
    rec_set_num(&rs[0], "since_rebase", P->since_rebase);
    for (int i = 0; i < P->ne; i++) {
        const PoolExp *e = &P->exp[i];
        Record *r = &rs[1 + i];
        to_record(r, "exp", e, exp_cols);
        for (int k = 0; k < e->extra.n; k++) {   // the agent's fields, prefixed
            char *key = xasprintf("x_%s", e->extra.f[k].key);
            if (e->extra.f[k].is_str) rec_set_str(r, key, e->extra.f[k].val);
            else rec_set_raw(r, key, e->extra.f[k].val);
            free(key);
        }
    }
    for (int i = 0; i < P->nj; i++) {
        Record *r = &rs[1 + P->ne + i];
        to_record(r, "job", &P->job[i], job_cols);
        rec_set_str(r, "state", state_name[P->job[i].st]);
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
            from_record(r, e, exp_cols);
            for (int f = 0; f < r->n; f++) {
                if (strncmp(r->f[f].key, "x_", 2)) continue;
                if (r->f[f].is_str) rec_set_str(&e->extra, r->f[f].key + 2, r->f[f].val);
                else rec_set_raw(&e->extra, r->f[f].key + 2, r->f[f].val);
            }
        } else if (k && !strcmp(k, "job") && P->nj < POOL_MAX) {
            PoolJob *j = &P->job[P->nj++];
            memset(j, 0, sizeof *j);
            from_record(r, j, job_cols);
            const char *st = rec_get(r, "state");
            j->st = st && !strcmp(st, "running") ? JOB_RUNNING : JOB_PENDING;
        }
    }
    for (int i = 0; i < n; i++) rec_free(&rs[i]);
    free(rs);
    return 0;
}

// ----------------------------------------------------------------------------
// Queries on what is in flight and what the ledger holds

int pool_free_slot(const Pool *P) {
    for (int s = 0; s < P->o->X.workers; s++) {
        int used = 0;
        for (int i = 0; i < P->nj; i++) used |= P->job[i].slot == s;
        if (!used) return s;
    }
    return -1;
}

PoolExp *pool_find_exp(Pool *P, const char *id) {
    for (int i = 0; i < P->ne; i++)
        if (!strcmp(P->exp[i].id, id)) return &P->exp[i];
    return NULL;
}

int pool_jobs_of(const Pool *P, const char *exp, const char *kind) {
    int n = 0;
    for (int i = 0; i < P->nj; i++) n += !strcmp(P->job[i].exp, exp) && (!kind || !strcmp(P->job[i].kind, kind));
    return n;
}

// A ledger record of this session that names job `name` (it was ingested before a kill).
const Record *pool_recorded_job(const Session *S, const char *name) {
    for (int i = S->L.n - 1; i >= 0; i--) {
        const char *j = rec_get(&S->L.r[i], "job"), *s = rec_get(&S->L.r[i], "session");
        if (j && s && !strcmp(j, name) && !strcmp(s, S->tag)) return &S->L.r[i];
    }
    return NULL;
}

int pool_next_n(const Pool *P) {
    int n = 0;
    const Session *S = P->S;
    for (int i = 0; i < S->L.n; i++) {
        const char *k = rec_get(&S->L.r[i], "kind"), *s = rec_get(&S->L.r[i], "session");
        if (k && s && !strcmp(k, "experiment") && !strcmp(s, S->tag) && rec_num(&S->L.r[i], "n", 0) > n)
            n = (int)rec_num(&S->L.r[i], "n", 0);
    }
    for (int i = 0; i < P->ne; i++)
        if (P->exp[i].n > n) n = P->exp[i].n;
    return n + 1;
}

// The smallest positive seed no run of commit has used, in the ledger or in flight.
long pool_free_seed(const Pool *P, const char *commit) {
    for (long seed = fresh_seed(P->S, commit);; seed++) {
        int used = 0;
        for (int i = 0; i < P->nj; i++) used |= !strcmp(P->job[i].commit, commit) && P->job[i].seed == seed;
        for (int i = 0; i < P->S->L.n && !used; i++) {
            const Record *r = &P->S->L.r[i];
            const char *s = rec_get(r, "session"), *c = rec_get(r, "commit");
            used = s && c && !strcmp(s, P->S->tag) && !strcmp(c, commit) && rec_get(r, "seed") &&
                   (long)rec_num(r, "seed", -1) == seed;
        }
        if (!used) return seed;
    }
}

// The baseline's runs so far, whatever their outcome: its first, its noise runs recorded and in
// flight (a noise run that crashed is not run again, as with one worker).
int pool_noise_runs(const Pool *P, const PoolExp *e) {
    int n = 1 + pool_jobs_of(P, e->id, "noise");
    for (int i = 0; i < P->S->L.n; i++) {
        const Record *r = &P->S->L.r[i];
        const char *k = rec_get(r, "kind"), *x = rec_get(r, "experiment_id"), *s = rec_get(r, "session");
        n += k && x && s && !strcmp(k, "noise") && !strcmp(x, e->id) && !strcmp(s, P->S->tag);
    }
    return n;
}

void pool_refuse_in_flight(const Session *S, const char *cmd) {
    char *p = xasprintf("%s/pool.json", S->state);
    if (file_exists(p))
        die("%s: jobs of a `loop --workers` are in flight (%s): run that loop again (the same --tag, --workers and "
            "--executor) to adopt and finish them first", cmd, p);
    free(p);
}

// ----------------------------------------------------------------------------
// status

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

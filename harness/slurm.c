// slurm.c -- the Slurm executor: each job is a batch script `autoresearch job DIR`, submitted
// with `sbatch --parsable --no-requeue`, followed with `squeue`, and once it has left the
// queue, asked about with `scontrol show job` (within the controller's MinJobAge) for how it
// ended. A job Slurm ended (time limit, node failure, preemption, scancel) without a result
// file is recorded as a crash with Slurm's state and reason; it is never requeued, so one
// experiment is one run whatever the cluster does.
#include "pool.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Splits --slurm-args on blanks, with '...' and "..." quoting; appends to argv (cap max).
static int split_args(const char *s, char **argv, int n, int max) {
    while (s && *s && n < max) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        char *w = xmalloc(strlen(s) + 1), *o = w;
        char q = 0;
        for (; *s && (q || (*s != ' ' && *s != '\t')); s++) {
            if (q && *s == q) q = 0;
            else if (!q && (*s == '\'' || *s == '"')) q = *s;
            else *o++ = *s;
        }
        *o = 0;
        argv[n++] = w;
    }
    return n;
}

int slurm_submit(const Executor *X, const char *dir, const char *name, char *id, size_t idn, char *err, size_t errlen) {
    char *exe = self_exe(), *script = xasprintf("%s/job.sh", dir);
    char *body = xasprintf("#!/bin/sh\n# autoresearch: one run of %s/spec.json\nexec '%s' job '%s'\n", dir, exe, dir);
    if (write_file_atomic(script, body, strlen(body), err, errlen) != 0) { free(exe); free(script); free(body); return -1; }
    char *argv[80];
    int n = 0;
    argv[n++] = xstrdup("sbatch");
    argv[n++] = xstrdup("--parsable");
    argv[n++] = xstrdup("--no-requeue");
    argv[n++] = xasprintf("--job-name=%s", name);
    argv[n++] = xasprintf("--output=%s/job.log", dir);
    argv[n++] = xasprintf("--chdir=%s", dir);
    if (X->threads > 0 && (!X->slurm_args || !strstr(X->slurm_args, "--cpus-per-task")))
        argv[n++] = xasprintf("--cpus-per-task=%d", X->threads);
    n = split_args(X->slurm_args, argv, n, 76);
    argv[n++] = xstrdup(script);
    argv[n] = NULL;
    char *out = NULL, *eo = NULL;
    int rc = cmd_capture((const char *const *)argv, &out, &eo);
    for (int i = 0; i < n; i++) free(argv[i]);
    int ok = rc == 0 && out && out[0] >= '0' && out[0] <= '9';
    if (ok) {
        out[strspn(out, "0123456789")] = 0;   // "id" or "id;cluster"
        snprintf(id, idn, "%s", out);
    } else {
        eo[strcspn(eo, "\n")] = 0;
        snprintf(err, errlen, "sbatch failed (exit %d): %s", rc, *eo ? eo : out ? out : "");
    }
    free(out); free(eo); free(exe); free(script); free(body);
    return ok ? 0 : -1;
}

// The value of KEY= in `scontrol show job -o` output (up to the next blank), or "".
static void field(const char *s, const char *key, char *out, size_t n) {
    out[0] = 0;
    const char *p = s;
    size_t k = strlen(key);
    while ((p = strstr(p, key))) {
        if ((p == s || p[-1] == ' ') && p[k] == '=') {
            p += k + 1;
            size_t l = strcspn(p, " \n");
            snprintf(out, n, "%.*s", (int)l, p);
            return;
        }
        p += k;
    }
}

// One squeue a round for all of the user's jobs (not one per job: the controller is shared).
static struct {
    char *out;          // "id|state|reason" lines
    int ok;             // squeue answered
} Q;

void slurm_refresh(void) {
    char uid[32];
    snprintf(uid, sizeof uid, "%d", (int)getuid());
    const char *sq[] = {"squeue", "-h", "-u", uid, "-o", "%i|%T|%r", NULL};
    char *eo = NULL;
    free(Q.out);
    Q.out = NULL;
    Q.ok = cmd_capture(sq, &Q.out, &eo) == 0;
    free(eo);
}

JobState slurm_poll(const char *id, char *why, size_t n) {
    why[0] = 0;
    if (!Q.out) slurm_refresh();
    if (!Q.ok) return JOB_RUNNING;   // the controller did not answer: the job is not known to be gone
    JobState st = JOB_DONE;
    size_t k = strlen(id);
    for (const char *l = Q.out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, id, k) || l[k] != '|') continue;
        char state[32] = "", reason[200] = "";
        sscanf(l + k + 1, "%31[^|]|%199[^\n]", state, reason);
        if (!strcmp(state, "PENDING")) {
            st = JOB_PENDING;
            snprintf(why, n, "%s", reason);
        } else if (!strcmp(state, "RUNNING") || !strcmp(state, "CONFIGURING") || !strcmp(state, "COMPLETING") ||
                   !strcmp(state, "SUSPENDED") || !strcmp(state, "STAGE_OUT") || !strcmp(state, "RESIZING")) {
            st = JOB_RUNNING;
        }
        break;
    }
    char *out = NULL, *eo = NULL;
    if (st != JOB_DONE) return st;
    const char *sc[] = {"scontrol", "show", "job", "-o", id, NULL};
    if (cmd_capture(sc, &out, &eo) == 0) {
        char state[64], reason[128];
        field(out, "JobState", state, sizeof state);
        field(out, "Reason", reason, sizeof reason);
        if (state[0] && strcmp(state, "COMPLETED"))
            snprintf(why, n, "Slurm: job %s %s%s%s", id, state, strcmp(reason, "None") && reason[0] ? ", reason " : "",
                     strcmp(reason, "None") ? reason : "");
    }
    free(out);
    free(eo);
    return JOB_DONE;
}

void slurm_cancel(const char *id) {
    const char *argv[] = {"scancel", id, NULL};
    char *o = NULL, *e = NULL;
    cmd_capture(argv, &o, &e);
    free(o);
    free(e);
}

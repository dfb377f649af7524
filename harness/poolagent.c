// poolagent.c -- an external agent in `loop --workers N`: called once per free slot, in a new
// experiment's own worktree off the current best (invoke_agent, agent.c, with its checks and
// resets made there), its prompt listing the experiments in flight so that it proposes
// something else. Calls are one at a time: while the agent works, the jobs keep running and
// what they finish is ingested once it returns. A change whose normalised diff was already
// dispatched in the session is not run again (an agent failure says so).
#include "pool.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *in_flight_text(const Pool *P, const PoolExp *self) {
    char *t = xasprintf("## Other workers (this session runs %d experiments at once)\n\n"
                        "You work in a git worktree of your own; these experiments are in flight now, "
                        "each off the best at the time it started. Propose something else:\n\n",
                        P->o->X.workers);
    int n = 0;
    for (int i = 0; i < P->ne; i++) {
        const PoolExp *e = &P->exp[i];
        if (e == self) continue;
        char *u = xasprintf("%s- %s: %s (commit %.7s off %.7s)\n", t, e->id, e->desc, e->commit, e->parent);
        free(t);
        t = u;
        n++;
    }
    if (!n) {
        char *u = xasprintf("%s- (none)\n", t);
        free(t);
        t = u;
    }
    return t;
}

static int failure(Pool *P, PoolExp *e, const char *reason, const Record *extra) {
    Session *S = P->S;
    pool_remove_exp(P, e);
    pool_save(P);
    if (g_stop) return 0;
    record_event(S, "agent_error", "agent_error", "agent failure", reason, extra);
    P->agent_fails++;
    printf("agent: %s (failure %d in a row; see %s/agent.log)\n", reason, P->agent_fails, S->state);
    fflush(stdout);
    if (P->o->max_fail && P->agent_fails >= P->o->max_fail) return -1;
    int k = P->agent_fails < 9 ? P->agent_fails - 1 : 8;
    P->agent_after = (double)time(NULL) + fmin(300, P->o->retry * (double)(1 << k));
    return 0;
}

int pool_agent(Pool *P, int slot) {
    Session *S = P->S;
    const Record *best = session_best(S);
    char bc[41];
    snprintf(bc, sizeof bc, "%s", rec_get(best, "commit"));
    PoolExp *e = pool_new_exp(P, bc, bc, "(the agent at work)");
    pool_wt_add(P, e->wt, bc);
    pool_save(P);
    LoopOpts lo = *P->o->agent;
    lo.worktree = e->wt;
    char *flight = in_flight_text(P, e);
    lo.in_flight = flight;
    S->n_reserved = e->n - 1;   // an invalid change is recorded as this experiment
    char *desc = NULL, reason[256] = "";
    Record extra = {0};
    int rc = invoke_agent(S, &lo, bc, &desc, &extra, reason, sizeof reason);
    S->n_reserved = 0;
    free(flight);
    pool_in_root(S);
    int out = 0;
    if (rc == 1) out = failure(P, e, reason, &extra);
    else if (rc == 2) {   // recorded by invoke_agent as experiment e->n
        P->agent_fails = 0;
        pool_remove_exp(P, e);
        pool_save(P);
    } else {
        if (chdir(e->wt) != 0) die("cannot enter %s", e->wt);
        if (commit_train(desc) != 0) die("cannot commit train.c in %s: %s", e->wt, git_err);
        char *c = head_commit();
        snprintf(e->commit, sizeof e->commit, "%s", c);
        free(c);
        pool_in_root(S);
        char diff[65];
        pool_commit_diff(bc, e->commit, diff);
        if (pool_diff_dispatched(P, diff)) {
            char why[160];
            snprintf(why, sizeof why, "the agent proposed a change already dispatched in this session (diff %.12s)", diff);
            out = failure(P, e, why, &extra);
        } else {
            snprintf(e->diff, sizeof e->diff, "%s", diff);
            P->agent_fails = 0;
            snprintf(e->desc, sizeof e->desc, "%s", desc);
            rec_merge(&e->extra, &extra);
            pool_dispatch(P, slot, "experiment", e->commit, e->id, e->wt, S->seed, 1, 1, 0);
            pool_announce(e, &P->job[P->nj - 1]);
            P->since_rebase++;
            out = 1;
        }
    }
    free(desc);
    rec_free(&extra);
    return out;
}

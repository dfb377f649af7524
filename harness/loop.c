// loop.c -- `autoresearch loop`: the autonomous research loop (the agent: agent.c).
#include "harness.h"
#include "pool.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// ----------------------------------------------------------------------------
// loop

static const char *loop_help =
    "usage: autoresearch loop --agent CMD|search [options]\n"
    "\n"
    "The autonomous research loop. Works on branch autoresearch/<tag>, created from the\n"
    "current commit (or resumed from the ledger and the branch when it exists). The first\n"
    "experiment is the unmodified baseline. Then, each iteration: the agent edits train.c and\n"
    "gives a one-line description; a change to any other file is rejected (reset, logged as\n"
    "`invalid`); the harness commits, runs (as `autoresearch run`: confirmation runs and the\n"
    "sequential test of the sprt gate), keeps the commit if it beats the best, else resets to\n"
    "the best, logs, and repeats. With sprt, the best is re-run every --rebaseline-every\n"
    "experiments (its estimate, and drift detection). An agent that fails,\n"
    "hangs past --agent-timeout or changes nothing is logged (results.jsonl) and invoked again.\n"
    "Ctrl-C stops after the current experiment; a second Ctrl-C aborts it.\n"
    "\n"
    "agents:\n"
    "  --agent search    built-in seeded local search over train.c's tunables block (no LLM)\n"
    "  --agent 'CMD'     any program, run with /bin/sh -c in the repository root; it gets the\n"
    "                    prompt (program.md + the session's state) on stdin and as the file\n"
    "                    $AUTORESEARCH_PROMPT_FILE, edits train.c, and gives a description as\n"
    "                    a line 'DESCRIPTION: ...' on stdout or in $AUTORESEARCH_DESCRIPTION_FILE\n"
    "\n"
    "options:\n"
    "  --tag TAG               session name (default: the current autoresearch/<tag> branch's,\n"
    "                          else today's date, e.g. nov21)\n"
    "  --max-experiments N     stop when the session has N experiments (default: never)\n"
    "  --until TIME            stop starting experiments after TIME: HH:MM (local), +30m, +8h\n"
    "  --agent-timeout S       seconds an agent may take per iteration (default 1800)\n"
    "  --agent-sandbox         run the agent under Landlock: it writes only in the work tree and\n"
    "                          the --agent-allow folders, and reads the test ledger as empty.\n"
    "                          Without it, an agent running as you can read all you can.\n"
    "  --agent-net none|PORT[,PORT]  with --agent-sandbox: TCP connections only to these ports\n"
    "                          (e.g. 443 for the model's API), or none; default: any (Landlock\n"
    "                          ABI 4+; UDP, so DNS, stays open)\n"
    "  --agent-allow DIR       a folder the sandboxed agent may write too (its CLI's config,\n"
    "                          e.g. ~/.claude); repeatable\n"
    "  --search-seed N         seed of the search agent (default 1337)\n"
    "  --max-agent-failures N  stop after N agent failures in a row (default: never)\n"
    "  --retry-delay S         wait before re-invoking a failed agent; doubles with each\n"
    "                          failure in a row, at most 300 s (default 1)\n"
    "  --max-fixed-errors N    stop after N crashes in a row with the same fixed-layer error\n"
    "                          (a missing or broken data set, say; default 3, 0: never)\n"
    "\n"
    "many experiments at once (README: \"Running on a cluster\"):\n"
    "  --workers N             experiments in flight at once (default 1: the loop above); each\n"
    "                          in its own git worktree off the best, one writer of the ledger\n"
    "  --executor E            local (default: processes on this machine, pinned) or slurm\n"
    "                          (sbatch --parsable, followed with squeue and scontrol)\n"
    "  --threads-per-worker K  cores (OpenMP threads) of each run (local default: the cores / N;\n"
    "                          slurm: --cpus-per-task, when given)\n"
    "  --slurm-args \"...\"      passed to sbatch as they are (partition, --time, --gres=gpu:1)\n"
    "  --queue-limit S         a job pending longer is reported STUCK by status (default 1800)\n"
    "  The search agent proposes a distinct candidate per free slot; an external agent is\n"
    "  called once per free slot (one call at a time) in the experiment's worktree, with the\n"
    "  experiments in flight listed in its prompt. Ctrl-C drains (no new experiment; those in\n"
    "  flight finish and are decided), a second Ctrl-C cancels every job, recording nothing.\n"
    "\n"
    "the session (as for run and noise):\n" SESSION_OPTIONS_HELP;

static double parse_until(const char *s) {
    time_t now = time(NULL);
    char *end;
    if (s[0] == '+') {
        double v = strtod(s + 1, &end);
        double mult = !strcmp(end, "s") ? 1 : !strcmp(end, "m") || !*end ? 60 : !strcmp(end, "h") ? 3600 : -1;
        if (mult < 0 || end == s + 1 || v < 0) die("--until: '%s' is not +N[s|m|h]", s);
        return (double)now + v * mult;
    }
    int hh, mm;
    if (sscanf(s, "%d:%d", &hh, &mm) == 2 && hh >= 0 && hh < 24 && mm >= 0 && mm < 60) {
        struct tm tm;
        localtime_r(&now, &tm);
        tm.tm_hour = hh;
        tm.tm_min = mm;
        tm.tm_sec = 0;
        time_t t = mktime(&tm);
        if (t <= now) t += 24 * 3600;
        return (double)t;
    }
    die("--until: '%s' is not HH:MM or +N[s|m|h]", s);
}

static void sleep_interruptible(double secs) {
    double t0 = now_seconds();
    while (!g_stop && now_seconds() - t0 < secs) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
}

static void default_tag(char *tag, size_t n) {
    static const char *mon[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    snprintf(tag, n, "%s%d", mon[tm.tm_mon], tm.tm_mday);
}

// --agent-net none | PORT[,PORT...] (at most 16)
static void parse_agent_net(LoopOpts *o, const char *v) {
    o->nports = 0;
    if (!strcmp(v, "none")) return;
    for (const char *p = v; *p;) {
        char *end;
        long port = strtol(p, &end, 10);
        if (end == p || port < 1 || port > 65535 || (*end && *end != ',') || o->nports == 16)
            die("loop: --agent-net '%s': expected none or up to 16 TCP ports (1-65535) separated by commas", v);
        o->ports[o->nports++] = (int)port;
        p = *end ? end + 1 : end;
    }
}

int loop_main(int argc, char **argv) {
    Session S;
    LoopOpts o = {.agent = NULL, .agent_timeout = 1800, .search_seed = 1337, .nports = -1};
    const char *tag = NULL;
    int max_exp = 0, max_fail = 0, max_fixed = 3;
    PoolOpts po = {.X = {.workers = 1}, .queue_limit = 1800};
    const char *executor = "local";
    double until = 0, retry = 1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(loop_help, stdout); return 0; }
    session_open(&S);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--agent") && v) o.agent = v, i++;
        else if (!strcmp(a, "--tag") && v) tag = v, i++;
        else if (!strcmp(a, "--max-experiments") && v) max_exp = atoi(v), i++;
        else if (!strcmp(a, "--until") && v) until = parse_until(v), i++;
        else if (!strcmp(a, "--agent-timeout") && v) o.agent_timeout = atof(v), i++;
        else if (!strcmp(a, "--agent-sandbox")) o.sandbox = 1;
        else if (!strcmp(a, "--agent-net") && v) parse_agent_net(&o, v), i++;
        else if (!strcmp(a, "--agent-allow") && v) {
            if (o.nallow == 16) die("loop: at most 16 --agent-allow folders");
            if (!file_exists(v)) die("loop: --agent-allow %s: no such folder", v);
            o.allow[o.nallow++] = v, i++;
        }
        else if (!strcmp(a, "--search-seed") && v) o.search_seed = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--max-agent-failures") && v) max_fail = atoi(v), i++;
        else if (!strcmp(a, "--retry-delay") && v) retry = atof(v), i++;
        else if (!strcmp(a, "--max-fixed-errors") && v) max_fixed = atoi(v), i++;
        else if (!strcmp(a, "--workers") && v) {
            po.X.workers = atoi(v), i++;
            if (po.X.workers < 1 || po.X.workers > POOL_MAX / 2) die("--workers: '%s' is not a count in 1..%d", v, POOL_MAX / 2);
        } else if (!strcmp(a, "--executor") && v) {
            executor = v, i++;
            if (strcmp(v, "local") && strcmp(v, "slurm")) die("--executor: '%s' is not local or slurm", v);
        } else if (!strcmp(a, "--threads-per-worker") && v) {
            po.X.threads = atoi(v), i++;
            if (po.X.threads < 1) die("--threads-per-worker: '%s' is not a positive count", v);
        } else if (!strcmp(a, "--slurm-args") && v) po.X.slurm_args = v, i++;
        else if (!strcmp(a, "--queue-limit") && v) po.queue_limit = atof(v), i++;
        else if (!session_option(&S, argc, argv, &i)) die("loop: unknown option or missing value '%s' (see --help)", a);
    }
    if (!o.agent || !*o.agent) die("loop: --agent CMD|search is required (see --help)");
    if (o.nports >= 0 && !o.sandbox) die("loop: --agent-net needs --agent-sandbox");
    if (o.agent_timeout <= 0) die("--agent-timeout must be positive");
    po.X.slurm = !strcmp(executor, "slurm");
    int pool = po.X.workers > 1 || po.X.slurm;
    if (pool && !strcmp(S.gate, "noise")) die("loop: --gate noise needs one worker; use sprt or strict with --workers");
    if (!pool && po.X.slurm_args) die("loop: --slurm-args needs --executor slurm");
    if (!po.X.threads && !po.X.slurm) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        po.X.threads = nc > po.X.workers ? (int)(nc / po.X.workers) : 1;
    }
    po.agent = strcmp(o.agent, "search") ? &o : NULL;
    po.search_seed = o.search_seed, po.max_exp = max_exp, po.until = until, po.max_fail = max_fail, po.retry = retry;
    char t[96];
    char *cb = git_str("symbolic-ref", "-q", "--short", "HEAD", NULL);
    if (tag) snprintf(t, sizeof t, "%s", tag);
    else if (cb && !strncmp(cb, "autoresearch/", 13)) snprintf(t, sizeof t, "%s", cb + 13);  // resume it
    else default_tag(t, sizeof t);
    free(cb);
    for (const char *p = t; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.')) die("--tag: '%s' has characters a branch name should not", t);
    session_lock(&S);

    // the branch: resume it, or create it from the current commit
    char *branch = xasprintf("autoresearch/%s", t);
    char *ref = xasprintf("refs/heads/%s", branch);
    int exists = git_ok("rev-parse", "--verify", "-q", ref, NULL);
    char *cur_branch = git_str("symbolic-ref", "-q", "--short", "HEAD", NULL);
    int on_branch = cur_branch && !strcmp(cur_branch, branch);
    free(cur_branch);
    if (exists) {
        if (!on_branch) {
            if (!git_ok("diff", "--quiet", "HEAD", NULL)) die("loop: the working tree has changes; commit or stash them before resuming %s", branch);
            if (!git_ok("checkout", "-q", branch, NULL)) die("cannot check out %s: %s", branch, git_err);
        }
        if (session_load(&S, t) != 0) die("loop: branch %s exists but has no session record here; choose another --tag", branch);
        printf("loop: resuming session %s on %s (%d experiments so far)\n", t, branch, session_experiments(&S));
    } else {
        if (session_load(&S, t) == 0 && session_experiments(&S) > 0)
            die("loop: session %s has experiments in results.jsonl but branch %s is gone; choose another --tag", t, branch);
        char *st = git_str("status", "--porcelain", NULL);
        if (!st) die("%s", git_err);
        if (*st) die("loop: the working tree is not clean (git status); commit, stash or ignore those files first");
        free(st);
        char *head = head_commit();
        if (!head) die("loop: the repository has no commit yet: commit the project first");
        snprintf(S.base, sizeof S.base, "%s", head);
        free(head);
        if (!git_ok("checkout", "-q", "-b", branch, NULL)) die("cannot create %s: %s", branch, git_err);
        printf("loop: new session %s on branch %s from %.7s\n", t, branch, S.base);
    }
    session_save(&S);
    fflush(stdout);
    install_sigint();
    if (!pool) pool_refuse_in_flight(&S, "loop");
    resume_interrupted(&S, 1);
    if (pool) {
        if (!strcmp(S.gate, "noise")) die("loop: this session uses --gate noise, which needs one worker");
        const Record *pb = session_best(&S);
        char *pbest = xstrdup(pb ? rec_get(pb, "commit") : S.base), *phead = head_commit();
        if (strcmp(phead, pbest) || !git_ok("diff", "--quiet", "HEAD", NULL)) reset_to(pbest, NULL);
        free(pbest);
        free(phead);
        int prc = pool_loop(&S, &po);
        free(branch);
        free(ref);
        session_close(&S);
        return prc;
    }

    // the branch head is the best kept commit (or the base while nothing is kept)
    const Record *b = session_best(&S);
    char *best = xstrdup(b ? rec_get(b, "commit") : S.base);
    char *head = head_commit();
    if (strcmp(head, best) || !git_ok("diff", "--quiet", "HEAD", NULL)) reset_to(best, NULL);
    free(head);
    if (!b && !g_stop) {   // the first experiment is always the unmodified baseline
        const char *st = experiment(&S, "baseline", NULL, 1);
        if (st && strcmp(st, "keep")) die("loop: the baseline crashed (see run.log): fix the setup first");
        b = session_best(&S);
        if (b) { free(best); best = xstrdup(rec_get(b, "commit")); }
    }
    if (!strcmp(S.gate, "noise") && S.sigma <= 0 && !g_stop) {
        printf("loop: measuring noise for the gate (%d runs)\n", S.noise_runs);
        if (noise_series(&S, S.noise_runs) != 0 && !g_stop) die("loop: could not measure the noise; see run.log");
    }
    const char *why = "stopped by Ctrl-C";
    char why_buf[512];
    int fails = 0, same_fixed = 0, rc_loop = 0;
    char *last_fixed = NULL;
    for (;;) {
        if (g_stop) break;
        if (max_exp && session_experiments(&S) >= max_exp) { why = "reached --max-experiments"; break; }
        if (until && (double)time(NULL) >= until) { why = "reached --until"; break; }
        int done = session_experiments(&S);
        if (!strcmp(S.gate, "sprt") && S.rebaseline_every > 0 && done > 1 && done % S.rebaseline_every == 0) {
            rebaseline(&S, done);   // the concurrent baseline: the best again, for drift and its estimate
            if (g_stop) break;
        }
        char *desc = NULL;
        Record extra = {0};
        char reason[256] = "";
        int rc = invoke_agent(&S, &o, best, &desc, &extra, reason, sizeof reason);
        if (rc == 1) {
            if (g_stop) { rec_free(&extra); break; }
            record_event(&S, "agent_error", "agent_error", "agent failure", reason, &extra);
            fails++;
            printf("agent: %s (failure %d in a row; see %s/agent.log)\n", reason, fails, S.state);
            fflush(stdout);
            rec_free(&extra);
            if (max_fail && fails >= max_fail) { why = "reached --max-agent-failures"; break; }
            sleep_interruptible(fmin(300, retry * (double)(1 << (fails < 9 ? fails - 1 : 8))));
            continue;
        }
        fails = 0;
        if (rc == 0) {
            if (commit_train(desc) != 0) die("cannot commit train.c: %s", git_err);
            const char *st = experiment(&S, desc, &extra, 1);
            if (!st) { reset_to(best, NULL); rec_free(&extra); free(desc); break; }
            if (!strcmp(st, "keep")) { free(best); best = head_commit(); }
            // the same fixed-layer error again and again is the machine's fault, not the ideas'
            const char *fe = !strcmp(st, "crash") ? rec_get(&S.L.r[S.L.n - 1], "fixed_error") : NULL;
            same_fixed = fe && last_fixed && !strcmp(fe, last_fixed) ? same_fixed + 1 : fe ? 1 : 0;
            free(last_fixed);
            last_fixed = fe ? xstrdup(fe) : NULL;
            if (max_fixed && same_fixed >= max_fixed) {
                snprintf(why_buf, sizeof why_buf, "%d crashes in a row with the same fixed-layer error (%s): fix "
                         "the setup, then run the loop again to resume", same_fixed, fe);
                why = why_buf;
                rc_loop = 1;
                rec_free(&extra);
                free(desc);
                break;
            }
        }
        rec_free(&extra);
        free(desc);
    }
    b = session_best(&S);
    printf("loop: %s; session %s: %d experiments, best val_bpb %.6f at %.7s\n", why, S.tag,
           session_experiments(&S), b ? rec_num(b, "val_bpb", 0) : 0.0, b ? rec_get(b, "commit") : "-------");
    free(best);
    free(last_fixed);
    free(branch);
    free(ref);
    session_close(&S);
    return rc_loop;
}

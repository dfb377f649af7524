// loop.c -- `autoresearch run`, `autoresearch loop` and `autoresearch noise`.
#include "harness.h"
#include "sandbox.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// ----------------------------------------------------------------------------
// Shared

static void on_sigint(int sig) {
    (void)sig;
    if (!g_stop) {
        g_stop = 1;
        const char m[] = "\nautoresearch: stopping after the current experiment (Ctrl-C again to abort it)\n";
        if (write(2, m, sizeof m - 1) < 0) {}
    } else {
        g_abort = 1;
    }
}

static void install_sigint(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

// Opens the session `tag`, or starts one based at HEAD (the caller saves it).
static void session_start(Session *S, const char *tag) {
    if (session_load(S, tag) != 0) {
        char *head = head_commit();
        if (!head) die("the repository has no commit yet: commit the project first");
        snprintf(S->base, sizeof S->base, "%s", head);
        free(head);
    }
}

static int train_dirty(void) { return !git_ok("diff", "--quiet", "HEAD", "--", "train.c", NULL); }

static char *join_list(char **l) {
    char *s = xstrdup("");
    for (int i = 0; l[i]; i++) {
        char *t = xasprintf("%s%s%s", s, i ? ", " : "", l[i]);
        free(s);
        s = t;
    }
    return s;
}

// ----------------------------------------------------------------------------
// run

static const char *run_help =
    "usage: autoresearch run [-m DESCRIPTION] [options]\n"
    "\n"
    "Runs one experiment: commits train.c if it has changes (message DESCRIPTION), builds the\n"
    "commit's train.c in a pristine copy of the session's base (`make build/train` in\n"
    ".git/autoresearch/pristine; a compile error is a crash), trains under the budget with a hard\n"
    "timeout, parses the summary, appends a row to results.tsv and a full record to\n"
    "results.jsonl, and prints one line. With the default sprt gate, the session's first run\n"
    "(the baseline) is run --noise-runs times in all, which measures sigma; a later run that\n"
    "looks better than the best's mean gets confirmation runs with new seeds until a\n"
    "sequential test decides (see --gate). A change not kept is reset to the best. Before the\n"
    "run, every file of the session's base commit other than train.c must hold the base's\n"
    "bytes, fixed/ and harness/ no other file, and train.c must be a regular file (an\n"
    "`invalid` row is logged if not); the ledger's hash chain and the session's data set are\n"
    "checked (the run is refused if not). Output goes to run.log.\n"
    "\n"
    "options:\n"
    "  -m DESCRIPTION    what this experiment tries (default: the commit message of HEAD)\n"
    "  --tag TAG         session (default: the branch, autoresearch/<tag> -> <tag>)\n"
    "  --no-reset        keep the commit even when it is not an improvement\n" SESSION_OPTIONS_HELP
    "\n"
    "exit status: 0 kept or discarded, 3 crash, 4 invalid, 1 harness error\n";

int run_main(int argc, char **argv) {
    Session S;
    const char *desc = NULL, *tag = NULL;
    int reset = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(run_help, stdout); return 0; }
    }
    session_open(&S);
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--message")) && i + 1 < argc) desc = argv[++i];
        else if (!strcmp(argv[i], "--tag") && i + 1 < argc) tag = argv[++i];
        else if (!strcmp(argv[i], "--no-reset")) reset = 0;
        else if (!session_option(&S, argc, argv, &i)) die("run: unknown option '%s' (see --help)", argv[i]);
    }
    char t[96];
    if (tag) snprintf(t, sizeof t, "%s", tag);
    else current_tag(t, sizeof t);
    session_lock(&S);
    session_start(&S, t);
    if (!strcmp(S.gate, "noise") && S.sigma <= 0)
        die("run: --gate noise needs the session's noise: run `autoresearch noise --runs 5` first");
    session_save(&S);
    install_sigint();
    resume_interrupted(&S, reset);

    char **bad = check_integrity(&S);
    if (bad[0]) {
        char *files = join_list(bad);
        char *d = xasprintf("invalid: changed %s%s%s", files, desc ? ": " : "", desc ? desc : "");
        record_event(&S, "experiment", "invalid", d, "changes outside train.c", NULL);
        warnf("only train.c may change; these differ from the session's base %.7s: %s "
              "(restore them with: git checkout %.7s -- <file>; remove new files)", S.base, files, S.base);
        free(d);
        free(files);
        free_list(bad);
        session_close(&S);
        return 4;
    }
    free_list(bad);
    char *msg = desc ? xstrdup(desc) : NULL;
    if (train_dirty()) {
        if (commit_train(msg ? msg : "experiment") != 0) die("cannot commit train.c: %s", git_err);
    }
    if (!msg) {
        msg = git_str("log", "-1", "--format=%s", NULL);
        if (!msg) msg = xstrdup("experiment");
    }
    if (!session_best(&S) && !session_experiments(&S) && !desc) { free(msg); msg = xstrdup("baseline"); }
    const char *st = experiment(&S, msg, NULL, reset);
    free(msg);
    session_close(&S);
    if (!st) return 130;
    return !strcmp(st, "crash") ? 3 : !strcmp(st, "invalid") ? 4 : 0;
}

// ----------------------------------------------------------------------------
// noise

static const char *noise_help =
    "usage: autoresearch noise [--runs K] [options]\n"
    "\n"
    "Runs the current commit (the baseline, at the start of a session) K times with seeds\n"
    "1..K (AUTORESEARCH_SEED) and records the standard deviation of val_bpb as the session's\n"
    "sigma. `loop --gate noise` then keeps only improvements larger than 2 sigma, and `report`\n"
    "marks kept changes that are within the noise. Each run is a `noise` record in\n"
    "results.jsonl (not a results.tsv row).\n"
    "\n"
    "options:\n"
    "  --runs K          number of runs (default 5, at least 2)\n"
    "  --tag TAG         session (default: the branch, autoresearch/<tag> -> <tag>)\n" SESSION_OPTIONS_HELP;

// Runs the noise series; returns 0, or -1 if fewer than 2 runs succeeded or it was aborted.
static int noise_series(Session *S, int k) {
    double *v = xmalloc((size_t)k * sizeof *v);
    int ok = 0;
    long seed0 = S->seed >= 0 ? S->seed : 1;
    for (int i = 0; i < k && !g_stop; i++) {
        int aborted = 0;
        double x = noise_run(S, i + 1, k, seed0 + i, &aborted);
        if (aborted) break;
        if (isfinite(x)) v[ok++] = x;
    }
    if (ok < 2) {
        free(v);
        warnf("noise: %d successful run%s: need at least 2 to measure sigma (see run.log)", ok, ok == 1 ? "" : "s");
        return -1;
    }
    double mean = 0;
    for (int i = 0; i < ok; i++) mean += v[i];
    mean /= ok;
    S->sigma = stddev(v, ok);
    session_save(S);
    printf("noise: %d runs, val_bpb mean %.6f, sigma %.6f (the noise gate keeps improvements > %.6f)\n",
           ok, mean, S->sigma, 2 * S->sigma);
    fflush(stdout);
    free(v);
    return 0;
}

int noise_main(int argc, char **argv) {
    Session S;
    const char *tag = NULL;
    int k = 5;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(noise_help, stdout); return 0; }
    session_open(&S);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) k = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tag") && i + 1 < argc) tag = argv[++i];
        else if (!session_option(&S, argc, argv, &i)) die("noise: unknown option '%s' (see --help)", argv[i]);
    }
    if (k < 2) die("noise: --runs must be at least 2");
    char t[96];
    if (tag) snprintf(t, sizeof t, "%s", tag);
    else current_tag(t, sizeof t);
    session_lock(&S);
    session_start(&S, t);
    session_save(&S);
    char **bad = check_integrity(&S);
    if (bad[0]) {
        char *files = join_list(bad);
        die("noise: only train.c may differ from the session's base %.7s; these do: %s", S.base, files);
    }
    free_list(bad);
    if (train_dirty()) die("noise: train.c has uncommitted changes; noise measures a commit (commit or revert them)");
    install_sigint();
    int rc = noise_series(&S, k) == 0 ? 0 : 1;
    session_close(&S);
    return rc;
}

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
    "                          (a missing or broken data set, say; default 3, 0: never)\n" SESSION_OPTIONS_HELP;

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

// The prompt for an external agent: program.md, then the state of the session. Never any
// test_bpb: the held-out split stays out of the agent's sight.
static void write_prompt(Session *S, const char *path, const char *desc_file) {
    char *program = read_file("program.md", NULL);
    const Record *best = session_best(S);
    char *p = xasprintf("%s\n\n---\n\n# This iteration (from `autoresearch loop`)\n\n"
                        "You are called by the harness for ONE experiment, in the repository root.\n"
                        "Edit train.c only: make one change that you expect to lower val_bpb, then exit.\n"
                        "Do not commit, build, train or touch results files: when you exit, the harness\n"
                        "commits train.c, runs it, keeps or reverts, and logs the result.\n"
                        "Finish with one line `DESCRIPTION: <what this experiment tries>` (or write that\n"
                        "line to %s).\n\n"
                        "- session: %s (branch autoresearch/%s), experiment %d\n"
                        "- budget: %s %s, hard timeout %.0f s\n",
                        program ? program : "(program.md is missing)", desc_file, S->tag, S->tag,
                        session_experiments(S) + 1, S->budget_mode,
                        S->budget > 0 ? "" : "(train.c's default)", S->timeout);
    free(program);
    if (S->budget > 0) { char *q = xasprintf("%s- budget amount: %g\n", p, S->budget); free(p); p = q; }
    if (best) {
        RunStats e = commit_runs(S, rec_get(best, "commit"));
        char *q = xasprintf("%s- current best: val_bpb %.6f +- %.6f (mean +- standard error of %d runs) at commit "
                            "%.7s (%s)\n", p, e.n ? e.mean : rec_num(best, "val_bpb", 0),
                            S->sigma > 0 && e.n ? runstats_se(&e, S->sigma) : 0.0, e.n,
                            rec_get(best, "commit"), rec_get(best, "description") ? rec_get(best, "description") : "");
        free(p);
        p = q;
    }
    if (S->sigma > 0) {
        char *q = xasprintf("%s- run-to-run noise: sigma %.6f; gate: %s%s\n", p, S->sigma, S->gate,
                            strcmp(S->gate, "sprt") ? "" : " (a change is kept only when confirmation runs with new "
                            "seeds show its mean better than the best's; the val_bpb column is each experiment's "
                            "first run)");
        free(p);
        p = q;
    }
    // recent rows of this session (the .tsv columns)
    char *q = xasprintf("%s\n## Recent results (this session, newest last)\n\n```\n%s\n", p, TSV_HEADER);
    free(p);
    p = q;
    int idx[30], m = 0, last_crash = 0;
    for (int i = S->L.n - 1; i >= 0 && m < 30; i--) {
        const char *s = rec_get(&S->L.r[i], "session"), *k = rec_get(&S->L.r[i], "kind");
        if (s && k && !strcmp(s, S->tag) && !strcmp(k, "experiment")) idx[m++] = i;
    }
    for (int j = m - 1; j >= 0; j--) {
        char *row = tsv_row(&S->L.r[idx[j]]);
        q = xasprintf("%s%s\n", p, row);
        free(row);
        free(p);
        p = q;
    }
    if (m) { const char *st = rec_get(&S->L.r[idx[0]], "status"); last_crash = st && !strcmp(st, "crash"); }
    q = xasprintf("%s```\n", p);
    free(p);
    p = q;
    if (last_crash) {
        const char *why = rec_get(&S->L.r[idx[0]], "reason");
        char *t = crash_excerpt("run.log", why);
        q = xasprintf("%s\n## The last experiment crashed (%s)\n\n%s", p, why ? why : "?", t);
        free(t);
        free(p);
        p = q;
    }
    char err[512];
    if (write_file_atomic(path, p, strlen(p), err, sizeof err) != 0) die("%s", err);
    free(p);
}

// The agent's description: its description file, else its last "DESCRIPTION:" line.
static char *agent_description(const char *desc_file, const char *log) {
    char *d = read_file(desc_file, NULL), *out = NULL;
    if (d) {
        char *s = d;
        while (*s == ' ' || *s == '\n' || *s == '\t') s++;
        if (!strncmp(s, "DESCRIPTION:", 12)) s += 12;
        while (*s == ' ') s++;
        s[strcspn(s, "\r\n")] = 0;
        if (*s) out = xstrdup(s);
        free(d);
    }
    if (!out) {
        char *text = read_file(log, NULL);
        for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
            nl = strchr(line, '\n');
            if (nl) *nl = 0;
            char *s = strstr(line, "DESCRIPTION:");
            if (s) {
                s += 12;
                while (*s == ' ') s++;
                s[strcspn(s, "\r`*")] = 0;
                // "<...>": the template of the prompt, echoed by some agents' logs
                if (*s && *s != '<') { free(out); out = xstrdup(s); }
            }
        }
        free(text);
    }
    if (!out) out = xstrdup("(no description)");
    if (strlen(out) > 200) out[200] = 0;
    return out;
}

// The ledgers' bytes before an agent's call: the agent must not touch them, and if it does
// they are put back as they were (the night goes on; the iteration is `invalid`).
typedef struct {
    char *data[2];
    size_t len[2];
} LedgerCopy;

static void ledger_copy(const Session *S, LedgerCopy *c) {
    const char *p[2] = {S->jsonl, S->tsv};
    for (int i = 0; i < 2; i++) c->data[i] = read_file(p[i], &c->len[i]);
}

// Restores what changed since the copy; returns the first file that had changed, or NULL.
static const char *ledger_restore(const Session *S, LedgerCopy *c) {
    const char *p[2] = {S->jsonl, S->tsv}, *changed = NULL;
    for (int i = 0; i < 2; i++) {
        size_t len;
        char *now = read_file(p[i], &len);
        int same = (now == NULL) == (c->data[i] == NULL) && (!now || (len == c->len[i] && !memcmp(now, c->data[i], len)));
        free(now);
        if (!same) {
            char e[512];
            if (c->data[i] ? write_file_atomic(p[i], c->data[i], c->len[i], e, sizeof e) != 0 : unlink(p[i]) != 0)
                die("cannot restore %s after the agent changed it: %s", p[i], c->data[i] ? e : strerror(errno));
            if (!changed) changed = p[i];
        }
        free(c->data[i]);
        c->data[i] = NULL;
    }
    return changed;
}

typedef struct {
    const char *agent;      // "search" or a shell command
    double agent_timeout;
    uint64_t search_seed;
    int sandbox;            // --agent-sandbox
    const char *allow[17];  // --agent-allow DIR: writable besides the work tree (NULL-terminated)
    int nallow;
    int ports[16], nports;  // --agent-net: the TCP ports it may connect to (-1: any)
} LoopOpts;

typedef struct {
    const char *write[19];
    char *hide;
    const int *ports;
    int nports;
} AgentJail;

static int agent_jail(void *arg, char *err, size_t n) {
    AgentJail *j = arg;
    return sandbox_agent_enter(j->write, j->hide, j->ports, j->nports, err, n);
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

// One agent invocation. Returns 0 with train.c changed (desc, extra filled), 1 for an agent
// failure (reason filled; the tree is back at best), 2 for an invalid change (logged, reset).
static int invoke_agent(Session *S, const LoopOpts *o, const char *best, char **desc, Record *extra,
                        char *reason, size_t rn) {
    if (!strcmp(o->agent, "search")) {
        char *src = read_file("train.c", NULL);
        if (!src) die("cannot read train.c: %s", strerror(errno));
        Mutation m;
        char err[256];
        if (search_propose(src, &S->L, S->tag, o->search_seed, &m, err, sizeof err) != 0) die("search agent: %s", err);
        Tunable t[128];
        int n = tunables_parse(src, t, 128, err, sizeof err), j = 0;
        while (j < n && strcmp(t[j].name, m.param)) j++;
        char *out = tunables_set(src, &t[j], m.to);
        if (write_file_atomic("train.c", out, strlen(out), err, sizeof err) != 0) die("%s", err);
        free(out);
        free(src);
        *desc = xstrdup(m.desc);
        rec_set_str(extra, "agent", "search");
        rec_set_str(extra, "search_param", m.param);
        rec_set_num(extra, "search_from", m.from);
        rec_set_num(extra, "search_to", m.to);
        char **bad = check_integrity(S);   // a human may have edited a fixed file meanwhile
        if (bad[0]) {
            char *files = join_list(bad);
            die("loop: files other than train.c differ from the session's base %.7s: %s", S->base, files);
        }
        free_list(bad);
        return 0;
    }
    char *prompt = xasprintf("%s/prompt.md", S->state), *dfile = xasprintf("%s/description.txt", S->state),
         *log = xasprintf("%s/agent.log", S->state);
    unlink(dfile);
    unlink(log);
    write_prompt(S, prompt, dfile);
    char *e1 = xasprintf("AUTORESEARCH_PROMPT_FILE=%s", prompt), *e2 = xasprintf("AUTORESEARCH_DESCRIPTION_FILE=%s", dfile),
         *e3 = xasprintf("AUTORESEARCH_TAG=%s", S->tag);
    const char *env[] = {e1, e2, e3, NULL};
    const char *argv[] = {"/bin/sh", "-c", o->agent, NULL};
    ProcSpec ps = {.argv = argv, .stdin_path = prompt, .out_path = log, .env = env,
                   .timeout = o->agent_timeout, .abort_flag = &g_stop};
    AgentJail jail = {.write = {S->root}, .hide = xasprintf("%s/test.jsonl", S->state), .ports = o->ports, .nports = o->nports};
    for (int i = 0; i < o->nallow; i++) jail.write[i + 1] = o->allow[i];
    if (o->sandbox) ps.pre_exec = agent_jail, ps.pre_exec_arg = &jail;
    ProcResult pr;
    char err[512];
    LedgerCopy ledgers;
    ledger_copy(S, &ledgers);
    // the repository's config decides what git runs: an agent may not change it
    char *cfg_path = git_str("rev-parse", "--git-path", "config", NULL);
    size_t cfg_len = 0;
    char *cfg = cfg_path ? read_file(cfg_path, &cfg_len) : NULL;
    Record a = {0};
    char now[32];
    time_t tnow = time(NULL);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&tnow));
    rec_set_str(&a, "session", S->tag);
    rec_set_num(&a, "n", session_experiments(S) + 1);
    rec_set_num(&a, "pid", getpid());
    rec_set_str(&a, "start_time", now);
    char *ap = xasprintf("%s/agent.json", S->state), *aj = rec_to_json(&a);
    if (write_file_atomic(ap, aj, strlen(aj), err, sizeof err) != 0) die("%s", err);
    free(aj);
    rec_free(&a);
    char label[64];
    snprintf(label, sizeof label, "[%3d] the agent at work", session_experiments(S) + 1);
    live_watch_start(NULL, label);
    int started = proc_run(&ps, &pr, err, sizeof err);
    live_watch_stop();
    if (started != 0) die("%s", err);
    free(jail.hide);
    unlink(ap);
    free(ap);
    free(e1); free(e2); free(e3);
    const char *ledger_changed = ledger_restore(S, &ledgers);
    int rc = 0;
    rec_set_str(extra, "agent", o->agent);
    if (pr.leftovers) {
        printf("agent: left %d process%s running after it returned; killed\n", pr.leftovers, pr.leftovers == 1 ? "" : "es");
        fflush(stdout);
        rec_set_num(extra, "agent_leftover_processes", pr.leftovers);
    }
    size_t cfg_now_len = 0;
    char *cfg_now = cfg_path ? read_file(cfg_path, &cfg_now_len) : NULL;
    int cfg_changed = (cfg == NULL) != (cfg_now == NULL) || (cfg && (cfg_len != cfg_now_len || memcmp(cfg, cfg_now, cfg_len)));
    if (cfg_changed) {
        char e[512];
        if (cfg ? write_file_atomic(cfg_path, cfg, cfg_len, e, sizeof e) != 0 : unlink(cfg_path) != 0)
            die("cannot restore %s after the agent changed it: %s", cfg_path, cfg ? e : strerror(errno));
    }
    free(cfg);
    free(cfg_now);
    free(cfg_path);
    // the agent may have switched branches or committed: back to the session's branch, and
    // its commits (on top of the best) folded back into the working tree
    char *branch = xasprintf("autoresearch/%s", S->tag);
    char *cur = git_str("symbolic-ref", "-q", "--short", "HEAD", NULL);
    int moved = !cur || strcmp(cur, branch);
    if (moved && !git_ok("checkout", "-q", "-f", branch, NULL)) die("cannot check out %s again: %s", branch, git_err);
    free(cur);
    free(branch);
    char *head = head_commit();
    int rewrote = 0;
    if (head && strcmp(head, best)) {
        if (git_ok("merge-base", "--is-ancestor", best, head, NULL)) git_ok("reset", "-q", "--soft", best, NULL);
        else rewrote = 1;
    }
    free(head);
    const char *ut[] = {"git", "ls-files", "--others", "--exclude-standard", NULL};
    char *uo = NULL;
    cmd_capture(ut, &uo, NULL);
    if (pr.aborted) { snprintf(reason, rn, "stopped by Ctrl-C"); rc = 1; }
    else if (ledger_changed) {
        *desc = agent_description(dfile, log);
        char *d = xasprintf("invalid: changed %s: %s", ledger_changed, *desc);
        snprintf(reason, rn, "the agent changed %s (restored: the ledger is the harness's alone)", ledger_changed);
        record_event(S, "experiment", "invalid", d, reason, extra);
        free(d);
        rc = 2;
    } else if (moved) { snprintf(reason, rn, "agent switched branches (its changes are dropped)"); rc = 1; }
    else if (rewrote) { snprintf(reason, rn, "agent rewrote the branch's history (reset to the best)"); rc = 1; }
    else if (pr.timed_out) { snprintf(reason, rn, "agent timed out after %.0f s", o->agent_timeout); rc = 1; }
    else if (pr.exit_code != 0) {
        if (pr.signal) snprintf(reason, rn, "agent killed by signal %d", pr.signal);
        else snprintf(reason, rn, "agent exited with code %d", pr.exit_code);
        rc = 1;
    } else if (cfg_changed) {
        *desc = agent_description(dfile, log);
        char *d = xasprintf("invalid: changed the repository's git config: %s", *desc);
        snprintf(reason, rn, "the agent changed .git/config (restored)");
        record_event(S, "experiment", "invalid", d, reason, extra);
        free(d);
        rc = 2;
    } else {
        char **bad = check_integrity(S);
        *desc = agent_description(dfile, log);
        if (bad[0]) {
            char *files = join_list(bad);
            char *d = xasprintf("invalid: changed %s: %s", files, *desc);
            snprintf(reason, rn, "changes outside train.c");
            record_event(S, "experiment", "invalid", d, reason, extra);
            free(d);
            free(files);
            rc = 2;
        } else if (!train_dirty()) {
            snprintf(reason, rn, "agent exited without changing train.c");
            rc = 1;
        }
        free_list(bad);
    }
    if (rc) {   // back to the best, removing what the agent created
        char **untracked = NULL;
        if (uo && *uo) {
            int n = 0;
            for (char *s = uo, *nl; *s; s = nl + 1) {
                nl = strchr(s, '\n');
                if (!nl) break;
                *nl = 0;
                untracked = xrealloc(untracked, (size_t)(n + 2) * sizeof *untracked);
                untracked[n++] = xstrdup(s);
                untracked[n] = NULL;
            }
        }
        reset_to(best, untracked);
        free_list(untracked);
        // what git's view misses (ignored files, flags, a replaced base): back to the base's bytes
        char **left = check_integrity(S);
        for (int round = 0; left[0] && round < 3; round++) {   // a symlinked directory takes two
            integrity_restore(S->base, left);
            free_list(left);
            left = check_integrity(S);
        }
        if (left[0]) die("loop: cannot restore %s to the session's base %.7s after the agent changed it", left[0], S->base);
        free_list(left);
        if (rc == 1 && *desc) { free(*desc); *desc = NULL; }
    }
    free(uo);
    free(prompt);
    free(dfile);
    free(log);
    return rc;
}

static void default_tag(char *tag, size_t n) {
    static const char *mon[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    snprintf(tag, n, "%s%d", mon[tm.tm_mon], tm.tm_mday);
}

int loop_main(int argc, char **argv) {
    Session S;
    LoopOpts o = {.agent = NULL, .agent_timeout = 1800, .search_seed = 1337, .nports = -1};
    const char *tag = NULL;
    int max_exp = 0, max_fail = 0, max_fixed = 3;
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
        else if (!session_option(&S, argc, argv, &i)) die("loop: unknown option or missing value '%s' (see --help)", a);
    }
    if (o.nports >= 0 && !o.sandbox) die("loop: --agent-net needs --agent-sandbox");
    if (!o.agent || !*o.agent) die("loop: --agent CMD|search is required (see --help)");
    if (o.agent_timeout <= 0) die("--agent-timeout must be positive");
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
    resume_interrupted(&S, 1);

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

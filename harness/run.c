// run.c -- `autoresearch run` and `autoresearch noise`, and the Ctrl-C handling the loop shares.
#include "harness.h"
#include "pool.h"
#include "util.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile int g_abort, g_stop;

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

void install_sigint(void) {
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

// The session of `tag` (default: the current branch's), locked, for a command that refuses
// to run beside a worker pool's jobs in flight.
static void open_session(Session *S, const char *tag, const char *cmd) {
    char t[96];
    if (tag) snprintf(t, sizeof t, "%s", tag);
    else current_tag(t, sizeof t);
    session_lock(S);
    pool_refuse_in_flight(S, cmd);
    session_start(S, t);
}

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
    open_session(&S, tag, "run");
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
int noise_series(Session *S, int k) {
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
    open_session(&S, tag, "noise");
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

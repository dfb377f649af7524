// job.c -- `autoresearch job DIR`: one run of a worker, on this machine or on a Slurm node.
//
// DIR/spec.json (written by the loop, pool.c) names the experiment's worktree, the commit, the
// session's base, budget, timeout, seed and data set. The job builds and trains the commit as
// `run` does (a pristine copy of the base in DIR/pristine, the supervisor, its sandbox and
// budget), then leaves DIR/result.json (the run's record), DIR/test.json (the test split's
// score, which only the test ledger gets) and DIR/run.log, each written to a temporary file
// and renamed. It never touches the ledgers: the loop ingests these files.
#include "pool.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_term(int sig) {
    (void)sig;
    g_abort = 1;   // scancel, or the loop's second Ctrl-C: kill the trainer now
}

static void write_json(const char *path, const Record *r) {
    char *json = rec_to_json(r), *line = xasprintf("%s\n", json), err[512];
    if (write_file_atomic(path, line, strlen(line), err, sizeof err) != 0) die("%s", err);
    free(json);
    free(line);
}

int job_main(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') {
        fputs("usage: autoresearch job DIR   (started by `loop --workers`: one run of DIR/spec.json)\n",
              argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    char *dir = realpath(argv[1], NULL);
    if (!dir) die("job: %s: %s", argv[1], strerror(errno));
    char *sp = xasprintf("%s/spec.json", dir), *text = read_file(sp, NULL), err[512];
    Record spec;
    if (!text) die("job: cannot read %s", sp);
    if (rec_parse(text, &spec, err, sizeof err) != 0) die("job: %s: %s", sp, err);
    free(text);
    const char *wt = rec_get(&spec, "worktree"), *commit = rec_get(&spec, "commit"), *base = rec_get(&spec, "base");
    if (!wt || !commit || !base || strlen(base) != 40) die("job: %s lacks worktree, commit or base", sp);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    git_harden();
    proc_init();
    if (chdir(wt) != 0) die("job: cannot enter the worktree %s: %s", wt, strerror(errno));
    int threads = (int)rec_num(&spec, "threads", 0);
    if (threads > 0) {
        char t[16];
        snprintf(t, sizeof t, "%d", threads);
        setenv("OMP_NUM_THREADS", t, 1);
        setenv("AUTORESEARCH_THREADS", t, 1);   // the fixed layer's own threads (evaluation) too
    }

    Session S;
    memset(&S, 0, sizeof S);
    S.root = xstrdup(wt);
    S.state = dir;
    snprintf(S.tag, sizeof S.tag, "%s", rec_get(&spec, "session") ? rec_get(&spec, "session") : "");
    snprintf(S.base, sizeof S.base, "%s", base);
    snprintf(S.budget_mode, sizeof S.budget_mode, "%s", rec_get(&spec, "budget_mode") ? rec_get(&spec, "budget_mode") : "time");
    S.budget = rec_num(&spec, "budget", 0);
    S.timeout = rec_num(&spec, "timeout", 600);
    S.seed = (long)rec_num(&spec, "seed", -1);
    if (rec_get(&spec, "data_id")) snprintf(S.data_id, sizeof S.data_id, "%s", rec_get(&spec, "data_id"));

    Record r = {0};
    record_context(&S, &r);
    if (S.seed >= 0) rec_set_num(&r, "seed", (double)S.seed);
    double test;
    build_and_train(&S, commit, &r, &test);
    char *log = xasprintf("%s/run.log", dir);
    if (rename("run.log", log) != 0) warnf("job: cannot move run.log to %s: %s", log, strerror(errno));
    int aborted = !strcmp(rec_get(&r, "status"), "aborted");
    if (!aborted) {   // the test score first: a result without it would lose it
        Record t = {0};
        rec_set_num(&t, "test_bpb", test);
        char *tp = xasprintf("%s/test.json", dir), *rp = xasprintf("%s/result.json", dir);
        write_json(tp, &t);
        write_json(rp, &r);
        rec_free(&t);
        free(tp);
        free(rp);
    }
    printf("job: %s %s\n", rec_get(&r, "status"), rec_get(&r, "reason") ? rec_get(&r, "reason") : "");
    rec_free(&r);
    rec_free(&spec);
    free(log);
    free(sp);
    free(S.root);
    free(dir);
    return aborted ? 130 : 0;
}

// session.c -- a session: its state file, the per-working-tree lock, the options shared by
// run / loop / noise, and its view of the ledger (its best, its experiments, appending).
#include "harness.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// ----------------------------------------------------------------------------
// Session

void current_tag(char *tag, size_t n) {
    char *b = git_str("symbolic-ref", "-q", "--short", "HEAD", NULL);
    const char *t = b ? b : "detached";
    if (!strncmp(t, "autoresearch/", 13)) t += 13;
    snprintf(tag, n, "%s", t);
    for (char *p = tag; *p; p++)
        if (*p == '/' || *p == ' ') *p = '-';
    free(b);
}

static char *session_path(const Session *S, const char *tag) {
    return xasprintf("%s/sessions/%s.json", S->state, tag);
}

void session_open(Session *S) {
    memset(S, 0, sizeof *S);
    git_harden();
    proc_init();
    char *root = git_str("rev-parse", "--show-toplevel", NULL);
    if (!root) die("not inside a git repository (the harness keeps experiments as commits): %s", git_err);
    if (chdir(root) != 0) die("cannot enter %s: %s", root, strerror(errno));
    char *gd = git_str("rev-parse", "--absolute-git-dir", NULL);
    if (!gd) die("%s", git_err);
    S->root = root;
    S->state = xasprintf("%s/autoresearch", gd);
    free(gd);
    char *sd = xasprintf("%s/sessions", S->state);
    if (mkdir_p(sd) != 0) die("cannot create %s: %s", sd, strerror(errno));
    free(sd);
    S->jsonl = xstrdup("results.jsonl");
    S->tsv = xstrdup("results.tsv");
    // "unset" markers: session_load fills these from the session file, then defaults
    S->budget = -1;
    S->timeout = -1;
    S->sigma = -1;
    S->seed = -2;
    S->gp = (GateParams){-1, -1, -1, -1};
    S->noise_runs = -1;
    S->rebaseline_every = -1;
    char err[1024];
    if (ledger_load(S->jsonl, &S->L, err, sizeof err) != 0) die("%s", err);
    char why[512];
    if (git_config_problem(why, sizeof why)) die("%s", why);
    S->head_path = xasprintf("%s/ledger.head", S->state);
    if (chain_verify(S->jsonl, S->head_path, &S->chain, err, sizeof err) != 0) {
        S->ledger_problem = xstrdup(err);
        warnf("%s", err);
    }
    test_ledger_merge(S);
}

void session_close(Session *S) {
    ledger_free(&S->L);
    free(S->root);
    free(S->state);
    free(S->jsonl);
    free(S->tsv);
    free(S->head_path);
    free(S->ledger_problem);
    memset(S, 0, sizeof *S);
}

// Temporary files (NAME.tmp.PID, from write_file_atomic and the trainer's model save) that a
// killed harness or trainer left behind; only the lock holder runs, so none is in use.
static void remove_leftovers(Session *S) {
    char *models = xasprintf("%s/models", S->state), *sessions = xasprintf("%s/sessions", S->state);
    const char *dirs[] = {".", S->state, models, sessions, NULL};
    int n = 0;
    long long bytes = 0;
    for (int i = 0; dirs[i]; i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            const char *t = strstr(e->d_name, ".tmp.");
            if (!t || t == e->d_name || !t[5] || strspn(t + 5, "0123456789") != strlen(t + 5)) continue;
            char *p = xasprintf("%s/%s", dirs[i], e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && unlink(p) == 0) n++, bytes += st.st_size;
            free(p);
        }
        if (d) closedir(d);
    }
    char *run_model = xasprintf("%s/run-model.bin", S->state);
    unlink(run_model);
    free(run_model);
    if (n) printf("removed %d temporary file%s (%.1f MB) left by an interrupted run\n", n, n == 1 ? "" : "s", bytes / 1e6);
    free(models);
    free(sessions);
}

void session_lock(Session *S) {
    char *p = xasprintf("%s/lock", S->state);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);   // never inherited by a child
    if (fd < 0) die("cannot open %s: %s", p, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {0};
        if (read(fd, buf, sizeof buf - 1) < 0) buf[0] = 0;
        die("another autoresearch harness is running in this working tree (pid %s)", buf[0] ? buf : "?");
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) { /* informational only */ }
    free(p);   // fd stays open: the lock lives as long as the process
    char err[1024];
    if (S->ledger_problem && S->accept_ledger) {
        if (chain_accept(S->jsonl, S->head_path, &S->chain, S->ledger_problem, S->accept_ledger, err, sizeof err) != 0)
            die("%s", err);
        printf("ledger: accepted %s as it is now (%s); recorded in the ledger\n", S->jsonl, S->accept_ledger);
        // the accepted file is the ledger now: its table is derived again, the old one kept
        char *aside = xasprintf("%s/results.tsv.before-accept", S->state);
        if (rename(S->tsv, aside) == 0) printf("ledger: %s moved to %s and derived again\n", S->tsv, aside);
        free(aside);
        free(S->ledger_problem);
        S->ledger_problem = NULL;
        ledger_free(&S->L);
        if (ledger_load(S->jsonl, &S->L, err, sizeof err) != 0) die("%s", err);
    } else if (S->ledger_problem) {
        die("refusing to add to an edited ledger (%s). Restore the file as the harness wrote it, or, having "
            "checked it, accept it as it is with --accept-ledger \"REASON\" (recorded in the ledger)", S->jsonl);
    }
    // only the lock holder may complete results.tsv (another harness may be mid-append)
    if (tsv_sync(S->tsv, &S->L, err, sizeof err) != 0) die("%s", err);
    remove_leftovers(S);
}

static void session_defaults(Session *S) {
    if (!S->budget_mode[0]) snprintf(S->budget_mode, sizeof S->budget_mode, "time");
    if (S->budget < 0) S->budget = 0;
    if (S->timeout < 0) S->timeout = 600;
    if (S->sigma < 0) S->sigma = 0;
    if (!S->gate[0]) snprintf(S->gate, sizeof S->gate, "sprt");
    GateParams d;
    gate_defaults(&d);
    if (S->gp.alpha < 0) S->gp.alpha = d.alpha;
    if (S->gp.beta < 0) S->gp.beta = d.beta;
    if (S->gp.effect < 0) S->gp.effect = d.effect;
    if (S->gp.max_runs < 0) S->gp.max_runs = d.max_runs;
    if (S->noise_runs < 0) S->noise_runs = 8;
    if (S->rebaseline_every < 0) S->rebaseline_every = 10;
    if (S->seed == -2) S->seed = -1;
    if (strcmp(S->budget_mode, "time") && S->budget <= 0)
        die("--budget-mode %s needs --budget N (the amount of %s)", S->budget_mode, S->budget_mode);
}

// The session file is harness state an agent could reach: what it says must agree with the
// (hash-chained) ledger's records of the session.
static void session_matches_ledger(const Session *S, const char *path) {
    for (int i = 0; i < S->L.n; i++) {
        const Record *r = &S->L.r[i];
        const char *sess = rec_get(r, "session"), *base = rec_get(r, "base_commit"), *data = rec_get(r, "dataset_id");
        if (!sess || strcmp(sess, S->tag)) continue;
        if (base && strcmp(base, S->base))
            die("%s says the session's base is %.7s, but results.jsonl's records say %.7s: the session file "
                "was edited", path, S->base, base);
        if (data && strcmp(data, S->data_id))
            die("%s pins data set '%s', but results.jsonl's records used '%s': the session file was edited",
                path, S->data_id, data);
        for (int k = 0; k < DATA_FILES; k++) {
            const char *h = rec_get(r, data_key(k));
            if (h && strcmp(h, S->data_sha[k]))
                die("%s pins %s %.12s, but results.jsonl's records say %.12s: the session file was edited",
                    path, data_key(k), S->data_sha[k], h);
        }
    }
}

int session_load(Session *S, const char *tag) {
    snprintf(S->tag, sizeof S->tag, "%s", tag);
    char *p = session_path(S, tag);
    char *text = read_file(p, NULL);
    int rc = -1;
    if (text) {
        Record r;
        char err[128];
        if (rec_parse(text, &r, err, sizeof err) != 0) die("%s: %s", p, err);
        const char *base = rec_get(&r, "base");
        if (!base || strlen(base) != 40) die("%s: no base commit", p);
        snprintf(S->base, sizeof S->base, "%s", base);
        if (!S->budget_mode[0] && rec_get(&r, "budget_mode"))
            snprintf(S->budget_mode, sizeof S->budget_mode, "%s", rec_get(&r, "budget_mode"));
        if (S->budget < 0) S->budget = rec_num(&r, "budget", 0);
        if (S->timeout < 0) S->timeout = rec_num(&r, "timeout", 600);
        if (S->sigma < 0) S->sigma = rec_num(&r, "sigma", 0);
        if (!S->gate[0] && rec_get(&r, "gate")) snprintf(S->gate, sizeof S->gate, "%s", rec_get(&r, "gate"));
        if (S->seed == -2) S->seed = (long)rec_num(&r, "seed", -1);
        if (S->gp.alpha < 0) S->gp.alpha = rec_num(&r, "false_keep", -1);
        if (S->gp.beta < 0) S->gp.beta = rec_num(&r, "gate_beta", -1);
        if (S->gp.effect < 0) S->gp.effect = rec_num(&r, "gate_effect", -1);
        if (S->gp.max_runs < 0) S->gp.max_runs = (int)rec_num(&r, "max_runs", -1);
        if (S->noise_runs < 0) S->noise_runs = (int)rec_num(&r, "noise_runs", -1);
        if (S->rebaseline_every < 0) S->rebaseline_every = (int)rec_num(&r, "rebaseline_every", -1);
        if (rec_get(&r, "data_id")) snprintf(S->data_id, sizeof S->data_id, "%s", rec_get(&r, "data_id"));
        for (int i = 0; i < DATA_FILES; i++)
            snprintf(S->data_sha[i], sizeof S->data_sha[i], "%s", rec_get(&r, data_key(i)) ? rec_get(&r, data_key(i)) : "");
        if (rec_get(&r, "model_commit")) snprintf(S->model_commit, sizeof S->model_commit, "%s", rec_get(&r, "model_commit"));
        rec_free(&r);
        session_matches_ledger(S, p);
        free(text);
        rc = 0;
    }
    free(p);
    session_defaults(S);
    return rc;
}

void iso_time(char *out, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void session_save(Session *S) {
    Record r = {0};
    char now[32];
    iso_time(now, sizeof now);
    rec_set_str(&r, "tag", S->tag);
    rec_set_str(&r, "base", S->base);
    rec_set_str(&r, "budget_mode", S->budget_mode);
    rec_set_num(&r, "budget", S->budget);
    rec_set_num(&r, "timeout", S->timeout);
    rec_set_num(&r, "sigma", S->sigma);
    rec_set_str(&r, "gate", S->gate);
    rec_set_num(&r, "seed", (double)S->seed);
    rec_set_num(&r, "false_keep", S->gp.alpha);
    rec_set_num(&r, "gate_beta", S->gp.beta);
    rec_set_num(&r, "gate_effect", S->gp.effect);
    rec_set_num(&r, "max_runs", S->gp.max_runs);
    rec_set_num(&r, "noise_runs", S->noise_runs);
    rec_set_num(&r, "rebaseline_every", S->rebaseline_every);
    if (S->data_id[0]) {
        rec_set_str(&r, "data_id", S->data_id);
        for (int i = 0; i < DATA_FILES; i++) rec_set_str(&r, data_key(i), S->data_sha[i]);
    }
    if (S->model_commit[0]) rec_set_str(&r, "model_commit", S->model_commit);
    rec_set_str(&r, "saved", now);
    char *json = rec_to_json(&r);
    char *line = xasprintf("%s\n", json);
    char *p = session_path(S, S->tag);
    char err[512];
    if (write_file_atomic(p, line, strlen(line), err, sizeof err) != 0) die("%s", err);
    free(p);
    free(line);
    free(json);
    rec_free(&r);
}

static int opt_value(int argc, char **argv, int *i, const char *name, const char **val) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n)) return 0;
    if (argv[*i][n] == '=') { *val = argv[*i] + n + 1; return 1; }
    if (argv[*i][n]) return 0;
    if (*i + 1 >= argc) die("%s needs a value", name);
    *val = argv[++*i];
    return 1;
}

static double num_arg(const char *name, const char *v) {
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || !isfinite(d) || d < 0) die("%s: '%s' is not a non-negative number", name, v);
    return d;
}

int session_option(Session *S, int argc, char **argv, int *i) {
    const char *v;
    if (opt_value(argc, argv, i, "--budget-mode", &v)) {
        if (strcmp(v, "time") && strcmp(v, "tokens") && strcmp(v, "flops"))
            die("--budget-mode: '%s' is not time, tokens or flops", v);
        snprintf(S->budget_mode, sizeof S->budget_mode, "%s", v);
    } else if (opt_value(argc, argv, i, "--budget", &v)) {
        S->budget = num_arg("--budget", v);
    } else if (opt_value(argc, argv, i, "--timeout", &v)) {
        S->timeout = num_arg("--timeout", v);
        if (S->timeout <= 0) die("--timeout must be positive");
    } else if (opt_value(argc, argv, i, "--seed", &v)) {
        S->seed = (long)num_arg("--seed", v);
    } else if (opt_value(argc, argv, i, "--accept-ledger", &v)) {
        if (!*v) die("--accept-ledger needs a reason");
        S->accept_ledger = v;
    } else if (opt_value(argc, argv, i, "--gate", &v)) {
        if (strcmp(v, "sprt") && strcmp(v, "strict") && strcmp(v, "noise"))
            die("--gate: '%s' is not sprt, strict or noise", v);
        snprintf(S->gate, sizeof S->gate, "%s", v);
    } else if (opt_value(argc, argv, i, "--false-keep", &v)) {
        S->gp.alpha = num_arg("--false-keep", v);
        if (S->gp.alpha <= 0 || S->gp.alpha >= 0.5) die("--false-keep: '%s' is not a rate in (0, 0.5)", v);
    } else if (opt_value(argc, argv, i, "--gate-effect", &v)) {
        S->gp.effect = num_arg("--gate-effect", v);
        if (S->gp.effect <= 0) die("--gate-effect must be positive (sigmas)");
    } else if (opt_value(argc, argv, i, "--max-runs", &v)) {
        S->gp.max_runs = (int)num_arg("--max-runs", v);
        if (S->gp.max_runs < 1) die("--max-runs must be at least 1");
    } else if (opt_value(argc, argv, i, "--noise-runs", &v)) {
        S->noise_runs = (int)num_arg("--noise-runs", v);
        if (S->noise_runs < 2) die("--noise-runs must be at least 2");
    } else if (opt_value(argc, argv, i, "--rebaseline-every", &v)) {
        S->rebaseline_every = (int)num_arg("--rebaseline-every", v);
    } else {
        return 0;
    }
    return 1;
}

// ----------------------------------------------------------------------------
// The ledger of this session

static int in_session(const Session *S, const Record *r, const char *kind) {
    const char *s = rec_get(r, "session"), *k = rec_get(r, "kind");
    return s && k && !strcmp(s, S->tag) && !strcmp(k, kind);
}

const Record *session_best(const Session *S) {
    const Record *best = NULL;
    for (int i = 0; i < S->L.n; i++) {
        const char *st = rec_get(&S->L.r[i], "status");
        if (in_session(S, &S->L.r[i], "experiment") && st && !strcmp(st, "keep")) best = &S->L.r[i];
    }
    return best;
}

int session_experiments(const Session *S) {
    int n = 0;
    for (int i = 0; i < S->L.n; i++) n += in_session(S, &S->L.r[i], "experiment");
    return n;
}

void ledger_add(Session *S, Record *r) {
    char err[512];
    if (chain_append(S->jsonl, S->head_path, &S->chain, r, err, sizeof err) != 0)
        die("%s; stopping: the ledger is the harness's alone (nothing was recorded; the next command says what changed)", err);
    char *row = tsv_row(r);
    if (row && append_line_atomic(S->tsv, row, err, sizeof err) != 0) die("%s", err);
    free(row);
    S->L.r = xrealloc(S->L.r, (size_t)(S->L.n + 1) * sizeof *S->L.r);
    S->L.r[S->L.n++] = *r;   // takes ownership
    memset(r, 0, sizeof *r);
}

char *state_file(const Session *S, const char *name) { return xasprintf("%s/%s", S->state, name); }

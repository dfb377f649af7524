// experiment.c -- sessions, integrity, and running one experiment into the ledger.
#include "harness.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

volatile int g_abort, g_stop;
char git_err[512];

// ----------------------------------------------------------------------------
// git

static int git_v(char **out, const char *arg, va_list ap) {
    const char *argv[32] = {"git", arg};
    int n = 2;
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 31) argv[n++] = a;
    argv[n] = NULL;
    char *o, *e;
    int rc = cmd_capture(argv, &o, &e);
    size_t el = strlen(e);
    while (el && (e[el - 1] == '\n' || e[el - 1] == ' ')) e[--el] = 0;
    char *nl = strrchr(e, '\n');   // the last line says what went wrong
    snprintf(git_err, sizeof git_err, "git %s: %s", arg, nl ? nl + 1 : (*e ? e : "failed"));
    free(e);
    if (out) *out = o; else free(o);
    return rc;
}

char *git_str(const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    char *o;
    int rc = git_v(&o, arg, ap);
    va_end(ap);
    if (rc != 0) { free(o); return NULL; }
    size_t n = strlen(o);
    while (n && (o[n - 1] == '\n' || o[n - 1] == ' ')) o[--n] = 0;
    return o;
}

int git_ok(const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    int rc = git_v(NULL, arg, ap);
    va_end(ap);
    return rc == 0;
}

char *head_commit(void) { return git_str("rev-parse", "--verify", "-q", "HEAD", NULL); }

// Splits NUL-separated output into a NULL-terminated list, appending to l.
static char **split_z(char **l, const char *s, size_t len) {
    int n = 0;
    while (l && l[n]) n++;
    for (size_t i = 0; i < len;) {
        size_t k = strlen(s + i);
        if (k) {
            l = xrealloc(l, (size_t)(n + 2) * sizeof *l);
            l[n++] = xstrdup(s + i);
            l[n] = NULL;
        }
        i += k + 1;
    }
    if (!l) { l = xmalloc(sizeof *l); l[0] = NULL; }
    return l;
}

static char **git_list(const char *const *argv) {
    char *o, *e;
    int rc = cmd_capture(argv, &o, &e);
    free(e);
    if (rc != 0) { free(o); return NULL; }
    // One path a line. Git quotes unusual paths ("a\tb"): they then never equal "train.c",
    // so they count as a violation, which is the safe side.
    char **l = NULL;
    size_t len = strlen(o);
    for (char *p = o; p < o + len; p++) if (*p == '\n') *p = 0;
    l = split_z(l, o, len);
    free(o);
    return l;
}

void free_list(char **l) {
    for (int i = 0; l && l[i]; i++) free(l[i]);
    free(l);
}

int commit_train(const char *msg) {
    // one read of train.c (a regular file, never followed through a link): these bytes are
    // what is committed, and so what build_train compiles and hashes
    int fd = open("train.c", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        snprintf(git_err, sizeof git_err, "train.c is not a regular file");
        return -1;
    }
    char *src = xmalloc((size_t)st.st_size + 1);
    ssize_t got = read(fd, src, (size_t)st.st_size + 1);
    close(fd);
    if (got != (ssize_t)st.st_size) {
        free(src);
        snprintf(git_err, sizeof git_err, "train.c changed while it was read");
        return -1;
    }
    const char *hash_argv[] = {"git", "hash-object", "-w", "--no-filters", "--stdin", NULL};
    char *id;
    size_t idl;
    int rc = cmd_io(hash_argv, src, (size_t)got, &id, &idl);
    free(src);
    if (rc != 0) { free(id); snprintf(git_err, sizeof git_err, "git hash-object failed"); return -1; }
    id[strcspn(id, "\n")] = 0;
    char *info = xasprintf("100644,%s,train.c", id);
    free(id);
    int added = git_ok("update-index", "--add", "--cacheinfo", info, NULL);
    free(info);
    if (!added) return -1;
    char *email = git_str("config", "user.email", NULL);
    int ok;
    if (email && *email)
        ok = git_ok("commit", "-q", "--no-verify", "-m", msg, NULL);
    else   // no identity configured (fresh machine): commit as the harness
        ok = git_ok("-c", "user.name=autoresearch", "-c", "user.email=autoresearch@localhost",
                    "commit", "-q", "--no-verify", "-m", msg, NULL);
    free(email);
    return ok ? 0 : -1;
}

void reset_to(const char *commit, char **untracked) {
    if (!git_ok("reset", "-q", "--hard", commit, NULL)) die("cannot reset to %s: %s", commit, git_err);
    // an assume-unchanged or skip-worktree flag survives a reset (and the latter keeps the
    // file as it is): a fresh index from the commit drops them and restores the files
    char *flags = git_str("ls-files", "-v", NULL);
    int flagged = 0;
    for (char *l = flags; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
        if ((*l >= 'a' && *l <= 'z') || *l == 'S') flagged = 1;
    free(flags);
    if (flagged) {
        char *index = git_str("rev-parse", "--git-path", "index", NULL);
        if (index) unlink(index);
        free(index);
        if (!git_ok("reset", "-q", "--hard", commit, NULL)) die("cannot reset to %s: %s", commit, git_err);
    }
    for (int i = 0; untracked && untracked[i]; i++) {
        if (unlink(untracked[i]) != 0 && errno == EISDIR) remove_tree(untracked[i]);
    }
}

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

static void iso_time(char *out, size_t n) {
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
// Integrity and hashes

char **check_integrity(const Session *S) {
    const char *diff[] = {"git", "diff", "--name-only", "--no-renames", S->base, "--", NULL};
    const char *untracked[] = {"git", "ls-files", "--others", "--exclude-standard", NULL};
    char **changed = git_list(diff);
    char **extra = git_list(untracked);
    if (!changed || !extra) die("cannot compare the working tree with the session's base %.7s", S->base);
    char **bad = xmalloc(sizeof *bad);
    int n = 0;
    bad[0] = NULL;
    for (char **l = changed; ; l = extra) {
        for (int i = 0; l[i]; i++) {
            if (!strcmp(l[i], "train.c")) continue;
            bad = xrealloc(bad, (size_t)(n + 2) * sizeof *bad);
            bad[n++] = xstrdup(l[i]);
            bad[n] = NULL;
        }
        if (l == extra) break;
    }
    free_list(changed);
    free_list(extra);
    char err[512];
    char **content = integrity_content(S->base, err, sizeof err);
    if (!content) die("cannot read the session's base %.7s from the object store: %s", S->base, err);
    for (int i = 0; content[i]; i++) {
        int dup = 0;
        for (int k = 0; k < n; k++) dup |= !strcmp(bad[k], content[i]);
        if (dup) continue;
        bad = xrealloc(bad, (size_t)(n + 2) * sizeof *bad);
        bad[n++] = xstrdup(content[i]);
        bad[n] = NULL;
    }
    free_list(content);
    return bad;
}

void fixed_hash(char out[65]) {
    const char *argv[] = {"git", "ls-files", "--", "fixed", "Makefile", NULL};
    char **files = git_list(argv);
    Sha256Stream *h = sha256_stream_new();
    for (int i = 0; files && files[i]; i++) {
        char fh[65] = "missing";
        if (sha256_file_hex(files[i], fh) != 0) snprintf(fh, sizeof fh, "missing");
        sha256_stream_update(h, files[i], strlen(files[i]) + 1);
        sha256_stream_update(h, fh, strlen(fh));
    }
    sha256_stream_final(h, out);
    free_list(files);
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

static const Record *find_id(const Session *S, const char *id) {
    for (int i = 0; i < S->L.n; i++) {
        const char *x = rec_get(&S->L.r[i], "id");
        if (x && !strcmp(x, id)) return &S->L.r[i];
    }
    return NULL;
}

static void ledger_add(Session *S, Record *r) {
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

static void merge(Record *dst, const Record *src) {
    for (int i = 0; src && i < src->n; i++) {
        if (src->f[i].is_str) rec_set_str(dst, src->f[i].key, src->f[i].val);
        else rec_set_raw(dst, src->f[i].key, src->f[i].val);
    }
}

// ----------------------------------------------------------------------------
// One experiment

static char *state_file(const Session *S, const char *name) { return xasprintf("%s/%s", S->state, name); }

// Fields the harness writes itself; a summary line with one of these names is kept under
// summary_<name> (val_bpb: the trusted value comes from the fixed layer's result file).
static const char *harness_keys[] = {
    "kind", "id", "session", "n", "commit", "parent", "description", "status", "reason", "val_bpb",
    "test_bpb", "memory_gb", "start_time", "end_time", "wall_seconds", "budget_mode",
    "budget_amount", "timeout_s", "train_sha256", "fixed_sha256", "base_commit", "exit_code",
    "val_source", "val_mismatch", "best_before", "delta", "gate", "gate_threshold", "seed_only",
    "agent", "search_param", "search_from", "search_to", "eval_tokens", "sigma", "steps", "tokens",
    "tokens_per_sec", "budget_used", "speed_ratio", "fast_keep", "prev_sha256", "run", "sandbox",
    "training_seconds", "total_tokens_M", "num_steps", "eval_seconds", "probe_causal_max",
    "probe_frozen_max", "probe_tolerance", "trainer_exit", "sandbox_denials", "sandbox_denied",
    "dataset_id", "tokenizer_sha256", "train_bin_sha256", "val_bin_sha256", "test_bin_sha256",
    "model_saved", "model_file", "fixed_error", "leftover_processes", "est_val_bpb", "est_se", "est_runs",
    "best_runs", "effect", "effect_lo", "effect_hi", "gate_reason", "gate_stat", "gate_keep_at", "sigma_dof",
    "false_keep", "experiment_id", "drift", "drift_reason", "tokens_change", "after_experiments", NULL};

static int is_harness_key(const char *k) {
    for (int i = 0; harness_keys[i]; i++)
        if (!strcmp(harness_keys[i], k)) return 1;
    return 0;
}

// Do the changes from parent to commit touch only lines that mention a seed?
static int seed_only_change(const char *parent, const char *commit) {
    if (!parent || !*parent) return 0;
    char *d = git_str("diff", "-U0", "--no-color", parent, commit, "--", "train.c", NULL);
    if (!d) return 0;
    int changed = 0, other = 0;
    for (char *line = d, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if ((line[0] == '+' || line[0] == '-') && strncmp(line, "+++", 3) && strncmp(line, "---", 3)) {
            changed++;
            if (!strcasestr(line, "seed")) other = 1;
        }
    }
    free(d);
    return changed > 0 && !other;
}


// The path of the running harness binary: the supervisor is `autoresearch train`, from the
// binary built before the session, which train.c cannot change.
static char *self_exe(void) {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) die("cannot find the harness binary (/proc/self/exe): %s", strerror(errno));
    buf[n] = 0;
    return xstrdup(buf);
}

// Builds and runs commit (HEAD) under the supervisor; fills r with the outcome: status "ok",
// "crash" or "invalid" (+ reason), and *test with the test split's score (NAN if none), which
// goes to the test ledger, never into r. The trainer's weights go to $STATE/run-model.bin.
static void build_and_train(Session *S, const char *commit, Record *r, double *test) {
    char t0s[32], t1s[32];
    *test = NAN;
    iso_time(t0s, sizeof t0s);
    rec_set_str(r, "start_time", t0s);
    static long runs;
    char *run_id = xasprintf("%s-%d-%ld", t0s, (int)getpid(), ++runs);
    rec_set_str(r, "run", run_id);
    free(run_id);
    double t0 = now_seconds();
    live_begin(S, r);
    int fd = open("run.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("cannot write run.log: %s", strerror(errno));
    close(fd);
    char err[512];
    const char *status = "ok", *reason = NULL;
    char why[700];
    ProcResult pr;
    char train_sha[65], *binary = NULL;
    int brc = build_train(S, commit, train_sha, &pr, &binary, err, sizeof err);
    if (brc < 0) die("%s", err);
    if (brc > 0) {
        status = "invalid";
        snprintf(why, sizeof why, "%s", err);
        reason = why;
        goto done;
    }
    rec_set_str(r, "train_sha256", train_sha);   // the bytes compiled, which are the bytes committed
    if (pr.aborted) { status = "aborted"; goto done; }
    if (pr.exit_code != 0) {
        status = "crash";
        reason = pr.timed_out ? "build timed out" : "build failed";
        goto done;
    }
    char *result = state_file(S, "result.txt"), *model = state_file(S, "run-model.bin");
    char *scratch = state_file(S, "scratch"), *exe = self_exe();
    unlink(result);
    unlink(model);
    char *env[10], *progress = live_progress_path(S);
    int ne = 0;
    env[ne++] = xstrdup("AUTORESEARCH_RESULT_FILE");   // the supervisor's --result only
    env[ne++] = xasprintf("AUTORESEARCH_PROGRESS_FILE=%s", progress);   // the supervisor writes it
    env[ne++] = xstrdup("AUTORESEARCH_MODEL_OUT");
    env[ne++] = xasprintf("AUTORESEARCH_BUDGET_MODE=%s", S->budget_mode);
    // what the harness does not set, train.c must not inherit from the user's shell either
    env[ne++] = S->budget > 0 ? xasprintf("AUTORESEARCH_BUDGET=%.17g", S->budget) : xstrdup("AUTORESEARCH_BUDGET");
    env[ne++] = S->seed >= 0 ? xasprintf("AUTORESEARCH_SEED=%ld", S->seed) : xstrdup("AUTORESEARCH_SEED");
    // the data set the session pinned, whatever `current` says by now
    env[ne++] = S->data_id[0] ? xasprintf("AUTORESEARCH_DATASET=%s", S->data_id) : xstrdup("AUTORESEARCH_DATASET");
    env[ne] = NULL;
    const char *train_argv[] = {exe, "train", "--trainer", binary, "--result", result,
                                "--scratch", scratch, "--model-out", model, NULL};
    ProcSpec ts = {.argv = train_argv, .out_path = "run.log", .env = (const char *const *)env,
                   .timeout = S->timeout, .abort_flag = &g_abort};
    live_watch_run(S, r);
    int started = proc_run(&ts, &pr, err, sizeof err);
    live_watch_stop();
    if (started != 0) die("%s", err);
    for (int i = 0; i < ne; i++) free(env[i]);
    free(progress);
    rec_set_num(r, "exit_code", pr.exit_code);
    if (pr.leftovers) rec_set_num(r, "leftover_processes", pr.leftovers);

    Record sum = {0}, res = {0};
    char *log = read_file("run.log", NULL);
    int fail = 0;
    if (log) parse_summary(log, &sum, &fail);
    free(log);
    int have_res = parse_kv_file(result, &res) == 0;
    for (int i = 0; i < sum.n; i++) {   // the trainer's own lines: informational
        const char *k = sum.f[i].key;
        char *key = is_harness_key(k) ? xasprintf("summary_%s", k) : xstrdup(k);
        if (sum.f[i].is_str) rec_set_str(r, key, sum.f[i].val);
        else rec_set_raw(r, key, sum.f[i].val);
        free(key);
    }
    double val = NAN, sval = rec_num(&sum, "val_bpb", NAN);
    if (have_res) {
        rec_set_str(r, "val_source", "supervisor");
        val = rec_num(&res, "val_bpb", NAN);
        *test = rec_num(&res, "test_bpb", NAN);
        static const char *const copied[] = {"sandbox", "eval_tokens", "dataset", "training_seconds",
            "total_tokens_M", "num_steps", "eval_seconds", "probe_causal_max", "probe_frozen_max",
            "probe_tolerance", "trainer_exit", "sandbox_denials", "sandbox_denied", NULL};
        for (int i = 0; copied[i]; i++) {
            const char *v = rec_get(&res, copied[i]);
            if (!v || !strcmp(v, "-")) continue;
            char *end;
            strtod(v, &end);
            if (*v && !*end) rec_set_raw(r, copied[i], v);
            else rec_set_str(r, copied[i], v);
        }
        int mismatch = isfinite(sval) && isfinite(val) && fabs(sval - val) > 5e-7 * fmax(1, fabs(val));
        rec_set_raw(r, "val_mismatch", mismatch ? "true" : "false");
        if (mismatch)
            warnf("val_bpb printed by train.c (%.6f) differs from the supervisor's (%.6f); using the latter",
                  sval, val);
    }
    rec_set_num(r, "val_bpb", val);
    rec_set_fmt(r, "memory_gb", "%.1f", rec_num(&res, "peak_memory_mb", 0) / 1024.0);
    const char *sst = rec_get(&res, "status"), *sreason = rec_get(&res, "reason");
    if (pr.aborted) status = "aborted";
    else if (pr.timed_out) {
        status = "crash";
        snprintf(why, sizeof why, "timeout after %.0f s", S->timeout);
        reason = why;
    } else if (!have_res || !sst) {
        status = "crash";
        snprintf(why, sizeof why, "no result from the supervisor (exit code %d)", pr.exit_code);
        reason = why;
    } else if (strcmp(sst, "ok")) {
        status = !strcmp(sst, "invalid") ? "invalid" : "crash";
        if (fail && !strcmp(status, "crash") && strstr(sreason ? sreason : "", "without calling evaluate_bpb"))
            reason = "FAIL (diverged)";
        else {
            snprintf(why, sizeof why, "%s", sreason ? sreason : "(no reason given)");
            reason = why;
        }
    } else if (!isfinite(val)) {
        status = "crash", reason = "val_bpb is not a finite number";
    }
    // the fixed layer's own failure, as the supervisor recorded it (not run.log, which the
    // trainer writes to as well); the reason names it already
    const char *fe = have_res ? rec_get(&res, "fixed_error") : NULL;
    if (!strcmp(status, "crash") && fe && strcmp(fe, "-")) {
        char *cut = xstrdup(fe);
        if (strlen(cut) > 300) cut[300] = 0;
        rec_set_str(r, "fixed_error", cut);
        free(cut);
    }
    rec_set_raw(r, "model_saved", file_exists(model) ? "true" : "false");
    rec_free(&sum);
    rec_free(&res);
    free(result);
    free(model);
    free(scratch);
    free(exe);
done:
    free(binary);
    live_end(S, r);
    iso_time(t1s, sizeof t1s);
    rec_set_str(r, "end_time", t1s);
    rec_set_fmt(r, "wall_seconds", "%.1f", now_seconds() - t0);
    rec_set_str(r, "status", status);
    if (reason) rec_set_str(r, "reason", reason);
}

static void write_marker(Session *S, const Record *m) {
    char *p = state_file(S, "running.json");
    char *json = rec_to_json(m);
    char *line = xasprintf("%s\n", json);
    char err[512];
    if (write_file_atomic(p, line, strlen(line), err, sizeof err) != 0) die("%s", err);
    free(line);
    free(json);
    free(p);
}

static void remove_marker(Session *S) {
    char *p = state_file(S, "running.json");
    unlink(p);
    free(p);
}

static void print_row(const Record *r, int n) {
    const char *st = rec_get(r, "status"), *c = rec_get(r, "commit"), *d = rec_get(r, "description");
    char shortc[8] = "-------";
    if (c && strlen(c) >= 7) { memcpy(shortc, c, 7); shortc[7] = 0; }
    if (!strcmp(st, "keep") || !strcmp(st, "discard")) {
        char delta[32] = "";
        if (rec_get(r, "delta")) snprintf(delta, sizeof delta, "%+.6f", rec_num(r, "delta", 0));
        else snprintf(delta, sizeof delta, "baseline");
        char rate[32] = "?", tokens[32] = "?", est[80] = "";
        if (rec_get(r, "tokens_per_sec")) fmt_rate(rec_num(r, "tokens_per_sec", 0), rate, sizeof rate);
        if (rec_get(r, "tokens")) fmt_rate(rec_num(r, "tokens", 0), tokens, sizeof tokens);
        if (rec_num(r, "est_runs", 1) > 1)
            snprintf(est, sizeof est, " (mean of %.0f runs %.6f)", rec_num(r, "est_runs", 1), rec_num(r, "est_val_bpb", 0));
        const char *fk = rec_get(r, "fast_keep");
        printf("[%3d] %s %-7s val_bpb %.6f %-10s mem %5.1f GB %6.1fs %5.0f steps %6s tok %6s tok/s  %s%s%s\n", n,
               shortc, st, rec_num(r, "val_bpb", 0), delta, rec_num(r, "memory_gb", 0), rec_num(r, "wall_seconds", 0),
               rec_num(r, "steps", 0), tokens, rate, d ? d : "", est,
               fk && !strcmp(fk, "true") ? "  [ran much faster than the best: check the machine's load]" : "");
    } else {
        const char *why = rec_get(r, "reason");
        printf("[%3d] %s %-7s %-40s %s\n", n, shortc, st, why ? why : "", d ? d : "");
    }
    fflush(stdout);
}

// Before anything runs: the ledger is what the harness wrote, and the data set is the one the
// session pinned (refused with the reason otherwise: nothing is recorded).
static void preflight(Session *S, Record *r) {
    char err[1024];
    if (chain_unchanged(S->jsonl, S->head_path, &S->chain, err, sizeof err) != 0)
        die("%s; stopping: the ledger is the harness's alone (the next command says what changed)", err);
    if (data_check(S, r, err, sizeof err) < 0) die("%s", err);
}

// The trainer's weights after a kept run become the session's model: the best commit's.
static void keep_model(Session *S, Record *r, const char *status, const char *commit) {
    char *run = state_file(S, "run-model.bin");
    int saved = file_exists(run);
    if (!strcmp(status, "keep") && saved) {
        char *dir = state_file(S, "models"), *dst = xasprintf("%s/%s.bin", dir, S->tag);
        mkdir_p(dir);
        if (rename(run, dst) == 0) {
            rec_set_str(r, "model_file", dst);
            snprintf(S->model_commit, sizeof S->model_commit, "%s", commit);
            session_save(S);
        } else {
            warnf("cannot keep the weights as %s: %s", dst, strerror(errno));
            rec_set_raw(r, "model_saved", "false");
        }
        free(dir);
        free(dst);
    } else if (!strcmp(status, "keep") && rec_get(r, "model_saved")) {
        warnf("kept %.7s, but its weights were not saved (disk full? see run.log); the session's model %s",
              commit, S->model_commit[0] ? "stays the previous best's" : "is none");
    }
    unlink(run);
    free(run);
}

// What every training record carries: the hashes of train.c and of the fixed layer, the
// session's base commit, budget and timeout.
static void record_context(const Session *S, Record *r) {
    char th[65] = "", fh[65];
    sha256_file_hex("train.c", th);
    fixed_hash(fh);
    rec_set_str(r, "base_commit", S->base);
    rec_set_str(r, "train_sha256", th);
    rec_set_str(r, "fixed_sha256", fh);
    rec_set_str(r, "budget_mode", S->budget_mode);
    if (S->budget > 0) rec_set_num(r, "budget_amount", S->budget);
    rec_set_num(r, "timeout_s", S->timeout);
}

// One more run of HEAD with AUTORESEARCH_SEED=seed (< 0: a fresh one), recorded as kind
// (noise, confirm, rebaseline); exp_id: the experiment it belongs to (or NULL); after >= 0:
// a rebaseline after that many experiments, checked for drift. Returns its record (in the
// ledger), or NULL on Ctrl-C (nothing recorded).
static const Record *extra_run(Session *S, const char *kind, const char *commit, const char *exp_id, int i, int k,
                               int after, long seed) {
    Record r = {0};
    rec_set_str(&r, "kind", kind);
    rec_set_str(&r, "session", S->tag);
    rec_set_str(&r, "commit", commit);
    char d[200];
    snprintf(d, sizeof d, "%s run %d/%d%s%s", kind, i, k, exp_id ? " of " : "", exp_id ? exp_id : "");
    rec_set_str(&r, "description", d);
    if (exp_id) rec_set_str(&r, "experiment_id", exp_id);
    rec_set_num(&r, "noise_run", i);
    rec_set_num(&r, "noise_runs", k);
    record_context(S, &r);
    long saved = S->seed;
    if (seed < 0) seed = fresh_seed(S, commit);
    S->seed = seed;
    rec_set_num(&r, "seed", (double)seed);
    preflight(S, &r);
    double test;
    build_and_train(S, commit, &r, &test);
    S->seed = saved;
    char *run_model = state_file(S, "run-model.bin");
    unlink(run_model);   // an extra run's weights are nobody's model
    free(run_model);
    if (!strcmp(rec_get(&r, "status"), "aborted")) { rec_free(&r); return NULL; }
    rec_set_num(&r, "seed", (double)seed);   // the harness's, whatever train.c printed
    double val = !strcmp(rec_get(&r, "status"), "ok") ? rec_num(&r, "val_bpb", NAN) : NAN;
    if (after >= 0) {
        rec_set_num(&r, "after_experiments", after);
        drift_check(S, &r);
    }
    const char *why = rec_get(&r, "reason");
    char rate[32] = "?";
    if (rec_get(&r, "tokens_per_sec")) fmt_rate(rec_num(&r, "tokens_per_sec", 0), rate, sizeof rate);
    if (isfinite(val))
        printf("%s %d/%d %.7s seed %-5ld val_bpb %.6f %6.1fs %5.0f steps %6s tok/s\n", kind, i, k, commit, seed,
               val, rec_num(&r, "wall_seconds", 0), rec_num(&r, "steps", 0), rate);
    else printf("%s %d/%d %.7s seed %-5ld crash   %s\n", kind, i, k, commit, seed, why ? why : "");
    fflush(stdout);
    test_ledger_append(S, &r, test);
    ledger_add(S, &r);
    return &S->L.r[S->L.n - 1];
}

// Runs commit (HEAD) until it has `want` runs, counting the pending one; -1 on Ctrl-C.
static int extra_runs(Session *S, const char *kind, const char *commit, const char *exp_id, int want) {
    int have = commit_runs(S, commit).n + 1;
    for (int i = have + 1; i <= want && !g_stop; i++)
        if (!extra_run(S, kind, commit, exp_id, i, want, -1, -1)) return -1;
    return g_abort ? -1 : 0;
}

// The sprt gate: confirmation runs of the candidate until the sequential test decides.
// Writes the estimates and the decision into r; returns "keep", "discard", or NULL on Ctrl-C.
static const char *sequential_decision(Session *S, Record *r, const char *id, const char *commit, const char *best) {
    double val = rec_num(r, "val_bpb", NAN);
    RunStats b, c;
    GateDecision d = gate_judge(S, best, commit, val, &b, &c);
    while (d.verdict == GATE_MORE) {
        const Record *x = extra_run(S, "confirm", commit, id, c.n + 1, S->gp.max_runs, -1, -1);
        if (!x) return NULL;
        if (strcmp(rec_get(x, "status"), "ok")) {   // it ran once: a crash now is flakiness
            rec_set_str(r, "reason", "a confirmation run crashed");
            d.verdict = GATE_DISCARD;
            d.why = "confirmation crashed";
            break;
        }
        d = gate_judge(S, best, commit, val, &b, &c);
    }
    rec_set_num(r, "best_before", b.mean);
    rec_set_num(r, "best_runs", b.n);
    rec_set_num(r, "delta", c.mean - b.mean);
    rec_set_num(r, "gate_stat", d.stat);
    rec_set_num(r, "gate_keep_at", d.keep_at);
    rec_set_num(r, "false_keep", S->gp.alpha);
    rec_set_str(r, "gate_reason", d.why);
    if (d.verdict == GATE_KEEP) {
        rec_set_num(r, "effect", d.effect);
        rec_set_num(r, "effect_lo", d.lo);
        rec_set_num(r, "effect_hi", d.hi);
        return "keep";
    }
    return "discard";
}

const char *experiment(Session *S, const char *desc, const Record *extra, int reset) {
    char *commit = head_commit();
    if (!commit) die("the repository has no commit yet");
    char *parent = git_str("rev-parse", "--verify", "-q", "HEAD^", NULL);
    int n = session_experiments(S) + 1;
    char id[160];
    snprintf(id, sizeof id, "%s-%d", S->tag, n);

    Record r = {0};
    rec_set_str(&r, "kind", "experiment");
    rec_set_str(&r, "id", id);
    rec_set_str(&r, "session", S->tag);
    rec_set_num(&r, "n", n);
    rec_set_str(&r, "commit", commit);
    rec_set_str(&r, "parent", parent ? parent : "");
    rec_set_str(&r, "description", desc);
    merge(&r, extra);
    Record m = {0};
    merge(&m, &r);
    rec_set_num(&m, "pid", getpid());
    char now[32];
    iso_time(now, sizeof now);
    rec_set_str(&m, "start_time", now);
    record_context(S, &r);
    preflight(S, &r);
    write_marker(S, &m);
    rec_free(&m);
    if (S->seed >= 0) rec_set_num(&r, "seed", (double)S->seed);

    double test;
    build_and_train(S, commit, &r, &test);
    static char status[16];
    snprintf(status, sizeof status, "%s", rec_get(&r, "status"));
    const char *st = status;
    if (!strcmp(st, "aborted")) {   // Ctrl-C twice: nothing is recorded
        remove_marker(S);
        rec_free(&r);
        free(commit);
        free(parent);
        return NULL;
    }
    const Record *best = session_best(S);   // valid until the next ledger_add (extra runs)
    char *best_commit = best ? xstrdup(rec_get(best, "commit")) : NULL;
    int sprt = !strcmp(S->gate, "sprt");
    double thr = !strcmp(S->gate, "noise") ? 2 * S->sigma : 0;
    rec_set_str(&r, "gate", S->gate);
    rec_set_num(&r, "gate_threshold", thr);
    rec_set_raw(&r, "seed_only", seed_only_change(parent, commit) ? "true" : "false");
    if (!strcmp(st, "ok")) {
        double val = rec_num(&r, "val_bpb", NAN);
        // the first run's weights are the model a keep saves: extra runs must not replace them
        char *run_model = state_file(S, "run-model.bin"), *held = state_file(S, "run-model.first.bin");
        if (sprt && rename(run_model, held) != 0) unlink(held);
        if (!best && sprt && extra_runs(S, "noise", commit, id, S->noise_runs) != 0) st = NULL;
        if (!st) {   // aborted during the baseline's noise runs: nothing recorded for it
        } else if (best && sprt) {
            st = sequential_decision(S, &r, id, commit, best_commit);
        }
        if (sprt && rename(held, run_model) != 0) unlink(run_model);
        free(run_model);
        free(held);
        if (!st || (best && sprt)) {   // aborted, or decided by the sequential test
        } else if (best) {
            double b = rec_num(best, "val_bpb", NAN);
            rec_set_num(&r, "best_before", b);
            rec_set_num(&r, "delta", val - b);
            st = val < b - thr ? "keep" : "discard";
        } else {
            st = "keep";   // the session's first successful run: the baseline
        }
        if (st) {
            RunStats c = commit_runs(S, commit);
            runstats_add(&c, val);
            double sigma, dof;
            session_noise(S, commit, val, &sigma, &dof);
            rec_set_num(&r, "est_val_bpb", c.mean);
            rec_set_num(&r, "est_se", sigma > 0 ? runstats_se(&c, sigma) : NAN);
            rec_set_num(&r, "est_runs", c.n);
            if (sprt) {   // the session's sigma is the pooled one from now on
                S->sigma = sigma;
                rec_set_num(&r, "sigma_dof", dof);
                session_save(S);
            }
        }
        snprintf(status, sizeof status, "%s", st ? st : "aborted");
        if (st) rec_set_str(&r, "status", status);
    }
    if (S->sigma > 0) rec_set_num(&r, "sigma", S->sigma);
    if (!strcmp(status, "aborted")) {
        remove_marker(S);
        rec_free(&r);
        free(best_commit);
        free(commit);
        free(parent);
        return NULL;
    }
    flag_fast_keep(S, &r, best_commit ? session_best(S) : NULL);   // (extra runs moved the ledger)
    char *target = xstrdup(best_commit ? best_commit : (parent ? parent : commit));
    free(best_commit);
    keep_model(S, &r, status, commit);
    print_row(&r, n);
    test_ledger_append(S, &r, test);
    ledger_add(S, &r);
    remove_marker(S);
    if (reset && strcmp(status, "keep")) reset_to(target, NULL);
    free(target);
    free(commit);
    free(parent);
    return status;
}

void rebaseline(Session *S, int after) {
    const Record *best = session_best(S);
    char *commit = head_commit();
    for (int i = 0; best && commit && i < S->L.n; i++) {   // once per point of the session
        const Record *x = &S->L.r[i];
        const char *k = rec_get(x, "kind"), *s = rec_get(x, "session");
        if (k && s && !strcmp(k, "rebaseline") && !strcmp(s, S->tag) && (int)rec_num(x, "after_experiments", -1) == after)
            best = NULL;
    }
    if (best && commit && !strcmp(commit, rec_get(best, "commit"))) {
        int n = commit_runs(S, commit).n + 1;
        const Record *x = extra_run(S, "rebaseline", commit, NULL, n, n, after, -1);
        if (x && rec_get(x, "drift_reason"))
            printf("drift: %s\n", rec_get(x, "drift_reason"));
    }
    free(commit);
}

double noise_run(Session *S, int i, int k, long seed, int *aborted) {
    char *commit = head_commit();
    if (!commit) die("the repository has no commit yet");
    const Record *r = extra_run(S, "noise", commit, NULL, i, k, -1, seed);
    free(commit);
    *aborted = !r;
    return r && !strcmp(rec_get(r, "status"), "ok") ? rec_num(r, "val_bpb", NAN) : NAN;
}

void record_event(Session *S, const char *kind, const char *status, const char *desc,
                  const char *reason, const Record *extra) {
    Record r = {0};
    char now[32];
    iso_time(now, sizeof now);
    int n = session_experiments(S) + 1;
    rec_set_str(&r, "kind", kind);
    if (!strcmp(kind, "experiment")) {
        char id[160];
        snprintf(id, sizeof id, "%s-%d", S->tag, n);
        rec_set_str(&r, "id", id);
    }
    rec_set_str(&r, "session", S->tag);
    if (!strcmp(kind, "experiment")) rec_set_num(&r, "n", n);
    rec_set_str(&r, "commit", "");
    rec_set_str(&r, "description", desc);
    rec_set_str(&r, "status", status);
    if (reason) rec_set_str(&r, "reason", reason);
    rec_set_str(&r, "start_time", now);
    rec_set_str(&r, "base_commit", S->base);
    merge(&r, extra);
    if (!strcmp(kind, "experiment")) print_row(&r, n);
    ledger_add(S, &r);
}

void resume_interrupted(Session *S, int reset) {
    char *p = state_file(S, "running.json");
    char *text = read_file(p, NULL);
    free(p);
    if (!text) return;
    Record m;
    char err[128];
    if (rec_parse(text, &m, err, sizeof err) != 0) {
        warnf("ignoring a corrupt %s/running.json", S->state);
        free(text);
        remove_marker(S);
        return;
    }
    free(text);
    const char *id = rec_get(&m, "id"), *commit = rec_get(&m, "commit"), *sess = rec_get(&m, "session");
    char *head = head_commit();
    if (!sess || strcmp(sess, S->tag)) {
        // another session's experiment: leave it to that session
    } else if (id && find_id(S, id)) {
        // recorded just before the kill: finish what came after (the reset of a non-keep)
        const Record *r = find_id(S, id);
        const char *st = rec_get(r, "status");
        if (reset && st && strcmp(st, "keep") && commit && head && !strcmp(commit, head)) {
            const Record *best = session_best(S);
            const char *parent = rec_get(r, "parent");
            const char *target = best ? rec_get(best, "commit") : (parent && *parent ? parent : NULL);
            if (target) reset_to(target, NULL);
        }
        remove_marker(S);
    } else if (commit && head && !strcmp(commit, head)) {
        printf("resuming experiment %s interrupted at %s\n", id ? id : "?",
               rec_get(&m, "start_time") ? rec_get(&m, "start_time") : "?");
        Record extra = {0};
        for (int i = 0; i < m.n; i++) {
            const char *k = m.f[i].key;
            if (!strcmp(k, "agent") || !strncmp(k, "search_", 7)) {
                if (m.f[i].is_str) rec_set_str(&extra, k, m.f[i].val);
                else rec_set_raw(&extra, k, m.f[i].val);
            }
        }
        const char *d = rec_get(&m, "description");
        experiment(S, d ? d : "(resumed)", &extra, reset);
        rec_free(&extra);
    } else {
        warnf("dropping the interrupted experiment %s: HEAD moved since", id ? id : "?");
        remove_marker(S);
    }
    free(head);
    rec_free(&m);
}

// git.c -- git plumbing: commands and their output, committing train.c, resetting the work
// tree, and git's view of what differs from the session's base (integrity.c checks content).
#include "harness.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

char *join_list(char **l) {
    char *s = xstrdup("");
    for (int i = 0; l[i]; i++) {
        char *t = xasprintf("%s%s%s", s, i ? ", " : "", l[i]);
        free(s);
        s = t;
    }
    return s;
}

int train_dirty(void) { return !git_ok("diff", "--quiet", "HEAD", "--", "train.c", NULL); }

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

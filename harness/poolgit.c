// poolgit.c -- the pool's git: each experiment's worktree, and normalised diffs (the same edit
// is the same diff wherever it lands, so no change is dispatched twice in a session).
#include "pool.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pool_in_root(const Session *S) {
    if (chdir(S->root) != 0) die("cannot enter %s", S->root);
}

void pool_wt_remove(const Session *S, const char *path) {
    if (!*path) return;
    pool_in_root(S);
    if (!git_ok("worktree", "remove", "--force", path, NULL)) remove_tree(path);
    git_ok("worktree", "prune", NULL);
}

void pool_wt_add(const Pool *P, const char *path, const char *commit) {
    pool_in_root(P->S);
    if (file_exists(path)) pool_wt_remove(P->S, path);
    mkdir_p(P->wts);
    if (!git_ok("worktree", "add", "-q", "--detach", path, commit, NULL)) die("cannot add the worktree %s: %s", path, git_err);
}

// sha256 of the change parent..commit of train.c: its hunks without line numbers, every run of
// blanks one space, so the same edit is the same diff wherever it lands.
static void normalise(const char *d, char out[65]) {
    char *norm = xmalloc(d ? strlen(d) + 2 : 2), *o = norm;
    char *copy = xstrdup(d ? d : "");
    for (char *l = copy, *nl; l && *l; l = nl ? nl + 1 : NULL) {
        nl = strchr(l, '\n');
        if (nl) *nl = 0;
        if (!strncmp(l, "diff ", 5) || !strncmp(l, "index ", 6) || !strncmp(l, "--- ", 4) || !strncmp(l, "+++ ", 4) ||
            !strncmp(l, "@@", 2))
            continue;
        for (char *c = l; *c; c++) {
            int blank = *c == ' ' || *c == '\t';
            if (!blank || (o > norm && o[-1] != ' ')) *o++ = blank ? ' ' : *c;
        }
        *o++ = '\n';
    }
    *o = 0;
    free(copy);
    sha256_hex(norm, strlen(norm), out);
    free(norm);
}

// The same for two versions of train.c's text (the search agent's candidate, before its commit).
void pool_text_diff(const Pool *P, const char *a, const char *b, char out[65]) {
    char *pa = xasprintf("%s/diff-a.c", P->jobs), *pb = xasprintf("%s/diff-b.c", P->jobs), err[512];
    if (write_file_atomic(pa, a, strlen(a), err, sizeof err) != 0 || write_file_atomic(pb, b, strlen(b), err, sizeof err) != 0)
        die("%s", err);
    const char *argv[] = {"git", "diff", "--no-index", "-U3", "--no-color", pa, pb, NULL};
    char *d = NULL;
    cmd_capture(argv, &d, NULL);   // exit status 1: they differ
    normalise(d, out);
    free(d);
    unlink(pa);
    unlink(pb);
    free(pa);
    free(pb);
}

void pool_commit_diff(const char *parent, const char *commit, char out[65]) {
    char *d = git_str("diff", "-U3", "--no-color", parent, commit, "--", "train.c", NULL);
    normalise(d, out);
    free(d);
}

int pool_diff_dispatched(const Pool *P, const char *diff) {
    for (int i = 0; i < P->ne; i++)
        if (!strcmp(P->exp[i].diff, diff)) return 1;
    const Session *S = P->S;
    for (int i = 0; i < S->L.n; i++) {
        const char *d = rec_get(&S->L.r[i], "diff_sha256"), *s = rec_get(&S->L.r[i], "session");
        if (d && s && !strcmp(d, diff) && !strcmp(s, S->tag)) return 1;
    }
    return 0;
}


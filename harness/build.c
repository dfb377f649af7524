// build.c -- one snapshot per experiment, built from a pristine copy of the base.
//
// The agent's working tree is never built. The session's base tree is exported (every object
// verified by hash, integrity.c) into $GIT_DIR/autoresearch/pristine, train.c is written
// there from the commit being run (the blob, verified by hash: the bytes committed are the
// bytes hashed and compiled), and `make build/train build/gradcheck` runs there. A prebuilt
// object or library dropped into the repository's build/ is never linked. Between experiments the copy (sources,
// objects, libfixed.a) must stay exactly as the last build left it: a digest taken after each
// build is compared before the next, and a copy changed by anyone but the harness is rebuilt
// from the base.
#include "harness.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct {
    char base[41];
    char digest[65];
} B;

// sha256 over every entry of the copy but the two an experiment writes (train.c, build/train).
static void digest_walk(Sha256Stream *h, const char *root, const char *rel) {
    char *path = *rel ? xasprintf("%s/%s", root, rel) : xstrdup(root);
    DIR *d = opendir(path);
    if (!d) { free(path); return; }
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    closedir(d);
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (strcmp(nm, ".") && strcmp(nm, "..")) {
            char *r = *rel ? xasprintf("%s/%s", rel, nm) : xstrdup(nm);
            char *p = xasprintf("%s/%s", root, r);
            struct stat st;
            if (strcmp(r, "train.c") && strcmp(r, "build/train") && lstat(p, &st) == 0) {
                char kind[32];
                snprintf(kind, sizeof kind, "%o", (unsigned)st.st_mode);
                sha256_stream_update(h, r, strlen(r) + 1);
                sha256_stream_update(h, kind, strlen(kind) + 1);
                if (S_ISDIR(st.st_mode)) digest_walk(h, root, r);
                else if (S_ISLNK(st.st_mode)) {
                    char t[4096];
                    ssize_t k = readlink(p, t, sizeof t);
                    if (k > 0) sha256_stream_update(h, t, (size_t)k);
                } else {
                    char fh[65] = "unreadable";
                    sha256_file_hex(p, fh);
                    sha256_stream_update(h, fh, 64);
                }
            }
            free(r);
            free(p);
        }
        free(names[i]);
    }
    free(names);
    free(path);
}

static void digest(const char *dir, char out[65]) {
    Sha256Stream *h = sha256_stream_new();
    digest_walk(h, dir, "");
    sha256_stream_final(h, out);
}

char *pristine_dir(const Session *S) { return xasprintf("%s/pristine", S->state); }

int build_train(const Session *S, const char *commit, char train_sha[65], ProcResult *pr, char **binary,
                char *err, size_t errlen) {
    *binary = NULL;
    char *dir = pristine_dir(S);
    int fresh = strcmp(B.base, S->base) != 0;
    if (!fresh) {
        char now[65];
        digest(dir, now);
        if (strcmp(now, B.digest)) {
            warnf("%s changed since the harness built it: rebuilding it from the base commit %.7s", dir, S->base);
            fresh = 1;
        }
    }
    if (fresh) {
        B.base[0] = 0;
        if (integrity_export(S->base, dir, err, errlen) != 0) { free(dir); return -1; }
    }
    char *src;
    size_t len;
    if (git_blob(commit, "train.c", &src, &len, err, errlen) != 0) { free(dir); return 1; }
    sha256_hex(src, len, train_sha);
    char *dst = xasprintf("%s/train.c", dir), *bin = xasprintf("%s/build/train", dir);
    unlink(dst);
    unlink(bin);
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    int ok = fd >= 0 && write(fd, src, len) == (ssize_t)len;
    if (fd >= 0 && close(fd) != 0) ok = 0;
    free(src);
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", dst, strerror(errno));
        free(dst); free(bin); free(dir);
        return -1;
    }
    free(dst);
    // the build depends on the base's Makefile and this train.c alone: not on make's state
    // in the harness's own environment (MAKEFLAGS of an enclosing make, its jobserver)
    const char *env[] = {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEFILES", NULL};
    // and the gradient check next to the trainer, where the base has one (harness/gradcheck.c)
    const char *argv[] = {"make", "-s", "--no-print-directory", "-C", dir, "build/train",
                          gradcheck_available(S) ? "build/gradcheck" : NULL, NULL};
    ProcSpec ms = {.argv = argv, .out_path = "run.log", .env = env, .timeout = 600, .abort_flag = &g_abort};
    if (proc_run(&ms, pr, err, errlen) != 0) { free(bin); free(dir); return -1; }
    digest(dir, B.digest);
    snprintf(B.base, sizeof B.base, "%s", S->base);
    *binary = bin;
    free(dir);
    return 0;
}

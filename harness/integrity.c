// integrity.c -- what the harness trusts of the repository: the session's base tree read from
// the object store and verified object by object, against which the working tree's bytes are
// compared (git's own view, which assume-unchanged, skip-worktree, ignore rules or an
// fsmonitor can bend, is not what decides). git run without hooks or replace objects, and the
// refusal of config that runs code or hides files, are githarden.c.
#include "harness.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Directories whose every file (tracked or not, ignored or not) must be the base's, and the
// top-level files make reads: what builds and scores an experiment.
static const char *protected_dirs[] = {"fixed", "harness", NULL};
static const char *make_files[] = {"Makefile", "GNUmakefile", "makefile", NULL};

// ----------------------------------------------------------------------------
// The base tree, read from the object store and verified by hash

typedef struct {
    char *path;
    unsigned mode;      // 0100644, 0100755, 0120000 (symlink)
    char *data;
    size_t len;
} TreeFile;

static struct {
    char base[65];
    TreeFile *f;
    int n;
    int raw;            // bytes of a raw object id (20: sha1, 32: sha256)
} T;

// The object id git would give these bytes as an object of this type, in hex.
static void object_id(const char *type, const void *data, size_t len, char out[65]) {
    char hdr[64];
    int hl = snprintf(hdr, sizeof hdr, "%s %zu", type, len) + 1;   // the NUL is hashed too
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdl = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, T.raw == 32 ? EVP_sha256() : EVP_sha1(), NULL);
    EVP_DigestUpdate(c, hdr, (size_t)hl);
    EVP_DigestUpdate(c, data, len);
    EVP_DigestFinal_ex(c, md, &mdl);
    EVP_MD_CTX_free(c);
    for (unsigned i = 0; i < mdl; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

typedef struct {
    char *data;
    size_t len;
} Blob;

// Reads objects with `git cat-file --batch` and checks each against its id. 0, or -1 + err.
static int read_objects(char **ids, int n, const char *want_type, Blob *out, char *err, size_t errlen) {
    if (!n) return 0;
    char *in = xstrdup("");
    size_t inlen = 0;
    for (int i = 0; i < n; i++) {
        in = xrealloc(in, inlen + strlen(ids[i]) + 2);
        inlen += (size_t)sprintf(in + inlen, "%s\n", ids[i]);
    }
    const char *argv[] = {"git", "--no-replace-objects", "cat-file", "--batch", NULL};
    char *o;
    size_t ol;
    int rc = cmd_io(argv, in, inlen, &o, &ol);
    free(in);
    if (rc != 0) { free(o); snprintf(err, errlen, "git cat-file failed"); return -1; }
    size_t p = 0;
    for (int i = 0; i < n; i++) {
        char id[80], type[16];
        size_t size;
        char *nl = memchr(o + p, '\n', ol - p);
        if (!nl || sscanf(o + p, "%79s %15s %zu", id, type, &size) != 3 || strcmp(type, want_type) ||
            (size_t)(nl + 1 - o) + size > ol) {
            snprintf(err, errlen, "object %s is missing or not a %s", ids[i], want_type);
            for (int j = 0; j < i; j++) free(out[j].data);
            free(o);
            return -1;
        }
        p = (size_t)(nl + 1 - o);
        char got[65];
        object_id(type, o + p, size, got);
        if (strcmp(got, ids[i])) {
            snprintf(err, errlen, "object %s in the object store does not hash to its name (it hashes "
                     "to %.12s): the repository was tampered with", ids[i], got);
            for (int j = 0; j < i; j++) free(out[j].data);
            free(o);
            return -1;
        }
        out[i].data = xmalloc(size + 1);
        memcpy(out[i].data, o + p, size);
        out[i].data[size] = 0;
        out[i].len = size;
        p += size + 1;
    }
    free(o);
    return 0;
}

static void tree_free(void) {
    for (int i = 0; i < T.n; i++) { free(T.f[i].path); free(T.f[i].data); }
    free(T.f);
    T.f = NULL, T.n = 0, T.base[0] = 0;
}

static int load_base(const char *base, char *err, size_t errlen) {
    if (!strcmp(T.base, base)) return 0;
    tree_free();
    char *fmt = git_str("rev-parse", "--show-object-format", NULL);
    T.raw = fmt && !strcmp(fmt, "sha256") ? 32 : 20;
    free(fmt);
    char *ids[1] = {(char *)base};
    Blob commit;
    if (read_objects(ids, 1, "commit", &commit, err, errlen) != 0) return -1;
    char root[80];
    if (sscanf(commit.data, "tree %79s", root) != 1) {
        free(commit.data);
        snprintf(err, errlen, "commit %.12s has no tree", base);
        return -1;
    }
    free(commit.data);
    // breadth first: one cat-file per level of trees, then one for every blob
    char **level = xmalloc(sizeof *level), **prefix = xmalloc(sizeof *prefix);
    level[0] = xstrdup(root), prefix[0] = xstrdup("");
    int nl = 1;
    char **bids = NULL;
    int nb = 0;
    while (nl) {
        Blob *trees = xcalloc((size_t)nl, sizeof *trees);
        if (read_objects(level, nl, "tree", trees, err, errlen) != 0) {
            free(trees);
            free_list(bids);
            for (int i = 0; i < nl; i++) { free(level[i]); free(prefix[i]); }
            free(level); free(prefix);
            return -1;
        }
        char **next = NULL, **nprefix = NULL;
        int nn = 0;
        for (int t = 0; t < nl; t++) {
            // entries: "<octal mode> <name>" NUL <raw id>
            for (size_t p = 0; p < trees[t].len;) {
                const char *e = trees[t].data + p;
                const char *sp = memchr(e, ' ', trees[t].len - p);
                size_t namelen = strlen(sp + 1);
                const unsigned char *rid = (const unsigned char *)sp + 1 + namelen + 1;
                unsigned mode = (unsigned)strtoul(e, NULL, 8);
                char hex[65];
                for (int k = 0; k < T.raw; k++) snprintf(hex + 2 * k, 3, "%02x", rid[k]);
                char *path = xasprintf("%s%s", prefix[t], sp + 1);
                if (mode == 040000) {
                    next = xrealloc(next, (size_t)(nn + 1) * sizeof *next);
                    nprefix = xrealloc(nprefix, (size_t)(nn + 1) * sizeof *nprefix);
                    next[nn] = xstrdup(hex), nprefix[nn] = xasprintf("%s/", path), nn++;
                    free(path);
                } else if (mode == 0160000) {
                    free(path);   // a submodule: not part of this repository's content
                } else {
                    T.f = xrealloc(T.f, (size_t)(T.n + 1) * sizeof *T.f);
                    T.f[T.n++] = (TreeFile){.path = path, .mode = mode};
                    bids = xrealloc(bids, (size_t)(nb + 2) * sizeof *bids);
                    bids[nb++] = xstrdup(hex);
                    bids[nb] = NULL;
                }
                p = (size_t)((const char *)rid + T.raw - trees[t].data);
            }
            free(trees[t].data);
        }
        free(trees);
        for (int i = 0; i < nl; i++) { free(level[i]); free(prefix[i]); }
        free(level); free(prefix);
        level = next, prefix = nprefix, nl = nn;
    }
    free(level); free(prefix);
    Blob *blobs = xcalloc((size_t)nb + 1, sizeof *blobs);
    int rc = read_objects(bids, nb, "blob", blobs, err, errlen);
    free_list(bids);
    if (rc != 0) { free(blobs); tree_free(); return -1; }
    for (int i = 0; i < T.n; i++) T.f[i].data = blobs[i].data, T.f[i].len = blobs[i].len;
    free(blobs);
    snprintf(T.base, sizeof T.base, "%s", base);
    return 0;
}

static const TreeFile *base_file(const char *path) {
    for (int i = 0; i < T.n; i++)
        if (!strcmp(T.f[i].path, path)) return &T.f[i];
    return NULL;
}

// ----------------------------------------------------------------------------
// The working tree against the base

static void add(char ***l, int *n, const char *fmt, const char *path) {
    for (int i = 0; i < *n; i++)
        if (!strncmp((*l)[i], path, strlen(path)) && ((*l)[i][strlen(path)] == 0 || (*l)[i][strlen(path)] == ' '))
            return;   // already listed
    *l = xrealloc(*l, (size_t)(*n + 2) * sizeof **l);
    (*l)[(*n)++] = xasprintf(fmt, path);
    (*l)[*n] = NULL;
}

// Does the file at path hold exactly the base's bytes (and kind: file or symlink)?
static int same_as_base(const char *path, const TreeFile *b) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (b->mode == 0120000) {
        if (!S_ISLNK(st.st_mode)) return 0;
        char target[4096];
        ssize_t k = readlink(path, target, sizeof target);
        return k >= 0 && (size_t)k == b->len && !memcmp(target, b->data, b->len);
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size != b->len) return 0;
    size_t len;
    char *data = read_file(path, &len);
    int same = data && len == b->len && !memcmp(data, b->data, len);
    free(data);
    return same;
}

static int under_protected(const char *path) {
    for (int i = 0; protected_dirs[i]; i++) {
        size_t k = strlen(protected_dirs[i]);
        if (!strncmp(path, protected_dirs[i], k) && path[k] == '/') return 1;
    }
    return 0;
}

// Every entry under dir that the base does not have as a file (or whose kind differs).
static void walk_extra(const char *dir, char ***l, int *n) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) walk_extra(p, l, n);
        else if (!base_file(p)) add(l, n, "%s", p);
        free(p);
    }
    closedir(d);
}

char **integrity_content(const char *base, char *err, size_t errlen) {
    if (load_base(base, err, errlen) != 0) return NULL;
    char **l = xcalloc(1, sizeof *l);
    int n = 0;
    struct stat st;
    if (lstat("train.c", &st) != 0) add(&l, &n, "%s (missing)", "train.c");
    else if (!S_ISREG(st.st_mode))
        add(&l, &n, S_ISLNK(st.st_mode) ? "%s (a symlink: it must be a regular file)" : "%s (not a regular file)", "train.c");
    for (int i = 0; i < T.n; i++) {
        if (!strcmp(T.f[i].path, "train.c")) continue;
        if (!same_as_base(T.f[i].path, &T.f[i])) add(&l, &n, "%s", T.f[i].path);
    }
    for (int i = 0; protected_dirs[i]; i++) {
        if (lstat(protected_dirs[i], &st) == 0 && !S_ISDIR(st.st_mode))
            add(&l, &n, "%s (not a directory)", protected_dirs[i]);
        else walk_extra(protected_dirs[i], &l, &n);
    }
    for (int i = 0; make_files[i]; i++)
        if (lstat(make_files[i], &st) == 0 && !base_file(make_files[i])) add(&l, &n, "%s", make_files[i]);
    return l;
}

// Writes the base's version of path (a file or symlink) at dst; 0 or -1.
static int write_base_file(const TreeFile *b, const char *dst) {
    char *slash = strrchr(dst, '/');
    if (slash) {
        char *dir = xstrdup(dst);
        dir[slash - dst] = 0;
        mkdir_p(dir);
        free(dir);
    }
    struct stat st;
    if (lstat(dst, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(dst);
    else unlink(dst);
    if (b->mode == 0120000) {
        char *target = xstrdup(b->data);
        int rc = symlink(target, dst);
        free(target);
        return rc;
    }
    int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, b->mode == 0100755 ? 0755 : 0644);
    if (fd < 0) return -1;
    int ok = write(fd, b->data, b->len) == (ssize_t)b->len;
    return close(fd) == 0 && ok ? 0 : -1;
}

int integrity_restore(const char *base, char **bad) {
    char err[256];
    if (load_base(base, err, sizeof err) != 0) return -1;
    int rc = 0;
    for (int i = 0; bad && bad[i]; i++) {
        char *p = xstrdup(bad[i]);
        p[strcspn(p, " ")] = 0;   // "train.c (a symlink...)" -> "train.c"
        const TreeFile *b = base_file(p);
        if (b && strcmp(p, "train.c")) rc |= write_base_file(b, p);
        else if (!b && (under_protected(p) || strchr(p, '/') == NULL)) {
            struct stat st;
            if (lstat(p, &st) == 0) rc |= S_ISDIR(st.st_mode) ? remove_tree(p) : unlink(p);
        }
        free(p);
    }
    return rc;
}

int integrity_export(const char *base, const char *dir, char *err, size_t errlen) {
    if (load_base(base, err, errlen) != 0) return -1;
    if (remove_tree(dir) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot clear %s: %s", dir, strerror(errno));
        return -1;
    }
    if (mkdir_p(dir) != 0) { snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno)); return -1; }
    for (int i = 0; i < T.n; i++) {
        if (!strcmp(T.f[i].path, "train.c")) continue;   // the experiment's snapshot goes there
        char *dst = xasprintf("%s/%s", dir, T.f[i].path);
        int rc = write_base_file(&T.f[i], dst);
        if (rc != 0) snprintf(err, errlen, "cannot write %s: %s", dst, strerror(errno));
        free(dst);
        if (rc != 0) return -1;
    }
    return 0;
}

int git_blob(const char *commit, const char *path, char **data, size_t *len, char *err, size_t errlen) {
    *data = NULL;
    char *ls = git_str("ls-tree", "-z", commit, "--", path, NULL);
    unsigned mode = 0;
    char id[80] = "";
    if (!ls || sscanf(ls, "%o blob %79s", &mode, id) != 2) {
        free(ls);
        snprintf(err, errlen, "%s is not in commit %.7s", path, commit);
        return -1;
    }
    free(ls);
    if (mode == 0120000) {
        snprintf(err, errlen, "%s is committed as a symlink in %.7s: it must be a regular file", path, commit);
        return -1;
    }
    if (!T.raw) {
        char *fmt = git_str("rev-parse", "--show-object-format", NULL);
        T.raw = fmt && !strcmp(fmt, "sha256") ? 32 : 20;
        free(fmt);
    }
    char *ids[1] = {id};
    Blob b;
    if (read_objects(ids, 1, "blob", &b, err, errlen) != 0) return -1;
    *data = b.data;
    *len = b.len;
    return 0;
}

// util.c -- small helpers shared by the fixed layer and the harness.
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void warnf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("autoresearch: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void (*die_hook)(const char *message);

_Noreturn void die(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "autoresearch: %s\n", msg);
    void (*hook)(const char *) = die_hook;
    die_hook = NULL;   // once: the hook may fail and die itself
    if (hook) hook(msg);
    exit(1);
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory allocating %zu bytes", n);
    return p;
}
void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die("out of memory allocating %zu x %zu bytes", n, size);
    return p;
}
void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) die("out of memory allocating %zu bytes", n);
    return p;
}
char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}
char *xasprintf(const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    char *s = xmalloc((size_t)n + 1);
    if ((size_t)n < sizeof small) memcpy(s, small, (size_t)n + 1);
    else vsnprintf(s, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int mkdir_p(const char *path) {
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) { free(p); return -1; }
        *s = '/';
    }
    int rc = (mkdir(p, 0755) != 0 && errno != EEXIST) ? -1 : 0;
    free(p);
    return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}
int remove_tree(const char *path) {
    if (!file_exists(path)) return 0;
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

const char *cache_dir(void) {
    static char *dir;
    if (dir) return dir;
    const char *env = getenv("AUTORESEARCH_CACHE");
    if (env && *env) dir = xstrdup(env);
    else {
        const char *home = getenv("HOME");
        dir = xasprintf("%s/.cache/autoresearch", home && *home ? home : ".");
    }
    return dir;
}

char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = xrealloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); errno = EIO; return NULL; }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int atomic_open(AtomicFile *af, const char *path) {
    memset(af, 0, sizeof *af);
    af->path = xstrdup(path);
    af->tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        int e = errno;
        free(af->path); free(af->tmp);
        memset(af, 0, sizeof *af);
        errno = e;
        return -1;
    }
    return 0;
}

int atomic_write(AtomicFile *af, const void *data, size_t len) {
    if (af->failed) return -1;
    if (len && fwrite(data, 1, len, af->f) != len) { af->failed = errno ? errno : EIO; return -1; }
    return 0;
}

static void atomic_free(AtomicFile *af) {
    free(af->path); free(af->tmp);
    memset(af, 0, sizeof *af);
}

int atomic_commit(AtomicFile *af, char *err, size_t errlen) {
    int e = af->failed;
    if (!e && fflush(af->f) != 0) e = errno;
    if (!e && fsync(fileno(af->f)) != 0) e = errno;
    if (fclose(af->f) != 0 && !e) e = errno;
    af->f = NULL;
    if (!e && rename(af->tmp, af->path) != 0) e = errno;
    if (e) {
        snprintf(err, errlen, "cannot write %s: %s", af->path, strerror(e));
        unlink(af->tmp);
        atomic_free(af);
        return -1;
    }
    atomic_free(af);
    return 0;
}

void atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    atomic_free(af);
}

int write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen) {
    AtomicFile af;
    if (atomic_open(&af, path) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    atomic_write(&af, data, len);
    return atomic_commit(&af, err, errlen);
}

int append_line_atomic(const char *path, const char *line, char *err, size_t errlen) {
    size_t n = strlen(line);
    int needs_nl = n == 0 || line[n - 1] != '\n';
    char *buf = xmalloc(n + 2);
    memcpy(buf, line, n);
    if (needs_nl) buf[n++] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        free(buf);
        return -1;
    }
    // One write(2) of the whole line: O_APPEND makes it land at the end in one piece.
    // A short write (disk full) is rolled back so no torn line is left behind.
    off_t before = lseek(fd, 0, SEEK_END);
    ssize_t w = write(fd, buf, n);
    int rc = 0;
    if (w != (ssize_t)n) {
        int e = w < 0 ? errno : ENOSPC;
        if (w > 0 && before >= 0 && ftruncate(fd, before) != 0) { /* best effort */ }
        snprintf(err, errlen, "cannot append to %s: %s", path, strerror(e));
        rc = -1;
    } else if (fsync(fd) != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", path, strerror(errno));
        rc = -1;
    }
    close(fd);
    free(buf);
    return rc;
}

struct Sha256Stream { EVP_MD_CTX *ctx; };

Sha256Stream *sha256_stream_new(void) {
    Sha256Stream *s = xmalloc(sizeof *s);
    s->ctx = EVP_MD_CTX_new();
    if (!s->ctx || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) die("OpenSSL SHA-256 unavailable");
    return s;
}
void sha256_stream_update(Sha256Stream *s, const void *data, size_t len) {
    EVP_DigestUpdate(s->ctx, data, len);
}
void sha256_stream_final(Sha256Stream *s, char out[65]) {
    unsigned char md[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(s->ctx, md, &n);
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = 0;
    EVP_MD_CTX_free(s->ctx);
    free(s);
}
void sha256_hex(const void *data, size_t len, char out[65]) {
    Sha256Stream *s = sha256_stream_new();
    sha256_stream_update(s, data, len);
    sha256_stream_final(s, out);
}
int sha256_file_hex(const char *path, char out[65]) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    Sha256Stream *s = sha256_stream_new();
    char *buf = xmalloc(1 << 20);
    size_t n;
    while ((n = fread(buf, 1, 1 << 20, f)) > 0) sha256_stream_update(s, buf, n);
    int bad = ferror(f);
    fclose(f);
    free(buf);
    sha256_stream_final(s, out);
    if (bad) { errno = EIO; return -1; }
    return 0;
}

static void progress_draw(Progress *p, int final) {
    double el = now_seconds() - p->t0;
    double frac = p->total > 0 ? p->done / p->total : 0;
    if (frac > 1) frac = 1;
    if (p->tty) {
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        double eta = frac > 0 ? el * (1 - frac) / frac : 0;
        fprintf(stderr, "\r%-24s [%s] %5.1f%% %.1f/%.1f %s %5.0fs left ", p->label, bar, 100 * frac,
                p->done, p->total, p->unit, final ? 0.0 : eta);
        if (final) fputc('\n', stderr);
    } else if (final) {
        fprintf(stderr, "%s: %.1f %s in %.1fs\n", p->label, p->done, p->unit, el);
    } else {
        fprintf(stderr, "%s: %3.0f%% (%.1f/%.1f %s)\n", p->label, 100 * frac, p->done, p->total, p->unit);
    }
    fflush(stderr);
}

void progress_start(Progress *p, const char *label, double total, const char *unit) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->unit = unit;
    p->t0 = p->last_draw = now_seconds();
    p->tty = isatty(2);
}

void progress_update(Progress *p, double done) {
    p->done = done;
    if (p->tty) {
        double t = now_seconds();
        if (t - p->last_draw < 0.1) return;
        p->last_draw = t;
        progress_draw(p, 0);
    } else if (p->total > 0) {
        int decile = (int)(10 * done / p->total);
        if (decile > p->last_decile && decile < 10) {
            p->last_decile = decile;
            progress_draw(p, 0);
        }
    }
}

void progress_finish(Progress *p) { progress_draw(p, 1); }

int num_threads(void) {
    const char *env = getenv("AUTORESEARCH_THREADS");
    if (env && atoi(env) > 0) return atoi(env);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

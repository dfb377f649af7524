// util.h -- small helpers shared by the fixed layer and the harness (hidden from train.c).
#ifndef UTIL_H
#define UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// Prints "autoresearch: <message>" on one line to stderr and exits 1.
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Called by die() with its message before it exits, when set (the supervisor records it).
extern void (*die_hook)(const char *message);
// Prints "autoresearch: <message>" on one line to stderr.
void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t splitmix64(uint64_t *state);        // the next pseudo-random number of a state
double now_seconds(void);                    // monotonic (also declared in prepare.h)
int mkdir_p(const char *path);               // 0 on success (existing is fine), -1 + errno
int remove_tree(const char *path);           // rm -rf; 0 on success
int file_exists(const char *path);
long long file_size(const char *path);       // -1 if missing

// Cache root: $AUTORESEARCH_CACHE, else ~/.cache/autoresearch. Not created here.
const char *cache_dir(void);

// Reads a whole file (NUL-terminated for convenience). NULL with errno set on failure.
char *read_file(const char *path, size_t *len);

// Writes via PATH.tmp.<pid>, fsync, rename: readers see the old file or the new one, never
// a torn one. Returns 0, or -1 with a message in err.
int write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

// Streaming version of the same.
typedef struct {
    FILE *f;
    char *path, *tmp;
    int failed;      // an error happened; commit will refuse
} AtomicFile;
int atomic_open(AtomicFile *af, const char *path);               // 0 or -1 (errno)
int atomic_write(AtomicFile *af, const void *data, size_t len);  // 0 or -1
int atomic_commit(AtomicFile *af, char *err, size_t errlen);     // flush, fsync, rename
void atomic_abort(AtomicFile *af);                               // remove the temp file

// Appends one line to a ledger file with a single write(2) on an O_APPEND descriptor and
// fsync, so a kill at any moment leaves the file without a torn line. 0 or -1.
int append_line_atomic(const char *path, const char *line, char *err, size_t errlen);

// SHA-256 (OpenSSL), lowercase hex.
void sha256_hex(const void *data, size_t len, char out[65]);
int sha256_file_hex(const char *path, char out[65]);             // 0 or -1 (errno)
typedef struct Sha256Stream Sha256Stream;
Sha256Stream *sha256_stream_new(void);
void sha256_stream_update(Sha256Stream *s, const void *data, size_t len);
void sha256_stream_final(Sha256Stream *s, char out[65]);         // frees s

// Progress bar on stderr: redrawn in place on a terminal, a line per ~10% otherwise
// (so logs stay readable). label is kept by pointer.
typedef struct {
    const char *label;
    double total, done, t0, last_draw;
    int tty, last_decile;
    const char *unit;   // "MB", "docs", ...
} Progress;
void progress_start(Progress *p, const char *label, double total, const char *unit);
void progress_update(Progress *p, double done);
void progress_finish(Progress *p);

// Number of worker threads for the fixed layer's parallel work: $AUTORESEARCH_THREADS,
// else the online CPU count.
int num_threads(void);

#endif

// testlib.h -- a minimal test framework. Each TEST is a function; CHECK records a failure
// (file:line and the expression) and the test goes on; main() prints one line per test and
// a closing "NAME: N passed, M failed" line that tests/run.sh adds up.
#ifndef TESTLIB_H
#define TESTLIB_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tl_test_failed, tl_passed, tl_failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            tl_test_failed = 1;                                                       \
        }                                                                             \
    } while (0)

#define CHECK_MSG(cond, ...)                                                          \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
            tl_test_failed = 1;                                                       \
        }                                                                             \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                         \
    do {                                                                              \
        double tl_a = (a), tl_b = (b);                                                \
        if (!(fabs(tl_a - tl_b) <= (tol))) {                                          \
            fprintf(stderr, "  %s:%d: CHECK_NEAR(%s, %s) failed: %.9g vs %.9g (tol %g)\n", \
                    __FILE__, __LINE__, #a, #b, tl_a, tl_b, (double)(tol));           \
            tl_test_failed = 1;                                                       \
        }                                                                             \
    } while (0)

#define RUN_TEST(fn)                                                  \
    do {                                                              \
        tl_test_failed = 0;                                           \
        fprintf(stderr, "- %s\n", #fn);                               \
        fn();                                                         \
        if (tl_test_failed) { tl_failed++; printf("FAIL %s\n", #fn); } \
        else { tl_passed++; printf("ok   %s\n", #fn); }               \
        fflush(stdout);                                               \
    } while (0)

#define TEST_MAIN_END(name)                                                 \
    do {                                                                    \
        printf("%s: %d passed, %d failed\n", name, tl_passed, tl_failed);   \
        return tl_failed ? 1 : 0;                                           \
    } while (0)

// A fresh, empty temporary directory for a test (removed by the caller with remove_tree).
static inline char *tl_tmpdir(void) {
    char tmpl[] = "/tmp/artest.XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d) { perror("mkdtemp"); exit(2); }
    return strdup(d);
}

#endif

// gradcheck.c -- the gradient check before every training run. The pristine build's
// build/gradcheck (train.c linked with the base's fixed/gradcheck.c, built with build/train)
// runs under the supervisor, in the trainer's sandbox: `autoresearch train --gradcheck`.
// Its output goes to run.log; its verdict decides whether the run trains at all.
#include "harness.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int gradcheck_available(const Session *S) {
    char *dir = pristine_dir(S), *src = xasprintf("%s/fixed/gradcheck.c", dir);
    int ok = file_exists(src);
    free(src);
    free(dir);
    return ok;
}

int gradcheck_pristine(const Session *S, const char *exe, ProcResult *pr, char *skip, size_t skiplen,
                       char *why, size_t whylen, char *err, size_t errlen) {
    *skip = *why = 0;
    memset(pr, 0, sizeof *pr);
    if (!gradcheck_available(S)) return 0;   // a base without one (the tests' fake fixed layers)
    char *dir = pristine_dir(S), *bin = xasprintf("%s/build/gradcheck", dir);
    char *result = xasprintf("%s/gradcheck.txt", S->state), *scratch = xasprintf("%s/scratch", S->state);
    unlink(result);
    const char *argv[] = {exe, "train", "--gradcheck", "--trainer", bin, "--result", result, "--scratch", scratch, NULL};
    const char *env[] = {"AUTORESEARCH_RESULT_FILE", "AUTORESEARCH_PROGRESS_FILE", NULL};
    ProcSpec ps = {.argv = argv, .out_path = "run.log", .env = env, .timeout = 300, .abort_flag = &g_abort};
    int rc = proc_run(&ps, pr, err, errlen);
    Record res = {0};
    if (rc == 0 && !pr->aborted) {
        const char *st = parse_kv_file(result, &res) == 0 ? rec_get(&res, "status") : NULL;
        const char *reason = rec_get(&res, "reason"), *sk = rec_get(&res, "gradcheck_skip");
        if (sk && strcmp(sk, "-")) snprintf(skip, skiplen, "%s", sk);
        if (!st) {
            snprintf(why, whylen, "the gradient check left no result (exit code %d)", pr->exit_code);
            rc = 1;
        } else if (strcmp(st, "ok")) {
            snprintf(why, whylen, "%s", reason ? reason : "the gradient check failed");
            rc = 1;
        }
    }
    rec_free(&res);
    unlink(result);
    free(dir); free(bin); free(result); free(scratch);
    return rc;
}

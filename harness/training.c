// training.c -- one training run of a commit: build it in the pristine tree, run it under the
// supervisor (`autoresearch train`), and turn its result file into a record; and the extra
// runs of a commit (noise, confirmation, rebaseline) that the gate's estimates are made of.
#include "harness.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Fields the harness writes itself (LEDGER_FIELDS); a summary line with one of these names is
// kept under summary_<name> (val_bpb: the trusted value comes from the fixed layer's result file).
#define FIELD_NAME(name, writer, meaning) #name,
static const char *harness_keys[] = {LEDGER_FIELDS(FIELD_NAME) NULL};

static int is_harness_key(const char *k) {
    for (int i = 0; harness_keys[i]; i++)
        if (!strcmp(harness_keys[i], k)) return 1;
    return 0;
}


// The path of the running harness binary: the supervisor is `autoresearch train`, from the
// binary built before the session, which train.c cannot change.
char *self_exe(void) {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) die("cannot find the harness binary (/proc/self/exe): %s", strerror(errno));
    buf[n] = 0;
    return xstrdup(buf);
}

// Builds and runs commit (HEAD) under the supervisor; fills r with the outcome: status "ok",
// "crash" or "invalid" (+ reason), and *test with the test split's score (NAN if none), which
// goes to the test ledger, never into r. The trainer's weights go to $STATE/run-model.bin.
void build_and_train(Session *S, const char *commit, Record *r, double *test) {
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
    char *exe = self_exe(), gskip[256], gwhy[600];   // the gradient check, then the run
    int grc = gradcheck_pristine(S, exe, &pr, gskip, sizeof gskip, gwhy, sizeof gwhy, err, sizeof err);
    if (grc < 0) die("%s", err);
    if (gradcheck_available(S)) rec_set_str(r, "gradcheck", grc ? "failed" : "ok");
    if (*gskip) rec_set_str(r, "gradcheck_skip", gskip);
    if (pr.aborted || grc) {
        status = pr.aborted ? "aborted" : "crash";
        snprintf(why, sizeof why, "gradient check: %s", gwhy);
        reason = pr.aborted ? NULL : why;
        free(exe);
        goto done;
    }
    char *result = state_file(S, "result.txt"), *model = state_file(S, "run-model.bin");
    char *scratch = state_file(S, "scratch");
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

// Before anything runs: the ledger is what the harness wrote, and the data set is the one the
// session pinned (refused with the reason otherwise: nothing is recorded).
void preflight(Session *S, Record *r) {
    char err[1024];
    if (chain_unchanged(S->jsonl, S->head_path, &S->chain, err, sizeof err) != 0)
        die("%s; stopping: the ledger is the harness's alone (the next command says what changed)", err);
    if (data_check(S, r, err, sizeof err) < 0) die("%s", err);
}

// What every training record carries: the hashes of train.c and of the fixed layer, the
// session's base commit, budget and timeout.
void record_context(const Session *S, Record *r) {
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
const Record *extra_run(Session *S, const char *kind, const char *commit, const char *exp_id, int i, int k,
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

void rebaseline(Session *S, int after) {
    const Record *best = session_best(S);
    char *commit = head_commit();
    for (int i = 0; best && commit && i < S->L.n; i++) {   // once per point of the session
        const Record *x = &S->L.r[i];
        if (rec_in_session(x, S->tag, "rebaseline") && (int)rec_num(x, "after_experiments", -1) == after)
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

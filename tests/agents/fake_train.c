// fake_train.c -- a stand-in for train.c in the harness tests: no model, just the contract.
// It reads the harness's environment like the fixed layer does, "trains" for SLEEP_MS, then
// writes the result file (as evaluate_bpb would) and prints the summary block. Its val_bpb
// is a smooth function of the tunables with its minimum at MATRIX_LR 0.02, DEPTH 6, plus
// seed noise of 1e-4, so a search over the tunables can really improve it. Like the fixed
// layer's budget_step it writes the progress file: for runs of a second or more a state every
// eighth of the run, and always the last one (100 steps at FAKE_TPS tokens/s), which such a
// run then follows with 0.4 s of "evaluation".
// Its tokens trained (total_tokens_M) are 1.5 M, or the number in build/fake_tokens (a
// test's throttled machine), which scales the progress file's tokens by the same ratio.
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

// @tunables-begin
#define DEPTH 4                 // number of layers [1, 12]
#define MATRIX_LR 0.04          // learning rate of the matrices
#define WARMDOWN 0.5            // fraction of training spent decaying the LR [0, 1]
// @tunables-end

#ifndef SLEEP_MS
#define SLEEP_MS 50
#endif
#ifndef FAKE_TPS
#define FAKE_TPS 10000
#endif

static double tokens_m(void) {
    double tokens = 1.5;
    FILE *tf = fopen("build/fake_tokens", "r");
    if (tf) {
        if (fscanf(tf, "%lf", &tokens) != 1) tokens = 1.5;
        fclose(tf);
    }
    return tokens;
}

static void progress(int eighth) {
    const char *pf = getenv("AUTORESEARCH_PROGRESS_FILE");
    if (!pf) return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", pf);
    FILE *f = fopen(tmp, "w");
    double secs = SLEEP_MS / 1000.0 * eighth / 8;
    fprintf(f, "pid: 1\nstep: %d\nprogress: %.6f\nbudget_mode: time\nbudget: %g\ntrain_seconds: %.3f\n"
            "tokens: %.0f\ntokens_per_sec: %d\nloss: %.4f\neta_seconds: %.1f\ndone: %d\n",
            100 * eighth / 8, eighth / 8.0, SLEEP_MS / 1000.0, secs, FAKE_TPS * secs * tokens_m() / 1.5, FAKE_TPS,
            4.0 - 0.25 * eighth, SLEEP_MS / 1000.0 - secs, eighth == 8);
    fclose(f);
    rename(tmp, pf);
}

int main(void) {
    const char *s = getenv("AUTORESEARCH_SEED");
    long seed = s ? atol(s) : 42;
    struct timespec ts = {SLEEP_MS / 1000, (SLEEP_MS % 1000) * 1000000L};
#ifdef HANG
    for (;;) nanosleep(&ts, NULL);
#endif
    if (SLEEP_MS >= 1000) {
        struct timespec part = {SLEEP_MS / 8000, (SLEEP_MS / 8 % 1000) * 1000000L};
        for (int e = 1; e < 8; e++) { nanosleep(&part, NULL); progress(e); }
        nanosleep(&part, NULL);
    } else {
        nanosleep(&ts, NULL);
    }
    progress(8);
    if (SLEEP_MS >= 1000) {   // "evaluation": the harness shows the budget spent meanwhile
        struct timespec eval = {0, 400000000L};
        nanosleep(&eval, NULL);
    }
    double noise = 1e-4 * sin(seed * 12.9898);
    double lr = log(MATRIX_LR / 0.02);
    double val = 1.0 + 0.05 * lr * lr + 0.01 * (DEPTH - 6) * (DEPTH - 6) +
                 0.02 * (WARMDOWN - 0.4) * (WARMDOWN - 0.4) + noise;
#ifdef MAKE_NAN
    val = NAN;
    printf("step 10 loss nan\nFAIL\n");
    return 1;
#endif
#ifdef FAKE_LIB
    double fixed_score(double v);   // the "fixed layer" of fake_lib.mk: the score passes through it
    val = fixed_score(val);
#endif
#ifdef FIXED_ERR
    fprintf(stderr, "autoresearch: no prepared data set in /nonexistent: run `autoresearch prepare` first\n");
    return 1;
#endif
    double test = val + 0.01;
    const char *rf = getenv("AUTORESEARCH_RESULT_FILE");
    if (rf) {
        FILE *f = fopen(rf, "w");
        fprintf(f, "val_bpb: %.6f\ntest_bpb: %.6f\neval_tokens: 524288\ndataset: fake-0000\n", val, test);
        fclose(f);
    }
    // "weights": 1 MB naming the tunables, saved as train.c does (temp file, rename); a write
    // that fails (a full disk, a file size limit) leaves no model and says so
    const char *mo = getenv("AUTORESEARCH_MODEL_OUT");
    if (mo && *mo) {
        signal(SIGXFSZ, SIG_IGN);
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", mo, (int)getpid());
        FILE *f = fopen(tmp, "wb");
        int ok = f != NULL;
        if (f) {
            fprintf(f, "fake weights: MATRIX_LR %g DEPTH %d\n", MATRIX_LR, DEPTH);
            static char pad[1 << 20];
            ok = fwrite(pad, 1, sizeof pad, f) == sizeof pad;
            ok = fclose(f) == 0 && ok;
        }
        if (ok && rename(tmp, mo) == 0) printf("model saved to %s\n", mo);
        else { unlink(tmp); fprintf(stderr, "train: cannot save the model to %s\n", mo); }
    }
    const char *mode = getenv("AUTORESEARCH_BUDGET_MODE");
    printf("---\n");
    printf("val_bpb:          %.6f\n", val);
    printf("training_seconds: %.1f\n", SLEEP_MS / 1000.0);
    printf("total_seconds:    %.1f\n", SLEEP_MS / 1000.0 + 0.1);
    printf("peak_vram_mb:     %.1f\n", 1234.5);
    printf("mfu_percent:      %.2f\n", 12.5);
    printf("total_tokens_M:   %.1f\n", tokens_m());
    printf("num_steps:        %d\n", 100);
    printf("num_params_M:     %.1f\n", 0.5 * DEPTH);
    printf("depth:            %d\n", DEPTH);
    printf("dataset:          fake-0000\n");
    printf("budget:           %s\n", mode ? mode : "time");
    printf("seed:             %ld\n", seed);
    return 0;
}

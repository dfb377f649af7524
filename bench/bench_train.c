// bench_train.c -- training throughput of train.c's model on this machine.
//
// For the default configuration (the tunables) and two larger ones it runs full optimizer
// steps (forward, backward, MuonAdamW) on random tokens and reports tokens/s, ms/step, model
// GFLOP/s (gpt_flops_per_token * tokens/s), % of the fp32 FMA peak and % of the bf16 matmul
// peak, both peaks measured here in the same run, and the peak resident memory (each
// configuration runs in its own child process so the peaks do not mix).
//
//   bench_train            throughput table (the matmul precision is the build's: bench_train
//                          is bf16 unless built with PRECISION=fp32, bench_train_fp32 is fp32)
//   bench_train NAME...    only the named configurations (default, larger, largest)
//   bench_train --curve N  loss of a small model over N steps on a fixed learnable stream
//                          (bench/train.bench.sh compares the bf16 and fp32 builds' curves)
#define main train_c_main   // train.c's main, out of the way of this program's
#include "../train.c"
#undef main
#include <immintrin.h>
#include <sys/wait.h>

// fp32 FMA peak: every thread runs independent AVX-512 FMA chains (12 accumulators hide the
// 4-cycle latency on 2 FMA ports). Best of 3 runs of about 6 ms each.
static double fma_peak_gflops(void) {
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        long iters = 2000000;
        double t0 = now_seconds();
        float sink = 0;
        #pragma omp parallel reduction(+:sink)
        {
            __m512 a[12], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
            for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
            for (long it = 0; it < iters; it++)
                for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
            for (int i = 0; i < 12; i++) sink += _mm512_reduce_add_ps(a[i]);
        }
        double dt = now_seconds() - t0;
        double g = (double)omp_get_max_threads() * iters * 12 * 16 * 2 / dt / 1e9;
        if (g > best) best = g;
        if (sink == 12345.0f) printf(" ");
    }
    return best;
}

typedef struct { const char *name; int depth, C, hs, B; } BenchCfg;

// Full training steps (TOTAL_BATCH_SIZE tokens: forward + backward of each micro-batch, then
// MuonAdamW) on random tokens. The peaks are measured in the same process: the bf16 matmul
// peak just before the timed steps, the FMA peak (about 20 ms) before each timed step and after
// the last, the highest counting. The machine is shared and its clock moves (FMA peaks of
// 190-315 GFLOP/s seen within minutes): one probe that hit a busy moment would inflate the %.
static void bench_config(const BenchCfg *bc, int steps) {
    Config c = {.V = VOCAB_SIZE, .T = MAX_SEQ_LEN, .C = bc->C, .NL = bc->depth, .hs = bc->hs,
                .NH = bc->C / bc->hs, .F = MLP_RATIO * bc->C, .qblock = ATTN_QBLOCK};
    c.NKV = c.NH / KV_GROUP;
    config_windows(&c, WINDOW_PATTERN);
    GPT m;
    gpt_build(&m, &c, bc->B, 1);
    int N = bc->B * c.T, accum = TOTAL_BATCH_SIZE > N ? TOTAL_BATCH_SIZE / N : 1;
    int32_t *x = xcalloc(N, 4), *y = xcalloc(N, 4);
    uint64_t s = 1;
    for (int i = 0; i < N; i++) { x[i] = (int32_t)(rng_u64(&s) % c.V); y[i] = (int32_t)(rng_u64(&s) % c.V); }
    double fma = 0, bf = 0, t_step = 0, t_opt = 0;
    for (int k = -2; k < steps; k++) {   // 2 warm-up steps create the primitives
        if (k == 0) bf = measure_matmul_gflops(MM_IN_BF16, 0.5);
        if (k >= 0) fma = fmax(fma, fma_peak_gflops());
        double t0 = now_seconds();
        gpt_zero_grad(&m);
        for (int a = 0; a < accum; a++) gpt_forward_backward(&m, x, y, bc->B, 1.0f / accum);
        double t1 = now_seconds();
        gpt_optimizer_step(&m, 1.0f, 0.9f, 0.1f);
        double t2 = now_seconds();
        if (k >= 0) { t_step += t2 - t0; t_opt += t2 - t1; }
    }
    fma = fmax(fma, fma_peak_gflops());
    double step_s = t_step / steps, tok_s = (double)N * accum / step_s;
    double gf = gpt_flops_per_token(&m) * tok_s / 1e9;
    printf("%-8s %s d%-2d C%-4d hs%-3d B%-2d %5.2fM | %8.0f tok/s | %7.1f ms/step | %6.1f GFLOP/s | %5.1f%% of fp32 FMA %5.0f | %5.1f%% of bf16 mm %5.0f | opt %4.1f%% | %5.0f MB\n",
           bc->name, PRECISION_NAME, c.NL, c.C, c.hs, bc->B, m.w.table.size / 1e6, tok_s, step_s * 1000, gf,
           100 * gf / fma, fma, 100 * gf / bf, bf, 100 * t_opt / t_step, peak_memory_mb());
    fflush(stdout);
    free(x); free(y);
    gpt_free(&m);
}

// Loss curve on a learnable stream: each sequence is a random walk over the vocabulary with
// small steps, so the next token is predictable from the current one.
static void loss_curve(int steps) {
    Config c = {.V = 256, .T = 128, .C = 128, .NL = 2, .NH = 2, .NKV = 2, .hs = 64, .F = 512};
    config_windows(&c, WINDOW_PATTERN);
    int B = 8, N = B * c.T;
    GPT m;
    gpt_build(&m, &c, B, 42);
    int32_t *x = xcalloc(N, 4), *y = xcalloc(N, 4);
    uint64_t s = 7;
    for (int k = 0; k < steps; k++) {
        for (int b = 0; b < B; b++) {
            int v = (int)(rng_u64(&s) % c.V);
            for (int t = 0; t < c.T; t++) {
                x[b * c.T + t] = v;
                v = (v + (int)(rng_u64(&s) % 5) - 2 + c.V) % c.V;
                y[b * c.T + t] = v;
            }
        }
        gpt_zero_grad(&m);
        float loss = gpt_forward_backward(&m, x, y, B, 1.0f);
        gpt_optimizer_step(&m, lr_multiplier((double)k / steps), muon_momentum(k), muon_weight_decay((double)k / steps));
        if (k % 10 == 0 || k == steps - 1) printf("curve %s step %4d loss %.5f\n", PRECISION_NAME, k, loss);
    }
    free(y);
    free(x);
    gpt_free(&m);
}

int main(int argc, char **argv) {
    threads_setup(argv);   // the trainer's OpenMP wait policy (see train.c)
    if (argc == 3 && !strcmp(argv[1], "--curve")) { loss_curve(atoi(argv[2])); matmul_free_all(); return 0; }
    BenchCfg cfgs[] = {
        {"default", DEPTH, MODEL_DIM, HEAD_DIM, DEVICE_BATCH_SIZE},
        {"larger", 6, 384, 128, DEVICE_BATCH_SIZE},
        {"largest", 8, 512, 128, DEVICE_BATCH_SIZE},   // the original's H100 model (depth 8, width 512)
    };
    enum { NCFG = sizeof cfgs / sizeof cfgs[0] };
    int run[NCFG];
    for (int k = 0; k < NCFG; k++) run[k] = argc == 1;   // no names: all of them
    for (int a = 1; a < argc; a++) {
        int k = 0;
        while (k < NCFG && strcmp(argv[a], cfgs[k].name)) k++;
        if (k == NCFG) {
            int help = !strcmp(argv[a], "--help") || !strcmp(argv[a], "-h");
            fprintf(help ? stdout : stderr, "usage: bench_train [default|larger|largest]... | --curve STEPS\n"
                    "  BENCH_STEPS=N timed steps per configuration (default 3)\n");
            return help ? 0 : 2;
        }
        run[k] = 1;
    }
    // libgomp does not survive fork() once its threads exist, so the parent runs no OpenMP:
    // each configuration runs in its own child (its peak memory its own, too).
    const char *wp = getenv("OMP_WAIT_POLICY"), *sc = getenv("GOMP_SPINCOUNT");
    printf("threads %d (idle threads: %s%s) | model FLOPs/token = 6 * (block matrices + head) + 12 * NH * hs * mean visible keys, per layer\n",
           omp_get_max_threads(), wp ? "OMP_WAIT_POLICY=" : sc ? "GOMP_SPINCOUNT=" : "", wp ? wp : sc ? sc : "libgomp's default");
    printf("peaks measured in each configuration's run: fp32 FMA loop (GFLOP/s), oneDNN bf16 matmul 1024^3 (GFLOP/s)\n");
    int steps = getenv("BENCH_STEPS") ? atoi(getenv("BENCH_STEPS")) : 3;
    for (int i = 0; i < NCFG; i++) {
        if (!run[i]) continue;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) { bench_config(&cfgs[i], steps); matmul_free_all(); _exit(0); }
        int st;
        waitpid(pid, &st, 0);
    }
    return 0;
}

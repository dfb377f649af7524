// test_train_bf16.c -- train.c in the build's matmul precision (bf16 by default; fp32 under
// make PRECISION=fp32): bf16 rounding, gradients against finite differences within bf16
// noise, Polar Express through bf16 matmuls, and a tiny model overfitting one batch.
#define main train_c_main   // train.c's main, out of the way of this program's
#include "../train.c"
#undef main
#include "testlib.h"

static void test_bf16_rounding(void) {
#ifndef TRAIN_FP32
    CHECK(to_mm(1.0f) == 0x3f80);
    CHECK(to_mm(1.0f + 1.0f / 256) == 0x3f80);       // halfway: ties to even (down)
    CHECK(to_mm(1.0f + 3.0f / 256) == 0x3f82);       // halfway: ties to even (up)
    CHECK(to_mm(1.0f + 1.5f / 256) == 0x3f81);       // above halfway: up
    CHECK(to_mm(-2.0f) == 0xc000);
    CHECK(from_mm(to_mm(3.140625f)) == 3.140625f);   // exactly representable
    CHECK(fabsf(from_mm(to_mm(0.1f)) - 0.1f) < 0.1f / 256);
#else
    CHECK(to_mm(0.1f) == 0.1f);
#endif
}

static Config small_config(void) {
    Config c = {.V = 64, .T = 16, .C = 64, .NL = 2, .NH = 4, .NKV = 2, .hs = 16, .F = 256};
    c.window[0] = 8; c.window[1] = 16;
    return c;
}

// Directional derivatives of the loss along each tensor's gradient: the analytic gradient
// (bf16 matmuls) against central differences of the same bf16 forward pass.
static void test_gradients_in_precision(void) {
    Config c = small_config();
    int B = 2, N = B * c.T;
    GPT m;
    gpt_build(&m, &c, B, 1);
    uint64_t s = 3;
    for (int i = 0; i < m.w.table.n; i++) {   // all tensors random and non-zero
        Param *t = &m.w.table.t[i];
        float sc = !strcmp(t->name, "lm_head") ? 1.0f : t->group == OPT_MUON ? 0.2f : 1.0f;
        for (size_t j = 0; j < (size_t)t->rows * t->cols; j++) m.w.params[t->off + j] = sc * rng_normal(&s);
    }
    gpt_sync_mm(&m);
    int32_t x[32], y[32];
    for (int i = 0; i < N; i++) { x[i] = (int32_t)(rng_u64(&s) % c.V); y[i] = (int32_t)(rng_u64(&s) % c.V); }
    gpt_zero_grad(&m);
    double loss = gpt_forward_backward(&m, x, y, B, 1.0f);
    float *g = xcalloc(m.w.table.size, 4), *save = xcalloc(m.w.table.size, 4);
    memcpy(g, m.w.grads, m.w.table.size * 4);
    memcpy(save, m.w.params, m.w.table.size * 4);
    int bad = 0, checked = 0;
    for (int i = 0; i < m.w.table.n; i++) {
        Param *t = &m.w.table.t[i];
        size_t n = (size_t)t->rows * t->cols;
        // along the gradient itself (a random direction would sum many cancelling terms, each
        // with bf16 rounding), the largest element moving by 5% of the tensor's rms: well above
        // the rounding of the bf16 weight copy. Tensors whose step moves the loss by less than
        // 0.5% are within the bf16 noise of the loss itself and are left to test_train's fp32
        // check.
        double rms = 0, gmax = 1e-30;
        for (size_t j = 0; j < n; j++) { rms += (double)save[t->off + j] * save[t->off + j]; gmax = fmax(gmax, fabs(g[t->off + j])); }
        float eps = (float)(0.05 * sqrt(rms / n));
        float *dir = xcalloc(n, 4);
        double ana = 0, lp, lm;
        for (size_t j = 0; j < n; j++) { dir[j] = (float)(g[t->off + j] / gmax); ana += dir[j] * g[t->off + j]; }
        if (eps * ana < 0.005 * loss) { free(dir); continue; }
        checked++;
        for (size_t j = 0; j < n; j++) m.w.params[t->off + j] = save[t->off + j] + eps * dir[j];
        gpt_sync_mm(&m);
        gpt_forward(&m, x, B); lp = gpt_head(&m, y, B, m.s.nll, 0.0f) / N;
        for (size_t j = 0; j < n; j++) m.w.params[t->off + j] = save[t->off + j] - eps * dir[j];
        gpt_sync_mm(&m);
        gpt_forward(&m, x, B); lm = gpt_head(&m, y, B, m.s.nll, 0.0f) / N;
        memcpy(m.w.params + t->off, save + t->off, n * 4);
        gpt_sync_mm(&m);
        free(dir);
        double num = (lp - lm) / (2 * eps);
        if (fabs(num - ana) > 0.1 * fabs(ana)) {
            bad++;
            fprintf(stderr, "  %s[layer %d]: analytic %.5g numeric %.5g\n", t->name, t->layer, ana, num);
        }
    }
    fprintf(stderr, "  %d of %d tensors checked (the rest below the noise)\n", checked, m.w.table.n);
    CHECK_MSG(bad == 0, "%d tensors off by more than 10%%", bad);
    CHECK_MSG(checked >= m.w.table.n / 2, "only %d of %d tensors above the noise", checked, m.w.table.n);
    free(g); free(save);
    gpt_free(&m);
}

static void test_polar_express_precision(void) {
    Config c = small_config();
    GPT m;
    gpt_build(&m, &c, 1, 1);
    int rows = 64, cols = 256;   // the shape of mlp.c_proj
    float *g = xcalloc((size_t)rows * cols, 4);
    uint64_t s = 9;
    for (int i = 0; i < rows * cols; i++) g[i] = rng_normal(&s);
    polar_express(g, 1, rows, cols, &m);
    (void)lr_multiplier; (void)muon_weight_decay;
    // X X^T should be close to the identity: diagonal in the PE band, off-diagonal small
    double maxdiag = 0, mindiag = 1e9, maxoff = 0;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < rows; j++) {
            double d = 0;
            for (int k = 0; k < cols; k++) d += (double)g[i * cols + k] * g[j * cols + k];
            if (i == j) { maxdiag = fmax(maxdiag, d); mindiag = fmin(mindiag, d); }
            else maxoff = fmax(maxoff, fabs(d));
        }
    CHECK_MSG(mindiag > 0.5 && maxdiag < 1.5 && maxoff < 0.35, "diag [%g, %g], max off-diagonal %g", mindiag, maxdiag, maxoff);
    free(g);
    gpt_free(&m);
}

static void test_overfit_in_precision(void) {
    Config c = small_config();
    int B = 2, N = B * c.T;
    GPT m;
    gpt_build(&m, &c, B, 5);
    uint64_t s = 17;
    int32_t x[32], y[32];
    for (int i = 0; i < N; i++) { x[i] = (int32_t)(rng_u64(&s) % c.V); y[i] = (int32_t)(rng_u64(&s) % c.V); }
    float first = 0, last = 0;
    for (int k = 0; k < 60; k++) {
        gpt_zero_grad(&m);
        last = gpt_forward_backward(&m, x, y, B, 1.0f);
        if (k == 0) first = last;
        gpt_optimizer_step(&m, 1.0f, muon_momentum(k), 0.0f);
    }
    fprintf(stderr, "  %s overfit: %.4f -> %.4f\n", PRECISION_NAME, first, last);
    CHECK_NEAR(first, logf(c.V), 0.05);
    CHECK_MSG(last < 0.1, "final loss %.4f", last);
    gpt_free(&m);
}

int main(void) {
    omp_set_num_threads(2);
    RUN_TEST(test_bf16_rounding);
    RUN_TEST(test_gradients_in_precision);
    RUN_TEST(test_polar_express_precision);
    RUN_TEST(test_overfit_in_precision);
    matmul_free_all();
    TEST_MAIN_END("test_train_bf16");
}

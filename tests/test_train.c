// test_train.c -- train.c's model and optimizer on tiny configurations: finite-difference
// gradient check of every parameter tensor, optimizer pieces against hand computations,
// attention masking, overfitting one batch, run-to-run determinism.
// Built in the fp32 matmul path (gradients are checked against fp32 finite differences).
#ifndef TRAIN_FP32
#define TRAIN_FP32 1
#endif
#define main train_c_main   // train.c's main, out of the way of this program's
#include "../train.c"
#undef main
#include "score.h"
#include "supervise.h"
#include "testlib.h"

// A tiny config exercising every feature: GQA (4 query heads on 2 KV heads), a short window
// on layer 0 (3 < T), value embeddings on layers 0 and 2, gate reading 32 of 40 channels,
// attention in query blocks of 5 (the last one partial).
static Config tiny_config(void) {
    Config c = {.V = 23, .T = 12, .C = 40, .NL = 3, .NH = 4, .NKV = 2, .hs = 10, .F = 160, .qblock = 5};
    c.window[0] = 3; c.window[1] = 5; c.window[2] = 12;
    return c;
}

static void random_tokens(int32_t *x, int n, int V, uint64_t *s) {
    for (int i = 0; i < n; i++) x[i] = (int32_t)(rng_u64(s) % V);
}

// Every parameter random and non-zero (the real init zeroes the output projections and the
// gates, which would hide most gradients); the head large enough that the softcap bends.
static void randomize_params(GPT *m, uint64_t seed) {
    uint64_t s = seed;
    for (int i = 0; i < m->w.table.n; i++) {
        Param *t = &m->w.table.t[i];
        float *p = m->w.params + t->off;
        size_t n = (size_t)t->rows * t->cols;
        float scale = !strcmp(t->name, "lm_head") ? 2.0f : t->group == OPT_MUON ? 0.3f : 1.0f;
        for (size_t j = 0; j < n; j++) p[j] = scale * rng_normal(&s);
        if (t->group == OPT_RESID) for (size_t j = 0; j < n; j++) p[j] = 1.0f + 0.2f * rng_normal(&s);
        if (t->group == OPT_X0) for (size_t j = 0; j < n; j++) p[j] = 0.5f * rng_normal(&s);
    }
    gpt_sync_mm(m);
}

static double model_loss(GPT *m, const int32_t *x, const int32_t *y, int B) {
    gpt_forward(m, x, B);
    return gpt_head(m, y, B, m->s.nll, 0.0f) / ((double)B * m->cfg.T);
}

// ----------------------------------------------------------------------------

static void test_gradcheck(void) {
    Config c = tiny_config();
    int B = 2, N = B * c.T;
    GPT m;
    gpt_build(&m, &c, B, 1);
    randomize_params(&m, 7);
    uint64_t s = 99;
    int32_t x[24], y[24];
    random_tokens(x, N, c.V, &s);
    random_tokens(y, N, c.V, &s);
    model_loss(&m, x, y, B);   // leaves the last sequence's softcapped logits in m.s.logits
    double max_logit = 0;
    for (size_t i = 0; i < (size_t)c.T * c.V; i++) max_logit = fmax(max_logit, fabs(m.s.logits[i]));
    CHECK_MSG(max_logit > 8.0, "softcap not exercised: max |logit| %.2f", max_logit);
    gpt_zero_grad(&m);
    gpt_forward_backward(&m, x, y, B, 1.0f);
    float *g = xcalloc(m.w.table.size, sizeof(float));
    memcpy(g, m.w.grads, m.w.table.size * sizeof(float));

    const float eps = 1e-3f;
    int checked = 0;
    for (int ti = 0; ti < m.w.table.n; ti++) {
        Param *t = &m.w.table.t[ti];
        size_t n = (size_t)t->rows * t->cols;
        float *p = m.w.params + t->off;
        const float *gt = g + t->off;
        // (1) directional derivative along a random +-1 direction over the whole tensor
        float *dir = xcalloc(n, sizeof(float));
        double ana = 0;
        for (size_t j = 0; j < n; j++) { dir[j] = (rng_u64(&s) & 1) ? 1.0f : -1.0f; ana += dir[j] * gt[j]; }
        float *save = xcalloc(n, sizeof(float));
        memcpy(save, p, n * sizeof(float));
        for (size_t j = 0; j < n; j++) p[j] = save[j] + eps * dir[j];
        gpt_sync_mm(&m);
        double lp = model_loss(&m, x, y, B);
        for (size_t j = 0; j < n; j++) p[j] = save[j] - eps * dir[j];
        gpt_sync_mm(&m);
        double lm = model_loss(&m, x, y, B);
        memcpy(p, save, n * sizeof(float));
        gpt_sync_mm(&m);
        double num = (lp - lm) / (2 * eps);
        double err = fabs(num - ana), tol = 2e-2 * fmax(fabs(num), fabs(ana)) + 2e-4;
        CHECK_MSG(err <= tol, "%s[layer %d] directional: analytic %.6g numeric %.6g", t->name, t->layer, ana, num);
        CHECK_MSG(fabs(ana) > 1e-4, "%s[layer %d] gradient is ~zero (%.3g): not exercised", t->name, t->layer, ana);
        // (2) a few single entries, picking the largest-gradient ones to stay above the float
        // noise of the loss (a larger step: a single entry moves the loss much less)
        for (int k = 0; k < 3; k++) {
            const float eps1 = 1e-2f;
            size_t j = (size_t)(rng_u64(&s) % n), best = j;
            for (int r = 0; r < 8; r++) { size_t q = (size_t)(rng_u64(&s) % n); if (fabsf(gt[q]) > fabsf(gt[best])) best = q; }
            j = best;
            float orig = p[j];
            p[j] = orig + eps1; gpt_sync_mm(&m);
            lp = model_loss(&m, x, y, B);
            p[j] = orig - eps1; gpt_sync_mm(&m);
            lm = model_loss(&m, x, y, B);
            p[j] = orig; gpt_sync_mm(&m);
            num = (lp - lm) / (2 * eps1);
            err = fabs(num - gt[j]); tol = 3e-2 * fmax(fabs(num), fabs(gt[j])) + 1e-4;
            CHECK_MSG(err <= tol, "%s[layer %d][%zu]: analytic %.6g numeric %.6g", t->name, t->layer, j, gt[j], num);
        }
        free(dir); free(save);
        checked++;
    }
    CHECK(checked == 4 + 3 * 6 + 2 * 2);   // global 4, 6 matrices per layer, ve + gate on 2 layers
    free(g);
    gpt_free(&m);
}

// The real init: zeros, ones, scales
static void test_init(void) {
    Config c = tiny_config();
    c.V = 512; c.C = 64; c.F = 256; c.NH = 4; c.NKV = 4; c.hs = 16;
    GPT m;
    gpt_build(&m, &c, 1, 42);
    for (int i = 0; i < m.w.table.n; i++) {
        Param *t = &m.w.table.t[i];
        size_t n = (size_t)t->rows * t->cols;
        const float *p = m.w.params + t->off;
        double s1 = 0, s2 = 0, mx = 0;
        for (size_t j = 0; j < n; j++) { s1 += p[j]; s2 += (double)p[j] * p[j]; mx = fmax(mx, fabs(p[j])); }
        double sd = sqrt(s2 / n - (s1 / n) * (s1 / n));
        if (!strcmp(t->name, "wte")) CHECK_NEAR(sd, 1.0, 0.02);
        else if (!strcmp(t->name, "lm_head")) CHECK_NEAR(sd, 0.001, 0.00005);
        else if (!strcmp(t->name, "resid_lambdas")) CHECK(s1 == t->cols && mx == 1.0);
        else if (!strcmp(t->name, "x0_lambdas")) CHECK_NEAR(s1, 0.1 * t->cols, 1e-6);
        else if (!strcmp(t->name, "attn.c_proj") || !strcmp(t->name, "mlp.c_proj") || !strcmp(t->name, "ve_gate")) CHECK(mx == 0.0);
        else {
            double bound = sqrt(3.0) / sqrt(c.C);   // U(-b,b): sd = b/sqrt(3)
            CHECK(mx <= bound);
            CHECK_NEAR(sd, bound / sqrt(3.0), 0.05 * bound);
        }
    }
    CHECK(m.w.layer[0].ve != (size_t)-1 && m.w.layer[1].ve == (size_t)-1 && m.w.layer[2].ve != (size_t)-1);  // NL=3: layers 0,2
    CHECK(m.w.layer[1].vegate == (size_t)-1 && m.w.layer[2].vegate != (size_t)-1);
    gpt_free(&m);
    Config d = {.T = 512, .NL = 4};
    config_windows(&d, "SSSL");
    CHECK(d.window[0] == 256 && d.window[2] == 256 && d.window[3] == 512);
    Config e = {.T = 512, .NL = 3};
    config_windows(&e, "L");
    CHECK(e.window[0] == 512);
    config_windows(&e, "S");
    CHECK(e.window[1] == 256 && e.window[2] == 512);   // last layer always full
}

// exp_fast against libm, in the vector loops that use it (the compiler vectorises them), and
// at its edges: clamped to [-87, 88], NaN passing through.
static void test_exp_fast(void) {
    enum { n = 20001 };
    static float z[n];
    float worst = 0.0f;
    for (int i = 0; i < n; i++) z[i] = -87.0f + 175.0f * i / (n - 1);
    for (int i = 0; i < n; i++) worst = fmaxf(worst, fabsf(exp_fast(z[i]) - expf(z[i])) / expf(z[i]));
    CHECK_MSG(worst < 4e-7f, "max relative error %g (about 2 ulp allowed)", worst);
    double want = 0;
    for (int i = 0; i < n; i++) want += exp((double)z[i] / 4 - 2.0);   // a softmax's range
    for (int i = 0; i < n; i++) z[i] /= 4;
    CHECK(fabs(sum_exp(z, n, 2.0f) - want) / want < 1e-5);
    CHECK(exp_fast(0.0f) == 1.0f);
    CHECK(exp_fast(-1000.0f) == exp_fast(-87.0f) && exp_fast(-87.0f) > 0.0f);
    CHECK(exp_fast(1000.0f) == exp_fast(88.0f) && isfinite(exp_fast(88.0f)));
    CHECK(isnan(exp_fast(NAN)));
    float row[19];
    for (int i = 0; i < 19; i++) row[i] = (float)i;
    row[7] = NAN;
    float mx = softcap_max(row, 19);
    CHECK(isnan(row[7]) && fabsf(row[18] - 15.0f * tanhf(18.0f / 15.0f)) < 1e-5f);
    CHECK(isnan(sum_exp(row, 19, mx)));   // a NaN logit makes a NaN loss, not a finite one
    for (int i = 0; i < 19; i++) row[i] = (float)i;
    CHECK(fabsf(exp_row_masked(row, 19, 0.5f, 1.0f, 3, 5) - (expf(0.5f) + expf(1.0f) + expf(1.5f))) < 1e-5f);
    CHECK(row[2] == 0.0f && row[6] == 0.0f && fabsf(row[4] - expf(1.0f)) < 1e-6f);
}

// Attention output at i must not depend on keys after i or before i - W; it must match a
// direct softmax; and computing it in blocks of 4 queries changes nothing.
static void test_attention_mask(void) {
    Config c = {.V = 11, .T = 16, .C = 16, .NL = 1, .NH = 2, .NKV = 1, .hs = 8, .F = 64};
    c.window[0] = 5;
    GPT m;
    gpt_build(&m, &c, 1, 3);
    int N = c.T, hs = c.hs;
    // head-major q (1,2,T,hs), k and v (1,1,T,hs); mm_t is float in this build
    float *q = xcalloc((size_t)N * c.C, 4), *k = xcalloc((size_t)N * hs, 4), *v = xcalloc((size_t)N * hs, 4);
    float *oh = xcalloc((size_t)N * c.C, 4), *oh2 = xcalloc((size_t)N * c.C, 4), *att = xcalloc((size_t)N * c.C, 4);
    float *P = xcalloc((size_t)c.NH * N * N, 4);
    uint64_t s = 5;
    for (int i = 0; i < N * c.C; i++) q[i] = rng_normal(&s);
    for (int i = 0; i < N * hs; i++) { k[i] = rng_normal(&s); v[i] = rng_normal(&s); }
    attention_forward(oh, att, P, q, k, v, &m, 1, c.window[0]);
    int i = 10, far = 10 - 5 - 1;   // key 4 is outside query 10's window [5, 10]
    for (int d = 0; d < hs; d++) { k[12 * hs + d] += 3.0f; v[12 * hs + d] += 3.0f; k[far * hs + d] -= 2.0f; v[far * hs + d] -= 2.0f; }
    attention_forward(oh2, att, P, q, k, v, &m, 1, c.window[0]);
    for (int h = 0; h < c.NH; h++)
        for (int d = 0; d < hs; d++) CHECK(oh[((size_t)h * N + i) * hs + d] == oh2[((size_t)h * N + i) * hs + d]);
    int changed = 0;   // but query 12 (sees key 12) does change
    for (int d = 0; d < hs; d++) changed |= oh[(size_t)12 * hs + d] != oh2[(size_t)12 * hs + d];
    CHECK(changed);
    // a direct softmax reference for query 7 of head 1 (keys 2..7), in both layouts
    double sc[16], mx = -1e30, sum = 0;
    int qi = 7, h = 1;
    for (int j = 2; j <= qi; j++) {
        double dot = 0;
        for (int d = 0; d < hs; d++) dot += q[((size_t)h * N + qi) * hs + d] * k[j * hs + d];
        sc[j] = dot / sqrt(hs); mx = fmax(mx, sc[j]);
    }
    for (int j = 2; j <= qi; j++) sum += exp(sc[j] - mx);
    for (int j = 0; j < N; j++)
        CHECK_NEAR(P[((size_t)h * N + qi) * N + j], j >= 2 && j <= qi ? exp(sc[j] - mx) / sum : 0.0, 1e-6);
    for (int d = 0; d < hs; d++) {
        double o = 0;
        for (int j = 2; j <= qi; j++) o += exp(sc[j] - mx) / sum * v[j * hs + d];
        CHECK_NEAR(oh2[((size_t)h * N + qi) * hs + d], o, 1e-5);
        CHECK(att[(size_t)qi * c.C + h * hs + d] == oh2[((size_t)h * N + qi) * hs + d]);
    }
    gpt_free(&m);
    // the same in blocks of 4 queries
    c.qblock = 4;
    gpt_build(&m, &c, 1, 3);
    attention_forward(oh, att, P, q, k, v, &m, 1, c.window[0]);
    for (int j = 0; j < N * c.C; j++) CHECK_NEAR(oh[j], oh2[j], 1e-6);
    // block sizes: whole square for windows of half the context or more, else O(T*W) blocks
    Config d = {.T = 512};
    CHECK(attn_qblock(&d, 256) == 512 && attn_qblock(&d, 512) == 512);
    CHECK(attn_qblock(&d, 64) == 64 && attn_qblock(&d, 4) == 16);
    d.qblock = 128;
    CHECK(attn_qblock(&d, 512) == 128 && attn_block(&d, 300, 256).i0 == 256 && attn_block(&d, 300, 256).lo == 0);
    CHECK(attn_block(&d, 400, 256).lo == 128 && attn_block(&d, 400, 256).nk == 384);
    free(q); free(k); free(v); free(oh); free(oh2); free(att); free(P);
    gpt_free(&m);
}

// Symmetric eigenvalues by cyclic Jacobi (double), for singular values of small matrices
static void jacobi_eigen(double *A, int n, double *ev) {
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (int p = 0; p < n; p++) for (int q = p + 1; q < n; q++) off += A[p * n + q] * A[p * n + q];
        if (off < 1e-22) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = A[p * n + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double cs = 1 / sqrt(t * t + 1), sn = t * cs;
                for (int k = 0; k < n; k++) {
                    double akp = A[k * n + p], akq = A[k * n + q];
                    A[k * n + p] = cs * akp - sn * akq; A[k * n + q] = sn * akp + cs * akq;
                }
                for (int k = 0; k < n; k++) {
                    double apk = A[p * n + k], aqk = A[q * n + k];
                    A[p * n + k] = cs * apk - sn * aqk; A[q * n + k] = sn * apk + cs * aqk;
                }
            }
    }
    for (int i = 0; i < n; i++) ev[i] = A[i * n + i];
}

static void singular_values(const float *X, int rows, int cols, double *sv) {
    int r = rows < cols ? rows : cols;
    double *A = xcalloc((size_t)r * r, sizeof(double));
    for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++) {
            double acc = 0;
            if (rows <= cols) for (int k = 0; k < cols; k++) acc += (double)X[i * cols + k] * X[j * cols + k];
            else for (int k = 0; k < rows; k++) acc += (double)X[k * cols + i] * X[k * cols + j];
            A[i * r + j] = acc;
        }
    jacobi_eigen(A, r, sv);
    for (int i = 0; i < r; i++) sv[i] = sqrt(fmax(sv[i], 0));
    free(A);
}

static void test_polar_express(void) {
    Config c = {.V = 8, .T = 8, .C = 64, .NL = 1, .NH = 4, .NKV = 4, .hs = 16, .F = 96};
    c.window[0] = 8;
    GPT m;
    gpt_build(&m, &c, 1, 1);   // sizes the work buffers for up to 96x64
    int shapes[3][2] = {{24, 64}, {96, 24}, {32, 32}};
    uint64_t s = 11;
    for (int k = 0; k < 3; k++) {
        int rows = shapes[k][0], cols = shapes[k][1], tall = rows > cols;
        int r = tall ? cols : rows, n = tall ? rows : cols;
        // G = D Q with Q (r,n) orthonormal rows (Gram-Schmidt) and singular values D spread
        // over 5 .. 0.05 (condition number 100); a tall G is the transpose
        double *Q = xcalloc((size_t)r * n, sizeof(double));
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < n; j++) Q[i * n + j] = rng_normal(&s);
            for (int p = 0; p < i; p++) {
                double d = 0;
                for (int j = 0; j < n; j++) d += Q[i * n + j] * Q[p * n + j];
                for (int j = 0; j < n; j++) Q[i * n + j] -= d * Q[p * n + j];
            }
            double nr = 0;
            for (int j = 0; j < n; j++) nr += Q[i * n + j] * Q[i * n + j];
            for (int j = 0; j < n; j++) Q[i * n + j] /= sqrt(nr);
        }
        float *g = xcalloc((size_t)rows * cols, 4);
        for (int i = 0; i < r; i++) {
            double si = 5.0 * pow(0.01, (double)i / (r - 1));
            for (int j = 0; j < n; j++) {
                float v = (float)(si * Q[i * n + j]);
                if (tall) g[(size_t)j * cols + i] = v; else g[(size_t)i * cols + j] = v;
            }
        }
        double sv0[96], sv[96];
        singular_values(g, rows, cols, sv0);
        double lo0 = 1e30, hi0 = 0;
        for (int i = 0; i < r; i++) { lo0 = fmin(lo0, sv0[i]); hi0 = fmax(hi0, sv0[i]); }
        polar_express(g, 1, rows, cols, &m);
        singular_values(g, rows, cols, sv);
        double lo = 1e30, hi = 0;
        for (int i = 0; i < r; i++) { lo = fmin(lo, sv[i]); hi = fmax(hi, sv[i]); }
        // Polar Express maps every singular value of the normalised input into about [0.7, 1.2]
        CHECK_NEAR(hi0 / lo0, 100.0, 1.0);
        CHECK_MSG(lo > 0.6 && hi < 1.25, "%dx%d: singular values in [%g, %g]", rows, cols, lo, hi);
        free(g); free(Q);
    }
    // a batch of same-shape matrices gives what each alone gives
    float *st = xcalloc(3 * 24 * 64, 4), *one = xcalloc(24 * 64, 4);
    for (int i = 0; i < 3 * 24 * 64; i++) st[i] = rng_normal(&s);
    memcpy(one, st + 2 * 24 * 64, 24 * 64 * 4);
    polar_express(st, 3, 24, 64, &m);
    polar_express(one, 1, 24, 64, &m);
    double md = 0;
    for (int i = 0; i < 24 * 64; i++) md = fmax(md, fabs(st[2 * 24 * 64 + i] - one[i]));
    CHECK_MSG(md < 1e-4, "batched vs single: max difference %g", md);
    free(st); free(one);
    gpt_free(&m);
}

static void test_normuon(void) {
    int rows = 6, cols = 4;   // rows >= cols: one statistic per row
    float g[24], g0[24], v2[6], v20[6], step[6];
    uint64_t s = 3;
    for (int i = 0; i < 24; i++) g0[i] = g[i] = rng_normal(&s) * (1 + i / 4);
    for (int i = 0; i < 6; i++) v20[i] = v2[i] = 0.1f * (i + 1);
    normuon(g, v2, step, rows, cols, 0.95f);
    double n0 = 0, n1 = 0;
    for (int i = 0; i < 24; i++) { n0 += g0[i] * g0[i]; n1 += g[i] * g[i]; }
    CHECK_NEAR(sqrt(n1), sqrt(n0), 1e-5 * sqrt(n0));
    for (int i = 0; i < rows; i++) {
        double vm = 0;
        for (int j = 0; j < cols; j++) vm += g0[i * cols + j] * g0[i * cols + j];
        vm /= cols;
        CHECK_NEAR(v2[i], 0.95 * v20[i] + 0.05 * vm, 1e-6);
        // each row scaled by the same factor times 1/sqrt(v2)
        double ratio = g[i * cols] / g0[i * cols] * sqrt(v2[i]);
        for (int j = 1; j < cols; j++) CHECK_NEAR(g[i * cols + j] / g0[i * cols + j] * sqrt(v2[i]), ratio, 1e-4 * fabs(ratio));
    }
    // wide matrix: one statistic per column
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8}, wv[4] = {0}, ws[4];
    normuon(w, wv, ws, 2, 4, 0.5f);
    for (int j = 0; j < 4; j++) {
        double vm = ((j + 1) * (j + 1) + (j + 5) * (j + 5)) / 2.0;
        CHECK_NEAR(wv[j], 0.5 * vm, 1e-4);
    }
    double nw = 0;
    for (int i = 0; i < 8; i++) nw += w[i] * w[i];
    CHECK_NEAR(nw, 204.0, 1e-3);   // 1^2+...+8^2
}

static void test_cautious_weight_decay(void) {
    float p[4] = {1.0f, 1.0f, -1.0f, -1.0f}, u[4] = {0.5f, -0.5f, 0.5f, -0.5f};
    cautious_update(p, u, 4, 0.1f, 0.2f);
    // same sign (0, 3): decayed; opposite sign (1, 2): not
    CHECK_NEAR(p[0], 1.0 - 0.1 * 0.5 - 0.1 * 0.2 * 1.0, 1e-7);
    CHECK_NEAR(p[1], 1.0 + 0.1 * 0.5, 1e-7);
    CHECK_NEAR(p[2], -1.0 - 0.1 * 0.5, 1e-7);
    CHECK_NEAR(p[3], -1.0 + 0.1 * 0.5 + 0.1 * 0.2 * 1.0, 1e-7);
}

static void test_adamw(void) {
    float p = 1.0f, g = 0.5f, m1 = 0.0f, m2 = 0.0f;
    adamw_update(&p, &g, &m1, &m2, 1, 0.1f, 0.8f, 0.95f, 1e-10f, 0.0f, 1);
    // m = 0.1, v = 0.0125; mhat = 0.5, vhat = 0.25 -> step 0.1 * 0.5 / 0.5
    CHECK_NEAR(p, 0.9, 1e-6);
    g = -1.0f;
    adamw_update(&p, &g, &m1, &m2, 1, 0.1f, 0.8f, 0.95f, 1e-10f, 0.0f, 2);
    double mm = 0.8 * 0.1 - 0.2, vv = 0.95 * 0.0125 + 0.05, b1 = 1 - 0.64, b2 = 1 - 0.9025;
    CHECK_NEAR(p, 0.9 - 0.1 / b1 * mm / sqrt(vv / b2), 1e-6);
    CHECK_NEAR(m1, mm, 1e-7);
    CHECK_NEAR(m2, vv, 1e-7);
}

static void test_schedules(void) {
    CHECK(lr_multiplier(0.0) == 1.0f && lr_multiplier(0.49) == 1.0f);
    CHECK_NEAR(lr_multiplier(0.75), 0.5, 1e-6);
    CHECK_NEAR(lr_multiplier(1.0), 0.0, 1e-6);
    CHECK_NEAR(muon_momentum(0), 0.85, 1e-6);
    CHECK_NEAR(muon_momentum(150), 0.90, 1e-6);
    CHECK_NEAR(muon_momentum(1000), 0.95, 1e-6);
    CHECK_NEAR(muon_weight_decay(0.25), 0.75 * WEIGHT_DECAY, 1e-6);
}

static void train_steps(GPT *m, const int32_t *x, const int32_t *y, int B, int steps, float *losses) {
    for (int k = 0; k < steps; k++) {
        gpt_zero_grad(m);
        losses[k] = gpt_forward_backward(m, x, y, B, 1.0f);
        gpt_optimizer_step(m, 1.0f, muon_momentum(k), 0.0f);
    }
}

static void test_overfit_one_batch(void) {
    Config c = {.V = 32, .T = 16, .C = 64, .NL = 2, .NH = 4, .NKV = 2, .hs = 16, .F = 256};
    c.window[0] = 8; c.window[1] = 16;
    int B = 2, N = B * c.T;
    GPT m;
    gpt_build(&m, &c, B, 5);
    uint64_t s = 17;
    int32_t x[32], y[32];
    random_tokens(x, N, c.V, &s);
    random_tokens(y, N, c.V, &s);
    float losses[60];
    train_steps(&m, x, y, B, 60, losses);
    fprintf(stderr, "  overfit: loss %.4f -> %.4f (step 30) -> %.4f (step 60)\n", losses[0], losses[30], losses[59]);
    CHECK_NEAR(losses[0], logf(c.V), 0.1);   // head init 0.001: uniform predictions
    CHECK_MSG(losses[59] < 0.05, "final loss %.4f", losses[59]);
    gpt_free(&m);
}

static void test_determinism(void) {
    Config c = tiny_config();
    int B = 2, N = B * c.T;
    uint64_t s = 23;
    int32_t x[24], y[24];
    random_tokens(x, N, c.V, &s);
    random_tokens(y, N, c.V, &s);
    float l1[6], l2[6];
    GPT m;
    gpt_build(&m, &c, B, 77);
    train_steps(&m, x, y, B, 6, l1);
    gpt_free(&m);
    gpt_build(&m, &c, B, 77);
    train_steps(&m, x, y, B, 6, l2);
    CHECK(memcmp(l1, l2, sizeof l1) == 0);
    CHECK(l1[5] < l1[0]);
    gpt_free(&m);
    gpt_build(&m, &c, B, 78);   // another seed, another init
    train_steps(&m, x, y, B, 6, l2);
    CHECK(memcmp(l1, l2, sizeof l1) != 0);
    gpt_free(&m);
}

static void test_save(void) {
    Config c = tiny_config();
    GPT m;
    gpt_build(&m, &c, 1, 9);
    char *dir = tl_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/model.bin", dir);
    CHECK(gpt_save(&m, path) == 0);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        char magic[8]; int32_t hdr[8], win[3]; int64_t np;
        CHECK(fread(magic, 1, 8, f) == 8 && !memcmp(magic, "ARGPT01", 8));
        CHECK(fread(hdr, 4, 8, f) == 8 && hdr[0] == c.V && hdr[2] == c.C && hdr[3] == c.NL && hdr[5] == c.NKV);
        CHECK(fread(win, 4, 3, f) == 3 && win[0] == 3 && win[2] == 12);
        CHECK(fread(&np, 8, 1, f) == 1 && np == (int64_t)m.w.table.size);
        float *p = xcalloc(m.w.table.size, 4);
        CHECK(fread(p, 4, m.w.table.size, f) == m.w.table.size && !memcmp(p, m.w.params, m.w.table.size * 4));
        CHECK(fgetc(f) == EOF);
        free(p);
        fclose(f);
    }
    unlink(path); rmdir(dir); free(dir);
    gpt_free(&m);
}

// FLOPs per token against a hand count; the default config follows the tunables
static void test_flops_and_config(void) {
    Config c = {.V = 100, .T = 8, .C = 32, .NL = 2, .NH = 2, .NKV = 1, .hs = 16, .F = 128};
    c.window[0] = 2; c.window[1] = 8;
    GPT m;
    gpt_build(&m, &c, 1, 1);
    // matrices: per layer q 32x32, k 16x32, v 16x32, o 32x32, fc 128x32, proj 32x128; the
    // gate 1x32 on layer 1 (NL-1 = 1 is odd: layers 1); head 100x32
    double mat = 2 * (1024 + 512 + 512 + 1024 + 4096 + 4096) + 32 + 3200;
    // keys seen: window 2 -> 1,2,3,3,3,3,3,3 (mean 21/8); full -> 1..8 (mean 4.5)
    double attn = 12.0 * 2 * 16 * (21.0 / 8 + 4.5);
    CHECK_NEAR(gpt_flops_per_token(&m), 6 * mat + attn, 1e-6);
    gpt_free(&m);
    Config d = config_default(777);
    CHECK(d.V == 777 && d.T == MAX_SEQ_LEN && d.NL == DEPTH && d.C == MODEL_DIM && d.hs == HEAD_DIM);
    CHECK(d.NH == MODEL_DIM / HEAD_DIM && d.NKV == d.NH / KV_GROUP && d.F == MLP_RATIO * MODEL_DIM);
    CHECK(d.window[d.NL - 1] == MAX_SEQ_LEN);
    setenv("AUTORESEARCH_PEAK_GFLOPS", "123.5", 1);
    CHECK(peak_gflops() == 123.5);
    unsetenv("AUTORESEARCH_PEAK_GFLOPS");
}

// The evaluation callback returns the per-token losses the training loss averages; sampling
// gives in-vocabulary tokens, the same ones for the same seed.
static void test_eval_and_sample(void) {
    Config c = tiny_config();
    int B = 2, N = B * c.T;
    GPT m;
    gpt_build(&m, &c, B, 3);
    randomize_params(&m, 4);
    uint64_t s = 5;
    int32_t x[24], y[24];
    random_tokens(x, N, c.V, &s);
    random_tokens(y, N, c.V, &s);
    float nll[24], *logits = malloc(sizeof(float) * N * c.V);
    logits_callback(&m, x, B, c.T, logits);
    CHECK(score_rows(logits, y, N, c.V, nll, 1) == 0);   // the fixed layer's log-softmax
    free(logits);
    double sum = 0;
    for (int i = 0; i < N; i++) { sum += nll[i]; CHECK(nll[i] > 0 && isfinite(nll[i])); }
    gpt_zero_grad(&m);
    float loss = gpt_forward_backward(&m, x, y, B, 1.0f);
    CHECK_NEAR(loss, sum / N, 1e-4);
    int32_t a[32], b[32];
    long na = gpt_sample(&m, 1, 8, 99, a), nb = gpt_sample(&m, 1, 8, 99, b);
    CHECK(na == 8 && nb == 8 && !memcmp(a, b, 8 * sizeof a[0]));
    for (int i = 0; i < 8; i++) CHECK(a[i] >= 0 && a[i] < c.V);
    CHECK(gpt_sample(&m, 1, 100, 99, a) == c.T - 1);   // at most a context's worth
    gpt_free(&m);
}

// The supervisor's probes on the honest model (this build's precision): a row's NLLs do not
// depend on the batch it sits in (its size or its neighbours), nor, up to a position, on the
// tokens after it; a model that looks one token ahead is far outside the tolerance.
static double max_diff(const float *a, const float *b, int n) {
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_probe_spread(void) {
    Config c = tiny_config();
    c.T = 48; c.window[2] = 48; c.window[1] = 20;
    const int B = 4, T = c.T, V = c.V, N = B * T, cut = T / 2;
    GPT m;
    gpt_build(&m, &c, B, 3);
    randomize_params(&m, 4);
    uint64_t s = 11;
    int32_t *x = malloc(sizeof(int32_t) * N), *y = malloc(sizeof(int32_t) * N), *xc = malloc(sizeof(int32_t) * N);
    random_tokens(x, N, V, &s);
    random_tokens(y, N, V, &s);
    float *logits = malloc(sizeof(float) * N * V), *full = malloc(sizeof(float) * N), *one = malloc(sizeof(float) * T),
          *cutn = malloc(sizeof(float) * N);
    logits_callback(&m, x, B, T, logits);
    CHECK(score_rows(logits, y, N, V, full, 1) == 0);
    logits_callback(&m, x + 2 * T, 1, T, logits);   // row 2 alone, batch of 1
    CHECK(score_rows(logits, y + 2 * T, T, V, one, 1) == 0);
    memcpy(xc, x, sizeof(int32_t) * N);
    for (int b = 0; b < B; b++) for (int t = cut + 1; t < T; t++) xc[b * T + t] = (x[b * T + t] + 1) % V;
    logits_callback(&m, xc, B, T, logits);
    CHECK(score_rows(logits, y, N, V, cutn, 1) == 0);
    double shape = max_diff(one, full + 2 * T, T), causal = 0;
    for (int b = 0; b < B; b++) causal = fmax(causal, max_diff(cutn + b * T, full + b * T, cut + 1));
    printf("probe spread (%s): batch shape %.3g nats, causality %.3g nats; tolerance %g\n",
           PRECISION_NAME, shape, causal, PROBE_TOLERANCE);
    CHECK(shape <= PROBE_TOLERANCE / 10 && causal <= PROBE_TOLERANCE / 10);
    // one token of lookahead (position t sees input t+1): NLLs up to the cut change a lot
    int32_t *xs = malloc(sizeof(int32_t) * N), *xcs = malloc(sizeof(int32_t) * N);
    for (int i = 0; i < N; i++) { xs[i] = (i % T) + 1 < T ? x[i + 1] : x[i]; xcs[i] = (i % T) + 1 < T ? xc[i + 1] : xc[i]; }
    logits_callback(&m, xs, B, T, logits);
    CHECK(score_rows(logits, y, N, V, full, 1) == 0);
    logits_callback(&m, xcs, B, T, logits);
    CHECK(score_rows(logits, y, N, V, cutn, 1) == 0);
    double cheat = 0;
    for (int b = 0; b < B; b++) cheat = fmax(cheat, max_diff(cutn + b * T, full + b * T, cut + 1));
    CHECK(cheat > 10 * PROBE_TOLERANCE);
    free(x); free(y); free(xc); free(xs); free(xcs); free(logits); free(full); free(one); free(cutn);
    gpt_free(&m);
}

int main(void) {
    omp_set_num_threads(2);
    RUN_TEST(test_init);
    RUN_TEST(test_exp_fast);
    RUN_TEST(test_attention_mask);
    RUN_TEST(test_gradcheck);
    RUN_TEST(test_polar_express);
    RUN_TEST(test_normuon);
    RUN_TEST(test_cautious_weight_decay);
    RUN_TEST(test_adamw);
    RUN_TEST(test_schedules);
    RUN_TEST(test_overfit_one_batch);
    RUN_TEST(test_determinism);
    RUN_TEST(test_save);
    RUN_TEST(test_flops_and_config);
    RUN_TEST(test_eval_and_sample);
    RUN_TEST(test_probe_spread);
    matmul_free_all();
    TEST_MAIN_END("test_train");
}

// toolbox.h -- the trainer's toolbox: what train.c builds its model with, as train.py builds
// its own with torch. Matrix products (oneDNN, bf16 or fp32), the precision types, a
// vectorisable exp, random numbers, the memory arena, the parameter table, the peak-FLOPs
// probe, the thread setup, and the gradient check's way in.
//
// It is not part of the trust boundary: prepare.h is. The toolbox is compiled into the
// trainer only (header-only, so into train.c itself); nothing that scores, records or judges
// a run includes it, and a trainer gains nothing by misusing it. It lives in fixed/ so that it
// is read-only during research (fixed_sha256 covers it) and the agent's file holds the model.
//
// Precision: the model's matmuls read mm_t, bf16 (autocast: fp32 master weights, fp32
// accumulation and outputs) where the CPU has bf16 dot products (-march=native tells:
// __AVX512BF16__), else fp32, as with TRAIN_FP32 (make PRECISION=fp32, or #define it in
// train.c above the #include). Polar Express iterates in pe_t: bf16 wherever the CPU has bf16
// dot products, in the fp32 build too, because the original casts to bf16 there itself,
// outside autocast; so the two builds differ in autocast alone.
#ifndef TOOLBOX_H
#define TOOLBOX_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <dnnl.h>
#include "prepare.h"
#include "exp_fast.h"
#include "gradcheck.h"

static inline void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) { fprintf(stderr, "train: out of memory (%zu x %zu bytes)\n", n, size); exit(1); }
    return p;
}

// ----------------------------------------------------------------------------
// Precision types

static inline uint16_t to_bf16(float x) {   // round to nearest even (never NaN in a good run)
    union { float f; uint32_t u; } v = {.f = x};
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}
static inline float from_bf16(uint16_t x) { union { uint32_t u; float f; } v = {.u = (uint32_t)x << 16}; return v.f; }
static inline float to_f32(float x) { return x; }

// matmul() flags: one precision, at most one epilogue, and the transposes, or-ed together
enum {
    MM_SET = 0,          // C = AB
    MM_ACC = 1,          // C += AB (gradient accumulation)
    MM_RELU2 = 2,        // C = relu(AB)^2 (the MLP's activation, fused)
    MM_TA = 4,           // A is stored (K,M): the product reads A^T
    MM_TB = 8,           // B is stored (N,K): a PyTorch (out,in) weight
    MM_IN_BF16 = 16,     // A and B are bf16, C fp32
    MM_OUT_BF16 = 32,    // C is bf16 too (with MM_IN_BF16)
};

#if !defined(TRAIN_FP32) && !defined(__AVX512BF16__)
#define TRAIN_FP32
#endif
#ifdef TRAIN_FP32
typedef float mm_t;
#define MM_BF16 0             // the flags for mm_t operands, and for an mm_t output too
#define MM_BF16_OUT 0
#define PRECISION_NAME "fp32"
#define to_mm to_f32
#define from_mm to_f32
#else
typedef uint16_t mm_t;
#define MM_BF16 MM_IN_BF16
#define MM_BF16_OUT (MM_IN_BF16 | MM_OUT_BF16)
#define PRECISION_NAME "bf16"
#define to_mm to_bf16
#define from_mm from_bf16
#endif
#ifdef __AVX512BF16__
typedef uint16_t pe_t;
#define PE_BF16 MM_IN_BF16
#define PE_BF16_OUT (MM_IN_BF16 | MM_OUT_BF16)
#define to_pe to_bf16
#define from_pe from_bf16
#else
typedef float pe_t;
#define PE_BF16 0
#define PE_BF16_OUT 0
#define to_pe to_f32
#define from_pe to_f32
#endif

// The bf16 copy a producer wrote next to its fp32 output (fused, saving a pass), or in the fp32
// build the fp32 output itself (the copies are NULL there).
static inline const mm_t *mm_view(const float *f, const mm_t *copy) {
#ifdef TRAIN_FP32
    (void)copy;
    return f;
#else
    (void)f;
    return copy;
#endif
}

// ----------------------------------------------------------------------------
// oneDNN matmul: C(M,N) (+)= op(A)(M,K) @ op(B)(K,N), row-major, for a batch of nb products.
// Each operand is a Mat: a pointer, the row stride of the matrix as stored and the stride
// between the batch's matrices. One primitive per distinct shape, created on first use (during
// the budget's uncounted warm-up steps) and reused; each call only swaps the data pointers, so
// nothing is allocated inside a step. oneDNN's fast kernels take any row stride, but a batch
// whose matrices are not back to back falls back to a slower path.

typedef struct { const void *p; long ld, stride; } Mat;

typedef struct { long nb, M, K, N, flags, lda, ldb, ldc, sa, sb, sc; } MatmulShape;
typedef struct {
    MatmulShape s;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} Matmul;
#define MAX_MATMULS 256
static struct { Matmul m[MAX_MATMULS]; int n; dnnl_engine_t engine; dnnl_stream_t stream; } mm_cache;

#define DNNL_CHECK(call) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) { \
    fprintf(stderr, "train: oneDNN call failed (status %d): %s\n", (int)st_, #call); exit(1); } } while (0)

static inline Matmul *matmul_get(const MatmulShape *s) {
    for (int i = 0; i < mm_cache.n; i++)
        if (!memcmp(&mm_cache.m[i].s, s, sizeof *s)) return &mm_cache.m[i];
    if (mm_cache.n == MAX_MATMULS) { fprintf(stderr, "train: too many matmul shapes\n"); exit(1); }
    if (!mm_cache.engine) {
        DNNL_CHECK(dnnl_engine_create(&mm_cache.engine, dnnl_cpu, 0));
        DNNL_CHECK(dnnl_stream_create(&mm_cache.stream, mm_cache.engine, dnnl_stream_default_flags));
    }
    Matmul *m = &mm_cache.m[mm_cache.n++];
    m->s = *s;
    int ta = s->flags & MM_TA, tb = s->flags & MM_TB, post = s->flags & (MM_ACC | MM_RELU2);
    dnnl_data_type_t dt = s->flags & MM_IN_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_data_type_t ct = s->flags & MM_OUT_BF16 ? dnnl_bf16 : dnnl_f32;
    // (nb, rows, cols) with strides; a single product is 2-d
    int nd = s->nb > 1 ? 3 : 2, o = 3 - nd;
    dnnl_dims_t ad = {s->nb, s->M, s->K}, bd = {s->nb, s->K, s->N}, cd = {s->nb, s->M, s->N};
    dnnl_dims_t as = {s->sa, ta ? 1 : s->lda, ta ? s->lda : 1};
    dnnl_dims_t bs = {s->sb, tb ? 1 : s->ldb, tb ? s->ldb : 1};
    dnnl_dims_t cs = {s->sc, s->ldc, 1};
    dnnl_memory_desc_t amd, bmd, cmd;
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&amd, nd, &ad[o], dt, &as[o]));
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&bmd, nd, &bd[o], dt, &bs[o]));
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&cmd, nd, &cd[o], ct, &cs[o]));
    dnnl_matmul_desc_t md;
    DNNL_CHECK(dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd));
    dnnl_primitive_attr_t attr;
    DNNL_CHECK(dnnl_primitive_attr_create(&attr));
    if (post) {
        dnnl_post_ops_t po;
        DNNL_CHECK(dnnl_post_ops_create(&po));
        if (post == MM_ACC) DNNL_CHECK(dnnl_post_ops_append_sum(po, 1.0f));
        else {
            DNNL_CHECK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
            DNNL_CHECK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_square, 0.0f, 0.0f));
        }
        DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(dnnl_primitive_desc_create(&pd, &md, attr, mm_cache.engine, NULL));
    DNNL_CHECK(dnnl_primitive_create(&m->prim, pd));
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    DNNL_CHECK(dnnl_memory_create(&m->a, &amd, mm_cache.engine, DNNL_MEMORY_NONE));
    DNNL_CHECK(dnnl_memory_create(&m->b, &bmd, mm_cache.engine, DNNL_MEMORY_NONE));
    DNNL_CHECK(dnnl_memory_create(&m->c, &cmd, mm_cache.engine, DNNL_MEMORY_NONE));
    return m;
}

static inline void matmul_mat(Mat C, Mat A, Mat B, int nb, int M, int K, int N, int flags) {
    MatmulShape s = {nb, M, K, N, flags, A.ld, B.ld, C.ld, A.stride, B.stride, C.stride};
    if (nb == 1) s.sa = s.sb = s.sc = 0;
    Matmul *m = matmul_get(&s);
    DNNL_CHECK(dnnl_memory_set_data_handle(m->a, (void *)A.p));
    DNNL_CHECK(dnnl_memory_set_data_handle(m->b, (void *)B.p));
    DNNL_CHECK(dnnl_memory_set_data_handle(m->c, (void *)C.p));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, m->a}, {DNNL_ARG_WEIGHTS, m->b}, {DNNL_ARG_DST, m->c}};
    DNNL_CHECK(dnnl_primitive_execute(m->prim, mm_cache.stream, 3, args));
    DNNL_CHECK(dnnl_stream_wait(mm_cache.stream));
}

// nb products of densely stored matrices, back to back
static inline void matmul_batch(void *C, const void *A, const void *B, int nb, int M, int K, int N, int flags) {
    Mat a = {A, flags & MM_TA ? M : K, (long)M * K}, b = {B, flags & MM_TB ? K : N, (long)K * N};
    Mat c = {C, N, (long)M * N};
    matmul_mat(c, a, b, nb, M, K, N, flags);
}

static inline void matmul(void *C, const void *A, const void *B, int M, int K, int N, int flags) {
    matmul_batch(C, A, B, 1, M, K, N, flags);
}

static inline void matmul_free_all(void) {
    for (int i = 0; i < mm_cache.n; i++) {
        dnnl_primitive_destroy(mm_cache.m[i].prim);
        dnnl_memory_destroy(mm_cache.m[i].a);
        dnnl_memory_destroy(mm_cache.m[i].b);
        dnnl_memory_destroy(mm_cache.m[i].c);
    }
    if (mm_cache.stream) dnnl_stream_destroy(mm_cache.stream);
    if (mm_cache.engine) dnnl_engine_destroy(mm_cache.engine);
    memset(&mm_cache, 0, sizeof mm_cache);
}

// ----------------------------------------------------------------------------
// Random numbers (splitmix64): deterministic for a seed, independent of the thread count.

static inline uint64_t rng_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline float rng_uniform(uint64_t *s) { return (float)((rng_u64(s) >> 40) + 0.5) / 16777216.0f; } // (0,1)
static inline float rng_normal(uint64_t *s) {
    float u1 = rng_uniform(s), u2 = rng_uniform(s);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

// Draws a token from softmax(z / temperature) (z is overwritten)
static inline int sample_token(float *z, int V, float temperature, uint64_t *rng) {
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) { z[v] /= temperature; if (z[v] > mx) mx = z[v]; }
    double sum = 0;
    for (int v = 0; v < V; v++) sum += exp(z[v] - mx);
    double u = rng_uniform(rng) * sum, cum = 0;
    for (int v = 0; v < V; v++) { cum += exp(z[v] - mx); if (cum >= u) return v; }
    return V - 1;
}

// ----------------------------------------------------------------------------
// Files: parts written back to back to path through a temporary file and a rename, so a
// reader sees the old file or the whole new one. 0, or -1 after a one-line message.

static inline int file_write_parts(const char *path, const void *const *parts, const size_t *sizes, int n) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) { fprintf(stderr, "train: cannot write %s\n", tmp); return -1; }
    int ok = 1;
    for (int i = 0; i < n; i++) ok = ok && fwrite(parts[i], 1, sizes[i], f) == sizes[i];
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "train: writing %s failed (disk full?)\n", path);
        unlink(tmp);
        return -1;
    }
    return 0;
}

// The summary's "sample:" line: n ids decoded, line breaks as spaces
static inline void print_sample(const Tokenizer *tok, const int32_t *ids, long n) {
    char text[4096];
    long len = tokenizer_decode(tok, ids, n, text, sizeof text - 1);
    if (len < 0) len = 0;
    text[len] = 0;
    for (long i = 0; i < len; i++) if (text[i] == '\n' || text[i] == '\r') text[i] = ' ';
    printf("%-18s%s\n", "sample:", text);
}

// ----------------------------------------------------------------------------
// Arena: all of a model's buffers in one block, laid out by calling the same function twice:
// once to measure (base NULL), once to point (llm.c's malloc_and_point). The block is backed
// by 2 MB pages: the matmuls stream through far more memory than the TLB covers in 4 KB pages,
// and page walks are dear in a virtual machine. Each buffer starts at a different offset
// within a 4 KB page (a multiple of 128 bytes): element-wise passes over same-size buffers
// (AdamW walks four) would otherwise hit the same cache sets and stall on 4K aliasing.

typedef struct { char *base; size_t used; int n; } Arena;
static inline void *arena_take(Arena *ar, size_t bytes) {
    size_t off = ((ar->used + 4095) & ~(size_t)4095) + (size_t)(ar->n++ % 32) * 128;
    ar->used = off + bytes;
    return ar->base ? ar->base + off : NULL;
}
#define ALLOC(ptr, count) ((ptr) = arena_take(ar, (size_t)(count) * sizeof *(ptr)))

// After a measuring pass: a zeroed block of huge pages for the pointing pass
static inline Arena arena_block(const Arena *measured) {
    size_t huge = (size_t)2 << 20, bytes = (measured->used + huge - 1) & ~(huge - 1);
    Arena ar = {.base = aligned_alloc(huge, bytes)};
    if (!ar.base) { fprintf(stderr, "train: out of memory (%zu MB for the model)\n", bytes >> 20); exit(1); }
    madvise(ar.base, bytes, MADV_HUGEPAGE);
    memset(ar.base, 0, bytes);
    return ar;
}

// ----------------------------------------------------------------------------
// Parameter table: named tensors (rows, cols) in the PyTorch (out, in) layout, back to back in
// one fp32 buffer. Each carries its optimizer group (the trainer's own numbering), its
// initialisation and whether matmuls read it (then it has an mm_t copy at the same offset).
// Gradients and optimizer state use the same offsets.

typedef enum { INIT_ZERO, INIT_CONST, INIT_NORMAL, INIT_UNIFORM } InitKind;
typedef struct { InitKind kind; float a; } Init;   // the constant, the sd, or the bound
#define ZEROS ((Init){INIT_ZERO, 0.0f})
#define CONST(v) ((Init){INIT_CONST, (v)})
#define NORMAL(sd) ((Init){INIT_NORMAL, (sd)})
#define UNIFORM(bound) ((Init){INIT_UNIFORM, (bound)})   // U(-bound, bound)
enum { NO_MM = 0, MM_COPY = 1 };

#define MAX_PARAMS 600
typedef struct { char name[24]; int layer, rows, cols, group, mm; Init init; size_t off; } Param;
typedef struct { Param t[MAX_PARAMS]; int n; size_t size; } ParamTable;

// Appends a tensor (layer -1 for a global one); returns its offset in the buffers
static inline size_t param_add(ParamTable *pt, const char *name, int layer, int rows, int cols,
                               int group, Init init, int mm) {
    if (pt->n == MAX_PARAMS) { fprintf(stderr, "train: more than %d parameter tensors\n", MAX_PARAMS); exit(1); }
    Param *t = &pt->t[pt->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->layer = layer; t->rows = rows; t->cols = cols; t->group = group; t->mm = mm; t->init = init;
    t->off = pt->size;
    pt->size += (size_t)rows * cols;
    return t->off;
}

static inline size_t param_count(const Param *t) { return (size_t)t->rows * t->cols; }

// The tensors of one group, by shape (in table order): what Muon stacks. Returns the count
typedef struct { int n; int t[MAX_PARAMS]; } ParamShape;   // table indices
static inline int param_shapes(const ParamTable *pt, int group, ParamShape *out, int max) {
    int n = 0;
    for (int i = 0; i < pt->n; i++) {
        const Param *t = &pt->t[i];
        if (t->group != group) continue;
        int k = 0;
        while (k < n && !(pt->t[out[k].t[0]].rows == t->rows && pt->t[out[k].t[0]].cols == t->cols)) k++;
        if (k == max) { fprintf(stderr, "train: more than %d matrix shapes in one group\n", max); exit(1); }
        if (k == n) out[n++].n = 0;
        out[k].t[out[k].n++] = i;
    }
    return n;
}

// Every tensor drawn from its Init, in table order, from one stream
static inline void params_init(const ParamTable *pt, float *params, uint64_t seed) {
    uint64_t s = seed;
    for (int i = 0; i < pt->n; i++) {
        const Param *t = &pt->t[i];
        float *p = params + t->off, a = t->init.a;
        for (size_t j = 0; j < param_count(t); j++)
            p[j] = t->init.kind == INIT_NORMAL ? a * rng_normal(&s)
                 : t->init.kind == INIT_UNIFORM ? a * (2.0f * rng_uniform(&s) - 1.0f)
                 : t->init.kind == INIT_CONST ? a : 0.0f;
    }
}

// Copies the tensors that matmuls read into their mm_t copies (after init and every update)
static inline void params_to_mm(const ParamTable *pt, const float *params, mm_t *copy) {
#ifdef TRAIN_FP32
    (void)pt; (void)params; (void)copy;
#else
    for (int i = 0; i < pt->n; i++) {
        const Param *t = &pt->t[i];
        if (!t->mm) continue;
        const float *p = params + t->off;
        mm_t *q = copy + t->off;
        size_t n = param_count(t);
        #pragma omp parallel for schedule(static)
        for (size_t j = 0; j < n; j++) q[j] = to_mm(p[j]);
    }
#endif
}

// The gradient check's view of a table (see gradcheck.h)
static inline void gradcheck_tensors(GradcheckModel *g, const ParamTable *pt, float *params, float *grads) {
    g->ntensors = pt->n < GRADCHECK_MAX_TENSORS ? pt->n : GRADCHECK_MAX_TENSORS;
    g->nparams = pt->size;
    g->params = params;
    g->grads = grads;
    for (int i = 0; i < g->ntensors; i++) {
        const Param *t = &pt->t[i];
        g->tensors[i] = (GradcheckTensor){t->name, t->layer, t->rows, t->cols, t->off, param_count(t)};
    }
}

// ----------------------------------------------------------------------------
// Peak GFLOP/s of a matmul precision, for MFU: AUTORESEARCH_PEAK_GFLOPS if set, else
// measured (outside the budget) as the best of a few 1024^3 oneDNN matmuls run for about
// `seconds`, the same primitive the model's matmuls use.

static inline double measure_matmul_gflops(int flags, double seconds) {
    int n = 1024, bf = flags & MM_IN_BF16;
    size_t nn = (size_t)n * n;
    void *A = xcalloc(nn, bf ? 2 : 4), *Bm = xcalloc(nn, bf ? 2 : 4);
    float *Cm = xcalloc(nn, 4);
    if (bf) { uint16_t *a = A, *b = Bm; for (size_t i = 0; i < nn; i++) a[i] = b[i] = 0x3f80; }
    else { float *a = A, *b = Bm; for (size_t i = 0; i < nn; i++) a[i] = b[i] = 1.0f; }
    matmul(Cm, A, Bm, n, n, n, bf);   // warm-up (primitive creation, page faults)
    double best = 0, t_end = now_seconds() + seconds;
    while (now_seconds() < t_end) {
        double t0 = now_seconds();
        for (int r = 0; r < 4; r++) matmul(Cm, A, Bm, n, n, n, bf);
        double g = 4 * 2.0 * n * (double)nn / (now_seconds() - t0) / 1e9;
        if (g > best) best = g;
    }
    free(A); free(Bm); free(Cm);
    return best;
}

static inline double peak_gflops(void) {
    const char *e = getenv("AUTORESEARCH_PEAK_GFLOPS");
    if (e && atof(e) > 0) return atof(e);
    return measure_matmul_gflops(MM_BF16, 1.0);
}

// ----------------------------------------------------------------------------
// Threads. The trainer's OpenMP loops and oneDNN share libgomp's threads, and a step opens
// about a thousand parallel regions. Between two of them a thread waits: spinning costs the
// cores' time; asleep, it must be woken, which in a virtual machine costs tens of
// microseconds. libgomp reads the policy when it loads, before main, so unless the user chose
// one (OMP_WAIT_POLICY or GOMP_SPINCOUNT), the process runs itself again once with a short
// spin (GOMP_SPINCOUNT=5000, about 0.1 ms), then sleep. README gives the measurements.
#define OMP_SPIN_COUNT "5000"
static inline void threads_setup(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    setenv("GOMP_SPINCOUNT", OMP_SPIN_COUNT, 1);
    execv("/proc/self/exe", argv);   // only returns on failure: then go on as we are
}

#endif // TOOLBOX_H

/*
train.c -- pretrain a small GPT on the CPU for a fixed time budget, then report val_bpb.

This is the one file the research agent edits. It is a C port of the autoresearch baseline
(karpathy/autoresearch train.py, itself distilled from nanochat):
  - token embedding (untied from the head) -> RMSNorm = x0
  - before block i: x = resid_lambda[i] * x + x0_lambda[i] * x0 (learned scalars)
  - block: x += attn(norm(x)); x += mlp(norm(x)); RMSNorm has no weight
  - attention: bias-free q,k,v,o; grouped-query; RoPE (half-split, base 10000); QK-norm after
    RoPE; causal sliding window per layer from a pattern ("SSSL": S = T/2, L = T, last = L)
  - value embeddings (ResFormer) on alternating layers, mixed into v through a zero-init gate
  - MLP 4x, relu(x)^2; final norm; head; logits softcapped 15*tanh(z/15) in fp32; cross-entropy
  - optimizer MuonAdamW: AdamW for embeddings/head/scalars, Muon (Nesterov, Polar Express,
    NorMuon, cautious weight decay) for every matrix in the blocks
Layout follows llm.c's train_gpt2.c: X_forward / X_backward pairs of plain functions over
float*, all parameters in one buffer, short names B,T,C,NH,hs,V.

Matrix products, attention's included, go through oneDNN's matmul primitive (created once
per shape, reused). By default they take bf16 inputs (fp32 master weights, fp32 accumulation
and outputs; norms, softmax, loss in fp32), like torch.autocast(bfloat16). Build with
-DTRAIN_FP32 (make PRECISION=fp32) for fp32 matmuls. The softmaxes and the element-wise
passes are plain C loops that the compiler vectorises (see exp_fast), parallel with OpenMP on
the same libgomp threads as oneDNN (see threads_setup for how idle threads wait).

Speed is reported as model FLOPs (gpt_flops_per_token) over the peak of the precision the
matmuls use (peak_gflops): mfu_percent in the summary.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <omp.h>
#include <dnnl.h>
#include "prepare.h"

// ----------------------------------------------------------------------------
// Hyperparameters. The harness's search agent mutates the values in this block.
// The original's values for one H100 (GPU build): DEPTH 8, model_dim = DEPTH * 64 rounded up
// to HEAD_DIM (512), HEAD_DIM 128, n_kv_head = n_head, DEVICE_BATCH_SIZE 128, TOTAL_BATCH_SIZE
// 2^19, EMBEDDING_LR 0.6, UNEMBEDDING_LR 0.004, MATRIX_LR 0.04, SCALAR_LR 0.5, WEIGHT_DECAY
// 0.2, ADAM_BETAS (0.8, 0.95), WARMUP_RATIO 0, WARMDOWN_RATIO 0.5, FINAL_LR_FRAC 0, "SSSL".
// CPU defaults: see the measurements below the block.
// @tunables-begin
#define DEPTH 3                 // number of transformer blocks
#define MODEL_DIM 256           // width C of the residual stream
#define HEAD_DIM 128            // channels per attention head; n_head = MODEL_DIM / HEAD_DIM
#define KV_GROUP 1              // query heads per KV head (GQA); n_kv_head = n_head / KV_GROUP
#define MLP_RATIO 4             // MLP hidden width = MLP_RATIO * MODEL_DIM
#define DEVICE_BATCH_SIZE 2     // sequences per forward/backward pass
#define TOTAL_BATCH_SIZE 4096   // tokens per optimizer step (gradient accumulation)
#define EMBEDDING_LR 0.3        // AdamW lr of the token and value embeddings (scaled by (C/768)^-0.5)
#define UNEMBEDDING_LR 0.008    // AdamW lr of the head (scaled by (C/768)^-0.5)
#define MATRIX_LR 0.06          // Muon lr of the block matrices
#define SCALAR_LR 0.5           // AdamW lr of x0_lambdas (resid_lambdas get 0.01x)
#define WEIGHT_DECAY 0.2        // Muon cautious weight decay at the start (decays to 0)
#define ADAM_BETA1 0.8          // AdamW beta1
#define ADAM_BETA2 0.95         // AdamW beta2
#define WARMUP_RATIO 0.0        // fraction of the budget with lr warming up
#define WARMDOWN_RATIO 0.5      // fraction of the budget at the end with lr decaying linearly
#define FINAL_LR_FRAC 0.0       // lr multiplier at the end of the warm-down
// @tunables-end
#define WINDOW_PATTERN "SSSL"   // per-layer attention window: S = half context, L = full
//
// How the CPU defaults were chosen (2 threads of a Xeon with AVX-512 and AMX-bf16, IMDB corpus:
// prepare --source file:../shared/data/imdb-train.jsonl.gz, vocab 4096, context 512). Ranking
// runs used an equal budget of model FLOPs (AUTORESEARCH_BUDGET_MODE=flops), so that other load
// on the shared machine could not skew them; val_bpb at 24e12 FLOPs (~1/3 of a 5-minute run):
//   depth 4, width 256, head 128, 8192 tokens/step   1.839  (16384: 1.898; 4096: 1.806)
//   depth 6 1.909, depth 3 1.805, width 384 depth 4 1.960, width 384 depth 2 1.882 (8192)
//   head 64 (4 heads) instead of 128 (2 heads), depth 4: 1.848, and slower
//   depth 3, 4096 tokens/step: 1.781; window "L" 1.787; MATRIX_LR 0.06 1.777;
//   EMBEDDING_LR 0.3 + UNEMBEDDING_LR 0.008 1.777
// At 70e12 FLOPs (about a 5-minute run) with both lr changes: depth 3 1.642, depth 4 1.649.
// A 5-minute run (time budget) of these defaults: val_bpb 1.632, 3.4M tokens, 835 steps,
// 11.4K tokens/s. Since attention runs through oneDNN (same numerics at equal FLOPs: 70e12
// FLOPs give val_bpb 1.6415), bench_train's default step takes 240 ms (17.1K tokens/s);
// the fp32 build's 542-585 ms (7.0K-7.6K tokens/s, 57-61% of the fp32 FMA peak).

// ----------------------------------------------------------------------------
// Matmul precision. The model's products read mm_t: bf16 (autocast) by default where the CPU
// has bf16 dot products (-march=native tells: __AVX512BF16__), else fp32, as with
// -DTRAIN_FP32 (make PRECISION=fp32). Polar Express iterates in pe_t: bf16 wherever the CPU
// has bf16 dot products, in the fp32 build too, because the original casts to bf16 there
// itself, outside autocast; so the two builds differ in autocast alone.

#define MM_IN_BF16 1    // matmul() precisions and epilogues, see there
#define MM_OUT_BF16 2
#define MM_SET 0
#define MM_ACC 1
#define MM_RELU2 2

static inline uint16_t to_bf16(float x) {   // round to nearest even (never NaN in a good run)
    union { float f; uint32_t u; } v = {.f = x};
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}
static inline float from_bf16(uint16_t x) { union { uint32_t u; float f; } v = {.u = (uint32_t)x << 16}; return v.f; }
static inline float to_f32(float x) { return x; }

#if !defined(TRAIN_FP32) && !defined(__AVX512BF16__)
#define TRAIN_FP32
#endif
#ifdef TRAIN_FP32
typedef float mm_t;
#define MM_BF16 0
#define PRECISION_NAME "fp32"
#define to_mm to_f32
#define from_mm to_f32
#else
typedef uint16_t mm_t;
#define MM_BF16 MM_IN_BF16
#define PRECISION_NAME "bf16"
#define to_mm to_bf16
#define from_mm from_bf16
#endif
#ifdef __AVX512BF16__
typedef uint16_t pe_t;
#define PE_BF16 MM_IN_BF16
#define to_pe to_bf16
#define from_pe from_bf16
#else
typedef float pe_t;
#define PE_BF16 0
#define to_pe to_f32
#define from_pe to_f32
#endif
// Attention queries per matmul block (see attention_forward): fp32 products gain from skipping
// the keys a block cannot see; bf16 ones run fastest as one (T,T) product (oneDNN's AMX kernels
// need the batch's matrices back to back). Measured on this machine: fp32 steps with blocks of
// 64 rows ~4% faster than with 128, 32 ~2%.
#define ATTN_QBLOCK (MM_BF16 ? 0 : 64)

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

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) { fprintf(stderr, "train: out of memory (%zu x %zu bytes)\n", n, size); exit(1); }
    return p;
}

// ----------------------------------------------------------------------------
// oneDNN matmul: C(M,N) (+)= op(A)(M,K) @ op(B)(K,N), row-major, for a batch of nb products.
// Each operand is a Mat: a pointer, the row stride of the matrix as stored and the stride
// between the batch's matrices. ta: A is stored (K,M); tb: B is stored (N,K) (a PyTorch
// (out,in) weight). post: MM_SET C = AB, MM_ACC C += AB (gradient accumulation), MM_RELU2
// C = relu(AB)^2 (the MLP's activation, fused). bf: 0 fp32 in and out,
// MM_IN_BF16 bf16 in and fp32 out, MM_OUT_BF16 bf16 in and out.
// One primitive per distinct shape, created on first use (during the budget's uncounted
// warm-up steps) and reused; each call only swaps the data pointers, so nothing is allocated
// inside a step. (Measured: oneDNN's fast kernels take any row stride, but a batch whose
// matrices are not back to back falls back to a slower path: attention lays its operands
// out head-major for this reason.)

typedef struct { const void *p; long ld, stride; } Mat;

typedef struct { long nb, M, K, N, ta, tb, post, bf, lda, ldb, ldc, sa, sb, sc; } MatmulShape;

typedef struct {
    MatmulShape s;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} Matmul;
#define MAX_MATMULS 256
static Matmul mm_cache[MAX_MATMULS];
static int mm_count;
static dnnl_engine_t dnn_engine;
static dnnl_stream_t dnn_stream;

#define DNNL_CHECK(call) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) { \
    fprintf(stderr, "train: oneDNN call failed (status %d): %s\n", (int)st_, #call); exit(1); } } while (0)

static Matmul *matmul_get(const MatmulShape *s) {
    for (int i = 0; i < mm_count; i++)
        if (!memcmp(&mm_cache[i].s, s, sizeof *s)) return &mm_cache[i];
    if (mm_count == MAX_MATMULS) { fprintf(stderr, "train: too many matmul shapes\n"); exit(1); }
    if (!dnn_engine) {
        DNNL_CHECK(dnnl_engine_create(&dnn_engine, dnnl_cpu, 0));
        DNNL_CHECK(dnnl_stream_create(&dnn_stream, dnn_engine, dnnl_stream_default_flags));
    }
    Matmul *m = &mm_cache[mm_count++];
    m->s = *s;
    dnnl_data_type_t dt = s->bf ? dnnl_bf16 : dnnl_f32, ct = s->bf == MM_OUT_BF16 ? dnnl_bf16 : dnnl_f32;
    // (nb, rows, cols) with strides; a single product is 2-d
    int nd = s->nb > 1 ? 3 : 2, o = 3 - nd;
    dnnl_dims_t ad = {s->nb, s->M, s->K}, bd = {s->nb, s->K, s->N}, cd = {s->nb, s->M, s->N};
    dnnl_dims_t as = {s->sa, s->ta ? 1 : s->lda, s->ta ? s->lda : 1};
    dnnl_dims_t bs = {s->sb, s->tb ? 1 : s->ldb, s->tb ? s->ldb : 1};
    dnnl_dims_t cs = {s->sc, s->ldc, 1};
    dnnl_memory_desc_t amd, bmd, cmd;
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&amd, nd, &ad[o], dt, &as[o]));
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&bmd, nd, &bd[o], dt, &bs[o]));
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&cmd, nd, &cd[o], ct, &cs[o]));
    dnnl_matmul_desc_t md;
    DNNL_CHECK(dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd));
    dnnl_primitive_attr_t attr;
    DNNL_CHECK(dnnl_primitive_attr_create(&attr));
    if (s->post != MM_SET) {
        dnnl_post_ops_t po;
        DNNL_CHECK(dnnl_post_ops_create(&po));
        if (s->post == MM_ACC) DNNL_CHECK(dnnl_post_ops_append_sum(po, 1.0f));
        else {
            DNNL_CHECK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
            DNNL_CHECK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_square, 0.0f, 0.0f));
        }
        DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(dnnl_primitive_desc_create(&pd, &md, attr, dnn_engine, NULL));
    DNNL_CHECK(dnnl_primitive_create(&m->prim, pd));
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    DNNL_CHECK(dnnl_memory_create(&m->a, &amd, dnn_engine, DNNL_MEMORY_NONE));
    DNNL_CHECK(dnnl_memory_create(&m->b, &bmd, dnn_engine, DNNL_MEMORY_NONE));
    DNNL_CHECK(dnnl_memory_create(&m->c, &cmd, dnn_engine, DNNL_MEMORY_NONE));
    return m;
}

static void matmul_mat(Mat C, Mat A, Mat B, int nb, int M, int K, int N, int ta, int tb, int post, int bf) {
    MatmulShape s = {nb, M, K, N, ta, tb, post, bf, A.ld, B.ld, C.ld, A.stride, B.stride, C.stride};
    if (nb == 1) s.sa = s.sb = s.sc = 0;
    Matmul *m = matmul_get(&s);
    DNNL_CHECK(dnnl_memory_set_data_handle(m->a, (void *)A.p));
    DNNL_CHECK(dnnl_memory_set_data_handle(m->b, (void *)B.p));
    DNNL_CHECK(dnnl_memory_set_data_handle(m->c, (void *)C.p));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, m->a}, {DNNL_ARG_WEIGHTS, m->b}, {DNNL_ARG_DST, m->c}};
    DNNL_CHECK(dnnl_primitive_execute(m->prim, dnn_stream, 3, args));
    DNNL_CHECK(dnnl_stream_wait(dnn_stream));
}

// nb products of densely stored matrices, back to back
static void matmul_batch(void *C, const void *A, const void *B, int nb, int M, int K, int N,
                         int ta, int tb, int post, int bf) {
    Mat a = {A, ta ? M : K, (long)M * K}, b = {B, tb ? K : N, (long)K * N}, c = {C, N, (long)M * N};
    matmul_mat(c, a, b, nb, M, K, N, ta, tb, post, bf);
}

static void matmul(void *C, const void *A, const void *B, int M, int K, int N, int ta, int tb, int post, int bf) {
    matmul_batch(C, A, B, 1, M, K, N, ta, tb, post, bf);
}

static void matmul_free_all(void) {
    for (int i = 0; i < mm_count; i++) {
        dnnl_primitive_destroy(mm_cache[i].prim);
        dnnl_memory_destroy(mm_cache[i].a);
        dnnl_memory_destroy(mm_cache[i].b);
        dnnl_memory_destroy(mm_cache[i].c);
    }
    mm_count = 0;
    if (dnn_stream) dnnl_stream_destroy(dnn_stream);
    if (dnn_engine) dnnl_engine_destroy(dnn_engine);
    dnn_stream = NULL; dnn_engine = NULL;
}

// ----------------------------------------------------------------------------
// Random numbers (splitmix64): deterministic for a seed, independent of the thread count.

static uint64_t rng_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float rng_uniform(uint64_t *s) { return (float)((rng_u64(s) >> 40) + 0.5) / 16777216.0f; } // (0,1)
static float rng_normal(uint64_t *s) {
    float u1 = rng_uniform(s), u2 = rng_uniform(s);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

// ----------------------------------------------------------------------------
// Model configuration (a runtime struct so tests can build tiny models)

#define MAX_LAYERS 64
#define VE_GATE_CHANNELS 32
#define NORM_EPS 1.1920929e-07f   // F.rms_norm's default eps for fp32: torch.finfo(float32).eps
#define HEAD_ROWS 256             // rows per head matmul chunk (see gpt_head)

typedef struct {
    int V;                   // vocabulary size
    int T;                   // sequence length (model context)
    int C;                   // width
    int NL;                  // layers
    int NH, NKV, hs;         // query heads, KV heads, head size
    int F;                   // MLP hidden width
    int qblock;              // attention queries per matmul block (0: see attn_qblock)
    int window[MAX_LAYERS];  // attention window per layer: key j is visible to query i if i-window <= j <= i
} Config;

// Value embeddings on alternating layers, the last always included.
static int has_ve(const Config *c, int l) { return l % 2 == (c->NL - 1) % 2; }
static int gate_ch(const Config *c) { return c->C < VE_GATE_CHANNELS ? c->C : VE_GATE_CHANNELS; }

static void config_windows(Config *c, const char *pattern) {
    int n = (int)strlen(pattern);
    for (int l = 0; l < c->NL; l++) {
        char ch = pattern[l % n];
        if (ch != 'S' && ch != 'L') { fprintf(stderr, "train: WINDOW_PATTERN may only hold S and L\n"); exit(1); }
        c->window[l] = ch == 'L' ? c->T : c->T / 2;
    }
    c->window[c->NL - 1] = c->T;   // the last layer always sees the full context
}

static Config config_default(int V) {
    Config c = {.V = V, .T = MAX_SEQ_LEN, .C = MODEL_DIM, .NL = DEPTH, .hs = HEAD_DIM,
                .NH = MODEL_DIM / HEAD_DIM, .F = MLP_RATIO * MODEL_DIM,
                .qblock = ATTN_QBLOCK};
    c.NKV = c.NH / KV_GROUP;
    if (c.NL > MAX_LAYERS || c.C % c.hs || c.NH % KV_GROUP || c.hs % 2) {
        fprintf(stderr, "train: bad tunables: need DEPTH <= %d, MODEL_DIM %% HEAD_DIM == 0, "
                "n_head %% KV_GROUP == 0, even HEAD_DIM\n", MAX_LAYERS);
        exit(1);
    }
    config_windows(&c, WINDOW_PATTERN);
    return c;
}

// ----------------------------------------------------------------------------
// Parameters: one fp32 buffer, described by a table of named tensors (rows, cols) in the
// PyTorch (out, in) layout. The grads, optimizer moments and the bf16 matmul copy use the same
// offsets. wq, wk, wv of a layer are adjacent so they act as one (QKV, C) matrix in matmuls.

enum { G_HEAD, G_EMBED, G_VE, G_RESID, G_X0, G_MUON };

typedef struct { char name[24]; int rows, cols, group, layer; size_t off; } Tensor;

typedef struct { size_t wq, wk, wv, wo, wfc, wproj, ve, vegate; } LayerOff;

typedef struct { int n; int t[MAX_LAYERS * 6]; } MuonGroup;   // tensor indices of one shape
#define MAX_GROUPS 8   // distinct Muon shapes: c_q, c_k/c_v, attn.c_proj, c_fc, mlp.c_proj, ve_gate

#define MAX_TENSORS (8 * MAX_LAYERS + 8)

// Activations of one (B,T) pass, kept for the backward pass. Per-layer tensors are NL slabs.
typedef struct {
    float *x0, *rstd0;       // (N,C) normed embedding, (N)
    float *xin, *rstd1;      // (L,N,C) block input after the lambda mix, (L,N)
    mm_t *ln1;               // (L,N,C) norm(xin), matmul input of q,k,v
    float *gate;             // (L,N,NKV) value-embedding gate 2*sigmoid(.)
    float *qkv;              // (L,N,QKV) q,k after RoPE and QK-norm, v after the ve mix
    float *qkr;              // (L,N,NH+NKV) 1/rms of each q and k head vector
    mm_t *qh, *kh, *vh;      // (L,B,NH,T,hs), (L,B,NKV,T,hs) x2: q, k, v head-major for attention
    mm_t *P;                 // (L,B,NH,T,T) attention probabilities (only the blocks computed)
    float *oh;               // (L,B,NH,T,hs) attention output
    mm_t *att;               // (L,N,C) attention output by token, matmul input of the projection
    float *xmid, *rstd2;     // (L,N,C) xin + attn, (L,N)
    mm_t *ln2;               // (L,N,C) norm(xmid)
    mm_t *hact;              // (L,N,F) relu(ln2 @ wfc^T)^2
    float *bout;             // (L,N,C) block output xmid + mlp
    float *rstdf;            // (N)
    mm_t *lnf;               // (N,C) final norm
} Acts;

typedef struct {
    Config cfg;
    Tensor tensors[MAX_TENSORS];
    int ntensors;
    size_t nparams;
    size_t wte, head, rl, xl;   // offsets
    LayerOff lo[MAX_LAYERS];
    float *params, *grads;
    mm_t *wmm;                  // matmul copy of the weights (== params in the fp32 build)
    float *m1, *m2;             // AdamW moments; Muon momentum and NorMuon second moment
    int adam_t;
    float *cos, *sin;           // (T, hs/2) RoPE tables
    int Bmax;                   // activations are sized for this batch
    Acts a;
    // scratch, reused by every layer and step
    float *tmp, *dres, *dln, *dx0, *dqkv, *dh, *datt, *dgate;
    mm_t *dres_mm, *dqkv_mm, *dh_mm;
    float *logits; mm_t *dlog_mm; float *nll;
    float *S, *dP; mm_t *dS;        // (B,NH,T,T) attention scores, dP, dS
    mm_t *dOh; float *Drow;         // (B,NH,T,hs) dO head-major, (B,NH,T) rowsum(dO*O)
    float *dqh, *dkh, *dvh;         // head-major gradients of q, k, v
    MuonGroup groups[MAX_GROUPS];   // Muon matrices grouped by shape
    int ngroups;
    float *ostack, *oy;         // Polar Express work matrices, for a whole group
    pe_t *oxm, *oam, *oa2m;
    void *arena;                // every buffer above lives in it
} GPT;

static int qkv_dim(const Config *c) { return (c->NH + 2 * c->NKV) * c->hs; }

static size_t add_tensor(GPT *m, const char *name, int layer, int rows, int cols, int group) {
    Tensor *t = &m->tensors[m->ntensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rows = rows; t->cols = cols; t->group = group; t->layer = layer;
    t->off = m->nparams;
    m->nparams += (size_t)rows * cols;
    return t->off;
}

static void gpt_layout(GPT *m) {
    Config *c = &m->cfg;
    int KVD = c->NKV * c->hs;
    m->ntensors = 0; m->nparams = 0;
    m->wte = add_tensor(m, "wte", -1, c->V, c->C, G_EMBED);
    m->head = add_tensor(m, "lm_head", -1, c->V, c->C, G_HEAD);
    m->rl = add_tensor(m, "resid_lambdas", -1, 1, c->NL, G_RESID);
    m->xl = add_tensor(m, "x0_lambdas", -1, 1, c->NL, G_X0);
    for (int l = 0; l < c->NL; l++) {
        LayerOff *o = &m->lo[l];
        o->wq = add_tensor(m, "c_q", l, c->NH * c->hs, c->C, G_MUON);
        o->wk = add_tensor(m, "c_k", l, KVD, c->C, G_MUON);
        o->wv = add_tensor(m, "c_v", l, KVD, c->C, G_MUON);
        o->wo = add_tensor(m, "attn.c_proj", l, c->C, c->C, G_MUON);
        o->wfc = add_tensor(m, "c_fc", l, c->F, c->C, G_MUON);
        o->wproj = add_tensor(m, "mlp.c_proj", l, c->C, c->F, G_MUON);
        o->ve = o->vegate = (size_t)-1;
        if (has_ve(c, l)) {
            o->ve = add_tensor(m, "value_embed", l, c->V, KVD, G_VE);
            o->vegate = add_tensor(m, "ve_gate", l, c->NKV, gate_ch(c), G_MUON);
        }
    }
}

// Copies the weights that matmuls read into the bf16 buffer (after init and every update).
static void gpt_sync_mm(GPT *m) {
#ifdef TRAIN_FP32
    (void)m;
#else
    for (int i = 0; i < m->ntensors; i++) {
        Tensor *t = &m->tensors[i];
        if (t->group != G_HEAD && !(t->group == G_MUON && strcmp(t->name, "ve_gate"))) continue;
        size_t n = (size_t)t->rows * t->cols;
        float *p = m->params + t->off; mm_t *q = m->wmm + t->off;
        #pragma omp parallel for schedule(static)
        for (size_t j = 0; j < n; j++) q[j] = to_mm(p[j]);
    }
#endif
}

// The original's init: embeddings N(0,1), head N(0,0.001), q,k,v,fc and value embeddings
// U(-s,s) with s = sqrt(3)/sqrt(C), output projections and gates zero, lambdas 1 and 0.1.
static void gpt_init_weights(GPT *m, uint64_t seed) {
    Config *c = &m->cfg;
    uint64_t s = seed;
    float bound = sqrtf(3.0f) / sqrtf((float)c->C);
    memset(m->params, 0, m->nparams * sizeof(float));
    for (int i = 0; i < m->ntensors; i++) {
        Tensor *t = &m->tensors[i];
        float *p = m->params + t->off;
        size_t n = (size_t)t->rows * t->cols;
        const char *nm = t->name;
        if (!strcmp(nm, "wte")) for (size_t j = 0; j < n; j++) p[j] = rng_normal(&s);
        else if (!strcmp(nm, "lm_head")) for (size_t j = 0; j < n; j++) p[j] = 0.001f * rng_normal(&s);
        else if (!strcmp(nm, "resid_lambdas")) for (size_t j = 0; j < n; j++) p[j] = 1.0f;
        else if (!strcmp(nm, "x0_lambdas")) for (size_t j = 0; j < n; j++) p[j] = 0.1f;
        else if (!strcmp(nm, "c_q") || !strcmp(nm, "c_k") || !strcmp(nm, "c_v") ||
                 !strcmp(nm, "c_fc") || !strcmp(nm, "value_embed"))
            for (size_t j = 0; j < n; j++) p[j] = bound * (2.0f * rng_uniform(&s) - 1.0f);
        // attn.c_proj, mlp.c_proj, ve_gate stay zero
    }
    gpt_sync_mm(m);
}

// All of a model's buffers live in one arena, laid out by calling gpt_alloc twice: once to
// measure, once to point (llm.c's malloc_and_point). The arena is backed by 2 MB pages: the
// matmuls stream through far more memory than the TLB covers in 4 KB pages, and page walks
// are dear in a virtual machine. Each buffer starts at a different offset within a 4 KB page
// (a multiple of 128 bytes): element-wise passes over same-size buffers (AdamW walks four)
// would otherwise hit the same cache sets and stall on 4K aliasing between their loads and
// stores. Measured here: both together make a bf16 training step ~15% faster.
typedef struct { char *base; size_t used; int n; } Arena;
static void *arena_take(Arena *ar, size_t bytes) {
    size_t off = ((ar->used + 4095) & ~(size_t)4095) + (size_t)(ar->n++ % 32) * 128;
    ar->used = off + bytes;
    return ar->base ? ar->base + off : NULL;
}
#define ALLOC(ptr, count) ((ptr) = arena_take(ar, (size_t)(count) * sizeof *(ptr)))

static void gpt_alloc(GPT *m, Arena *ar) {
    const Config *c = &m->cfg;
    ALLOC(m->params, m->nparams); ALLOC(m->grads, m->nparams);
    ALLOC(m->m1, m->nparams); ALLOC(m->m2, m->nparams);
#ifdef TRAIN_FP32
    m->wmm = m->params;
#else
    ALLOC(m->wmm, m->nparams);
#endif
    ALLOC(m->cos, c->T * c->hs / 2); ALLOC(m->sin, c->T * c->hs / 2);
    // activations, per layer where the backward needs them
    size_t N = (size_t)m->Bmax * c->T, L = c->NL, C = c->C, F = c->F, QKV = qkv_dim(c);
    size_t KVD = (size_t)c->NKV * c->hs, TT = (size_t)m->Bmax * c->NH * c->T * c->T;
    Acts *a = &m->a;
    ALLOC(a->x0, N * C); ALLOC(a->rstd0, N);
    ALLOC(a->xin, L * N * C); ALLOC(a->rstd1, L * N); ALLOC(a->ln1, L * N * C);
    ALLOC(a->gate, L * N * c->NKV);
    ALLOC(a->qkv, L * N * QKV); ALLOC(a->qkr, L * N * (c->NH + c->NKV));
    ALLOC(a->qh, L * N * C); ALLOC(a->kh, L * N * KVD); ALLOC(a->vh, L * N * KVD);
    ALLOC(a->P, L * TT); ALLOC(a->oh, L * N * C); ALLOC(a->att, L * N * C);
    ALLOC(a->xmid, L * N * C); ALLOC(a->rstd2, L * N); ALLOC(a->ln2, L * N * C);
    ALLOC(a->hact, L * N * F); ALLOC(a->bout, L * N * C);
    ALLOC(a->rstdf, N); ALLOC(a->lnf, N * C);
    // scratch
    ALLOC(m->tmp, N * C); ALLOC(m->dres, N * C); ALLOC(m->dln, N * C); ALLOC(m->dx0, N * C);
    ALLOC(m->dqkv, N * QKV); ALLOC(m->dh, N * F); ALLOC(m->datt, N * C); ALLOC(m->dgate, N * c->NKV);
#ifndef TRAIN_FP32
    ALLOC(m->dres_mm, N * C); ALLOC(m->dqkv_mm, N * QKV); ALLOC(m->dh_mm, N * F);
#endif
    ALLOC(m->S, TT); ALLOC(m->dP, TT); ALLOC(m->dS, TT);
    ALLOC(m->dOh, N * C); ALLOC(m->Drow, N * c->NH);
    ALLOC(m->dqh, N * C); ALLOC(m->dkh, N * KVD); ALLOC(m->dvh, N * KVD);
    ALLOC(m->logits, HEAD_ROWS * c->V); ALLOC(m->nll, N);
#ifdef TRAIN_FP32
    m->dlog_mm = m->logits;   // the head's gradient overwrites the logits in place
#else
    ALLOC(m->dlog_mm, HEAD_ROWS * c->V);
#endif
    // Polar Express work matrices, for the largest group
    size_t maxmat = 0, maxsq = 0;
    for (int gi = 0; gi < m->ngroups; gi++) {
        Tensor *t = &m->tensors[m->groups[gi].t[0]];
        size_t nb = m->groups[gi].n, r = t->rows < t->cols ? t->rows : t->cols;
        if (nb * t->rows * t->cols > maxmat) maxmat = nb * t->rows * t->cols;
        if (nb * r * r > maxsq) maxsq = nb * r * r;
    }
    ALLOC(m->ostack, maxmat); ALLOC(m->oy, maxmat); ALLOC(m->oxm, maxmat);
    ALLOC(m->oam, maxsq); ALLOC(m->oa2m, maxsq);
}

static void gpt_build(GPT *m, const Config *cfg, int Bmax, uint64_t seed) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    Config *c = &m->cfg;
    m->Bmax = Bmax;
    gpt_layout(m);
    // Muon groups: same-shape block matrices, in tensor order
    for (int i = 0; i < m->ntensors; i++) {
        Tensor *t = &m->tensors[i];
        if (t->group != G_MUON) continue;
        int gi = 0;
        while (gi < m->ngroups && !(m->tensors[m->groups[gi].t[0]].rows == t->rows &&
                                    m->tensors[m->groups[gi].t[0]].cols == t->cols)) gi++;
        if (gi == MAX_GROUPS) { fprintf(stderr, "train: more than %d matrix shapes\n", MAX_GROUPS); exit(1); }
        if (gi == m->ngroups) m->groups[m->ngroups++].n = 0;
        m->groups[gi].t[m->groups[gi].n++] = i;
    }
    Arena ar = {0};
    gpt_alloc(m, &ar);
    size_t huge = (size_t)2 << 20, bytes = (ar.used + huge - 1) & ~(huge - 1);
    ar = (Arena){.base = aligned_alloc(huge, bytes)};
    if (!ar.base) { fprintf(stderr, "train: out of memory (%zu MB for the model)\n", bytes >> 20); exit(1); }
    madvise(ar.base, bytes, MADV_HUGEPAGE);
    memset(ar.base, 0, bytes);
    gpt_alloc(m, &ar);
    m->arena = ar.base;
    int half = c->hs / 2;
    for (int t = 0; t < c->T; t++)
        for (int i = 0; i < half; i++) {
            double freq = t / pow(10000.0, 2.0 * i / c->hs);
            m->cos[t * half + i] = (float)cos(freq);
            m->sin[t * half + i] = (float)sin(freq);
        }
    gpt_init_weights(m, seed);
}

static void gpt_free(GPT *m) {
    free(m->arena);
    memset(m, 0, sizeof *m);
}

// Model FLOPs per token for forward + backward: 6 per weight of every matrix product (block
// matrices incl. the ve gates, and the head; the token and value embeddings are lookups), plus
// attention: QK^T and PV are 2 matmuls of 2 FLOPs per (query, key, channel), times 3 for
// forward + backward = 12 * NH * hs * (keys a query sees, averaged over positions). This counts
// the causal work actually done (the original's estimate_flops counts min(window, T) keys per
// query, i.e. about twice this for full-context layers).
static double gpt_flops_per_token(const GPT *m) {
    const Config *c = &m->cfg;
    double mat = 0;
    for (int i = 0; i < m->ntensors; i++) {
        const Tensor *t = &m->tensors[i];
        if (t->group == G_MUON || t->group == G_HEAD) mat += (double)t->rows * t->cols;
    }
    double attn = 0;
    for (int l = 0; l < c->NL; l++) {
        double keys = 0;
        for (int i = 0; i < c->T; i++) keys += (i < c->window[l] ? i : c->window[l]) + 1;
        attn += 12.0 * c->NH * c->hs * keys / c->T;
    }
    return 6.0 * mat + attn;
}

// ----------------------------------------------------------------------------
// RMSNorm (no weight): y = x / sqrt(mean(x^2) + eps)

static float rms_row(const float *x, int C) {
    float ss = 0.0f;
    #pragma omp simd reduction(+:ss)
    for (int i = 0; i < C; i++) ss += x[i] * x[i];
    return 1.0f / sqrtf(ss / C + NORM_EPS);
}

// dx (+)= d/dx of y = x*r given dy:  dx = r * (dy - y * mean(dy*y)), y = x*r
static void rmsnorm_backward_row(float *dx, const float *dy, const float *x, float r, int C, int acc) {
    float dot = 0.0f;
    #pragma omp simd reduction(+:dot)
    for (int i = 0; i < C; i++) dot += dy[i] * x[i];
    dot *= r * r / C;   // mean(dy*y) * r, folded: y = x*r
    if (acc) for (int i = 0; i < C; i++) dx[i] += r * (dy[i] - x[i] * dot);
    else     for (int i = 0; i < C; i++) dx[i] = r * (dy[i] - x[i] * dot);
}

// ----------------------------------------------------------------------------
// Embedding + norm; the lambda mix + norm in front of each block

// x0 = norm(wte[inp])
static void embed_forward(float *x0, float *rstd, const float *wte, const int32_t *inp, int N, int C) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *e = wte + (size_t)inp[n] * C;
        float r = rms_row(e, C);
        float *o = x0 + (size_t)n * C;
        for (int i = 0; i < C; i++) o[i] = e[i] * r;
        rstd[n] = r;
    }
}

// xin = rl * prev + xl * x0; ln = norm(xin)
static void mix_norm_forward(float *xin, mm_t *ln, float *rstd, const float *prev, const float *x0,
                             float rl, float xl, int N, int C) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *x = xin + (size_t)n * C;
        const float *p = prev + (size_t)n * C, *z = x0 + (size_t)n * C;
        for (int i = 0; i < C; i++) x[i] = rl * p[i] + xl * z[i];
        float r = rms_row(x, C);
        mm_t *o = ln + (size_t)n * C;
        for (int i = 0; i < C; i++) o[i] = to_mm(x[i] * r);
        rstd[n] = r;
    }
}

// out = a + b; ln = norm(out)   (ln may be NULL: just the add)
static void add_norm_forward(float *out, mm_t *ln, float *rstd, const float *a, const float *b, int N, int C) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *x = out + (size_t)n * C;
        const float *p = a + (size_t)n * C, *q = b + (size_t)n * C;
        for (int i = 0; i < C; i++) x[i] = p[i] + q[i];
        if (!ln) continue;
        float r = rms_row(x, C);
        mm_t *o = ln + (size_t)n * C;
        for (int i = 0; i < C; i++) o[i] = to_mm(x[i] * r);
        rstd[n] = r;
    }
}

// dx (+)= rmsnorm backward of dy, row by row; dxm (if not NULL) gets a bf16 copy of dx
static void rmsnorm_backward(float *dx, mm_t *dxm, const float *dy, const float *x, const float *rstd,
                             int N, int C, int acc) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        rmsnorm_backward_row(dx + (size_t)n * C, dy + (size_t)n * C, x + (size_t)n * C, rstd[n], C, acc);
        if (dxm) for (int i = 0; i < C; i++) dxm[(size_t)n * C + i] = to_mm(dx[(size_t)n * C + i]);
    }
}

// Backward of xin = rl*prev + xl*x0 given dxin (in dres, replaced by dprev = rl*dxin):
// drl += sum(dxin*prev), dxl += sum(dxin*x0), dx0 += xl*dxin.
// dresm (if not NULL) gets a bf16 copy of the new dres.
static void mix_backward(float *dres, mm_t *dresm, float *dx0, float *drl, float *dxl, const float *prev,
                         const float *x0, float rl, float xl, size_t n) {
    double sp = 0, sx = 0;
    #pragma omp parallel for simd schedule(static) reduction(+:sp, sx)
    for (size_t i = 0; i < n; i++) {
        float d = dres[i];
        sp += d * prev[i];
        sx += d * x0[i];
        dx0[i] += xl * d;
        dres[i] = rl * d;
        if (dresm) dresm[i] = to_mm(rl * d);
    }
    *drl += (float)sp;
    *dxl += (float)sx;
}

// dwte[inp[n]] += rmsnorm backward of dx0 (rows of the same token add up: each thread owns a
// slice of the channels, so no two threads write the same element)
static void embed_backward(float *dwte, const float *dx0, const float *wte, const float *rstd,
                           const int32_t *inp, int N, int C, float *scratch) {
    // scratch (N,C): per-token gradient wrt the raw embedding row
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        rmsnorm_backward_row(scratch + (size_t)n * C, dx0 + (size_t)n * C, wte + (size_t)inp[n] * C, rstd[n], C, 0);
    #pragma omp parallel
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int c0 = C * id / nt, c1 = C * (id + 1) / nt;
        for (int n = 0; n < N; n++) {
            float *d = dwte + (size_t)inp[n] * C;
            const float *s = scratch + (size_t)n * C;
            for (int i = c0; i < c1; i++) d[i] += s[i];
        }
    }
}

// ----------------------------------------------------------------------------
// Value embeddings: v += 2*sigmoid(W_gate @ ln1[:, :G]) * ve[inp], one gate per KV head

static void ve_forward(float *qkv, float *gate, const float *ve, const float *wg, const float *xin,
                       const float *rstd, const int32_t *inp, const Config *c, int N) {
    int QKV = qkv_dim(c), G = gate_ch(c), KVD = c->NKV * c->hs, voff = (c->NH + c->NKV) * c->hs;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = xin + (size_t)n * c->C;
        const float *e = ve + (size_t)inp[n] * KVD;
        float *v = qkv + (size_t)n * QKV + voff;
        for (int h = 0; h < c->NKV; h++) {
            float z = 0.0f;
            for (int i = 0; i < G; i++) z += wg[h * G + i] * x[i];
            z *= rstd[n];   // the gate reads the normed input: x * rstd
            float g = 2.0f / (1.0f + expf(-z));
            gate[(size_t)n * c->NKV + h] = g;
            for (int d = 0; d < c->hs; d++) v[h * c->hs + d] += g * e[h * c->hs + d];
        }
    }
}

// From dv (the v slot of dqkv): dve[inp] += g*dv; dgate_pre = (dv . ve) * g*(1-g/2)
// (d/dz 2*sigmoid(z) = 2s(1-s) = g(1-g/2)); dwg += dgate_pre^T @ ln1[:, :G].
static void ve_backward(float *dve, float *dwg, float *dgate, const float *dqkv, const float *gate,
                        const float *ve, const float *xin, const float *rstd, const int32_t *inp,
                        const Config *c, int N) {
    int QKV = qkv_dim(c), G = gate_ch(c), KVD = c->NKV * c->hs, voff = (c->NH + c->NKV) * c->hs;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *dv = dqkv + (size_t)n * QKV + voff;
        const float *e = ve + (size_t)inp[n] * KVD;
        for (int h = 0; h < c->NKV; h++) {
            float s = 0.0f, g = gate[(size_t)n * c->NKV + h];
            for (int d = 0; d < c->hs; d++) s += dv[h * c->hs + d] * e[h * c->hs + d];
            dgate[(size_t)n * c->NKV + h] = s * g * (1.0f - 0.5f * g);
        }
    }
    #pragma omp parallel
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int c0 = KVD * id / nt, c1 = KVD * (id + 1) / nt;
        for (int n = 0; n < N; n++) {
            float *d = dve + (size_t)inp[n] * KVD;
            const float *dv = dqkv + (size_t)n * QKV + voff;
            const float *g = gate + (size_t)n * c->NKV;
            for (int i = c0; i < c1; i++) d[i] += g[i / c->hs] * dv[i];
        }
    }
    #pragma omp parallel for schedule(static)
    for (int k = 0; k < c->NKV * G; k++) {
        int h = k / G, i = k % G;
        double s = 0;
        for (int n = 0; n < N; n++) s += dgate[(size_t)n * c->NKV + h] * xin[(size_t)n * c->C + i] * rstd[n];
        dwg[k] += (float)s;
    }
}

// dln1[:, :G] += dgate_pre @ W_gate
static void ve_gate_dx(float *dln, const float *dgate, const float *wg, const Config *c, int N) {
    int G = gate_ch(c);
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int h = 0; h < c->NKV; h++) {
            float dg = dgate[(size_t)n * c->NKV + h];
            for (int i = 0; i < G; i++) dln[(size_t)n * c->C + i] += dg * wg[h * G + i];
        }
}

// ----------------------------------------------------------------------------
// RoPE then QK-norm, in place on the q and k slots of qkv (N,QKV); then q, k and v go out
// head-major in the matmul type for attention: qh (B,NH,T,hs), kh and vh (B,NKV,T,hs).
// nanochat's rotation: y1 = x1*cos + x2*sin, y2 = -x1*sin + x2*cos over the two halves.

// Offset of position t of head h in a head-major (B,nheads,T,hs) tensor
static size_t head_off(const Config *c, int nheads, int b, int h, int t) {
    return (((size_t)b * nheads + h) * c->T + t) * c->hs;
}

// Where head h of qkv's row n (q heads, then k, then v) goes head-major: returns the offset,
// and in *which 0 for qh, 1 for kh, 2 for vh
static size_t qkv_head_off(const Config *c, int n, int h, int *which) {
    int b = n / c->T, t = n % c->T;
    *which = h < c->NH ? 0 : h < c->NH + c->NKV ? 1 : 2;
    return *which == 0 ? head_off(c, c->NH, b, h, t) : head_off(c, c->NKV, b, (h - c->NH) % c->NKV, t);
}

static void rope_norm_forward(float *qkv, float *qkr, mm_t *qh, mm_t *kh, mm_t *vh, const float *cosb,
                              const float *sinb, const Config *c, int N) {
    int QKV = qkv_dim(c), nh = c->NH + c->NKV, hs = c->hs, half = hs / 2;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *cs = cosb + (size_t)(n % c->T) * half, *sn = sinb + (size_t)(n % c->T) * half;
        for (int h = 0; h < nh + c->NKV; h++) {
            float *x = qkv + (size_t)n * QKV + h * hs;
            if (h < nh) {   // q and k heads
                for (int i = 0; i < half; i++) {
                    float x1 = x[i], x2 = x[i + half];
                    x[i] = x1 * cs[i] + x2 * sn[i];
                    x[i + half] = -x1 * sn[i] + x2 * cs[i];
                }
                float r = rms_row(x, hs);
                for (int i = 0; i < hs; i++) x[i] *= r;
                qkr[(size_t)n * nh + h] = r;
            }
            int which;
            size_t off = qkv_head_off(c, n, h, &which);
            mm_t *y = (which == 0 ? qh : which == 1 ? kh : vh) + off;
            for (int i = 0; i < hs; i++) y[i] = to_mm(x[i]);
        }
    }
}

// Gathers dq, dk, dv from head-major (dqh (B,NH,T,hs), dkh and dvh (B,NKV,T,hs)) into the
// rows of dqkv, then on the q and k slots: norm backward (y saved in qkv), then the inverse
// rotation. dqkvm (if not NULL) gets a bf16 copy of the whole dqkv row, v slot included.
static void rope_norm_backward(float *dqkv, mm_t *dqkvm, const float *dqh, const float *dkh, const float *dvh,
                               const float *qkv, const float *qkr, const float *cosb, const float *sinb,
                               const Config *c, int N) {
    int QKV = qkv_dim(c), nh = c->NH + c->NKV, hs = c->hs, half = hs / 2;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *cs = cosb + (size_t)(n % c->T) * half, *sn = sinb + (size_t)(n % c->T) * half;
        for (int h = 0; h < nh + c->NKV; h++) {
            float *d = dqkv + (size_t)n * QKV + h * hs;
            int which;
            size_t off = qkv_head_off(c, n, h, &which);
            memcpy(d, (which == 0 ? dqh : which == 1 ? dkh : dvh) + off, hs * sizeof(float));
            if (h >= nh) continue;   // v: no rotation or norm
            const float *y = qkv + (size_t)n * QKV + h * hs;
            float r = qkr[(size_t)n * nh + h];
            float dot = 0.0f;
            for (int i = 0; i < hs; i++) dot += d[i] * y[i];
            dot /= hs;
            for (int i = 0; i < hs; i++) d[i] = r * (d[i] - y[i] * dot);
            for (int i = 0; i < half; i++) {
                float g1 = d[i], g2 = d[i + half];
                d[i] = g1 * cs[i] - g2 * sn[i];
                d[i + half] = g1 * sn[i] + g2 * cs[i];
            }
        }
        if (dqkvm) for (int i = 0; i < QKV; i++) dqkvm[(size_t)n * QKV + i] = to_mm(dqkv[(size_t)n * QKV + i]);
    }
}

// ----------------------------------------------------------------------------
// Causal sliding-window attention, scale 1/sqrt(hs): query i sees keys max(0, i-W)..i
// (flash-attn window_size=(W,0)). The products QK^T, PV and their gradients are oneDNN
// matmuls (bf16 inputs in the default build, like flash attention under autocast); the
// softmaxes are fp32. With qh (B,NH,T,hs) and kh, vh (B,NKV,T,hs) head-major, one batched
// matmul over the B*NKV (sequence, KV head) pairs serves query head hh of every group of
// NH/NKV heads that share a KV head (grouped-query attention). S (B*NH,T,T) holds the scores,
// P the probabilities. Queries go in blocks of qblock rows, and a block multiplies only the
// keys its rows can see: with 8 blocks a causal layer does 36/64 of the full (T,T) products.
// P is kept per layer for the backward, which saves recomputing the scores: at the defaults
// it is 2 MB a layer, as much as the MLP's activation (flash attention recomputes it because a
// GPU's T is larger and its fast memory smaller).

typedef struct { int i0, R, lo, nk; } AttnBlock;   // rows i0..i0+R-1 see keys lo..lo+nk-1

// Rows per block: qblock; or, with qblock 0, the whole square, unless the window is under half
// the context (then blocks of W rows, so the work stays O(T*W) however small W is)
static int attn_qblock(const Config *c, int W) {
    if (c->qblock > 0) return c->qblock < c->T ? c->qblock : c->T;
    return 2 * W >= c->T ? c->T : W > 16 ? W : 16;
}

// The block of query row i
static AttnBlock attn_block(const Config *c, int i, int W) {
    int qb = attn_qblock(c, W);
    AttnBlock k = {.i0 = i - i % qb};
    k.R = c->T - k.i0 < qb ? c->T - k.i0 : qb;
    k.lo = k.i0 - W > 0 ? k.i0 - W : 0;
    k.nk = k.i0 + k.R - k.lo;
    return k;
}

// exp for the softmaxes and the softcap, in plain C that compilers vectorise inside `omp simd`
// loops (glibc's expf does not vectorise without -ffast-math): Cody-Waite range reduction and
// a degree-6 polynomial, about 1 ulp. Inputs are clamped to [-87, 88], so exp of a very
// negative number is ~1e-38, not 0. The clamps are comparisons, not fminf/fmaxf, so that a NaN
// passes through and a diverged run shows up as a NaN loss instead of a finite one (the
// Makefile's -fno-trapping-math lets CPUs without masked vector ops vectorise them). Measured
// on the head's softcap + softmax + gradient, one thread: AVX2 9-12x faster than a loop over
// expf; AVX-512 between 17% faster and 9% slower than the hand-written intrinsics this
// replaced, over repeated runs on a shared machine (under 0.2% of a step either way).
static inline float exp_fast(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    // n = round(x / ln2): adding 1.5*2^23 rounds to an integer, which lands in the low bits
    union { float f; uint32_t u; } t = {.f = x * 1.44269504089f + 12582912.0f};
    float n = t.f - 12582912.0f;
    float r = x - n * 0.693359375f;   // r = x - n ln2, ln2 in two parts
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;       // exp(r) on [-ln2/2, ln2/2]
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + (r + 1.0f);
    union { uint32_t u; float f; } e = {.u = (t.u - 0x4B400000u + 127u) << 23};   // 2^n
    return p * e.f;
}

// s[j] = exp(s[j]*scale - sub) for j0 <= j <= j1, 0 elsewhere, over j < n; returns the sum
static float exp_row_masked(float *s, int n, float scale, float sub, int j0, int j1) {
    float sum = 0.0f;
    #pragma omp simd reduction(+:sum)
    for (int j = 0; j < n; j++) {
        s[j] = j >= j0 && j <= j1 ? exp_fast(s[j] * scale - sub) : 0.0f;
        sum += s[j];
    }
    return sum;
}

// oh (B,NH,T,hs) = P V with P (B,NH,T,T) = softmax(scale * Q K^T); att_mm (N,C) gets oh in
// the (token, channel) layout for the output projection
static void attention_forward(float *oh, mm_t *att_mm, mm_t *P, const mm_t *qh, const mm_t *kh,
                              const mm_t *vh, GPT *m, int B, int W) {
    const Config *c = &m->cfg;
    int T = c->T, hs = c->hs, NH = c->NH, grp = NH / c->NKV, nb = B * c->NKV, qb = attn_qblock(c, W);
    long qs = (long)grp * T * hs, kvs = (long)T * hs, ss = (long)grp * T * T;   // batch strides
    float scale = 1.0f / sqrtf((float)hs);
    for (int hh = 0; hh < grp; hh++)   // S = Q K^T
        for (int i0 = 0; i0 < T; i0 += qb) {
            AttnBlock k = attn_block(c, i0, W);
            Mat q = {qh + ((size_t)hh * T + i0) * hs, hs, qs}, kk = {kh + (size_t)k.lo * hs, hs, kvs};
            Mat s = {m->S + ((size_t)hh * T + i0) * T + k.lo, T, ss};
            matmul_mat(s, q, kk, nb, k.R, hs, k.nk, 0, 1, 0, MM_BF16);
        }
    #pragma omp parallel for schedule(static)
    for (int row = 0; row < B * NH * T; row++) {   // P = softmax over the visible keys
        int i = row % T;
        AttnBlock k = attn_block(c, i, W);
        float *s = m->S + (size_t)row * T + k.lo;
        int j0 = (i - W > 0 ? i - W : 0) - k.lo, j1 = i - k.lo;
        float mx = -INFINITY;
        #pragma omp simd reduction(max:mx)
        for (int j = j0; j <= j1; j++) mx = s[j] > mx ? s[j] : mx;
        float inv = 1.0f / exp_row_masked(s, k.nk, scale, mx * scale, j0, j1);
        mm_t *p = P + (size_t)row * T + k.lo;
        for (int j = 0; j < k.nk; j++) p[j] = to_mm(s[j] * inv);
    }
    for (int hh = 0; hh < grp; hh++)   // O = P V
        for (int i0 = 0; i0 < T; i0 += qb) {
            AttnBlock k = attn_block(c, i0, W);
            Mat p = {P + ((size_t)hh * T + i0) * T + k.lo, T, ss}, v = {vh + (size_t)k.lo * hs, hs, kvs};
            Mat o = {oh + ((size_t)hh * T + i0) * hs, hs, qs};
            matmul_mat(o, p, v, nb, k.R, k.nk, hs, 0, 0, 0, MM_BF16);
        }
    #pragma omp parallel for schedule(static)
    for (int row = 0; row < B * NH * T; row++) {
        int b = row / (NH * T), h = row / T % NH, t = row % T;
        mm_t *d = att_mm + ((size_t)b * T + t) * c->C + h * hs;
        for (int i = 0; i < hs; i++) d[i] = to_mm(oh[(size_t)row * hs + i]);
    }
}

// Given datt (N,C), writes dqh (B,NH,T,hs) and dkh, dvh (B,NKV,T,hs):
//   dP = dO V^T; D = rowsum(dO*O); dS = P*(dP - D)*scale; dQ = dS K; dK = dS^T Q; dV = P^T dO
static void attention_backward(float *dqh, float *dkh, float *dvh, const float *datt, const float *oh,
                               const mm_t *P, const mm_t *qh, const mm_t *kh, const mm_t *vh,
                               GPT *m, int B, int W) {
    const Config *c = &m->cfg;
    int T = c->T, hs = c->hs, NH = c->NH, grp = NH / c->NKV, nb = B * c->NKV, qb = attn_qblock(c, W);
    long qs = (long)grp * T * hs, kvs = (long)T * hs, ss = (long)grp * T * T;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for schedule(static)
    for (int row = 0; row < B * NH * T; row++) {   // dO head-major; D
        int b = row / (NH * T), h = row / T % NH, t = row % T;
        const float *d = datt + ((size_t)b * T + t) * c->C + h * hs, *o = oh + (size_t)row * hs;
        float D = 0.0f;
        #pragma omp simd reduction(+:D)
        for (int i = 0; i < hs; i++) { D += d[i] * o[i]; m->dOh[(size_t)row * hs + i] = to_mm(d[i]); }
        m->Drow[row] = D;
    }
    for (int hh = 0; hh < grp; hh++)   // dP = dO V^T
        for (int i0 = 0; i0 < T; i0 += qb) {
            AttnBlock k = attn_block(c, i0, W);
            Mat dO = {m->dOh + ((size_t)hh * T + i0) * hs, hs, qs}, v = {vh + (size_t)k.lo * hs, hs, kvs};
            matmul_mat((Mat){m->dP + ((size_t)hh * T + i0) * T + k.lo, T, ss}, dO, v, nb, k.R, hs, k.nk, 0, 1, 0, MM_BF16);
        }
    #pragma omp parallel for schedule(static)
    for (int row = 0; row < B * NH * T; row++) {   // dS (zero where P is)
        AttnBlock k = attn_block(c, row % T, W);
        size_t so = (size_t)row * T + k.lo;
        float D = m->Drow[row];
        for (int j = 0; j < k.nk; j++) m->dS[so + j] = to_mm(from_mm(P[so + j]) * (m->dP[so + j] - D) * scale);
    }
    memset(dkh, 0, (size_t)nb * T * hs * sizeof(float));
    memset(dvh, 0, (size_t)nb * T * hs * sizeof(float));
    for (int hh = 0; hh < grp; hh++)
        for (int i0 = 0; i0 < T; i0 += qb) {
            AttnBlock k = attn_block(c, i0, W);
            size_t qo = ((size_t)hh * T + i0) * hs, so = ((size_t)hh * T + i0) * T + k.lo;
            Mat q = {qh + qo, hs, qs}, dO = {m->dOh + qo, hs, qs}, kk = {kh + (size_t)k.lo * hs, hs, kvs};
            Mat dS = {m->dS + so, T, ss}, p = {P + so, T, ss};
            matmul_mat((Mat){dqh + qo, hs, qs}, dS, kk, nb, k.R, k.nk, hs, 0, 0, 0, MM_BF16);   // dQ = dS K
            Mat dk = {dkh + (size_t)k.lo * hs, hs, kvs}, dv = {dvh + (size_t)k.lo * hs, hs, kvs};
            matmul_mat(dk, dS, q, nb, k.nk, k.R, hs, 1, 0, 1, MM_BF16);    // dK += dS^T Q
            matmul_mat(dv, p, dO, nb, k.nk, k.R, hs, 1, 0, 1, MM_BF16);    // dV += P^T dO
        }
}

// ----------------------------------------------------------------------------
// MLP activation relu(x)^2: the forward is fused into the fc matmul (MM_RELU2)

// dh = dout * 2*relu(x), relu(x) = sqrt(hact): into dhm (bf16) if not NULL, else in place
static void relu2_backward(mm_t *dhm, float *dh, const mm_t *hact, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float d = dh[i] * 2.0f * sqrtf(from_mm(hact[i]));
        if (dhm) dhm[i] = to_mm(d); else dh[i] = d;
    }
}

// ----------------------------------------------------------------------------
// Forward pass over inputs (B,T): fills the activations up to the final norm.

static void gpt_forward(GPT *m, const int32_t *inp, int B) {
    const Config *c = &m->cfg;
    Acts *a = &m->a;
    int N = B * c->T, C = c->C, F = c->F, QKV = qkv_dim(c);
    size_t NC = (size_t)N * C, TT = (size_t)B * c->NH * c->T * c->T;
    const float *P = m->params;
    embed_forward(a->x0, a->rstd0, P + m->wte, inp, N, C);
    for (int l = 0; l < c->NL; l++) {
        const LayerOff *o = &m->lo[l];
        float *xin = a->xin + l * NC, *rstd1 = a->rstd1 + (size_t)l * N;
        mm_t *ln1 = a->ln1 + l * NC;
        float *qkv = a->qkv + (size_t)l * N * QKV;
        size_t KVL = (size_t)l * N * c->NKV * c->hs;
        const float *prev = l ? a->bout + (l - 1) * NC : a->x0;
        // x = resid_lambda * x + x0_lambda * x0; ln1 = norm(x)
        mix_norm_forward(xin, ln1, rstd1, prev, a->x0, P[m->rl + l], P[m->xl + l], N, C);
        // q,k,v = ln1 @ [wq;wk;wv]^T
        matmul(qkv, ln1, m->wmm + o->wq, N, C, QKV, 0, 1, 0, MM_BF16);
        if (has_ve(c, l))
            ve_forward(qkv, a->gate + (size_t)l * N * c->NKV, P + o->ve, P + o->vegate, xin, rstd1, inp, c, N);
        rope_norm_forward(qkv, a->qkr + (size_t)l * N * (c->NH + c->NKV), a->qh + l * NC, a->kh + KVL,
                          a->vh + KVL, m->cos, m->sin, c, N);
        attention_forward(a->oh + l * NC, a->att + l * NC, a->P + l * TT, a->qh + l * NC,
                          a->kh + KVL, a->vh + KVL, m, B, c->window[l]);
        // x = x + att @ wo^T; ln2 = norm(x)
        matmul(m->tmp, a->att + l * NC, m->wmm + o->wo, N, C, C, 0, 1, 0, MM_BF16);
        add_norm_forward(a->xmid + l * NC, a->ln2 + l * NC, a->rstd2 + (size_t)l * N, xin, m->tmp, N, C);
        // x = x + relu(ln2 @ wfc^T)^2 @ wproj^T
        matmul(a->hact + (size_t)l * N * F, a->ln2 + l * NC, m->wmm + o->wfc, N, C, F, 0, 1, MM_RELU2,
               MM_BF16 ? MM_OUT_BF16 : 0);
        matmul(m->tmp, a->hact + (size_t)l * N * F, m->wmm + o->wproj, N, F, C, 0, 1, 0, MM_BF16);
        add_norm_forward(a->bout + l * NC, NULL, NULL, a->xmid + l * NC, m->tmp, N, C);
    }
    // final norm
    const float *xL = a->bout + (c->NL - 1) * NC;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = xL + (size_t)n * C;
        float r = rms_row(x, C);
        for (int i = 0; i < C; i++) a->lnf[(size_t)n * C + i] = to_mm(x[i] * r);
        a->rstdf[n] = r;
    }
}

// ----------------------------------------------------------------------------
// Head, softcap and cross-entropy, HEAD_ROWS rows at a time, so that the (rows,V) logits are
// a bounded buffer (4 MB at 256 rows; measured: 512- and 1024-row chunks within 5% of it).
// Writes nll[N] (nats). With dscale > 0 it also runs the head's backward for the loss
// dscale * sum(nll): dlogits -> dW_head (accumulated) and dlnf (into m->dln).

#define SOFTCAP 15.0f

// z = 15 tanh(z/15) in place, tanh(u) = 1 - 2/(1 + exp(2u)); returns max(z)
static float softcap_max(float *z, int n) {
    float mx = -INFINITY;
    #pragma omp simd reduction(max:mx)
    for (int i = 0; i < n; i++) {
        z[i] = SOFTCAP * (1.0f - 2.0f / (1.0f + exp_fast(z[i] * (2.0f / SOFTCAP))));
        mx = z[i] > mx ? z[i] : mx;
    }
    return mx;
}

// sum of exp(z - mx)
static float sum_exp(const float *z, int n, float mx) {
    float sum = 0.0f;
    #pragma omp simd reduction(+:sum)
    for (int i = 0; i < n; i++) sum += exp_fast(z[i] - mx);
    return sum;
}

// dz = ps * exp(z - mx) * (1 - (z/15)^2): the loss gradient wrt the raw logits, but for the
// -1 at the target (ps = dscale / sum). dz may be z itself (the fp32 build).
static void softcap_grad(mm_t *dz, const float *z, int n, float mx, float ps) {
    #pragma omp simd
    for (int i = 0; i < n; i++) {
        float th = z[i] * (1.0f / SOFTCAP);
        dz[i] = to_mm(ps * exp_fast(z[i] - mx) * (1.0f - th * th));
    }
}

static double gpt_head(GPT *m, const int32_t *tgt, int B, float *nll, float dscale) {
    const Config *c = &m->cfg;
    int N = B * c->T, C = c->C, V = c->V;
    double total = 0;
    for (int r0 = 0; r0 < N; r0 += HEAD_ROWS) {
        int R = N - r0 < HEAD_ROWS ? N - r0 : HEAD_ROWS;
        const mm_t *x = m->a.lnf + (size_t)r0 * C;
        matmul(m->logits, x, m->wmm + m->head, R, C, V, 0, 1, 0, MM_BF16);
        double chunk = 0;
        #pragma omp parallel for schedule(static) reduction(+:chunk)
        for (int t = 0; t < R; t++) {
            float *z = m->logits + (size_t)t * V;
            int y = tgt[r0 + t];
            float mx = softcap_max(z, V);
            float sum = sum_exp(z, V, mx);
            float loss = mx + logf(sum) - z[y];
            nll[r0 + t] = loss;
            chunk += loss;
            if (dscale > 0.0f) {
                // dz = softmax - onehot; through the softcap: d/dx 15 tanh(x/15) = 1 - (z/15)^2
                float th = z[y] * (1.0f / SOFTCAP), dy = (dscale / sum * exp_fast(z[y] - mx) - dscale) * (1.0f - th * th);
                mm_t *dz = m->dlog_mm + (size_t)t * V;
                softcap_grad(dz, z, V, mx, dscale / sum);
                dz[y] = to_mm(dy);
            }
        }
        total += chunk;
        if (dscale > 0.0f) {
            matmul(m->dln + (size_t)r0 * C, m->dlog_mm, m->wmm + m->head, R, V, C, 0, 0, 0, MM_BF16);
            matmul(m->grads + m->head, m->dlog_mm, x, V, R, C, 1, 0, 1, MM_BF16);
        }
    }
    return total;
}

// Logits for the evaluation (after gpt_forward): the head and the softcap on every row,
// written to out (B*T, V); the fixed layer takes the log-softmax.
static void gpt_logits(GPT *m, int B, float *out) {
    const Config *c = &m->cfg;
    int N = B * c->T, C = c->C, V = c->V;
    for (int r0 = 0; r0 < N; r0 += HEAD_ROWS) {
        int R = N - r0 < HEAD_ROWS ? N - r0 : HEAD_ROWS;
        float *z = out + (size_t)r0 * V;
        matmul(z, m->a.lnf + (size_t)r0 * C, m->wmm + m->head, R, C, V, 0, 1, 0, MM_BF16);
        #pragma omp parallel for schedule(static)
        for (int t = 0; t < R; t++) softcap_max(z + (size_t)t * V, V);
    }
}

// ----------------------------------------------------------------------------
// Backward pass (after gpt_forward and gpt_head with dscale > 0): accumulates into m->grads.

static void gpt_backward(GPT *m, const int32_t *inp, int B) {
    const Config *c = &m->cfg;
    Acts *a = &m->a;
    int N = B * c->T, C = c->C, F = c->F, QKV = qkv_dim(c);
    size_t NC = (size_t)N * C, TT = (size_t)B * c->NH * c->T * c->T;
    const float *P = m->params;
    float *G = m->grads;
    // final norm: dres = d bout[L-1]
    rmsnorm_backward(m->dres, m->dres_mm, m->dln, a->bout + (c->NL - 1) * NC, a->rstdf, N, C, 0);
    memset(m->dx0, 0, NC * sizeof(float));
    for (int l = c->NL - 1; l >= 0; l--) {
        const LayerOff *o = &m->lo[l];
        float *xin = a->xin + l * NC, *rstd1 = a->rstd1 + (size_t)l * N;
        float *qkv = a->qkv + (size_t)l * N * QKV;
        const float *prev = l ? a->bout + (l - 1) * NC : a->x0;
        // x = xmid + hact @ wproj^T
        const mm_t *dres = mm_view(m->dres, m->dres_mm);
        matmul(G + o->wproj, dres, a->hact + (size_t)l * N * F, C, N, F, 1, 0, 1, MM_BF16);
        matmul(m->dh, dres, m->wmm + o->wproj, N, C, F, 0, 0, 0, MM_BF16);
        // hact = relu(ln2 @ wfc^T)^2
        relu2_backward(m->dh_mm, m->dh, a->hact + (size_t)l * N * F, (size_t)N * F);
        const mm_t *dh = mm_view(m->dh, m->dh_mm);
        matmul(G + o->wfc, dh, a->ln2 + l * NC, F, N, C, 1, 0, 1, MM_BF16);
        matmul(m->dln, dh, m->wmm + o->wfc, N, F, C, 0, 0, 0, MM_BF16);
        // ln2 = norm(xmid); xmid = xin + att @ wo^T
        rmsnorm_backward(m->dres, m->dres_mm, m->dln, a->xmid + l * NC, a->rstd2 + (size_t)l * N, N, C, 1);
        dres = mm_view(m->dres, m->dres_mm);
        matmul(G + o->wo, dres, a->att + l * NC, C, N, C, 1, 0, 1, MM_BF16);
        matmul(m->datt, dres, m->wmm + o->wo, N, C, C, 0, 0, 0, MM_BF16);
        // attention, QK-norm, RoPE, value embeddings
        size_t KVL = (size_t)l * N * c->NKV * c->hs;
        attention_backward(m->dqh, m->dkh, m->dvh, m->datt, a->oh + l * NC, a->P + l * TT,
                           a->qh + l * NC, a->kh + KVL, a->vh + KVL, m, B, c->window[l]);
        rope_norm_backward(m->dqkv, m->dqkv_mm, m->dqh, m->dkh, m->dvh, qkv, a->qkr + (size_t)l * N * (c->NH + c->NKV),
                           m->cos, m->sin, c, N);
        if (has_ve(c, l))
            ve_backward(G + o->ve, G + o->vegate, m->dgate, m->dqkv, a->gate + (size_t)l * N * c->NKV,
                        P + o->ve, xin, rstd1, inp, c, N);
        // qkv = ln1 @ [wq;wk;wv]^T
        const mm_t *dqkv = mm_view(m->dqkv, m->dqkv_mm);
        matmul(G + o->wq, dqkv, a->ln1 + l * NC, QKV, N, C, 1, 0, 1, MM_BF16);
        matmul(m->dln, dqkv, m->wmm + o->wq, N, QKV, C, 0, 0, 0, MM_BF16);
        if (has_ve(c, l)) ve_gate_dx(m->dln, m->dgate, P + o->vegate, c, N);
        // ln1 = norm(xin)
        rmsnorm_backward(m->dres, NULL, m->dln, xin, rstd1, N, C, 1);
        // xin = resid_lambda * prev + x0_lambda * x0
        mix_backward(m->dres, m->dres_mm, m->dx0, G + m->rl + l, G + m->xl + l, prev, a->x0, P[m->rl + l], P[m->xl + l], NC);
    }
    // block 0's prev is x0 itself
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < NC; i++) m->dx0[i] += m->dres[i];
    embed_backward(G + m->wte, m->dx0, P + m->wte, a->rstd0, inp, N, C, m->tmp);
}

// One micro-batch: forward, loss, backward. Gradients of loss * grad_scale accumulate into
// m->grads (grad_scale = 1/accumulation steps). Returns the mean loss over the B*T tokens.
static float gpt_forward_backward(GPT *m, const int32_t *inp, const int32_t *tgt, int B, float grad_scale) {
    int N = B * m->cfg.T;
    gpt_forward(m, inp, B);
    double loss = gpt_head(m, tgt, B, m->nll, grad_scale / N);
    gpt_backward(m, inp, B);
    return (float)(loss / N);
}

static void gpt_zero_grad(GPT *m) { memset(m->grads, 0, m->nparams * sizeof(float)); }

// ----------------------------------------------------------------------------
// Optimizer: MuonAdamW (nanochat / autoresearch)

// Polar Express coefficients (Amsel et al. 2025), as in nanochat: 5 iterations of
// X <- a X + (b A + c A^2) X with A = X X^T.
static const float polar_express_coeffs[5][3] = {
    {8.156554524902461f, -22.48329292557795f, 15.878769915207462f},
    {4.042929935166739f, -2.808917465908714f, 0.5000178451051316f},
    {3.8916678022926607f, -2.772484153217685f, 0.5060648178503393f},
    {3.285753657755655f, -2.3681294933425376f, 0.46449024233003106f},
    {2.3465413258596377f, -1.7097828382687081f, 0.42323551169305323f},
};

// Each of the nb (rows,cols) matrices at g <- approximately U V^T of its SVD. A = X X^T is the
// small square (X^T X for a tall matrix: matmul reads the transpose through strides, nothing is
// copied). Same-shape matrices go through one batched matmul: measured 3x faster than one call
// each for the 256x256 ones. The matmuls read and write pe_t (bf16 where the CPU has it, like
// the original's X.bfloat16() iterations), with X itself kept in fp32.
static void polar_express(float *g, int nb, int rows, int cols, GPT *m) {
    int tall = rows > cols, r = tall ? cols : rows;
    size_t n = (size_t)rows * cols, rr = (size_t)r * r;
    float *X = g, *Y = m->oy;
    pe_t *Xm = m->oxm, *A = m->oam, *A2 = m->oa2m;
    int out = PE_BF16 ? MM_OUT_BF16 : 0;
    for (int b = 0; b < nb; b++) {   // X /= (|X|_F * 1.02 + 1e-6), per matrix
        double ss = 0;
        float *x = X + b * n;
        #pragma omp parallel for simd schedule(static) reduction(+:ss)
        for (size_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
        float inv = 1.0f / ((float)sqrt(ss) * 1.02f + 1e-6f);
        #pragma omp parallel for
        for (size_t i = 0; i < n; i++) { x[i] *= inv; Xm[b * n + i] = to_pe(x[i]); }
    }
    for (int it = 0; it < 5; it++) {
        float ca = polar_express_coeffs[it][0], cb = polar_express_coeffs[it][1], cc = polar_express_coeffs[it][2];
        if (tall) matmul_batch(A, Xm, Xm, nb, r, rows, r, 1, 0, 0, out);   // A = X^T X
        else      matmul_batch(A, Xm, Xm, nb, r, cols, r, 0, 1, 0, out);   // A = X X^T
        matmul_batch(A2, A, A, nb, r, r, r, 0, 0, 0, out);                 // A2 = A A
        #pragma omp parallel for
        for (size_t i = 0; i < nb * rr; i++) A[i] = to_pe(cb * from_pe(A[i]) + cc * from_pe(A2[i]));
        if (tall) matmul_batch(Y, Xm, A, nb, rows, r, r, 0, 0, 0, PE_BF16);   // Y = X (bA + cA^2)
        else      matmul_batch(Y, A, Xm, nb, r, r, cols, 0, 0, 0, PE_BF16);   // Y = (bA + cA^2) X
        #pragma omp parallel for
        for (size_t i = 0; i < nb * n; i++) { X[i] = ca * X[i] + Y[i]; Xm[i] = to_pe(X[i]); }
    }
}

// NorMuon: per-row (rows >= cols) or per-column second moment of the orthogonalised update,
// EMA with beta2; the update is divided by its root, then rescaled to keep its Frobenius norm.
static void normuon(float *g, float *v2, float *step, int rows, int cols, float beta2) {
    int per_row = rows >= cols, nstat = per_row ? rows : cols, red = per_row ? cols : rows;
    // step[s] = mean of g^2 over the reduced dimension (v_mean), for now
    if (per_row) {
        #pragma omp parallel for schedule(static)
        for (int i = 0; i < rows; i++) {
            double acc = 0;
            #pragma omp simd reduction(+:acc)
            for (int j = 0; j < cols; j++) acc += (double)g[(size_t)i * cols + j] * g[(size_t)i * cols + j];
            step[i] = (float)(acc / red);
        }
    } else {
        #pragma omp parallel
        {   // each thread owns a range of columns
            int nt = omp_get_num_threads(), id = omp_get_thread_num();
            int c0 = cols * id / nt, c1 = cols * (id + 1) / nt;
            for (int j = c0; j < c1; j++) step[j] = 0.0f;
            for (int i = 0; i < rows; i++)
                for (int j = c0; j < c1; j++) step[j] += g[(size_t)i * cols + j] * g[(size_t)i * cols + j];
            for (int j = c0; j < c1; j++) step[j] /= red;
        }
    }
    double norm_sq = 0, new_sq = 0;
    for (int s = 0; s < nstat; s++) {
        float vm = step[s];
        norm_sq += (double)vm * red;
        v2[s] += (1.0f - beta2) * (vm - v2[s]);   // lerp toward v_mean
        step[s] = 1.0f / sqrtf(fmaxf(v2[s], 1e-10f));
        new_sq += (double)vm * red * step[s] * step[s];
    }
    float fix = (float)(sqrt(norm_sq) / fmax(sqrt(new_sq), 1e-10));
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            g[(size_t)i * cols + j] *= step[per_row ? i : j] * fix;
}

// Cautious weight decay: p -= lr * (u + wd * p * [u*p >= 0])
static void cautious_update(float *p, const float *u, size_t n, float lr, float wd) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float mask = u[i] * p[i] >= 0.0f ? 1.0f : 0.0f;
        p[i] -= lr * u[i] + lr * wd * p[i] * mask;
    }
}

static void adamw_update(float *p, const float *g, float *m1, float *m2, size_t n, float lr,
                         float b1, float b2, float eps, float wd, int t) {
    float bias1 = 1.0f - powf(b1, (float)t), bias2 = 1.0f - powf(b2, (float)t);
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        p[i] *= 1.0f - lr * wd;
        m1[i] += (1.0f - b1) * (g[i] - m1[i]);
        m2[i] += (1.0f - b2) * (g[i] * g[i] - m2[i]);
        p[i] -= (lr / bias1) * (m1[i] / (sqrtf(m2[i] / bias2) + eps));
    }
}

// One optimizer step with the schedules' current values: lrm multiplies every lr.
static void gpt_optimizer_step(GPT *m, float lrm, float momentum, float wd) {
    float dmodel_scale = powf(m->cfg.C / 768.0f, -0.5f);
    m->adam_t++;
    for (int i = 0; i < m->ntensors; i++) {
        Tensor *t = &m->tensors[i];
        size_t n = (size_t)t->rows * t->cols;
        float *p = m->params + t->off, *g = m->grads + t->off, *m1 = m->m1 + t->off, *m2 = m->m2 + t->off;
        switch (t->group) {
        case G_HEAD:  adamw_update(p, g, m1, m2, n, UNEMBEDDING_LR * dmodel_scale * lrm, ADAM_BETA1, ADAM_BETA2, 1e-10f, 0.0f, m->adam_t); break;
        case G_EMBED:
        case G_VE:    adamw_update(p, g, m1, m2, n, EMBEDDING_LR * dmodel_scale * lrm, ADAM_BETA1, ADAM_BETA2, 1e-10f, 0.0f, m->adam_t); break;
        case G_RESID: adamw_update(p, g, m1, m2, n, SCALAR_LR * 0.01f * lrm, ADAM_BETA1, ADAM_BETA2, 1e-10f, 0.0f, m->adam_t); break;
        case G_X0:    adamw_update(p, g, m1, m2, n, SCALAR_LR * lrm, 0.96f, 0.95f, 1e-10f, 0.0f, m->adam_t); break;
        }
    }
    // Muon, one group of same-shape matrices at a time (the original stacks them the same way)
    for (int gi = 0; gi < m->ngroups; gi++) {
        const MuonGroup *grp = &m->groups[gi];
        int rows = m->tensors[grp->t[0]].rows, cols = m->tensors[grp->t[0]].cols;
        size_t n = (size_t)rows * cols;
        for (int k = 0; k < grp->n; k++) {
            // Nesterov: buf = lerp(buf, g, 1-mu); g = lerp(g, buf, mu), into the stack
            size_t off = m->tensors[grp->t[k]].off;
            float *g = m->grads + off, *m1 = m->m1 + off, *x = m->ostack + k * n;
            #pragma omp parallel for schedule(static)
            for (size_t j = 0; j < n; j++) {
                m1[j] += (1.0f - momentum) * (g[j] - m1[j]);
                x[j] = g[j] + momentum * (m1[j] - g[j]);
            }
        }
        polar_express(m->ostack, grp->n, rows, cols, m);
        float lr = MATRIX_LR * lrm * sqrtf(fmaxf(1.0f, (float)rows / cols));
        for (int k = 0; k < grp->n; k++) {
            size_t off = m->tensors[grp->t[k]].off;
            float *u = m->ostack + k * n;
            normuon(u, m->m2 + off, m->oy, rows, cols, 0.95f);
            cautious_update(m->params + off, u, n, lr, wd);
        }
    }
    gpt_sync_mm(m);
}

// Schedules on progress = training time / budget
static float lr_multiplier(double progress) {
    if (progress < WARMUP_RATIO) return WARMUP_RATIO > 0 ? (float)(progress / WARMUP_RATIO) : 1.0f;
    if (progress < 1.0 - WARMDOWN_RATIO) return 1.0f;
    double cooldown = (1.0 - progress) / WARMDOWN_RATIO;
    return (float)(cooldown + (1.0 - cooldown) * FINAL_LR_FRAC);
}
static float muon_momentum(int step) { float f = step / 300.0f; if (f > 1.0f) f = 1.0f; return (1.0f - f) * 0.85f + f * 0.95f; }
static float muon_weight_decay(double progress) { return (float)(WEIGHT_DECAY * (1.0 - progress)); }

// ----------------------------------------------------------------------------
// Peak GFLOP/s of the matmul precision in use, for MFU: AUTORESEARCH_PEAK_GFLOPS if set, else
// measured here (outside the budget) as the best of a few 1024^3 oneDNN matmuls run for
// about `seconds`, the same primitive the model's matmuls use.

static double measure_matmul_gflops(int bf, double seconds) {
    int n = 1024;
    size_t nn = (size_t)n * n;
    void *A = xcalloc(nn, bf ? 2 : 4), *Bm = xcalloc(nn, bf ? 2 : 4);
    float *Cm = xcalloc(nn, 4);
    if (bf) { uint16_t *a = A, *b = Bm; for (size_t i = 0; i < nn; i++) a[i] = b[i] = 0x3f80; }
    else { float *a = A, *b = Bm; for (size_t i = 0; i < nn; i++) a[i] = b[i] = 1.0f; }
    matmul(Cm, A, Bm, n, n, n, 0, 0, 0, bf);   // warm-up (primitive creation, page faults)
    double best = 0, t_end = now_seconds() + seconds;
    while (now_seconds() < t_end) {
        double t0 = now_seconds();
        for (int r = 0; r < 4; r++) matmul(Cm, A, Bm, n, n, n, 0, 0, 0, bf);
        double g = 4 * 2.0 * n * (double)nn / (now_seconds() - t0) / 1e9;
        if (g > best) best = g;
    }
    free(A); free(Bm); free(Cm);
    return best;
}

static double peak_gflops(void) {
    const char *e = getenv("AUTORESEARCH_PEAK_GFLOPS");
    if (e && atof(e) > 0) return atof(e);
    return measure_matmul_gflops(MM_BF16, 1.0);
}

// ----------------------------------------------------------------------------
// Model file, written after training (outside the budget). Format, little-endian:
//   char magic[8] = "ARGPT01\0"
//   int32 V, T, C, NL, NH, NKV, hs, F
//   int32 window[NL]
//   int64 nparams
//   float32 params[nparams], tensors back to back in this order: wte (V,C), lm_head (V,C),
//     resid_lambdas (NL), x0_lambdas (NL), then per layer l: c_q (NH*hs,C), c_k (NKV*hs,C),
//     c_v (NKV*hs,C), attn.c_proj (C,C), c_fc (F,C), mlp.c_proj (C,F), and on value-embedding
//     layers (l % 2 == (NL-1) % 2) value_embed (V,NKV*hs), ve_gate (NKV,min(32,C)).
//   Matrices are row-major in the PyTorch (out, in) layout.

static int gpt_save(const GPT *m, const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) { fprintf(stderr, "train: cannot write %s\n", tmp); return -1; }
    const Config *c = &m->cfg;
    int32_t hdr[8] = {c->V, c->T, c->C, c->NL, c->NH, c->NKV, c->hs, c->F};
    int64_t np = (int64_t)m->nparams;
    int ok = fwrite("ARGPT01\0", 1, 8, f) == 8 && fwrite(hdr, 4, 8, f) == 8 &&
             fwrite(c->window, 4, c->NL, f) == (size_t)c->NL && fwrite(&np, 8, 1, f) == 1 &&
             fwrite(m->params, 4, m->nparams, f) == m->nparams;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "train: writing %s failed (disk full?)\n", path);
        unlink(tmp);
        return -1;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// Sampling: continue from BOS, temperature 0.8, one full forward per token (fine for a sample)

static long gpt_sample(GPT *m, int bos, int ntok, uint64_t seed, int32_t *out) {
    const Config *c = &m->cfg;
    int T = c->T, n = 1;
    int32_t *ids = xcalloc(T, sizeof(int32_t));
    float *z = xcalloc(c->V, sizeof(float));
    ids[0] = bos;
    uint64_t s = seed;
    for (; n < T && n <= ntok; n++) {
        gpt_forward(m, ids, 1);
        const mm_t *x = m->a.lnf + (size_t)(n - 1) * c->C;
        float mx = -INFINITY;
        for (int v = 0; v < c->V; v++) {
            const float *w = m->params + m->head + (size_t)v * c->C;
            float acc = 0.0f;
            for (int i = 0; i < c->C; i++) acc += from_mm(x[i]) * w[i];
            z[v] = SOFTCAP * tanhf(acc / SOFTCAP) / 0.8f;
            if (z[v] > mx) mx = z[v];
        }
        double sum = 0;
        for (int v = 0; v < c->V; v++) sum += exp(z[v] - mx);
        double u = rng_uniform(&s) * sum, cum = 0;
        int pick = c->V - 1;
        for (int v = 0; v < c->V; v++) { cum += exp(z[v] - mx); if (cum >= u) { pick = v; break; } }
        ids[n] = pick;
    }
    memcpy(out, ids + 1, (size_t)(n - 1) * sizeof(int32_t));
    free(ids); free(z);
    return n - 1;
}

// ----------------------------------------------------------------------------
// main: train for the budget, evaluate, report, save, sample

static void logits_callback(void *ctx, const int32_t *inputs, int B, int T, float *logits) {
    GPT *m = ctx;
    if (T != m->cfg.T || B > m->Bmax) { fprintf(stderr, "train: evaluation batch (%d,%d) does not fit the model\n", B, T); exit(1); }
    gpt_forward(m, inputs, B);
    gpt_logits(m, B, logits);
}

// Our OpenMP loops and oneDNN's share libgomp's threads, and a step opens about a thousand
// parallel regions. Between two of them a thread waits: spinning, it costs the cores' time;
// asleep, it must be woken, which in a virtual machine costs tens of microseconds, more when
// the host is busy. libgomp reads the policy when it loads, before main, so unless the user
// chose one (OMP_WAIT_POLICY or GOMP_SPINCOUNT), run again once with a short spin: 5000
// pauses, about 0.1 ms here, then sleep. Measured on the 2-core machine against sleeping at
// once (OMP_WAIT_POLICY=passive), fp32 steps: 5-12% faster when nothing else runs, 15% slower
// when another busy process shares the cores; longer spins (30000 pauses, or
// OMP_WAIT_POLICY=active) were 35-90% slower then.
#define OMP_SPIN_COUNT "5000"
static void threads_setup(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    setenv("GOMP_SPINCOUNT", OMP_SPIN_COUNT, 1);
    execv("/proc/self/exe", argv);   // only returns on failure: then go on as we are
}

#ifdef TESTING
// tests and benches include this file without main(): keep what only main() calls referenced
typedef void (*AnyFn)(void);
static const AnyFn train_c_main_only[] __attribute__((unused)) = {
    (AnyFn)logits_callback, (AnyFn)gpt_sample, (AnyFn)peak_gflops, (AnyFn)config_default,
    (AnyFn)gpt_flops_per_token, (AnyFn)gpt_save, (AnyFn)threads_setup};
#else
int main(int argc, char **argv) {
    (void)argc;
    threads_setup(argv);
    double t_start = now_seconds();
    uint64_t seed = run_seed(42);
    Tokenizer *tok = tokenizer_load_prepared();
    Config cfg = config_default(tokenizer_vocab_size(tok));
    int B = DEVICE_BATCH_SIZE, T = cfg.T;
    if (TOTAL_BATCH_SIZE % (B * T) || EVAL_TOKENS % (B * T)) {
        fprintf(stderr, "train: TOTAL_BATCH_SIZE (%d) and EVAL_TOKENS (%d) must be multiples of "
                "DEVICE_BATCH_SIZE * MAX_SEQ_LEN (%d)\n", TOTAL_BATCH_SIZE, EVAL_TOKENS, B * T);
        return 1;
    }
    int accum = TOTAL_BATCH_SIZE / (B * T);
    GPT m;
    gpt_build(&m, &cfg, B, seed);
    double flops_tok = gpt_flops_per_token(&m);
    printf("model: depth %d, width %d, heads %d (kv %d) x %d, mlp %d, vocab %d, context %d, windows",
           cfg.NL, cfg.C, cfg.NH, cfg.NKV, cfg.hs, cfg.F, cfg.V, cfg.T);
    for (int l = 0; l < cfg.NL; l++) printf(" %d", cfg.window[l]);
    printf("\nparameters: %.2fM, %.1f MFLOP per token (fwd+bwd)\n", m.nparams / 1e6, flops_tok / 1e6);
    printf("batch: %d x %d tokens, %d accumulation steps, %d tokens per step; %s matmuls, %d threads\n",
           B, T, accum, TOTAL_BATCH_SIZE, PRECISION_NAME, omp_get_max_threads());
    double peak = peak_gflops();
    printf("matmul peak (%s): %.1f GFLOP/s\n", PRECISION_NAME, peak);
    fflush(stdout);

    budget_flops_per_token(flops_tok);   // a flops budget counts this times the tokens handed out
    DataLoader *dl = dataloader_open(B, T, seed);
    int32_t *inp = xcalloc((size_t)B * T, sizeof(int32_t)), *tgt = xcalloc((size_t)B * T, sizeof(int32_t));
    int tty = isatty(1), step = 0;
    double smooth = 0, counted_flops = 0;
    budget_begin();
    for (;;) {
        double t0 = now_seconds();
        gpt_zero_grad(&m);
        float loss = 0.0f;
        for (int k = 0; k < accum; k++) {
            dataloader_next(dl, inp, tgt);
            loss += gpt_forward_backward(&m, inp, tgt, B, 1.0f / accum) / accum;
        }
        double progress = budget_progress();
        float lrm = lr_multiplier(progress);
        gpt_optimizer_step(&m, lrm, muon_momentum(step), muon_weight_decay(progress));
        if (isnan(loss) || loss > 100.0f) { printf("\nFAIL\n"); return 1; }
        double dt = now_seconds() - t0;
        smooth = 0.9 * smooth + 0.1 * loss;
        double smooth_loss = smooth / (1 - pow(0.9, step + 1));
        double flops = flops_tok * TOTAL_BATCH_SIZE;
        if (step >= BUDGET_WARMUP_STEPS) counted_flops += flops;
        if (tty || step % 10 == 0)
            printf("%sstep %05d (%.1f%%) | loss: %.6f | lrm: %.2f | dt: %.0fms | tok/sec: %.0f | mfu: %.1f%% | epoch: %d    %s",
                   tty ? "\r" : "", step, 100 * progress, smooth_loss, lrm, dt * 1000,
                   TOTAL_BATCH_SIZE / dt, 100 * flops / dt / 1e9 / peak, dataloader_epoch(dl), tty ? "" : "\n");
        fflush(stdout);
        step++;
        budget_report_loss(smooth_loss);
        if (budget_step(TOTAL_BATCH_SIZE, flops)) break;
    }
    printf("\n");
    double train_s = budget_training_seconds();
    double val_bpb = evaluate_bpb(logits_callback, &m, B);
    Summary s = {
        .val_bpb = val_bpb,
        .training_seconds = train_s,
        .total_seconds = now_seconds() - t_start,
        .peak_vram_mb = peak_memory_mb(),
        .mfu_percent = train_s > 0 ? 100 * counted_flops / train_s / 1e9 / peak : 0,
        .total_tokens_M = (double)step * TOTAL_BATCH_SIZE / 1e6,
        .num_steps = step,
        .num_params_M = m.nparams / 1e6,
        .depth = cfg.NL,
    };
    print_summary(&s);
    printf("%-18s%s\n", "precision:", PRECISION_NAME);
    printf("%-18s%d\n", "threads:", omp_get_max_threads());
    printf("%-18s%.1f\n", "peak_gflops:", peak);
    printf("%-18s%.0f\n", "tokens_per_sec:", train_s > 0 ? (step - BUDGET_WARMUP_STEPS) * (double)TOTAL_BATCH_SIZE / train_s : 0);
    fflush(stdout);

    const char *out = getenv("AUTORESEARCH_MODEL_OUT");
    if (!out || !*out) out = "model.bin";
    if (gpt_save(&m, out) == 0) printf("%-18s%s\n", "model_file:", out);
    int32_t ids[64];
    long n = gpt_sample(&m, tokenizer_bos(tok), 64, seed, ids);
    char text[4096];
    long len = tokenizer_decode(tok, ids, n, text, sizeof text - 1);
    if (len < 0) len = 0;
    text[len] = 0;
    for (long i = 0; i < len; i++) if (text[i] == '\n' || text[i] == '\r') text[i] = ' ';
    printf("%-18s%s\n", "sample:", text);

    dataloader_close(dl);
    free(inp); free(tgt);
    gpt_free(&m);
    matmul_free_all();
    tokenizer_free(tok);
    return 0;
}
#endif

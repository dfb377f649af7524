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
Layout follows llm.c's train_gpt2.c. The backward pass is written by hand: `make gradcheck`
checks every tensor's gradient by finite differences (the harness runs it before every run).

Map of the file, top to bottom:
  tunables    the hyperparameters (the harness's search agent mutates this block); the levers:
              ATTN_QBLOCK (attention blocking), HEAD_ROWS (head chunking), TRAIN_FP32 (precision)
  Config      the model's shape: config_default (the tunables), config_of (also the gradient check's)
  gpt_layout  the parameter table: one line per tensor (shape, optimizer group, init, whether
              matmuls read it); adding a tensor is one line there, plus the field to read it by
  GPT         the model in parts: config, weights, activations, scratch, optimizer state
  layers      X_forward / X_backward pairs: linear, rmsnorm, embedding and lambda mix, value
              embeddings, RoPE + QK-norm, attention, relu^2
  passes      gpt_forward, gpt_head (loss and the head's backward), gpt_backward
  optimizer   Polar Express, NorMuon, cautious weight decay, AdamW: gpt_optimizer_step
  schedules   lr_multiplier, muon_momentum, muon_weight_decay
  the rest    gpt_save (the model file's format), gpt_sample, gradcheck_model, main (the loop)
To change the MLP: relu2_backward, the c_fc/mlp.c_proj lines of gpt_layout and the MLP lines
of gpt_forward and gpt_backward. The optimizer: gpt_optimizer_step and the group of each
tensor in gpt_layout. The schedule: lr_multiplier and its two neighbours.
The machinery (matmuls, precision types, exp_fast, the arena, the parameter table, the peak
probe) is fixed/toolbox.h, read-only like prepare.h.
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
#include <omp.h>
#include "prepare.h"
#include "toolbox.h"

// ----------------------------------------------------------------------------
// Hyperparameters. The harness's search agent mutates the values in this block.
// The original's values for one H100 (GPU build): DEPTH 8, model_dim = DEPTH * 64 rounded up
// to HEAD_DIM (512), HEAD_DIM 128, n_kv_head = n_head, DEVICE_BATCH_SIZE 128, TOTAL_BATCH_SIZE
// 2^19, EMBEDDING_LR 0.6, UNEMBEDDING_LR 0.004, MATRIX_LR 0.04, SCALAR_LR 0.5, WEIGHT_DECAY
// 0.2, ADAM_BETAS (0.8, 0.95), WARMUP_RATIO 0, WARMDOWN_RATIO 0.5, FINAL_LR_FRAC 0, "SSSL".
// The CPU defaults were ranked at equal model FLOPs on this machine (README: "The trainer").
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
// Attention queries per matmul block (see attention_forward): fp32 products gain from skipping
// the keys a block cannot see; bf16 ones run fastest as one (T,T) product (oneDNN's AMX kernels
// need the batch's matrices back to back).
#define ATTN_QBLOCK (MM_BF16 ? 0 : 64)
#define HEAD_ROWS 256             // rows per head matmul chunk (see gpt_head)
// Tensors whose backward is a deliberate approximation, skipped (and recorded) by the gradient
// check: none here. E.g. #define GRADCHECK_SKIP "ve_gate"

// ----------------------------------------------------------------------------
// Model configuration (a runtime struct so tests and the gradient check build tiny models).
// The dimension names used by every layer below:
//   B  sequences per pass        T  positions per sequence      N = B*T rows
//   C  width                     V  vocabulary                  NL layers (l indexes them)
//   NH query heads, NKV key/value heads, hs channels per head: KVD = NKV*hs, QKV = (NH+2*NKV)*hs
//   F  MLP hidden width          GC gate channels (the value-embedding gate reads ln1[:, :GC])
//   W  attention window (query i sees keys i-W..i)

#define MAX_LAYERS 64
#define VE_GATE_CHANNELS 32
#define NORM_EPS 1.1920929e-07f   // F.rms_norm's default eps for fp32: torch.finfo(float32).eps

typedef struct {
    int V, T, C, NL;
    int NH, NKV, hs;
    int F;
    int qblock;              // attention queries per matmul block (0: see attn_qblock)
    int window[MAX_LAYERS];  // attention window per layer: key j is visible to query i if i-window <= j <= i
} Config;

// Value embeddings on alternating layers, the last always included.
static int has_ve(const Config *c, int l) { return l % 2 == (c->NL - 1) % 2; }
static int gate_ch(const Config *c) { return c->C < VE_GATE_CHANNELS ? c->C : VE_GATE_CHANNELS; }
static int qkv_dim(const Config *c) { return (c->NH + 2 * c->NKV) * c->hs; }

static void config_windows(Config *c, const char *pattern) {
    int n = (int)strlen(pattern);
    for (int l = 0; l < c->NL; l++) {
        char ch = pattern[l % n];
        if (ch != 'S' && ch != 'L') { fprintf(stderr, "train: WINDOW_PATTERN may only hold S and L\n"); exit(1); }
        c->window[l] = ch == 'L' ? c->T : c->T / 2;
    }
    c->window[c->NL - 1] = c->T;   // the last layer always sees the full context
}

// The tunables' model at vocabulary V and context T with heads of hs channels (HEAD_DIM in
// training; the gradient check's tiny model keeps depth, head counts and ratios but not sizes)
static Config config_of(int V, int T, int hs) {
    int NH = MODEL_DIM / HEAD_DIM;
    Config c = {.V = V, .T = T, .C = NH * hs, .NL = DEPTH, .hs = hs, .NH = NH,
                .F = MLP_RATIO * NH * hs, .qblock = ATTN_QBLOCK};
    c.NKV = c.NH / KV_GROUP;
    if (c.NL > MAX_LAYERS || MODEL_DIM % HEAD_DIM || c.NH % KV_GROUP || c.hs % 2) {
        fprintf(stderr, "train: bad tunables: need DEPTH <= %d, MODEL_DIM %% HEAD_DIM == 0, "
                "n_head %% KV_GROUP == 0, even HEAD_DIM\n", MAX_LAYERS);
        exit(1);
    }
    config_windows(&c, WINDOW_PATTERN);
    return c;
}
static Config config_default(int V) { return config_of(V, MAX_SEQ_LEN, HEAD_DIM); }

// ----------------------------------------------------------------------------
// The model in parts (after llama2.c): config, weights, activations of one pass, scratch,
// optimizer state. Every buffer lives in one arena (fixed/toolbox.h).

enum { OPT_HEAD, OPT_EMBED, OPT_VE, OPT_RESID, OPT_X0, OPT_MUON };   // optimizer groups

typedef struct { size_t wq, wk, wv, wo, wfc, wproj, ve, vegate; } LayerWeights;   // offsets

typedef struct {
    ParamTable table;           // every tensor, in buffer order
    size_t wte, lm_head, resid_lambdas, x0_lambdas;
    LayerWeights layer[MAX_LAYERS];
    float *params, *grads;
    mm_t *mm;                   // matmul copy of the weights (== params in the fp32 build)
} Weights;

// Activations of one (B,T) pass, kept for the backward pass; per-layer ones are NL slabs
// (see layer_acts for one layer's view).
typedef struct {
    float *x0, *rstd0;       // (N,C) normed embedding, (N)
    float *xin, *rstd1;      // (L,N,C) block input after the lambda mix, (L,N)
    mm_t *ln1;               // (L,N,C) norm(xin), matmul input of q,k,v
    float *gate;             // (L,N,NKV) value-embedding gate 2*sigmoid(.)
    float *qkv;              // (L,N,QKV) q,k after RoPE and QK-norm, v after the ve mix
    float *qkr;              // (L,N,NH+NKV) 1/rms of each q and k head vector
    mm_t *qh, *kh, *vh;      // (L,B,NH,T,hs), (L,B,NKV,T,hs) x2: q, k, v head-major for attention
    mm_t *probs;             // (L,B,NH,T,T) attention probabilities (only the blocks computed)
    float *oh;               // (L,B,NH,T,hs) attention output
    mm_t *att;               // (L,N,C) attention output by token, matmul input of the projection
    float *xmid, *rstd2;     // (L,N,C) xin + attn, (L,N)
    mm_t *ln2;               // (L,N,C) norm(xmid)
    mm_t *hact;              // (L,N,F) relu(ln2 @ wfc^T)^2
    float *bout;             // (L,N,C) block output xmid + mlp
    float *rstdf;            // (N)
    mm_t *lnf;               // (N,C) final norm
} Acts;

// Reused by every layer and step. An _mm buffer is the bf16 copy of the one before it.
typedef struct {
    float *tmp, *dres, *dln, *dx0, *dqkv, *dh, *datt, *dgate;
    mm_t *dres_mm, *dqkv_mm, *dh_mm;
    float *logits; mm_t *dlogits_mm; float *nll;   // head chunk (HEAD_ROWS,V); (N)
    float *scores, *dprobs; mm_t *dscores;         // (B,NH,T,T)
    mm_t *doh; float *drow;                        // (B,NH,T,hs) dO head-major, (B,NH,T) rowsum(dO*O)
    float *dqh, *dkh, *dvh;                        // head-major gradients of q, k, v
    float *polar_x, *polar_y;   // Polar Express, a whole group: X (the stack), Y = (bA + cA^2) X
    pe_t *polar_xm, *polar_gram, *polar_gram2;   // X in pe_t, A = X X^T and A^2
} Scratch;

#define MAX_GROUPS 8   // distinct Muon shapes: c_q, c_k/c_v, attn.c_proj, c_fc, mlp.c_proj, ve_gate

typedef struct {
    float *m1, *m2;             // AdamW moments; Muon momentum and NorMuon second moment
    int adam_t;
    ParamShape groups[MAX_GROUPS];   // Muon matrices grouped by shape
    int ngroups;
} OptState;

typedef struct {
    Config cfg;
    Weights w;
    Acts acts;
    Scratch s;
    OptState opt;
    float *rope_cos, *rope_sin;   // (T, hs/2)
    int Bmax;                     // activations are sized for this batch
    void *arena;
} GPT;

// The parameter table. The original's init: embeddings N(0,1), head N(0,0.001), q,k,v,fc and
// value embeddings U(-s,s) with s = sqrt(3)/sqrt(C), output projections and gates zero,
// lambdas 1 and 0.1. wq, wk, wv of a layer are adjacent so they act as one (QKV, C) matrix.
static void gpt_layout(GPT *m) {
    const Config *c = &m->cfg;
    Weights *w = &m->w;
    ParamTable *pt = &w->table;
    int KVD = c->NKV * c->hs;
    Init s = UNIFORM(sqrtf(3.0f) / sqrtf((float)c->C));
    pt->n = 0; pt->size = 0;
    w->wte = param_add(pt, "wte", -1, c->V, c->C, OPT_EMBED, NORMAL(1.0f), NO_MM);
    w->lm_head = param_add(pt, "lm_head", -1, c->V, c->C, OPT_HEAD, NORMAL(0.001f), MM_COPY);
    w->resid_lambdas = param_add(pt, "resid_lambdas", -1, 1, c->NL, OPT_RESID, CONST(1.0f), NO_MM);
    w->x0_lambdas = param_add(pt, "x0_lambdas", -1, 1, c->NL, OPT_X0, CONST(0.1f), NO_MM);
    for (int l = 0; l < c->NL; l++) {
        LayerWeights *o = &w->layer[l];
        o->wq = param_add(pt, "c_q", l, c->NH * c->hs, c->C, OPT_MUON, s, MM_COPY);
        o->wk = param_add(pt, "c_k", l, KVD, c->C, OPT_MUON, s, MM_COPY);
        o->wv = param_add(pt, "c_v", l, KVD, c->C, OPT_MUON, s, MM_COPY);
        o->wo = param_add(pt, "attn.c_proj", l, c->C, c->C, OPT_MUON, ZEROS, MM_COPY);
        o->wfc = param_add(pt, "c_fc", l, c->F, c->C, OPT_MUON, s, MM_COPY);
        o->wproj = param_add(pt, "mlp.c_proj", l, c->C, c->F, OPT_MUON, ZEROS, MM_COPY);
        o->ve = o->vegate = (size_t)-1;
        if (has_ve(c, l)) {
            o->ve = param_add(pt, "value_embed", l, c->V, KVD, OPT_VE, s, NO_MM);
            o->vegate = param_add(pt, "ve_gate", l, c->NKV, gate_ch(c), OPT_MUON, ZEROS, NO_MM);
        }
    }
}

static void gpt_sync_mm(GPT *m) { params_to_mm(&m->w.table, m->w.params, m->w.mm); }

// Measures (ar->base NULL) or points every buffer of the model
static void gpt_alloc(GPT *m, Arena *ar) {
    const Config *c = &m->cfg;
    size_t np = m->w.table.size;
    ALLOC(m->w.params, np); ALLOC(m->w.grads, np);
    ALLOC(m->opt.m1, np); ALLOC(m->opt.m2, np);
#ifdef TRAIN_FP32
    m->w.mm = m->w.params;
#else
    ALLOC(m->w.mm, np);
#endif
    ALLOC(m->rope_cos, c->T * c->hs / 2); ALLOC(m->rope_sin, c->T * c->hs / 2);
    // activations, per layer where the backward needs them
    size_t N = (size_t)m->Bmax * c->T, L = c->NL, C = c->C, F = c->F, QKV = qkv_dim(c);
    size_t KVD = (size_t)c->NKV * c->hs, TT = (size_t)m->Bmax * c->NH * c->T * c->T;
    Acts *a = &m->acts;
    ALLOC(a->x0, N * C); ALLOC(a->rstd0, N);
    ALLOC(a->xin, L * N * C); ALLOC(a->rstd1, L * N); ALLOC(a->ln1, L * N * C);
    ALLOC(a->gate, L * N * c->NKV);
    ALLOC(a->qkv, L * N * QKV); ALLOC(a->qkr, L * N * (c->NH + c->NKV));
    ALLOC(a->qh, L * N * C); ALLOC(a->kh, L * N * KVD); ALLOC(a->vh, L * N * KVD);
    ALLOC(a->probs, L * TT); ALLOC(a->oh, L * N * C); ALLOC(a->att, L * N * C);
    ALLOC(a->xmid, L * N * C); ALLOC(a->rstd2, L * N); ALLOC(a->ln2, L * N * C);
    ALLOC(a->hact, L * N * F); ALLOC(a->bout, L * N * C);
    ALLOC(a->rstdf, N); ALLOC(a->lnf, N * C);
    Scratch *s = &m->s;
    ALLOC(s->tmp, N * C); ALLOC(s->dres, N * C); ALLOC(s->dln, N * C); ALLOC(s->dx0, N * C);
    ALLOC(s->dqkv, N * QKV); ALLOC(s->dh, N * F); ALLOC(s->datt, N * C); ALLOC(s->dgate, N * c->NKV);
#ifndef TRAIN_FP32
    ALLOC(s->dres_mm, N * C); ALLOC(s->dqkv_mm, N * QKV); ALLOC(s->dh_mm, N * F);
#endif
    ALLOC(s->scores, TT); ALLOC(s->dprobs, TT); ALLOC(s->dscores, TT);
    ALLOC(s->doh, N * C); ALLOC(s->drow, N * c->NH);
    ALLOC(s->dqh, N * C); ALLOC(s->dkh, N * KVD); ALLOC(s->dvh, N * KVD);
    ALLOC(s->logits, HEAD_ROWS * c->V); ALLOC(s->nll, N);
#ifdef TRAIN_FP32
    s->dlogits_mm = s->logits;   // the head's gradient overwrites the logits in place
#else
    ALLOC(s->dlogits_mm, HEAD_ROWS * c->V);
#endif
    // Polar Express work matrices, for the largest group
    size_t maxmat = 0, maxsq = 0;
    for (int gi = 0; gi < m->opt.ngroups; gi++) {
        const Param *t = &m->w.table.t[m->opt.groups[gi].t[0]];
        size_t nb = m->opt.groups[gi].n, r = t->rows < t->cols ? t->rows : t->cols;
        if (nb * t->rows * t->cols > maxmat) maxmat = nb * t->rows * t->cols;
        if (nb * r * r > maxsq) maxsq = nb * r * r;
    }
    ALLOC(s->polar_x, maxmat); ALLOC(s->polar_y, maxmat); ALLOC(s->polar_xm, maxmat);
    ALLOC(s->polar_gram, maxsq); ALLOC(s->polar_gram2, maxsq);
}

static void gpt_build(GPT *m, const Config *cfg, int Bmax, uint64_t seed) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    Config *c = &m->cfg;
    m->Bmax = Bmax;
    gpt_layout(m);
    m->opt.ngroups = param_shapes(&m->w.table, OPT_MUON, m->opt.groups, MAX_GROUPS);   // Muon's stacks
    Arena ar = {0};
    gpt_alloc(m, &ar);
    ar = arena_block(&ar);
    gpt_alloc(m, &ar);
    m->arena = ar.base;
    int half = c->hs / 2;
    for (int t = 0; t < c->T; t++)
        for (int i = 0; i < half; i++) {
            double freq = t / pow(10000.0, 2.0 * i / c->hs);
            m->rope_cos[t * half + i] = (float)cos(freq);
            m->rope_sin[t * half + i] = (float)sin(freq);
        }
    params_init(&m->w.table, m->w.params, seed);
    gpt_sync_mm(m);
}

static void gpt_free(GPT *m) {
    free(m->arena);
    memset(m, 0, sizeof *m);
}

// One layer's slabs of the activations of a pass of B sequences: both passes read them here
typedef struct {
    const float *prev;       // block input before the mix: x0 or the previous block's output
    float *xin, *rstd1, *gate, *qkv, *qkr, *oh, *xmid, *rstd2, *bout;
    mm_t *ln1, *qh, *kh, *vh, *probs, *att, *ln2, *hact;
} LayerActs;

static LayerActs layer_acts(const GPT *m, int l, int B) {
    const Config *c = &m->cfg;
    const Acts *a = &m->acts;
    size_t N = (size_t)B * c->T, NC = N * c->C, KV = N * c->NKV * c->hs;
    return (LayerActs){
        .prev = l ? a->bout + (l - 1) * NC : a->x0,
        .xin = a->xin + l * NC, .rstd1 = a->rstd1 + l * N, .ln1 = a->ln1 + l * NC,
        .gate = a->gate + l * N * c->NKV, .qkv = a->qkv + l * N * qkv_dim(c),
        .qkr = a->qkr + l * N * (c->NH + c->NKV),
        .qh = a->qh + l * NC, .kh = a->kh + l * KV, .vh = a->vh + l * KV,
        .probs = a->probs + l * (size_t)B * c->NH * c->T * c->T, .oh = a->oh + l * NC, .att = a->att + l * NC,
        .xmid = a->xmid + l * NC, .rstd2 = a->rstd2 + l * N, .ln2 = a->ln2 + l * NC,
        .hact = a->hact + l * N * c->F, .bout = a->bout + l * NC,
    };
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
    for (int i = 0; i < m->w.table.n; i++) {
        const Param *t = &m->w.table.t[i];
        if (t->group == OPT_MUON || t->group == OPT_HEAD) mat += (double)t->rows * t->cols;
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
// Linear layers (bias-free), llm.c's matmul_forward / matmul_backward, W (OC,C) as PyTorch

// out (N,OC) = inp (N,C) @ W^T; post: MM_SET, or MM_RELU2 | MM_BF16_OUT (the fused MLP)
static void linear_forward(void *out, const mm_t *inp, const mm_t *w, int N, int C, int OC, int post) {
    matmul(out, inp, w, N, C, OC, MM_TB | MM_BF16 | post);
}

// dinp (N,C) = dout (N,OC) @ W; dW (OC,C) += dout^T @ inp
static void linear_backward(float *dinp, float *dw, const mm_t *dout, const mm_t *inp, const mm_t *w,
                            int N, int C, int OC) {
    matmul(dw, dout, inp, OC, N, C, MM_TA | MM_ACC | MM_BF16);
    matmul(dinp, dout, w, N, OC, C, MM_BF16);
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

// o = norm(x) for one row; returns 1/rms
static float norm_row(mm_t *o, const float *x, int C) {
    float r = rms_row(x, C);
    for (int i = 0; i < C; i++) o[i] = to_mm(x[i] * r);
    return r;
}

// out = norm(x) row by row, rstd = 1/rms
static void rmsnorm_forward(mm_t *out, float *rstd, const float *x, int N, int C) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) rstd[n] = norm_row(out + (size_t)n * C, x + (size_t)n * C, C);
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
        rstd[n] = norm_row(ln + (size_t)n * C, x, C);
    }
}

// out = a + b; ln = norm(out)   (ln may be NULL: just the add)
static void add_norm_forward(float *out, mm_t *ln, float *rstd, const float *a, const float *b, int N, int C) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *x = out + (size_t)n * C;
        const float *p = a + (size_t)n * C, *q = b + (size_t)n * C;
        for (int i = 0; i < C; i++) x[i] = p[i] + q[i];
        if (ln) rstd[n] = norm_row(ln + (size_t)n * C, x, C);
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
// Value embeddings: v += 2*sigmoid(W_gate @ ln1[:, :GC]) * ve[inp], one gate per KV head

static void ve_forward(float *qkv, float *gate, const float *ve, const float *wg, const float *xin,
                       const float *rstd, const int32_t *inp, const Config *c, int N) {
    int QKV = qkv_dim(c), GC = gate_ch(c), KVD = c->NKV * c->hs, voff = (c->NH + c->NKV) * c->hs;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = xin + (size_t)n * c->C;
        const float *e = ve + (size_t)inp[n] * KVD;
        float *v = qkv + (size_t)n * QKV + voff;
        for (int h = 0; h < c->NKV; h++) {
            float z = 0.0f;
            for (int i = 0; i < GC; i++) z += wg[h * GC + i] * x[i];
            z *= rstd[n];   // the gate reads the normed input: x * rstd
            float g = 2.0f / (1.0f + expf(-z));
            gate[(size_t)n * c->NKV + h] = g;
            for (int d = 0; d < c->hs; d++) v[h * c->hs + d] += g * e[h * c->hs + d];
        }
    }
}

// From dv (the v slot of dqkv): dve[inp] += g*dv; dgate_pre = (dv . ve) * g*(1-g/2)
// (d/dz 2*sigmoid(z) = 2s(1-s) = g(1-g/2)); dwg += dgate_pre^T @ ln1[:, :GC].
static void ve_backward(float *dve, float *dwg, float *dgate, const float *dqkv, const float *gate,
                        const float *ve, const float *xin, const float *rstd, const int32_t *inp,
                        const Config *c, int N) {
    int QKV = qkv_dim(c), GC = gate_ch(c), KVD = c->NKV * c->hs, voff = (c->NH + c->NKV) * c->hs;
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
    for (int k = 0; k < c->NKV * GC; k++) {
        int h = k / GC, i = k % GC;
        double s = 0;
        for (int n = 0; n < N; n++) s += dgate[(size_t)n * c->NKV + h] * xin[(size_t)n * c->C + i] * rstd[n];
        dwg[k] += (float)s;
    }
}

// dln1[:, :GC] += dgate_pre @ W_gate
static void ve_gate_dx(float *dln, const float *dgate, const float *wg, const Config *c, int N) {
    int GC = gate_ch(c);
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int h = 0; h < c->NKV; h++) {
            float dg = dgate[(size_t)n * c->NKV + h];
            for (int i = 0; i < GC; i++) dln[(size_t)n * c->C + i] += dg * wg[h * GC + i];
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
// NH/NKV heads that share a KV head (grouped-query attention). scores (B*NH,T,T) holds
// Q K^T, probs the softmax. Queries go in blocks of qblock rows, and a block multiplies only
// the keys its rows can see: with 8 blocks a causal layer does 36/64 of the full (T,T)
// products. probs is kept per layer for the backward, which saves recomputing the scores
// (flash attention recomputes them because a GPU's T is larger and its fast memory smaller).

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

// oh (B,NH,T,hs) = probs V with probs (B,NH,T,T) = softmax(scale * Q K^T); att_mm (N,C) gets
// oh in the (token, channel) layout for the output projection
static void attention_forward(float *oh, mm_t *att_mm, mm_t *probs, const mm_t *qh, const mm_t *kh,
                              const mm_t *vh, GPT *m, int B, int W) {
    const Config *c = &m->cfg;
    int T = c->T, hs = c->hs, NH = c->NH, grp = NH / c->NKV, nb = B * c->NKV, qb = attn_qblock(c, W);
    long qs = (long)grp * T * hs, kvs = (long)T * hs, ss = (long)grp * T * T;   // batch strides
    float scale = 1.0f / sqrtf((float)hs), *scores = m->s.scores;
    for (int hh = 0; hh < grp; hh++)   // scores = Q K^T
        for (int i0 = 0; i0 < T; i0 += qb) {
            AttnBlock k = attn_block(c, i0, W);
            Mat q = {qh + ((size_t)hh * T + i0) * hs, hs, qs}, kk = {kh + (size_t)k.lo * hs, hs, kvs};
            Mat s = {scores + ((size_t)hh * T + i0) * T + k.lo, T, ss};
            matmul_mat(s, q, kk, nb, k.R, hs, k.nk, MM_TB | MM_BF16);
        }
    #pragma omp parallel for schedule(static)
    for (int row = 0; row < B * NH * T; row++) {   // probs = softmax over the visible keys
        int i = row % T;
        AttnBlock k = attn_block(c, i, W);
        float *s = scores + (size_t)row * T + k.lo;
        int j0 = (i - W > 0 ? i - W : 0) - k.lo, j1 = i - k.lo;
        float mx = -INFINITY;
        #pragma omp simd reduction(max:mx)
        for (int j = j0; j <= j1; j++) mx = s[j] > mx ? s[j] : mx;
        float inv = 1.0f / exp_row_masked(s, k.nk, scale, mx * scale, j0, j1);
        mm_t *p = probs + (size_t)row * T + k.lo;
        for (int j = 0; j < k.nk; j++) p[j] = to_mm(s[j] * inv);
    }
    for (int hh = 0; hh < grp; hh++)   // O = probs V
        for (int i0 = 0; i0 < T; i0 += qb) {
            AttnBlock k = attn_block(c, i0, W);
            Mat p = {probs + ((size_t)hh * T + i0) * T + k.lo, T, ss}, v = {vh + (size_t)k.lo * hs, hs, kvs};
            Mat o = {oh + ((size_t)hh * T + i0) * hs, hs, qs};
            matmul_mat(o, p, v, nb, k.R, k.nk, hs, MM_BF16);
        }
    #pragma omp parallel for schedule(static)
    for (int row = 0; row < B * NH * T; row++) {
        int b = row / (NH * T), h = row / T % NH, t = row % T;
        mm_t *d = att_mm + ((size_t)b * T + t) * c->C + h * hs;
        for (int i = 0; i < hs; i++) d[i] = to_mm(oh[(size_t)row * hs + i]);
    }
}

// Given datt (N,C), writes dqh (B,NH,T,hs) and dkh, dvh (B,NKV,T,hs), with P = probs, S = scores:
//   dP = dO V^T; D = rowsum(dO*O); dS = P*(dP - D)*scale; dQ = dS K; dK = dS^T Q; dV = P^T dO
static void attention_backward(float *dqh, float *dkh, float *dvh, const float *datt, const float *oh,
                               const mm_t *probs, const mm_t *qh, const mm_t *kh, const mm_t *vh,
                               GPT *m, int B, int W) {
    const Config *c = &m->cfg;
    Scratch *s = &m->s;
    int T = c->T, hs = c->hs, NH = c->NH, grp = NH / c->NKV, nb = B * c->NKV, qb = attn_qblock(c, W);
    long qs = (long)grp * T * hs, kvs = (long)T * hs, ss = (long)grp * T * T;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for schedule(static)
    for (int row = 0; row < B * NH * T; row++) {   // dO head-major; D
        int b = row / (NH * T), h = row / T % NH, t = row % T;
        const float *d = datt + ((size_t)b * T + t) * c->C + h * hs, *o = oh + (size_t)row * hs;
        float D = 0.0f;
        #pragma omp simd reduction(+:D)
        for (int i = 0; i < hs; i++) { D += d[i] * o[i]; s->doh[(size_t)row * hs + i] = to_mm(d[i]); }
        s->drow[row] = D;
    }
    for (int hh = 0; hh < grp; hh++)   // dP = dO V^T
        for (int i0 = 0; i0 < T; i0 += qb) {
            AttnBlock k = attn_block(c, i0, W);
            Mat dO = {s->doh + ((size_t)hh * T + i0) * hs, hs, qs}, v = {vh + (size_t)k.lo * hs, hs, kvs};
            Mat dP = {s->dprobs + ((size_t)hh * T + i0) * T + k.lo, T, ss};
            matmul_mat(dP, dO, v, nb, k.R, hs, k.nk, MM_TB | MM_BF16);
        }
    #pragma omp parallel for schedule(static)
    for (int row = 0; row < B * NH * T; row++) {   // dS (zero where P is)
        AttnBlock k = attn_block(c, row % T, W);
        size_t so = (size_t)row * T + k.lo;
        float D = s->drow[row];
        for (int j = 0; j < k.nk; j++)
            s->dscores[so + j] = to_mm(from_mm(probs[so + j]) * (s->dprobs[so + j] - D) * scale);
    }
    memset(dkh, 0, (size_t)nb * T * hs * sizeof(float));
    memset(dvh, 0, (size_t)nb * T * hs * sizeof(float));
    for (int hh = 0; hh < grp; hh++)
        for (int i0 = 0; i0 < T; i0 += qb) {
            AttnBlock k = attn_block(c, i0, W);
            size_t qo = ((size_t)hh * T + i0) * hs, so = ((size_t)hh * T + i0) * T + k.lo;
            Mat q = {qh + qo, hs, qs}, dO = {s->doh + qo, hs, qs}, kk = {kh + (size_t)k.lo * hs, hs, kvs};
            Mat dS = {s->dscores + so, T, ss}, p = {probs + so, T, ss};
            Mat dq = {dqh + qo, hs, qs}, dk = {dkh + (size_t)k.lo * hs, hs, kvs}, dv = {dvh + (size_t)k.lo * hs, hs, kvs};
            matmul_mat(dq, dS, kk, nb, k.R, k.nk, hs, MM_BF16);                 // dQ = dS K
            matmul_mat(dk, dS, q, nb, k.nk, k.R, hs, MM_TA | MM_ACC | MM_BF16);   // dK += dS^T Q
            matmul_mat(dv, p, dO, nb, k.nk, k.R, hs, MM_TA | MM_ACC | MM_BF16);   // dV += P^T dO
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
    Acts *a = &m->acts;
    Scratch *s = &m->s;
    int N = B * c->T, C = c->C, F = c->F;
    const float *w = m->w.params;
    const mm_t *wm = m->w.mm;
    embed_forward(a->x0, a->rstd0, w + m->w.wte, inp, N, C);
    for (int l = 0; l < c->NL; l++) {
        const LayerWeights *o = &m->w.layer[l];
        LayerActs L = layer_acts(m, l, B);
        // x = resid_lambda * x + x0_lambda * x0; ln1 = norm(x)
        mix_norm_forward(L.xin, L.ln1, L.rstd1, L.prev, a->x0, w[m->w.resid_lambdas + l], w[m->w.x0_lambdas + l], N, C);
        // q,k,v = ln1 @ [wq;wk;wv]^T, value embeddings into v, RoPE, QK-norm, attention
        linear_forward(L.qkv, L.ln1, wm + o->wq, N, C, qkv_dim(c), MM_SET);
        if (has_ve(c, l)) ve_forward(L.qkv, L.gate, w + o->ve, w + o->vegate, L.xin, L.rstd1, inp, c, N);
        rope_norm_forward(L.qkv, L.qkr, L.qh, L.kh, L.vh, m->rope_cos, m->rope_sin, c, N);
        attention_forward(L.oh, L.att, L.probs, L.qh, L.kh, L.vh, m, B, c->window[l]);
        // x = x + att @ wo^T; ln2 = norm(x)
        linear_forward(s->tmp, L.att, wm + o->wo, N, C, C, MM_SET);
        add_norm_forward(L.xmid, L.ln2, L.rstd2, L.xin, s->tmp, N, C);
        // x = x + relu(ln2 @ wfc^T)^2 @ wproj^T
        linear_forward(L.hact, L.ln2, wm + o->wfc, N, C, F, MM_RELU2 | MM_BF16_OUT);
        linear_forward(s->tmp, L.hact, wm + o->wproj, N, F, C, MM_SET);
        add_norm_forward(L.bout, NULL, NULL, L.xmid, s->tmp, N, C);
    }
    rmsnorm_forward(a->lnf, a->rstdf, layer_acts(m, c->NL - 1, B).bout, N, C);   // final norm
}

// ----------------------------------------------------------------------------
// Head, softcap and cross-entropy, HEAD_ROWS rows at a time, so that the (rows,V) logits are
// a bounded buffer. Writes nll[N] (nats). With dscale > 0 it also runs the head's backward
// for the loss dscale * sum(nll): dlogits -> dW_head (accumulated) and dlnf (into s.dln).

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
    Scratch *s = &m->s;
    int N = B * c->T, C = c->C, V = c->V;
    const mm_t *whead = m->w.mm + m->w.lm_head;
    double total = 0;
    for (int r0 = 0; r0 < N; r0 += HEAD_ROWS) {
        int R = N - r0 < HEAD_ROWS ? N - r0 : HEAD_ROWS;
        const mm_t *x = m->acts.lnf + (size_t)r0 * C;
        linear_forward(s->logits, x, whead, R, C, V, MM_SET);
        double chunk = 0;
        #pragma omp parallel for schedule(static) reduction(+:chunk)
        for (int t = 0; t < R; t++) {
            float *z = s->logits + (size_t)t * V;
            int y = tgt[r0 + t];
            float mx = softcap_max(z, V);
            float sum = sum_exp(z, V, mx);
            float loss = mx + logf(sum) - z[y];
            nll[r0 + t] = loss;
            chunk += loss;
            if (dscale > 0.0f) {
                // dz = softmax - onehot; through the softcap: d/dx 15 tanh(x/15) = 1 - (z/15)^2
                float th = z[y] * (1.0f / SOFTCAP), dy = (dscale / sum * exp_fast(z[y] - mx) - dscale) * (1.0f - th * th);
                mm_t *dz = s->dlogits_mm + (size_t)t * V;
                softcap_grad(dz, z, V, mx, dscale / sum);
                dz[y] = to_mm(dy);
            }
        }
        total += chunk;
        if (dscale > 0.0f)
            linear_backward(s->dln + (size_t)r0 * C, m->w.grads + m->w.lm_head, s->dlogits_mm, x, whead, R, C, V);
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
        linear_forward(z, m->acts.lnf + (size_t)r0 * C, m->w.mm + m->w.lm_head, R, C, V, MM_SET);
        #pragma omp parallel for schedule(static)
        for (int t = 0; t < R; t++) softcap_max(z + (size_t)t * V, V);
    }
}

// ----------------------------------------------------------------------------
// Backward pass (after gpt_forward and gpt_head with dscale > 0): accumulates into the grads.

static void gpt_backward(GPT *m, const int32_t *inp, int B) {
    const Config *c = &m->cfg;
    Acts *a = &m->acts;
    Scratch *s = &m->s;
    int N = B * c->T, C = c->C, F = c->F;
    size_t NC = (size_t)N * C;
    const float *w = m->w.params;
    const mm_t *wm = m->w.mm;
    float *dw = m->w.grads;
    // final norm: dres = d bout[L-1]
    rmsnorm_backward(s->dres, s->dres_mm, s->dln, layer_acts(m, c->NL - 1, B).bout, a->rstdf, N, C, 0);
    memset(s->dx0, 0, NC * sizeof(float));
    for (int l = c->NL - 1; l >= 0; l--) {
        const LayerWeights *o = &m->w.layer[l];
        LayerActs L = layer_acts(m, l, B);
        // x = xmid + hact @ wproj^T
        linear_backward(s->dh, dw + o->wproj, mm_view(s->dres, s->dres_mm), L.hact, wm + o->wproj, N, F, C);
        // hact = relu(ln2 @ wfc^T)^2
        relu2_backward(s->dh_mm, s->dh, L.hact, (size_t)N * F);
        linear_backward(s->dln, dw + o->wfc, mm_view(s->dh, s->dh_mm), L.ln2, wm + o->wfc, N, C, F);
        // ln2 = norm(xmid); xmid = xin + att @ wo^T
        rmsnorm_backward(s->dres, s->dres_mm, s->dln, L.xmid, L.rstd2, N, C, 1);
        linear_backward(s->datt, dw + o->wo, mm_view(s->dres, s->dres_mm), L.att, wm + o->wo, N, C, C);
        // attention, QK-norm, RoPE, value embeddings
        attention_backward(s->dqh, s->dkh, s->dvh, s->datt, L.oh, L.probs, L.qh, L.kh, L.vh, m, B, c->window[l]);
        rope_norm_backward(s->dqkv, s->dqkv_mm, s->dqh, s->dkh, s->dvh, L.qkv, L.qkr, m->rope_cos, m->rope_sin, c, N);
        if (has_ve(c, l))
            ve_backward(dw + o->ve, dw + o->vegate, s->dgate, s->dqkv, L.gate, w + o->ve, L.xin, L.rstd1, inp, c, N);
        // qkv = ln1 @ [wq;wk;wv]^T
        linear_backward(s->dln, dw + o->wq, mm_view(s->dqkv, s->dqkv_mm), L.ln1, wm + o->wq, N, C, qkv_dim(c));
        if (has_ve(c, l)) ve_gate_dx(s->dln, s->dgate, w + o->vegate, c, N);
        // ln1 = norm(xin)
        rmsnorm_backward(s->dres, NULL, s->dln, L.xin, L.rstd1, N, C, 1);
        // xin = resid_lambda * prev + x0_lambda * x0
        size_t rl = m->w.resid_lambdas + l, xl = m->w.x0_lambdas + l;
        mix_backward(s->dres, s->dres_mm, s->dx0, dw + rl, dw + xl, L.prev, a->x0, w[rl], w[xl], NC);
    }
    // block 0's prev is x0 itself
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < NC; i++) s->dx0[i] += s->dres[i];
    embed_backward(dw + m->w.wte, s->dx0, w + m->w.wte, a->rstd0, inp, N, C, s->tmp);
}

// One micro-batch: forward, loss, backward. Gradients of loss * grad_scale accumulate into
// the grads (grad_scale = 1/accumulation steps). Returns the mean loss over the B*T tokens.
static float gpt_forward_backward(GPT *m, const int32_t *inp, const int32_t *tgt, int B, float grad_scale) {
    int N = B * m->cfg.T;
    gpt_forward(m, inp, B);
    double loss = gpt_head(m, tgt, B, m->s.nll, grad_scale / N);
    gpt_backward(m, inp, B);
    return (float)(loss / N);
}

static void gpt_zero_grad(GPT *m) { memset(m->w.grads, 0, m->w.table.size * sizeof(float)); }

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
// copied). Same-shape matrices go through one batched matmul, far faster than one call each
// for small ones. The matmuls read and write pe_t (bf16 where the CPU has it, like the
// original's X.bfloat16() iterations), with X itself kept in fp32.
static void polar_express(float *g, int nb, int rows, int cols, GPT *m) {
    int tall = rows > cols, r = tall ? cols : rows;
    size_t n = (size_t)rows * cols, rr = (size_t)r * r;
    float *X = g, *Y = m->s.polar_y;
    pe_t *Xm = m->s.polar_xm, *A = m->s.polar_gram, *A2 = m->s.polar_gram2;
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
        if (tall) matmul_batch(A, Xm, Xm, nb, r, rows, r, MM_TA | PE_BF16_OUT);   // A = X^T X
        else      matmul_batch(A, Xm, Xm, nb, r, cols, r, MM_TB | PE_BF16_OUT);   // A = X X^T
        matmul_batch(A2, A, A, nb, r, r, r, PE_BF16_OUT);                         // A2 = A A
        #pragma omp parallel for
        for (size_t i = 0; i < nb * rr; i++) A[i] = to_pe(cb * from_pe(A[i]) + cc * from_pe(A2[i]));
        if (tall) matmul_batch(Y, Xm, A, nb, rows, r, r, PE_BF16);   // Y = X (bA + cA^2)
        else      matmul_batch(Y, A, Xm, nb, r, r, cols, PE_BF16);   // Y = (bA + cA^2) X
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
    OptState *o = &m->opt;
    const ParamTable *pt = &m->w.table;
    float *params = m->w.params, *grads = m->w.grads;
    o->adam_t++;
    for (int i = 0; i < pt->n; i++) {
        const Param *t = &pt->t[i];
        size_t n = param_count(t);
        float *p = params + t->off, *g = grads + t->off, *m1 = o->m1 + t->off, *m2 = o->m2 + t->off;
        switch (t->group) {
        case OPT_HEAD:  adamw_update(p, g, m1, m2, n, UNEMBEDDING_LR * dmodel_scale * lrm, ADAM_BETA1, ADAM_BETA2, 1e-10f, 0.0f, o->adam_t); break;
        case OPT_EMBED:
        case OPT_VE:    adamw_update(p, g, m1, m2, n, EMBEDDING_LR * dmodel_scale * lrm, ADAM_BETA1, ADAM_BETA2, 1e-10f, 0.0f, o->adam_t); break;
        case OPT_RESID: adamw_update(p, g, m1, m2, n, SCALAR_LR * 0.01f * lrm, ADAM_BETA1, ADAM_BETA2, 1e-10f, 0.0f, o->adam_t); break;
        case OPT_X0:    adamw_update(p, g, m1, m2, n, SCALAR_LR * lrm, 0.96f, 0.95f, 1e-10f, 0.0f, o->adam_t); break;
        }
    }
    // Muon, one group of same-shape matrices at a time (the original stacks them the same way)
    for (int gi = 0; gi < o->ngroups; gi++) {
        const ParamShape *grp = &o->groups[gi];
        int rows = pt->t[grp->t[0]].rows, cols = pt->t[grp->t[0]].cols;
        size_t n = (size_t)rows * cols;
        for (int k = 0; k < grp->n; k++) {
            // Nesterov: buf = lerp(buf, g, 1-mu); g = lerp(g, buf, mu), into the stack
            size_t off = pt->t[grp->t[k]].off;
            float *g = grads + off, *m1 = o->m1 + off, *x = m->s.polar_x + k * n;
            #pragma omp parallel for schedule(static)
            for (size_t j = 0; j < n; j++) {
                m1[j] += (1.0f - momentum) * (g[j] - m1[j]);
                x[j] = g[j] + momentum * (m1[j] - g[j]);
            }
        }
        polar_express(m->s.polar_x, grp->n, rows, cols, m);
        float lr = MATRIX_LR * lrm * sqrtf(fmaxf(1.0f, (float)rows / cols));
        for (int k = 0; k < grp->n; k++) {
            size_t off = pt->t[grp->t[k]].off;
            float *u = m->s.polar_x + k * n;
            normuon(u, o->m2 + off, m->s.polar_y, rows, cols, 0.95f);
            cautious_update(params + off, u, n, lr, wd);
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
    const Config *c = &m->cfg;
    int32_t hdr[8] = {c->V, c->T, c->C, c->NL, c->NH, c->NKV, c->hs, c->F};
    int64_t np = (int64_t)m->w.table.size;
    const void *parts[] = {"ARGPT01", hdr, c->window, &np, m->w.params};
    size_t sizes[] = {8, sizeof hdr, 4 * (size_t)c->NL, 8, 4 * (size_t)np};
    return file_write_parts(path, parts, sizes, 5);
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
        const mm_t *x = m->acts.lnf + (size_t)(n - 1) * c->C;
        for (int v = 0; v < c->V; v++) {
            const float *w = m->w.params + m->w.lm_head + (size_t)v * c->C;
            float acc = 0.0f;
            for (int i = 0; i < c->C; i++) acc += from_mm(x[i]) * w[i];
            z[v] = SOFTCAP * tanhf(acc / SOFTCAP);
        }
        ids[n] = sample_token(z, c->V, 0.8f, &s);
    }
    memcpy(out, ids + 1, (size_t)(n - 1) * sizeof(int32_t));
    free(ids); free(z);
    return n - 1;
}

// ----------------------------------------------------------------------------
// The gradient check's way in (fixed/gradcheck.h): the tunables' model with 8-channel heads

static double gradcheck_loss(void *model, const int32_t *inp, const int32_t *tgt, int backward) {
    GPT *m = model;
    int B = m->Bmax, N = B * m->cfg.T;
    gpt_zero_grad(m);
    gpt_forward(m, inp, B);
    double loss = gpt_head(m, tgt, B, m->s.nll, backward ? 1.0f / N : 0.0f) / N;
    if (backward) gpt_backward(m, inp, B);
    return loss;
}
static void gradcheck_sync(void *model) { gpt_sync_mm(model); }

void gradcheck_model(GradcheckModel *g, int V, int T, int B) {
    static GPT m;
    Config c = config_of(V, T, 8);
    gpt_build(&m, &c, B, 1);
    *g = (GradcheckModel){.model = &m, .loss = gradcheck_loss, .params_changed = gradcheck_sync};
    gradcheck_tensors(g, &m.w.table, m.w.params, m.w.grads);
#ifdef GRADCHECK_SKIP
    g->skip = GRADCHECK_SKIP;
#endif
}

// ----------------------------------------------------------------------------
// main: train for the budget, evaluate, report, save, sample

static void logits_callback(void *ctx, const int32_t *inputs, int B, int T, float *logits) {
    GPT *m = ctx;
    if (T != m->cfg.T || B > m->Bmax) { fprintf(stderr, "train: evaluation batch (%d,%d) does not fit the model\n", B, T); exit(1); }
    gpt_forward(m, inputs, B);
    gpt_logits(m, B, logits);
}

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
    double flops_tok = gpt_flops_per_token(&m), nparams = (double)m.w.table.size;
    printf("model: depth %d, width %d, heads %d (kv %d) x %d, mlp %d, vocab %d, context %d, windows",
           cfg.NL, cfg.C, cfg.NH, cfg.NKV, cfg.hs, cfg.F, cfg.V, cfg.T);
    for (int l = 0; l < cfg.NL; l++) printf(" %d", cfg.window[l]);
    printf("\nparameters: %.2fM, %.1f MFLOP per token (fwd+bwd)\n", nparams / 1e6, flops_tok / 1e6);
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
        .num_params_M = nparams / 1e6,
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
    print_sample(tok, ids, gpt_sample(&m, tokenizer_bos(tok), 64, seed, ids));

    dataloader_close(dl);
    free(inp); free(tgt);
    gpt_free(&m);
    matmul_free_all();
    tokenizer_free(tok);
    return 0;
}

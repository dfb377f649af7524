// prepare.h -- the fixed layer's runtime API: everything train.c may use from it.
//
// The fixed layer is the ground truth of every experiment: data, tokenizer, dataloader,
// evaluation and time budget. train.c (the file the research agent edits) includes this
// header and nothing else from the fixed layer, so the metric cannot be gamed.
//
// Data comes from the data set that `autoresearch prepare` wrote under the cache directory
// ($AUTORESEARCH_CACHE, default ~/.cache/autoresearch). Every function here that cannot do
// its job (no prepared data, a corrupt file) prints one line naming what is wrong and exits 1.
#ifndef PREPARE_H
#define PREPARE_H

#include <stddef.h>
#include <stdint.h>

// ----------------------------------------------------------------------------
// Fixed constants
//
// CPU defaults (this build). Why these values:
//  - MAX_SEQ_LEN 512: at 2 cores a 5-minute run sees a few million tokens; short contexts
//    give more optimizer steps per second and attention stays a small share of the FLOPs.
//  - VOCAB_SIZE 4096: the output head and embeddings are V*C parameters each; at the CPU
//    model width (~256) an 8192 vocabulary would spend most of the compute on the head.
//  - EVAL_TOKENS 2^19: one forward pass over 512K tokens takes well under 10% of the
//    300 s budget at the default model's throughput, and gives a bpb whose sampling noise
//    is far below the differences experiments look for.
// The original project's values for one H100 (keep them for the GPU build):
//    MAX_SEQ_LEN 2048, VOCAB_SIZE 8192, EVAL_TOKENS 40*524288, TIME_BUDGET 300.
#ifndef MAX_SEQ_LEN
#define MAX_SEQ_LEN 512
#endif
#ifndef VOCAB_SIZE
#define VOCAB_SIZE 4096
#endif
#ifndef EVAL_TOKENS
#define EVAL_TOKENS (1 << 19)
#endif
#define TIME_BUDGET 300           // seconds of training; see budget_begin() for overrides
#define BUDGET_WARMUP_STEPS 2     // the first steps (allocation, JIT, page faults) are not counted

// ----------------------------------------------------------------------------
// Tokenizer: byte-level BPE trained by `prepare`. BOS starts every document.

typedef struct Tokenizer Tokenizer;
Tokenizer *tokenizer_load_prepared(void);       // the prepared data set's tokenizer
void tokenizer_free(Tokenizer *tok);
int tokenizer_vocab_size(const Tokenizer *tok);
int tokenizer_bos(const Tokenizer *tok);
// Encodes len bytes of text into ids (no BOS added); returns the count, or -1 if cap is too small.
long tokenizer_encode(const Tokenizer *tok, const char *text, size_t len, int32_t *ids, long cap);
// Decodes n ids into out (not NUL-terminated); returns the byte count, or -1 if cap is too small.
// Special tokens decode to nothing.
long tokenizer_decode(const Tokenizer *tok, const int32_t *ids, long n, char *out, size_t cap);
// Number of raw bytes token id stands for (0 for special tokens).
int tokenizer_token_bytes(const Tokenizer *tok, int id);

// ----------------------------------------------------------------------------
// Dataloader over the training split: best-fit packing, every row starts with BOS, no padding.
// Each row holds T+1 tokens; inputs = row[:-1], targets = row[1:]. Deterministic for a seed,
// loops forever (epoch counts passes over the training split), prefetches on a thread.

typedef struct DataLoader DataLoader;
DataLoader *dataloader_open(int B, int T, uint64_t seed);   // T <= MAX_SEQ_LEN
void dataloader_next(DataLoader *dl, int32_t *inputs, int32_t *targets);  // each (B,T)
int dataloader_epoch(const DataLoader *dl);                 // 1 during the first pass
void dataloader_close(DataLoader *dl);

// ----------------------------------------------------------------------------
// Evaluation: bits per byte on the pinned validation split, computed by the fixed layer.
//
// The callback fills logits[B*T*V] (row-major (B,T,V), V = the tokenizer's vocabulary) with
// the model's output for inputs (B,T), T = MAX_SEQ_LEN, after whatever softcap the model
// applies. evaluate_bpb feeds exactly EVAL_TOKENS target tokens (a multiple of
// B*MAX_SEQ_LEN) and the fixed layer computes from the logits, with its own log-softmax,
//   bpb = sum(nll over targets with token_bytes > 0) / (ln 2 * sum(their token_bytes)).
// Under the supervisor (`autoresearch train`, run, loop, noise) the rows come from it, it
// also scores the test split and hidden probe rows (causality, frozen model) with the same
// callback, and it alone records the result; the value returned here is informational.
// The callback must depend only on the inputs of its own row up to each position.

typedef void (*LogitsFn)(void *ctx, const int32_t *inputs, int B, int T, float *logits);
double evaluate_bpb(LogitsFn logits_fn, void *ctx, int B);

// ----------------------------------------------------------------------------
// Time budget. budget_begin() starts the clock; call budget_step() once after every
// optimizer step with the tokens and model FLOPs that step processed. Declare the model's
// FLOPs per training token (forward + backward) once with budget_flops_per_token(), before
// the first dataloader_next: a `flops` budget needs it (the supervisor turns the amount into
// a row count and counts FLOPs as the tokens it handed out times this figure, not as
// budget_step's argument), and the result records it. The first
// BUDGET_WARMUP_STEPS steps are not counted. The budget is TIME_BUDGET seconds unless the
// harness set AUTORESEARCH_BUDGET_MODE (time|tokens|flops) and AUTORESEARCH_BUDGET (amount).
// Under the supervisor the clock and the token count are the supervisor's: it stops handing
// out training rows once budget_step has returned 1 (see README "Threat model").
// When the harness set AUTORESEARCH_PROGRESS_FILE, the fixed layer (the supervisor) writes the run's progress
// there (step, share of the budget, tokens/s, ETA, the loss given to budget_report_loss) at
// most once a second and after the last step: `autoresearch status` and the live line of
// `run`/`loop` show it, and the ledger records the last state's steps, tokens and tokens/s.
// budget_report_loss is optional and only displayed: call it before budget_step with the
// step's training loss.

void budget_begin(void);
void budget_flops_per_token(double flops);        // once, before the first batch
void budget_report_loss(double loss);             // the latest training loss (display only)
int budget_step(long long tokens, double flops);  // returns 1 once the budget is spent
double budget_progress(void);                     // fraction of the budget used, in [0,1]
double budget_training_seconds(void);             // counted training time so far
double now_seconds(void);                         // monotonic clock

// ----------------------------------------------------------------------------
// Seed. Returns $AUTORESEARCH_SEED when the harness set it (`autoresearch noise` varies it),
// else fallback; the value is recorded and printed in the summary.

uint64_t run_seed(uint64_t fallback);

// ----------------------------------------------------------------------------
// Summary: the block the harness parses. Labels and format are the original project's.

typedef struct {
    double val_bpb;
    double training_seconds;
    double total_seconds;
    double peak_vram_mb;        // on CPU: peak resident memory (see peak_memory_mb)
    double mfu_percent;
    double total_tokens_M;
    int num_steps;
    double num_params_M;
    int depth;
} Summary;
// Prints "---" and the block, then the fixed layer's own lines (data set, budget, seed).
// Extra "label: value" lines from train.c may follow it.
void print_summary(const Summary *s);
double peak_memory_mb(void);    // peak resident set size of this process

#endif // PREPARE_H

// supervise.h -- the supervisor: runs the trainer (build/train, from train.c) as a sandboxed
// child and owns everything a score depends on: the training rows it hands out, the clock and
// the token count of the budget, the evaluation rows, the log-softmax of the logits the child
// returns, the probes, and the result file. `autoresearch train` is its command; the harness
// runs it for every experiment (run, loop, noise).
//
// Result file (--result, "key: value" lines, written atomically once the child and every
// process it started are gone): status (ok | crash | invalid), reason, val_bpb, test_bpb,
// eval_tokens, dataset, sandbox, training_seconds, total_tokens_M, num_steps,
// peak_memory_mb, eval_seconds, probe_causal_max, probe_frozen_max, probe_tolerance,
// probe_splice_nll, probe_splice_floor, probe_splice_d, probe_splice_t, probe_splice_seams,
// flops_per_token, flops_counted, flops_reported, train_gflops_per_s, trainer_exit,
// fixed_error (the fixed layer's own failure, else "-"; also after its die(), in a result of
// status, reason and fixed_error only).
#ifndef SUPERVISE_H
#define SUPERVISE_H

#include <stdint.h>
#include <sys/types.h>

#include "budget.h"
#include "prepare.h"
#include "protocol.h"
#include "sandbox.h"

// Time allowed between the child's start and its first training step's start, plus the
// warm-up steps the budget does not count (process start, model build, the matmul peak
// probe, oneDNN's first primitives), and the slack after the budget for the step in flight.
#define STARTUP_ALLOWANCE_S 30.0
#define BUDGET_MARGIN(budget) ((budget) * 0.05 > 2.0 ? (budget) * 0.05 : 2.0)   // seconds
// Probes (supervise_eval.c): batches of causality probe rows among the validation batches,
// and the largest difference, in nats, between a target's NLL scored twice that still
// counts as the same model (bf16 and fp32 measurements in README "Threat model").
#define PROBE_BATCHES 2
#define PROBE_TOLERANCE 0.05
// The splice probe's constants are in splice.h.

int train_main(int argc, char **argv);

// ----------------------------------------------------------------------------
// Internal: the state shared by supervisor.c, supervise_serve.c and supervise_eval.c

typedef struct {
    int sock, shm;             // our ends: the socketpair, the memfd
    size_t shm_size;           // bytes allocated in the memfd
    pid_t child;               // the sandbox's first process (pid 1 of its namespace)
    int status_sock;           // the child reports the trainer's wait status here
    int trainer_status;        // -1 until reported
    int gone;                  // the child has exited or was killed
    const Tokenizer *tok;
    int V, T;
    long eval_tokens;
    char reason[600];          // why the run is not ok (first cause wins)
    char status[16];           // ok | crash | invalid
    int fixed;                 // the cause is the fixed layer's own failure (fixed_error)
    const char *nll_out;       // --nll-out: where the validation targets' NLLs go, or NULL
} Super;

// Sets status and reason unless a cause is recorded already.
void sup_fail(Super *S, const char *status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// The same for a failure of the fixed layer itself (a crash, recorded also as fixed_error).
void sup_fixed(Super *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// A page-aligned region of len bytes in the memfd: its offset (mapped at *ptr), or -1.
int64_t sup_region(Super *S, size_t len, void **ptr);
// Sends rep, then waits for the child's next request, which must be op. 0, or -1 (the child
// is gone, or sent something else: recorded in S).
int sup_exchange(Super *S, const void *rep, int op);
// Talking to the child (supervise_serve.c); the run (supervisor.c) owns these two:
extern SandboxMonitor sup_mon;   // the sandbox monitor's state, watched while waiting
extern int sup_gradcheck;        // --gradcheck: the child is build/gradcheck (gradcheck.h)
void sup_kill_child(Super *S);   // kills the child (pid 1 of its namespace: all of it); gone
// The child's next request, watching the deadline, the sandbox and the child's exit. 0 or -1.
int sup_recv(Super *S, Msg *m);

// The budget (supervise_budget.c), on the supervisor's clock and count
enum { PHASE_TRAIN, PHASE_EVAL, PHASE_AFTER };
typedef struct {
    BudgetMode mode;
    double amount;
    int begun, done, steps, phase;
    double t_child, t_begin, t_last, counted, flops, allowance;
    double timed_tokens, timed_flops, loss, progress_written;
    double fpt, flops_reported;   // budget_flops_per_token (0: none), the sum of budget_step's FLOPs
    long long tokens, tokens_at_step;
    long batches_step, batches_first;
} SupBudget;
extern SupBudget sup_bud;
void sup_begin(void);                      // the clock starts (once)
int sup_may_hand_out(void);                // may another batch of rows go out?
void sup_step(double flops, double loss);  // a budget_step: count it, maybe done
void sup_progress(double t, int force);    // the progress file, at most once a second unless forced
Msg sup_budget_reply(void);                // the reply to STEP, BEGIN, PROGRESS, DECLARE

typedef struct {
    double val, test, seconds;
    double causal_max, frozen_max;
    double splice_nll, splice_floor;   // mean NLL at the seams, and the floor it must reach
    double splice_d, splice_t;         // mean of (seam NLL - decoys' NLL), its t statistic
    long splice_n;                     // seams scored
} EvalResult;
// The whole evaluation for a child that asked with batch size B: validation with the
// causality probes among it, test, the frozen-model probe. 0, or -1 (cause in S).
int supervise_eval(Super *S, int B, EvalResult *out);
// Serves requests until the trainer is gone. The evaluation runs inside (OP_EVAL).
void sup_serve(Super *S, EvalResult *ev, int *evaluated);


#endif

// client.c -- prepare.h inside the trainer: the child side of the supervisor's protocol
// (protocol.h). build/train links this instead of the in-process dataloader, evaluation and
// budget, so every row it trains on, every second it is given and every score comes from the
// supervisor. Nothing here is trusted: train.c can bypass all of it, which is why the
// supervisor checks what arrives and the sandbox limits what else the process can do.
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "prepare.h"
#include "protocol.h"
#include "summary.h"
#include "tokenizer.h"
#include "util.h"

static int connected;

static void rpc(const Msg *req, Msg *rep) {
    if (!connected) {
        connected = 1;
        Msg hello = {.op = OP_HELLO, .a = PROTO_VERSION}, r;
        rpc(&hello, &r);
    }
    if (send(PROTO_SOCK_FD, req, sizeof *req, MSG_NOSIGNAL) != (ssize_t)sizeof *req) {
        if (errno == EBADF || errno == ENOTSOCK)
            die("build/train runs under the supervisor: start it with `./autoresearch train` (or run/loop)");
        die("the supervisor is gone (%s)", strerror(errno));
    }
    ssize_t k;
    while ((k = recv(PROTO_SOCK_FD, rep, sizeof *rep, 0)) < 0 && errno == EINTR) {}
    if (k != (ssize_t)sizeof *rep) die("the supervisor is gone");
}

static void *map_region(int64_t off, size_t len) {
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, PROTO_SHM_FD, (off_t)off);
    if (p == MAP_FAILED) die("cannot map the supervisor's shared memory: %s", strerror(errno));
    return p;
}

// ----------------------------------------------------------------------------
// Tokenizer: the supervisor names the one file the sandbox lets the trainer read.

Tokenizer *tokenizer_load_prepared(void) {
    const char *path = getenv("AUTORESEARCH_TOKENIZER");
    if (!path || !*path)
        die("build/train runs under the supervisor: start it with `./autoresearch train` (or run/loop)");
    char err[512];
    Tokenizer *tok = tokenizer_load(path, err, sizeof err);
    if (!tok) die("%s", err);
    return tok;
}

// ----------------------------------------------------------------------------
// Dataloader: each dataloader_next asks for one batch; the supervisor's producer thread has
// packed it ahead, and its count of the rows handed out is the token budget.

struct DataLoader {
    int B, T, epoch;
    const int32_t *rows;   // (B, T+1) in shared memory
    size_t len;
};

DataLoader *dataloader_open(int B, int T, uint64_t seed) {
    Msg req = {.op = OP_OPEN, .a = B, .b = T, .n = (int64_t)seed}, rep;
    rpc(&req, &rep);
    if (rep.op != REP_OK) die("dataloader_open: the supervisor refused B=%d T=%d (see its message above)", B, T);
    DataLoader *dl = xcalloc(1, sizeof *dl);
    dl->B = B;
    dl->T = T;
    dl->epoch = 1;
    dl->len = (size_t)rep.a;
    dl->rows = map_region(rep.n, dl->len);
    return dl;
}

void dataloader_next(DataLoader *dl, int32_t *inputs, int32_t *targets) {
    Msg req = {.op = OP_NEXT}, rep;
    rpc(&req, &rep);
    if (rep.op != REP_ROWS) die("dataloader_next: the supervisor hands out no more training rows (the budget is spent)");
    dl->epoch = rep.a;
    const int T = dl->T;
    for (int b = 0; b < dl->B; b++) {
        const int32_t *row = dl->rows + (size_t)b * (T + 1);
        memcpy(inputs + (size_t)b * T, row, T * sizeof(int32_t));
        memcpy(targets + (size_t)b * T, row + 1, T * sizeof(int32_t));
    }
}

int dataloader_epoch(const DataLoader *dl) { return dl->epoch; }

void dataloader_close(DataLoader *dl) {
    if (!dl) return;
    munmap((void *)dl->rows, dl->len);
    free(dl);
}

// ----------------------------------------------------------------------------
// Budget: the supervisor's clock and count

static double last_loss = NAN;   // budget_report_loss: sent with the next budget_step

static Msg budget_rpc(int op, long long tokens, double flops) {
    Msg req = {.op = op, .n = tokens, .x = flops, .y = last_loss}, rep;
    rpc(&req, &rep);
    if (rep.op != REP_BUDGET) die("the supervisor refused a budget request");
    return rep;
}

void budget_begin(void) { budget_rpc(OP_BEGIN, 0, 0); }
void budget_flops_per_token(double flops) { budget_rpc(OP_DECLARE, 0, flops); }
void budget_report_loss(double loss) { last_loss = loss; }
int budget_step(long long tokens, double flops) { return budget_rpc(OP_STEP, tokens, flops).a; }
double budget_progress(void) { return budget_rpc(OP_PROGRESS, 0, 0).x; }
double budget_training_seconds(void) { return budget_rpc(OP_PROGRESS, 0, 0).y; }

// ----------------------------------------------------------------------------
// Evaluation: the supervisor hands out batches of input rows until it has what it needs
// (validation, test and probe rows, in an order train.c cannot tell apart), then the
// validation score.

double evaluate_bpb(LogitsFn logits_fn, void *ctx, int B) {
    Msg req = {.op = OP_EVAL, .a = B}, rep;
    rpc(&req, &rep);
    int V = 0, T = MAX_SEQ_LEN;
    int64_t mapped_off = -1;
    char *base = NULL;
    size_t len = 0;
    while (rep.op == REP_BATCH) {
        if (rep.n != mapped_off) {
            if (base) munmap(base, len);
            V = rep.b;
            len = (size_t)(rep.m - rep.n) + (size_t)B * T * V * sizeof(float);
            base = map_region(rep.n, len);
            mapped_off = rep.n;
        }
        logits_fn(ctx, (const int32_t *)base, B, T, (float *)(base + (rep.m - rep.n)));
        Msg done = {.op = OP_LOGITS};
        rpc(&done, &rep);
    }
    if (base) munmap(base, len);
    if (rep.op != REP_EVAL_DONE) die("evaluate_bpb: the supervisor refused the evaluation (see its message above)");
    return rep.x;
}

// ----------------------------------------------------------------------------
// Summary (informational: the supervisor records its own numbers; run_seed is summary.c's)

static const char *env_or(const char *k, const char *dflt) {
    const char *v = getenv(k);
    return v && *v ? v : dflt;
}

void print_summary(const Summary *s) {
    summary_print(s, env_or("AUTORESEARCH_DATASET_ID", "unknown"), env_or("AUTORESEARCH_BUDGET_DESC", "unknown"),
                  env_or("AUTORESEARCH_EVAL_TOKENS", "unknown"));
}

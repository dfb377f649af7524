// supervise_serve.c -- the supervisor's side of the wire (supervise.h, protocol.h): the
// child's requests answered one by one (training rows, the budget's clock, the evaluation),
// the deadline, the sandbox and the child's exit watched while it waits for the next one, and
// the causes a run is not ok recorded. supervisor.c starts the child and writes the result.
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol.h"
#include "supervise.h"
#include "util.h"

static void vfail(Super *S, const char *status, int fixed, const char *fmt, va_list ap) {
    if (strcmp(S->status, "ok") && !(strcmp(status, "invalid") == 0 && strcmp(S->status, "invalid") != 0)) return;
    snprintf(S->status, sizeof S->status, "%s", status);   // an invalid cause overrides a crash
    vsnprintf(S->reason, sizeof S->reason, fmt, ap);
    S->fixed = fixed;
}
void sup_fail(Super *S, const char *status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(S, status, 0, fmt, ap);
    va_end(ap);
}
void sup_fixed(Super *S, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(S, "crash", 1, fmt, ap);
    va_end(ap);
}

int64_t sup_region(Super *S, size_t len, void **ptr) {
    const size_t page = 4096;
    size_t off = (S->shm_size + page - 1) / page * page, end = off + (len + page - 1) / page * page;
    if (ftruncate(S->shm, (off_t)end) != 0) {
        // a memfd counts against the file size limit (SIGXFSZ is ignored, so this is EFBIG)
        struct rlimit fs;
        char lim[160] = "";
        if (errno == EFBIG && getrlimit(RLIMIT_FSIZE, &fs) == 0 && fs.rlim_cur != RLIM_INFINITY)
            snprintf(lim, sizeof lim, " (the file size limit, `ulimit -f`, is %.0f KB; the shared memory is a file)",
                     (double)fs.rlim_cur / 1024);
        sup_fixed(S, "cannot grow the shared memory with the trainer to %.0f KB: %s%s", end / 1024.0, strerror(errno), lim);
        return -1;
    }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, S->shm, (off_t)off);
    if (p == MAP_FAILED) { sup_fixed(S, "cannot map the shared memory with the trainer: %s", strerror(errno)); return -1; }
    S->shm_size = end;
    *ptr = p;
    return (int64_t)off;
}

#define GRADCHECK_LIMIT_S 120.0   // --gradcheck: how long the check may run

// ----------------------------------------------------------------------------
// Talking to the child

void sup_kill_child(Super *S) {
    if (S->child > 0 && !S->gone) kill(S->child, SIGKILL);   // pid 1 of its namespace: all of it
    S->gone = 1;
}

// The child's next request, watching the deadline, the sandbox and the child's exit. 0 or -1.
int sup_recv(Super *S, Msg *m) {
    for (;;) {
        if (S->gone) return -1;
        if (sup_mon.deliberate) {
            sup_fail(S, "invalid", "%s", sup_mon.violation);
            sup_kill_child(S);
            return -1;
        }
        if (sup_gradcheck && now_seconds() > sup_bud.t_child + GRADCHECK_LIMIT_S) {
            sup_fail(S, "crash", "the gradient check ran past %.0f s", GRADCHECK_LIMIT_S);
            sup_kill_child(S);
            return -1;
        }
        double limit = sup_bud.t_child + sup_bud.allowance + sup_bud.amount + BUDGET_MARGIN(sup_bud.amount);
        if (sup_bud.phase == PHASE_TRAIN && sup_bud.mode == BUDGET_TIME && now_seconds() > limit) {
            sup_fail(S, "crash", "ran past the time budget: no evaluation %.0f s after the start "
                     "(%.0f s budget + %.0f s startup allowance + %.0f s margin)",
                     limit - sup_bud.t_child, sup_bud.amount, sup_bud.allowance, BUDGET_MARGIN(sup_bud.amount));
            sup_kill_child(S);
            return -1;
        }
        struct pollfd p[2] = {{.fd = S->sock, .events = POLLIN}, {.fd = S->status_sock, .events = POLLIN}};
        int k = poll(p, 2, 100);
        if (k < 0 && errno != EINTR) return -1;
        if (k <= 0) continue;
        if (p[0].revents) {
            ssize_t n = recv(S->sock, m, sizeof *m, MSG_DONTWAIT);
            if (n == (ssize_t)sizeof *m) return 0;
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n > 0) { sup_fail(S, "crash", "protocol error: a message of %zd bytes", n); sup_kill_child(S); return -1; }
            p[0].fd = -1;   // EOF: every holder of the trainer's socket is gone
        }
        if (p[1].revents) {
            int st;
            if (recv(S->status_sock, &st, sizeof st, MSG_DONTWAIT) == (ssize_t)sizeof st) S->trainer_status = st;
            S->gone = 1;
            return -1;
        }
        if (p[0].fd < 0) { S->gone = 1; return -1; }
    }
}

static int sup_send(Super *S, const Msg *m) {
    return send(S->sock, m, sizeof *m, MSG_NOSIGNAL) == (ssize_t)sizeof *m ? 0 : -1;
}

int sup_exchange(Super *S, const void *rep, int op) {
    Msg m;
    if (sup_send(S, rep) != 0 || sup_recv(S, &m) != 0) {
        sup_fail(S, "crash", "the trainer stopped during the evaluation");
        return -1;
    }
    if (m.op != op) {
        sup_fail(S, "crash", "protocol error: request %d during the evaluation", m.op);
        sup_kill_child(S);
        return -1;
    }
    return 0;
}

// Serves requests until the trainer is gone. The evaluation runs inside (OP_EVAL).
void sup_serve(Super *S, EvalResult *ev, int *evaluated) {
    DataLoader *dl = NULL;
    int32_t *rows = NULL, *inputs = NULL, *targets = NULL;
    int B = 0, T = 0;
    Msg m;
    while (sup_recv(S, &m) == 0) {
        Msg r = {.op = REP_REFUSED};
        if (sup_gradcheck) { sup_fail(S, "crash", "the gradient check asked the supervisor for data (request %d)", m.op); break; }
        switch (m.op) {
        case OP_HELLO:
            if (m.a == PROTO_VERSION) r = (Msg){.op = REP_OK, .a = S->V, .b = S->T};
            else sup_fail(S, "crash", "protocol version %d, expected %d (rebuild build/train)", m.a, PROTO_VERSION);
            break;
        case OP_OPEN:
            if (sup_bud.phase != PHASE_TRAIN || m.a < 1 || m.b < 1 || m.b > MAX_SEQ_LEN || (double)m.a * (m.b + 1) * 4 > 1e9) {
                sup_fail(S, "crash", "dataloader_open: B=%d T=%d refused (1 <= T <= %d, during training)", m.a, m.b, MAX_SEQ_LEN);
                break;
            }
            if (dl) dataloader_close(dl);
            free(inputs); free(targets);
            B = m.a, T = m.b;
            dl = dataloader_open(B, T, (uint64_t)m.n);
            inputs = xmalloc((size_t)B * T * sizeof *inputs);
            targets = xmalloc((size_t)B * T * sizeof *targets);
            int64_t off = sup_region(S, (size_t)B * (T + 1) * sizeof *rows, (void **)&rows);
            if (off < 0) { sup_fail(S, "crash", "cannot allocate shared memory for the batch"); break; }
            r = (Msg){.op = REP_OK, .n = off, .a = (int32_t)((size_t)B * (T + 1) * sizeof *rows), .b = S->V};
            break;
        case OP_NEXT:
            if (!dl || sup_bud.phase != PHASE_TRAIN) { sup_fail(S, "crash", "dataloader_next without an open dataloader or after the evaluation began"); break; }
            if (sup_bud.mode == BUDGET_FLOPS && !(sup_bud.fpt > 0)) {
                sup_fail(S, "crash", "flops budget: train.c must call budget_flops_per_token() before its first dataloader_next");
                break;
            }
            if (!sup_may_hand_out()) { sup_fail(S, "crash", "train.c asked for training rows after the budget was spent"); break; }
            sup_begin();
            dataloader_next(dl, inputs, targets);   // the producer thread packed it ahead
            for (int b = 0; b < B; b++) {
                memcpy(rows + (size_t)b * (T + 1), inputs + (size_t)b * T, T * sizeof *rows);
                rows[(size_t)b * (T + 1) + T] = targets[(size_t)b * T + T - 1];
            }
            sup_bud.tokens += (long long)B * T;
            sup_bud.batches_step++;
            r = (Msg){.op = REP_ROWS, .a = dataloader_epoch(dl)};
            break;
        case OP_BEGIN: sup_begin(); r = sup_budget_reply(); break;
        case OP_DECLARE:
            if (sup_bud.fpt > 0 || sup_bud.tokens > 0) {
                sup_fail(S, "crash", "budget_flops_per_token: called %s (once, before the first dataloader_next)",
                         sup_bud.fpt > 0 ? "twice" : "after the first batch");
                break;
            }
            // the least an output layer of V logits costs per trained token (one input feature,
            // forward 2V + backward 4V); all the supervisor knows of the model is V
            if (!(isfinite(m.x) && m.x >= 6.0 * S->V)) {
                sup_fail(S, "invalid", "flops budget: declared %.3g FLOPs per token, below 6*V = %d, the least any "
                         "model with a %d-way output layer costs", m.x, 6 * S->V, S->V);
                break;
            }
            sup_bud.fpt = m.x;
            r = sup_budget_reply();
            break;
        case OP_STEP: if (sup_bud.phase == PHASE_TRAIN) sup_step(m.x, m.y); r = sup_budget_reply(); break;
        case OP_PROGRESS: r = sup_budget_reply(); break;
        case OP_EVAL:
            if (*evaluated) { sup_fail(S, "crash", "evaluate_bpb called twice"); break; }
            sup_bud.phase = PHASE_EVAL;
            *evaluated = 1;
            if (sup_bud.begun) { sup_bud.done = 1; sup_progress(now_seconds(), 1); }   // training is over: "evaluating"
            if (supervise_eval(S, m.a, ev) == 0) r = (Msg){.op = REP_EVAL_DONE, .x = ev->val};
            else *evaluated = 0;
            sup_bud.phase = PHASE_AFTER;
            break;
        default:
            sup_fail(S, "crash", "protocol error: unknown request %d", m.op);
        }
        if (S->gone || sup_send(S, &r) != 0) break;
        if (r.op == REP_REFUSED) { sup_kill_child(S); break; }
    }
    if (dl) dataloader_close(dl);
    free(inputs); free(targets);
}

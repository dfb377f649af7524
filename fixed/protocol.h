// protocol.h -- the wire between the supervisor (supervise_serve.c) and the trainer it runs
// (client.c, the child side of prepare.h). Internal to the fixed layer; train.c never sees it.
//
// The child inherits two descriptors: PROTO_SOCK_FD, one end of a SOCK_SEQPACKET socketpair
// that carries fixed-size Msg requests and replies (strictly request -> reply, the child
// asks), and PROTO_SHM_FD, a memfd that holds the bulk data: the training batch handed out
// and the evaluation rows and logits. The supervisor grows the memfd (sealed against
// shrinking, so a hostile child cannot make the supervisor fault) and names each region by
// offset and length in its replies; the client maps them. Nothing the child writes into the
// memfd is trusted: the supervisor copies each row of logits out before scoring it, and its
// targets never leave its own memory.
#ifndef PROTOCOL_H
#define PROTOCOL_H

#include <stdint.h>

#define PROTO_SOCK_FD 3
#define PROTO_SHM_FD 4
#define PROTO_VERSION 2

enum {
    // child -> supervisor
    OP_HELLO = 1,      // a = PROTO_VERSION
    OP_OPEN,           // dataloader_open: a = B, b = T, n = seed
    OP_NEXT,           // dataloader_next
    OP_BEGIN,          // budget_begin
    OP_STEP,           // budget_step: n = tokens, x = flops, y = the loss reported (NaN: none)
    OP_PROGRESS,       // budget_progress / budget_training_seconds
    OP_EVAL,           // evaluate_bpb: a = B (then OP_LOGITS after every batch)
    OP_LOGITS,         // the logits of the batch handed out are in place
    OP_DECLARE,        // budget_flops_per_token: x = model FLOPs per training token
    // supervisor -> child
    REP_OK = 100,        // OPEN: n = offset, a = bytes of the batch region, b = V
                       // HELLO: a = V, b = MAX_SEQ_LEN
    REP_ROWS,            // NEXT: the (B,T+1) rows are at the batch region; a = epoch
    REP_BUDGET,          // STEP/PROGRESS: a = done, x = progress, y = counted training seconds
    REP_BATCH,           // EVAL: inputs (B,T) at offset n, logits (B,T,V) at offset m
    REP_EVAL_DONE,       // EVAL finished: x = val_bpb
    REP_REFUSED,         // the request is refused; the reason is in the supervisor's log
};

typedef struct {
    int32_t op, a, b, c;
    int64_t n, m;
    double x, y;
} Msg;

#endif

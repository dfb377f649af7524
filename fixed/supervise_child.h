// supervise_child.h -- the supervisor's forked child (supervise_child.c).
#ifndef SUPERVISE_CHILD_H
#define SUPERVISE_CHILD_H

#include <stddef.h>
#include "sandbox.h"

typedef struct {
    const SandboxSpec *sandbox;
    int sandbox_off;           // AUTORESEARCH_SANDBOX=none
    int pidns;                 // the child is pid 1 of a new PID namespace
    int setup;                 // socket: the sandbox's description + notify fd, then the trainer's status
    int sock, shm;             // the protocol's descriptors, for the trainer
    const char *trainer, *scratch;
    const char *const *env;
} ChildSpec;

// The trainer's environment: the allowed variables of ours (PATH, locale, OpenMP, oneDNN, the
// sanitizers, the seed and budget) plus extra ("KEY=VALUE"); malloc'd, NULL-terminated.
char **child_env(const char *const *extra);
// The trainer's address-space limit: $AUTORESEARCH_MEMORY_LIMIT_MB, else 80% of RAM.
long memory_limit_mb(void);
// Runs in the forked child; never returns.
_Noreturn void child_main(const ChildSpec *c);
// The supervisor's side of the setup message. 0 or -1.
int recv_with_fd(int sock, char *text, size_t n, int *fd);

#endif

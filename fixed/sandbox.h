// sandbox.h -- what the trainer process may do: Landlock (files), seccomp (system calls),
// no capabilities, limits. Applied by the supervisor's forked child to itself before it
// starts the trainer, so that everything train.c runs is inside it (see README "Threat model").
//
// The seccomp filter sends the system calls it forbids, and every open, to the supervisor
// (a user-notification descriptor), which names what was tried ("sandbox: denied open of
// .../val.bin") and answers: opens go on to Landlock, which decides; the forbidden calls fail.
#ifndef SANDBOX_H
#define SANDBOX_H

#include <stddef.h>

typedef struct {
    const char *const *read;    // hierarchies (or files) readable and executable
    const char *const *write;   // hierarchies readable and writable (the scratch folder)
    const char *const *protect; // paths whose reading is a deliberate attack (data, ledgers)
    long memory_mb;             // RLIMIT_AS of the trainer (set just before its exec); 0: none
} SandboxSpec;

// The Landlock ABI of this kernel (0: none).
int sandbox_landlock_abi(void);

// In the child: no core dumps, no new privileges, no capabilities, then (unless
// `off`) Landlock and the seccomp filter. *notify_fd gets the filter's notification
// descriptor (-1 without seccomp). Writes the `sandbox:` description ("landlock+seccomp
// (landlock abi 7)" or "none (...)") into desc. 0, or -1 with the reason in desc.
int sandbox_enter(const SandboxSpec *s, int off, int *notify_fd, char *desc, size_t n);

// In the first process of a new PID namespace, before sandbox_enter: a mount namespace with
// a /proc of that PID namespace, so that the trainer sees no process outside it. 0, or -1
// with the reason in err (then /proc stays the host's).
int sandbox_private_proc(char *err, size_t n);

// `loop --agent-sandbox`, in the agent's process before exec: a private mount namespace in
// which `hide` (the test ledger) reads as empty, then Landlock: everything readable and
// executable, writable only beneath the `write` folders (and /dev/null, the terminal). With
// nports >= 0 (`--agent-net`, Landlock ABI 4+) it may open TCP connections only to those
// ports (none for 0); with nports < 0 its network is not restricted (agents call their
// model's API). UDP (DNS) is not covered by Landlock. 0, or -1 with err.
int sandbox_agent_enter(const char *const *write, const char *hide, const int *ports, int nports, char *err, size_t n);

// In the supervisor: serves notify_fd until it closes or *stop is set (a thread body).
// Records the first denial in `violation` (a one-line reason) and whether it was deliberate.
typedef struct {
    int fd;
    const SandboxSpec *spec;
    volatile int stop;
    char violation[600];
    int deliberate;
    int denials;
} SandboxMonitor;
void *sandbox_monitor(void *monitor);

#endif

// supervise_child.c -- the supervisor's child (supervise.h): a PID namespace whose first
// process enters the sandbox, hands the seccomp notification descriptor up, starts the
// trainer and reports how it ended. When that first process exits, the kernel kills every
// other process in the namespace, so nothing the trainer started outlives the run.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocol.h"
#include "supervise_child.h"
#include "util.h"

// The trainer's environment: what it may know, nothing else (no result file, no ledger).
static const char *const pass_env[] = {"PATH=", "LANG=", "LC_", "TERM=", "OMP_", "GOMP_", "KMP_",
    "DNNL_", "ONEDNN_", "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=", "AUTORESEARCH_SEED=",
    "AUTORESEARCH_PEAK_GFLOPS=", "AUTORESEARCH_BUDGET_MODE=", "AUTORESEARCH_BUDGET=",
    "AUTORESEARCH_THREADS=", NULL};
extern char **environ;

char **child_env(const char *const *extra) {
    int n = 0, cap = 16;
    char **env = xmalloc(cap * sizeof *env);
    for (char **e = environ; *e; e++)
        for (const char *const *p = pass_env; *p; p++)
            if (!strncmp(*e, *p, strlen(*p))) {
                if (n + 2 >= cap) env = xrealloc(env, (cap *= 2) * sizeof *env);
                env[n++] = xstrdup(*e);
                break;
            }
    for (const char *const *x = extra; *x; x++) {
        if (n + 2 >= cap) env = xrealloc(env, (cap *= 2) * sizeof *env);
        env[n++] = xstrdup(*x);
    }
    env[n] = NULL;
    return env;
}

long memory_limit_mb(void) {
    const char *e = getenv("AUTORESEARCH_MEMORY_LIMIT_MB");
    if (e && *e) return atol(e);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (long)((double)pages * page * 0.8 / (1 << 20)) : 0;   // 80% of RAM
}

// Sends text and, when fd >= 0, the descriptor (SCM_RIGHTS).
static int send_with_fd(int sock, const char *text, int fd) {
    struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text) + 1};
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof cbuf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int recv_with_fd(int sock, char *text, size_t n, int *fd) {
    struct iovec iov = {.iov_base = text, .iov_len = n - 1};
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    *fd = -1;
    ssize_t k = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    if (k <= 0) return -1;
    text[k < (ssize_t)n ? k : (ssize_t)n - 1] = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(fd, CMSG_DATA(c), sizeof *fd);
    return 0;
}

static void move_fd(int from, int to) {
    if (from == to) { fcntl(to, F_SETFD, 0); return; }
    if (dup2(from, to) < 0) _exit(127);
}

_Noreturn void child_main(const ChildSpec *c) {
    signal(SIGXFSZ, SIG_DFL);   // the supervisor ignores it; the trainer gets the default
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (!c->pidns) prctl(PR_SET_CHILD_SUBREAPER, 1);
    // This process holds the supervisor's environment and a copy of its memory, and sits in
    // the trainer's Landlock domain: not dumpable, so the trainer (without capabilities)
    // cannot read its /proc entries (environ, mem, maps, fd, root).
    prctl(PR_SET_DUMPABLE, 0);
    char proc_err[200] = "";
    if (!c->pidns) snprintf(proc_err, sizeof proc_err, "no pid namespace");
    else if (!c->sandbox_off) sandbox_private_proc(proc_err, sizeof proc_err);
    int nfd;
    char desc[400];
    int rc = sandbox_enter(c->sandbox, c->sandbox_off, &nfd, desc, sizeof desc);
    char msg[640];
    snprintf(msg, sizeof msg, "%s%s%s%s", rc ? "error: " : "", desc, c->sandbox_off || rc ? "" : proc_err[0] ? ", host /proc: " : ", private /proc",
             c->sandbox_off || rc ? "" : proc_err);
    if (send_with_fd(c->setup, msg, nfd) != 0 || rc) _exit(125);   // no supervisor, or no sandbox
    if (nfd >= 0) close(nfd);
    pid_t t = fork();
    if (t == 0) {
        // fds 3 and 4 for the protocol: park them above first, so neither overwrites the other
        int s = fcntl(c->sock, F_DUPFD, 10), m = fcntl(c->shm, F_DUPFD, 10);
        if (s < 0 || m < 0) _exit(127);
        move_fd(s, PROTO_SOCK_FD);
        move_fd(m, PROTO_SHM_FD);
        close_range(PROTO_SHM_FD + 1, ~0U, 0);
        if (chdir(c->scratch) != 0) _exit(127);
        if (c->sandbox->memory_mb > 0) {   // here, not earlier: this process may be an ASan build
            struct rlimit as = {(rlim_t)c->sandbox->memory_mb << 20, (rlim_t)c->sandbox->memory_mb << 20};
            setrlimit(RLIMIT_AS, &as);
        }
        char *argv[] = {(char *)c->trainer, NULL};
        execve(c->trainer, argv, (char *const *)c->env);
        fprintf(stderr, "autoresearch train: cannot run %s: %s\n", c->trainer, strerror(errno));
        _exit(127);
    }
    close(c->sock);
    close(c->shm);
    int st = 0, got = 0;
    for (;;) {
        pid_t w = waitpid(-1, &st, 0);
        if (w == t) { got = 1; break; }
        if (w < 0 && errno != EINTR) break;
    }
    if (!got) st = 127 << 8;
    ssize_t wrote = send(c->setup, &st, sizeof st, MSG_NOSIGNAL);
    (void)wrote;
    // Without a PID namespace: what the trainer left in this process group goes with it
    // (a process that left the group escapes; README "Threat model").
    if (!c->pidns) { signal(SIGKILL, SIG_DFL); kill(0, SIGKILL); }
    _exit(0);
}

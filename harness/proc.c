// proc.c -- child processes: the build, the training run, the agent, git.
#include "harness.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

// Child side of fork: own process group, dies with the harness, redirections, exec.
static _Noreturn void child_exec(const ProcSpec *s, pid_t parent) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);    // the harness died before prctl
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    int in = open(s->stdin_path ? s->stdin_path : "/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0) {
        fprintf(stderr, "autoresearch: cannot open %s: %s\n", s->stdin_path, strerror(errno));
        _exit(127);
    }
    if (s->out_path) {
        int out = open(s->out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (out < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(127);
    }
    for (const char *const *e = s->env; e && *e; e++) {
        if (strchr(*e, '=')) putenv(xstrdup(*e));
        else unsetenv(*e);
    }
    char err[512];
    if (s->pre_exec && s->pre_exec(s->pre_exec_arg, err, sizeof err) != 0) {
        fprintf(stderr, "autoresearch: %s\n", err);
        _exit(126);
    }
    execvp(s->argv[0], (char *const *)s->argv);
    fprintf(stderr, "autoresearch: cannot run %s: %s\n", s->argv[0], strerror(errno));
    _exit(127);
}

// Kills the group: TERM, a grace period, then KILL.
static void kill_group(pid_t pid) {
    killpg(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) break;
        sleep_ms(20);
    }
    killpg(pid, SIGKILL);
}

int proc_run(const ProcSpec *s, ProcResult *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    double t0 = now_seconds();
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) child_exec(s, parent);
    setpgid(pid, pid);   // also from here, so killpg works before the child ran
    for (int killed = 0;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) {
            killpg(pid, SIGKILL);   // whatever the leader left behind in its group
            break;
        }
        if (!killed && s->timeout > 0 && now_seconds() - t0 > s->timeout) {
            r->timed_out = killed = 1;
            kill_group(pid);
        } else if (!killed && s->abort_flag && *s->abort_flag) {
            r->aborted = killed = 1;
            kill_group(pid);
        }
        sleep_ms(20);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    r->seconds = now_seconds() - t0;
    if (WIFEXITED(st)) r->exit_code = WEXITSTATUS(st);
    else { r->exit_code = -1; r->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0; }
    return 0;
}

static char *read_fd_all(int fd) {
    size_t n = 0, cap = 4096;
    char *s = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) s = xrealloc(s, cap *= 2);
        ssize_t k = read(fd, s + n, cap - n - 1);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        n += (size_t)k;
    }
    s[n] = 0;
    return s;
}

int cmd_capture(const char *const *argv, char **out, char **errout) {
    int po[2];
    FILE *ef = tmpfile();
    if (!ef || pipe(po) != 0) {
        if (ef) fclose(ef);
        if (out) *out = xstrdup("");
        if (errout) *errout = xstrdup(strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(po[0]);
        dup2(po[1], 1);
        dup2(fileno(ef), 2);
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, 0);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    close(po[1]);
    char *o = read_fd_all(po[0]);
    close(po[0]);
    int st = 0;
    if (pid < 0) st = -1;
    else while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    fflush(ef);
    rewind(ef);
    char *e = read_fd_all(fileno(ef));
    fclose(ef);
    int rc = pid < 0 ? -1 : (WIFEXITED(st) ? WEXITSTATUS(st) : 128);
    if (out) *out = o; else free(o);
    if (errout) *errout = e; else free(e);
    return rc;
}

// proc.c -- child processes: the build, the training run, the agent, git.
#include "harness.h"
#include "util.h"

#include <dirent.h>
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

// The child's environment: the harness's, less the keys spec names, plus its KEY=VALUE
// entries. Built before fork, since the child of a harness with threads (the live line's)
// must not allocate: a lock another thread held at the fork stays held in the child.
static char **child_env(const char *const *env) {
    int n = 0, k = 0;
    while (environ[n]) n++;
    for (const char *const *e = env; e && *e; e++) k++;
    char **out = xmalloc((size_t)(n + k + 1) * sizeof *out);
    int m = 0;
    for (int i = 0; i < n; i++) {
        int drop = 0;
        for (const char *const *e = env; e && *e && !drop; e++) {
            size_t kl = strcspn(*e, "=");
            drop = !strncmp(environ[i], *e, kl) && environ[i][kl] == '=';
        }
        if (!drop) out[m++] = environ[i];
    }
    for (const char *const *e = env; e && *e; e++)
        if (strchr(*e, '=')) out[m++] = (char *)*e;
    out[m] = NULL;
    return out;
}

// Child side of fork: own process group, dies with the harness, redirections, exec.
static _Noreturn void child_exec(const ProcSpec *s, pid_t parent, char **envp) {
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
    close_range(3, ~0u, 0);   // no descriptor of the harness (its lock, a ledger) reaches a child
    environ = envp;
    char err[512];
    if (s->pre_exec && s->pre_exec(s->pre_exec_arg, err, sizeof err) != 0) {
        fprintf(stderr, "autoresearch: %s\n", err);
        _exit(126);
    }
    execvp(s->argv[0], (char *const *)s->argv);
    fprintf(stderr, "autoresearch: cannot run %s: %s\n", s->argv[0], strerror(errno));
    _exit(127);
}

// The parent of pid from /proc/<pid>/stat (the field after the parenthesised name, which may
// itself hold spaces or parentheses); -1 when the process is gone.
static pid_t parent_of(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    int ppid;
    if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1) return -1;
    return (pid_t)ppid;
}

// Every process below the harness, found by walking /proc's parent links. The harness is a
// child subreaper (proc_init), so a daemon that left its process group and its parent
// (setsid, a double fork) is still below it.
static int descendants(pid_t *out, int max) {
    enum { MAXP = 32768 };
    static pid_t pids[MAXP], ppids[MAXP];
    int n = 0, k = 0;
    DIR *d = opendir("/proc");
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAXP) {
        char *end;
        long p = strtol(e->d_name, &end, 10);
        if (*end || p <= 0) continue;
        pid_t pp = parent_of((pid_t)p);
        if (pp < 0) continue;
        pids[n] = (pid_t)p, ppids[n] = pp, n++;
    }
    closedir(d);
    pid_t self = getpid();
    for (int i = 0; i < n && k < max; i++) {
        pid_t q = ppids[i];
        for (int depth = 0; q > 1 && q != self && depth < 64; depth++) {
            int j = 0;
            while (j < n && pids[j] != q) j++;
            q = j < n ? ppids[j] : 0;
        }
        if (q == self) out[k++] = pids[i];
    }
    return k;
}

void proc_init(void) { prctl(PR_SET_CHILD_SUBREAPER, 1); }

int proc_kill_descendants(void) {
    int killed = 0;
    for (int round = 0; round < 100; round++) {
        pid_t p[1024];
        int n = descendants(p, 1024);
        if (!n) break;
        for (int i = 0; i < n; i++) kill(p[i], SIGSTOP);   // frozen first: nothing forks meanwhile
        for (int i = 0; i < n; i++) kill(p[i], SIGKILL);
        killed += n;
        sleep_ms(5);
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    return killed;
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
    char **envp = child_env(s->env);
    pid_t pid = fork();
    if (pid == 0) child_exec(s, parent, envp);
    free(envp);
    if (pid < 0) {
        snprintf(err, errlen, "cannot fork: %s", strerror(errno));
        return -1;
    }
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
    r->leftovers = proc_kill_descendants();
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

int cmd_io(const char *const *argv, const void *in, size_t inlen, char **out, size_t *outlen) {
    *out = NULL;
    *outlen = 0;
    FILE *inf = tmpfile();
    int po[2];
    if (!inf || (inlen && fwrite(in, 1, inlen, inf) != inlen) || fflush(inf) != 0 || pipe(po) != 0) {
        if (inf) fclose(inf);
        return -1;
    }
    rewind(inf);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(po[0]);
        dup2(fileno(inf), 0);
        dup2(po[1], 1);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 2);
        close_range(3, ~0u, 0);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    fclose(inf);
    size_t n = 0, cap = 1 << 16;
    char *s = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) s = xrealloc(s, cap *= 2);
        ssize_t k = pid < 0 ? 0 : read(po[0], s + n, cap - n - 1);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        n += (size_t)k;
    }
    s[n] = 0;
    close(po[0]);
    int st = 0;
    if (pid < 0) { free(s); return -1; }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    *out = s;
    *outlen = n;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
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
        close_range(3, ~0u, 0);
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

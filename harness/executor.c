// executor.c -- where a job runs: a local process pinned to its slot's cores, or Slurm.
//
// A local worker is started outside the harness's process tree (a double fork while the
// harness is briefly no child subreaper), in its own session: Ctrl-C on the terminal does not
// reach it, the harness's clean-up of what its children leave behind does not kill it, and
// it survives a kill -9 of the harness, whose next `loop` adopts it again by pid (checked
// against the process's command line, which names the job's folder).
#include "pool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Pins the calling process to the slot's cores: threads cores from slot * threads, wrapping.
static void pin(int slot, int threads) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1 || threads < 1) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < threads; i++) CPU_SET((int)(((long)slot * threads + i) % ncpu), &set);
    sched_setaffinity(0, sizeof set, &set);
}

// Is pid alive and the worker of dir (a pid reused by another process is not)?
static int local_alive(pid_t pid, const char *dir) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *st = read_file(path, NULL);
    char *p = st ? strrchr(st, ')') : NULL;
    int zombie = !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
    free(st);
    if (zombie) return 0;
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    for (ssize_t i = 0; i < n; i++) if (!buf[i]) buf[i] = ' ';
    buf[n] = 0;
    return strstr(buf, dir) != NULL;
}

static int local_submit(const Executor *X, const char *dir, int slot, char *id, size_t idn, char *err, size_t errlen) {
    char *exe = self_exe(), *log = xasprintf("%s/job.log", dir);
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        free(exe); free(log);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    pid_t mid = fork();
    if (mid == 0) {
        setsid();
        pid_t w = fork();
        if (w == 0) {
            int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644), in = open("/dev/null", O_RDONLY);
            if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(127);
            close_range(3, ~0u, 0);
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            pin(slot, X->threads);
            execl(exe, exe, "job", dir, (char *)NULL);
            _exit(127);
        }
        if (write(fds[1], &w, sizeof w) != (ssize_t)sizeof w) _exit(1);
        _exit(0);
    }
    close(fds[1]);
    pid_t w = -1;
    ssize_t got = mid > 0 ? read(fds[0], &w, sizeof w) : 0;
    close(fds[0]);
    if (mid > 0) while (waitpid(mid, NULL, 0) < 0 && errno == EINTR) {}
    proc_init();
    free(exe);
    free(log);
    if (mid < 0 || got != (ssize_t)sizeof w || w <= 0) {
        snprintf(err, errlen, "cannot start a local worker: %s", strerror(errno));
        return -1;
    }
    // until it has exec'd, its command line is the harness's: wait for the job's (or its end)
    for (int i = 0; i < 2000 && !local_alive(w, dir); i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d", (int)w);
        if (!file_exists(path)) break;
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    snprintf(id, idn, "local:%d", (int)w);
    return 0;
}

int exec_submit(const Executor *X, const char *dir, int slot, const char *name, char *id, size_t idn,
                char *err, size_t errlen) {
    if (X->slurm) return slurm_submit(X, dir, name, id, idn, err, errlen);
    return local_submit(X, dir, slot, id, idn, err, errlen);
}

JobState exec_poll(const Executor *X, const char *id, const char *dir, char *why, size_t n) {
    why[0] = 0;
    if (X->slurm) return slurm_poll(id, why, n);
    pid_t pid = strncmp(id, "local:", 6) ? 0 : (pid_t)atoi(id + 6);
    return pid > 0 && local_alive(pid, dir) ? JOB_RUNNING : JOB_DONE;
}

void exec_refresh(const Executor *X) {
    if (X->slurm) slurm_refresh();
}

void exec_cancel(const Executor *X, const char *id) {
    if (X->slurm) { slurm_cancel(id); return; }
    pid_t pid = strncmp(id, "local:", 6) ? 0 : (pid_t)atoi(id + 6);
    if (pid <= 0) return;
    kill(-pid, SIGTERM);   // its session's group: the job kills its trainer and exits
    for (int i = 0; i < 100 && kill(pid, 0) == 0; i++) {
        struct timespec ts = {0, 50000000L};
        nanosleep(&ts, NULL);
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        char *st = read_file(path, NULL), *p = st ? strrchr(st, ')') : NULL;
        int gone = !p || p[2] == 'Z';
        free(st);
        if (gone) break;
    }
    kill(-pid, SIGKILL);
}

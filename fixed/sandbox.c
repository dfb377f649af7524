// sandbox.c -- the trainer's sandbox (sandbox.h): Landlock through its system calls (the
// kernel's API, no library), seccomp through libseccomp, capabilities and limits by prctl.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/securebits.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"
#include "util.h"

// Newer Landlock ABIs than the installed kernel headers may describe (the kernel decides
// at run time which of them it knows; see landlock_enter).
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define LL_NET_BIND_TCP (1ULL << 0)
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)
struct ll_ruleset_attr { uint64_t fs, net, scoped; };   // the ABI 6 layout; older ABIs read a prefix

#define FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
                     LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

int sandbox_landlock_abi(void) {
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? 0 : (int)v;
}

static int add_rule(int rs, const char *path, uint64_t access, uint64_t handled) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return 0;   // a path this system lacks: nothing to allow
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) access &= FILE_RIGHTS;
    struct landlock_path_beneath_attr pb = {.allowed_access = access & handled, .parent_fd = fd};
    long rc = syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
    close(fd);
    return rc < 0 ? -1 : 0;
}

static int landlock_enter(const SandboxSpec *s, int abi, char *err, size_t n) {
    uint64_t fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;   // ABI 1: execute .. make_sym
    if (abi >= 2) fs |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3) fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5) fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    struct ll_ruleset_attr a = {.fs = fs};
    size_t size = sizeof a.fs;
    if (abi >= 4) { a.net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP; size += sizeof a.net; }   // no TCP at all
    if (abi >= 6) { a.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL; size += sizeof a.scoped; }
    int rs = (int)syscall(SYS_landlock_create_ruleset, &a, size, 0);
    if (rs < 0) { snprintf(err, n, "landlock_create_ruleset: %s", strerror(errno)); return -1; }
    const uint64_t ro = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
    for (const char *const *p = s->read; p && *p; p++)
        if (add_rule(rs, *p, ro, fs) != 0) { snprintf(err, n, "landlock rule for %s: %s", *p, strerror(errno)); return -1; }
    for (const char *const *p = s->write; p && *p; p++)
        if (add_rule(rs, *p, fs, fs) != 0) { snprintf(err, n, "landlock rule for %s: %s", *p, strerror(errno)); return -1; }
    if (syscall(SYS_landlock_restrict_self, rs, 0) != 0) { snprintf(err, n, "landlock_restrict_self: %s", strerror(errno)); return -1; }
    close(rs);
    return 0;
}

// Root in the child would keep every capability across exec: lock that off and drop them all
// (each call fails harmlessly where the process has nothing to drop).
static void drop_capabilities(void) {
    prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                             SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED);
    for (int c = 0; c < 64; c++) prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    syscall(SYS_capset, &h, d);
}

// System calls the trainer never needs: the network, other processes' memory, the kernel's
// and the mounts' configuration, and io_uring (whose operations seccomp cannot see).
static const char *const forbidden[] = {
    "socket", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "setns", "unshare", "fsopen", "fsmount",
    "move_mount", "open_tree", "mount_setattr", "bpf", "perf_event_open", "userfaultfd",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "open_by_handle_at", "reboot", "swapon", "swapoff", "iopl", "ioperm",
    "quotactl", "acct", "settimeofday", "clock_settime", "adjtimex", "sethostname",
    "setdomainname", "syslog", NULL};
static const char *const opens[] = {"open", "openat", "openat2", "creat", NULL};

static int seccomp_enter(int *notify_fd, char *err, size_t n) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) { snprintf(err, n, "seccomp_init failed"); return -1; }
    int rc = 0;
    for (int pass = 0; pass < 2; pass++)
        for (const char *const *p = pass ? opens : forbidden; *p; p++) {
            int nr = seccomp_syscall_resolve_name(*p);
            if (nr != __NR_SCMP_ERROR) rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0);
        }
    // clone3 hides its flags in memory, where seccomp cannot read them: glibc falls back to
    // clone, whose namespace flags the filter can see
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    const uint64_t ns[] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS,
                           CLONE_NEWIPC, CLONE_NEWCGROUP};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, ns[i], ns[i]));
    if (rc) { seccomp_release(ctx); snprintf(err, n, "seccomp_rule_add failed (%d)", rc); return -1; }
    if ((rc = seccomp_load(ctx)) != 0) { seccomp_release(ctx); snprintf(err, n, "seccomp_load: %s", strerror(-rc)); return -1; }
    *notify_fd = seccomp_notify_fd(ctx);
    seccomp_release(ctx);
    if (*notify_fd < 0) { snprintf(err, n, "seccomp: no notification descriptor"); return -1; }
    return 0;
}

int sandbox_enter(const SandboxSpec *s, int off, int *notify_fd, char *desc, size_t n) {
    *notify_fd = -1;
    struct rlimit zero = {0, 0};
    setrlimit(RLIMIT_CORE, &zero);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { snprintf(desc, n, "no_new_privs: %s", strerror(errno)); return -1; }
    drop_capabilities();
    if (off) { snprintf(desc, n, "none (AUTORESEARCH_SANDBOX=none)"); return 0; }
    int abi = sandbox_landlock_abi();
    char err[300];
    if (abi < 1) { snprintf(desc, n, "none (this kernel has no Landlock)"); return 0; }
    if (landlock_enter(s, abi, err, sizeof err) != 0) { snprintf(desc, n, "%s", err); return -1; }
    if (seccomp_enter(notify_fd, err, sizeof err) != 0) { snprintf(desc, n, "%s", err); return -1; }
    snprintf(desc, n, "landlock+seccomp (landlock abi %d)", abi);
    return 0;
}

int sandbox_private_proc(char *err, size_t n) {
    if (unshare(CLONE_NEWNS) != 0) { snprintf(err, n, "no mount namespace: %s", strerror(errno)); return -1; }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        snprintf(err, n, "cannot mount a /proc of its own: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int write_proc(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t k = write(fd, text, strlen(text));
    close(fd);
    return k == (ssize_t)strlen(text) ? 0 : -1;
}

int sandbox_agent_enter(const char *const *write, const char *hide, const int *ports, int nports, char *err, size_t n) {
    if (hide && file_exists(hide)) {
        if (unshare(CLONE_NEWNS) != 0) {   // not root: a user namespace of our own uid gives the right
            char map[64];
            uid_t u = getuid();
            gid_t g = getgid();
            if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
                snprintf(err, n, "--agent-sandbox: no mount namespace to hide the test ledger in: %s", strerror(errno));
                return -1;
            }
            write_proc("/proc/self/setgroups", "deny");
            snprintf(map, sizeof map, "%u %u 1\n", (unsigned)u, (unsigned)u);
            write_proc("/proc/self/uid_map", map);
            snprintf(map, sizeof map, "%u %u 1\n", (unsigned)g, (unsigned)g);
            write_proc("/proc/self/gid_map", map);
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 || mount("/dev/null", hide, NULL, MS_BIND, NULL) != 0) {
            snprintf(err, n, "--agent-sandbox: cannot hide %s: %s", hide, strerror(errno));
            return -1;
        }
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { snprintf(err, n, "no_new_privs: %s", strerror(errno)); return -1; }
    int abi = sandbox_landlock_abi();
    if (abi < 1) { snprintf(err, n, "--agent-sandbox: this kernel has no Landlock"); return -1; }
    uint64_t fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;
    if (abi >= 2) fs |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3) fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5) fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    struct ll_ruleset_attr a = {.fs = fs};
    size_t size = sizeof a.fs;
    if (nports >= 0) {   // --agent-net: TCP connections only to these ports (any host)
        if (abi < 4) { snprintf(err, n, "--agent-net: Landlock ABI %d has no network rules (4 or later needed)", abi); return -1; }
        a.net = LL_NET_CONNECT_TCP;
        size += sizeof a.net;
    }
    int rs = (int)syscall(SYS_landlock_create_ruleset, &a, size, 0);
    if (rs < 0) { snprintf(err, n, "landlock_create_ruleset: %s", strerror(errno)); return -1; }
    const uint64_t ro = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
    int rc = add_rule(rs, "/", ro, fs);
    for (int i = 0; i < nports && !rc; i++) {
        struct { uint64_t allowed_access, port; } __attribute__((packed)) np = {LL_NET_CONNECT_TCP, (uint64_t)ports[i]};
        rc = syscall(SYS_landlock_add_rule, rs, 2 /* LANDLOCK_RULE_NET_PORT */, &np, 0) != 0;
    }
    for (const char *const *p = write; p && *p && !rc; p++) rc = add_rule(rs, *p, fs, fs);
    const char *dev[] = {"/dev/null", "/dev/tty", "/dev/pts", "/dev/ptmx", NULL};
    for (int i = 0; dev[i] && !rc; i++) rc = add_rule(rs, dev[i], fs & ~LANDLOCK_ACCESS_FS_REFER, fs);
    if (rc || syscall(SYS_landlock_restrict_self, rs, 0) != 0) {
        snprintf(err, n, "--agent-sandbox: landlock: %s", strerror(errno));
        close(rs);
        return -1;
    }
    close(rs);
    return 0;
}

// ----------------------------------------------------------------------------
// The supervisor's side of the filter

static int under(const char *path, const char *dir) {
    size_t k = strlen(dir);
    return !strncmp(path, dir, k) && (path[k] == 0 || path[k] == '/' || (k && dir[k - 1] == '/'));
}

static int allowed(const SandboxSpec *s, const char *path, int write) {
    for (const char *const *p = s->write; p && *p; p++) if (under(path, *p)) return 1;
    if (write) return 0;
    for (const char *const *p = s->read; p && *p; p++) if (under(path, *p)) return 1;
    return 0;
}

// The NUL-terminated string at addr in process pid (empty if unreadable).
static void read_string(int pid, uint64_t addr, char *out, size_t n) {
    out[0] = 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t got = 0;
    while (got + 1 < n) {   // page by page: the string may end just before an unmapped page
        size_t chunk = 4096 - ((addr + got) & 4095);
        if (chunk > n - 1 - got) chunk = n - 1 - got;
        ssize_t k = pread(fd, out + got, chunk, (off_t)(addr + got));
        if (k <= 0) break;
        if (memchr(out + got, 0, (size_t)k)) { got += (size_t)k; break; }
        got += (size_t)k;
    }
    out[got < n ? got : n - 1] = 0;
    close(fd);
}

// The file the child names, as an absolute path the supervisor can compare: relative to its
// cwd or dirfd, /proc/self/ read as the child's, symlinks resolved (of the folder when the
// file does not exist yet). -1 when not even the folder exists (the open fails anyway).
static int child_path(int pid, int dirfd, const char *p, char *out, size_t n) {
    char raw[PATH_MAX + 64];
    if (!strncmp(p, "/proc/self/", 11)) snprintf(raw, sizeof raw, "/proc/%d/%s", pid, p + 11);
    else if (!strncmp(p, "/proc/thread-self/", 18)) snprintf(raw, sizeof raw, "/proc/%d/%s", pid, p + 18);
    else if (p[0] == '/') snprintf(raw, sizeof raw, "%s", p);
    else if (dirfd == AT_FDCWD) snprintf(raw, sizeof raw, "/proc/%d/cwd/%s", pid, p);
    else snprintf(raw, sizeof raw, "/proc/%d/fd/%d/%s", pid, dirfd, p);
    char real[PATH_MAX];
    if (realpath(raw, real)) { if (snprintf(out, n, "%s", real) >= (int)n) out[n - 1] = 0; return 0; }
    char *slash = strrchr(raw, '/');
    if (slash && slash != raw) {
        *slash = 0;
        if (realpath(raw, real)) { if (snprintf(out, n, "%s/%s", real, slash + 1) >= (int)n) out[n - 1] = 0; return 0; }
    }
    return -1;
}

// Is path under /proc/N/ for a process N other than the caller's own (its thread group)?
// /proc is readable for the libraries' sake; another process's entries are not.
static int other_process(int pid, const char *path) {
    if (strncmp(path, "/proc/", 6) || path[6] < '0' || path[6] > '9') return 0;
    long n = strtol(path + 6, NULL, 10);
    if (n == pid) return 0;
    char st[64], *text;
    snprintf(st, sizeof st, "/proc/%d/status", pid);
    long tgid = -1;
    if ((text = read_file(st, NULL))) {
        char *t = strstr(text, "\nTgid:");
        if (t) tgid = strtol(t + 6, NULL, 10);
        free(text);
    }
    return n != tgid;
}

static void record(SandboxMonitor *m, int deliberate, const char *fmt, const char *a, const char *b) {
    m->denials++;
    if (m->violation[0] && (m->deliberate || !deliberate)) return;   // keep the first, or the first deliberate one
    if (snprintf(m->violation, sizeof m->violation, fmt, a, b) >= (int)sizeof m->violation) m->violation[sizeof m->violation - 1] = 0;
    m->deliberate = deliberate;
}

void *sandbox_monitor(void *arg) {
    SandboxMonitor *m = arg;
    struct seccomp_notif *req;
    struct seccomp_notif_resp *resp;
    if (seccomp_notify_alloc(&req, &resp) != 0) return NULL;
    const int nr_open = seccomp_syscall_resolve_name("open"), nr_creat = seccomp_syscall_resolve_name("creat");
    const int nr_openat = seccomp_syscall_resolve_name("openat"), nr_openat2 = seccomp_syscall_resolve_name("openat2");
    while (!m->stop) {
        struct pollfd pfd = {.fd = m->fd, .events = POLLIN};
        int k = poll(&pfd, 1, 100);
        if (k < 0 && errno == EINTR) continue;
        if (k == 0) continue;
        if (k < 0 || !(pfd.revents & POLLIN)) break;   // every process under the filter is gone
        memset(req, 0, sizeof *req);   // the kernel wants it zeroed
        int rc = seccomp_notify_receive(m->fd, req);
        if (rc == -EINTR || rc == -ENOENT) continue;
        if (rc != 0) { fprintf(stderr, "sandbox monitor: %s\n", strerror(-rc)); break; }
        memset(resp, 0, sizeof *resp);
        resp->id = req->id;
        int nr = req->data.nr;
        if (nr == nr_open || nr == nr_creat || nr == nr_openat || nr == nr_openat2) {
            int at = nr == nr_openat || nr == nr_openat2;
            uint64_t flags = nr == nr_creat ? (O_CREAT | O_WRONLY | O_TRUNC) : req->data.args[at ? 2 : 1];
            if (nr == nr_openat2) {   // struct open_how: flags is its first field
                char mem[64];
                snprintf(mem, sizeof mem, "/proc/%d/mem", (int)req->pid);
                int fd = open(mem, O_RDONLY | O_CLOEXEC);
                flags = O_RDWR;   // unreadable: count it as a write (the safe side)
                if (fd >= 0 && pread(fd, &flags, sizeof flags, (off_t)req->data.args[2]) != (ssize_t)sizeof flags) flags = O_RDWR;
                if (fd >= 0) close(fd);
            }
            char p[PATH_MAX], abs[PATH_MAX];
            read_string(req->pid, req->data.args[at ? 1 : 0], p, sizeof p);
            if (seccomp_notify_id_valid(m->fd, req->id) != 0) continue;   // the caller is gone
            int resolved = child_path(req->pid, at ? (int)req->data.args[0] : AT_FDCWD, p, abs, sizeof abs) == 0;
            int write = (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC));
            if ((!resolved || allowed(m->spec, abs, write)) && !other_process(req->pid, abs)) {
                resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;   // Landlock decides
            } else {
                int deliberate = write || other_process(req->pid, abs);
                for (const char *const *q = m->spec->protect; q && *q; q++) deliberate |= under(abs, *q);
                record(m, deliberate, "sandbox: denied %s of %s", write ? "write" : "open", abs);
                resp->error = -EACCES;
            }
        } else {
            char *name = seccomp_syscall_resolve_num_arch(req->data.arch, nr);
            record(m, 1, "sandbox: denied system call %s%s", name ? name : "?", "");
            free(name);
            resp->error = -EPERM;
        }
        seccomp_notify_respond(m->fd, resp);
    }
    seccomp_notify_free(req, resp);
    return NULL;
}

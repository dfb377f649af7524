// supervisor.c -- `autoresearch train` (supervise.h): start the trainer in its sandbox, serve
// its requests (training rows, the budget's clock, evaluation: supervise_serve.c), write the
// result.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dataset.h"
#include "protocol.h"
#include "splice.h"
#include "supervise.h"
#include "supervise_child.h"
#include "tokenizer.h"
#include "util.h"

// the sandbox monitor's state (sandbox.h), watched by sup_recv
SandboxMonitor sup_mon;
// --gradcheck: the child is build/gradcheck (gradcheck.h), in the same sandbox; it talks to no
// one, and its exit status is the verdict
int sup_gradcheck;

// ----------------------------------------------------------------------------
// The run

// The gradient check's verdict: its exit status decides; the lines it left in the verdict file
// (written inside the sandbox, so only shown, one line each, bounded) give the reason and the
// tensors GRADCHECK_SKIP named.
static void gradcheck_verdict(Super *S, const char *path, int ts, const char *exitdesc, char *skip, size_t n) {
    char *text = read_file(path, NULL), *fail = NULL;
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        for (char *c = line; *c; c++) if ((unsigned char)*c < 32) *c = ' ';
        if (!strncmp(line, "gradcheck_skip: ", 16)) snprintf(skip, n, "%s", line + 16);
        else if (!strncmp(line, "gradcheck: FAIL", 15)) fail = line + 11;
    }
    if (!(ts >= 0 && WIFEXITED(ts) && WEXITSTATUS(ts) == 0))
        sup_fail(S, "crash", "%.400s (%s)", fail ? fail : "gradient check failed", exitdesc);
    free(text);
}

static char *canonical(const char *p) {
    char real[PATH_MAX];
    return realpath(p, real) ? xstrdup(real) : NULL;
}

static void usage(FILE *f) {
    fprintf(f,
        "usage: autoresearch train [--trainer PATH] [--result FILE] [--model-out FILE] [--scratch DIR]\n"
        "                         [--nll-out FILE]\n"
        "Runs the trainer (default build/train, built from train.c) as a sandboxed child: this\n"
        "process hands out the training rows, keeps the budget's clock, scores the logits the\n"
        "trainer returns on the validation and test splits and the probes, and alone writes the\n"
        "result file (key: value lines; test_bpb only there). Environment: AUTORESEARCH_BUDGET_MODE,\n"
        "AUTORESEARCH_BUDGET, AUTORESEARCH_SEED as for run; AUTORESEARCH_SANDBOX=none runs without\n"
        "Landlock and seccomp (recorded as `sandbox: none`); AUTORESEARCH_MEMORY_LIMIT_MB (default 80%%\n"
        "of RAM); AUTORESEARCH_EVAL_TOKENS (tests only; default %d).\n"
        "With --gradcheck the child is build/gradcheck (`make gradcheck`) in the same sandbox: the\n"
        "result is ok or a crash whose reason is the check's verdict, and gradcheck_skip.\n"
        "--nll-out FILE (diagnostics, e.g. bench/synth_gap.c) writes what val_bpb was computed\n"
        "from: one line \"target_id nll_nats\" per validation target, in row order.\n", EVAL_TOKENS);
}

// die() in this process (no data set, a corrupt shard, out of memory): the fixed layer's own
// failure. The result says so (fixed_error), so that the harness need not believe lines a
// trainer can print; the child goes first.
static const char *hook_result;
static Super *hook_S;
static void died(const char *msg) {
    if (hook_S && hook_S->child > 0 && !hook_S->gone) kill(hook_S->child, SIGKILL);
    if (!hook_result) return;
    char *text = xasprintf("status: crash\nreason: the fixed layer failed: %s\nfixed_error: %s\n", msg, msg), err[512];
    if (write_file_atomic(hook_result, text, strlen(text), err, sizeof err) != 0) fprintf(stderr, "autoresearch: %s\n", err);
    free(text);
}

int train_main(int argc, char **argv) {
    const char *trainer_arg = "build/train", *result = NULL, *model_out = NULL, *scratch_arg = NULL, *nll_out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = !strcmp(a, "--trainer") ? &trainer_arg : !strcmp(a, "--result") ? &result
                         : !strcmp(a, "--model-out") ? &model_out : !strcmp(a, "--scratch") ? &scratch_arg
                         : !strcmp(a, "--nll-out") ? &nll_out : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!strcmp(a, "--gradcheck")) { sup_gradcheck = 1; continue; }
        if (!dst || i + 1 >= argc) { usage(stderr); die("train: bad option '%s'", a); }
        *dst = argv[++i];
    }
    // past a file size limit a write or ftruncate fails (EFBIG, checked) instead of killing us
    signal(SIGXFSZ, SIG_IGN);
    char *trainer = canonical(trainer_arg);
    if (!trainer || access(trainer, X_OK) != 0) die("train: no trainer at %s (run `make build/train`)", trainer_arg);
    Super S = {.trainer_status = -1, .nll_out = nll_out};
    snprintf(S.status, sizeof S.status, "ok");
    hook_result = result, hook_S = &S;
    die_hook = died;
    Tokenizer *tok = tokenizer_load_prepared();
    S.tok = tok;
    S.V = tokenizer_vocab_size(tok);
    S.T = MAX_SEQ_LEN;
    S.eval_tokens = EVAL_TOKENS;
    const char *et = getenv("AUTORESEARCH_EVAL_TOKENS");
    if (et && *et && (S.eval_tokens = atol(et)) <= 0) die("AUTORESEARCH_EVAL_TOKENS='%s': expected a positive integer", et);
    budget_config(&sup_bud.mode, &sup_bud.amount);
    // tests shorten the startup allowance; a run records the one it had
    const char *al = getenv("AUTORESEARCH_STARTUP_ALLOWANCE");
    sup_bud.allowance = al && *al ? atof(al) : STARTUP_ALLOWANCE_S;
    char budget_desc[96], *dsdir = dataset_dir();
    budget_describe(budget_desc, sizeof budget_desc);
    char *tokpath = xasprintf("%s/tokenizer.bin", dsdir);

    char tmpl[] = "/tmp/autoresearch-train.XXXXXX";
    char *scratch;
    if (scratch_arg) {
        remove_tree(scratch_arg);
        if (mkdir_p(scratch_arg) != 0) die("train: cannot create %s: %s", scratch_arg, strerror(errno));
        scratch = canonical(scratch_arg);
    } else {
        if (!mkdtemp(tmpl)) die("train: cannot create a scratch folder: %s", strerror(errno));
        scratch = xstrdup(tmpl);
    }
    char *cwd = canonical("."), *cache = canonical(cache_dir());
    // of /sys only what the runtime libraries read (CPU topology, NUMA nodes, cgroup quotas,
    // hugepage settings), not the devices, the network interfaces or the firmware tables
    const char *sys_read[] = {"/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/proc", "/sys/devices/system",
                              "/sys/fs/cgroup", "/sys/kernel/mm", "/dev", NULL};
    const char *ro[24], *rw[] = {scratch, "/dev/null", NULL}, *protect[] = {cwd, cache, NULL};
    int nro = 0;
    char *canon_sys[24] = {0};
    for (int i = 0; sys_read[i]; i++) if ((canon_sys[i] = canonical(sys_read[i]))) ro[nro++] = canon_sys[i];
    char *tokreal = canonical(tokpath);
    ro[nro++] = trainer;
    if (tokreal) ro[nro++] = tokreal;
    ro[nro] = NULL;
    SandboxSpec spec = {.read = ro, .write = rw, .protect = protect, .memory_mb = memory_limit_mb()};
    const char *sb_env = getenv("AUTORESEARCH_SANDBOX");
    int sandbox_off = sb_env && !strcmp(sb_env, "none");

    char *model_tmp = xasprintf("%s/model.bin", scratch), *verdict = xasprintf("%s/gradcheck.txt", scratch);
    char *extra[9];
    extra[0] = xasprintf("HOME=%s", scratch);
    extra[1] = xasprintf("TMPDIR=%s", scratch);
    extra[2] = xasprintf("AUTORESEARCH_TOKENIZER=%s", tokreal ? tokreal : tokpath);
    extra[3] = xasprintf("AUTORESEARCH_MODEL_OUT=%s", model_tmp);
    extra[4] = xasprintf("AUTORESEARCH_DATASET_ID=%s", dataset_id());
    extra[5] = xasprintf("AUTORESEARCH_BUDGET_DESC=%s", budget_desc);
    extra[6] = xasprintf("AUTORESEARCH_EVAL_TOKENS=%ld", S.eval_tokens);
    extra[7] = sup_gradcheck ? xasprintf("AUTORESEARCH_GRADCHECK_VERDICT=%s", verdict) : NULL;
    extra[8] = NULL;
    char **env = child_env((const char *const *)extra);

    int ctl[2], setup[2];
    S.shm = memfd_create("autoresearch-train", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (S.shm < 0 || fcntl(S.shm, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
        die("train: cannot create the shared memory: %s", strerror(errno));
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, setup) != 0)
        die("train: socketpair: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    sup_bud.t_child = now_seconds();
    // fork into a new PID namespace (the child is its pid 1); unshare(CLONE_NEWPID) would
    // forbid this process its threads. No threads run yet, so the raw clone is a clean fork.
    int pidns = 1;
    S.child = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, 0);
    if (S.child < 0) { pidns = 0; S.child = fork(); }
    if (S.child < 0) die("train: fork: %s", strerror(errno));
    if (S.child == 0) {
        close(ctl[0]);
        close(setup[0]);
        ChildSpec c = {.sandbox = &spec, .sandbox_off = sandbox_off, .pidns = pidns, .setup = setup[1],
                       .sock = ctl[1], .shm = S.shm, .trainer = trainer, .scratch = scratch,
                       .env = (const char *const *)env};
        child_main(&c);
    }
    setpgid(S.child, S.child);
    close(ctl[1]);
    close(setup[1]);
    S.sock = ctl[0];
    S.status_sock = setup[0];

    char sandbox[640] = "none (the sandbox did not start)";
    int nfd = -1;
    pthread_t mon_thread;
    int mon_started = 0;
    struct pollfd pf = {.fd = S.status_sock, .events = POLLIN};
    if (poll(&pf, 1, 30000) == 1 && recv_with_fd(S.status_sock, sandbox, sizeof sandbox, &nfd) == 0) {
        if (!strncmp(sandbox, "error: ", 7)) {
            sup_fixed(&S, "sandbox: %s", sandbox + 7);
            S.gone = 1;
        } else if (nfd >= 0) {
            sup_mon.fd = nfd;
            sup_mon.spec = &spec;
            mon_started = pthread_create(&mon_thread, NULL, sandbox_monitor, &sup_mon) == 0;
            if (!mon_started) { sup_fixed(&S, "cannot start the sandbox monitor"); sup_kill_child(&S); }
        }
    } else {
        sup_fixed(&S, "the sandboxed child did not start");
        sup_kill_child(&S);
    }
    if (!pidns && !strstr(sandbox, "no pid namespace")) snprintf(sandbox + strlen(sandbox), sizeof sandbox - strlen(sandbox), ", no pid namespace");

    EvalResult ev = {0};
    int evaluated = 0;
    if (!S.gone) sup_serve(&S, &ev, &evaluated);
    // the trainer may still be saving its model and printing: wait for it, a bounded while
    double t_wait = now_seconds();
    Msg m;
    while (!S.gone && now_seconds() - t_wait < 120) {
        if (sup_recv(&S, &m) == 0) { sup_fail(&S, "crash", "protocol error: request %d after the evaluation", m.op); break; }
    }
    sup_kill_child(&S);
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(S.child, &st, 0, &ru) < 0 && errno == EINTR) {}
    if (S.trainer_status < 0) {   // the status may have arrived after the last poll
        int ts;
        if (recv(S.status_sock, &ts, sizeof ts, MSG_DONTWAIT) == (ssize_t)sizeof ts) S.trainer_status = ts;
    }
    sup_mon.stop = 1;
    if (mon_started) pthread_join(mon_thread, NULL);
    if (nfd >= 0) close(nfd);

    char exitdesc[64] = "killed by the supervisor";
    int ts = S.trainer_status;
    if (ts >= 0 && WIFEXITED(ts)) snprintf(exitdesc, sizeof exitdesc, "exit code %d", WEXITSTATUS(ts));
    else if (ts >= 0 && WIFSIGNALED(ts)) snprintf(exitdesc, sizeof exitdesc, "killed by signal %d", WTERMSIG(ts));
    // a harmless denial (an open outside the sandbox's paths) only explains a crash
    if (sup_mon.violation[0] && (sup_mon.deliberate || !evaluated || ts != 0))
        sup_fail(&S, sup_mon.deliberate ? "invalid" : "crash", "%s", sup_mon.violation);
    char skip[256] = "-";
    if (sup_gradcheck) gradcheck_verdict(&S, verdict, ts, exitdesc, skip, sizeof skip);
    else if (!evaluated) sup_fail(&S, "crash", "train.c ended without calling evaluate_bpb (%s)", exitdesc);
    else if (!(ts >= 0 && WIFEXITED(ts) && WEXITSTATUS(ts) == 0)) sup_fail(&S, "crash", "train.c failed after the evaluation (%s)", exitdesc);

    if (model_out && !strcmp(S.status, "ok") && file_exists(model_tmp) && rename(model_tmp, model_out) != 0) {
        size_t len;
        char *data = read_file(model_tmp, &len), err[512];
        if (!data || write_file_atomic(model_out, data, len, err, sizeof err) != 0) warnf("train: cannot save the model to %s", model_out);
        free(data);
    }
    remove_tree(scratch);

    char *text = xasprintf("status: %s\nreason: %s\nsandbox: %s\ndataset: %s\neval_tokens: %ld\n"
                           "training_seconds: %.3f\ntotal_tokens_M: %.6f\nnum_steps: %d\npeak_memory_mb: %.1f\n"
                           "trainer_exit: %s\nsandbox_denials: %d\nsandbox_denied: %s\nstartup_allowance_s: %g\n"
                           "flops_per_token: %.6g\nflops_counted: %.6g\nflops_reported: %.6g\ntrain_gflops_per_s: %.4g\nfixed_error: %s\n%s%s%s",
                           S.status, S.reason[0] ? S.reason : "-", sandbox, dataset_id(),
                           S.eval_tokens, sup_bud.counted, sup_bud.tokens / 1e6, sup_bud.steps, ru.ru_maxrss / 1024.0, exitdesc,
                           sup_mon.denials, sup_mon.violation[0] ? sup_mon.violation : "-", sup_bud.allowance, sup_bud.fpt, sup_bud.flops,
                           sup_bud.flops_reported, sup_bud.counted > 0 ? sup_bud.timed_flops / sup_bud.counted / 1e9 : 0.0, S.fixed ? S.reason : "-",
                           sup_gradcheck ? "gradcheck_skip: " : "", sup_gradcheck ? skip : "", sup_gradcheck ? "\n" : "");
    if (evaluated) {
        char *more = xasprintf("%sval_bpb: %.6f\ntest_bpb: %.6f\neval_seconds: %.3f\nprobe_causal_max: %.3g\n"
                               "probe_frozen_max: %.3g\nprobe_tolerance: %g\nprobe_splice_nll: %.3f\nprobe_splice_floor: %.3f\n"
                               "probe_splice_d: %.3f\nprobe_splice_t: %.3g\nprobe_splice_seams: %ld\n", text, ev.val, ev.test, ev.seconds,
                               ev.causal_max, ev.frozen_max, PROBE_TOLERANCE, ev.splice_nll, ev.splice_floor, ev.splice_d,
                               ev.splice_t, ev.splice_n);
        free(text);
        text = more;
    }
    char err[512];
    die_hook = NULL;
    if (result && write_file_atomic(result, text, strlen(text), err, sizeof err) != 0)   // no result, and no half of one
        die("train: %s (the run was %s%s%s)", err, S.status, S.reason[0] ? ": " : "", S.reason);
    // the log line never shows test_bpb: the log reaches the agent
    char valtxt[32] = "-";
    if (evaluated) snprintf(valtxt, sizeof valtxt, "%.6f", ev.val);
    printf("[supervisor] %s%s%s | val_bpb %s | sandbox: %s\n", S.status, S.reason[0] ? ": " : "", S.reason,
           valtxt, sandbox);
    fflush(stdout);
    free(text);
    for (int i = 0; extra[i]; i++) free(extra[i]);
    for (int i = 0; env[i]; i++) free(env[i]);
    for (int i = 0; i < 24; i++) free(canon_sys[i]);
    free(env); free(tokreal); free(tokpath); free(dsdir); free(trainer); free(scratch); free(cwd); free(cache);
    free(model_tmp); free(verdict);
    tokenizer_free(tok);
    return strcmp(S.status, "ok") ? 1 : 0;
}

// agent.c -- one call of the research agent: the built-in search, or an external program given
// the prompt; what it changed is checked, restored where it must not have, and classified.
#include "harness.h"
#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// The prompt for an external agent: program.md, then the state of the session. Never any
// test_bpb: the held-out split stays out of the agent's sight.
static void write_prompt(Session *S, const char *path, const char *desc_file, const char *in_flight) {
    char *program = read_file("program.md", NULL);
    const Record *best = session_best(S);
    // the protocol of an iteration is program.md's ("The experiment loop"): only the state here
    char *p = xasprintf("%s\n\n---\n\n# The session's state (from `./autoresearch loop`)\n\n"
                        "- description file: %s\n"
                        "- session: %s (branch autoresearch/%s), experiment %d\n"
                        "- budget: %s %s, hard timeout %.0f s\n",
                        program ? program : "(program.md is missing)", desc_file, S->tag, S->tag,
                        session_experiments(S) + 1, S->budget_mode,
                        S->budget > 0 ? "" : "(train.c's default)", S->timeout);
    free(program);
    if (S->budget > 0) { char *q = xasprintf("%s- budget amount: %g\n", p, S->budget); free(p); p = q; }
    if (best) {
        RunStats e = commit_runs(S, rec_get(best, "commit"));
        char *q = xasprintf("%s- current best: val_bpb %.6f +- %.6f (mean +- standard error of %d runs) at commit "
                            "%.7s (%s)\n", p, e.n ? e.mean : rec_num(best, "val_bpb", 0),
                            S->sigma > 0 && e.n ? runstats_se(&e, S->sigma) : 0.0, e.n,
                            rec_get(best, "commit"), rec_get(best, "description") ? rec_get(best, "description") : "");
        free(p);
        p = q;
    }
    if (S->sigma > 0) {
        char *q = xasprintf("%s- run-to-run noise: sigma %.6f; gate: %s%s\n", p, S->sigma, S->gate,
                            strcmp(S->gate, "sprt") ? "" : " (a change is kept only when confirmation runs with new "
                            "seeds show its mean better than the best's; the val_bpb column is each experiment's "
                            "first run)");
        free(p);
        p = q;
    }
    // recent rows of this session (the .tsv columns)
    char *q = xasprintf("%s\n## Recent results (this session, newest last)\n\n```\n%s\n", p, TSV_HEADER);
    free(p);
    p = q;
    int idx[30], m = 0, last_crash = 0;
    for (int i = S->L.n - 1; i >= 0 && m < 30; i--) {
        if (rec_in_session(&S->L.r[i], S->tag, "experiment")) idx[m++] = i;
    }
    for (int j = m - 1; j >= 0; j--) {
        char *row = tsv_row(&S->L.r[idx[j]]);
        q = xasprintf("%s%s\n", p, row);
        free(row);
        free(p);
        p = q;
    }
    if (m) { const char *st = rec_get(&S->L.r[idx[0]], "status"); last_crash = st && !strcmp(st, "crash"); }
    q = xasprintf("%s```\n", p);
    free(p);
    p = q;
    if (last_crash) {
        const char *why = rec_get(&S->L.r[idx[0]], "reason");
        char *t = crash_excerpt("run.log", why);
        q = xasprintf("%s\n## The last experiment crashed (%s)\n\n%s", p, why ? why : "?", t);
        free(t);
        free(p);
        p = q;
    }
    if (in_flight) {   // loop --workers: what the other workers run, so that this call proposes something else
        char *t = xasprintf("%s\n%s", p, in_flight);
        free(p);
        p = t;
    }
    char err[512];
    if (write_file_atomic(path, p, strlen(p), err, sizeof err) != 0) die("%s", err);
    free(p);
}

// Makes s one clean line for the ledger, in place: control characters (an ANSI colour, a tab)
// become spaces, the ends are trimmed, and it is cut to at most max bytes, at a character
// boundary.
static char *clean_line(char *s, size_t max) {
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80) n--;   // not inside a UTF-8 sequence
        s[n] = 0;
    }
    while (n && s[n - 1] == ' ') s[--n] = 0;
    size_t lead = strspn(s, " ");
    memmove(s, s + lead, n - lead + 1);
    return s;
}

// What the agent printed last (its log's last lines, one clean line): why an agent failed
// in its own words, e.g. the model server's error. NULL when it printed nothing.
static char *agent_output(const char *log) {
    char *text = read_file(log, NULL), *out = NULL;
    const char *last[3] = {0};
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if (*clean_line(line, (size_t)-1)) last[0] = last[1], last[1] = last[2], last[2] = line;
    }
    for (int i = 0; i < 3; i++) {
        if (!last[i]) continue;
        char *t = out ? xasprintf("%s | %s", out, last[i]) : xstrdup(last[i]);
        free(out);
        out = t;
    }
    free(text);
    return out ? clean_line(out, 300) : NULL;
}

// The agent's description: its description file, else its last "DESCRIPTION:" line; one
// clean line of at most 200 bytes.
static char *agent_description(const char *desc_file, const char *log) {
    char *d = read_file(desc_file, NULL), *out = NULL;
    if (d) {
        char *s = d;
        while (*s == ' ' || *s == '\n' || *s == '\t') s++;
        if (!strncmp(s, "DESCRIPTION:", 12)) s += 12;
        while (*s == ' ') s++;
        s[strcspn(s, "\r\n")] = 0;
        if (*s) out = xstrdup(s);
        free(d);
    }
    if (!out) {
        char *text = read_file(log, NULL);
        for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
            nl = strchr(line, '\n');
            if (nl) *nl = 0;
            char *s = strstr(line, "DESCRIPTION:");
            if (s) {
                s += 12;
                while (*s == ' ') s++;
                s[strcspn(s, "\r`*")] = 0;
                // "<...>": the template of the prompt, echoed by some agents' logs
                if (*s && *s != '<') { free(out); out = xstrdup(s); }
            }
        }
        free(text);
    }
    if (out && !*clean_line(out, 200)) { free(out); out = NULL; }
    if (!out) out = xstrdup("(no description)");
    return out;
}

// The ledgers' bytes before an agent's call: the agent must not touch them, and if it does
// they are put back as they were (the night goes on; the iteration is `invalid`).
typedef struct {
    char *data[2];
    size_t len[2];
} LedgerCopy;

static void ledger_copy(const Session *S, LedgerCopy *c) {
    const char *p[2] = {S->jsonl, S->tsv};
    for (int i = 0; i < 2; i++) c->data[i] = read_file(p[i], &c->len[i]);
}

// Restores what changed since the copy; returns the first file that had changed, or NULL.
static const char *ledger_restore(const Session *S, LedgerCopy *c) {
    const char *p[2] = {S->jsonl, S->tsv}, *changed = NULL;
    for (int i = 0; i < 2; i++) {
        size_t len;
        char *now = read_file(p[i], &len);
        int same = (now == NULL) == (c->data[i] == NULL) && (!now || (len == c->len[i] && !memcmp(now, c->data[i], len)));
        free(now);
        if (!same) {
            char e[512];
            if (c->data[i] ? write_file_atomic(p[i], c->data[i], c->len[i], e, sizeof e) != 0 : unlink(p[i]) != 0)
                die("cannot restore %s after the agent changed it: %s", p[i], c->data[i] ? e : strerror(errno));
            if (!changed) changed = p[i];
        }
        free(c->data[i]);
        c->data[i] = NULL;
    }
    return changed;
}

typedef struct {
    const char *write[19];
    char *hide;
    const int *ports;
    int nports;
} AgentJail;

static int agent_jail(void *arg, char *err, size_t n) {
    AgentJail *j = arg;
    return sandbox_agent_enter(j->write, j->hide, j->ports, j->nports, err, n);
}

// One agent invocation. Returns 0 with train.c changed (desc, extra filled), 1 for an agent
// failure (reason filled; the tree is back at best), 2 for an invalid change (logged, reset).
int invoke_agent(Session *S, const LoopOpts *o, const char *best, char **desc, Record *extra,
                 char *reason, size_t rn) {
    if (!strcmp(o->agent, "search")) {
        char *src = read_file("train.c", NULL);
        if (!src) die("cannot read train.c: %s", strerror(errno));
        Mutation m;
        char err[256];
        if (search_propose(src, &S->L, S->tag, o->search_seed, &m, err, sizeof err) != 0) die("search agent: %s", err);
        Tunable t[128];
        int n = tunables_parse(src, t, 128, err, sizeof err), j = 0;
        while (j < n && strcmp(t[j].name, m.param)) j++;
        char *out = tunables_set(src, &t[j], m.to);
        if (write_file_atomic("train.c", out, strlen(out), err, sizeof err) != 0) die("%s", err);
        free(out);
        free(src);
        *desc = xstrdup(m.desc);
        rec_set_str(extra, "agent", "search");
        rec_set_str(extra, "search_param", m.param);
        rec_set_num(extra, "search_from", m.from);
        rec_set_num(extra, "search_to", m.to);
        char **bad = check_integrity(S);   // a human may have edited a fixed file meanwhile
        if (bad[0]) {
            char *files = join_list(bad);
            die("loop: files other than train.c differ from the session's base %.7s: %s", S->base, files);
        }
        free_list(bad);
        return 0;
    }
    // loop --workers: the agent works in the experiment's worktree, and everything below (its
    // checks, the reset) happens there
    if (o->worktree && chdir(o->worktree) != 0) die("cannot enter %s: %s", o->worktree, strerror(errno));
    char *prompt = xasprintf("%s/prompt.md", S->state), *dfile = xasprintf("%s/description.txt", S->state),
         *log = xasprintf("%s/agent.log", S->state);
    unlink(dfile);
    unlink(log);
    write_prompt(S, prompt, dfile, o->in_flight);
    char *e1 = xasprintf("AUTORESEARCH_PROMPT_FILE=%s", prompt), *e2 = xasprintf("AUTORESEARCH_DESCRIPTION_FILE=%s", dfile),
         *e3 = xasprintf("AUTORESEARCH_TAG=%s", S->tag);
    const char *env[] = {e1, e2, e3, NULL};
    const char *argv[] = {"/bin/sh", "-c", o->agent, NULL};
    ProcSpec ps = {.argv = argv, .stdin_path = prompt, .out_path = log, .env = env,
                   .timeout = o->agent_timeout, .abort_flag = &g_stop};
    AgentJail jail = {.write = {o->worktree ? o->worktree : S->root}, .hide = xasprintf("%s/test.jsonl", S->state), .ports = o->ports, .nports = o->nports};
    for (int i = 0; i < o->nallow; i++) jail.write[i + 1] = o->allow[i];
    if (o->sandbox) ps.pre_exec = agent_jail, ps.pre_exec_arg = &jail;
    ProcResult pr;
    char err[512];
    LedgerCopy ledgers;
    ledger_copy(S, &ledgers);
    // the repository's config decides what git runs: an agent may not change it
    char *cfg_path = git_str("rev-parse", "--git-path", "config", NULL);
    size_t cfg_len = 0;
    char *cfg = cfg_path ? read_file(cfg_path, &cfg_len) : NULL;
    Record a = {0};
    char now[32];
    time_t tnow = time(NULL);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&tnow));
    rec_set_str(&a, "session", S->tag);
    rec_set_num(&a, "n", session_experiments(S) + 1);
    rec_set_num(&a, "pid", getpid());
    rec_set_str(&a, "start_time", now);
    char *ap = xasprintf("%s/agent.json", S->state), *aj = rec_to_json(&a);
    if (write_file_atomic(ap, aj, strlen(aj), err, sizeof err) != 0) die("%s", err);
    free(aj);
    rec_free(&a);
    char label[64];
    snprintf(label, sizeof label, "[%3d] the agent at work", session_experiments(S) + 1);
    live_watch_start(NULL, label);
    int started = proc_run(&ps, &pr, err, sizeof err);
    live_watch_stop();
    if (started != 0) die("%s", err);
    free(jail.hide);
    unlink(ap);
    free(ap);
    free(e1); free(e2); free(e3);
    const char *ledger_changed = ledger_restore(S, &ledgers);
    int rc = 0;
    rec_set_str(extra, "agent", o->agent);
    if (pr.leftovers) {
        printf("agent: left %d process%s running after it returned; killed\n", pr.leftovers, pr.leftovers == 1 ? "" : "es");
        fflush(stdout);
        rec_set_num(extra, "agent_leftover_processes", pr.leftovers);
    }
    size_t cfg_now_len = 0;
    char *cfg_now = cfg_path ? read_file(cfg_path, &cfg_now_len) : NULL;
    int cfg_changed = (cfg == NULL) != (cfg_now == NULL) || (cfg && (cfg_len != cfg_now_len || memcmp(cfg, cfg_now, cfg_len)));
    if (cfg_changed) {
        char e[512];
        if (cfg ? write_file_atomic(cfg_path, cfg, cfg_len, e, sizeof e) != 0 : unlink(cfg_path) != 0)
            die("cannot restore %s after the agent changed it: %s", cfg_path, cfg ? e : strerror(errno));
    }
    free(cfg);
    free(cfg_now);
    free(cfg_path);
    // the agent may have switched branches or committed: back to the session's branch, and
    // its commits (on top of the best) folded back into the working tree
    char *branch = xasprintf("autoresearch/%s", S->tag);
    char *cur = git_str("symbolic-ref", "-q", "--short", "HEAD", NULL);
    int moved = o->worktree ? cur != NULL : !cur || strcmp(cur, branch);   // a worktree's HEAD is detached
    if (moved && o->worktree && !git_ok("checkout", "-q", "-f", "--detach", best, NULL))
        die("cannot detach %s again: %s", o->worktree, git_err);
    else if (moved && !o->worktree && !git_ok("checkout", "-q", "-f", branch, NULL))
        die("cannot check out %s again: %s", branch, git_err);
    free(cur);
    free(branch);
    char *head = head_commit();
    int rewrote = 0;
    if (head && strcmp(head, best)) {
        if (git_ok("merge-base", "--is-ancestor", best, head, NULL)) git_ok("reset", "-q", "--soft", best, NULL);
        else rewrote = 1;
    }
    free(head);
    const char *ut[] = {"git", "ls-files", "--others", "--exclude-standard", NULL};
    char *uo = NULL;
    cmd_capture(ut, &uo, NULL);
    if (pr.aborted) { snprintf(reason, rn, "stopped by Ctrl-C"); rc = 1; }
    else if (ledger_changed) {
        *desc = agent_description(dfile, log);
        char *d = xasprintf("invalid: changed %s: %s", ledger_changed, *desc);
        snprintf(reason, rn, "the agent changed %s (restored: the ledger is the harness's alone)", ledger_changed);
        record_event(S, "experiment", "invalid", d, reason, extra);
        free(d);
        rc = 2;
    } else if (moved) { snprintf(reason, rn, "agent switched branches (its changes are dropped)"); rc = 1; }
    else if (rewrote) { snprintf(reason, rn, "agent rewrote the branch's history (reset to the best)"); rc = 1; }
    else if (pr.timed_out) { snprintf(reason, rn, "agent timed out after %.0f s", o->agent_timeout); rc = 1; }
    else if (pr.exit_code != 0) {
        if (pr.signal) snprintf(reason, rn, "agent killed by signal %d", pr.signal);
        else snprintf(reason, rn, "agent exited with code %d", pr.exit_code);
        rc = 1;
    } else if (cfg_changed) {
        *desc = agent_description(dfile, log);
        char *d = xasprintf("invalid: changed the repository's git config: %s", *desc);
        snprintf(reason, rn, "the agent changed .git/config (restored)");
        record_event(S, "experiment", "invalid", d, reason, extra);
        free(d);
        rc = 2;
    } else {
        char **bad = check_integrity(S);
        *desc = agent_description(dfile, log);
        if (bad[0]) {
            char *files = join_list(bad);
            char *d = xasprintf("invalid: changed %s: %s", files, *desc);
            snprintf(reason, rn, "changes outside train.c");
            record_event(S, "experiment", "invalid", d, reason, extra);
            free(d);
            free(files);
            rc = 2;
        } else if (!train_dirty()) {
            snprintf(reason, rn, "agent exited without changing train.c");
            rc = 1;
        }
        free_list(bad);
    }
    if (rc) {   // back to the best, removing what the agent created
        char **untracked = NULL;
        if (uo && *uo) {
            int n = 0;
            for (char *s = uo, *nl; *s; s = nl + 1) {
                nl = strchr(s, '\n');
                if (!nl) break;
                *nl = 0;
                untracked = xrealloc(untracked, (size_t)(n + 2) * sizeof *untracked);
                untracked[n++] = xstrdup(s);
                untracked[n] = NULL;
            }
        }
        reset_to(best, untracked);
        free_list(untracked);
        // what git's view misses (ignored files, flags, a replaced base): back to the base's bytes
        char **left = check_integrity(S);
        for (int round = 0; left[0] && round < 3; round++) {   // a symlinked directory takes two
            integrity_restore(S->base, left);
            free_list(left);
            left = check_integrity(S);
        }
        if (left[0]) die("loop: cannot restore %s to the session's base %.7s after the agent changed it", left[0], S->base);
        free_list(left);
        if (rc == 1 && *desc) { free(*desc); *desc = NULL; }
        char *said = rc == 1 ? agent_output(log) : NULL;
        if (said) rec_set_str(extra, "agent_output", said);
        free(said);
    }
    free(uo);
    free(prompt);
    free(dfile);
    free(log);
    if (o->worktree && chdir(S->root) != 0) die("cannot enter %s: %s", S->root, strerror(errno));
    return rc;
}

// experiment.c -- one experiment: run HEAD, decide keep or discard against the session's best,
// record it, and move the branch back to the best when it is not kept.
#include "harness.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const Record *find_id(const Session *S, const char *id) {
    for (int i = 0; i < S->L.n; i++) {
        const char *x = rec_get(&S->L.r[i], "id");
        if (x && !strcmp(x, id)) return &S->L.r[i];
    }
    return NULL;
}

static void merge(Record *dst, const Record *src) {
    for (int i = 0; src && i < src->n; i++) {
        if (src->f[i].is_str) rec_set_str(dst, src->f[i].key, src->f[i].val);
        else rec_set_raw(dst, src->f[i].key, src->f[i].val);
    }
}

// Do the changes from parent to commit touch only lines that mention a seed?
static int seed_only_change(const char *parent, const char *commit) {
    if (!parent || !*parent) return 0;
    char *d = git_str("diff", "-U0", "--no-color", parent, commit, "--", "train.c", NULL);
    if (!d) return 0;
    int changed = 0, other = 0;
    for (char *line = d, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if ((line[0] == '+' || line[0] == '-') && strncmp(line, "+++", 3) && strncmp(line, "---", 3)) {
            changed++;
            if (!strcasestr(line, "seed")) other = 1;
        }
    }
    free(d);
    return changed > 0 && !other;
}

static void write_marker(Session *S, const Record *m) {
    char *p = state_file(S, "running.json");
    char *json = rec_to_json(m);
    char *line = xasprintf("%s\n", json);
    char err[512];
    if (write_file_atomic(p, line, strlen(line), err, sizeof err) != 0) die("%s", err);
    free(line);
    free(json);
    free(p);
}

static void remove_marker(Session *S) {
    char *p = state_file(S, "running.json");
    unlink(p);
    free(p);
}

static void print_row(const Record *r, int n) {
    const char *st = rec_get(r, "status"), *c = rec_get(r, "commit"), *d = rec_get(r, "description");
    char shortc[8] = "-------";
    if (c && strlen(c) >= 7) { memcpy(shortc, c, 7); shortc[7] = 0; }
    if (!strcmp(st, "keep") || !strcmp(st, "discard")) {
        char delta[32] = "";
        if (rec_get(r, "delta")) snprintf(delta, sizeof delta, "%+.6f", rec_num(r, "delta", 0));
        else snprintf(delta, sizeof delta, "baseline");
        char rate[32] = "?", tokens[32] = "?", est[80] = "";
        if (rec_get(r, "tokens_per_sec")) fmt_rate(rec_num(r, "tokens_per_sec", 0), rate, sizeof rate);
        if (rec_get(r, "tokens")) fmt_rate(rec_num(r, "tokens", 0), tokens, sizeof tokens);
        if (rec_num(r, "est_runs", 1) > 1)
            snprintf(est, sizeof est, " (mean of %.0f runs %.6f)", rec_num(r, "est_runs", 1), rec_num(r, "est_val_bpb", 0));
        const char *fk = rec_get(r, "fast_keep");
        printf("[%3d] %s %-7s val_bpb %.6f %-10s mem %5.1f GB %6.1fs %5.0f steps %6s tok %6s tok/s  %s%s%s\n", n,
               shortc, st, rec_num(r, "val_bpb", 0), delta, rec_num(r, "memory_gb", 0), rec_num(r, "wall_seconds", 0),
               rec_num(r, "steps", 0), tokens, rate, d ? d : "", est,
               fk && !strcmp(fk, "true") ? "  [ran much faster than the best: check the machine's load]" : "");
    } else {
        const char *why = rec_get(r, "reason");
        printf("[%3d] %s %-7s %-40s %s\n", n, shortc, st, why ? why : "", d ? d : "");
    }
    fflush(stdout);
}

// The trainer's weights after a kept run become the session's model: the best commit's.
static void keep_model(Session *S, Record *r, const char *status, const char *commit) {
    char *run = state_file(S, "run-model.bin");
    int saved = file_exists(run);
    if (!strcmp(status, "keep") && saved) {
        char *dir = state_file(S, "models"), *dst = xasprintf("%s/%s.bin", dir, S->tag);
        mkdir_p(dir);
        if (rename(run, dst) == 0) {
            rec_set_str(r, "model_file", dst);
            snprintf(S->model_commit, sizeof S->model_commit, "%s", commit);
            session_save(S);
        } else {
            warnf("cannot keep the weights as %s: %s", dst, strerror(errno));
            rec_set_raw(r, "model_saved", "false");
        }
        free(dir);
        free(dst);
    } else if (!strcmp(status, "keep") && rec_get(r, "model_saved")) {
        warnf("kept %.7s, but its weights were not saved (disk full? see run.log); the session's model %s",
              commit, S->model_commit[0] ? "stays the previous best's" : "is none");
    }
    unlink(run);
    free(run);
}

// Runs commit (HEAD) until it has `want` runs, counting the pending one; -1 on Ctrl-C.
static int extra_runs(Session *S, const char *kind, const char *commit, const char *exp_id, int want) {
    int have = commit_runs(S, commit).n + 1;
    for (int i = have + 1; i <= want && !g_stop; i++)
        if (!extra_run(S, kind, commit, exp_id, i, want, -1, -1)) return -1;
    return g_abort ? -1 : 0;
}

// The sprt gate: confirmation runs of the candidate until the sequential test decides.
// Writes the estimates and the decision into r; returns "keep", "discard", or NULL on Ctrl-C.
static const char *sequential_decision(Session *S, Record *r, const char *id, const char *commit, const char *best) {
    double val = rec_num(r, "val_bpb", NAN);
    RunStats b, c;
    GateDecision d = gate_judge(S, best, commit, val, &b, &c);
    while (d.verdict == GATE_MORE) {
        const Record *x = extra_run(S, "confirm", commit, id, c.n + 1, S->gp.max_runs, -1, -1);
        if (!x) return NULL;
        if (strcmp(rec_get(x, "status"), "ok")) {   // it ran once: a crash now is flakiness
            rec_set_str(r, "reason", "a confirmation run crashed");
            d.verdict = GATE_DISCARD;
            d.why = "confirmation crashed";
            break;
        }
        d = gate_judge(S, best, commit, val, &b, &c);
    }
    rec_set_num(r, "best_before", b.mean);
    rec_set_num(r, "best_runs", b.n);
    rec_set_num(r, "delta", c.mean - b.mean);
    rec_set_num(r, "gate_stat", d.stat);
    rec_set_num(r, "gate_keep_at", d.keep_at);
    rec_set_num(r, "false_keep", S->gp.alpha);
    rec_set_str(r, "gate_reason", d.why);
    if (d.verdict == GATE_KEEP) {
        rec_set_num(r, "effect", d.effect);
        rec_set_num(r, "effect_lo", d.lo);
        rec_set_num(r, "effect_hi", d.hi);
        return "keep";
    }
    return "discard";
}

const char *experiment(Session *S, const char *desc, const Record *extra, int reset) {
    char *commit = head_commit();
    if (!commit) die("the repository has no commit yet");
    char *parent = git_str("rev-parse", "--verify", "-q", "HEAD^", NULL);
    int n = session_experiments(S) + 1;
    char id[160];
    snprintf(id, sizeof id, "%s-%d", S->tag, n);

    Record r = {0};
    rec_set_str(&r, "kind", "experiment");
    rec_set_str(&r, "id", id);
    rec_set_str(&r, "session", S->tag);
    rec_set_num(&r, "n", n);
    rec_set_str(&r, "commit", commit);
    rec_set_str(&r, "parent", parent ? parent : "");
    rec_set_str(&r, "description", desc);
    merge(&r, extra);
    Record m = {0};
    merge(&m, &r);
    rec_set_num(&m, "pid", getpid());
    char now[32];
    iso_time(now, sizeof now);
    rec_set_str(&m, "start_time", now);
    record_context(S, &r);
    preflight(S, &r);
    write_marker(S, &m);
    rec_free(&m);
    if (S->seed >= 0) rec_set_num(&r, "seed", (double)S->seed);

    double test;
    build_and_train(S, commit, &r, &test);
    static char status[16];
    snprintf(status, sizeof status, "%s", rec_get(&r, "status"));
    const char *st = status;
    if (!strcmp(st, "aborted")) {   // Ctrl-C twice: nothing is recorded
        remove_marker(S);
        rec_free(&r);
        free(commit);
        free(parent);
        return NULL;
    }
    const Record *best = session_best(S);   // valid until the next ledger_add (extra runs)
    char *best_commit = best ? xstrdup(rec_get(best, "commit")) : NULL;
    int sprt = !strcmp(S->gate, "sprt");
    double thr = !strcmp(S->gate, "noise") ? 2 * S->sigma : 0;
    rec_set_str(&r, "gate", S->gate);
    rec_set_num(&r, "gate_threshold", thr);
    rec_set_raw(&r, "seed_only", seed_only_change(parent, commit) ? "true" : "false");
    if (!strcmp(st, "ok")) {
        double val = rec_num(&r, "val_bpb", NAN);
        // the first run's weights are the model a keep saves: extra runs must not replace them
        char *run_model = state_file(S, "run-model.bin"), *held = state_file(S, "run-model.first.bin");
        if (sprt && rename(run_model, held) != 0) unlink(held);
        if (!best && sprt && extra_runs(S, "noise", commit, id, S->noise_runs) != 0) st = NULL;
        if (!st) {   // aborted during the baseline's noise runs: nothing recorded for it
        } else if (best && sprt) {
            st = sequential_decision(S, &r, id, commit, best_commit);
        }
        if (sprt && rename(held, run_model) != 0) unlink(run_model);
        free(run_model);
        free(held);
        if (!st || (best && sprt)) {   // aborted, or decided by the sequential test
        } else if (best) {
            double b = rec_num(best, "val_bpb", NAN);
            rec_set_num(&r, "best_before", b);
            rec_set_num(&r, "delta", val - b);
            st = val < b - thr ? "keep" : "discard";
        } else {
            st = "keep";   // the session's first successful run: the baseline
        }
        if (st) {
            RunStats c = commit_runs(S, commit);
            runstats_add(&c, val);
            double sigma, dof;
            session_noise(S, commit, val, &sigma, &dof);
            rec_set_num(&r, "est_val_bpb", c.mean);
            rec_set_num(&r, "est_se", sigma > 0 ? runstats_se(&c, sigma) : NAN);
            rec_set_num(&r, "est_runs", c.n);
            if (sprt) {   // the session's sigma is the pooled one from now on
                S->sigma = sigma;
                rec_set_num(&r, "sigma_dof", dof);
                session_save(S);
            }
        }
        snprintf(status, sizeof status, "%s", st ? st : "aborted");
        if (st) rec_set_str(&r, "status", status);
    }
    if (S->sigma > 0) rec_set_num(&r, "sigma", S->sigma);
    if (!strcmp(status, "aborted")) {
        remove_marker(S);
        rec_free(&r);
        free(best_commit);
        free(commit);
        free(parent);
        return NULL;
    }
    flag_fast_keep(S, &r, best_commit ? session_best(S) : NULL);   // (extra runs moved the ledger)
    char *target = xstrdup(best_commit ? best_commit : (parent ? parent : commit));
    free(best_commit);
    keep_model(S, &r, status, commit);
    print_row(&r, n);
    test_ledger_append(S, &r, test);
    ledger_add(S, &r);
    remove_marker(S);
    if (reset && strcmp(status, "keep")) reset_to(target, NULL);
    free(target);
    free(commit);
    free(parent);
    return status;
}

void record_event(Session *S, const char *kind, const char *status, const char *desc,
                  const char *reason, const Record *extra) {
    Record r = {0};
    char now[32];
    iso_time(now, sizeof now);
    int n = session_experiments(S) + 1;
    rec_set_str(&r, "kind", kind);
    if (!strcmp(kind, "experiment")) {
        char id[160];
        snprintf(id, sizeof id, "%s-%d", S->tag, n);
        rec_set_str(&r, "id", id);
    }
    rec_set_str(&r, "session", S->tag);
    if (!strcmp(kind, "experiment")) rec_set_num(&r, "n", n);
    rec_set_str(&r, "commit", "");
    rec_set_str(&r, "description", desc);
    rec_set_str(&r, "status", status);
    if (reason) rec_set_str(&r, "reason", reason);
    rec_set_str(&r, "start_time", now);
    rec_set_str(&r, "base_commit", S->base);
    merge(&r, extra);
    if (!strcmp(kind, "experiment")) print_row(&r, n);
    ledger_add(S, &r);
}

void resume_interrupted(Session *S, int reset) {
    char *p = state_file(S, "running.json");
    char *text = read_file(p, NULL);
    free(p);
    if (!text) return;
    Record m;
    char err[128];
    if (rec_parse(text, &m, err, sizeof err) != 0) {
        warnf("ignoring a corrupt %s/running.json", S->state);
        free(text);
        remove_marker(S);
        return;
    }
    free(text);
    const char *id = rec_get(&m, "id"), *commit = rec_get(&m, "commit"), *sess = rec_get(&m, "session");
    char *head = head_commit();
    if (!sess || strcmp(sess, S->tag)) {
        // another session's experiment: leave it to that session
    } else if (id && find_id(S, id)) {
        // recorded just before the kill: finish what came after (the reset of a non-keep)
        const Record *r = find_id(S, id);
        const char *st = rec_get(r, "status");
        if (reset && st && strcmp(st, "keep") && commit && head && !strcmp(commit, head)) {
            const Record *best = session_best(S);
            const char *parent = rec_get(r, "parent");
            const char *target = best ? rec_get(best, "commit") : (parent && *parent ? parent : NULL);
            if (target) reset_to(target, NULL);
        }
        remove_marker(S);
    } else if (commit && head && !strcmp(commit, head)) {
        printf("resuming experiment %s interrupted at %s\n", id ? id : "?",
               rec_get(&m, "start_time") ? rec_get(&m, "start_time") : "?");
        Record extra = {0};
        for (int i = 0; i < m.n; i++) {
            const char *k = m.f[i].key;
            if (!strcmp(k, "agent") || !strncmp(k, "search_", 7)) {
                if (m.f[i].is_str) rec_set_str(&extra, k, m.f[i].val);
                else rec_set_raw(&extra, k, m.f[i].val);
            }
        }
        const char *d = rec_get(&m, "description");
        experiment(S, d ? d : "(resumed)", &extra, reset);
        rec_free(&extra);
    } else {
        warnf("dropping the interrupted experiment %s: HEAD moved since", id ? id : "?");
        remove_marker(S);
    }
    free(head);
    rec_free(&m);
}

// testledger.c -- the test ledger: test_bpb of every run, kept apart from results.jsonl in the
// harness state ($GIT_DIR/autoresearch/test.jsonl), where neither the sandboxed trainer nor an
// agent under --agent-sandbox can read it. One JSON line per run, keyed by the run's "run"
// field in results.jsonl; appended atomically, before the results.jsonl row, so a kill between
// the two leaves a test row no experiment points at (ignored), never the reverse.
#include <math.h>
#include <string.h>

#include "harness.h"
#include "util.h"

static char *test_ledger_path(const Session *S) { return xasprintf("%s/test.jsonl", S->state); }

void test_ledger_append(Session *S, const Record *r, double test) {
    const char *run = rec_get(r, "run");
    if (!run || !isfinite(test)) return;
    Record t = {0};
    rec_set_str(&t, "run", run);
    if (rec_get(r, "id")) rec_set_str(&t, "id", rec_get(r, "id"));
    if (rec_get(r, "commit")) rec_set_str(&t, "commit", rec_get(r, "commit"));
    rec_set_num(&t, "test_bpb", test);
    rec_set_num(&t, "val_bpb", rec_num(r, "val_bpb", NAN));
    char *json = rec_to_json(&t), *line = xasprintf("%s\n", json), *p = test_ledger_path(S), err[512];
    if (append_line_atomic(p, line, err, sizeof err) != 0) die("%s", err);
    free(json); free(line); free(p);
    rec_free(&t);
}

// Gives the records in S->L their test_bpb (in memory only: report reads it from there).
void test_ledger_merge(Session *S) {
    char *p = test_ledger_path(S), err[512];
    Ledger T = {0};
    if (ledger_load(p, &T, err, sizeof err) != 0) die("%s", err);
    for (int i = 0; i < T.n; i++) {
        const char *run = rec_get(&T.r[i], "run");
        if (!run) continue;
        for (int j = S->L.n - 1; j >= 0; j--) {
            const char *x = rec_get(&S->L.r[j], "run");
            if (x && !strcmp(x, run)) { rec_set_num(&S->L.r[j], "test_bpb", rec_num(&T.r[i], "test_bpb", NAN)); break; }
        }
    }
    ledger_free(&T);
    free(p);
}

// The `sandbox:` field of the session's runs, for status and report: the latest run's, and how
// many of its runs had none (see README "Threat model").
void session_sandbox(const Session *S, char *out, size_t n) {
    const char *last = NULL;
    int none = 0, runs = 0;
    for (int i = 0; i < S->L.n; i++) {
        const char *sb = rec_get(&S->L.r[i], "sandbox");
        if (!rec_in_session(&S->L.r[i], S->tag, NULL) || !sb) continue;
        runs++;
        none += !strncmp(sb, "none", 4);
        last = sb;
    }
    if (!last) snprintf(out, n, "no run recorded yet");
    else if (none) snprintf(out, n, "%s (latest run); %d of %d runs without the sandbox", last, none, runs);
    else snprintf(out, n, "%s (all %d runs)", last, runs);
}

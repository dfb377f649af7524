// harness.h -- the research harness: `autoresearch run | loop | noise | status | report`.
//
// The harness owns the experiment loop and the ledger, so a night of autonomous research can
// be trusted in the morning. Where things live (all relative to the repository root):
//   results.tsv      the original project's ledger: commit val_bpb memory_gb status description
//                    (untracked; one row per experiment; derived from results.jsonl)
//   results.jsonl    the full record of every experiment (one JSON object per line; the source
//                    of truth; also holds `noise` runs and agent failures)
//                    Its kinds and fields: LEDGER_FIELDS below.
//   run.log          build + training output of the latest experiment
//   report/          `autoresearch report` output: progress.svg, progress.png, report.md, report.html
//   $GIT_DIR/autoresearch/   the harness's private state (never tracked, never seen by git):
//       sessions/<tag>.json  session: base commit, budget, noise sigma
//       running.json         the experiment in flight (status shows it; resume finishes it)
//       training.json        the training run in flight, of any kind (experiment, noise, confirm)
//       progress.txt         its progress, written by the fixed layer (AUTORESEARCH_PROGRESS_FILE)
//       lock                 one harness per working tree (flock)
//       test.jsonl           the test ledger: test_bpb of every run (testledger.c)
//       scratch/             the sandboxed trainer's only writable folder (per run)
//       prompt.md agent.log description.txt result.txt run-model.bin   per-iteration scratch
//       pristine/            the base tree exported by the harness: every experiment builds here
//       models/<tag>.bin     the session's model: the weights of its best (kept) commit
//       ledger.head          where results.jsonl's hash chain ends (chain.c)
//       pool.json jobs/ worktrees/   `loop --workers`: what is in flight, each job's folder,
//                            each experiment's git worktree (pool.h)
// Both ledgers are only ever appended to, one line per write(2) (append_line_atomic), and the
// .tsv is a pure function of the .jsonl: a kill -9 at any moment leaves at most a missing
// .tsv row, which the next command re-derives. A .tsv that disagrees with the .jsonl (edited by
// hand, truncated) is reported and never rewritten.
//
// The files (one job each; this header is the whole interface between them):
//   main.c        the `autoresearch` command: dispatches to the commands
//   run.c         `run` and `noise`, and the Ctrl-C handling
//   loop.c        `loop`: the session's branch, the iterations, when to stop
//   agent.c       one agent call: the prompt, the built-in search, what the agent may not change
//   pool*.c       `loop --workers N`: the scheduler (poolloop.c), decisions and ingestion
//                 (pool.c), what is in flight (poolstate.c), worktrees and diffs (poolgit.c)
//   job.c         `autoresearch job DIR`: one run of a worker, leaving its result files
//   executor.c    where a job runs: local processes pinned to cores; slurm.c: Slurm
//   experiment.c  one experiment and the keep decision (decide(): strict, noise or sprt)
//   gate.c        the keep decision's statistics: per-commit estimates, noise, sequential test
//   training.c    one supervised training run into a record; extra runs (noise, confirm, rebaseline)
//   build.c       a commit's train.c built in the pristine tree
//   gradcheck.c   the gradient check of that build, under the supervisor, before its run
//   data.c        the data set the session pinned
//   session.c     the session: state file, lock, shared options, its view of the ledger
//   git.c         git plumbing, committing train.c, git's view of integrity
//   integrity.c   integrity from content (the object store)
//   githarden.c   git hardening: no hooks, replace objects or dangerous repository config
//   ledger.c      flat JSON records, results.jsonl and results.tsv
//   chain.c       the ledger's hash chain
//   testledger.c  the test ledger: test_bpb, out of the agent's sight
//   live.c        the training run in flight: progress file, live line, throughput
//   proc.c        child processes
//   search.c      train.c's tunables block and the built-in search agent
//   excerpt.c     a run's output: its summary block, result file, and crash excerpt
//   status.c      `status`, and one session's records (View)
//   report.c      `report`: report.md and report.html; reportdoc.c: their one writer and sections
//   plot.c        the progress plot, SVG and PNG
//
// Fixed-layer hash: sha256 over the tracked files under fixed/ plus the Makefile: for each, in
// `git ls-files` order, "path\0" then the file's sha256 hex. These are the files that decide
// the metric; integrity itself is checked over every tracked file (see check_integrity).
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <stdint.h>

// ----------------------------------------------------------------------------
// Flat JSON records (one line of results.jsonl): string, number, bool or null values.

typedef struct {
    char *key;
    char *val;      // unescaped text; for numbers/bools/null the literal text
    int is_str;
} Field;
typedef struct {
    Field *f;
    int n, cap;
} Record;

void rec_set_str(Record *r, const char *key, const char *val);
void rec_set_num(Record *r, const char *key, double v);       // %.17g trimmed; NaN/inf -> null
void rec_set_fmt(Record *r, const char *key, const char *fmt, double v);  // number, given format
void rec_set_raw(Record *r, const char *key, const char *literal);        // true/false/null/number
const char *rec_get(const Record *r, const char *key);        // NULL if absent or null
double rec_num(const Record *r, const char *key, double dflt);
char *rec_to_json(const Record *r);                           // malloc'd, no newline
int rec_parse(const char *line, Record *r, char *err, size_t errlen);  // 0 or -1
void rec_free(Record *r);

// ----------------------------------------------------------------------------
// Ledger: results.jsonl (source of truth) and results.tsv (derived).

#define TSV_HEADER "commit\tval_bpb\tmemory_gb\tstatus\tdescription"

// Every field of a results.jsonl record: X(name, who writes it, what it means). Writers:
//   harness     this program (experiment.c, training.c, data.c, live.c)
//   supervisor  the fixed layer's result file (`autoresearch train`), which train.c cannot write
//   progress    the supervisor's progress file, as the run ended (live.c)
//   gate        the keep decision (experiment.c, with gate.c's statistics)
//   agent       agent.c: the agent's command, its description, the search agent's mutation
//   chain       chain.c: the hash chain, and a ledger_accepted record
//   pool        pool.c: `loop --workers N`, where each run is a job on a worker
// Any other name is a line of train.c's summary block, kept as it printed it: informational,
// never trusted. A summary line whose name is in this table is kept as summary_<name>.
#define LEDGER_FIELDS(X) \
    X(kind, "harness", "experiment (one .tsv row: its first run), noise (the baseline's extra runs, or " \
      "`noise`), confirm (a candidate's confirmation run), rebaseline (the best re-run every M " \
      "experiments), agent_error, ledger_accepted") \
    X(id, "harness", "an experiment's id: <session>-<n>") \
    X(session, "harness", "the session's tag: branch autoresearch/<tag>") \
    X(n, "harness", "the experiment's number in its session, from 1") \
    X(commit, "harness", "the commit run (\"\" for a row that ran nothing)") \
    X(parent, "harness", "HEAD^ of commit") \
    X(description, "agent", "what it tries: -m, the agent's DESCRIPTION line (trimmed, bounded), the mutation") \
    X(status, "harness", "keep | discard | crash | invalid (experiment); ok | crash (extra runs); agent_error") \
    X(reason, "harness", "why: a crash, an invalid change, an agent failure, an accepted ledger") \
    X(experiment_id, "harness", "the experiment an extra run belongs to") \
    X(noise_run, "harness", "an extra run's number i of noise_runs") \
    X(noise_runs, "harness", "how many extra runs of its kind were asked for") \
    X(after_experiments, "harness", "a rebaseline's point: after this many experiments") \
    X(run, "harness", "the run's unique id; the test ledger's test_bpb is keyed by it") \
    X(start_time, "harness", "UTC, ISO 8601") \
    X(end_time, "harness", "UTC, ISO 8601") \
    X(wall_seconds, "harness", "build + training + evaluation, seconds") \
    X(base_commit, "harness", "the session's base: integrity is checked against it") \
    X(train_sha256, "harness", "sha256 of the train.c bytes compiled (the bytes committed)") \
    X(fixed_sha256, "harness", "the fixed-layer hash (see the top of this file)") \
    X(budget_mode, "harness", "time | tokens | flops") \
    X(budget_amount, "harness", "seconds, tokens or FLOPs (absent: train.c's default)") \
    X(timeout_s, "harness", "the hard limit on the run") \
    X(seed, "harness", "AUTORESEARCH_SEED of the run (absent: train.c's own)") \
    X(seed_only, "harness", "the commit changes only lines that mention a seed") \
    X(dataset_id, "harness", "the data set the session pinned") \
    X(tokenizer_sha256, "harness", "sha256 of the pinned tokenizer.bin") \
    X(train_bin_sha256, "harness", "sha256 of the pinned train.bin") \
    X(val_bin_sha256, "harness", "sha256 of the pinned val.bin") \
    X(test_bin_sha256, "harness", "sha256 of the pinned test.bin") \
    X(exit_code, "harness", "the supervisor's exit code") \
    X(leftover_processes, "harness", "processes the run left running (killed)") \
    X(fixed_error, "harness", "the fixed layer's last complaint in run.log, for a crash") \
    X(model_saved, "harness", "the trainer saved its weights") \
    X(model_file, "harness", "a keep's weights: $GIT_DIR/autoresearch/models/<tag>.bin") \
    X(gradcheck, "supervisor", "ok | failed: the gradient check before the run (a failure is a crash naming the tensors)") \
    X(gradcheck_skip, "supervisor", "tensors train.c declares an intentional approximation (GRADCHECK_SKIP)") \
    X(val_source, "harness", "supervisor: val_bpb is the supervisor's") \
    X(val_mismatch, "harness", "train.c printed a val_bpb other than the supervisor's") \
    X(test_bpb, "harness", "never in the file: the test ledger's (testledger.c, out of the agent's sight), " \
      "joined by run in memory for status and report") \
    X(val_bpb, "supervisor", "validation bits per byte, scored by the supervisor (null: none)") \
    X(memory_gb, "supervisor", "the trainer's peak memory, GB") \
    X(sandbox, "supervisor", "the trainer's sandbox (landlock+seccomp ..., or none and why)") \
    X(sandbox_denials, "supervisor", "system calls the sandbox refused") \
    X(sandbox_denied, "supervisor", "which ones") \
    X(trainer_exit, "supervisor", "the trainer's own exit status") \
    X(dataset, "supervisor", "the data set scored on") \
    X(eval_tokens, "supervisor", "tokens of the validation split scored") \
    X(eval_seconds, "supervisor", "seconds the scoring took") \
    X(training_seconds, "supervisor", "training time on the supervisor's clock") \
    X(total_tokens_M, "supervisor", "tokens trained, millions") \
    X(num_steps, "supervisor", "optimizer steps") \
    X(probe_causal_max, "supervisor", "largest change of earlier positions' logits when later tokens change") \
    X(probe_frozen_max, "supervisor", "largest change of logits between two calls on the same input") \
    X(probe_tolerance, "supervisor", "what the probes allow") \
    X(steps, "progress", "steps at the end of training") \
    X(tokens, "progress", "tokens trained (the fixed layer's count)") \
    X(tokens_per_sec, "progress", "training throughput") \
    X(budget_used, "progress", "share of the budget used, [0,1]") \
    X(speed_ratio, "harness", "tokens/s over the mean of the best's runs") \
    X(fast_keep, "harness", "a keep at FAST_KEEP_RATIO or more in a time budget: check the machine") \
    X(gate, "gate", "sprt | strict | noise") \
    X(gate_threshold, "gate", "the margin a strict / noise keep needs (noise: 2 sigma)") \
    X(best_before, "gate", "the best's estimate at decision time") \
    X(best_runs, "gate", "its runs") \
    X(delta, "gate", "candidate - best, val_bpb (< 0 better)") \
    X(est_val_bpb, "gate", "the candidate's estimate: the mean of its runs") \
    X(est_se, "gate", "its standard error") \
    X(est_runs, "gate", "its runs") \
    X(sigma, "gate", "the session's run-to-run noise of val_bpb") \
    X(sigma_dof, "gate", "its degrees of freedom (pooled within commits)") \
    X(gate_stat, "gate", "effect / se at the decision") \
    X(gate_keep_at, "gate", "the boundary gate_stat had to pass to keep") \
    X(false_keep, "gate", "alpha: P(keep | no better) <= alpha") \
    X(gate_reason, "gate", "better | worse | not better | noise (cap) | confirmation crashed | ...") \
    X(effect, "gate", "a keep's improvement over the best (> 0 better)") \
    X(effect_lo, "gate", "its 95% interval, low end") \
    X(effect_hi, "gate", "its 95% interval, high end") \
    X(drift, "gate", "a rebaseline found the machine changed under the session") \
    X(drift_reason, "gate", "how: tokens per run or the unchanged best's val_bpb moved") \
    X(tokens_change, "gate", "a rebaseline's tokens trained vs the best's earlier runs") \
    X(agent, "agent", "the --agent command, or search") \
    X(agent_output, "agent", "an agent failure: the last lines the agent printed (bounded)") \
    X(agent_leftover_processes, "agent", "processes the agent left running (killed)") \
    X(search_param, "agent", "the search agent's tunable") \
    X(search_from, "agent", "its value before") \
    X(search_to, "agent", "its value tried") \
    X(job, "pool", "`loop --workers`: the job folder that ran the record's run") \
    X(job_id, "pool", "the executor's id of that job (a Slurm job id, a local pid)") \
    X(executor, "pool", "local | slurm") \
    X(slot, "pool", "the worker slot the job ran in") \
    X(slurm_state, "pool", "why Slurm ended a job that did not finish (its state)") \
    X(diff_sha256, "pool", "sha256 of the experiment's diff to train.c, which a rebase carries") \
    X(rebased_from, "pool", "the best the change was first made on, before a keep moved the best") \
    X(rebased_to, "pool", "a run before its rebase: the commit the change was rebased to") \
    X(original_parent, "pool", "the experiment's parent before its rebase") \
    X(original_commit, "pool", "the experiment's commit before its rebase") \
    X(prev_sha256, "chain", "sha256 of the line before: the hash chain") \
    X(time, "chain", "ledger_accepted: when") \
    X(problem, "chain", "ledger_accepted: what did not verify") \
    X(lines, "chain", "ledger_accepted: lines before it") \
    X(prefix_sha256, "chain", "ledger_accepted: sha256 of everything before it")

typedef struct {
    Record *r;
    int n;
} Ledger;

// Reads every record of a .jsonl file (a missing file is an empty ledger). -1 + err naming
// file:line on a malformed line.
int ledger_load(const char *path, Ledger *L, char *err, size_t errlen);
void ledger_free(Ledger *L);
// The .tsv row (no newline) of an experiment record; NULL for records that are no row
// (noise runs, agent failures).
char *tsv_row(const Record *r);
// Checks tsv_path against the rows derived from L; appends the missing ones (creating the
// file with its header if absent). -1 + err when the file is malformed or disagrees.
int tsv_sync(const char *tsv_path, const Ledger *L, char *err, size_t errlen);
// Appends a record to the .jsonl, then its row to the .tsv. 0 or -1 + err.
int ledger_append(const char *jsonl_path, const char *tsv_path, const Record *r, char *err,
                  size_t errlen);

// ----------------------------------------------------------------------------
// Run output (excerpt.c): the summary block and the fixed layer's result file.

// Parses the last summary block ("---" then "label: value" lines) of a log. Returns the
// number of fields found (0: no block); sets *fail when a line reads FAIL.
int parse_summary(const char *log, Record *out, int *fail);
// Reads "key: value" lines of a file into out; -1 if the file is missing.
int parse_kv_file(const char *path, Record *out);

// The prompt's excerpt of a crashed run's log (excerpt.c): the trusted reason (and a failed
// build's compiler errors) first, then the log's end, bounded and marked as untrusted.
char *crash_excerpt(const char *log_path, const char *reason);

// ----------------------------------------------------------------------------
// Tunables: the marked block of numeric #defines in train.c, and the search agent.

typedef struct {
    char name[64];
    double value;
    int is_int;
    int line;            // 0-based line number in the file
    double lo, hi;       // bounds from an optional "[lo, hi]" in the comment (else -inf/inf)
} Tunable;

// Parses the block; returns the count (0 if no block), -1 + err on a malformed block.
int tunables_parse(const char *src, Tunable *t, int max, char *err, size_t errlen);
// Returns a malloc'd copy of src with tunable t set to value (formatting kept).
char *tunables_set(const char *src, const Tunable *t, double value);
// Formats a value as it would be written into train.c.
void tunable_format(const Tunable *t, double value, char *out, size_t n);

typedef struct {
    char param[64];
    double from, to;
    char desc[200];
} Mutation;
// The built-in agent: proposes one mutation of the tunables in src, learning from the
// session's records (search_param/search_from/search_to/status/val_bpb) and seeded by seed.
// Returns 0, or -1 + err when there is nothing to mutate.
int search_propose(const char *src, const Ledger *L, const char *session, uint64_t seed,
                   Mutation *m, char *err, size_t errlen);

// ----------------------------------------------------------------------------
// Progress plot and report.

typedef struct {
    double val;          // val_bpb (ignored for crashes)
    int status;          // 0 keep, 1 discard, 2 crash/invalid
    const char *label;   // description: the tooltip in the SVG, and a kept change's label (may be NULL)
    double lo, hi;       // its confidence interval (NaN: none)
} PlotPoint;
typedef struct {
    const char *title;
    double baseline;     // the baseline's val_bpb (NaN: none)
    double gate;         // the keep gate's margin under the best (0: strict, no band)
} PlotInfo;
// Writes the progress plot (see plot.c for what it shows). 0 or -1 + err.
int plot_svg(const char *path, const PlotPoint *p, int n, const PlotInfo *info, char *err, size_t errlen);
int plot_png(const char *path, const PlotPoint *p, int n, const PlotInfo *info, char *err, size_t errlen);

// ----------------------------------------------------------------------------
// Small numeric helpers (gate.c).

double stddev(const double *x, int n);    // sample standard deviation (n-1); 0 if n < 2

// ----------------------------------------------------------------------------
// The keep decision (gate.c): a sequential test on per-commit estimates.

// Running mean and squared deviations of one commit's runs (Welford).
typedef struct {
    int n;
    double mean, m2;
} RunStats;
void runstats_add(RunStats *s, double x);
double runstats_se(const RunStats *s, double sigma);   // sigma / sqrt(n)

typedef struct {
    double alpha;        // false-keep rate: P(keep | the change is no better) <= alpha
    double beta;         // miss rate at the design effect (Wald's lower threshold)
    double effect;       // design effect, in sigmas: the improvement the test is powered for
    int max_runs;        // cap on the candidate's runs (its first run plus confirmations)
} GateParams;
void gate_defaults(GateParams *p);   // alpha 0.03, beta 0.2, effect 1.5 sigma, max_runs 8

typedef struct {
    double best_mean;    // the best's estimate: mean of its n runs
    int best_n;
    double cand_mean;    // the candidate's runs so far
    int cand_n;
    double sigma, dof;   // the session's pooled noise and its degrees of freedom (0: known)
} GateInput;
typedef enum { GATE_MORE, GATE_KEEP, GATE_DISCARD } GateVerdict;
typedef struct {
    GateVerdict verdict;
    double effect, se;           // estimated improvement (best - candidate; > 0 is better), its SE
    double lo, hi;               // two-sided 95% interval of the improvement
    double stat, llr;            // effect/se, and Wald's log likelihood ratio
    double keep_at, discard_at;  // this look's boundaries for stat
    const char *why;             // better | worse | not better | noise (cap) | confirm | no noise
} GateDecision;
// The decision after cand_n runs of the candidate: keep, discard, or run it again.
GateDecision gate_decide(const GateParams *p, const GateInput *in);

// The ledger's side (gate.c). Runs of a commit: this session's records of kind experiment
// (keep/discard), noise, confirm and rebaseline with a finite val_bpb.
typedef struct Session Session;
RunStats commit_runs(const Session *S, const char *commit);
// The session's sigma: pooled within-commit standard deviation (with one pending run of
// pending_commit not yet in the ledger, or pending_val NaN), and its degrees of freedom.
void session_noise(const Session *S, const char *pending_commit, double pending_val, double *sigma, double *dof);
// The smallest positive seed no run of commit in this session has used. Every commit's
// extra runs thus take seeds 1, 2, ...: a candidate's runs share seeds with the best's, which
// correlates their noise and only makes the test more cautious than its sigma says.
long fresh_seed(const Session *S, const char *commit);
// gate_decide on the ledger's estimates of the best and the candidate (+ its pending run).
GateDecision gate_judge(const Session *S, const char *best_commit, const char *cand_commit, double pending_val,
                        RunStats *best, RunStats *cand);
typedef struct {
    const char *base_commit, *best_commit;   // the session's first and latest keep
    RunStats base, best;
    double sigma, dof;
    GateDecision total;      // improvement of the best over the baseline: effect, lo, hi
    int runs, confirm_runs, noise_runs, rebaseline_runs, drifts;
    char drift[200];         // the latest drift a rebaseline run detected ("" if none)
} GateSummary;
void gate_summary(const Session *S, GateSummary *g);
// Sets drift (and drift_reason) on r, a new run of the best, against the best's earlier runs.
void drift_check(const Session *S, Record *r);

// ----------------------------------------------------------------------------
// Processes (core.c)

#include <sys/types.h>

typedef struct {
    const char *const *argv;
    const char *stdin_path;        // NULL: /dev/null
    const char *out_path;          // stdout+stderr appended here (NULL: inherited)
    const char *const *env;        // "KEY=VALUE" to set, "KEY" to unset; NULL-terminated (or NULL)
    double timeout;                // seconds; 0: none
    volatile int *abort_flag;      // non-zero: kill the child's process group now
    // run in the child just before exec (a sandbox); non-zero: the child exits 126 with err
    int (*pre_exec)(void *arg, char *err, size_t errlen);
    void *pre_exec_arg;
} ProcSpec;
typedef struct {
    int exit_code;                 // -1 if killed by a signal
    int signal;
    int timed_out, aborted;
    double seconds;
    int leftovers;                 // processes still running below the harness afterwards (killed)
} ProcResult;
// Runs a command in its own process group (so Ctrl-C reaches only the harness, and a timeout
// kills the whole group); the child also dies with the harness (PR_SET_PDEATHSIG), gets no
// descriptor but 0-2, and whatever it leaves running is killed when it returns.
// 0, or -1 + err if it could not be started.
int proc_run(const ProcSpec *s, ProcResult *r, char *err, size_t errlen);
// Runs argv, captures stdout (and stderr separately); returns the exit status (-1: no start).
int cmd_capture(const char *const *argv, char **out, char **errout);
// Runs argv with in as its stdin; captures stdout (binary, *outlen bytes; stderr dropped).
int cmd_io(const char *const *argv, const void *in, size_t inlen, char **out, size_t *outlen);
// Makes the harness a child subreaper: a process that leaves its group and its parent stays
// below the harness, where proc_kill_descendants finds it.
void proc_init(void);
// Kills every process below the harness (SIGSTOP, then SIGKILL); returns how many. proc_run
// calls it when a child's leader has exited: nothing a child started outlives its call.
int proc_kill_descendants(void);

// ----------------------------------------------------------------------------
// The ledger's hash chain (chain.c): each results.jsonl line carries prev_sha256, the sha256
// of the line before it; $GIT_DIR/autoresearch/ledger.head records where the chain ends.

typedef struct {
    int lines;           // lines of results.jsonl
    char last[65];       // sha256 of the last one ("" if none)
} ChainHead;
// Verifies the chain and the head record (completing the head after a kill mid-append);
// fills h. -1 + err naming the first line that is not as the harness wrote it.
int chain_verify(const char *jsonl, const char *head_path, ChainHead *h, char *err, size_t errlen);
// Is the file still exactly what the harness last wrote (h, held in memory)? 0 or -1 + err.
int chain_unchanged(const char *jsonl, const char *head_path, const ChainHead *h, char *err, size_t errlen);
// Appends r (with prev_sha256 set) after checking chain_unchanged; updates h. 0 or -1 + err.
int chain_append(const char *jsonl, const char *head_path, ChainHead *h, Record *r, char *err, size_t errlen);
// The user accepts the file as it is now: appends a ledger_accepted record (the sha256 of
// everything before it, the problem and the reason) that verification restarts from.
int chain_accept(const char *jsonl, const char *head_path, ChainHead *h, const char *problem, const char *reason,
                 char *err, size_t errlen);

// ----------------------------------------------------------------------------
// Sessions (session.c)

#define DATA_FILES 4     // tokenizer.bin train.bin val.bin test.bin

struct Session {
    char *root, *state;        // repository top level; $GIT_DIR/autoresearch
    char *jsonl, *tsv;         // ledger paths
    char tag[96];              // session name: branch autoresearch/<tag>, else the branch name
    char base[41];             // commit the session started from: integrity is checked against it
    char budget_mode[16];      // time | tokens | flops
    double budget;             // amount (seconds / tokens / FLOPs); 0: train.c's default
    double timeout;            // hard limit on one training run, seconds
    double sigma;              // standard deviation of val_bpb measured by `noise` (0: none)
    char gate[16];             // sprt (default) | strict | noise
    GateParams gp;             // the sprt gate's parameters
    int noise_runs;            // K: runs of the baseline before the first decision
    int rebaseline_every;      // M: re-run the best every M experiments (0: never)
    long seed;                 // AUTORESEARCH_SEED for experiments; -1: train.c's own
    Ledger L;                  // results.jsonl, all sessions
    char data_id[128];         // the data set pinned at the session's first experiment ("": none)
    char data_sha[DATA_FILES][65];   // its files' sha256 (data_key(i) names them)
    ChainHead chain;           // results.jsonl as the harness last wrote or verified it
    char *head_path;           // $GIT_DIR/autoresearch/ledger.head
    char *ledger_problem;      // why the chain did not verify at open (NULL: it did)
    const char *accept_ledger; // --accept-ledger REASON
    char model_commit[41];     // the commit whose weights models/<tag>.bin holds ("": none)
    int n_reserved;            // loop --workers: experiment numbers up to this one are taken by runs in flight
};

extern volatile int g_abort;   // set by the second Ctrl-C: kill the running child now
extern volatile int g_stop;    // set by Ctrl-C: stop after the current step
// Ctrl-C stops after the current step (g_stop), a second one aborts it (g_abort) (run.c).
void install_sigint(void);

// Opens the repository the current directory is in (chdir to its top level) and loads the
// ledger; dies with a clear message on a problem.
void session_open(Session *S);
void session_close(Session *S);
// Takes the per-working-tree lock (dies if another harness holds it), then checks
// results.tsv against results.jsonl and appends rows a kill left out.
void session_lock(Session *S);
// Loads sessions/<tag>.json into S (returns 0), or -1 if there is none.
int session_load(Session *S, const char *tag);
void session_save(Session *S);
// The tag of the current branch (autoresearch/<tag> -> <tag>; other branches: their name).
void current_tag(char *tag, size_t n);

// Options shared by run / loop / noise: returns 1 if argv[*i] was one (consumed).
int session_option(Session *S, int argc, char **argv, int *i);
#define SESSION_OPTIONS_HELP \
    "  --budget-mode M   time (default; wall-clock seconds), tokens or flops (fixed work:\n" \
    "                    deterministic and comparable across machines)\n" \
    "  --budget N        the amount: seconds, tokens or FLOPs (default: train.c's, 300 s)\n" \
    "  --timeout S       hard limit on one training run, seconds (default 600)\n" \
    "  --seed N          AUTORESEARCH_SEED of each experiment's first run (default: train.c's\n" \
    "                    own); noise, confirmation and rebaseline runs take new seeds\n" \
    "  --gate G          sprt (default): keep only what a sequential test on the runs'\n" \
    "                    means shows better (confirmation runs with new seeds); strict: one\n" \
    "                    run, kept when val_bpb is lower; noise: one run, lower by > 2 sigma\n" \
    "  --false-keep A    sprt: the false-keep rate alpha, P(keep | no better) <= A (0.03)\n" \
    "  --gate-effect E   sprt: the improvement it is powered for, in sigmas (1.5)\n" \
    "  --max-runs N      sprt: runs of one candidate at most, its first included (8)\n" \
    "  --noise-runs K    sprt: runs of the baseline, which measure sigma (default 8)\n" \
    "  --rebaseline-every M  sprt: re-run the best every M experiments (10; 0: never)\n" \
    "  --accept-ledger R accept results.jsonl as it is now after it was edited (R: why; recorded\n" \
    "                    in the ledger); without it the harness refuses an edited ledger\n"

// Is r a record of session tag (and, kind non-NULL, of that kind)? The one test of "this
// session's records", wherever the ledger is read.
int rec_in_session(const Record *r, const char *tag, const char *kind);
// The session's current best: its last kept experiment (NULL if none).
const Record *session_best(const Session *S);
int session_experiments(const Session *S);     // experiment rows of this session
// Appends r to the ledger (its hash chain, then its .tsv row) and to S->L, which takes over
// r's fields (r is emptied); dies when the ledger changed behind the harness's back.
void ledger_add(Session *S, Record *r);
char *state_file(const Session *S, const char *name);   // $GIT_DIR/autoresearch/<name>, malloc'd
void iso_time(char *out, size_t n);                      // now, UTC: 2026-01-02T03:04:05Z

// The test ledger (testledger.c): test_bpb of the run r (its "run" key), appended to
// $GIT_DIR/autoresearch/test.jsonl; and merged into the records of S->L when the session opens.
void test_ledger_append(Session *S, const Record *r, double test);
void test_ledger_merge(Session *S);
// The session's `sandbox:` field: the latest run's, and the runs that had none.
void session_sandbox(const Session *S, char *out, size_t n);

// ----------------------------------------------------------------------------
// git plumbing (git.c)

// Git helpers: stdout trimmed (malloc'd) or NULL when git failed (its message in git_err).
char *git_str(const char *arg, ...);
int git_ok(const char *arg, ...);               // exit status 0?
extern char git_err[512];
char *head_commit(void);                         // NULL on a repository without commits
void free_list(char **l);                        // a NULL-terminated list and its strings
void fixed_hash(char out[65]);                   // the fixed-layer hash (see the top)
char *join_list(char **l);                       // "a, b, c" (malloc'd)
int train_dirty(void);                           // does train.c differ from HEAD?
// Commits train.c with the message; 0 or -1 (message in git_err).
int commit_train(const char *msg);
// Resets the working tree to commit and removes the given untracked files.
void reset_to(const char *commit, char **untracked);

// What differs from the session's base other than train.c's content: paths tracked, changed
// vs base, or untracked and not ignored (git's view), and by content (integrity_content), and
// train.c when it is not a regular file. A NULL-terminated malloc'd list (empty: all good).
char **check_integrity(const Session *S);

// Integrity from content (integrity.c; git_harden and git_config_problem: githarden.c)
// Sets the environment every git (and every child) runs with: hooks, fsmonitor and signing
// off, replace objects and the system config ignored.
void git_harden(void);
// 1 + why when the repository's own config sets something that runs a program or hides
// changes (core.fsmonitor, core.hooksPath, filters, ...); else 0.
int git_config_problem(char *why, size_t n);
// Compares the working tree by content with base, read from the object store with replace
// objects off and every object verified by hash: every file of base (but train.c) must hold
// its bytes, fixed/ and harness/ and the top-level make files may hold nothing else (tracked
// or not, ignored or not), train.c must be a regular file. NULL + err if base cannot be read.
char **integrity_content(const char *base, char *err, size_t errlen);
// Puts back the base's version of each listed path (and removes listed files the base lacks).
int integrity_restore(const char *base, char **bad);
// Writes base's files (but train.c) into dir, emptied first. 0 or -1 + err.
int integrity_export(const char *base, const char *dir, char *err, size_t errlen);
// path's bytes in commit (a regular file; its object verified by hash). 0 or -1 + err.
int git_blob(const char *commit, const char *path, char **data, size_t *len, char *err, size_t errlen);

// The experiment's build (build.c): train.c of commit, written into a pristine copy of the
// base ($GIT_DIR/autoresearch/pristine), built there with `make build/train` (output to
// run.log). 0 when make ran (pr, *binary and train_sha set), 1 when commit's train.c cannot be
// used (err says why), -1 on a harness error.
int build_train(const Session *S, const char *commit, char train_sha[65], ProcResult *pr, char **binary,
                char *err, size_t errlen);
// gradcheck.c: whether the session's base has a gradient check (fixed/gradcheck.c), and runs
// the pristine build's build/gradcheck under the supervisor (exe train --gradcheck), output to
// run.log. 0: passed (or none to run), *skip the tensors GRADCHECK_SKIP named; 1: failed, the
// verdict in why; -1: not started (err).
char *pristine_dir(const Session *S);   // build.c: $STATE/pristine, the base built there
int gradcheck_available(const Session *S);
int gradcheck_pristine(const Session *S, const char *exe, ProcResult *pr, char *skip, size_t skiplen,
                       char *why, size_t whylen, char *err, size_t errlen);

// The data set (data.c): checks the session's data set (pinning it at the first call) and
// records its hashes in r. 0, 1 when no data set is prepared, -1 + err when it is broken,
// missing or changed since the session started.
int data_check(Session *S, Record *r, char *err, size_t errlen);
const char *data_key(int i);     // the record/session key of data file i

// ----------------------------------------------------------------------------
// One training run of a commit, and its extra runs (training.c)

// Builds and runs commit (HEAD) under the supervisor; fills r with the outcome: status "ok",
// "crash", "invalid" (+ reason) or "aborted", and *test with the test split's score (NAN if
// none), which goes to the test ledger, never into r. The weights go to $STATE/run-model.bin.
void build_and_train(Session *S, const char *commit, Record *r, double *test);
// Before anything runs: the ledger is what the harness wrote, and the data set is the one the
// session pinned (dies with the reason otherwise: nothing is recorded).
void preflight(Session *S, Record *r);
// What every training record carries: hashes of train.c and the fixed layer, base, budget.
void record_context(const Session *S, Record *r);
// One more run of HEAD with AUTORESEARCH_SEED=seed (< 0: a fresh one), recorded as kind
// (noise, confirm, rebaseline); exp_id: the experiment it belongs to (or NULL); after >= 0:
// a rebaseline after that many experiments, checked for drift. Returns its record (in the
// ledger), or NULL on Ctrl-C (nothing recorded).
const Record *extra_run(Session *S, const char *kind, const char *commit, const char *exp_id, int i, int k,
                        int after, long seed);
// One `noise` run of HEAD with AUTORESEARCH_SEED=seed, recorded as kind "noise" (run i of k).
// Returns its val_bpb, NAN if it crashed, or NAN with *aborted set on Ctrl-C.
double noise_run(Session *S, int i, int k, long seed, int *aborted);
// The sprt gate's concurrent baseline: re-runs HEAD (the best) once, as kind "rebaseline"
// with after_experiments = after (once per value), and checks it for drift.
void rebaseline(Session *S, int after);

// ----------------------------------------------------------------------------
// One experiment and its keep decision (experiment.c)

// Runs HEAD as one experiment (build, train under the budget and timeout, parse, classify
// against the best and the gate), appends it to the ledger, prints one line, and with reset
// moves the branch back to the best when it is not kept. extra: fields to merge in (agent,
// mutation), may be NULL. Returns the status ("keep", ...; static storage), or NULL when
// aborted by Ctrl-C (nothing recorded).
const char *experiment(Session *S, const char *desc, const Record *extra, int reset);
// Records a row that ran nothing (invalid change) or an agent failure (kind agent_error).
void record_event(Session *S, const char *kind, const char *status, const char *desc,
                  const char *reason, const Record *extra);
// Finishes an experiment interrupted by a kill (running.json): re-runs it or drops it.
void resume_interrupted(Session *S, int reset);

// ----------------------------------------------------------------------------
// The agent (agent.c) and the commands' shared parts (run.c)

typedef struct {
    const char *agent;      // "search" or a shell command
    double agent_timeout;
    uint64_t search_seed;
    int sandbox;            // --agent-sandbox
    const char *allow[17];  // --agent-allow DIR: writable besides the work tree (NULL-terminated)
    int ports[16], nports;  // --agent-net: the TCP ports it may connect to (-1: any)
    int nallow;
    const char *worktree;   // loop --workers: the experiment's own worktree the agent works in (NULL: the root)
    const char *in_flight;  // loop --workers: the prompt's list of the experiments in flight (NULL: none)
} LoopOpts;
// One agent invocation. Returns 0 with train.c changed (desc, extra filled), 1 for an agent
// failure (reason filled; the tree is back at best), 2 for an invalid change (logged, reset).
int invoke_agent(Session *S, const LoopOpts *o, const char *best, char **desc, Record *extra,
                 char *reason, size_t rn);
// The pieces of one experiment that the worker pool (pool.h) shares with experiment.c: finds a
// record by id; copies src's fields into dst; a kept run's weights ($STATE/run-model.bin)
// become the session's model; the one-line row; a seed-only change?; the harness binary.
const Record *find_id(const Session *S, const char *id);
void rec_merge(Record *dst, const Record *src);
void keep_model(Session *S, Record *r, const char *status, const char *commit);
void print_row(const Record *r, int n);
int seed_only_change(const char *parent, const char *commit);
char *self_exe(void);                 // the running harness binary (/proc/self/exe)
// Runs the noise series of `noise` (k runs of HEAD) and saves its sigma in the session;
// returns 0, or -1 if fewer than 2 runs succeeded or it was aborted.
int noise_series(Session *S, int k);

// ----------------------------------------------------------------------------
// The training run in flight (live.c): its progress file, the live line, its throughput.

typedef struct {
    long step;
    double progress;          // share of the budget used, [0,1]
    double tokens, tokens_per_sec, train_seconds;
    double loss;              // NaN when train.c reports none (budget_report_loss)
    double eta_seconds;       // training time left at the current throughput; NaN: unknown
    double budget;
    char budget_mode[16];
    int done;                 // the budget is spent (the last step's state)
} TrainProgress;
char *live_progress_path(const Session *S);            // $GIT_DIR/autoresearch/progress.txt
int train_progress_read(const char *path, TrainProgress *p);   // 0, or -1 (none yet)
// "step 120 | 40.0% of time 300 s | 16.3k tok/s | loss 3.2145 | ETA 3m00s" (once the budget
// is spent, "evaluating" instead of the ETA)
void train_progress_format(const TrainProgress *p, char *out, size_t n);
void fmt_duration(double seconds, char *out, size_t n);   // 42s, 3m05s, 2h10m
void fmt_rate(double per_second, char *out, size_t n);    // 950, 16.3k, 1.20M
// Around one training run: live_begin writes training.json (what runs: kind, id, description,
// the harness's pid) and removes a stale progress file; live_end records the last progress
// state in r (steps, tokens, tokens_per_sec, budget_used) and removes both files.
void live_begin(const Session *S, const Record *r);
void live_end(const Session *S, Record *r);
int live_marker_read(const Session *S, Record *m);     // training.json; 0 or -1 (none)
// The live line while training runs: redrawn in place on a terminal, else a plain line as
// each quarter of the budget passes. label prefixes it ("[  3]", "noise 2/5"). With S NULL
// there is no progress file: a terminal shows the label and the time taken so far.
void live_watch_start(const Session *S, const char *label);
void live_watch_run(const Session *S, const Record *r);   // labelled for the run r describes
void live_watch_stop(void);
// Sets speed_ratio (r's tokens/s over the mean of the session's runs of best's commit) and,
// for a keep in a time budget at FAST_KEEP_RATIO or more, fast_keep: true.
void flag_fast_keep(const Session *S, Record *r, const Record *best);

// ----------------------------------------------------------------------------
// One session's records, for status and report (status.c)

typedef struct {
    const Record **r;       // the session's experiment records, in order
    int n;
    const Record **runs;    // its noise, confirmation and rebaseline runs, in order
    int nruns;
    int keep, discard, crash, invalid, agent_errors, noise, confirm;   // confirm: and rebaseline
} View;
View session_view(const Session *S);
void view_free(View *v);
// Loads the session: tag, else the current branch's, else the last one in the ledger.
void pick_session(Session *S, const char *tag);
// A run's held-out test bits per byte (NaN: none). The one place that reads it, so that
// where test scores live can change without touching the report.
double record_test_bpb(const Session *S, const Record *r);
// Is a record field true (true, or a non-zero number)?
int rec_true(const Record *r, const char *key);

// ----------------------------------------------------------------------------
// Commands (argv[0] is the command name); return the exit code.

int run_main(int argc, char **argv);
int loop_main(int argc, char **argv);
int noise_main(int argc, char **argv);
int status_main(int argc, char **argv);
int report_main(int argc, char **argv);

#endif

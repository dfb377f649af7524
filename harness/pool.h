// pool.h -- many experiments at once: `loop --workers N --executor local|slurm`.
//
// One writer: the loop (pool.c) alone appends to the ledgers. Each run (an experiment's first
// run, a confirmation, noise or rebaseline run) is a job: a folder $STATE/jobs/<name>/ with
// spec.json (what to run), and an executor that starts `autoresearch job DIR` for it (job.c:
// it builds and trains the commit in the experiment's own git worktree under the supervisor
// and leaves result.json, test.json and run.log there, never touching the ledger). The loop
// follows the jobs, ingests their result files and decides. $STATE/pool.json lists what is in
// flight (experiments, jobs, their executor's ids), so a killed loop adopts them again.
#ifndef POOL_H
#define POOL_H

#include "harness.h"

// ----------------------------------------------------------------------------
// Executors (executor.c: local; slurm.c: Slurm)

typedef enum { JOB_PENDING, JOB_RUNNING, JOB_DONE } JobState;

typedef struct {
    int slurm;                 // 0: local processes; 1: Slurm batch jobs
    int threads;               // cores (OpenMP threads) per worker
    int workers;
    const char *slurm_args;    // passed to sbatch as they are (split on blanks, quotes kept)
} Executor;

// Starts `autoresearch job DIR` on slot `slot` (0..workers-1): a local process pinned to the
// slot's cores, or `sbatch --parsable`. id: "local:PID" or the Slurm job id. 0 or -1 + err.
int exec_submit(const Executor *X, const char *dir, int slot, const char *name, char *id, size_t idn,
                char *err, size_t errlen);
// The state of job id; for a job that ended, why (Slurm's state and reason) when it ended
// other than by itself (killed, cancelled, node failure); "" otherwise. For a pending Slurm job,
// why it waits.
JobState exec_poll(const Executor *X, const char *id, const char *dir, char *why, size_t n);
void exec_cancel(const Executor *X, const char *id);
void exec_refresh(const Executor *X);   // once before each round of exec_poll

// slurm.c
int slurm_submit(const Executor *X, const char *dir, const char *name, char *id, size_t idn, char *err, size_t errlen);
JobState slurm_poll(const char *id, char *why, size_t n);
void slurm_refresh(void);   // asks squeue once for the round of polls that follows
void slurm_cancel(const char *id);

// ----------------------------------------------------------------------------
// The worker side (job.c): `autoresearch job DIR`.
int job_main(int argc, char **argv);

// ----------------------------------------------------------------------------
// The loop side (pool.c)

typedef struct {
    Executor X;
    const LoopOpts *agent;     // an external agent (agent == NULL or "search": the built-in search)
    unsigned long long search_seed;
    int max_fail;              // --max-agent-failures (0: never stop)
    double retry;              // --retry-delay
    int max_exp;
    double until;
    double queue_limit;        // seconds a job may wait in the queue before status reports it
} PoolOpts;
// What is in flight ($STATE/pool.json, poolstate.c): experiments and their jobs.
#define POOL_MAX 256
typedef struct {
    char name[128];            // the job's folder, $STATE/jobs/<name>
    char id[64];               // the executor's id ("" until submitted)
    char kind[16];             // experiment | confirm | noise | rebaseline
    char commit[41];
    char exp[160];             // the experiment it is a run of ("" for a rebaseline)
    char wt[1024];             // the worktree it runs in
    int own_wt;                // the worktree is the job's own (noise, rebaseline): removed with it
    int slot, run_i, run_k, after;
    long seed;
    double submitted, started; // epoch seconds
    JobState st;
    char why[256];             // why it waits in the queue
} PoolJob;
typedef struct {
    char id[160];
    int n, baseline;
    char commit[41], parent[41], rebased_from[41], original_parent[41];
    char desc[256];
    char wt[1024];             // its worktree: on its own commit, off the session's branch
    char diff[65];             // sha256 of its normalised diff
    char first[128];           // the job whose result is its first run ("" while none)
    char first_id[64];         // its executor's id, and slot
    int first_slot;
    int want;                  // 1: it needs another run (a confirmation, or the rebased commit's first)
    int confirm_crashed;
    Record extra;              // the agent's fields (search_param, ...)
} PoolExp;
typedef struct {
    Session *S;
    const PoolOpts *o;
    PoolJob job[POOL_MAX];
    int nj;
    PoolExp exp[POOL_MAX];
    int ne;
    long seq;                  // jobs named so far
    int since_rebase;          // experiments dispatched since the wave's rebaseline run
    char *path, *jobs, *wts;   // pool.json, jobs/, worktrees/
    // the harness's own cost, reported when the loop ends: seconds spent dispatching jobs
    // (worktree, spec, submission), from a result file's write to its ingestion, appending
    double t_dispatch, t_ingest, t_append;
    int n_dispatch, n_ingest, n_append;
    double checked_at;         // when the ledger and the data set were last checked before a dispatch
    int agent_fails;           // external agent: failures in a row, and when to call it again
    double agent_after;
} Pool;
void pool_save(const Pool *P);
int pool_load(Pool *P);        // 0, or -1 when there is no pool.json
char *pool_job_dir(const Pool *P, const char *name);
// poolgit.c: worktrees (added detached at commit; removed with git, else by hand) and the
// sha256 of a normalised diff (of two texts of train.c); was a diff dispatched in the session?
void pool_in_root(const Session *S);
void pool_wt_add(const Pool *P, const char *path, const char *commit);
void pool_wt_remove(const Session *S, const char *path);
void pool_text_diff(const Pool *P, const char *a, const char *b, char out[65]);
int pool_diff_dispatched(const Pool *P, const char *diff);
// pool.c, for the scheduler (poolloop.c)
void pool_dispatch(Pool *P, int slot, const char *kind, const char *commit, const char *exp, const char *wt, long seed,
                   int run_i, int run_k, int after);
int pool_decide(Pool *P, PoolExp *e);
void pool_ingest_run(Pool *P, PoolJob *j);
void pool_drop_job(Pool *P, int i, int keep_dir);
int pool_free_slot(const Pool *P);
int pool_next_n(const Pool *P);
long pool_free_seed(const Pool *P, const char *commit);
int pool_jobs_of(const Pool *P, const char *exp, const char *kind);
int pool_noise_runs(const Pool *P, const PoolExp *e);
PoolExp *pool_find_exp(Pool *P, const char *id);
// The ledger's record of this session that names job `name` (ingested before a kill), or NULL.
const Record *pool_recorded_job(const Session *S, const char *name);
// poolloop.c: a new experiment in flight (its worktree not yet made); its line when dispatched
PoolExp *pool_new_exp(Pool *P, const char *commit, const char *parent, const char *desc);
void pool_announce(const PoolExp *e, const PoolJob *j);
void pool_remove_exp(Pool *P, PoolExp *e);
// poolagent.c: one call of an external agent for a free slot, in a new experiment's worktree
// off the best, told what is in flight. 1 when it started a job, 0 when not (a failure,
// recorded; an invalid change, recorded; a change already dispatched), -1 when the loop
// should stop (--max-agent-failures).
int pool_agent(Pool *P, int slot);
// The sha256 of the normalised diff between two commits' train.c.
void pool_commit_diff(const char *parent, const char *commit, char out[65]);

// Runs the session S (branch checked out, baseline not necessarily run) with the pool until a
// limit or Ctrl-C (the first drains what runs, the second cancels it). Returns the exit code.
int pool_loop(Session *S, const PoolOpts *o);
// Dies when a pool has jobs in flight in this repository: one worker's `run`, `noise` or
// `loop` would number experiments over them.
void pool_refuse_in_flight(const Session *S, const char *cmd);
// status: one line per slot of a pool in flight (nothing when there is none); json: add the
// slots to o as slot_<i>_* fields.
void pool_status(const Session *S, Record *json);

#endif

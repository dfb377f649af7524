#!/bin/bash
# pool.test.sh -- `loop --workers N --executor local|slurm` end to end, with the search agent on
# the synthetic source (tests/agents/fake_train.c under the real supervisor, tokens budget),
# local workers and a real single-node Slurm on loopback (tests/slurm/cluster.sh: slurmctld
# and slurmd started here, stopped at the end). The Slurm part is skipped, saying so, only when
# the daemons cannot start (scripts/install-deps.sh --test installs them).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export TMP=$(mktemp -d /tmp/pool-test.XXXXXX)
cleanup() {
    [ -n "${SLURM_DIR:-}" ] && "$ROOT/tests/slurm/cluster.sh" stop "$SLURM_DIR"
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
. tests/harness_lib.sh
FAST="--budget-mode tokens --budget 2000"      # a run of the fake trainer: 0.2 s of "training"
SLOW="--budget-mode tokens --budget 25000"     # 2.5 s: long enough to act on it mid-run

ids_once() { test -z "$(grep -o '"id": "[^"]*"' results.jsonl | sort | uniq -d)"; }
jobs_once() { test -z "$(grep -o '"job": "[^"]*"' results.jsonl | sort | uniq -d)"; }
head_is_best() {
    local best=$(awk -F'\t' 'NR > 1 && $4 == "keep" { c = $1 } END { print c }' results.tsv)
    test -n "$best" && test "$(git rev-parse --short=7 HEAD)" = "$best"
}
cleaned() {   # no worktree, job folder or pool file left once the loop is done
    test "$(git worktree list | wc -l)" -eq 1 && test -z "$(ls .git/autoresearch/jobs)" && test ! -e .git/autoresearch/pool.json
}
every_run_has_job() {   # every run record (experiment, noise, confirm, rebaseline) names its job
    ! grep -E '"kind": "(experiment|noise|confirm|rebaseline)"' results.jsonl | grep -vq '"job_id": "'"$1"
}
wait_for() {   # wait_for SECONDS COMMAND...: until the command succeeds
    local t=$1; shift
    for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
running_jobs() { "$AR" status --json | grep -o '"slot_[0-9]*_state": "running"' | wc -l; }
two_running() { test "$(running_jobs)" -ge 2; }
slot_id() { "$AR" status --json | grep -o "\"slot_$1_job_id\": \"[^\"]*\"" | cut -d'"' -f4; }
rec_of_job() { grep "\"job_id\": \"$1\"" results.jsonl; }

# ----------------------------------------------------------------------------
echo "== local: 2 workers, the search agent"
new_repo local
"$AR" loop --agent search --tag l1 --workers 2 --max-experiments 6 $FAST --noise-runs 2 --max-runs 2 > $TMP/out.txt 2>&1
check "loop exits 0" test $? -eq 0
check "6 experiment rows, each id once" bash -c "test \$(tail -n +2 results.tsv | wc -l) -eq 6 && $(declare -f ids_once); ids_once"
check "the baseline's noise run and a rebaseline run per wave are recorded" bash -c \
    "grep -q '\"kind\": \"noise\"' results.jsonl && grep -q '\"kind\": \"rebaseline\"' results.jsonl"
check "every run names its local job (local:PID), no job recorded twice" bash -c \
    "$(declare -f every_run_has_job jobs_once); every_run_has_job local: && jobs_once"
check "two slots were used" bash -c "grep -q '\"slot\": 0' results.jsonl && grep -q '\"slot\": 1' results.jsonl"
check "branch head is the best" head_is_best
check "no normalised diff dispatched twice" test -z "$(grep -o '"diff_sha256": "[^"]*"' results.jsonl | sort | uniq -d)"
check "worktrees, job folders and pool.json cleaned up" cleaned

echo "== local: an external agent, once per free slot, told what is in flight"
new_repo ext
export POOL_AGENT_DIR=$TMP/agent POOL_AGENT_CHANGES="MATRIX_LR=0.03 MATRIX_LR=0.03 MATRIX_LR=0.05 MATRIX_LR=0.025"
mkdir -p "$POOL_AGENT_DIR"
"$AR" loop --agent "$ROOT/tests/agents/pool_agent.sh" --tag a1 --workers 2 --max-experiments 4 $FAST --gate strict \
    --retry-delay 0.1 > $TMP/out.txt 2>&1
check "loop exits 0 with 4 experiments, each id once" bash -c \
    "test $? -eq 0 && test \$(tail -n +2 results.tsv | wc -l) -eq 4 && $(declare -f ids_once); ids_once"
check "each call ran in the experiment's own worktree" bash -c \
    "test \$(cat $POOL_AGENT_DIR/cwd.* | grep -c '/.git/autoresearch/worktrees/a1-[0-9]*\$') -eq \$(ls $POOL_AGENT_DIR/cwd.* | wc -l)"
check "the prompt lists the experiment in flight" grep -q '^- a1-2: MATRIX_LR 0.03 (commit' $POOL_AGENT_DIR/prompt.2
check "the same change proposed again is not dispatched (an agent failure)" bash -c \
    "grep '\"kind\": \"agent_error\"' results.jsonl | grep -q 'already dispatched in this session' &&
     test \$(grep -c '\"description\": \"MATRIX_LR 0.03\"' results.jsonl) -eq 1"
check "branch head is the best" head_is_best
check "cleaned up" cleaned

echo "== local: a change that beats a best it was not run off is rebased and confirmed"
# the agent's first change (a small gain) runs while its second call waits for its result; the
# second (a large gain) is thus dispatched off the baseline and arrives after the first was kept
new_repo rebase
export POOL_AGENT_DIR=$TMP/agent2 POOL_AGENT_CHANGES="WARMDOWN=0.45 wait+DEPTH=5"
mkdir -p "$POOL_AGENT_DIR"
"$AR" loop --agent "$ROOT/tests/agents/pool_agent.sh" --tag r1 --workers 2 --max-experiments 3 $FAST --gate strict \
    > $TMP/out.txt 2>&1
check "loop exits 0" test $? -eq 0
reb=$(grep '"rebased_from"' results.jsonl | head -1)
new=$(echo "$reb" | grep -o '"commit": "[0-9a-f]*"' | cut -d'"' -f4)
old=$(echo "$reb" | grep -o '"rebased_from": "[0-9a-f]*"' | cut -d'"' -f4)
kept1=$(sed -n 3p results.tsv | cut -f1,4)
check "the rebased experiment is kept; its first run stays, as a run of the old commit" bash -c \
    "test -n '$new' && echo '$reb' | grep -q '\"status\": \"keep\"' &&
     grep '\"rebased_to\": \"$new\"' results.jsonl | grep -q '\"commit\": \"$old\"'"
check "the rebased commit sits on the best it was rebased onto, with both changes" bash -c \
    "test \"\$(git rev-parse --short=7 $new^)\" = '${kept1%%$'\t'*}' && test '${kept1#*$'\t'}' = keep &&
     git show $new:train.c | grep -q '^#define WARMDOWN 0.45' && git show $new:train.c | grep -q '^#define DEPTH 5'"
check "branch head is the best" head_is_best
# the same, with a second change next to the first: it no longer applies on the new best
new_repo rebase2
export POOL_AGENT_DIR=$TMP/agent3 POOL_AGENT_CHANGES="WARMDOWN=0.45 wait+MATRIX_LR=0.02"
mkdir -p "$POOL_AGENT_DIR"
"$AR" loop --agent "$ROOT/tests/agents/pool_agent.sh" --tag r2 --workers 2 --max-experiments 3 $FAST --gate strict \
    > $TMP/out.txt 2>&1
check "a better change that no longer applies on the new best is discarded, saying so" bash -c \
    "test $? -eq 0 && grep '\"id\": \"r2-3\"' results.jsonl | grep '\"status\": \"discard\"' |
     grep -q 'its change no longer applies on the current best'"

echo "== local: kill -9 mid-wave, then loop again"
new_repo kill
"$AR" loop --agent search --tag k1 --workers 2 --threads-per-worker 1 --max-experiments 3 $SLOW --gate strict \
    > $TMP/out1.txt 2>&1 &
pid=$!
wait_for 60 two_running
cpus() { grep Cpus_allowed_list /proc/$(slot_id $1 | cut -d: -f2)/status | cut -f2; }
check "each local worker is pinned to its slot's core" bash -c "test '$(cpus 0)' = 0 && test '$(cpus 1)' = $((1 % $(nproc)))"
"$AR" status > $TMP/st.txt 2>&1
check "status shows each slot: experiment, job id, state, elapsed" bash -c \
    "grep -qE '^slot 0 .* job local:[0-9]+, running for [0-9]+s' $TMP/st.txt && grep -qE '^slot 1 .* job local:[0-9]+, running for' $TMP/st.txt"
kill -9 $pid; wait $pid 2>/dev/null
cp .git/autoresearch/pool.json $TMP/pool.json
check "the workers outlive the harness" bash -c "pgrep -f 'autoresearch[^ ]* job .*/jobs/k1-j' >/dev/null"
"$AR" status > $TMP/st.txt 2>&1
check "status says the loop is gone and the jobs wait to be adopted" grep -q 'the loop is not running' $TMP/st.txt
"$AR" run -m "meanwhile" > $TMP/run.txt 2>&1
check "one worker's run refuses while the pool's jobs are in flight" bash -c \
    "test $? -ne 0 && grep -q 'jobs of a .loop --workers. are in flight' $TMP/run.txt"
"$AR" loop --agent search --tag k1 --workers 2 --threads-per-worker 1 --max-experiments 3 $SLOW --gate strict \
    > $TMP/out2.txt 2>&1
check "the next loop adopts them and finishes" bash -c "test $? -eq 0 && grep -q 'adopting' $TMP/out2.txt"
check "nothing lost: every experiment and job in flight at the kill is recorded" bash -c \
    "for j in \$(grep -o '\"name\": \"[^\"]*\"' $TMP/pool.json | cut -d'\"' -f4); do grep -q \"\\\"job\\\": \\\"\$j\\\"\" results.jsonl || exit 1; done
     for e in \$(grep '\"kind\": \"exp\"' $TMP/pool.json | grep -o '\"id\": \"[^\"]*\"' | cut -d'\"' -f4); do grep -q \"\\\"id\\\": \\\"\$e\\\"\" results.jsonl || exit 1; done"
check "nothing twice: 3 experiments, each id and job once" bash -c \
    "test \$(tail -n +2 results.tsv | wc -l) -eq 3 && $(declare -f ids_once jobs_once); ids_once && jobs_once"
check "branch head is the best" head_is_best
check "cleaned up after adoption" cleaned

echo "== local: Ctrl-C drains, a second cancels"
new_repo drain
"$AR" loop --agent search --tag d1 --workers 2 --max-experiments 5 $SLOW --gate strict > $TMP/out.txt 2>&1 &
pid=$!
wait_for 60 two_running
kill -INT $pid; wait $pid
check "the first Ctrl-C drains: exit 0, what ran is recorded, nothing new" bash -c \
    "grep -q 'stopped by Ctrl-C' $TMP/out.txt &&
     test \$(grep ' to slot ' $TMP/out.txt | grep -o '^\[ *[0-9]*\]' | sort -u | wc -l) -eq \$(tail -n +2 results.tsv | wc -l)"
check "cleaned up after draining" cleaned
rows=$(tail -n +2 results.tsv | wc -l)
"$AR" loop --agent search --tag d1 --workers 2 --max-experiments 5 $SLOW --gate strict > $TMP/out.txt 2>&1 &
pid=$!
wait_for 60 two_running
kill -INT $pid; sleep 0.5; kill -INT $pid; wait $pid
check "the second Ctrl-C cancels the jobs and records nothing of them" bash -c \
    "grep -qE 'cancelled [12] jobs?' $TMP/out.txt && test \$(tail -n +2 results.tsv | wc -l) -eq $rows && ! pgrep -f 'autoresearch[^ ]* job .*/jobs/d1-j'"
check "cleaned up after cancelling" cleaned

# ----------------------------------------------------------------------------
echo "== slurm: a real single-node cluster"
SLURM_DIR=$TMP/cluster
if ! start=$("$ROOT/tests/slurm/cluster.sh" start "$SLURM_DIR" 4 2>&1); then
    echo "SKIP the Slurm tests: the test cluster did not start: $start"
    SLURM_DIR=
    echo "pool.test.sh: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]; exit
fi
eval "$start"
new_repo slurm
"$AR" loop --agent search --tag s1 --executor slurm --workers 2 --threads-per-worker 1 --max-experiments 4 $FAST \
    --gate strict > $TMP/out.txt 2>&1
check "loop --executor slurm exits 0" test $? -eq 0
check "4 experiment rows, each id and job once" bash -c \
    "test \$(tail -n +2 results.tsv | wc -l) -eq 4 && $(declare -f ids_once jobs_once); ids_once && jobs_once"
check "every run names its Slurm job" bash -c "$(declare -f every_run_has_job); every_run_has_job '[0-9]'"
check "each job is in Slurm's own record of finished jobs (jobcomp)" wait_for 10 bash -c \
    "for j in \$(grep -o '\"job_id\": \"[0-9]*\"' results.jsonl | cut -d'\"' -f4); do grep -q \"^JobId=\$j .*JobState=COMPLETED\" $SLURM_DIR/jobcomp.txt || exit 1; done"
check "the jobs ran under the supervisor's sandbox" bash -c "! grep '\"kind\": \"experiment\"' results.jsonl | grep -qv '\"sandbox\": \"landlock'"
check "branch head is the best" head_is_best
check "cleaned up" cleaned

echo "== slurm: scancel, a node set down, a stuck queue, kill -9 and adoption"
new_repo slurm2
"$AR" loop --agent search --tag s2 --executor slurm --workers 2 --threads-per-worker 1 --max-experiments 4 $SLOW \
    --gate strict --queue-limit 2 > $TMP/out1.txt 2>&1 &
pid=$!
wait_for 90 bash -c "test \$(tail -n +2 results.tsv 2>/dev/null | wc -l) -ge 1"   # the baseline
wait_for 90 two_running
a=$(slot_id 0); b=$(slot_id 1)
scancel "$a"
scontrol update nodename=localhost state=down reason=pooltest
scontrol update nodename=localhost state=drain reason=pooltest 2>/dev/null
check "a job cancelled from outside is a crash with Slurm's reason" \
    wait_for 30 bash -c "$(declare -f rec_of_job); rec_of_job $a | grep -q '\"status\": \"crash\".*CANCELLED'"
check "a job on a node set down is a crash with Slurm's reason" \
    wait_for 30 bash -c "$(declare -f rec_of_job); rec_of_job $b | grep -q '\"status\": \"crash\".*NODE_FAIL'"
check "a job waiting past --queue-limit is reported by status" \
    wait_for 30 bash -c "'$AR' status | grep -q 'STUCK in the queue past 2s'"
scontrol update nodename=localhost state=resume 2>/dev/null
wait_for 60 two_running
kill -9 $pid; wait $pid 2>/dev/null
cp .git/autoresearch/pool.json $TMP/pool.json
"$AR" loop --agent search --tag s2 --executor slurm --workers 2 --threads-per-worker 1 --max-experiments 4 $SLOW \
    --gate strict > $TMP/out2.txt 2>&1
check "after kill -9 the next loop adopts the Slurm jobs and finishes" bash -c "test $? -eq 0 && grep -q adopting $TMP/out2.txt"
check "nothing lost, nothing twice" bash -c \
    "for j in \$(grep -o '\"job_id\": \"[0-9]\+\"' $TMP/pool.json | cut -d'\"' -f4); do grep -q \"\\\"job_id\\\": \\\"\$j\\\"\" results.jsonl || exit 1; done
     test \$(tail -n +2 results.tsv | wc -l) -eq 4 && $(declare -f ids_once jobs_once); ids_once && jobs_once"
check "branch head is the best" head_is_best
check "cleaned up" cleaned

echo "pool.test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

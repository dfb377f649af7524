#!/bin/bash
# pool.bench.sh -- `loop --workers`: what splitting this machine's cores costs, and the
# harness's own overhead per experiment on a simulated cluster.
#  1. Experiments per hour with 1 and with 2 local workers: the real train.c (its build in
#     each experiment's pristine copy included), a short time budget (POOL_BENCH_BUDGET s,
#     default 15), the search agent, the strict gate, on a small synthetic data set.
#  2. A simulated cluster: the tests' single-node Slurm given 32 job slots, the fake trainer of
#     the tests (a 0.2 s run), 16 workers: the loop's own line of dispatch, ingest and ledger
#     costs per job, and experiments per hour. Skipped, saying so, when Slurm cannot start.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export TMP=$(mktemp -d /tmp/pool-bench.XXXXXX)
SLURM_DIR=
trap '[ -n "$SLURM_DIR" ] && "$ROOT/tests/slurm/cluster.sh" stop "$SLURM_DIR"; rm -rf "$TMP"' EXIT
cp "$ROOT/autoresearch" "$TMP/autoresearch"   # a rebuild meanwhile must not change the binary under test
AR=$TMP/autoresearch
. tests/harness_lib.sh
budget=${POOL_BENCH_BUDGET:-15}
n=${POOL_BENCH_EXPERIMENTS:-5}

rate() {   # rate LOG SECONDS: experiments recorded per hour, and the runs' mean tokens/s
    local rows=$(tail -n +2 results.tsv | wc -l)
    local tps=$(grep '"kind": "experiment"' results.jsonl | grep -o '"tokens_per_sec": [0-9.]*' |
                awk '{ s += $2; k++ } END { if (k) printf "%.0f", s / k; else print "?" }')
    awk -v r="$rows" -v s="$2" -v t="$tps" 'BEGIN { printf "%d experiments in %.0f s: %.1f experiments/hour, %s tokens/s per run\n", r, s, 3600 * r / s, t }'
}

echo "-- local workers: the real train.c, time budget $budget s, $n experiments (baseline included)"
for w in 1 2; do
    rm -rf "$TMP/real$w"
    git clone -q "$ROOT" "$TMP/real$w" && cd "$TMP/real$w" || exit 1
    git config user.name bench && git config user.email bench@example.com
    printf '/build/\n/run.log\n/results.tsv\n/results.jsonl\n/report/\n/autoresearch\n' >> .git/info/exclude
    t0=$(date +%s.%N)
    "$AR" loop --agent search --tag b$w --workers $w --max-experiments $n --gate strict --budget $budget > "$TMP/out$w.txt" 2>&1 ||
        { echo "workers $w: loop failed:"; tail -5 "$TMP/out$w.txt"; }
    t1=$(date +%s.%N)
    printf 'workers %d: ' $w; rate "$TMP/out$w.txt" "$(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }')"
    cd "$ROOT"
done

echo "-- simulated cluster: single-node Slurm, 32 slots, fake trainer, 16 workers"
SLURM_DIR=$TMP/cluster
if ! start=$(tests/slurm/cluster.sh start "$SLURM_DIR" 32 2>&1); then
    echo "skipped: the test cluster did not start: $start"
    SLURM_DIR=
    exit 0
fi
eval "$start"
new_repo sim
t0=$(date +%s.%N)
"$AR" loop --agent search --tag sim --executor slurm --workers 16 --threads-per-worker 1 --max-experiments 64 \
    --budget-mode tokens --budget 2000 --gate strict > "$TMP/sim.txt" 2>&1 || { echo "loop failed:"; tail -5 "$TMP/sim.txt"; }
t1=$(date +%s.%N)
grep 'harness overhead' "$TMP/sim.txt"
rate "$TMP/sim.txt" "$(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }')"
echo "(a run of the fake trainer trains 0.2 s; Slurm's scheduler starts jobs once a second here: sched_interval=1)"

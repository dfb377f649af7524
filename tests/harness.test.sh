#!/bin/bash
# harness.test.sh -- end-to-end tests of `autoresearch run / loop / noise / status / report` in
# scratch git repositories (never this one's git state). train.c there is
# tests/agents/fake_train.c, built by tests/agents/fake.mk against this checkout's client
# library: it runs under the real supervisor (sandbox, rows, budget, evaluation) on a tiny
# synthetic data set with a short evaluation, in a fraction of a second, so every
# path of the loop (keep, discard, crash, timeout, NaN, invalid change, agent failure,
# kill -9 and resume) runs in seconds. Set AR to test another binary (default ./autoresearch).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
AGENT=$ROOT/tests/agents/scripted.sh
export TMP=$(mktemp -d /tmp/harness-test.XXXXXX)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT
. tests/harness_lib.sh
rows() { tail -n +2 results.tsv | wc -l; }                        # data rows of results.tsv
my_trains() {   # trainer processes of this scratch repository (built in its pristine copy)
    pgrep -f "^$PWD/.*build/train( |\$)"
}
last_test() { grep -o '"test_bpb": [0-9.]*' .git/autoresearch/test.jsonl | tail -1 | cut -d' ' -f2; }
last_val() { tail -1 results.jsonl | grep -o '"val_bpb": [0-9.]*' | tail -1 | cut -d' ' -f2 | xargs printf '%.6f'; }
col() { awk -F'\t' -v c="$1" 'NR > 1 { print $c }' results.tsv; }  # one column
session_rows() { grep -c "\"session\": \"$1\"" results.jsonl; }

# ----------------------------------------------------------------------------
echo "== run: baseline, an improvement, a regression"
new_repo run
base=$(git rev-parse HEAD)
"$AR" run > $TMP/out.txt 2>&1
check "run baseline exits 0" test $? -eq 0
check "results.tsv header is the original's" \
    test "$(head -1 results.tsv)" = "$(printf 'commit\tval_bpb\tmemory_gb\tstatus\tdescription')"
check "baseline row" test "$(tail -1 results.tsv | cut -f1,2,4,5)" = "$(printf '%s\t%s\tkeep\tbaseline' "${base:0:7}" "$(last_val)")"
check "memory_gb: the trainer's peak as the supervisor measured it" bash -c "tail -1 results.tsv | cut -f3 | grep -qE '^[0-9]+\.[0-9]$'"
export test0=$(last_test)
check "one experiment line to the terminal, then the baseline's noise runs" bash -c \
    "test \$(grep -c '^\[' $TMP/out.txt) -eq 1 && test \$(grep -c '^noise [2-8]/8' $TMP/out.txt) -eq 7"
check "sprt: the baseline is 8 runs, its estimate recorded" bash -c \
    "test \$(grep -c '\"kind\": \"noise\"' results.jsonl) -eq 7 && tail -1 results.jsonl | grep -q '\"est_runs\": 8' &&
     tail -1 results.jsonl | grep -q '\"est_val_bpb\": [0-9]'"
check "jsonl: hashes, times, budget, data set, sandbox; test_bpb only in the test ledger" bash -c \
    'tail -1 results.jsonl | grep -q "\"fixed_sha256\": \"[0-9a-f]\{64\}\"" &&
     tail -1 results.jsonl | grep -q "\"train_sha256\": \"[0-9a-f]\{64\}\"" &&
     tail -1 results.jsonl | grep -q "\"start_time\": \"20" && tail -1 results.jsonl | grep -q "\"end_time\"" &&
     tail -1 results.jsonl | grep -q "\"budget_mode\": \"time\"" && tail -1 results.jsonl | grep -q "\"dataset\": \"synthetic-" &&
     tail -1 results.jsonl | grep -q "\"sandbox\": \"landlock+seccomp" && ! grep -q test_bpb results.jsonl &&
     test -n "$test0" && tail -1 results.jsonl | grep -q "\"num_steps\": 100,"'
sed -i 's/^#define MATRIX_LR 0.04 /#define MATRIX_LR 0.03 /' train.c
"$AR" run -m "lower lr" --budget-mode tokens --budget 1000 > /dev/null 2>&1
check "improvement is kept and committed" test "$(tail -1 results.tsv | cut -f4,5)" = "$(printf 'keep\tlower lr')"
check "HEAD is the kept commit" test "$(git log -1 --format=%s)" = "lower lr"
check "budget mode reaches train.c" bash -c 'tail -1 results.jsonl | grep -q "\"budget\": \"tokens "'
kept=$(git rev-parse HEAD)
sed -i 's/^#define MATRIX_LR 0.03 /#define MATRIX_LR 0.08 /' train.c
"$AR" run -m "higher lr" > /dev/null 2>&1
check "regression is discarded" test "$(tail -1 results.tsv | cut -f4)" = discard
check "branch reset to the best" test "$(git rev-parse HEAD)" = "$kept"
check "working tree clean after reset" test -z "$(git status --porcelain)"
# a kill after the row was written but before the reset: the next command finishes the reset
discarded=$(tail -1 results.jsonl | grep -o '"commit": "[0-9a-f]*"' | cut -d'"' -f4)
git reset -q --hard "$discarded"
tail -1 results.jsonl > .git/autoresearch/running.json
"$AR" status > $TMP/st.txt 2>&1
check "status shows the interrupted experiment" grep -q "^interrupted main-3" $TMP/st.txt
"$AR" run -m "again" > /dev/null 2>&1
check "resume completes the reset, no duplicate row" bash -c \
    "test \$(grep -c '\"id\": \"main-3\"' results.jsonl) -eq 1 && test \"\$(tail -1 results.tsv | cut -c1-7)\" = \"${kept:0:7}\" &&
     test ! -e .git/autoresearch/running.json"
echo "// x" >> fixed/prepare.h
"$AR" run -m "cheat" > /dev/null 2>&1
check "run refuses a changed fixed file (exit 4)" test $? -eq 4
check "invalid row logged" test "$(tail -1 results.tsv | cut -f4)" = invalid
git checkout -q -- fixed/prepare.h

# ----------------------------------------------------------------------------
echo "== malformed results.tsv is reported, not rewritten"
cp results.tsv $TMP/good.tsv
sed -i '3s/\tkeep\t/\tkept\t/' results.tsv
cp results.tsv $TMP/bad.tsv
"$AR" run > $TMP/out.txt 2>&1
check "run fails on a malformed results.tsv" test $? -ne 0
check "error names file and line" grep -q "results.tsv:3: malformed row" $TMP/out.txt
check "malformed file untouched" cmp -s results.tsv $TMP/bad.tsv
cp $TMP/good.tsv results.tsv
sed -i '$d' results.tsv   # as if killed between the .jsonl and the .tsv append
"$AR" status > /dev/null 2>&1
check "status does not write results.tsv" test "$(rows)" -eq 4
"$AR" run > /dev/null 2>&1
check "a missing last row is re-derived from results.jsonl" bash -c \
    "head -6 results.tsv | cmp -s - $TMP/good.tsv && test \$(tail -n +2 results.tsv | wc -l) -eq 6"
rm -f $TMP/good.tsv $TMP/bad.tsv $TMP/out.txt

# ----------------------------------------------------------------------------
echo "== loop --agent search"
new_repo search
"$AR" loop --agent search --tag s1 --max-experiments 10 > $TMP/out.txt 2>&1
check "loop exits 0" test $? -eq 0
check "10 rows" test "$(rows)" -eq 10
check "first experiment is the baseline" test "$(sed -n 2p results.tsv | cut -f4,5)" = "$(printf 'keep\tbaseline')"
check "on branch autoresearch/s1" test "$(git symbolic-ref --short HEAD)" = autoresearch/s1
best=$(awk -F'\t' 'NR > 1 && $4 == "keep" { c = $1 } END { print c }' results.tsv)
check "branch head is the best kept commit" test "$(git rev-parse --short=7 HEAD)" = "$best"
check "search improved on the baseline" test "$(col 4 | grep -c keep)" -ge 2
ok=1
for c in $(awk -F'\t' 'NR > 1 && $4 != "keep" { print $1 }' results.tsv); do
    git merge-base --is-ancestor "$c" HEAD 2>/dev/null && ok=0
done
check "discarded commits are not on the branch" test $ok -eq 1
ok=1
for c in $(awk -F'\t' 'NR > 1 && $4 == "keep" { print $1 }' results.tsv); do
    git merge-base --is-ancestor "$c" HEAD || ok=0
done
check "kept commits are all on the branch" test $ok -eq 1
check "descriptions name the mutation" bash -c "tail -n +3 results.tsv | cut -f5 | grep -qE '^[A-Z_]+ [0-9.e-]+ -> [0-9.e-]+$'"
check "one line per experiment" test "$(grep -c '^\[' $TMP/out.txt)" -eq 10
"$AR" loop --agent search --tag s1 --max-experiments 13 > $TMP/out.txt 2>&1
check "re-running the loop resumes the session" bash -c "grep -q 'resuming session s1' $TMP/out.txt && test \$(tail -n +2 results.tsv | wc -l) -eq 13"
check "no baseline again on resume" test "$(col 5 | grep -c '^baseline$')" -eq 1
"$AR" loop --agent search --tag s2 --until +0s > $TMP/out.txt 2>&1
check "--until stops after the baseline" bash -c "grep -q 'reached --until' $TMP/out.txt && test \$(tail -n +2 results.tsv | wc -l) -eq 14"
git checkout -q autoresearch/s1
"$AR" status --json > $TMP/st.json
check "status --json" bash -c 'grep -q "\"experiments\": 13" $TMP/st.json && grep -q "\"running\": false" $TMP/st.json && grep -q "\"best_commit\"" $TMP/st.json'
"$AR" status > $TMP/st.txt
check "status text" bash -c "grep -q '^best       val_bpb' $TMP/st.txt && grep -q 'experiments 13' $TMP/st.txt"
check "status names the sandbox" grep -q '^sandbox    landlock+seccomp (landlock abi [0-9]*), private /proc (all [0-9]* runs)' $TMP/st.txt
# on a data set with an entropy floor (the synthetic source the fake trains on), status and
# report show the gap to it
AUTORESEARCH_CACHE=$TMP/cache "$AR" status > $TMP/st.txt
check "status shows the gap to the floor" grep -qE "^floor      entropy 0\.[0-9]{6}: best \+[0-9]+\.[0-9]+ above it; the session removed [0-9.]+% of the baseline's excess" $TMP/st.txt
AUTORESEARCH_CACHE=$TMP/cache "$AR" report > /dev/null 2>&1
check "report shows the gap to the floor" grep -qE "Entropy floor of the synthetic source 0\.[0-9]{6}: the best is \+[0-9]+\.[0-9]+ above it" report/report.md
"$AR" report > $TMP/out.txt 2>&1
check "report writes md, png, svg" bash -c 'test -s report/report.md && test -s report/progress.svg &&
    head -c 8 report/progress.png | od -An -tx1 | tr -d " \n" | grep -q 89504e470d0a1a0a'
check "report lists every experiment, and the kept ones with val and test" bash -c \
    "test \$(sed -n '/^## Experiments/,/^## /p' report/report.md | grep -c '^| [0-9]') -eq 13 &&
     grep -q '^| # | commit | description | val_bpb | Δ val | effect (95% CI) | test_bpb | Δ test |' report/report.md"
t=$(last_test)
check "results.tsv and results.jsonl carry val_bpb, never test_bpb" bash -c "test -n '$t' && ! grep -q '$t' results.tsv results.jsonl"

# ----------------------------------------------------------------------------
echo "== loop with scripted agents: invalid, crash, timeout, NaN, agent failures"
# (the sections on the loop's mechanics use --gate strict, one run per experiment as in the
# original; the default sprt gate has its own section below)
new_repo scripted
printf 'tamper\nnewfile\nbreak\nhang\nnan\nnoop\nfail\nsleep\ncommit:0.025\nquiet:0.05\n' > "$TMP/actions"
SCRIPT_ACTIONS=$TMP/actions "$AR" loop --agent "$AGENT" --tag a1 --gate strict --max-experiments 8 --timeout 2 \
    --agent-timeout 4 --retry-delay 0.05 --max-agent-failures 4 > $TMP/out.txt 2>&1
check "loop exits 0" test $? -eq 0
check "statuses in order" test "$(col 4 | tr '\n' ' ')" = "keep invalid invalid crash crash crash keep discard "
check "a prompt's template echoed by the agent is no description" test "$(tail -1 results.tsv | cut -f5)" = "(no description)"
check "fixed-file edit rejected and reverted" bash -c "test \"\$(cat fixed/prepare.h)\" = '// the fixed layer'"
check "invalid rows name the file" bash -c "sed -n 3p results.tsv | grep -q 'changed fixed/prepare.h'"
check "new untracked file rejected and removed" bash -c "sed -n 4p results.tsv | grep -q 'changed helper.h' && test ! -e helper.h"
check "compile error is a crash, its text in run.log" bash -c \
    "sed -n 5p results.tsv | grep -q '0.000000	0.0	crash	broken syntax' && grep -q '\"reason\": \"build failed\"' results.jsonl"
check "hang is a timeout crash" bash -c "sed -n 6p results.tsv | cut -f5 | grep -qx 'infinite loop' && grep -q '\"reason\": \"timeout after 2 s\"' results.jsonl"
check "NaN is a crash" bash -c "grep -q '\"reason\": \"FAIL (diverged)\"' results.jsonl"
check "agent failures logged, not rows" test "$(grep -c '"kind": "agent_error"' results.jsonl)" -eq 3
check "agent failure reasons" bash -c "grep -q 'agent exited without changing train.c' results.jsonl &&
    grep -q 'agent exited with code 3' results.jsonl && grep -q 'agent timed out after 4 s' results.jsonl"
check "an agent's own commit is folded in and kept" bash -c \
    "test \"\$(git log -1 --format=%s)\" = 'committed MATRIX_LR 0.025' && test \$(git rev-list --count HEAD) -eq 2"
check "crashed and hung trains leave no process" test -z "$(my_trains)"
check "the prompt carries program.md and recent results" bash -c \
    "grep -q '^# program' '$TMP/actions.prompt.3' && grep -q 'invalid: changed fixed/prepare.h' '$TMP/actions.prompt.3'"
check "the prompt shows the crash log" grep -q "The last experiment crashed (build failed)" "$TMP/actions.prompt.4"
check "the crash excerpt: the compiler's errors first, the log marked untrusted" bash -c \
    "grep -q '^Diagnosis (from the harness and the supervisor; trusted): build failed' '$TMP/actions.prompt.4' &&
     grep -q 'error:' '$TMP/actions.prompt.4' && grep -q '^<<<BEGIN UNTRUSTED TRAINER OUTPUT>>>' '$TMP/actions.prompt.4'"
t=$(last_test)
check "the prompt never shows test_bpb" bash -c "test -n '$t' && ! grep -qi 'test_bpb\|$t' $TMP/actions.prompt.*"
check "working tree clean" test -z "$(git status --porcelain)"

echo "== agents that leave the branch or touch the ledger"
new_repo rogue
printf 'branch\nwait\nledger\n' > "$TMP/ractions"
SCRIPT_ACTIONS=$TMP/ractions "$AR" loop --agent "$AGENT" --tag r1 --gate strict --max-agent-failures 3 --retry-delay 0.05 \
    > $TMP/out.txt 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    [ -f .git/autoresearch/agent.json ] && [ "$(cat "$TMP/ractions.n" 2>/dev/null)" = 2 ] && break
    sleep 0.05
done
"$AR" status > $TMP/st.txt 2>&1
check "status shows the agent at work" grep -q "^running    the agent, on experiment 2" $TMP/st.txt
wait $pid
check "the loop goes on after an agent tampered with the ledger" test $? -eq 0
check "branch switch is an agent failure, back on the session's branch" bash -c \
    "grep -q 'agent switched branches' results.jsonl && test \"\$(git symbolic-ref --short HEAD)\" = autoresearch/r1"
check "the tampering is an invalid row that says so" bash -c \
    "grep -q 'the agent changed results.tsv (restored' results.jsonl && test \"\$(tail -1 results.tsv | cut -f4)\" = invalid"
check "the slow agent's experiment was kept" bash -c "grep '\"description\": \"slow agent\"' results.jsonl | grep -q '\"status\": \"keep\"'"
check "the ledger is as the harness wrote it: no fake row, the next command runs" bash -c \
    "! grep -q fake results.tsv && '$AR' run > $TMP/out.txt 2>&1"

echo "== loop --agent-sandbox: no reads of the test ledger, no writes outside"
new_repo jail
mkdir -p $TMP/allowed
printf 'peek\n' > "$TMP/allowed/pactions"
"$AR" run > /dev/null 2>&1   # a baseline, so the test ledger has a row
SCRIPT_ACTIONS=$TMP/allowed/pactions PEEK_DIR=$TMP/allowed PEEK_OUTSIDE=$TMP/outside.txt "$AR" loop --agent "$AGENT" \
    --agent-sandbox --agent-allow $TMP/allowed --tag j1 --max-experiments 2 --max-agent-failures 1 > $TMP/out.txt 2>&1
check "the sandboxed agent's experiment ran" test "$(col 5 | tail -1)" = peek
check "the test ledger reads as empty to it" bash -c "test -s .git/autoresearch/test.jsonl && test -e $TMP/allowed/peek.txt && ! test -s $TMP/allowed/peek.txt"
check "it cannot write outside the work tree and --agent-allow" test ! -e $TMP/outside.txt
printf 'peek\n' > "$TMP/allowed/pactions"; rm -f "$TMP/allowed/pactions.n"
SCRIPT_ACTIONS=$TMP/allowed/pactions PEEK_DIR=$TMP/allowed PEEK_OUTSIDE=$TMP/outside.txt "$AR" loop --agent "$AGENT" \
    --tag j2 --max-experiments 2 --max-agent-failures 1 > $TMP/out.txt 2>&1
check "without --agent-sandbox the agent reads it (documented)" grep -q test_bpb $TMP/allowed/peek.txt
# --agent-net: TCP connections only to the ports named (nothing listens on either: "refused"
# is the kernel's answer for an allowed port, "denied" Landlock's)
printf 'net:1,2\n' > "$TMP/allowed/pactions"; rm -f "$TMP/allowed/pactions.n"
SCRIPT_ACTIONS=$TMP/allowed/pactions PEEK_DIR=$TMP/allowed "$AR" loop --agent "$AGENT" --agent-sandbox --agent-net 1 \
    --agent-allow $TMP/allowed --tag j3 --max-experiments 2 --max-agent-failures 1 > $TMP/out.txt 2>&1
check "--agent-net 1: port 1 reachable, port 2 denied" test "$(cat $TMP/allowed/net.txt | tr '\n' ' ')" = "1 refused 2 denied "
printf 'net:1,2\n' > "$TMP/allowed/pactions"; rm -f "$TMP/allowed/pactions.n"
SCRIPT_ACTIONS=$TMP/allowed/pactions PEEK_DIR=$TMP/allowed "$AR" loop --agent "$AGENT" --agent-sandbox \
    --agent-allow $TMP/allowed --tag j4 --max-experiments 2 --max-agent-failures 1 > $TMP/out.txt 2>&1
check "without --agent-net the sandboxed agent's network is open" test "$(cat $TMP/allowed/net.txt | tr '\n' ' ')" = "1 refused 2 refused "
"$AR" loop --agent "$AGENT" --agent-net none --tag j5 --max-experiments 1 > $TMP/out.txt 2>&1
check "--agent-net without --agent-sandbox is refused" grep -q "agent-net needs --agent-sandbox" $TMP/out.txt

# ----------------------------------------------------------------------------
echo "== kill -9 in the middle of an experiment, then resume"
new_repo kill
printf 'slow\nlr:0.03\nlr:0.025\n' > "$TMP/kactions"
SCRIPT_ACTIONS=$TMP/kactions "$AR" loop --agent "$AGENT" --tag k1 --gate strict --max-experiments 4 --max-agent-failures 2 --retry-delay 0.05 > $TMP/out1.txt 2>&1 &
pid=$!
for _ in $(seq 1 600); do   # wait until experiment 2 (slow) is training
    grep -q '"n": 2' .git/autoresearch/running.json 2>/dev/null && [ -n "$(my_trains)" ] && break
    sleep 0.05
done
"$AR" status > $TMP/st.txt 2>&1
check "status shows the running experiment" bash -c "grep -q '^running    k1-2 for' $TMP/st.txt"
{ kill -9 $pid; wait $pid; } 2>/dev/null
sleep 0.3
check "the training run died with the harness" test -z "$(my_trains)"
check "nothing recorded for the killed experiment" test "$(rows)" -eq 1
SCRIPT_ACTIONS=$TMP/kactions "$AR" loop --agent "$AGENT" --tag k1 --gate strict --max-experiments 4 --max-agent-failures 2 --retry-delay 0.05 > $TMP/out2.txt 2>&1
check "resume finishes the interrupted experiment" grep -q "resuming experiment k1-2" $TMP/out2.txt
check "4 rows, no duplicates" bash -c "test \$(tail -n +2 results.tsv | wc -l) -eq 4 &&
    test \$(grep -o '\"id\": \"k1-[0-9]*\"' results.jsonl | sort | uniq -d | wc -l) -eq 0"
check "slow run recorded once" test "$(col 5 | grep -c 'slow run')" -eq 1
check "tsv and jsonl agree" test "$(grep -c '"kind": "experiment"' results.jsonl)" -eq 4
best=$(awk -F'\t' 'NR > 1 && $4 == "keep" { c = $1 } END { print c }' results.tsv)
check "branch head is the best after resume" test "$(git rev-parse --short=7 HEAD)" = "$best"

# ----------------------------------------------------------------------------
echo "== Ctrl-C: a clean stop after the current experiment"
new_repo int
printf 'slow\nlr:0.03\n' > "$TMP/iactions"
SCRIPT_ACTIONS=$TMP/iactions "$AR" loop --agent "$AGENT" --tag i1 --gate strict --max-agent-failures 2 > $TMP/out.txt 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    grep -q '"n": 2' .git/autoresearch/running.json 2>/dev/null && [ -n "$(my_trains)" ] && break
    sleep 0.05
done
kill -INT $pid
wait $pid
check "loop exits 0 on Ctrl-C" test $? -eq 0
check "the running experiment was finished and logged" test "$(col 5 | tr '\n' ' ')" = "baseline slow run "
check "says why it stopped" grep -q "^loop: stopped by Ctrl-C" $TMP/out.txt
check "branch at the best, tree clean" bash -c "test -z \"\$(git status --porcelain)\" && test \$(git rev-list --count HEAD) -eq 1"

# ----------------------------------------------------------------------------
echo "== noise and the noise gate"
new_repo noise
"$AR" noise --runs 3 > $TMP/out.txt 2>&1
check "noise exits 0" test $? -eq 0
check "3 noise records, no tsv rows" bash -c "test \$(grep -c '\"kind\": \"noise\"' results.jsonl) -eq 3 && test \$(tail -n +2 results.tsv | wc -l) -eq 0"
check "seeds 1..3" bash -c "grep -c '\"seed\": [123],' results.jsonl | grep -qx 3"
check "sigma reported" grep -qE "^noise: 3 runs, val_bpb mean [0-9]\.[0-9]+, sigma 0\.00[0-9]+" $TMP/out.txt
check "sigma saved for the session" bash -c "grep -qE '\"sigma\": [0-9.e-]+' .git/autoresearch/sessions/main.json &&
    ! grep -q '\"sigma\": 0,' .git/autoresearch/sessions/main.json"
"$AR" run > /dev/null 2>&1
sed -i 's/^#define MATRIX_LR 0.04 /#define MATRIX_LR 0.03999 /' train.c
"$AR" run -m "tiny lr change" --gate strict > /dev/null 2>&1
check "strict gate keeps a tiny improvement" test "$(tail -1 results.tsv | cut -f4)" = keep
sed -i 's/? atol(s) : 42;/? atol(s) : 45;/' train.c
"$AR" run -m "seed 45" > /dev/null 2>&1
check "seed-only change flagged" bash -c 'tail -1 results.jsonl | grep -q "\"seed_only\": true"'
"$AR" report > /dev/null 2>&1
check "report: seed-only changes called out" grep -q "changed only a seed" report/report.md

new_repo gate
printf 'lr:0.03999\nlr:0.03\n' > "$TMP/gactions"
SCRIPT_ACTIONS=$TMP/gactions "$AR" loop --agent "$AGENT" --tag g1 --gate noise --noise-runs 3 \
    --max-experiments 3 --max-agent-failures 2 --retry-delay 0.05 > $TMP/out.txt 2>&1
check "loop measures noise first for the gate" bash -c "grep -q 'measuring noise' $TMP/out.txt &&
    test \$(grep -c '\"kind\": \"noise\"' results.jsonl) -eq 3"
check "noise gate: tiny gain discarded, large gain kept" test "$(col 4 | tr '\n' ' ')" = "keep discard keep "
check "gate threshold recorded" bash -c "tail -1 results.jsonl | grep -q '\"gate\": \"noise\"'"

# ----------------------------------------------------------------------------
echo "== the sprt gate: comment-only changes never kept, a real gain kept with its interval"
new_repo sprt
printf 'comment:1\ncomment:2\ncomment:3\ncomment:4\nlr:0.035\nseed:45\ncomment:5\n' > "$TMP/pactions"
SCRIPT_ACTIONS=$TMP/pactions "$AR" loop --agent "$AGENT" --tag p1 --max-experiments 8 --rebaseline-every 4 \
    --max-agent-failures 2 --retry-delay 0.05 > $TMP/out.txt 2>&1
check "loop exits 0" test $? -eq 0
check "statuses: no comment-only change kept, the lr change kept" \
    test "$(col 4 | tr '\n' ' ')" = "keep discard discard discard discard keep discard discard "
kept=$(grep '"description": "set MATRIX_LR to 0.035"' results.jsonl)
check "a keep records its effect and interval (positive = better)" bash -c \
    "echo '$kept' | grep -qE '\"effect\": 0\.0[0-9]' && echo '$kept' | grep -qE '\"effect_lo\": 0\.0[0-9]' &&
     echo '$kept' | grep -q '\"effect_hi\"' && echo '$kept' | grep -q '\"gate_reason\": \"better\"'"
check "every decision records the candidate's estimate" test \
    "$(grep '"kind": "experiment"' results.jsonl | grep -c '"est_val_bpb".*"est_runs"\|"est_runs".*"est_val_bpb"')" -eq 8
check "confirmation runs are records of the experiment's commit" bash -c "grep '\"kind\": \"confirm\"' results.jsonl |
    while read -r l; do id=\$(echo \"\$l\" | grep -o '\"experiment_id\": \"[^\"]*\"' | cut -d'\"' -f4);
        c=\$(echo \"\$l\" | grep -o '\"commit\": \"[^\"]*\"' | cut -d'\"' -f4);
        grep '\"kind\": \"experiment\"' results.jsonl | grep \"\\\"id\\\": \\\"\$id\\\"\" | grep -q \"\$c\" || exit 1; done"
check "confirmation runs use new seeds" bash -c "test \$(grep '\"kind\": \"confirm\"' results.jsonl | grep -o '\"commit\": \"[^\"]*\".*\"seed\": [0-9]*' | sed 's/\"description.*\"seed\"/ /' | sort | uniq -d | wc -l) -eq 0"
check "a rebaseline run of the best after experiment 4" bash -c \
    "grep '\"kind\": \"rebaseline\"' results.jsonl | grep -q '\"after_experiments\": 4' &&
     grep '\"kind\": \"rebaseline\"' results.jsonl | grep -q '\"drift\": false'"
check "seed-only change still flagged" bash -c "grep '\"description\": \"seed 45\"' results.jsonl | grep -q '\"seed_only\": true'"
# every field of every kind of record is harness.h's LEDGER_FIELDS, or a line of train.c's summary
known=$( (grep -o '^    X([a-z_0-9]*' "$ROOT/harness/harness.h" | cut -c7-; sed -n '/^---$/,$p' run.log |
    grep -o '^[A-Za-z_0-9]*:' | tr -d :) | sort -u)
undocumented=$(grep -o '"[A-Za-z_0-9]*": ' results.jsonl | tr -d '": ' | sort -u | grep -v '^summary_' | grep -vxF "$known")
check "every ledger field is in LEDGER_FIELDS (or train.c's summary)" test -z "$undocumented" -a "$(echo "$known" | wc -l)" -gt 80
"$AR" status > $TMP/st.txt
check "status: estimates, interval, confirmation runs" bash -c "grep -qE '^best       val_bpb [0-9.]+ \+- [0-9.]+ \([0-9]+ runs?\)' $TMP/st.txt &&
    grep -q 'improvement 0.0[0-9]*, 95% interval \[0.0' $TMP/st.txt && grep -qE '^runs .* [1-9][0-9]* confirmation, 1 rebaseline' $TMP/st.txt"
"$AR" report > /dev/null 2>&1
check "report: total improvement with its interval, runs on confirmation" bash -c \
    "grep -q 'total improvement 0.0[0-9]*, 95% interval \[' report/report.md && grep -qE '[0-9]+ of them confirmation runs' report/report.md"
# a throttled machine: the best, re-run, trains 20% fewer tokens
printf 'comment:6\ncomment:7\n' > "$TMP/pactions2"
FAKE_THROTTLE=0.8 SCRIPT_ACTIONS=$TMP/pactions2 "$AR" loop --agent "$AGENT" --tag p1 --max-experiments 9 --max-agent-failures 2 \
    --retry-delay 0.05 > $TMP/out.txt 2>&1
check "drift detected at the rebaseline" bash -c "grep -q 'drift: tokens trained per run -20%' $TMP/out.txt"
"$AR" status > $TMP/st.txt
"$AR" report > /dev/null 2>&1
check "status and report say so" bash -c "grep -q '^drift      detected 1 time' $TMP/st.txt && grep -q 'Drift detected 1 time' report/report.md"

# ----------------------------------------------------------------------------
echo "== help"
for c in run loop noise status report; do
    check "$c --help" bash -c "'$AR' $c --help | grep -q '^usage: autoresearch $c'"
done

echo "harness.test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

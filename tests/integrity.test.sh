#!/bin/bash
# integrity.test.sh -- the harness against a hostile agent and a faulty machine. Each hole is
# tried as a scripted agent (tests/agents/hostile.sh) or a fault, in scratch repositories whose
# train.c is tests/agents/fake_train.c linked against a one-function "fixed layer"
# (tests/agents/fake_lib.mk), which the fake trainer passes its penalty through: every score
# cheat makes it subtract 0.5, which removes the penalty, so a val_bpb well under the best
# honest one (measured first, in a reference repository) in the ledger is a cheat that got in.
# Each must end rejected or reported with a clear reason.
# (every session here uses --gate strict: one run per experiment, so the ledger's lines are
# the ones the checks count; the sequential gate is tested in harness.test.sh)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
AGENT=$ROOT/tests/agents/hostile.sh
export TMP=$(mktemp -d /tmp/integrity-test.XXXXXX)
trap "${KEEP_TMP:+:} rm -rf \"\$TMP\"" EXIT
export AUTORESEARCH_CACHE=$TMP/cache   # no data set unless a test prepares one
. tests/harness_lib.sh   # $AR (the harness, under ASan + UBSan after `make test`) and check
col() { awk -F'\t' -v c="$1" 'NR > 1 { print $c }' results.tsv; }
no_cheat() { ! awk -F'\t' -v t="$CHEAT_BELOW" 'NR > 1 && ($4 == "keep" || $4 == "discard") && $2 < t { bad = 1 } END { exit !bad }' results.tsv; }
honest_fixed() { test "$(cat fixed/score.c)" = 'double fixed_score(double v) { return v; }'; }
export -f col no_cheat honest_fixed

new_repo() {
    scratch_repo "$1" fake_lib.mk
    echo 'double fixed_score(double v) { return v; }' > fixed/score.c
    git add -A && git commit -qm "project"
}
set_lr() { sed -i -E "s/^#define MATRIX_LR [0-9.e-]+/#define MATRIX_LR $1/" train.c; }
last_bpb() { tail -1 results.tsv | cut -f2; }

# ----------------------------------------------------------------------------
echo "== reference: honest values, and what a cheat gives"
new_repo ref
"$AR" run --gate strict -m "lr 0.04" > /dev/null 2>&1; V04=$(last_bpb)
set_lr 0.03; "$AR" run --gate strict -m "lr 0.03" > /dev/null 2>&1; V03=$(last_bpb)
set_lr 0.02; "$AR" run --gate strict -m "lr 0.02" > /dev/null 2>&1; V02=$(last_bpb)
# lr 0.02 is the best honest model the agents can reach (DEPTH and WARMDOWN stay): penalty
# 0.402; lr 0.04 adds 0.240 to it. A cheat's penalty is 0: under V02 - (V04 - V02) (0.16).
export CHEAT_BELOW=$(awk -v a="$V02" -v b="$V04" 'BEGIN { printf "%.6f", 2 * a - b }')
check "honest values measured, lower for a better lr" \
    awk -v a="$V02" -v b="$V03" -v c="$V04" 'BEGIN { exit !(a > 0 && a < b && b < c) }'
new_repo cheat   # a project whose fixed layer itself cheats: what a cheat that got in gives
sed -i 's/return v;/return v - 0.5;/' fixed/score.c && git commit -qam "a cheating fixed layer"
set_lr 0.03; "$AR" run --gate strict -m "lr 0.03, cheating" > /dev/null 2>&1
check "a cheat is seen (the check that no cheat got in can fail)" bash -c "test \"\$(col 4)\" = keep && ! no_cheat"
loop() {   # loop TAG ACTIONS... : the hostile agent performs the actions in order
    local tag=$1; shift
    printf '%s\n' "$@" > "$TMP/$tag.actions"
    SCRIPT_ACTIONS=$TMP/$tag.actions "$AR" loop --gate strict --agent "$AGENT" --tag "$tag" --max-experiments $(($# + 1)) \
        --max-agent-failures 2 --retry-delay 0.05 > "$TMP/$tag.out" 2>&1
}

# ----------------------------------------------------------------------------
echo "== integrity from content: what git's view hides"
new_repo git
loop g1 assume skip replace gitignore exclude
check "loop exits 0" test $? -eq 0
check "every hidden change is invalid" test "$(col 4 | tr '\n' ' ')" = "keep invalid invalid invalid invalid invalid "
check "assume-unchanged, skip-worktree, replace: the file is named" \
    test "$(sed -n '3,5p' results.tsv | grep -c 'changed fixed/score.c')" -eq 3
check "self-ignoring .gitignore: both files named" bash -c "sed -n 6p results.tsv | grep -q 'fixed/evil.h' && sed -n 6p results.tsv | grep -q 'fixed/.gitignore'"
check "info/exclude: the excluded file named" bash -c "sed -n 7p results.tsv | grep -q 'changed fixed/evil.h'"
check "fixed/ restored to the base's bytes, flags cleared" bash -c \
    "test ! -e fixed/evil.h && test ! -e fixed/.gitignore && ! git ls-files -v | grep -q '^[a-zS]'"
check "fixed/score.c is the base's again" honest_fixed
check "no cheat in the ledger" no_cheat

echo "== the repository's config"
new_repo config
loop c1 hookspath fsmonitor lr:0.03
check "agent's config changes are invalid" test "$(col 4 | tr '\n' ' ')" = "keep invalid invalid keep "
check "the reason names the config" bash -c "grep -c 'the agent changed .git/config (restored)' results.jsonl | grep -qx 2"
check "config restored" bash -c "! git config core.hooksPath && ! git config core.fsmonitor"
check "the hook never ran" honest_fixed
check "no cheat in the ledger" no_cheat
git config core.fsmonitor "$PWD/monitor.sh"
"$AR" run --gate strict > "$TMP/out.txt" 2>&1
check "a repository whose config sets core.fsmonitor is refused" bash -c \
    "test $? -ne 0 && grep -q 'git config sets core.fsmonitor' $TMP/out.txt"
git config --unset core.fsmonitor

echo "== builds come from a pristine copy"
new_repo build
loop b1 prebuilt pristine lr:0.025
check "all three ran and were scored honestly" bash -c "test \"\$(col 4 | grep -c 'keep\|discard')\" -eq 4"
check "no cheat in the ledger (prebuilt build/libfixed.a never linked)" no_cheat
check "a doctored build copy is noticed and rebuilt" grep -q "changed since the harness built it: rebuilding" "$TMP/b1.out"
check "the trainer runs from the build copy" bash -c "test -x .git/autoresearch/pristine/build/train"

echo "== one snapshot: what is committed is what is compiled"
new_repo snap
"$AR" run --gate strict -m baseline > /dev/null 2>&1
sed -i -E 's/^#define MATRIX_LR [0-9.e-]+/#define MATRIX_LR 0.03/' train.c
cp train.c "$TMP/honest.c"
sed 's/^#define MATRIX_LR 0.03/#define MATRIX_LR 0.02/' train.c > "$TMP/swap.c"
before=$(git rev-parse HEAD)
(   # a process the agent left behind: swaps train.c once the harness has committed, then puts it back
    for _ in $(seq 1 1000); do [ "$(git rev-parse HEAD)" != "$before" ] && break; sleep 0.005; done
    cp "$TMP/swap.c" train.c; sleep 1; cp "$TMP/honest.c" train.c
) &
swapper=$!
"$AR" run --gate strict -m "lr 0.03" --no-reset > /dev/null 2>&1
wait $swapper
committed=$(git show HEAD:train.c | sha256sum | cut -d' ' -f1)
check "train_sha256 is the committed file's" bash -c "tail -1 results.jsonl | grep -q '\"train_sha256\": \"$committed\"'"
check "the committed lr was the one trained (val_bpb of lr 0.03, not 0.02)" bash -c \
    "tail -1 results.tsv | cut -f2 | grep -qx $V03 && test $V03 != $V02"
git checkout -q -- train.c
rm train.c && ln -s "$TMP/honest.c" train.c
"$AR" run --gate strict -m "link" > "$TMP/out.txt" 2>&1
check "train.c as a symlink is refused (exit 4)" test $? -eq 4
check "the reason says so" bash -c "tail -1 results.tsv | grep -q 'train.c (a symlink: it must be a regular file)'"
rm train.c && git checkout -q -- train.c
loop s1 symlink
check "an agent's symlinked train.c is invalid and reverted" bash -c \
    "test \"\$(tail -1 results.tsv | cut -f4)\" = invalid && test -f train.c && test ! -L train.c"

echo "== nothing outlives a call"
new_repo procs
loop p1 daemon fds lr:0.025
sleep 2   # past the moment the daemon would have forged its rows
check "the agent's daemon was killed when the agent returned" bash -c \
    "test ! -e $TMP/p1.actions.daemon && ! kill -0 \$(cat $TMP/p1.actions.daemon_pid) 2>/dev/null"
check "the harness says it killed it" grep -Eq "agent: left [0-9]+ process(es)? running after it returned; killed" "$TMP/p1.out"
check "no forged rows" bash -c "! grep -q forged results.tsv && ! grep -q '\"val_bpb\": 0.1}' results.jsonl"
check "the agent inherits no descriptor of the harness (lock, ledger)" bash -c \
    "test -s $TMP/p1.actions.fds && ! grep -q 'autoresearch/lock\|results\.' $TMP/p1.actions.fds"
check "the loop went on" test "$(col 4 | wc -l)" -eq 4

echo "== the ledger's hash chain"
new_repo ledger
loop l1 lr:0.03 ledger
check "an agent editing results.jsonl: invalid, the ledger restored, the loop goes on" bash -c \
    "test $? -eq 0 && grep -q 'the agent changed results.jsonl (restored' results.jsonl && test \$(grep -c '\"kind\": \"experiment\"' results.jsonl) -eq 3 && no_cheat"
sed -i '1s/"val_bpb": [0-9.]*/"val_bpb": 0.5/' results.jsonl   # edited between two commands
"$AR" loop --gate strict --agent "$AGENT" --tag l1 --max-experiments 6 > "$TMP/out.txt" 2>&1
check "the resumed loop refuses the edited ledger, naming the line" bash -c \
    "test $? -ne 0 && grep -q 'results.jsonl:2: the hash chain breaks here: line 1 was edited' $TMP/out.txt && grep -q 'accept-ledger' $TMP/out.txt"
"$AR" run --gate strict --accept-ledger "checked: the agent only changed a number" > "$TMP/out.txt" 2>&1
check "--accept-ledger records the acceptance and goes on" bash -c \
    "test $? -eq 0 && grep -q '\"kind\": \"ledger_accepted\"' results.jsonl && grep -q 'checked: the agent only changed a number' results.jsonl &&
     test \$(grep -c '\"kind\": \"experiment\"' results.jsonl) -eq 4"
check "results.tsv is derived again, the old one kept aside" bash -c "test -s .git/autoresearch/results.tsv.before-accept && test \$(tail -n +2 results.tsv | wc -l) -eq 4"
cp results.jsonl "$TMP/good.jsonl"
tail -1 results.jsonl >> results.jsonl
"$AR" run --gate strict > "$TMP/out.txt" 2>&1
check "an appended copy of a row is refused" bash -c "test $? -ne 0 && grep -q 'results.jsonl:6: the hash chain breaks here' $TMP/out.txt"
cp "$TMP/good.jsonl" results.jsonl
h=$(tail -1 results.jsonl | tr -d '\n' | sha256sum | cut -c1-64)
echo '{"kind": "experiment", "session": "l1", "status": "keep", "val_bpb": 0.1, "prev_sha256": "'"$h"'"}' >> results.jsonl
"$AR" run --gate strict > "$TMP/out.txt" 2>&1
check "a forged row that chains correctly is refused (the harness's head)" bash -c \
    "test $? -ne 0 && grep -q 'results.jsonl:6: lines the harness did not write (after line 5' $TMP/out.txt"
cp "$TMP/good.jsonl" results.jsonl
sed -i '$s/"val_bpb": [0-9.]*/"val_bpb": 0.5/' results.jsonl
"$AR" run --gate strict > "$TMP/out.txt" 2>&1
check "an edited last row is refused" bash -c "test $? -ne 0 && grep -q 'the last line was edited' $TMP/out.txt"
cp "$TMP/good.jsonl" results.jsonl
"$AR" run --gate strict -m again > /dev/null 2>&1
check "the restored ledger is accepted as it is" test $? -eq 0
n=$(wc -l < results.jsonl)
sha_line() { sed -n "$1p" results.jsonl | tr -d '\n' | sha256sum | cut -c1-64; }
printf '{"lines": %d, "last": "%s", "pending": "%s"}\n' $((n - 1)) "$(sha_line $((n - 1)))" "$(sha_line $n)" > .git/autoresearch/ledger.head
"$AR" run --gate strict -m "after a kill" > "$TMP/out.txt" 2>&1
check "a kill between the append and the head's update is recognised as the harness's own" bash -c \
    "test $? -eq 0 && test \$(wc -l < results.jsonl) -eq $((n + 1))"
sed -i 's/"base": "[0-9a-f]*"/"base": "0000000000000000000000000000000000000000"/' .git/autoresearch/sessions/l1.json
"$AR" run --gate strict > "$TMP/out.txt" 2>&1
check "a session file whose base disagrees with the ledger is refused" grep -q "the session file was edited" "$TMP/out.txt"

# ----------------------------------------------------------------------------
echo "== faults: the model, a full disk, temp files, a broken fixed layer"
new_repo faults
loop f1 lr:0.03 lr:0.08
check "the session's model is the best commit's weights, not the last run's" bash -c \
    "test \"\$(col 4 | tr '\n' ' ')\" = 'keep keep discard ' && head -1 .git/autoresearch/models/f1.bin | grep -q 'MATRIX_LR 0.03 '"
check "model_saved recorded" bash -c "grep -c '\"model_saved\": true' results.jsonl | grep -qx 3"
sed -i -E 's/^#define MATRIX_LR [0-9.e-]+/#define MATRIX_LR 0.025/' train.c
# a file size limit that the trainer's 1 MB of weights exceeds but the supervisor's logits
# buffer (a memfd of B*T*V floats, about 0.6 MB at vocab 300, also under the limit) does not
( ulimit -f 900; "$AR" run -m "full disk" > "$TMP/out.txt" 2>&1 )
check "a failed save is recorded as model_saved: false" bash -c \
    "tail -1 results.jsonl | grep -q '\"model_saved\": false' && tail -1 results.tsv | cut -f4 | grep -qx keep"
check "and said on the terminal" grep -q "its weights were not saved" "$TMP/out.txt"
check "the session's model stays the previous best's" bash -c "head -1 .git/autoresearch/models/f1.bin | grep -q 'MATRIX_LR 0.03 '"
head -c 1000000 /dev/zero > .git/autoresearch/run-model.bin.tmp.4242
echo x > results.jsonl.tmp.77
"$AR" run --gate strict -m "again" > "$TMP/out.txt" 2>&1
check "temp files of a killed run are removed at start" bash -c \
    "test ! -e .git/autoresearch/run-model.bin.tmp.4242 && test ! -e results.jsonl.tmp.77 && grep -q 'removed 2 temporary files' $TMP/out.txt"
loop f2 fixederr fixederr fixederr lr:0.03
check "a trainer printing the fixed layer's error does not stop the loop" bash -c \
    "test $? -eq 0 && ! grep -q 'the same fixed-layer error' $TMP/f2.out && ! grep -q '\"fixed_error\"' results.jsonl"
# a real fixed-layer failure, the session resumed: the supervisor finds too few validation
# tokens (recorded in its result)
rm -f "$TMP/f2.actions.n"
AUTORESEARCH_EVAL_TOKENS=102400000 loop f2 lr:0.03 lr:0.02 lr:0.01 lr:0.04 lr:0.05 lr:0.06 lr:0.07 lr:0.08   # room past the 5 so far
check "the loop stops after 3 crashes with the same fixed-layer error" bash -c \
    "test $? -ne 0 && grep -q '3 crashes in a row with the same fixed-layer error (evaluation: the val split holds' $TMP/f2.out"
check "the crash rows carry the supervisor's fixed_error" bash -c \
    "grep -c '\"fixed_error\": \"evaluation: the val split holds' results.jsonl | grep -qx 3"

echo "== the data set is pinned"
new_repo data
"$AR" prepare --source synthetic --synthetic-mb 0.2 --vocab 300 -q > /dev/null 2>&1
other=$(AUTORESEARCH_CACHE=$TMP/cache2 "$AR" prepare --source synthetic --synthetic-mb 0.3 --vocab 300 -q 2>/dev/null | awk '/^prepared/ { print $6 }')
wide=$(AUTORESEARCH_CACHE=$TMP/cache3 "$AR" prepare --source synthetic --synthetic-mb 0.2 --vocab 320 -q 2>/dev/null | awk '/^prepared/ { print $6 }')
ds=$AUTORESEARCH_CACHE/datasets/$(cat $AUTORESEARCH_CACHE/current)
"$AR" run --gate strict -m baseline > /dev/null 2>&1
check "every record carries the data set's hashes" bash -c \
    "tail -1 results.jsonl | grep -q '\"val_bin_sha256\": \"[0-9a-f]\{64\}\"' && tail -1 results.jsonl | grep -q '\"test_bin_sha256\": \"[0-9a-f]\{64\}\"' &&
     tail -1 results.jsonl | grep -q '\"tokenizer_sha256\": \"[0-9a-f]\{64\}\"'"
cp "$ds/train.bin" "$TMP/train.bin"
cp "$other/train.bin" "$ds/train.bin"
"$AR" run --gate strict -m "after" > "$TMP/out.txt" 2>&1
check "a swapped shard (a valid one) is refused: the data set changed" bash -c \
    "test $? -ne 0 && grep -q 'the data set changed since session main started: .*train.bin' $TMP/out.txt"
cp "$TMP/train.bin" "$ds/train.bin"
printf '\x01' | dd of="$ds/val.bin" bs=1 seek=100 conv=notrunc 2>/dev/null
"$AR" run --gate strict -m "after" > "$TMP/out.txt" 2>&1
check "a corrupt shard is refused, naming it" bash -c "test $? -ne 0 && grep -q 'is broken: .*val.bin' $TMP/out.txt"
cp "$wide/val.bin" "$ds/val.bin"
git checkout -q -b other
"$AR" run --gate strict -m "new session" > "$TMP/out.txt" 2>&1
check "a shard whose vocabulary is not the tokenizer's is refused" bash -c \
    "test $? -ne 0 && grep -q 'val.bin: vocabulary 320 (BOS 316), but the data set.s tokenizer has 300' $TMP/out.txt"
git checkout -q main
rm -rf "$ds"
"$AR" run --gate strict -m "no data" > "$TMP/out.txt" 2>&1
check "a missing data set is refused with what to do" bash -c "test $? -ne 0 && grep -q 'data set .* is missing from' $TMP/out.txt"
check "none of these was recorded" test "$(col 4 | wc -l)" -eq 1

echo "integrity.test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

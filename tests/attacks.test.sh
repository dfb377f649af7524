#!/bin/bash
# attacks.test.sh -- the attacks of issue 11 against the supervisor: each modified train.c
# (tests/attacks/attack.c, one ATTACK class each) runs under `autoresearch train` in a scratch
# "repository" laid out like a real one (fixed/, build/, the ledgers, the harness state), and
# must end as invalid or crash with a reason that names what it tried, leaving every file it
# went for untouched. Also: the honest version passes, the sandbox can be switched off (and
# says so), and kill -9 of the trainer or of the supervisor leaves no result and no process.
# Needs ./autoresearch and build/libclient.a (make all).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
AR=$ROOT/autoresearch
passed=0; failed=0
ok()   { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
tmp=$(mktemp -d /tmp/attacks-test.XXXXXX)
finish() { echo "attacks: $passed passed, $failed failed"; rm -rf "$tmp"; [ "$failed" -eq 0 ]; exit $?; }
if [ ! -x "$AR" ] || [ ! -f build/libclient.a ]; then fail "needs ./autoresearch and build/libclient.a (run make)"; finish; fi
export AUTORESEARCH_CACHE=$tmp/cache AUTORESEARCH_EVAL_TOKENS=4096 AUTORESEARCH_BUDGET_MODE=tokens AUTORESEARCH_BUDGET=640
"$AR" prepare --source synthetic --synthetic-mb 1 --vocab 300 -q >"$tmp/prepare.log" 2>&1 || { cat "$tmp/prepare.log"; fail "prepare"; finish; }

repo=$tmp/repo
state=$repo/.git/autoresearch
mkdir -p "$repo/fixed" "$repo/build/obj/fixed" "$state/sessions"
echo "// the fixed layer" > "$repo/fixed/prepare.h"
echo "object" > "$repo/build/obj/fixed/evaluate.o"
echo '{"kind": "experiment", "test_bpb": 1.5}' > "$repo/results.jsonl"
printf 'commit\tval_bpb\tmemory_gb\tstatus\tdescription\n' > "$repo/results.tsv"
echo '{"run": "r1", "test_bpb": 1.5}' > "$state/test.jsonl"
echo '{"tag": "main", "base": "0123456789012345678901234567890123456789"}' > "$state/sessions/main.json"
snapshot() { (cd "$repo" && find fixed build results.jsonl results.tsv .git/autoresearch/test.jsonl .git/autoresearch/sessions -type f | sort | xargs sha256sum); }
before=$(snapshot)

build() {   # build NAME ATTACK [TARGET]
    local def=""
    [ -n "${3:-}" ] && def="-DTARGET=\"$3\""
    cc -std=c11 -O1 -D_GNU_SOURCE -Ifixed -DATTACK="$2" $def tests/attacks/attack.c build/libclient.a \
        -o "$tmp/$1" -lpcre2-8 -lz -lcrypto -lm -pthread 2>"$tmp/cc.log" || { cat "$tmp/cc.log"; return 1; }
}
run() {   # run NAME: the supervisor in the repository, as the harness runs it
    rm -f "$state/result.txt"
    (cd "$repo" && "$AR" train --trainer "$tmp/$1" --result "$state/result.txt" --scratch "$state/scratch" \
        >"$tmp/$1.log" 2>&1)
}
field() { sed -n "s/^$1: //p" "$state/result.txt" 2>/dev/null; }
expect() {   # expect NAME STATUS REASON-PATTERN
    local st reason
    st=$(field status); reason=$(field reason)
    if [ "$st" = "$2" ] && echo "$reason" | grep -qE "$3"; then ok "$1: $st ($reason)"
    else tail -5 "$tmp/$1.log" 2>/dev/null; fail "$1: got '$st' ($reason), want $2 /$3/"; fi
}

build honest HONEST && run honest
expect "honest unigram model" ok '^-$'
[ "$(field probe_causal_max)" = 0 ] && [ "$(field probe_frozen_max)" = 0 ] && ok "honest: both probes exact" || fail "honest: probes"
awk '/^probe_splice_nll:/ {n = $2} /^probe_splice_floor:/ {f = $2} END {exit !(n > f && f > 1)}' "$state/result.txt" \
    && ok "honest: splice probe $(field probe_splice_nll) nats, floor $(field probe_splice_floor)" || fail "honest: splice probe"
grep -q '^sandbox: landlock+seccomp (landlock abi [0-9]*)' "$state/result.txt" && ok "sandbox in force: $(field sandbox)" \
    || fail "sandbox in force ($(field sandbox))"
[ "$(field total_tokens_M)" = 0.000640 ] && ok "tokens budget exact: the supervisor's count" || fail "tokens budget ($(field total_tokens_M))"
AUTORESEARCH_SANDBOX=none run honest
expect "AUTORESEARCH_SANDBOX=none runs anyway" ok '^-$'
[ "$(field sandbox)" = "none (AUTORESEARCH_SANDBOX=none)" ] && ok "and records sandbox: none" || fail "records sandbox: none ($(field sandbox))"

# flops budget: the declared FLOPs per token turn the amount into a row count (6.4e7 = 640 x 1e5)
flops_run() { AUTORESEARCH_BUDGET_MODE=flops AUTORESEARCH_BUDGET=6.4e7 run "$1"; }
flops_run honest
expect "flops budget, honest" ok '^-$'
[ "$(field total_tokens_M)" = 0.000640 ] && [ "$(field flops_per_token)" = 100000 ] \
    && ok "flops budget: 640 tokens at the declared 1e5 FLOPs per token" || fail "flops budget: $(field total_tokens_M) M tokens, $(field flops_per_token)"
build under FLOPS_UNDERREPORT && flops_run under
[ "$(field status)" = ok ] && [ "$(field total_tokens_M)" = 0.000640 ] \
    && ok "under-reporting FLOPs mid-run buys no extra tokens ($(field total_tokens_M) M; reported $(field flops_reported), counted $(field flops_counted))" \
    || fail "under-reported FLOPs: $(field status), $(field total_tokens_M) M tokens"
build lowdecl FLOPS_LOW_DECLARED && flops_run lowdecl
expect "declaring 1 FLOP per token" invalid "flops budget: declared 1 FLOPs per token, below 6\*V"
build undecl FLOPS_UNDECLARED && flops_run undecl
expect "a flops budget without a declaration" crash "must call budget_flops_per_token\(\) before its first"
build late FLOPS_LATE && run late
expect "declaring after the first batch" crash "budget_flops_per_token: called after the first batch"

build write_result WRITE_RESULT "../result.txt" && run write_result
expect "train.c writes the result file" invalid "sandbox: denied write of .*/\.git/autoresearch/result\.txt"
build nll NLL_CALLBACK && run nll
expect "an NLL-style callback (tiny values, logits unfilled)" crash "left non-finite or unfilled logits"
build lookahead LOOKAHEAD && run lookahead
expect "attention that sees the next token" invalid "the model sees future tokens"
# lookahead that replays its earlier logits for a row prefix it has seen: the pairwise probe
# passes (exactly), the splice probe (rows of unseen rows' segments) does not. The attack
# needs a 15-token prefix to know a row: when a probe's random cut falls earlier (about one
# run in 16), the pairwise probe catches it first and names itself in the reason; the splice
# probe's own figures must fail it either way.
build memo MEMO_LOOKAHEAD && run memo
expect "lookahead that remembers rows" invalid "the model sees future tokens \((splice|causality) probe"
awk -v n="$(field probe_splice_nll)" -v f="$(field probe_splice_floor)" -v d="$(field probe_splice_d)" \
    -v t="$(field probe_splice_t)" 'BEGIN { exit !(n < f || (d < -1.0 && t < -6.0)) }' \
    && ok "  ... the splice probe fails it (seam NLL $(field probe_splice_nll), d $(field probe_splice_d), t $(field probe_splice_t))" \
    || fail "memo: splice probe figures pass ($(field probe_splice_nll) $(field probe_splice_d) $(field probe_splice_t))"
if [ "$(field probe_causal_max)" = 0 ]; then ok "  ... and it defeats the pairwise probe (difference 0)"
elif field reason | grep -q "causality probe"; then ok "  ... (a probe cut before its 15-token prefix: caught by the pairwise probe this run)"
else fail "memo: pairwise probe $(field probe_causal_max) but not in the reason"; fi
cc -std=c11 -O1 -D_GNU_SOURCE -Ifixed -DUNTRAINED tests/attacks/attack.c build/libclient.a \
    -o "$tmp/uniform" -lpcre2-8 -lz -lcrypto -lm -pthread && run uniform
expect "honest uniform (untrained) model" ok '^-$'
awk '/^probe_splice_nll:/ {n = $2} /^probe_splice_floor:/ {f = $2} /^probe_splice_seams:/ {s = $2}
     END {exit !(n >= f / 0.7 && s >= 32)}' "$state/result.txt" \
    && ok "uniform: splice NLL $(field probe_splice_nll) at or above the unigram entropy ($(field probe_splice_seams) seams)" || fail "uniform: splice probe"
build patch PATCH_SUPERVISOR && run patch
expect "reaching into the supervisor's memory" invalid "sandbox: denied (open of /proc/[0-9]+/|system call process_vm_writev)"
# /proc: the trainer sees only its PID namespace; the sandbox's first process (pid 1, which
# holds the supervisor's environment) is not dumpable, so even an open that wins the race
# against the supervisor's path check cannot read its environ, memory, maps, fds or root
build procrace PROC_RACE && run procrace
expect "racing the open check for /proc/1/*" invalid "sandbox: denied open of /proc/"
grep -q "^PROCS [12]$" "$tmp/procrace.log" && ok "a private /proc: $(sed -n 's/^PROCS //p' "$tmp/procrace.log") processes visible" \
    || fail "private /proc: $(grep PROCS "$tmp/procrace.log")"
! grep -qE "^LEAK (environ|maps|mem|fd|root)" "$tmp/procrace.log" && ok "pid 1's environ, maps, mem, fd and root unreadable" \
    || fail "leaked: $(grep LEAK "$tmp/procrace.log" | tr '\n' ' ')"
AUTORESEARCH_SANDBOX=none run procrace   # no check to race at all: the kernel's rules alone
! grep -qE "^LEAK (environ|maps|mem|fd|root)" "$tmp/procrace.log" && grep -q "^LEAK cmdline" "$tmp/procrace.log" \
    && ok "without the sandbox too: the parent's environ, maps, mem, fd, root unreadable (its cmdline is)" \
    || fail "no sandbox, leaked: $(grep LEAK "$tmp/procrace.log" | tr '\n' ' ')"
build early PRE_BUDGET && AUTORESEARCH_STARTUP_ALLOWANCE=0 AUTORESEARCH_BUDGET_MODE=time AUTORESEARCH_BUDGET=1 run early
expect "training before the budget starts (a constructor)" crash "ran past the time budget"
build ttt TRAIN_ON_VAL && run ttt
expect "training on the validation rows during evaluation" invalid "the model changed during evaluation"
build readj READ_LEDGER "$repo/results.jsonl" && run readj
expect "reading results.jsonl" invalid "sandbox: denied open of .*/results\.jsonl"
build readt READ_LEDGER "$state/test.jsonl" && run readt
expect "reading the test ledger" invalid "sandbox: denied open of .*/test\.jsonl"
build skip SKIP_EVAL && run skip
expect "train.c that never calls evaluate_bpb" crash "ended without calling evaluate_bpb"
grep -q '^val_bpb: *0.000400' "$tmp/skip.log" && ! grep -q '^val_bpb' "$state/result.txt" \
    && ok "its own val_bpb printed, none recorded" || fail "no evaluation: nothing recorded"
build redefine REDEFINE 2>/dev/null && fail "a fixed-layer function redefined in train.c links" \
    || { grep -q "multiple definition of .evaluate_bpb" "$tmp/cc.log" && ok "a fixed-layer function redefined in train.c: the build fails (multiple definition)" \
         || fail "redefinition: $(tail -1 "$tmp/cc.log")"; }
cat > "$tmp/other.c" <<'EOF'
#include "prepare.h"
#include "dataset.h"
int main(void) { Shard s; dataset_open_split(SPLIT_VAL, &s); return 0; }
EOF
cc -std=c11 -D_GNU_SOURCE -Ifixed "$tmp/other.c" build/libclient.a -o "$tmp/other" -lpcre2-8 -lz -lcrypto -lm 2>/dev/null \
    && fail "a fixed-layer header other than prepare.h links" || ok "a fixed-layer header other than prepare.h: no such function in the trainer (build fails)"
# the toolbox is the one other header a trainer may include: header-only, it links nothing of
# the fixed layer, and no file of the fixed layer or the harness includes it
cat > "$tmp/kit.c" <<'EOF'
#include "prepare.h"
#include "toolbox.h"
int main(void) { float z[2] = {0, 9}; uint64_t s = 1; return sample_token(z, 2, 1.0f, &s) != 1; }
EOF
cc -std=c11 -D_GNU_SOURCE -Ifixed "$tmp/kit.c" build/libclient.a -o "$tmp/kit" -ldnnl -lpcre2-8 -lz -lcrypto -lm 2>"$tmp/cc.log" \
    && "$tmp/kit" && ok "fixed/toolbox.h builds into a trainer (header-only)" || { cat "$tmp/cc.log"; fail "fixed/toolbox.h in a trainer"; }
users=$(grep -l '#include "toolbox.h"' fixed/*.[ch] harness/*.[ch] | tr '\n' ' ')
[ -z "$users" ] && ok "nothing trusted includes the toolbox" || fail "the toolbox is included by $users"
for t in fixed/prepare.h build/obj/fixed/evaluate.o results.tsv .git/autoresearch/sessions/main.json; do
    n=$(basename "$t" | tr . _)
    build "w_$n" WRITE_TREE "$repo/$t" && run "w_$n"
    expect "writing $t" invalid "sandbox: denied write of .*/$(echo "$t" | sed 's/\./\\./g')"
done
build daemon DAEMON "$state/result.txt" && run daemon
expect "a daemon that rewrites result files" invalid "sandbox: denied write of .*/result\.txt"
sleep 0.5
[ -z "$(pgrep -f "^$tmp/daemon")" ] && ok "no process of the run outlives it" || { pkill -9 -f "^$tmp/daemon"; fail "a daemon outlived the run"; }
[ "$(field status)" = invalid ] && ok "the result file is the supervisor's, after the run too" || fail "result file rewritten"
[ "$before" = "$(snapshot)" ] && ok "fixed/, build/, ledgers and session state untouched" || fail "files changed by an attack"

# fixed-layer errors: only the supervisor's own failures are recorded as such
build fakeerr FAKE_FIXED_ERROR && run fakeerr
[ "$(field status)" = crash ] && [ "$(field fixed_error)" = - ] && ok "a trainer printing a fixed-layer error: crash, no fixed_error" \
    || fail "fake fixed error: $(field status), fixed_error $(field fixed_error)"
AUTORESEARCH_CACHE=$tmp/nocache run honest
[ "$(field status)" = crash ] && field fixed_error | grep -q "^no prepared data set" && field reason | grep -q "^the fixed layer failed: no prepared" \
    && ok "the supervisor's own failure (no data set) is recorded as fixed_error" || fail "supervisor die: $(field status), $(field fixed_error)"

# a file size limit: the shared memory (a memfd) counts against it; the supervisor survives
(ulimit -f 100; run honest)
expect "ulimit -f 100 (the logits' shared memory does not fit)" crash "cannot grow the shared memory with the trainer to [0-9]+ KB: File too large \(the file size limit, .ulimit -f., is 100 KB"
field fixed_error | grep -q "^cannot grow the shared memory" && ok "  ... recorded as a fixed-layer error" || fail "ulimit: fixed_error $(field fixed_error)"
rm -f "$state/result.txt"
msg=$( (ulimit -f 0; cd "$repo" && "$AR" train --trainer "$tmp/honest" --result "$state/result.txt" --scratch "$state/scratch" 2>&1 >/dev/null; echo "rc $?") | tail -2)
echo "$msg" | head -1 | grep -q "^autoresearch: train: cannot write .*result.txt: File too large (the run was crash: cannot grow" && echo "$msg" | grep -qx "rc 1" \
    && [ ! -e "$state/result.txt" ] && [ -z "$(ls "$state" | grep 'result.txt.tmp')" ] \
    && ok "ulimit -f 0: a one-line error, no result, no half-written one" || fail "ulimit -f 0: $msg"

# kill -9: the trainer, then the supervisor
AUTORESEARCH_STARTUP_ALLOWANCE=30 AUTORESEARCH_BUDGET_MODE=time AUTORESEARCH_BUDGET=5 run early &
for _ in $(seq 100); do pgrep -f "^$tmp/early" >/dev/null && break; sleep 0.05; done
sleep 0.5
pkill -9 -f "^$tmp/early"
wait
expect "kill -9 of the trainer" crash "ended without calling evaluate_bpb \(killed by signal 9\)"
rm -f "$state/result.txt"
(cd "$repo" && exec "$AR" train --trainer "$tmp/early" --result "$state/result.txt" --scratch "$state/scratch" >/dev/null 2>&1) &
sup=$!
for _ in $(seq 100); do pgrep -f "^$tmp/early" >/dev/null && break; sleep 0.05; done
kill -9 $sup; wait $sup 2>/dev/null
sleep 0.3
[ ! -e "$state/result.txt" ] && [ -z "$(ls "$state" | grep 'result.txt.tmp')" ] && ok "kill -9 of the supervisor: no result, no half-written one" \
    || fail "kill -9 of the supervisor left a result"
[ -z "$(pgrep -f "^$tmp/early")" ] && ok "kill -9 of the supervisor: the trainer died with it" || { pkill -9 -f "^$tmp/early"; fail "trainer outlived its supervisor"; }
finish

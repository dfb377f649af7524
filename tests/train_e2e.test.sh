#!/bin/bash
# train_e2e.test.sh -- train.c end to end on a small synthetic data set, in seconds:
# prepare data, build train.c with its tunables block shrunk (the way the harness's search
# agent edits it), train it under the supervisor (`autoresearch train`, sandboxed) for a
# 2-second budget, and check the summary block, the supervisor's result file (val_bpb against
# the data set's entropy floor, both probes passed, the sandbox in force), the saved model
# file, the sample, and the FAIL path. Needs ./autoresearch and build/libclient.a (make all).
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0
ok()   { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
finish() { echo "train_e2e: $passed passed, $failed failed"; rm -rf "$tmp"; [ "$failed" -eq 0 ]; exit $?; }

tmp=$(mktemp -d /tmp/train_e2e.XXXXXX)
export AUTORESEARCH_CACHE=$tmp/cache
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
if [ ! -x ./autoresearch ] || [ ! -f build/libclient.a ]; then
    fail "needs ./autoresearch and build/libclient.a (run make)"; finish
fi
if ./autoresearch prepare --source synthetic --synthetic-mb 4 --vocab 512 -q >"$tmp/prepare.log" 2>&1; then
    ok "prepare synthetic"
else
    cat "$tmp/prepare.log"; fail "prepare synthetic"; finish
fi
manifest=$AUTORESEARCH_CACHE/datasets/$(cat "$AUTORESEARCH_CACHE/current")/manifest.txt
floor=$(awk '/^entropy_bpb:/ {print $2}' "$manifest")

# build train.c with a tiny model: rewrite lines inside the tunables block only
build() {   # build OUT SED-SCRIPT
    awk -v script="$2" 'BEGIN { n = split(script, kv, ";") }
        /@tunables-begin/ { inb = 1 } /@tunables-end/ { inb = 0 }
        { if (inb && $1 == "#define") for (i = 1; i <= n; i++) { split(kv[i], p, "="); if ($2 == p[1]) { $3 = p[2] } } print }' \
        train.c >"$tmp/train.c"
    cc -std=c11 -O2 -march=native -fopenmp -D_GNU_SOURCE -Ifixed "$tmp/train.c" build/libclient.a -o "$1" \
        -ldnnl -lpcre2-8 -lz -lcrypto -lm -pthread 2>"$tmp/cc.log"
}
tiny="DEPTH=2;MODEL_DIM=64;HEAD_DIM=32;DEVICE_BATCH_SIZE=4;TOTAL_BATCH_SIZE=4096"
if build "$tmp/train" "$tiny"; then ok "build with edited tunables"; else cat "$tmp/cc.log"; fail "build with edited tunables"; finish; fi
grep -q '^#define DEPTH 2 ' "$tmp/train.c" && ok "tunables block edited" || fail "tunables block edited"

export AUTORESEARCH_EVAL_TOKENS=32768   # 8 batches of 4 rows per split (the full 2^19 is for real runs)
AUTORESEARCH_BUDGET_MODE=time AUTORESEARCH_BUDGET=2 AUTORESEARCH_PEAK_GFLOPS=100 \
    AUTORESEARCH_PROGRESS_FILE=$tmp/progress.txt \
    ./autoresearch train --trainer "$tmp/train" --result "$tmp/result.txt" --model-out "$tmp/model.bin" >"$tmp/run.log" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "supervised train exits 0" || { tail -20 "$tmp/run.log"; fail "supervised train exits 0 (rc $rc)"; }
grep -q '^status: ok$' "$tmp/result.txt" && grep -q '^sandbox: landlock+seccomp (landlock abi [0-9]*), private /proc$' "$tmp/result.txt" \
    && ok "result file: ok, sandbox in force" || { cat "$tmp/result.txt"; fail "result file: ok, sandbox in force"; }
awk '/^probe_(causal|frozen)_max:/ { if ($2 > 0.005) bad = 1; n++ } END { exit bad || n != 2 }' "$tmp/result.txt" \
    && ok "honest model passes both probes ($(grep -h '^probe_.*_max' "$tmp/result.txt" | tr '\n' ' '))" \
    || fail "honest model passes both probes"
rval=$(awk '/^val_bpb:/ {print $2}' "$tmp/result.txt")
lval=$(awk '/^val_bpb:/ {print $2}' "$tmp/run.log")
[ -n "$rval" ] && [ "$rval" = "$lval" ] && ok "train.c prints the supervisor's val_bpb" || fail "val_bpb '$lval' vs supervisor '$rval'"
grep -q test_bpb "$tmp/run.log" && fail "the log shows test_bpb" || ok "the log never shows test_bpb"
# the supervisor's progress file: the last step's state, with the loss train.c reported
steps=$(awk '/^num_steps:/ {print $2}' "$tmp/run.log")
if grep -q '^done: 1$' "$tmp/progress.txt" 2>/dev/null && grep -q "^step: $steps\$" "$tmp/progress.txt" &&
   grep -Eq '^loss: [0-9]+\.[0-9]+$' "$tmp/progress.txt" && grep -Eq '^tokens_per_sec: [1-9][0-9.]*$' "$tmp/progress.txt"; then
    ok "progress file: last step, loss, tokens/s"
else
    cat "$tmp/progress.txt" 2>/dev/null; fail "progress file: last step ($steps), loss, tokens/s"
fi
missing=""
for label in val_bpb training_seconds total_seconds peak_vram_mb mfu_percent total_tokens_M \
             num_steps num_params_M depth precision threads tokens_per_sec sample; do
    grep -Eq "^$label: +[^ ]" "$tmp/run.log" || missing="$missing $label"
done
grep -q '^---$' "$tmp/run.log" || missing="$missing ---"
[ -z "$missing" ] && ok "summary block complete" || fail "summary block lacks:$missing"
# values start at column 19, as the original's f"{label}:<pad>{value}" lines
awk '/^val_bpb:/ { exit !(substr($0, 19, 1) ~ /[0-9]/ && substr($0, 18, 1) == " ") }' "$tmp/run.log" \
    && ok "summary format" || fail "summary format"
bpb=$(awk '/^val_bpb:/ {print $2}' "$tmp/run.log")
if [ -n "$bpb" ] && [ -n "$floor" ] && awk -v b="$bpb" -v f="$floor" 'BEGIN { exit !(b >= f && b < 12) }'; then
    ok "val_bpb $bpb >= entropy floor $floor"
else
    fail "val_bpb '$bpb' vs entropy floor '$floor'"
fi
steps=$(awk '/^num_steps:/ {print $2}' "$tmp/run.log")
[ -n "$steps" ] && [ "$steps" -ge 3 ] && ok "took $steps steps" || fail "num_steps '$steps'"
[ "$(head -c 7 "$tmp/model.bin" 2>/dev/null)" = "ARGPT01" ] && ok "model file written" || fail "model file written"
ls "$tmp"/model.bin.tmp.* >/dev/null 2>&1 && fail "temp model file left behind" || ok "no temp file left"

# a diverging run (an lr that overflows float: inf weights, NaN loss) must print FAIL, exit 1
if build "$tmp/train_bad" "$tiny;EMBEDDING_LR=1e39"; then
    AUTORESEARCH_BUDGET_MODE=time AUTORESEARCH_BUDGET=2 AUTORESEARCH_PEAK_GFLOPS=100 \
        ./autoresearch train --trainer "$tmp/train_bad" --result "$tmp/bad.txt" >"$tmp/bad.log" 2>&1
    rc=$?
    [ $rc -eq 1 ] && grep -q '^FAIL$' "$tmp/bad.log" && grep -q '^status: crash$' "$tmp/bad.txt" &&
        grep -q '^reason: train.c ended without calling evaluate_bpb (exit code 1)$' "$tmp/bad.txt" \
        && ok "divergence prints FAIL: a crash, without evaluation" \
        || { tail -5 "$tmp/bad.log"; cat "$tmp/bad.txt"; fail "divergence prints FAIL: a crash (rc $rc)"; }
else
    fail "build diverging variant"
fi
finish

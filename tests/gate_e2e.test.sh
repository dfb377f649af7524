#!/bin/bash
# gate_e2e.test.sh -- the sprt gate with the real train.c: a short `loop` session on a small
# synthetic data set (tiny model, a fixed budget of tokens, a shorter evaluation) where
# changes that only edit a comment are never kept, and a change known to help at that budget
# is kept: TOTAL_BATCH_SIZE 4096 -> 2048, twice the optimizer steps for the same tokens
# (at a few dozen steps, steps are what the model lacks most). The harness logic itself is
# tested with the fake trainer in harness.test.sh; this is the check that the real trainer's
# seed noise and the gate work together. Needs ./autoresearch (make all).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
AGENT=$ROOT/tests/agents/scripted.sh
passed=0; failed=0
ok()   { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
finish() { echo "gate_e2e: $passed passed, $failed failed"; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"; [ "$failed" -eq 0 ]; exit $?; }
tmp=$(mktemp -d /tmp/gate_e2e.XXXXXX)
export AUTORESEARCH_CACHE=$tmp/cache
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
[ -x ./autoresearch ] || { fail "needs ./autoresearch (run make)"; finish; }
./autoresearch prepare --source synthetic --synthetic-mb 2 --vocab 512 -q >"$tmp/prepare.log" 2>&1
[ -f "$AUTORESEARCH_CACHE/current" ] && ok "prepare synthetic" || { cat "$tmp/prepare.log"; fail "prepare synthetic"; finish; }

# the scratch project: train.c with a tiny model and a Makefile that builds it against this
# checkout's fixed-layer client (it runs under this checkout's supervisor, which scores 32K
# tokens instead of 512K: the same for every run, so comparisons stay fair)
export AUTORESEARCH_EVAL_TOKENS=32768
repo=$tmp/repo
mkdir -p "$repo" && cp -r fixed "$repo/" && cd "$repo" || exit 1
awk -v script="DEPTH=2;MODEL_DIM=64;HEAD_DIM=32;DEVICE_BATCH_SIZE=4;TOTAL_BATCH_SIZE=4096" \
    'BEGIN { n = split(script, kv, ";") } /@tunables-begin/ { inb = 1 } /@tunables-end/ { inb = 0 }
     { if (inb && $1 == "#define") for (i = 1; i <= n; i++) { split(kv[i], p, "="); if ($2 == p[1]) { $3 = p[2] } } print }' \
    "$ROOT/train.c" > train.c
printf 'build/train: train.c\n\t@mkdir -p build\n\tcc -std=c11 -O1 -march=native -fopenmp -D_GNU_SOURCE -I%s/fixed train.c %s/build/libclient.a -o $@ -ldnnl -lpcre2-8 -lz -lcrypto -lm -pthread\n' \
    "$ROOT" "$ROOT" > Makefile
# and the gradient check the harness runs before each training run (the Makefile's rule, at -O0)
printf 'build/gradcheck: train.c\n\t@mkdir -p build\n\tcc -std=c11 -O0 -fopenmp -D_GNU_SOURCE -Ifixed -DTRAIN_FP32 -Dmain=train_c_main -c train.c -o build/gc.o\n\tcc -O0 -fopenmp -Ifixed fixed/gradcheck.c build/gc.o %s/build/libclient.a -o $@ -ldnnl -lpcre2-8 -lz -lcrypto -lm -pthread\n' \
    "$ROOT" >> Makefile
printf '/build/\n/run.log\n/results.tsv\n/results.jsonl\n/report/\n' > .gitignore
git init -q -b main && git config user.name test && git config user.email test@example.com
git add -A && git commit -qm "project"
make -s build/train >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; fail "build the trainer"; finish; }

printf 'comment:1\ncomment:2\ncomment:3\ndefine:TOTAL_BATCH_SIZE=2048\n' > "$tmp/actions"
start=$(date +%s)
SCRIPT_ACTIONS=$tmp/actions AUTORESEARCH_PEAK_GFLOPS=100 "$ROOT/autoresearch" loop --agent "$AGENT" --tag e2e \
    --budget-mode tokens --budget 20000 --noise-runs 3 --max-runs 2 --max-experiments 5 \
    --max-agent-failures 2 --retry-delay 0.05 > "$tmp/out.txt" 2>&1
rc=$?
echo "  session: $(( $(date +%s) - start )) s, $(grep -c '"val_bpb": [0-9]' results.jsonl) runs"
[ $rc -eq 0 ] && ok "loop exits 0" || { tail -30 "$tmp/out.txt"; tail -20 run.log; fail "loop exits 0 (rc $rc)"; finish; }
statuses=$(awk -F'\t' 'NR > 1 { printf "%s ", $4 }' results.tsv)
[ "$statuses" = "keep discard discard discard keep " ] && ok "comment-only changes discarded, the batch change kept" \
    || { cat "$tmp/out.txt"; fail "statuses '$statuses'"; }
sigma=$(grep -o '"sigma": [0-9.e-]*' .git/autoresearch/sessions/e2e.json | cut -d' ' -f2)
awk -v s="$sigma" 'BEGIN { exit !(s > 0) }' && ok "sigma measured: $sigma" || fail "sigma measured ('$sigma')"
kept=$(grep '"description": "TOTAL_BATCH_SIZE 2048"' results.jsonl)
lo=$(echo "$kept" | grep -o '"effect_lo": [0-9.e-]*' | cut -d' ' -f2)
awk -v l="$lo" 'BEGIN { exit !(l > 0) }' && ok "the kept change's interval excludes 0 (lower end $lo)" \
    || fail "effect_lo '$lo'"
finish

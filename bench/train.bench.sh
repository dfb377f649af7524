#!/bin/bash
# train.bench.sh -- does bf16 autocast change training? Runs the same small model on the same
# learnable token stream for N optimizer steps with bf16 matmuls (bench_train) and with fp32
# matmuls (bench_train_fp32), and prints both loss curves side by side.
set -u
cd "$(dirname "$0")/.."
steps=${CURVE_STEPS:-150}
bf=build/bench/bench_train; fp=build/bench/bench_train_fp32
if [ ! -x $bf ] || [ ! -x $fp ]; then echo "train.bench.sh: build $bf and $fp first (make bench)"; exit 1; fi
a=$(mktemp); b=$(mktemp)
$bf --curve "$steps" >"$a" && $fp --curve "$steps" >"$b" || { echo "train.bench.sh: a curve run failed"; exit 1; }
echo "loss over $steps steps (2 layers, width 128, context 128, random-walk tokens, vocab 256):"
printf '%6s %10s %10s %10s\n' step bf16 fp32 diff
# lines: "curve bf16 step N loss X" pasted with "curve fp32 step N loss Y"
paste "$a" "$b" | awk '$2 == "bf16" && $8 == "fp32" {
    d = $6 - $12; if (d < 0) d = -d; if (d > max) max = d; if ($4 >= 10) { rel = d / $12; if (rel > maxrel) maxrel = rel }
    printf "%6d %10.5f %10.5f %10.5f\n", $4, $6, $12, $6 - $12 }
    END { printf "max |bf16 - fp32| = %.5f nats (%.2f%% of the fp32 loss after step 10)\n", max, 100 * maxrel }'
rm -f "$a" "$b"

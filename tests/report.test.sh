#!/bin/bash
# report.test.sh -- watching a night: the live progress of `run` and `noise` (on a terminal
# and in a log), `status` while a noise run trains and on a detached HEAD, the throughput
# fields of the records and the fast-keep flag, and `report` on a hand-written ledger that
# carries every field the report reads (intervals, effects, confirmation runs, drift, sandbox),
# its HTML page checked in a headless browser: a screenshot is taken and the console is clean
# (the same check is shown to catch a page with a deliberate error). Needs chromium
# (`make test` installs it: scripts/install-deps.sh --test). AR: the binary (tests/harness_lib.sh).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export TMP=$(mktemp -d /tmp/report-test.XXXXXX)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT
. tests/harness_lib.sh
jfield() { tail -1 results.jsonl | grep -o "\"$1\": [^,}]*" | cut -d' ' -f2; }

# ----------------------------------------------------------------------------
echo "== live progress, throughput in the records, the fast-keep flag"
# (the supervisor measures the fake trainer's pace, 10k tokens/s, on its own clock: within 20%)
new_repo live
# runs of half a second, so that a few milliseconds of scheduling do not move the measured pace
sed -i 's/^#define SLEEP_MS 50$/#define SLEEP_MS 500/' train.c && git commit -qam "half-second runs"
"$AR" run --gate strict > $TMP/out.txt 2>&1   # (the display: one run per experiment)
check "records carry steps, tokens, tokens/s from the progress file" bash -c \
    "test '$(jfield steps)' = 100 && test '$(jfield tokens)' = 5000 && awk -v t='$(jfield tokens_per_sec)' 'BEGIN { exit !(t > 8000 && t < 11000) }'"
check "the row shows steps, tokens and tokens/s" grep -qE "100 steps   5.0k tok  ([89]\.[0-9]|10\.[0-9])k tok/s  baseline" $TMP/out.txt
sed -i 's/^#define FAKE_TPS 10000/#define FAKE_TPS 20000/; s/^#define MATRIX_LR 0.04 /#define MATRIX_LR 0.03 /' train.c
"$AR" run -m "faster and better" > $TMP/out.txt 2>&1
check "a keep twice as fast as the best is flagged" bash -c \
    "test '$(jfield fast_keep)' = true && awk -v r='$(jfield speed_ratio)' 'BEGIN { exit !(r > 1.8 && r < 2.2) }' && grep -q 'ran much faster than the best' $TMP/out.txt"
sed -i 's/^#define FAKE_TPS 20000/#define FAKE_TPS 21000/; s/^#define MATRIX_LR 0.03 /#define MATRIX_LR 0.025 /' train.c
"$AR" run -m "as fast as the best" > /dev/null 2>&1
check "a keep as fast as the best is not" bash -c "test '$(jfield fast_keep)' = false"
# a slow run, on a terminal (script(1) gives it one): one line redrawn in place
sed -i '1i #define SLEEP_MS 2000' train.c
script -qec "'$AR' run -m 'slow on a tty' --budget 2" /dev/null > $TMP/tty.txt 2>&1
check "terminal: the live line is redrawn in place" bash -c \
    "grep -q \$'\r\033\\[K\\[  4\\] step [0-9]* | [0-9.]*% of time 2 s | [0-9.]*k tok/s | loss [0-9.]* | ETA' $TMP/tty.txt"
check "terminal: the line is cleared before the row" bash -c "grep -q \$'\r\033\\[K\\[  4\\] [0-9a-f]\\{7\\} ' $TMP/tty.txt"
git checkout -q -- train.c 2>/dev/null; git reset -q --hard
sed -i '1i #define SLEEP_MS 4000' train.c
git commit -qam "slow"
"$AR" noise --runs 2 --budget 4 > $TMP/noise.txt 2>&1 &
pid=$!
for _ in $(seq 1 600); do   # the build first: a loaded machine takes a while
    grep -q "tokens_per_sec: [1-9]" .git/autoresearch/progress.txt 2>/dev/null && break
    sleep 0.05
done
"$AR" status > $TMP/st.txt 2>&1
"$AR" status --json > $TMP/st.json 2>&1
wait $pid
check "status shows the noise run training" grep -q "^running    noise run 1/2 of [0-9a-f]\{7\} for" $TMP/st.txt
check "status shows its progress" grep -qE "^progress   step [0-9]+ \| [0-9.]+% of time 4 s \| [0-9.]+k tok/s \| loss [0-9.]+ \| ETA [0-9]+s" $TMP/st.txt
check "status --json carries the progress" bash -c "grep -q '\"running_kind\": \"noise\"' $TMP/st.json &&
    grep -qE '\"progress_step\": [0-9]+' $TMP/st.json && grep -qE '\"progress_tokens_per_sec\": [1-9][0-9]{3,4}[,}]' $TMP/st.json &&
    grep -qE '\"progress_eta_s\": [0-9.]+' $TMP/st.json && grep -q '\"progress_loss\"' $TMP/st.json"
check "a log gets plain progress lines" grep -qE "^noise 1/2 step [0-9]+ \| [0-9]{1,2}\.[0-9]% of time" $TMP/noise.txt
check "a log says when training ends and evaluation runs" grep -qE "^noise 1/2 step [0-9]+ \| 100.0% of time 4 s .*\| evaluating$" $TMP/noise.txt
check "noise rows carry throughput" grep -qE "^noise 2/2 .* [0-9]+ steps  [0-9.]+k tok/s" $TMP/noise.txt
"$AR" status > $TMP/st.txt 2>&1
check "nothing running afterwards" grep -q "^running    nothing" $TMP/st.txt
git checkout -q --detach
"$AR" status > $TMP/st.txt 2>&1
check "status on a detached HEAD names the commit, not 'branch ?'" bash -c \
    "grep -q 'detached HEAD at [0-9a-f]\{7\}' $TMP/st.txt && ! grep -q 'branch ?' $TMP/st.txt"

new_repo agent
printf 'wait\n' > $TMP/actions   # an agent that takes 3 s
SCRIPT_ACTIONS=$TMP/actions script -qec "'$AR' loop --agent '$ROOT/tests/agents/scripted.sh' --max-experiments 2" \
    /dev/null > $TMP/loop.txt 2>&1
check "terminal: loop shows the agent at work" grep -q $'\r\033\\[K\\[  2\\] the agent at work for 2s' $TMP/loop.txt

# ----------------------------------------------------------------------------
echo "== report on a hand-written ledger"
new_repo rep
c0=$(git rev-parse HEAD)
commit() { sed -i -E "s/^#define MATRIX_LR [0-9.e-]+/#define MATRIX_LR $1/" train.c; git commit -qam "$2"; git rev-parse HEAD; }
c1=$(commit 0.03 "raise lr"); c2=$(commit 0.05 "wider mlp"); git reset -q --hard "$c1"
c3=$(commit 0.06 "broken attention"); git reset -q --hard "$c1"
c5=$(commit 0.031 "tiny tweak"); git reset -q --hard "$c1"
c6=$(commit 0.029 "seed 7"); c8=$(commit 0.02 "rotary tweak"); git reset -q --hard "$c6"
c9=$(commit 0.025 "deeper model")
x='"kind": "experiment", "session": "night"'
{
echo "{$x, \"n\": 1, \"commit\": \"$c0\", \"parent\": \"\", \"description\": \"baseline\", \"status\": \"keep\", \"val_bpb\": 1.1, \"test_bpb\": 1.11, \"steps\": 300, \"tokens\": 3000000, \"tokens_per_sec\": 10000, \"wall_seconds\": 310.2, \"est_val_bpb\": 1.1, \"est_se\": 0.0002, \"est_runs\": 4, \"sandbox\": \"landlock+seccomp\"}"
for s in 1 2 3; do echo "{\"kind\": \"noise\", \"session\": \"night\", \"commit\": \"$c0\", \"noise_run\": $s, \"noise_runs\": 3, \"seed\": $s, \"val_bpb\": 1.100$s, \"steps\": 29$s, \"tokens_per_sec\": 990$s, \"wall_seconds\": 309}"; done
echo "{$x, \"n\": 2, \"commit\": \"$c1\", \"parent\": \"$c0\", \"description\": \"raise lr\", \"status\": \"keep\", \"val_bpb\": 1.08, \"test_bpb\": 1.09, \"delta\": -0.02, \"effect\": 0.02, \"effect_lo\": 0.015, \"effect_hi\": 0.025, \"est_val_bpb\": 1.0805, \"est_se\": 0.0003, \"est_runs\": 2, \"steps\": 305, \"tokens\": 3050000, \"tokens_per_sec\": 10100}"
echo "{\"kind\": \"confirm\", \"session\": \"night\", \"commit\": \"$c1\", \"seed\": 2, \"val_bpb\": 1.081, \"steps\": 301, \"tokens_per_sec\": 10050, \"wall_seconds\": 311}"
echo "{$x, \"n\": 3, \"commit\": \"$c2\", \"parent\": \"$c1\", \"description\": \"wider mlp\", \"status\": \"discard\", \"val_bpb\": 1.09, \"delta\": 0.01, \"steps\": 250, \"tokens_per_sec\": 9000}"
echo "{$x, \"n\": 4, \"commit\": \"$c3\", \"parent\": \"$c1\", \"description\": \"broken attention\", \"status\": \"crash\", \"reason\": \"build failed\"}"
echo "{$x, \"n\": 5, \"commit\": \"$c5\", \"parent\": \"$c1\", \"description\": \"tiny tweak | with a pipe\", \"status\": \"discard\", \"val_bpb\": 1.0797, \"delta\": -0.0003, \"steps\": 300, \"tokens_per_sec\": 10000}"
echo "{$x, \"n\": 6, \"commit\": \"$c6\", \"parent\": \"$c1\", \"description\": \"seed 7\", \"status\": \"keep\", \"val_bpb\": 1.07, \"test_bpb\": 1.088, \"delta\": -0.01, \"seed_only\": true, \"fast_keep\": true, \"speed_ratio\": 1.4, \"drift\": true, \"drift_reason\": \"the best moved by 3.1 sigma\", \"steps\": 420, \"tokens_per_sec\": 14000}"
echo "{\"kind\": \"rebaseline\", \"session\": \"night\", \"commit\": \"$c6\", \"noise_run\": 1, \"noise_runs\": 1, \"seed\": 9, \"val_bpb\": 1.0702, \"steps\": 410, \"tokens_per_sec\": 13700, \"drift\": false}"
echo "{$x, \"n\": 7, \"commit\": \"\", \"description\": \"invalid: changed fixed/prepare.h: <b>tamper</b>\", \"status\": \"invalid\", \"reason\": \"changes outside train.c\"}"
echo "{$x, \"n\": 8, \"commit\": \"$c8\", \"parent\": \"$c6\", \"description\": \"rotary tweak\", \"status\": \"discard\", \"val_bpb\": 1.075, \"delta\": 0.005, \"steps\": 90, \"tokens_per_sec\": 3000, \"sandbox\": \"none\"}"
echo "{$x, \"n\": 9, \"commit\": \"$c9\", \"parent\": \"$c6\", \"description\": \"deeper model\", \"status\": \"keep\", \"val_bpb\": 1.06, \"test_bpb\": 1.095, \"delta\": -0.01, \"effect\": 0.01, \"effect_lo\": 0.004, \"effect_hi\": 0.016, \"steps\": 290, \"tokens_per_sec\": 9800}"
} > results.jsonl
mkdir -p .git/autoresearch/sessions
echo "{\"tag\": \"night\", \"base\": \"$c0\", \"budget_mode\": \"time\", \"budget\": 0, \"timeout\": 600, \"sigma\": 0.0004, \"gate\": \"noise\", \"seed\": -1}" \
    > .git/autoresearch/sessions/night.json
"$AR" report --tag night > $TMP/out.txt 2>&1
check "report exits 0 and writes md, html, png, svg" bash -c \
    "test -s report/report.md && test -s report/report.html && test -s report/progress.svg &&
     head -c 8 report/progress.png | od -An -tx1 | tr -d ' \n' | grep -q 89504e470d0a1a0a"
md=report/report.md
check "every experiment in the table" test "$(sed -n '/^## Experiments/,/^## /p' $md | grep -c '^| [0-9]')" -eq 9
check "discarded, crashed and invalid rows are there" bash -c \
    "grep -q '^| 3 | .* | discard | wider mlp |' $md && grep -q '^| 4 | .* | crash | broken attention | - |.*build failed' $md &&
     grep -q '^| 7 | - | invalid |' $md"
check "a pipe in a description is escaped" grep -q 'tiny tweak \\| with a pipe' $md
check "throughput per run" bash -c "grep -q '^| 8 | .* | 90 |  | 3000 |' $md && grep -q '^| 2 | .* | 305 | 3050000 | 10100 |' $md"
check "intervals from est_val_bpb and est_se" grep -q "1.080500 ± 0.000588 (2 runs)" $md
check "noise and confirmation runs with sigma" bash -c \
    "grep -q 'sigma 0.000400 of val_bpb (2 sigma = 0.000800)' $md && grep -c '^| noise | [123]/3 |' $md | grep -qx 3 &&
     grep -q '^| confirm |  | ' $md && grep -q '^| rebaseline | 1/1 | ${c6:0:7} | 9 | 1.070200 | 410 | 13700 |' $md"
check "warning: drift, with its reason" grep -q "^- Drift: 1 run flagged drift (.*; latest: the best moved by 3.1 sigma)" $md
check "warning: seed-only change" grep -q "^- 1 experiment changed only a seed (1 kept)" $md
check "warning: test lagging val" grep -q "^- Test lags validation: the held-out test split improved by 0.015000, less than half" $md
check "warning: runs below the throughput floor" grep -q "^- 1 experiment ran at less than half the session's median throughput (10000 tokens/s)" $md
check "warning: fast keep" grep -q "^- 1 keep ran much faster" $md
check "warning: sandbox none" grep -q "^- 1 run had no sandbox (sandbox: none)" $md
check "effect with its interval" grep -q "| 0.020000 (0.015000 .. 0.025000) |" $md
check "the gain in sigma" grep -q "the gain is 100.0 sigma of the run-to-run noise" $md
check "a diff per kept change, none for the baseline" bash -c \
    "test \$(grep -c '^\`\`\`diff' $md) -eq 3 && grep -q '^-#define MATRIX_LR 0.04 ' $md && grep -q '^### #9 ${c9:0:7}: deeper model' $md"
svg=report/progress.svg
check "plot title does not count the baseline" grep -q "9 experiments, 3 kept improvements over the baseline" $svg
check "plot: axis direction, baseline, gate band" bash -c \
    "grep -q 'val_bpb (lower is better)' $svg && grep -q '>baseline 1.1000<' $svg && grep -q 'stroke-dasharray' $svg &&
     grep -q 'fill-opacity=\"0.15\"' $svg && grep -q '>gate 0.0008<' $svg"
check "plot: a label per kept change" bash -c "grep -q '>raise lr<' $svg && grep -q '>seed 7<' $svg && grep -q '>deeper model<' $svg"
check "plot: discards and crashes distinguished" bash -c \
    "grep -q '<title>#3 discard 1.090000: wider mlp</title>' $svg && grep -q '<title>#4 crash/invalid: broken attention</title>' $svg"
check "plot: intervals drawn with a legend" grep -q ">95% interval<" $svg
check "the SVG is well-formed XML" xmllint --noout $svg
html=report/report.html
check "html: the plot inline, the agent's text escaped" bash -c \
    "grep -q '<figure>' $html && grep -q '<svg xmlns' $html && grep -q '&lt;b&gt;tamper&lt;/b&gt;' $html && ! grep -q '<b>tamper' $html"
check "html: well-formed" xmllint --html --noout $html

# A headless browser loads the page: a screenshot, and no console message. The same check
# on a page with a deliberate script error must catch it.
browser=$(command -v chromium-headless-shell || command -v chromium || true)
browse() {   # browse PAGE SHOT: the browser's log on stdout
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
        --window-size=1200,2600 --screenshot="$2" "file://$(realpath "$1")" 2>&1
}
console_clean() { ! grep -E ':CONSOLE[:(]' "$1"; }
check "a headless browser is installed (scripts/install-deps.sh --test)" test -n "$browser"
if [ -n "$browser" ]; then
    browse $html $TMP/shot.png > $TMP/browser.log
    check "browser: screenshot of report.html" bash -c "test \$(stat -c %s $TMP/shot.png) -gt 20000"
    check "browser: no console errors on report.html" console_clean $TMP/browser.log
    printf '<!DOCTYPE html><html><body><p>x</p><script>no_such_function();</script></body></html>\n' > $TMP/bad.html
    browse $TMP/bad.html $TMP/bad.png > $TMP/bad.log
    check "browser: the check catches a page with a script error" bash -c \
        "! console_clean() { ! grep -E ':CONSOLE[:(]' \"\$1\"; }; ! console_clean $TMP/bad.log && grep -q 'no_such_function is not defined' $TMP/bad.log"
    [ -n "${REPORT_SHOT:-}" ] && cp $TMP/shot.png "$REPORT_SHOT" && cp report/progress.png "${REPORT_SHOT%.png}-plot.png"
fi

echo "report.test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/bash
# Runs each test program given (and every tests/*.test.sh script), each with a time limit,
# and adds up their closing "NAME: N passed, M failed" lines. A program that crashes, times
# out, or exits non-zero without such a line counts as one failed test.
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
limit=${TEST_TIMEOUT:-900}
passed=0; failed=0; bad=()
for t in "$@" tests/*.test.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t")
    log=$(mktemp)
    start=$(date +%s.%N)
    timeout "$limit" "$t" >"$log" 2>&1
    rc=$?
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
        f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
    else
        p=0; f=0
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    printf '%-28s %3d passed %3d failed  %6.1fs%s\n' "$name" "$p" "$f" "$secs" \
        "$([ $rc -eq 124 ] && echo '  (timed out)')"
    if [ "$f" -ne 0 ]; then
        bad+=("$name")
        echo "---- $name output (last 60 lines) ----"
        tail -n 60 "$log"
        echo "----"
    fi
    rm -f "$log"
done
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]

#!/bin/bash
# pool_agent.sh -- an external agent for tests/pool.test.sh. Called by `loop --workers` in the
# experiment's own worktree, it saves its prompt and working folder under $POOL_AGENT_DIR and
# sets MATRIX_LR to the next of the values in $POOL_AGENT_VALUES (one per call; the loop calls
# one agent at a time, so the counter is safe). A value given twice in a row is the same change
# proposed while the first is in flight: the loop must not dispatch it again.
set -u
d=$POOL_AGENT_DIR
n=$(( $(cat "$d/n" 2>/dev/null || echo 0) + 1 ))
echo $n > "$d/n"
cat > "$d/prompt.$n"
pwd > "$d/cwd.$n"
v=$(echo "$POOL_AGENT_VALUES" | cut -d' ' -f$n)
[ -n "$v" ] || exit 3
sed -i -E "s/^#define MATRIX_LR [0-9.e-]+/#define MATRIX_LR $v/" train.c
echo "DESCRIPTION: MATRIX_LR $v"

#!/bin/bash
# pool_agent.sh -- an external agent for tests/pool.test.sh. Called by `loop --workers` in the
# experiment's own worktree, it saves its prompt and working folder under $POOL_AGENT_DIR and
# makes the next change listed in $POOL_AGENT_CHANGES (one per call, blank-separated; the loop
# calls one agent at a time, so the counter is safe): NAME=VALUE sets a tunable, wait+NAME=VALUE
# first waits until the experiment in flight has left its result file (so that it is decided
# before this one's). The same change twice in a row is proposed while the first is in
# flight: the loop must not dispatch it again.
set -u
d=$POOL_AGENT_DIR
n=$(( $(cat "$d/n" 2>/dev/null || echo 0) + 1 ))
echo $n > "$d/n"
cat > "$d/prompt.$n"
pwd > "$d/cwd.$n"
c=$(echo "$POOL_AGENT_CHANGES" | cut -d' ' -f$n)
[ -n "$c" ] || exit 3
case "$c" in wait+*)
    jobs=$(git rev-parse --git-common-dir)/autoresearch/jobs
    for _ in $(seq 600); do ls "$jobs"/*/result.json >/dev/null 2>&1 && break; sleep 0.1; done
    c=${c#*+} ;;
esac
sed -i -E "s/^#define ${c%%=*} [0-9.e-]+/#define ${c%%=*} ${c#*=}/" train.c
echo "DESCRIPTION: ${c%%=*} ${c#*=}"

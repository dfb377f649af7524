#!/bin/bash
# aider_test.sh -- `make test-agents`: the README's aider line, with the real aider (from PyPI,
# in $AIDER_VENV), against a scripted OpenAI-compatible model server on loopback
# (model_server.py), through `autoresearch loop`: two experiments, and the failure modes (the
# server returns 500, the model makes no edit, edits fixed/prepare.h, creates a new file), each
# with its reason in the ledger; and aider connects to nothing but the server (netwatch/).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
AIDER_VENV=$(realpath "${AIDER_VENV:-build/agents-venv}")
export TMP=$(mktemp -d /tmp/aider-test.XXXXXX)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT
. tests/harness_lib.sh
[ -x "$AIDER_VENV/bin/aider" ] || { echo "FAIL no aider in $AIDER_VENV (make test-agents installs it)"; exit 1; }

# The model's replies, one per agent call (every request of a call, aider's retries included,
# gets its call's reply; $TMP/calls counts the calls).
lr=$(grep '^#define MATRIX_LR ' tests/agents/fake_train.c)
python3 - "$TMP/script.jsonl" <<PY
import json, sys
lr = """$lr"""
long = "lower MATRIX_LR again, to 0.025, with a description longer than a ledger line holds: " + "é" * 200
def edit(f, a, b): return "%s\n\`\`\`c\n<<<<<<< SEARCH\n%s\n=======\n%s\n>>>>>>> REPLACE\n\`\`\`\n" % (f, a, b)
replies = [
    {"content": "Lower the matrix learning rate.\n\n" + edit("train.c", lr, lr.replace("0.04", "0.03")) +
                "\nDESCRIPTION: lower MATRIX_LR to 0.03   \t \n"},
    {"status": 500},
    {"content": "I would not change anything: train.c looks right to me.\n"},
    {"content": "The evaluation is the problem.\n\n" + edit("fixed/prepare.h", "// the fixed layer", "// the fixed layer, improved") +
                "\nDESCRIPTION: tweak the evaluation\n"},
    {"content": "A helper header.\n\n" + edit("helper.h", "", "int helper;") + "\nDESCRIPTION: add a header\n"},
    {"content": "Lower it again.\n\n" + edit("train.c", lr.replace("0.04", "0.03"), lr.replace("0.04", "0.025")) +
                "\nDESCRIPTION: " + long + "   \n"},
]
with open(sys.argv[1], "w") as f:
    for r in replies: f.write(json.dumps(r) + "\n")
PY
python3 tests/agents/model_server.py "$TMP/script.jsonl" "$TMP/port" "$TMP/requests.jsonl" "$TMP/calls" &
server=$!
for _ in $(seq 1 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
port=$(cat "$TMP/port")

new_repo aider
echo '.aider*' >> .git/info/exclude
echo '{"openai/scripted": {"max_input_tokens": 32768, "max_output_tokens": 4096, "litellm_provider": "openai", "mode": "chat"}}' \
    > .aider.model.metadata.json
# the README's line, with the test's model, edit format and log of network use
line=$(sed -n "s/^\.\/autoresearch loop --agent '\(LITELLM[^']*aider [^']*\)'$/\1/p" "$ROOT/README.md")
check "the README has the aider line" test -n "$line"
export PATH=$AIDER_VENV/bin:$PATH HOME=$TMP/home OPENAI_API_KEY=scripted OPENAI_API_BASE=http://127.0.0.1:$port/v1 \
    AIDER_MODEL=openai/scripted AIDER_EDIT_FORMAT=diff NETWATCH_LOG=$TMP/net.log PYTHONPATH=$ROOT/tests/agents/netwatch
mkdir -p "$HOME"
"$AR" loop --agent "echo >> $TMP/calls; $line" --tag a1 --gate strict --max-experiments 5 --agent-timeout 200 \
    --retry-delay 0.05 > $TMP/out.txt 2>&1
check "loop exits 0" test $? -eq 0
col() { tail -n +2 results.tsv | cut -f"$1"; }
check "two experiments kept, the fixed-layer and new-file edits invalid" \
    test "$(col 4 | tr '\n' ' ')" = "keep keep invalid invalid keep "
check "the edit reached train.c, committed by the harness" bash -c \
    "git log -1 --format=%s | grep -q '^lower MATRIX_LR again' && grep -q '^#define MATRIX_LR 0.025 ' train.c"
check "the description is trimmed" bash -c "sed -n 3p results.tsv | cut -f5 | grep -qx 'lower MATRIX_LR to 0.03'"
n=$(sed -n 6p results.tsv | cut -f5 | wc -c)
check "a long description is bounded (200 bytes, whole characters)" bash -c \
    "test $n -le 201 && test $n -ge 190 && sed -n 6p results.tsv | cut -f5 | iconv -f UTF-8 -t UTF-8 >/dev/null"
grep '"kind": "agent_error"' results.jsonl | grep '"reason": "agent exited without changing train.c"' > $TMP/errors.jsonl
check "the server's 500: aider gives up, an agent failure with the server's error" \
    grep -q '"agent_output": "[^"]*InternalServerError' $TMP/errors.jsonl
check "no edit: an agent failure with the model's answer" \
    grep -q '"agent_output": "[^"]*I would not change anything' $TMP/errors.jsonl
check "an edit of fixed/prepare.h: invalid, restored" bash -c \
    "grep -q '\"description\": \"invalid: changed fixed/prepare.h: tweak the evaluation\"' results.jsonl &&
     test \"\$(cat fixed/prepare.h)\" = '// the fixed layer'"
check "a new file: invalid, removed" bash -c \
    "grep -q '\"description\": \"invalid: changed helper.h: add a header\"' results.jsonl && test ! -e helper.h"
check "every call reached the model with the harness's prompt" bash -c \
    "test \$(wc -l < $TMP/calls) -eq 6 && grep -q 'The session.s state (from' $TMP/requests.jsonl"
check "aider connected to the model server only" bash -c \
    "test -s $TMP/net.log && ! grep -v \"('127.0.0.1', $port)\" $TMP/net.log"

echo "aider_test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

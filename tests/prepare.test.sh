#!/bin/bash
# prepare.test.sh -- `autoresearch prepare / encode / decode` end to end, and their bad inputs.
set -u
cd "$(dirname "$0")/.."
AR=$PWD/autoresearch
T=$(mktemp -d /tmp/artest.prepare.XXXXXX)
trap 'rm -rf "$T"' EXIT
export AUTORESEARCH_CACHE=$T/cache
pass=0; fail=0
ok()   { pass=$((pass + 1)); echo "ok   $1"; }
bad()  { fail=$((fail + 1)); echo "FAIL $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
# runs a command that must fail with exit 1 and one line on stderr containing $2
fails_with() {
    local name=$1 needle=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ $rc -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -qF -- "$needle" "$T/err"; then ok "$name"
    else bad "$name (rc=$rc, stderr: $(head -c 300 "$T/err"))"; fi
}

# --- synthetic source: prepare, identity, idempotence ---
"$AR" prepare --source synthetic --synthetic-mb 2 --vocab 1024 -q >"$T/p1" 2>"$T/p1.err"
check "synthetic prepare succeeds" [ $? -eq 0 ]
id=$(cat "$AUTORESEARCH_CACHE/current")
D=$AUTORESEARCH_CACHE/datasets/$id
check "data set id names the source" [ "${id%%-*}" = synthetic ]
check "manifest records identity" grep -q "^tokenizer_sha256: [0-9a-f]\{64\}$" "$D/manifest.txt"
check "manifest records the entropy floor" grep -Eq "^entropy_bpb: [0-9]+\.[0-9]+$" "$D/manifest.txt"
check "shards and tokenizer written" [ -s "$D/train.bin" -a -s "$D/val.bin" -a -s "$D/test.bin" -a -s "$D/tokenizer.bin" ]
"$AR" prepare --source synthetic --synthetic-mb 2 --vocab 1024 -q >"$T/p2" 2>&1
check "second prepare does nothing and says so" grep -q "already prepared.*nothing to do" "$T/p2"
check "no temporary folders left" [ -z "$(ls "$AUTORESEARCH_CACHE/datasets" | grep tmp)" ]
check "the default synthetic source is version 4" grep -q "^formats: .*synthetic v4$" "$D/manifest.txt"
check "prepare reports per split the documents longer than a row" bash -c \
    "grep -Eq '^  train .* [0-9]+ docs longer than a row of 513$' '$T/p1' && grep -Eq '^  val .* docs longer than a row' '$T/p1' &&
     grep -Eq '^  test .* docs longer than a row' '$T/p1' && grep -q '^val_docs_longer_than_row: [0-9]' '$D/manifest.txt'"
# version 2 stays available, with the id the data sets prepared before version 3 had
"$AR" prepare --source synthetic --synthetic-version 2 --synthetic-mb 2 --vocab 1024 -q >"$T/p3" 2>/dev/null
check "--synthetic-version 2 reproduces the old data set id" grep -q "^synthetic-a45c816d9c$" "$AUTORESEARCH_CACHE/current"
check "version 2's floor is its own" grep -Eq "^entropy_bpb: 0\.7[0-9]+$" "$AUTORESEARCH_CACHE/datasets/synthetic-a45c816d9c/manifest.txt"
# and version 3, with the id its data sets had while it was the default
"$AR" prepare --source synthetic --synthetic-version 3 --synthetic-mb 2 --vocab 1024 -q >"$T/p3" 2>/dev/null
check "--synthetic-version 3 reproduces its data set id" grep -q "^synthetic-80efdee347$" "$AUTORESEARCH_CACHE/current"
fails_with "unknown synthetic version" "--synthetic-version must be 2, 3 or 4" "$AR" prepare --source synthetic --synthetic-version 9 -q
# a corpus of long documents: counted, and a val split too small for evaluate_bpb is announced
awk 'BEGIN { srand(7); for (d = 0; d < 40; d++) { for (w = 0; w < 1500; w++) printf "w%dx%d ", int(rand() * 3000), d % 7; printf "\n\n" } }' >"$T/long.txt"
"$AR" prepare --source "file:$T/long.txt" --vocab 350 -q >"$T/p4" 2>"$T/p4.err"
check "long documents are counted" grep -Eq "^  train .* docs longer than a row of 513$" "$T/p4"
check "a val split smaller than EVAL_TOKENS is announced" grep -q "the val split holds [0-9]* target tokens, fewer than EVAL_TOKENS" "$T/p4.err"

# --- encode / decode ---
printf 'Hello world, 12345 tokens!\n\xff\xfe invalid \x00 bytes \xe2\x82 end' >"$T/in.bin"
"$AR" encode <"$T/in.bin" >"$T/ids" && "$AR" decode <"$T/ids" >"$T/back.bin"
check "encode/decode round trip on arbitrary bytes" cmp -s "$T/in.bin" "$T/back.bin"
check "ids are whitespace-separated integers" grep -Eq '^[0-9]+( [0-9]+)*$' "$T/ids"
echo "5 notanumber 7" >"$T/badids"
fails_with "decode rejects a non-number" "notanumber" "$AR" decode <"$T/badids"
echo "5 99999 7" >"$T/badids"
fails_with "decode rejects an id out of range" "99999" "$AR" decode <"$T/badids"

# --- local files: jsonl.gz, txt with <|endoftext|>, --val, bad inputs ---
if [ -f ../shared/data/sotu.jsonl.gz ]; then
    "$AR" prepare --source file:../shared/data/sotu.jsonl.gz --vocab 1024 -q >"$T/p3" 2>"$T/p3.err"
    check "jsonl.gz source prepares" [ $? -eq 0 ]
    check "jsonl id names the file" grep -q "^prepared data set sotu-" "$T/p3"
fi
for i in $(seq 1 300); do printf 'Once upon a time there was a fox number %d.\nIt ran.<|endoftext|>' $i; done >"$T/stories.txt"
for i in $(seq 1 100); do printf 'A bird sang song %d in the tree.<|endoftext|>' $i; done >"$T/valid.txt"
"$AR" prepare --source "file:$T/stories.txt" --val "$T/valid.txt" --vocab 300 -q >"$T/p4" 2>&1
check "txt source with --val prepares" [ $? -eq 0 ]
check "txt split rule recorded" grep -q "^txt_split: endoftext" "$AUTORESEARCH_CACHE/datasets/$(cat "$AUTORESEARCH_CACHE/current")/manifest.txt"
check "val split comes from the val file" grep -Eq "^val_docs: (49|50|51)$" "$AUTORESEARCH_CACHE/datasets/$(cat "$AUTORESEARCH_CACHE/current")/manifest.txt"

: >"$T/empty.txt"
fails_with "empty file" "$T/empty.txt" "$AR" prepare --source "file:$T/empty.txt" -q
printf '{"text": "fine"}\n{"text": "broken\n' >"$T/bad.jsonl"
fails_with "malformed JSON names file and line" "bad.jsonl:2" "$AR" prepare --source "file:$T/bad.jsonl" -q
gzip -c "$T/stories.txt" | head -c 200 >"$T/trunc.txt.gz"
fails_with "truncated gzip" "trunc.txt.gz" "$AR" prepare --source "file:$T/trunc.txt.gz" -q
fails_with "missing file" "nope.txt" "$AR" prepare --source "file:$T/nope.txt" -q
fails_with "unknown source" "unknown --source" "$AR" prepare --source foo -q
fails_with "bad vocab" "--vocab" "$AR" prepare --source synthetic --vocab 12 -q

# --- the default source without a network falls back to synthetic, with one clear line ---
AUTORESEARCH_TINYSTORIES_URL=http://127.0.0.1:9/ "$AR" prepare --synthetic-mb 2 --vocab 1024 -q >"$T/p5" 2>"$T/p5.err"
check "unreachable network falls back to synthetic" [ $? -eq 0 ]
check "fallback is announced in one line" [ "$(grep -c 'falling back to --source synthetic' "$T/p5.err")" -eq 1 ]
check "fallback uses the synthetic data set" grep -q "^synthetic-" "$AUTORESEARCH_CACHE/current"

# --- a damaged cache is reported, never trusted ---
id=$(cat "$AUTORESEARCH_CACHE/current")
D=$AUTORESEARCH_CACHE/datasets/$id
mkdir -p "$AUTORESEARCH_CACHE/datasets/$id.tmp.999999"   # left by a killed prepare (no such pid)
"$AR" prepare --synthetic-mb 2 --vocab 1024 -q --source synthetic >/dev/null 2>&1
check "stale temporary folder removed" [ ! -e "$AUTORESEARCH_CACHE/datasets/$id.tmp.999999" ]
cp "$D/tokenizer.bin" "$T/tok.bak"
head -c 100 "$T/tok.bak" >"$D/tokenizer.bin"
fails_with "truncated tokenizer file is named" "tokenizer.bin" "$AR" encode <"$T/in.bin"
cp "$T/tok.bak" "$D/tokenizer.bin"
mv "$D/manifest.txt" "$T/manifest.bak"
fails_with "data set without manifest is incomplete" "incomplete" "$AR" encode <"$T/in.bin"
"$AR" prepare --source synthetic --synthetic-mb 2 --vocab 1024 -q >"$T/p6" 2>&1
check "prepare rebuilds an incomplete data set" grep -q "^prepared data set" "$T/p6"
echo bogus >"$AUTORESEARCH_CACHE/current"
fails_with "unknown current data set" "bogus" "$AR" encode <"$T/in.bin"
rm -rf "$AUTORESEARCH_CACHE"
fails_with "nothing prepared" "autoresearch prepare" "$AR" encode <"$T/in.bin"

"$AR" prepare --help >"$T/help" 2>&1
check "prepare --help" grep -q "^usage: autoresearch prepare" "$T/help"
echo "prepare.test: $pass passed, $fail failed"
[ $fail -eq 0 ]

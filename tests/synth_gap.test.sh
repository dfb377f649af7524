#!/bin/bash
# synth_gap.test.sh -- `autoresearch train --nll-out` and bench/synth_gap.c (the gap to the
# synthetic floor by mechanism): the dump is what val_bpb was computed from, and each kind of
# number in a known text lands in its category with its tokens' bits.
# Needs ./autoresearch, build/libclient.a and build/bench/synth_gap (make test builds them).
set -u
cd "$(dirname "$0")/.."
AR=$PWD/autoresearch GAP=$PWD/build/bench/synth_gap
passed=0; failed=0
ok()   { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
tmp=$(mktemp -d /tmp/synth-gap-test.XXXXXX)
finish() { echo "synth_gap: $passed passed, $failed failed"; rm -rf "$tmp"; [ "$failed" -eq 0 ]; exit $?; }
if [ ! -x "$AR" ] || [ ! -x "$GAP" ] || [ ! -f build/libclient.a ]; then fail "needs make all and build/bench/synth_gap"; finish; fi
export AUTORESEARCH_CACHE=$tmp/cache AUTORESEARCH_EVAL_TOKENS=4096 AUTORESEARCH_BUDGET_MODE=tokens AUTORESEARCH_BUDGET=640
"$AR" prepare --source synthetic --synthetic-mb 1 --vocab 300 -q >"$tmp/prepare.log" 2>&1 || { cat "$tmp/prepare.log"; fail "prepare"; finish; }

# 1. A real run: the dump holds EVAL_TOKENS targets and gives back the run's val_bpb.
cc -std=c11 -O1 -D_GNU_SOURCE -Ifixed -DATTACK=HONEST tests/attacks/attack.c build/libclient.a \
    -o "$tmp/honest" -lpcre2-8 -lz -lcrypto -lm -pthread 2>"$tmp/cc.log" || { cat "$tmp/cc.log"; fail "build the trainer"; finish; }
"$AR" train --trainer "$tmp/honest" --result "$tmp/result.txt" --nll-out "$tmp/nll.txt" >"$tmp/train.log" 2>&1
val=$(sed -n 's/^val_bpb: //p' "$tmp/result.txt")
[ "$(wc -l < "$tmp/nll.txt")" = 4096 ] && ok "--nll-out: one line per validation target" || fail "--nll-out: $(wc -l < "$tmp/nll.txt") lines"
"$GAP" "$tmp/nll.txt" >"$tmp/gap.txt" 2>&1
got=$(sed -n 's/.*val_bpb \([0-9.]*\),.*/\1/p' "$tmp/gap.txt")
awk -v a="$got" -v b="$val" 'BEGIN { exit !(a != "" && (a - b < 1e-4 && b - a < 1e-4)) }' \
    && ok "the dump gives back the run's val_bpb ($got, $val)" || { cat "$tmp/gap.txt"; fail "dump's val_bpb $got, the run's $val"; }
awk '/^(total|purse|amount|count|recall|text) /{ s += $NF } END { exit !(s > 99.8 && s < 100.2) }' "$tmp/gap.txt" \
    && ok "the categories' shares add up to 100%" || fail "shares: $(cat "$tmp/gap.txt")"
want_floor=$(awk '$1 == "entropy_bpb:" { printf "%.4f", $2 }' "$tmp"/cache/datasets/*/manifest.txt)
got_floor=$(sed -n 's/.*, floor \([0-9.]*\),.*/\1/p' "$tmp/gap.txt")
[ -n "$want_floor" ] && [ "$got_floor" = "$want_floor" ] && ok "the floor is the data set's ($got_floor)" \
    || fail "floor printed $got_floor, the manifest's $want_floor"

"$AR" train --trainer "$tmp/honest" --result "$tmp/bad.txt" --nll-out "$tmp/no/such/dir/nll.txt" >/dev/null 2>&1
grep -q "^fixed_error: train: --nll-out: cannot create $tmp/no/such/dir/nll.txt" "$tmp/bad.txt" && grep -q "^status: crash" "$tmp/bad.txt" \
    && ok "an unwritable --nll-out: a crash of the fixed layer, named" || fail "unwritable --nll-out: $(cat "$tmp/bad.txt")"

# 2. A known row: one number of each kind and four objects the story has fixed, every target at
# 1 nat. Their tokens, and only they, are counted in the category: bits per item = its tokens /
# ln 2. An object brought in ("with her cup") is text.
ntok() { printf '%s' "$1" | "$AR" encode | awk '{ print NF }'; }
text="Max earned 12345678 and 23456789, and had 98765432. Ella counted 42 beads and 7 cups. Lily was in the hall with her cup and 11111111 pennies. Max gave the cup to Ella and got the box. Ella, who had the box, liked the dog. She held her cup."
while [ "$(ntok "$text")" -lt 520 ]; do text="$text It was one o'clock."; done
printf '%s' "$text" | "$AR" encode | tr ' ' '\n' | sed -n '1,512p' | awk '{ print $1, 1 }' > "$tmp/row.txt"
"$GAP" "$tmp/row.txt" >"$tmp/row.out" 2>&1
bits() { awk -v k="$1" '$1 == k { print $2, $4 }' "$tmp/row.out"; }   # numbers, bits/num
want() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%d %.2f", n, t / n / log(2) }'; }   # N numbers of T tokens
[ "$(bits total)" = "$(want 1 "$(ntok 98765432)")" ] && ok "a running total" || fail "total: $(bits total), want $(want 1 "$(ntok 98765432)")"
[ "$(bits amount)" = "$(want 2 $(($(ntok 12345678) + $(ntok 23456789))))" ] && ok "two amounts earned" || fail "amount: $(bits amount)"
[ "$(bits count)" = "$(want 2 $(($(ntok 42) + $(ntok 7))))" ] && ok "two counts" || fail "count: $(bits count)"
[ "$(bits purse)" = "$(want 1 "$(ntok 11111111)")" ] && ok "a starting purse" || fail "purse: $(bits purse)"
wtok() {   # the tokens of " WORD" that start in the word (a lone space does not)
    local n=0 id
    for id in $(printf ' %s' "$1" | "$AR" encode); do [ "$(echo "$id" | "$AR" decode)" != " " ] && n=$((n + 1)); done
    echo $n
}
rtok=$(( 2 * $(wtok cup) + 2 * $(wtok box) ))
[ "$(bits recall)" = "$(want 4 $rtok)" ] && ok "four recalled objects, not the one brought in" || fail "recall: $(bits recall), want $(want 4 $rtok)"

# 3. Bad input: a dump cut inside a row is refused with one line.
head -n 100 "$tmp/row.txt" > "$tmp/cut.txt"
"$GAP" "$tmp/cut.txt" >"$tmp/cut.out" 2>&1
[ $? -ne 0 ] && grep -q "ends inside a row (100 of 512 targets)" "$tmp/cut.out" && [ "$(wc -l < "$tmp/cut.out")" = 1 ] \
    && ok "a truncated dump: one line" || fail "truncated dump: $(cat "$tmp/cut.out")"

# 4. The number floors are the data set's version's (version 4's purses: 10000000 to 99999999,
# log2 90000000 = 26.42 bits); version 3 has no purses to score and is refused.
floor_of() { awk -v k="$1" '$1 == k { print $5 }' "$2"; }
[ "$(floor_of purse "$tmp/row.out")" = "26.42" ] && ok "version 4's purse floor" || fail "v4 purse floor: $(floor_of purse "$tmp/row.out")"
"$AR" prepare --source synthetic --synthetic-version 3 --synthetic-mb 1 --vocab 300 -q >/dev/null 2>&1
"$GAP" "$tmp/row.txt" >"$tmp/v3.out" 2>&1
[ $? -ne 0 ] && grep -q "is synthetic version 3, which has no purses" "$tmp/v3.out" && [ "$(wc -l < "$tmp/v3.out")" = 1 ] \
    && ok "a version 3 data set: refused in one line" || fail "version 3: $(cat "$tmp/v3.out")"
finish

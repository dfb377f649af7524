#!/bin/bash
# scripted.sh -- a scripted "research agent" for the harness tests. Each invocation performs
# the next action listed (one a line) in the file $SCRIPT_ACTIONS, in the repository root:
#   lr:VALUE   set MATRIX_LR to VALUE in train.c (a normal experiment)
#   quiet:VALUE  the same, echoing the prompt's DESCRIPTION template but giving none
#   tamper     edit a fixed-layer file (and train.c): the harness must reject it (invalid)
#   newfile    create a new untracked file next to train.c: also rejected
#   break      make train.c not compile: crash row
#   hang       make train.c loop forever: timeout (crash) row
#   nan        make train.c diverge (NaN, FAIL, exit 1): crash row
#   slow       make train.c take 8 s, with a worse MATRIX_LR (for the kill -9 and Ctrl-C tests)
#   noop       change nothing: an agent failure, invoked again
#   fail       exit 3 after editing train.c: an agent failure, its edit undone
#   sleep      sleep 60 s (past the agent timeout): an agent failure
#   commit:VALUE  set MATRIX_LR and commit it itself (the harness folds the commit back)
#   seed:N     change only train.c's fallback seed
#   branch     commit a change on a new branch and stay there: an agent failure
#   ledger     append a fake row to results.tsv: the loop stops
#   wait       take 3 s, then set MATRIX_LR 0.03
#   peek       copy the test ledger to $PEEK_DIR/peek.txt, write $PEEK_OUTSIDE, set MATRIX_LR 0.03
#   net:P,Q    try TCP connections to 127.0.0.1 ports P and Q, write what each gave to
#              $PEEK_DIR/net.txt ("P refused": no listener; "Q denied": the sandbox), set MATRIX_LR 0.03
#   comment:N  add a comment line to train.c (a change that does nothing)
#   define:NAME=VALUE  set the tunable NAME to VALUE
# The prompt arrives on stdin; it is saved to $SCRIPT_ACTIONS.prompt.N for the tests to read.
set -u
n_file="$SCRIPT_ACTIONS.n"
n=$(cat "$n_file" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$n_file"
cat > "$SCRIPT_ACTIONS.prompt.$n"
action=$(sed -n "${n}p" "$SCRIPT_ACTIONS")
[ -n "$action" ] || action=noop
set_lr() { sed -i -E "s/^#define MATRIX_LR [0-9.e-]+/#define MATRIX_LR $1/" train.c; }
case "$action" in
    lr:*) set_lr "${action#lr:}"; echo "DESCRIPTION: set MATRIX_LR to ${action#lr:}" ;;
    quiet:*) set_lr "${action#quiet:}"
        grep -h "DESCRIPTION:" "$SCRIPT_ACTIONS.prompt.$n" ;;   # echoes its prompt, no description
    tamper) echo "// tampered" >> fixed/prepare.h; set_lr 0.021; echo "DESCRIPTION: tweak the evaluation" ;;
    newfile) echo "int x;" > helper.h; set_lr 0.022; echo "DESCRIPTION: add a header" ;;
    break) echo "this is not C" >> train.c; echo "DESCRIPTION: broken syntax" ;;
    hang) sed -i '1i #define HANG 1' train.c; echo "DESCRIPTION: infinite loop" ;;
    nan) sed -i '1i #define MAKE_NAN 1' train.c; echo "DESCRIPTION: lr way too high" ;;
    slow) sed -i '1i #define SLEEP_MS 8000' train.c; set_lr 0.08; echo "DESCRIPTION: slow run" ;;
    noop) echo "I have no idea" ;;
    fail) set_lr 0.5; echo "agent crashed" >&2; exit 3 ;;
    sleep) set_lr 0.5; sleep 60 ;;
    commit:*) set_lr "${action#commit:}"
        git -c user.name=agent -c user.email=agent@x commit -qam "agent commit" ;
        echo "DESCRIPTION: committed MATRIX_LR ${action#commit:}" ;;
    seed:*) sed -i -E "s/\? atol\(s\) : [0-9]+;/? atol(s) : ${action#seed:};/" train.c; echo "DESCRIPTION: seed ${action#seed:}" ;;
    branch) git checkout -q -b elsewhere; set_lr 0.021
        git -c user.name=agent -c user.email=agent@x commit -qam "elsewhere" ;;
    ledger) printf 'abcdef0\t0.500000\t1.0\tkeep\tfake\n' >> results.tsv; set_lr 0.03 ;;
    wait) sleep 3; set_lr 0.03; echo "DESCRIPTION: slow agent" ;;
    peek) cat .git/autoresearch/test.jsonl > "$PEEK_DIR/peek.txt" 2>/dev/null
        echo x > "$PEEK_OUTSIDE" 2>/dev/null; set_lr 0.03; echo "DESCRIPTION: peek" ;;
    net:*) : > "$PEEK_DIR/net.txt"
        for p in $(echo "${action#net:}" | tr , ' '); do
            r=$( (exec 3<>/dev/tcp/127.0.0.1/$p) 2>&1 )
            case "$r" in *refused*) echo "$p refused";; *denied*) echo "$p denied";; *) echo "$p other: $r";; esac >> "$PEEK_DIR/net.txt"
        done
        set_lr 0.03; echo "DESCRIPTION: net" ;;
    define:*) kv=${action#define:}
        sed -i -E "s/^#define ${kv%%=*} +[0-9.e-]+/#define ${kv%%=*} ${kv#*=}/" train.c; echo "DESCRIPTION: ${kv%%=*} ${kv#*=}" ;;
    comment:*) echo "// note ${action#comment:}" >> train.c; echo "DESCRIPTION: comment ${action#comment:}" ;;
    *) echo "scripted.sh: unknown action $action" >&2; exit 2 ;;
esac
exit 0

# harness_lib.sh -- sourced by the harness's shell tests (after cd to the checkout, with ROOT
# and TMP set): AR, the harness binary to test, and the helpers the tests share.
# AR: set by the caller, else, when `make test` built the sanitized libraries, the harness
# linked against them (it then runs under ASan + UBSan), else ./autoresearch.
if [ -z "${AR:-}" ] && [ -f build/san/libharness.a ] && [ -f build/san/libfixed.a ]; then
    AR=$TMP/autoresearch-san
    cc -std=c11 -O1 -g -D_GNU_SOURCE -pthread -Ifixed -Iharness -fsanitize=address,undefined \
        harness/main.c build/san/libharness.a build/san/libfixed.a -o "$AR" \
        -lseccomp -lpcre2-8 -lz -lcurl -lcrypto -lpng -lgsl -lgslcblas -lm -pthread || AR=
fi
AR=$(realpath "${AR:-./autoresearch}")
# the fake trainer runs under the real supervisor: this checkout's client library, a tiny
# synthetic data set, a short evaluation
export AR_ROOT=$ROOT AUTORESEARCH_CACHE=$TMP/cache AUTORESEARCH_EVAL_TOKENS=2048
"$AR" prepare --source synthetic --synthetic-mb 1 --vocab 300 -q >/dev/null 2>&1 || { echo "FAIL prepare"; exit 1; }
passed=0; failed=0
check() {   # check NAME COMMAND...: passes when the command succeeds
    local name=$1; shift
    if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); echo "ok   $name"
    else failed=$((failed + 1)); echo "FAIL $name"; fi
}

# A fresh scratch repository with the fake train.c, a fixed/ file and program.md, committed.
new_repo() {
    scratch_repo "$1" fake.mk
    echo "// the fixed layer" > fixed/prepare.h
    echo "# program" > program.md
    git add -A && git commit -qm "project"
}

# scratch_repo NAME MAKEFILE: cd into a fresh git repository $TMP/NAME holding the fake train.c
# (tests/agents/fake_train.c), tests/agents/MAKEFILE as its Makefile and a .gitignore for the
# harness's files; the caller adds its fixed/ files and commits.
scratch_repo() {
    mkdir -p "$TMP/$1/fixed" && cd "$TMP/$1" || exit 1
    git init -q -b main
    git config user.name test && git config user.email test@example.com
    cp "$ROOT/tests/agents/fake_train.c" train.c
    cp "$ROOT/tests/agents/$2" Makefile
    printf '/build/\n/run.log\n/results.tsv\n/results.jsonl\n/report/\n' > .gitignore
}

# ar_binary.sh -- sourced by the harness's shell tests: sets AR to the harness binary to test.
# When `make test` built the sanitized libraries, the harness itself is linked against them
# and runs under ASan + UBSan; AR set by the caller wins; else ./autoresearch. Needs $TMP.
if [ -z "${AR:-}" ] && [ -f build/san/libharness.a ] && [ -f build/san/libfixed.a ]; then
    AR=$TMP/autoresearch-san
    cc -std=c11 -O1 -g -D_GNU_SOURCE -pthread -Ifixed -Iharness -fsanitize=address,undefined \
        harness/main.c build/san/libharness.a build/san/libfixed.a -o "$AR" \
        -lpcre2-8 -lz -lcurl -lcrypto -lpng -lm -pthread || AR=
fi
AR=$(realpath "${AR:-./autoresearch}")

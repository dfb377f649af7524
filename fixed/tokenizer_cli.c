// tokenizer_cli.c -- `autoresearch encode` and `autoresearch decode` with the prepared tokenizer.
#include <errno.h>
#include <string.h>

#include "dataset.h"
#include "tokenizer.h"
#include "util.h"

static int help_requested(int argc, char **argv, const char *usage) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage, stdout); return 1; }
        die("unexpected argument '%s'\n%s", argv[i], usage);
    }
    return 0;
}

static char *read_stdin(size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) buf = xrealloc(buf, cap *= 2);
    }
    if (ferror(stdin)) die("cannot read standard input: %s", strerror(errno));
    *len = n;
    return buf;
}

int encode_main(int argc, char **argv) {
    if (help_requested(argc, argv,
                       "usage: autoresearch encode < text > ids\n"
                       "Encodes standard input (any bytes) with the prepared tokenizer and prints the token ids\n"
                       "separated by spaces, then a newline. No BOS is added.\n"))
        return 0;
    size_t len;
    char *text = read_stdin(&len);
    Tokenizer *tok = tokenizer_load_prepared();
    long cap = (long)len + 1;   // a token covers at least one byte
    int32_t *ids = xmalloc((size_t)cap * sizeof *ids);
    long n = tokenizer_encode(tok, text, len, ids, cap);
    if (n < 0) die("encode: internal error: more tokens than bytes");
    for (long i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
    printf("\n");
    free(ids);
    free(text);
    tokenizer_free(tok);
    return fflush(stdout) == 0 ? 0 : 1;
}

int decode_main(int argc, char **argv) {
    if (help_requested(argc, argv,
                       "usage: autoresearch decode < ids > text\n"
                       "Decodes whitespace-separated token ids from standard input with the prepared tokenizer\n"
                       "and writes the bytes they stand for. Special tokens (BOS) decode to nothing.\n"))
        return 0;
    size_t len;
    char *text = read_stdin(&len);
    text = xrealloc(text, len + 1);
    text[len] = 0;
    Tokenizer *tok = tokenizer_load_prepared();
    int V = tokenizer_vocab_size(tok);
    long n = 0, cap = 1024;
    int32_t *ids = xmalloc((size_t)cap * sizeof *ids);
    char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v >= V || (*end && !strchr(" \n\t\r", *end)))
            die("decode: token %ld: '%.*s' is not a token id in [0, %d)", n + 1, (int)strcspn(p, " \n\t\r"), p, V);
        if (n == cap) ids = xrealloc(ids, (size_t)(cap *= 2) * sizeof *ids);
        ids[n++] = (int32_t)v;
        p = end;
    }
    size_t outcap = 0;
    for (long i = 0; i < n; i++) outcap += (size_t)tokenizer_token_bytes(tok, ids[i]);
    char *out = xmalloc(outcap + 1);
    long nb = tokenizer_decode(tok, ids, n, out, outcap + 1);
    if (nb < 0) die("decode: internal error: output larger than the token byte counts");
    fwrite(out, 1, (size_t)nb, stdout);
    free(out); free(ids); free(text);
    tokenizer_free(tok);
    return fflush(stdout) == 0 ? 0 : 1;
}

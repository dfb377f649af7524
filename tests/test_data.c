// test_data.c -- shards, best-fit packing, the dataloader, evaluate_bpb, the budget, the summary.
#include <math.h>
#include <sys/wait.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset.h"
#include "docs.h"
#include "pack.h"
#include "prepare.h"
#include "shard.h"
#include "testlib.h"
#include "tokenizer.h"
#include "util.h"

#define BOS 99
#define V 128
#define TV 280   // vocabulary of the small tokenizer of make_dataset

static char *tmp;

// Tokens for documents of the given lengths: doc k is BOS, 1000 + 10k + 1, ... (distinct per doc).
static uint16_t *make_docs(const int *lens, int n, uint64_t *ntok) {
    uint64_t total = 0;
    for (int i = 0; i < n; i++) total += (uint64_t)lens[i];
    uint16_t *t = malloc(total * sizeof *t);
    uint64_t p = 0;
    for (int k = 0; k < n; k++) {
        t[p++] = BOS;
        for (int j = 1; j < lens[k]; j++) t[p++] = (uint16_t)((k * 7 + j) % BOS);   // never BOS, always < vocab
    }
    *ntok = total;
    return t;
}

static void write_shard(const char *name, const uint16_t *t, uint64_t n, Shard *s) {
    char err[512];
    char *path = xasprintf("%s/%s", tmp, name);
    CHECK(shard_write(path, t, n, V, BOS, err, sizeof err) == 0);
    CHECK_MSG(shard_open(path, s, err, sizeof err) == 0, "%s", err);
    free(path);
}

// ----------------------------------------------------------------------------
// Shards

static void test_shard_roundtrip(void) {
    int lens[] = {3, 1, 7, 2};
    uint64_t n;
    uint16_t *t = make_docs(lens, 4, &n);
    Shard s;
    write_shard("a.bin", t, n, &s);
    CHECK(s.n_tokens == n && s.n_docs == 4 && s.vocab_size == V && s.bos_id == BOS);
    CHECK(memcmp(s.tokens, t, n * 2) == 0);
    CHECK(s.doc_start[0] == 0 && s.doc_start[1] == 3 && s.doc_start[2] == 4 && s.doc_start[3] == 11 && s.doc_start[4] == n);
    shard_close(&s);
    free(t);
}

static int open_fails_with(const char *path, const char *needle) {
    Shard s;
    char err[512] = "";
    int rc = shard_open(path, &s, err, sizeof err);
    if (rc == 0) { shard_close(&s); return 0; }
    int ok = strstr(err, needle) != NULL && strstr(err, path) != NULL && !strchr(err, '\n');
    if (!ok) fprintf(stderr, "  unexpected error text: %s\n", err);
    return ok;
}

static void test_shard_corruption(void) {
    int lens[] = {5, 5, 5};
    uint64_t n;
    uint16_t *t = make_docs(lens, 3, &n);
    char err[512];
    char *path = xasprintf("%s/c.bin", tmp);
    CHECK(shard_write(path, t, n, V, BOS, err, sizeof err) == 0);
    size_t len;
    char *bytes = read_file(path, &len);
    CHECK(len == SHARD_HEADER_BYTES + 2 * n);
    // truncated by one byte, by a whole token, and to half its header
    CHECK(write_file_atomic(path, bytes, len - 1, err, sizeof err) == 0);
    CHECK(open_fails_with(path, "truncated"));
    CHECK(write_file_atomic(path, bytes, len - 2, err, sizeof err) == 0);
    CHECK(open_fails_with(path, "truncated"));
    CHECK(write_file_atomic(path, bytes, 20, err, sizeof err) == 0);
    CHECK(open_fails_with(path, "header"));
    // a flipped token
    bytes[SHARD_HEADER_BYTES + 6] ^= 1;
    CHECK(write_file_atomic(path, bytes, len, err, sizeof err) == 0);
    CHECK(open_fails_with(path, "checksum"));
    bytes[SHARD_HEADER_BYTES + 6] ^= 1;
    // wrong magic, future version
    bytes[0] = 'X';
    CHECK(write_file_atomic(path, bytes, len, err, sizeof err) == 0);
    CHECK(open_fails_with(path, "magic"));
    bytes[0] = 'A';
    bytes[7] = 9;
    CHECK(write_file_atomic(path, bytes, len, err, sizeof err) == 0);
    CHECK(open_fails_with(path, "version"));
    bytes[7] = 1;
    CHECK(write_file_atomic(path, bytes, len, err, sizeof err) == 0);
    Shard s;
    CHECK(shard_open(path, &s, err, sizeof err) == 0);
    shard_close(&s);
    // ids out of range, a first token that is not BOS (checksums made valid by shard_write)
    t[1] = V + 3;
    CHECK(shard_write(path, t, n, V, BOS, err, sizeof err) == 0);
    CHECK(open_fails_with(path, ">= vocabulary size"));
    t[1] = 1;
    CHECK(shard_write(path, t + 1, n - 1, V, BOS, err, sizeof err) == 0);
    CHECK(open_fails_with(path, "not BOS"));
    CHECK(open_fails_with("/nonexistent/x.bin", "cannot open"));
    free(bytes);
    free(path);
    free(t);
}

// ----------------------------------------------------------------------------
// Packing

// The rule written out as plainly as possible: a list of buffered documents, refilled to
// PACK_BUFFER_DOCS in stored order (no shuffle) from the current pass; largest that fits,
// else crop the shortest. keep_long 0 is the original's rule (every crop's rest dropped);
// 1 keeps the rest of a document longer than a row, or of a continuation, in its place as
// BOS + the rest.
static uint64_t ref_len(const Shard *s, const uint64_t *e) {
    uint64_t n = s->doc_start[e[0] + 1] - s->doc_start[e[0]];
    return e[1] ? 1 + n - e[1] : n;
}
static void reference_rows(const Shard *s, int T, int nrows, int32_t *out, int keep_long) {
    uint64_t (*buf)[2] = malloc(PACK_BUFFER_DOCS * sizeof *buf);   // {doc, offset}
    int nbuf = 0;
    uint64_t next = 0;
    for (int r = 0; r < nrows; r++) {
        int32_t *row = out + (size_t)r * (T + 1);
        int pos = 0;
        while (pos < T + 1) {
            if (nbuf == 0 && next == s->n_docs) next = 0;
            while (nbuf < PACK_BUFFER_DOCS && next < s->n_docs) { buf[nbuf][0] = next++; buf[nbuf][1] = 0; nbuf++; }
            int remaining = T + 1 - pos, pick = -1;
            for (int i = 0; i < nbuf; i++)
                if (ref_len(s, buf[i]) <= (uint64_t)remaining && (pick < 0 || ref_len(s, buf[i]) > ref_len(s, buf[pick]))) pick = i;
            int take, keep = 0;
            if (pick < 0) {
                pick = 0;
                for (int i = 1; i < nbuf; i++)
                    if (ref_len(s, buf[i]) < ref_len(s, buf[pick])) pick = i;
                take = remaining;
                keep = keep_long && (buf[pick][1] > 0 || ref_len(s, buf[pick]) > (uint64_t)(T + 1));
            } else take = (int)ref_len(s, buf[pick]);
            const uint16_t *src = s->tokens + s->doc_start[buf[pick][0]];
            for (int j = 0; j < take; j++)
                row[pos + j] = buf[pick][1] == 0 ? src[j] : j == 0 ? (int32_t)s->bos_id : src[buf[pick][1] + j - 1];
            pos += take;
            if (keep) { buf[pick][1] = buf[pick][1] ? buf[pick][1] + take - 1 : (uint64_t)take; continue; }
            for (int i = pick; i + 1 < nbuf; i++) { buf[i][0] = buf[i + 1][0]; buf[i][1] = buf[i + 1][1]; }
            nbuf--;
        }
    }
    free(buf);
}

static void test_pack_hand_example(void) {
    // documents of 5, 3, 8, 2 tokens; rows of 12 (T = 11):
    // the largest that fits is the 8, then the 3 (4 left), then nothing fits 1: the shortest (2) is cropped.
    int lens[] = {5, 3, 8, 2};
    uint64_t n;
    uint16_t *t = make_docs(lens, 4, &n);
    Shard s;
    write_shard("hand.bin", t, n, &s);
    Packer p;
    packer_init(&p, &s, 0, 0);
    int32_t row[12];
    packer_row(&p, 11, row);
    int32_t want[12];
    int k = 0;
    for (int j = 0; j < 8; j++) want[k++] = t[8 + j];    // doc 2 starts at 5+3
    for (int j = 0; j < 3; j++) want[k++] = t[5 + j];    // doc 1
    want[k++] = t[16];                                    // doc 3's first token (BOS)
    CHECK(memcmp(row, want, sizeof want) == 0);
    // a document longer than a row is cropped to the row
    packer_free(&p);
    shard_close(&s);
    int big[] = {20};
    free(t);
    t = make_docs(big, 1, &n);
    write_shard("big.bin", t, n, &s);
    packer_init(&p, &s, 0, 0);
    packer_row(&p, 11, row);
    for (int j = 0; j < 12; j++) CHECK(row[j] == t[j]);
    packer_free(&p);
    shard_close(&s);
    free(t);
}

static void test_pack_invariants(void) {
    // A corpus of short documents (2..129 tokens, rows of 129) is packed exactly by the
    // original's rule; a mixed one (2..300) by the rule that keeps long documents whole.
    enum { ND = 3000, T = 128, ROWS = 400 };
    int lens[ND];
    uint64_t r = 12345;
    for (int i = 0; i < ND; i++) { r = r * 6364136223846793005ull + 1442695040888963407ull; lens[i] = 2 + (int)((r >> 33) % 128); }
    uint64_t n;
    uint16_t *t = make_docs(lens, ND, &n);
    Shard s;
    write_shard("short.bin", t, n, &s);
    int32_t *got = malloc(sizeof(int32_t) * ROWS * (T + 1)), *want = malloc(sizeof(int32_t) * ROWS * (T + 1));
    Packer p;
    packer_init(&p, &s, 0, 0);
    for (int i = 0; i < ROWS; i++) packer_row(&p, T, got + (size_t)i * (T + 1));
    reference_rows(&s, T, ROWS, want, 0);
    CHECK(memcmp(got, want, sizeof(int32_t) * ROWS * (T + 1)) == 0);
    packer_free(&p);
    shard_close(&s);
    free(t);

    for (int i = 0; i < ND; i++) { r = r * 6364136223846793005ull + 1442695040888963407ull; lens[i] = 2 + (int)((r >> 33) % 299); }
    t = make_docs(lens, ND, &n);
    write_shard("inv.bin", t, n, &s);
    packer_init(&p, &s, 0, 0);
    for (int i = 0; i < ROWS; i++) packer_row(&p, T, got + (size_t)i * (T + 1));
    reference_rows(&s, T, ROWS, want, 1);
    CHECK(memcmp(got, want, sizeof(int32_t) * ROWS * (T + 1)) == 0);
    reference_rows(&s, T, ROWS, want, 0);   // and the original's would differ here
    CHECK(memcmp(got, want, sizeof(int32_t) * ROWS * (T + 1)) != 0);
    int bos_first = 1;
    for (int i = 0; i < ROWS; i++) bos_first &= got[(size_t)i * (T + 1)] == BOS;
    CHECK(bos_first);
    packer_free(&p);
    // shuffled: same invariants, deterministic for a seed, different across seeds, epochs advance
    Packer a, b, c;
    packer_init(&a, &s, 1, 7);
    packer_init(&b, &s, 1, 7);
    packer_init(&c, &s, 1, 8);
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 4000; i++) {
        packer_row(&a, T, got);
        packer_row(&b, T, want);
        same_ab &= memcmp(got, want, sizeof(int32_t) * (T + 1)) == 0;
        CHECK(got[0] == BOS);
        packer_row(&c, T, want);
        same_ac &= memcmp(got, want, sizeof(int32_t) * (T + 1)) == 0;
    }
    CHECK(same_ab);
    CHECK(!same_ac);
    CHECK(a.epoch >= 2);   // 4000 rows x 129 tokens is more than the ~450K tokens of one pass
    packer_free(&a); packer_free(&b); packer_free(&c);
    shard_close(&s);
    free(got); free(want); free(t);
}

// A corpus of a few long documents (every one longer than a row, as in books or speeches),
// every token id distinct so that each token can be followed: one pass of evaluation rows
// is all distinct rows covering the whole split, and training sees every token once per epoch.
static void test_pack_long_documents(void) {
    enum { ND = 5, T = 128, CAP = T + 1, LV = 60000, LBOS = LV - 1 };
    int lens[ND] = { 3000, 700, 9001, 1290, 4444 };
    uint64_t n = 0;
    for (int k = 0; k < ND; k++) n += (uint64_t)lens[k];
    uint16_t *t = malloc(n * sizeof *t);
    uint64_t pos = 0;
    uint16_t id = 1;
    for (int k = 0; k < ND; k++) {
        t[pos++] = LBOS;
        for (int j = 1; j < lens[k]; j++) t[pos++] = id++;
    }
    char err[512];
    char *path = xasprintf("%s/long.bin", tmp);
    CHECK(shard_write(path, t, n, LV, LBOS, err, sizeof err) == 0);
    Shard s;
    CHECK(shard_open(path, &s, err, sizeof err) == 0);
    int *seen = calloc(LV, sizeof *seen);
    int32_t row[CAP];

    // evaluation: stored order, one pass
    Packer p;
    packer_init(&p, &s, 0, 0);
    p.one_pass = 1;
    long rows = 0, bos_extra = 0, dup = 0, short_rows = 0;
    int k;
    while ((k = packer_row(&p, T, row)) > 0) {
        CHECK(row[0] == LBOS);
        for (int i = 0; i < k; i++) {
            if (row[i] == LBOS) { bos_extra++; continue; }
            dup += seen[row[i]]++ > 0;
        }
        if (k == CAP) rows++; else short_rows++;
    }
    int missing = 0;
    for (int i = 1; i < id; i++) missing += seen[i] == 0;
    CHECK(dup == 0 && missing == 0);                   // every token once: rows all distinct, the split covered
    CHECK(short_rows == 1 && rows == (long)((n + bos_extra - ND) / CAP));   // one last partial row, no padding
    CHECK(p.epoch == 1);
    CHECK(packer_row(&p, T, row) == 0);                // and then nothing: no second pass
    packer_free(&p);

    // training: shuffled; the rows made wholly in the first epoch hold each token at most once,
    // and the ones missing from them are in the row where the second epoch began
    memset(seen, 0, LV * sizeof *seen);
    packer_init(&p, &s, 1, 3);
    dup = 0;
    for (;;) {
        packer_row(&p, T, row);
        if (p.epoch > 1) break;
        for (int i = 0; i < CAP; i++)
            if (row[i] != LBOS) dup += seen[row[i]]++ > 0;
    }
    for (int i = 0; i < CAP; i++)
        if (row[i] != LBOS && !seen[row[i]]) seen[row[i]] = -1;   // the straddling row's first-epoch part
    missing = 0;
    for (int i = 1; i < id; i++) missing += seen[i] == 0;
    CHECK(dup == 0 && missing == 0);
    // and the second epoch is a new order over the same tokens
    for (int r = 0; r < 20; r++) {
        packer_row(&p, T, row);
        for (int i = 0; i < CAP; i++) CHECK(row[i] == LBOS || row[i] < id);
    }
    packer_free(&p);
    shard_close(&s);
    free(seen); free(t); free(path);
}

// ----------------------------------------------------------------------------
// A prepared data set in a temporary cache: shards written directly, a small real tokenizer.

static Tokenizer *make_dataset(int ndocs) {
    setenv("AUTORESEARCH_CACHE", tmp, 1);
    char *dir = xasprintf("%s/datasets/test-1", tmp);
    CHECK(mkdir_p(dir) == 0);
    DocSet docs;
    docset_init(&docs);
    uint64_t r = 1;
    const char *words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away", "home"};
    for (int d = 0; d < ndocs; d++) {
        char text[2048];
        size_t len = 0;
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        int nw = 5 + (int)((r >> 33) % 120);
        for (int w = 0; w < nw; w++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", w ? " " : "", words[(r >> 33) % 12]);
        }
        docset_add(&docs, text, len);
    }
    char err[512];
    Tokenizer *tok = tokenizer_train(&docs, TV, 1, err, sizeof err);
    CHECK_MSG(tok != NULL, "%s", err);
    if (!tok) exit(1);
    char *path = xasprintf("%s/tokenizer.bin", dir);
    CHECK(tokenizer_save(tok, path, err, sizeof err) == 0);
    free(path);
    uint16_t *ids;
    size_t n;
    CHECK(tokenizer_encode_docs(tok, &docs, &ids, &n, 1, err, sizeof err) == 0);
    const char *names[] = {"train", "val", "test"};
    for (int s = 0; s < 3; s++) {
        path = xasprintf("%s/%s.bin", dir, names[s]);
        CHECK(shard_write(path, ids, n, TV, (uint32_t)tokenizer_bos(tok), err, sizeof err) == 0);
        free(path);
    }
    path = xasprintf("%s/manifest.txt", dir);
    const char *m = "id: test-1\nsource: test\n";
    CHECK(write_file_atomic(path, m, strlen(m), err, sizeof err) == 0);
    free(path);
    path = xasprintf("%s/current", tmp);
    CHECK(write_file_atomic(path, "test-1\n", 7, err, sizeof err) == 0);
    free(path);
    free(ids);
    docset_free(&docs);
    free(dir);
    return tok;
}

static void test_dataloader(void) {
    Tokenizer *tok = make_dataset(1500);
    const int B = 4, T = 64;
    DataLoader *a = dataloader_open(B, T, 42), *b = dataloader_open(B, T, 42);
    int32_t *x = malloc(sizeof(int32_t) * B * T), *y = malloc(sizeof(int32_t) * B * T);
    int32_t *x2 = malloc(sizeof(int32_t) * B * T), *y2 = malloc(sizeof(int32_t) * B * T);
    int same = 1, shifted = 1, bos = 1, inrange = 1;
    for (int step = 0; step < 300; step++) {
        dataloader_next(a, x, y);
        dataloader_next(b, x2, y2);
        same &= !memcmp(x, x2, sizeof(int32_t) * B * T) && !memcmp(y, y2, sizeof(int32_t) * B * T);
        for (int r = 0; r < B; r++) {
            bos &= x[r * T] == tokenizer_bos(tok);
            for (int t = 0; t + 1 < T; t++) shifted &= y[r * T + t] == x[r * T + t + 1];
            for (int t = 0; t < T; t++) inrange &= x[r * T + t] >= 0 && x[r * T + t] < TV && y[r * T + t] >= 0 && y[r * T + t] < TV;
        }
    }
    CHECK(same);
    CHECK(shifted);
    CHECK(bos);
    CHECK(inrange);
    CHECK(dataloader_epoch(a) == 1);   // 300 x 4 x 65 tokens: less than one pass over the ~190K
    for (int step = 300; step < 1000; step++) dataloader_next(a, x, y);
    CHECK(dataloader_epoch(a) == 2);   // 1000 x 4 x 65 tokens: more than one, less than two
    dataloader_close(a);
    dataloader_close(b);
    free(x); free(y); free(x2); free(y2);
    tokenizer_free(tok);
}

// A uniform model: NLL = ln(V) for every token. bpb must be ln(V)/ln(2) * scored tokens / bytes.
static int uniform_V;
static long uniform_calls;
static void uniform_nll(void *ctx, const int32_t *inputs, const int32_t *targets, int B, int T, float *nll) {
    (void)inputs; (void)targets; (void)ctx;
    uniform_calls++;
    for (int i = 0; i < B * T; i++) nll[i] = logf((float)uniform_V);
}

static void test_evaluate_uniform(void) {
    Tokenizer *tok = make_dataset(5000);   // val must hold EVAL_TOKENS targets
    uniform_V = 300;
    uniform_calls = 0;
    const int B = 8;
    char *rf = xasprintf("%s/result.txt", tmp);
    setenv("AUTORESEARCH_RESULT_FILE", rf, 1);
    double bpb = evaluate_bpb(uniform_nll, NULL, B);
    unsetenv("AUTORESEARCH_RESULT_FILE");
    // the expected value from the same rows, computed here
    Shard s;
    dataset_open_split(SPLIT_VAL, &s);
    Packer p;
    packer_init(&p, &s, 0, 0);
    int32_t *row = malloc(sizeof(int32_t) * (MAX_SEQ_LEN + 1));
    double tokens = 0, bytes = 0;
    for (long r = 0; r < EVAL_TOKENS / MAX_SEQ_LEN; r++) {
        packer_row(&p, MAX_SEQ_LEN, row);
        for (int t = 1; t <= MAX_SEQ_LEN; t++) {
            int nb = tokenizer_token_bytes(tok, row[t]);
            if (nb) { tokens++; bytes += nb; }
        }
    }
    double want = log(300.0) / log(2.0) * tokens / bytes;
    CHECK_NEAR(bpb, want, 1e-4 * want);
    CHECK(uniform_calls == 2L * EVAL_TOKENS / (B * MAX_SEQ_LEN));   // val and test
    char *res = read_file(rf, NULL);
    CHECK(res && strstr(res, "val_bpb: ") && strstr(res, "test_bpb: ") && strstr(res, "dataset: test-1"));
    free(res); free(rf); free(row);
    packer_free(&p);
    shard_close(&s);
    tokenizer_free(tok);
}

// A val split with fewer targets than EVAL_TOKENS is refused with one line naming the numbers
// (a metric that repeats its rows is not a metric).
static void test_evaluate_refuses_small_val(void) {
    Tokenizer *tok = make_dataset(1500);   // about 190K tokens per split
    char *errpath = xasprintf("%s/refuse.err", tmp);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(errpath, "w", stderr)) _exit(3);
        uniform_V = 300;
        evaluate_bpb(uniform_nll, NULL, 8);
        _exit(0);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    char *msg = read_file(errpath, NULL);
    CHECK_MSG(msg && strstr(msg, "the val split holds ") && strstr(msg, "target tokens, fewer than EVAL_TOKENS (524288)") &&
              strchr(msg, '\n') == msg + strlen(msg) - 1, "got: %s", msg ? msg : "(nothing)");
    free(msg); free(errpath);
    tokenizer_free(tok);
}

static void test_budget(void) {
    setenv("AUTORESEARCH_BUDGET_MODE", "tokens", 1);
    setenv("AUTORESEARCH_BUDGET", "1000", 1);
    budget_begin();
    int done = 0, steps = 0;
    while (!done) { done = budget_step(100, 1e6); steps++; }
    CHECK(steps == 10);
    CHECK_NEAR(budget_progress(), 1.0, 1e-12);
    unsetenv("AUTORESEARCH_BUDGET_MODE");
    unsetenv("AUTORESEARCH_BUDGET");
}

// The progress file: written on the first step (the throttle starts open), then at most once
// a second, and always after the last step, with the steps, tokens and loss the harness shows.
static void test_budget_progress_file(void) {
    char *pf = xasprintf("%s/progress.txt", tmp);
    unlink(pf);
    setenv("AUTORESEARCH_BUDGET_MODE", "tokens", 1);
    setenv("AUTORESEARCH_BUDGET", "1000", 1);
    setenv("AUTORESEARCH_PROGRESS_FILE", pf, 1);
    budget_begin();
    budget_report_loss(3.25);
    budget_step(100, 1e6);
    char *t = read_file(pf, NULL);
    CHECK_MSG(t && strstr(t, "step: 1\n") && strstr(t, "tokens: 100\n") && strstr(t, "loss: 3.250000\n") &&
              strstr(t, "done: 0\n") && strstr(t, "budget_mode: tokens\n"), "got:\n%s", t ? t : "(none)");
    free(t);
    budget_report_loss(2.5);
    for (int i = 0; i < 4; i++) budget_step(100, 1e6);
    t = read_file(pf, NULL);   // within the second: not rewritten
    CHECK_MSG(t && strstr(t, "step: 1\n"), "got:\n%s", t ? t : "(none)");
    free(t);
    int done = 0;
    while (!done) done = budget_step(100, 1e6);
    t = read_file(pf, NULL);
    CHECK_MSG(t && strstr(t, "step: 10\n") && strstr(t, "tokens: 1000\n") && strstr(t, "progress: 1.000000\n") &&
              strstr(t, "done: 1\n") && strstr(t, "loss: 2.500000\n") && strstr(t, "tokens_per_sec: "),
              "got:\n%s", t ? t : "(none)");
    free(t);
    unsetenv("AUTORESEARCH_PROGRESS_FILE");
    unsetenv("AUTORESEARCH_BUDGET_MODE");
    unsetenv("AUTORESEARCH_BUDGET");
    free(pf);
}

static void test_run_seed(void) {
    unsetenv("AUTORESEARCH_SEED");
    CHECK(run_seed(1337) == 1337);
    setenv("AUTORESEARCH_SEED", "42", 1);
    CHECK(run_seed(1337) == 42);
    unsetenv("AUTORESEARCH_SEED");
}

static void test_summary_format(void) {
    // the summary labels start at column 1 and every value at column 19, as the original's
    fflush(stdout);
    char *path = xasprintf("%s/summary.txt", tmp);
    FILE *saved = stdout;
    stdout = fopen(path, "w");
    Summary s = {.val_bpb = 0.9979, .training_seconds = 300.1, .total_seconds = 325.9, .peak_vram_mb = 45060.2,
                 .mfu_percent = 39.8, .total_tokens_M = 499.6, .num_steps = 953, .num_params_M = 50.3, .depth = 8};
    print_summary(&s);
    fclose(stdout);
    stdout = saved;
    char *text = read_file(path, NULL);
    const char *want = "---\nval_bpb:          0.997900\ntraining_seconds: 300.1\n"
                       "total_seconds:    325.9\npeak_vram_mb:     45060.2\nmfu_percent:      39.80\n"
                       "total_tokens_M:   499.6\nnum_steps:        953\nnum_params_M:     50.3\n"
                       "depth:            8\ndataset:          test-1\n";
    CHECK_MSG(text && !strncmp(text, want, strlen(want)), "got:\n%s", text ? text : "(nothing)");
    free(text);
    free(path);
}

int main(void) {
    tmp = tl_tmpdir();
    RUN_TEST(test_shard_roundtrip);
    RUN_TEST(test_shard_corruption);
    RUN_TEST(test_pack_hand_example);
    RUN_TEST(test_pack_invariants);
    RUN_TEST(test_pack_long_documents);
    RUN_TEST(test_dataloader);
    RUN_TEST(test_evaluate_uniform);
    RUN_TEST(test_evaluate_refuses_small_val);
    RUN_TEST(test_budget);
    RUN_TEST(test_budget_progress_file);
    RUN_TEST(test_run_seed);
    RUN_TEST(test_summary_format);
    remove_tree(tmp);
    free(tmp);
    TEST_MAIN_END("test_data");
}

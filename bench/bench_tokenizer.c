// bench_tokenizer.c -- BPE tokenizer: training and encoding throughput, against the peers
// rustbpe (training) and tiktoken (encoding with our vocabulary), on the same text.
//
//   build/bench/bench_tokenizer [--data FILE.jsonl.gz] [--docs N] [--vocab V] [--no-peers]
// Defaults: ../shared/data/imdb-train.jsonl.gz (all ~98 MB), vocab VOCAB_SIZE, 2 threads
// (AUTORESEARCH_THREADS overrides). The peers run from bench/peers/tokenizer_peers.py (Python,
// a venv under build/); if that is not possible they are reported as skipped.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "docs.h"
#include "tokenizer.h"
#include "util.h"

static const char *usage =
    "usage: bench_tokenizer [--data FILE.jsonl.gz] [--docs N] [--vocab V] [--no-peers]\n";

typedef struct { char key[64]; char val[256]; } KV;
static KV peer[32];
static int npeer;

// CPU seconds of this process, all threads: the machine is shared, so next to wall time we
// report CPU time, which other load disturbs much less.
static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static const char *peer_get(const char *key) {
    for (int i = 0; i < npeer; i++)
        if (!strcmp(peer[i].key, key)) return peer[i].val;
    return NULL;
}

int main(int argc, char **argv) {
    const char *data = "../shared/data/imdb-train.jsonl.gz";
    long max_docs = 0;
    int vocab = VOCAB_SIZE, peers = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--docs") && i + 1 < argc) max_docs = atol(argv[++i]);
        else if (!strcmp(argv[i], "--vocab") && i + 1 < argc) vocab = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-peers")) peers = 0;
        else { fputs(usage, strcmp(argv[i], "--help") ? stderr : stdout); return strcmp(argv[i], "--help") ? 1 : 0; }
    }
    setenv("AUTORESEARCH_THREADS", "2", 0);
    int threads = num_threads();
    char err[512];
    if (!file_exists(data)) { printf("bench_tokenizer skipped: %s not found\n", data); return 0; }
    DocSet docs;
    docset_init(&docs);
    if (read_docs_file(data, TXT_SPLIT_AUTO, &docs, NULL, err, sizeof err) != 0) die("%s", err);
    if (max_docs > 0 && (size_t)max_docs < docs.n) docs.n = (size_t)max_docs;
    double mb = (double)docs.off[docs.n] / 1e6;
    printf("text: %s, %zu documents, %.1f MB; vocab %d; %d threads\n", data, docs.n, mb, vocab, threads);

    // training: best of 2
    Tokenizer *tok = NULL;
    double t_train = 1e30, c_train = 1e30;
    for (int r = 0; r < 2; r++) {
        double t0 = now_seconds(), c0 = cpu_seconds();
        Tokenizer *t = tokenizer_train(&docs, vocab, 1, err, sizeof err);
        double dt = now_seconds() - t0, dc = cpu_seconds() - c0;
        if (!t) die("%s", err);
        if (dt < t_train) t_train = dt;
        if (dc < c_train) c_train = dc;
        if (tok) tokenizer_free(tok);
        tok = t;
    }
    mkdir_p("build/bench");
    const char *vpath = "build/bench/tokenizer_bench.bin";
    if (tokenizer_save(tok, vpath, err, sizeof err) != 0) die("%s", err);
    printf("ours  train:  %7.2f s  %6.1f MB/s  (%.2f CPU s)\n", t_train, mb / t_train, c_train);

    // encoding: best of 2 on all threads, then 1 thread
    uint16_t *ids = NULL;
    size_t n = 0;
    double t_enc = 1e30, c_enc = 1e30, t_enc1 = 1e30;
    for (int r = 0; r < 3; r++) {
        if (r == 2) setenv("AUTORESEARCH_THREADS", "1", 1);
        free(ids);
        double t0 = now_seconds(), c0 = cpu_seconds();
        if (tokenizer_encode_docs(tok, &docs, &ids, &n, 1, err, sizeof err) != 0) die("%s", err);
        double dt = now_seconds() - t0, dc = cpu_seconds() - c0;
        if (r < 2 && dt < t_enc) t_enc = dt;
        if (r < 2 && dc < c_enc) c_enc = dc;
        if (r == 2) t_enc1 = dt;
    }
    char tmp[16];
    snprintf(tmp, sizeof tmp, "%d", threads);
    setenv("AUTORESEARCH_THREADS", tmp, 1);
    char sha[65];
    sha256_hex(ids, n * sizeof(uint16_t), sha);
    printf("ours  encode: %7.2f s  %6.1f MB/s  (%.2f CPU s; %d threads; 1 thread: %.1f MB/s)\n", t_enc,
           mb / t_enc, c_enc, threads, mb / t_enc1);
    printf("ours  tokens: %zu incl. %zu BOS, %.3f bytes/token\n", n, docs.n, (double)docs.off[docs.n] / (double)(n - docs.n));

    if (peers) {
        char *cmd = xasprintf("python3 bench/peers/tokenizer_peers.py --data '%s' --ours '%s' --threads %d --docs %zu 2>&1",
                              data, vpath, threads, docs.n);
        FILE *p = popen(cmd, "r");
        char line[512];
        while (p && fgets(line, sizeof line, p)) {
            fputs(line, stdout);
            char *c = strstr(line, ": ");
            if (!c || npeer == 32 || c - line >= 64) continue;
            KV *kv = &peer[npeer++];
            snprintf(kv->key, sizeof kv->key, "%.*s", (int)(c - line), line);
            snprintf(kv->val, sizeof kv->val, "%s", c + 2);
            kv->val[strcspn(kv->val, "\n")] = 0;
        }
        int rc = p ? pclose(p) : -1;
        if (rc != 0 && !peer_get("peer skipped")) printf("peer skipped: the peer script failed (status %d)\n", rc);
        free(cmd);
        const char *tr = peer_get("rustbpe_train_s"), *te = peer_get("tiktoken_encode_s");
        const char *ctr = peer_get("rustbpe_train_cpu_s"), *cte = peer_get("tiktoken_encode_cpu_s");
        if (tr && ctr) {
            double s = atof(tr), c = atof(ctr);
            printf("rustbpe  train:  %6.2f s  %6.1f MB/s  (%.2f CPU s)\n", s, mb / s, c);
            printf("  ours/rustbpe training speed: %.2fx wall, %.2fx CPU time\n", s / t_train, c / c_train);
        }
        if (te && cte) {
            double s = atof(te), c = atof(cte);
            printf("tiktoken encode: %6.2f s  %6.1f MB/s  (%.2f CPU s)\n", s, mb / s, c);
            printf("  ours/tiktoken encoding speed: %.2fx wall, %.2fx CPU time\n", s / t_enc, c / c_enc);
            const char *ts = peer_get("tiktoken_ids_sha256");
            printf("tiktoken ids identical to ours: %s\n", ts && !strcmp(ts, sha) ? "yes" : "NO");
        }
    }
    free(ids);
    tokenizer_free(tok);
    docset_free(&docs);
    return 0;
}

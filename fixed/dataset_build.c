// dataset_build.c -- building one prepared data set, for `autoresearch prepare`
// (dataset_prepare.c): reads or generates the documents, holds out val and test, trains the
// tokenizer, writes the shards and, last, the manifest, in a temporary folder renamed into
// place when complete.
#include "dataset_impl.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "synth.h"
#include "tokenizer.h"
#include "util.h"

#define TOKENIZER_MAX_BYTES (128ull << 20)   // tokenizer training text: the first 128 MB of train
#define SYNTH_SEED_TRAIN 1
#define SYNTH_SEED_VAL 2
#define SYNTH_SEED_TEST 3

// ----------------------------------------------------------------------------
// Splitting a corpus into train / val / test

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

typedef struct { uint64_t hash; size_t idx; } HashIdx;
static int cmp_hash(const void *a, const void *b) {
    const HashIdx *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

// Moves documents of src into the held-out sets, in hash order: the first into val until it
// holds max_bytes, then into test likewise; the rest go to rest (may be NULL: dropped).
static void holdout(const DocSet *src, size_t max_bytes, DocSet *val, DocSet *test, DocSet *rest) {
    HashIdx *hi = xmalloc(src->n * sizeof *hi);
    for (size_t i = 0; i < src->n; i++) {
        size_t len;
        const char *d = docset_doc(src, i, &len);
        hi[i] = (HashIdx){fnv1a(d, len), i};
    }
    qsort(hi, src->n, sizeof *hi, cmp_hash);
    char *side = xcalloc(src->n, 1);   // 1 val, 2 test, 0 rest
    size_t vb = 0, tb = 0;
    for (size_t k = 0; k < src->n; k++) {
        size_t len = src->off[hi[k].idx + 1] - src->off[hi[k].idx];
        if (vb < max_bytes) { side[hi[k].idx] = 1; vb += len; }
        else if (tb < max_bytes) { side[hi[k].idx] = 2; tb += len; }
        else break;
    }
    for (size_t i = 0; i < src->n; i++) {   // keep the original order within each split
        size_t len;
        const char *d = docset_doc(src, i, &len);
        DocSet *dst = side[i] == 1 ? val : side[i] == 2 ? test : rest;
        if (dst) docset_add(dst, d, len);
    }
    free(side);
    free(hi);
}

// ----------------------------------------------------------------------------
// building the data set

static void read_inputs(const PrepareOpts *o, char **files, int n, DocSet *out, TxtSplit *used) {
    char err[1024];
    for (int i = 0; i < n; i++) {
        if (!o->quiet) fprintf(stderr, "reading %s\n", files[i]);
        TxtSplit u = TXT_SPLIT_AUTO;
        if (read_docs_file(files[i], o->txt_split, out, &u, err, sizeof err) != 0) die("%s", err);
        if (u != TXT_SPLIT_AUTO) *used = u;
    }
}

// Generates synthetic documents until they hold at least bytes; returns their bits.
static double synth_fill(int version, uint64_t seed, double bytes, DocSet *out) {
    double bits = 0;
    for (uint64_t batch = 0; (double)out->len < bytes; batch++) {
        double b = 0;
        synth_generate(version, seed * 1000003ull + batch, 256, out, &b);
        bits += b;
    }
    return bits;
}

// Encodes and writes one split; *n_tokens gets its token count and *n_long how many of its
// documents are longer than a row of MAX_SEQ_LEN + 1 tokens (the packer uses those in pieces).
static void encode_split(const Tokenizer *tok, const DocSet *docs, const char *dir, Split split,
                         int quiet, size_t *n_tokens, size_t *n_long) {
    uint16_t *ids;
    size_t n;
    char err[1024];
    if (!quiet) fprintf(stderr, "encoding %s split (%.1f MB, %zu docs)\n", split_names[split], docs->len / 1048576.0, docs->n);
    if (tokenizer_encode_docs(tok, docs, &ids, &n, quiet, err, sizeof err) != 0) die("%s", err);
    char *path = xasprintf("%s/%s.bin", dir, split_names[split]);
    if (shard_write(path, ids, n, (uint32_t)tokenizer_vocab_size(tok), (uint32_t)tokenizer_bos(tok), err, sizeof err) != 0)
        die("%s", err);
    free(path);
    size_t start = 0, bos = (size_t)tokenizer_bos(tok);
    *n_long = 0;
    for (size_t i = 1; i <= n; i++)
        if (i == n || ids[i] == bos) {
            *n_long += i - start > MAX_SEQ_LEN + 1;
            start = i;
        }
    free(ids);
    *n_tokens = n;
}

void set_current(const char *id) {
    char *path = xasprintf("%s/current", cache_dir());
    char *text = xasprintf("%s\n", id);
    char err[512];
    if (write_file_atomic(path, text, strlen(text), err, sizeof err) != 0) die("%s", err);
    free(path);
    free(text);
}

// Reads, splits, tokenizes and writes the data set id into final_dir, atomically.
void build_dataset(PrepareOpts *o, const char *id, const char *final_dir, const KV *kv, int nkv) {
    double t0 = now_seconds();

    // Read and split the documents.
    DocSet train, val, test;
    docset_init(&train); docset_init(&val); docset_init(&test);
    TxtSplit used = TXT_SPLIT_AUTO;
    double val_bits = 0, test_bits = 0;
    if (o->kind == SRC_SYNTHETIC) {
        if (!o->quiet) fprintf(stderr, "generating synthetic documents (version %d, %.0f MB train)\n", o->synthetic_version, o->synthetic_mb);
        synth_fill(o->synthetic_version, SYNTH_SEED_TRAIN, o->synthetic_mb * 1048576.0, &train);
        val_bits = synth_fill(o->synthetic_version, SYNTH_SEED_VAL, HOLDOUT_BYTES, &val);
        test_bits = synth_fill(o->synthetic_version, SYNTH_SEED_TEST, HOLDOUT_BYTES, &test);
    } else {
        DocSet all;
        docset_init(&all);
        read_inputs(o, o->files, o->nfiles, &all, &used);
        if (o->val) {
            DocSet vdocs;
            docset_init(&vdocs);
            read_inputs(o, &o->val, 1, &vdocs, &used);
            size_t half = vdocs.len / 2;   // a small val file is shared half and half with test
            holdout(&vdocs, half < HOLDOUT_BYTES ? half : HOLDOUT_BYTES, &val, &test, NULL);
            docset_free(&vdocs);
            docset_free(&train);
            train = all;
        } else {
            size_t cap = (size_t)(HOLDOUT_MAX_FRAC * (double)all.len);
            holdout(&all, cap < HOLDOUT_BYTES ? cap : HOLDOUT_BYTES, &val, &test, &train);
            docset_free(&all);
        }
    }
    if (train.n == 0 || val.n == 0 || test.n == 0)
        die("prepare: too few documents to split (train %zu, val %zu, test %zu): give more text", train.n, val.n, test.n);

    // Work in a temporary folder; only a complete data set is renamed into place.
    char *tmp_dir = xasprintf("%s.tmp.%ld", final_dir, (long)getpid());
    remove_tree(tmp_dir);
    if (mkdir_p(tmp_dir) != 0) die("cannot create %s: %s", tmp_dir, strerror(errno));

    DocSet tok_docs = train;   // a prefix view: the first TOKENIZER_MAX_BYTES of train
    while (tok_docs.n > 1 && tok_docs.off[tok_docs.n] > TOKENIZER_MAX_BYTES) tok_docs.n--;
    if (!o->quiet) fprintf(stderr, "training the tokenizer (vocab %d) on %.1f MB\n", o->vocab, tok_docs.off[tok_docs.n] / 1048576.0);
    char err[1024];
    Tokenizer *tok = tokenizer_train(&tok_docs, o->vocab, o->quiet, err, sizeof err);
    if (!tok) die("prepare: %s", err);
    char *tok_path = xasprintf("%s/tokenizer.bin", tmp_dir);
    if (tokenizer_save(tok, tok_path, err, sizeof err) != 0) die("%s", err);
    char tok_hash[65];
    if (sha256_file_hex(tok_path, tok_hash) != 0) die("cannot read %s: %s", tok_path, strerror(errno));

    size_t ntok[3], nlong[3];
    const DocSet *sets[3] = {&train, &val, &test};
    for (int s = 0; s < 3; s++) encode_split(tok, sets[s], tmp_dir, (Split)s, o->quiet, &ntok[s], &nlong[s]);

    // The manifest is written last: its presence marks a complete data set.
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    char *m = NULL;
    size_t ml = 0;
    FILE *mf = open_memstream(&m, &ml);
    if (!mf) die("out of memory writing the manifest");
    fprintf(mf, "id: %s\ncreated: %s\n", id, when);
    for (int i = 0; i < nkv; i++) fprintf(mf, "%s: %s\n", kv[i].key, kv[i].value);
    if (o->kind != SRC_SYNTHETIC)
        fprintf(mf, "txt_split: %s\n", used == TXT_SPLIT_ENDOFTEXT ? "endoftext" : used == TXT_SPLIT_BLANKLINES ? "blank lines" : "n/a (no .txt input)");
    fprintf(mf, "tokenizer_sha256: %s\n", tok_hash);
    fprintf(mf, "tokenizer_train_bytes: %zu\n", tok_docs.off[tok_docs.n]);
    for (int s = 0; s < 3; s++)
        fprintf(mf, "%s_docs: %zu\n%s_bytes: %zu\n%s_tokens: %zu\n%s_docs_longer_than_row: %zu\n", split_names[s],
                sets[s]->n, split_names[s], sets[s]->len, split_names[s], ntok[s], split_names[s], nlong[s]);
    if (o->kind == SRC_SYNTHETIC) {
        fprintf(mf, "entropy_bpb: %.6f\n", val_bits / (double)val.len);
        fprintf(mf, "entropy_bpb_test: %.6f\n", test_bits / (double)test.len);
    }
    fclose(mf);
    char *tmp_manifest = xasprintf("%s/manifest.txt", tmp_dir);
    if (write_file_atomic(tmp_manifest, m, ml, err, sizeof err) != 0) die("%s", err);
    if (file_exists(final_dir) && remove_tree(final_dir) != 0) die("cannot replace %s: %s", final_dir, strerror(errno));
    if (rename(tmp_dir, final_dir) != 0) die("cannot rename %s to %s: %s", tmp_dir, final_dir, strerror(errno));
    set_current(id);

    printf("prepared data set %s in %s (%.1fs)\n", id, final_dir, now_seconds() - t0);
    for (int s = 0; s < 3; s++)
        printf("  %-5s %8zu docs %10.1f MB %12zu tokens (%.2f bytes/token), %zu docs longer than a row of %d\n",
               split_names[s], sets[s]->n, sets[s]->len / 1048576.0, ntok[s],
               (double)sets[s]->len / (double)(ntok[s] ? ntok[s] : 1), nlong[s], MAX_SEQ_LEN + 1);
    // evaluate_bpb scores EVAL_TOKENS targets of one pass and refuses a split that cannot give them
    fflush(stdout);
    for (int s = 1; s < 3; s++) {
        size_t targets = ntok[s] - (ntok[s] + MAX_SEQ_LEN) / (MAX_SEQ_LEN + 1);
        if (targets < EVAL_TOKENS)
            warnf("the %s split holds %zu target tokens, fewer than EVAL_TOKENS (%d): evaluate_bpb will refuse it; "
                  "give more text (or a --val file)", split_names[s], targets, EVAL_TOKENS);
    }
    if (o->kind == SRC_SYNTHETIC) printf("  entropy floor of val: %.4f bits per byte\n", val_bits / (double)val.len);

    tokenizer_free(tok);
    docset_free(&train); docset_free(&val); docset_free(&test);
    free(m); free(tmp_manifest); free(tok_path); free(tmp_dir);
}

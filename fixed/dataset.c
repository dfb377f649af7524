// dataset.c -- prepared data sets in the cache (layout in dataset.h) and `autoresearch prepare`.
#include "dataset.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "docs.h"
#include "download.h"
#include "synth.h"
#include "tokenizer.h"
#include "util.h"

// Held-out splits: documents are taken in the order of a hash of their text (so the choice
// does not depend on file order, and duplicate documents land on the same side) until the
// split holds HOLDOUT_BYTES; from a training corpus at most HOLDOUT_MAX_FRAC of it each, from a
// validation file at most half of it each.
// 4 MB is about 1M tokens, twice EVAL_TOKENS: an evaluation never repeats a row.
#define HOLDOUT_BYTES (4u << 20)
#define HOLDOUT_MAX_FRAC 0.05
#define TOKENIZER_MAX_BYTES (128ull << 20)   // tokenizer training text: the first 128 MB of train
#define TINYSTORIES_URL "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main"
#define SYNTH_SEED_TRAIN 1
#define SYNTH_SEED_VAL 2
#define SYNTH_SEED_TEST 3

static const char *split_names[] = {"train", "val", "test"};

// ----------------------------------------------------------------------------
// The active data set

static char *manifest_text;   // of the active data set, loaded once

char *dataset_dir(void) {
    const char *id = getenv("AUTORESEARCH_DATASET");
    char *cur = NULL;
    if (!id || !*id) {
        char *path = xasprintf("%s/current", cache_dir());
        cur = read_file(path, NULL);
        free(path);
        if (!cur) die("no prepared data set in %s: run `autoresearch prepare` first", cache_dir());
        cur[strcspn(cur, "\r\n")] = 0;
        id = cur;
    }
    char *dir = xasprintf("%s/datasets/%s", cache_dir(), id);
    char *manifest = xasprintf("%s/manifest.txt", dir);
    if (!file_exists(manifest))
        die("data set '%s' is missing or incomplete (%s not found): run `autoresearch prepare` again", id, manifest);
    free(manifest);
    free(cur);
    return dir;
}

static const char *manifest_lookup(const char *text, const char *key, char *out, size_t outlen) {
    size_t klen = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > klen + 1 && !strncmp(line, key, klen) && line[klen] == ':') {
            const char *v = line + klen + 1;
            while (*v == ' ') v++;
            size_t vlen = len - (size_t)(v - line);
            if (vlen >= outlen) vlen = outlen - 1;
            memcpy(out, v, vlen);
            out[vlen] = 0;
            return out;
        }
        line = nl ? nl + 1 : NULL;
    }
    return NULL;
}

const char *dataset_manifest_get(const char *key) {
    static char value[1024];
    if (!manifest_text) {
        char *dir = dataset_dir();
        char *path = xasprintf("%s/manifest.txt", dir);
        manifest_text = read_file(path, NULL);
        if (!manifest_text) die("cannot read %s: %s", path, strerror(errno));
        free(path);
        free(dir);
    }
    return manifest_lookup(manifest_text, key, value, sizeof value);
}

double dataset_floor_of(const char *id) {
    if (!id || !*id || strchr(id, '/')) return NAN;
    char *path = xasprintf("%s/datasets/%s/manifest.txt", cache_dir(), id);
    char *text = read_file(path, NULL);
    free(path);
    char value[64];
    double floor = text && manifest_lookup(text, "entropy_bpb", value, sizeof value) ? atof(value) : NAN;
    free(text);
    return floor > 0 ? floor : NAN;
}

int dataset_floor_gap(const char *id, double baseline, double best, double *floor, double *gap, double *removed) {
    *floor = dataset_floor_of(id);
    if (!isfinite(*floor)) return 0;
    *gap = best - *floor;
    *removed = baseline > *floor ? (baseline - best) / (baseline - *floor) : NAN;
    return 1;
}

const char *dataset_id(void) {
    static char id[256];
    if (!id[0]) {
        const char *v = dataset_manifest_get("id");
        snprintf(id, sizeof id, "%s", v ? v : "unknown");
    }
    return id;
}

void dataset_open_split(Split split, Shard *s) {
    char *dir = dataset_dir();
    char *path = xasprintf("%s/%s.bin", dir, split_names[split]);
    char err[512];
    if (shard_open(path, s, err, sizeof err) != 0)
        die("%s (run `autoresearch prepare --force` to rebuild the data set)", err);
    free(path);
    free(dir);
}

Tokenizer *tokenizer_load_prepared(void) {
    char *dir = dataset_dir();
    char *path = xasprintf("%s/tokenizer.bin", dir);
    char err[512];
    Tokenizer *tok = tokenizer_load(path, err, sizeof err);
    if (!tok) die("%s (run `autoresearch prepare --force` to rebuild the data set)", err);
    free(path);
    free(dir);
    return tok;
}

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
// prepare

typedef enum { SRC_TINYSTORIES, SRC_SYNTHETIC, SRC_FILES } SourceKind;

typedef struct {
    SourceKind kind;
    char **files; int nfiles;   // SRC_FILES: the inputs; SRC_TINYSTORIES: the downloaded train file
    char *val;                  // validation file (or NULL: held out)
    TxtSplit txt_split;
    int vocab;
    double max_mb, synthetic_mb;
    int synthetic_version;
    int force, quiet;
} PrepareOpts;

static void prepare_usage(FILE *f) {
    fprintf(f,
        "usage: autoresearch prepare [options]\n"
        "\n"
        "Builds the data set every experiment trains and is scored on: reads the corpus, holds\n"
        "out pinned validation and test splits, trains the BPE tokenizer on the training split,\n"
        "and writes token shards under $AUTORESEARCH_CACHE (default ~/.cache/autoresearch).\n"
        "Running it again with the same inputs does nothing.\n"
        "\n"
        "options:\n"
        "  --source SRC       tinystories (default): download TinyStoriesV2-GPT4 from Hugging Face\n"
        "                       (falls back to synthetic when the network cannot be reached)\n"
        "                     synthetic: the built-in generator with a known entropy floor\n"
        "                     file:PATH[,PATH...]: local .txt or .jsonl files, optionally .gz\n"
        "  --val PATH         validation file for a file: source; its documents are split in hash\n"
        "                     order into val and test (default: both held out of the training files)\n"
        "  --split RULE       how .txt files are cut into documents: auto (default: on <|endoftext|>\n"
        "                     if present, else on blank lines), endoftext, blank\n"
        "  --max-mb N         download at most N MB of the TinyStories train file (default 256)\n"
        "  --synthetic-mb N   size of the synthetic training split in MB (default 32)\n"
        "  --synthetic-version N  the generator's version (default %d; 2 reproduces the data sets\n"
        "                     prepared before version 3 became the default, 3 those before 4)\n"
        "  --vocab N          vocabulary size, special tokens included (default %d)\n"
        "  --force            prepare again even if this data set already exists\n"
        "  -q, --quiet        no progress bars\n"
        "  -h, --help         this text\n"
        "\n"
        "environment: AUTORESEARCH_CACHE (cache root), AUTORESEARCH_TINYSTORIES_URL (download base URL)\n",
        SYNTH_VERSION_DEFAULT, VOCAB_SIZE);
}

// Each input file's identity line: path, size and SHA-256.
static char *file_identity(const char *path) {
    char hex[65];
    if (sha256_file_hex(path, hex) != 0) die("cannot read %s: %s", path, strerror(errno));
    return xasprintf("%s size=%lld sha256=%s", path, file_size(path), hex);
}

// Downloads the TinyStories files into downloads/; returns 0, or 1 when the network is
// unreachable (the caller falls back to the synthetic source).
static int fetch_tinystories(PrepareOpts *o) {
    const char *base = getenv("AUTORESEARCH_TINYSTORIES_URL");
    if (!base || !*base) base = TINYSTORIES_URL;
    char *dir = xasprintf("%s/downloads", cache_dir());
    if (mkdir_p(dir) != 0) die("cannot create %s: %s", dir, strerror(errno));
    DownloadOpts d;
    download_opts_default(&d);
    d.quiet = o->quiet;
    char err[1024];
    struct { const char *name; long long cap; char **dest; } files[2];
    char *train = NULL, *val = NULL;
    long long cap = (long long)(o->max_mb * 1048576.0);
    files[0].name = "TinyStoriesV2-GPT4-train.txt"; files[0].cap = cap; files[0].dest = &train;
    files[1].name = "TinyStoriesV2-GPT4-valid.txt"; files[1].cap = 0; files[1].dest = &val;
    for (int i = 0; i < 2; i++) {
        char *url = xasprintf("%s/%s", base, files[i].name);
        // a capped download is its own file (TinyStoriesV2-GPT4-train.first268435456B.txt)
        int stem = (int)(strlen(files[i].name) - 4);
        *files[i].dest = files[i].cap > 0 ? xasprintf("%s/%.*s.first%lldB.txt", dir, stem, files[i].name, files[i].cap)
                                          : xasprintf("%s/%s", dir, files[i].name);
        d.max_bytes = files[i].cap;
        if (!file_exists(*files[i].dest) && !o->quiet) fprintf(stderr, "downloading %s\n", url);
        int rc = download_file(url, *files[i].dest, &d, err, sizeof err);
        free(url);
        if (rc == DOWNLOAD_ENET) {
            warnf("cannot reach the network (%s): falling back to --source synthetic", err);
            free(train); free(val); free(dir);
            return 1;
        }
        if (rc != DOWNLOAD_OK) die("%s", err);
    }
    free(dir);
    o->files = xmalloc(sizeof *o->files);
    o->files[0] = train;
    o->nfiles = 1;
    o->val = val;
    o->txt_split = TXT_SPLIT_ENDOFTEXT;
    return 0;
}

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

typedef struct { const char *key; char *value; } KV;

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

// Removes temporary data set folders left by a prepare that was killed.
static void clean_stale(const char *datasets) {
    DIR *d = opendir(datasets);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t) continue;
        long pid = atol(t + 5);
        if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH)) continue;   // still running
        char *p = xasprintf("%s/%s", datasets, e->d_name);
        remove_tree(p);
        free(p);
    }
    closedir(d);
}

static void set_current(const char *id) {
    char *path = xasprintf("%s/current", cache_dir());
    char *text = xasprintf("%s\n", id);
    char err[512];
    if (write_file_atomic(path, text, strlen(text), err, sizeof err) != 0) die("%s", err);
    free(path);
    free(text);
}

static void build_dataset(PrepareOpts *o, const char *id, const char *final_dir, const KV *kv, int nkv);

int prepare_main(int argc, char **argv) {
    PrepareOpts o = {.kind = SRC_TINYSTORIES, .vocab = VOCAB_SIZE, .max_mb = 256, .synthetic_mb = 32,
                     .synthetic_version = SYNTH_VERSION_DEFAULT, .txt_split = TXT_SPLIT_AUTO};
    const char *source = "tinystories";
    static const struct option longopts[] = {
        {"source", required_argument, 0, 's'}, {"val", required_argument, 0, 'v'},
        {"split", required_argument, 0, 'S'}, {"max-mb", required_argument, 0, 'm'},
        {"synthetic-mb", required_argument, 0, 'y'}, {"vocab", required_argument, 0, 'V'},
        {"synthetic-version", required_argument, 0, 'Y'},
        {"force", no_argument, 0, 'f'}, {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 's': source = optarg; break;
        case 'v': o.val = optarg; break;
        case 'S':
            if (!strcmp(optarg, "auto")) o.txt_split = TXT_SPLIT_AUTO;
            else if (!strcmp(optarg, "endoftext")) o.txt_split = TXT_SPLIT_ENDOFTEXT;
            else if (!strcmp(optarg, "blank")) o.txt_split = TXT_SPLIT_BLANKLINES;
            else die("prepare: --split must be auto, endoftext or blank (got '%s')", optarg);
            break;
        case 'm': o.max_mb = strtod(optarg, &end); if (*end || o.max_mb <= 0) die("prepare: --max-mb needs a positive number"); break;
        case 'y': o.synthetic_mb = strtod(optarg, &end); if (*end || o.synthetic_mb <= 0) die("prepare: --synthetic-mb needs a positive number"); break;
        case 'Y':
            o.synthetic_version = (int)strtol(optarg, &end, 10);
            if (*end || !synth_version_known(o.synthetic_version))
                die("prepare: --synthetic-version must be 2, 3 or 4 (got '%s')", optarg);
            break;
        case 'V':
            o.vocab = (int)strtol(optarg, &end, 10);
            if (*end || o.vocab < 256 + TOK_N_SPECIAL + 1 || o.vocab > 65536)
                die("prepare: --vocab must be an integer in [%d, 65536]", 256 + TOK_N_SPECIAL + 1);
            break;
        case 'f': o.force = 1; break;
        case 'q': o.quiet = 1; break;
        case 'h': prepare_usage(stdout); return 0;
        default: prepare_usage(stderr); return 2;
        }
    }
    if (optind < argc) die("prepare: unexpected argument '%s' (see --help)", argv[optind]);

    if (!strcmp(source, "tinystories")) o.kind = SRC_TINYSTORIES;
    else if (!strcmp(source, "synthetic")) o.kind = SRC_SYNTHETIC;
    else if (!strncmp(source, "file:", 5) && source[5]) {
        o.kind = SRC_FILES;
        char *list = xstrdup(source + 5);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            o.files = xrealloc(o.files, (o.nfiles + 1) * sizeof *o.files);
            o.files[o.nfiles++] = xstrdup(tok);
            if (!file_exists(tok)) die("prepare: input file %s does not exist", tok);
        }
        free(list);
    } else die("prepare: unknown --source '%s' (tinystories, synthetic or file:PATH[,PATH...])", source);
    if (o.val && o.kind != SRC_FILES) die("prepare: --val goes with --source file:...");
    if (o.val && !file_exists(o.val)) die("prepare: validation file %s does not exist", o.val);
    if (o.vocab != VOCAB_SIZE)
        warnf("--vocab %d differs from VOCAB_SIZE %d that train.c is built with", o.vocab, VOCAB_SIZE);

    if (mkdir_p(cache_dir()) != 0) die("cannot create the cache directory %s: %s", cache_dir(), strerror(errno));
    if (o.kind == SRC_TINYSTORIES && fetch_tinystories(&o) != 0) { o.kind = SRC_SYNTHETIC; source = "synthetic"; }

    // Identity: everything that determines the prepared bytes.
    // the id names the source: "synthetic-...", "tinystories-...", or the first file's base name
    char srcname[64] = "tinystories";
    if (o.kind == SRC_SYNTHETIC) strcpy(srcname, "synthetic");
    if (o.kind == SRC_FILES) {
        const char *b = strrchr(o.files[0], '/');
        b = b ? b + 1 : o.files[0];
        snprintf(srcname, sizeof srcname, "%.*s", (int)strcspn(b, "."), b);
        for (char *q = srcname; *q; q++)
            if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '-' || *q == '_')) *q = '_';
        if (!srcname[0]) strcpy(srcname, "files");
    }
    int nkv = 0;
    KV kv[64];
    kv[nkv++] = (KV){"source", xstrdup(o.kind == SRC_TINYSTORIES ? "tinystories" : source)};
    for (int i = 0; i < o.nfiles && nkv < 40; i++) kv[nkv++] = (KV){"input", file_identity(o.files[i])};
    if (o.val) kv[nkv++] = (KV){"val_input", file_identity(o.val)};
    if (o.kind == SRC_SYNTHETIC) kv[nkv++] = (KV){"synthetic_mb", xasprintf("%g", o.synthetic_mb)};
    kv[nkv++] = (KV){"txt_split_option", xstrdup(o.txt_split == TXT_SPLIT_AUTO ? "auto" : o.txt_split == TXT_SPLIT_ENDOFTEXT ? "endoftext" : "blank")};
    kv[nkv++] = (KV){"vocab_size", xasprintf("%d", o.vocab)};
    kv[nkv++] = (KV){"holdout", xasprintf("hash order, %u bytes each for val and test%s", HOLDOUT_BYTES,
                                          o.val ? " from the val file" : "")};
    // Version 2's line stays as it was, so the ids of data sets prepared before version 3
    // (synthetic or not: the line is part of every id) reproduce.
    int synth_v = o.kind == SRC_SYNTHETIC ? o.synthetic_version : 2;
    kv[nkv++] = (KV){"formats", xasprintf("shard v1, tokenizer v1, synthetic v%d", synth_v)};
    Sha256Stream *hs = sha256_stream_new();
    for (int i = 0; i < nkv; i++) {
        // input paths do not change the identity, only their contents
        const char *v = kv[i].value;
        const char *size = strstr(v, " size=");
        if (!strncmp(kv[i].key, "input", 5) || !strncmp(kv[i].key, "val_input", 9)) v = size ? size : v;
        if (!strcmp(kv[i].key, "source") && o.kind == SRC_FILES) continue;
        sha256_stream_update(hs, kv[i].key, strlen(kv[i].key));
        sha256_stream_update(hs, "=", 1);
        sha256_stream_update(hs, v, strlen(v));
        sha256_stream_update(hs, "\n", 1);
    }
    char hex[65];
    sha256_stream_final(hs, hex);
    char *id = xasprintf("%s-%.10s", srcname, hex);

    char *datasets = xasprintf("%s/datasets", cache_dir());
    char *final_dir = xasprintf("%s/%s", datasets, id);
    char *manifest_path = xasprintf("%s/manifest.txt", final_dir);
    if (mkdir_p(datasets) != 0) die("cannot create %s: %s", datasets, strerror(errno));
    clean_stale(datasets);
    if (file_exists(manifest_path) && !o.force) {
        set_current(id);
        printf("data set %s is already prepared in %s: nothing to do\n", id, final_dir);
    } else {
        build_dataset(&o, id, final_dir, kv, nkv);
    }
    for (int i = 0; i < nkv; i++) free(kv[i].value);
    for (int i = 0; i < o.nfiles; i++) free(o.files[i]);
    if (o.kind != SRC_FILES) free(o.val);   // the downloaded valid file's path is ours
    free(o.files);
    free(id); free(datasets); free(final_dir); free(manifest_path);
    return 0;
}

// Reads, splits, tokenizes and writes the data set id into final_dir, atomically.
static void build_dataset(PrepareOpts *o, const char *id, const char *final_dir, const KV *kv, int nkv) {
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

// dataset_prepare.c -- `autoresearch prepare`: its options, the TinyStories download, and the
// identity of the data set the inputs make (dataset.h); dataset_build.c builds it if it is new.
#include "dataset_impl.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>

#include "download.h"
#include "synth.h"
#include "tokenizer.h"
#include "util.h"

#define TINYSTORIES_URL "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main"

// ----------------------------------------------------------------------------
// prepare

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

// data.c -- the data set a session trains and is scored on, pinned by hash.
//
// At a session's first experiment the harness resolves the prepared data set (as the fixed
// layer would: $AUTORESEARCH_DATASET, else the cache's `current`), checks it (the tokenizer and
// every shard open cleanly, and each shard's vocabulary and BOS are the tokenizer's), and pins
// its id and the sha256 of tokenizer.bin and of the train, val and test shards in the session.
// Every later experiment checks the same files against those hashes before it runs and passes
// the pinned id to the trainer: a data set edited, swapped or corrupted in the cache ends the
// session's runs with a reason, never with a silent change of what val_bpb means.
#include "harness.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"
#include "tokenizer.h"

static const char *data_files[DATA_FILES] = {"tokenizer.bin", "train.bin", "val.bin", "test.bin"};
static const char *data_keys[DATA_FILES] = {"tokenizer_sha256", "train_bin_sha256", "val_bin_sha256",
                                            "test_bin_sha256"};

const char *data_key(int i) { return data_keys[i]; }

// The id of the data set the trainer would open now, or NULL (none prepared).
static char *current_id(void) {
    const char *env = getenv("AUTORESEARCH_DATASET");
    if (env && *env) return xstrdup(env);
    char *path = xasprintf("%s/current", cache_dir());
    char *cur = read_file(path, NULL);
    free(path);
    if (!cur) return NULL;
    cur[strcspn(cur, "\r\n")] = 0;
    if (!*cur) { free(cur); return NULL; }
    return cur;
}

// Opens the tokenizer and the shards of dir: 0, or -1 + err naming the file.
static int check_files(const char *dir, char *err, size_t errlen) {
    char *tp = xasprintf("%s/tokenizer.bin", dir);
    Tokenizer *tok = tokenizer_load(tp, err, errlen);
    free(tp);
    if (!tok) return -1;
    int vocab = tokenizer_vocab_size(tok), bos = tokenizer_bos(tok);
    tokenizer_free(tok);
    for (int i = 1; i < DATA_FILES; i++) {
        char *p = xasprintf("%s/%s", dir, data_files[i]);
        Shard s;
        int rc = shard_open(p, &s, err, errlen);
        if (rc == 0) {
            if ((int)s.vocab_size != vocab || (int)s.bos_id != bos) {
                snprintf(err, errlen, "%s: vocabulary %u (BOS %u), but the data set's tokenizer has %d (BOS %d)",
                         p, s.vocab_size, s.bos_id, vocab, bos);
                rc = -1;
            }
            shard_close(&s);
        }
        free(p);
        if (rc != 0) return -1;
    }
    return 0;
}

int data_check(Session *S, Record *r, char *err, size_t errlen) {
    char *id = S->data_id[0] ? xstrdup(S->data_id) : current_id();
    if (!id) return 1;
    char *dir = xasprintf("%s/datasets/%s", cache_dir(), id), *manifest = xasprintf("%s/manifest.txt", dir);
    int rc = -1;
    char hash[DATA_FILES][65];
    char e[512];
    if (!file_exists(manifest)) {
        snprintf(err, errlen, "the session's data set %s is missing from %s: prepare it again with the same "
                 "inputs (`autoresearch prepare ...`), or start a new session (--tag)", id, cache_dir());
        goto out;
    }
    if (check_files(dir, e, sizeof e) != 0) {
        snprintf(err, errlen, "data set %s is broken: %s (`autoresearch prepare --force` rebuilds it)", id, e);
        goto out;
    }
    for (int i = 0; i < DATA_FILES; i++) {
        char *p = xasprintf("%s/%s", dir, data_files[i]);
        if (sha256_file_hex(p, hash[i]) != 0) snprintf(hash[i], sizeof hash[i], "unreadable");
        free(p);
    }
    if (S->data_id[0]) {
        for (int i = 0; i < DATA_FILES; i++)
            if (strcmp(hash[i], S->data_sha[i])) {
                snprintf(err, errlen, "the data set changed since session %s started: %s/%s has sha256 %.12s, "
                         "pinned %.12s (restore it: `autoresearch prepare --force` with the same inputs; or "
                         "start a new session with --tag)", S->tag, dir, data_files[i], hash[i], S->data_sha[i]);
                goto out;
            }
    } else {
        snprintf(S->data_id, sizeof S->data_id, "%s", id);
        for (int i = 0; i < DATA_FILES; i++) memcpy(S->data_sha[i], hash[i], sizeof S->data_sha[i]);
        session_save(S);
    }
    rec_set_str(r, "dataset_id", id);
    for (int i = 0; i < DATA_FILES; i++) rec_set_str(r, data_keys[i], hash[i]);
    rc = 0;
out:
    free(id);
    free(dir);
    free(manifest);
    return rc;
}

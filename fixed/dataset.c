// dataset.c -- the active prepared data set in the cache (layout in dataset.h): its directory,
// manifest, entropy floor, splits and tokenizer. `autoresearch prepare`, which builds data sets,
// is dataset_prepare.c (the command) and dataset_build.c (the build).
#include "dataset_impl.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "tokenizer.h"
#include "util.h"

const char *split_names[] = {"train", "val", "test"};

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

// The value of key in a manifest's text ("key: value" lines): where it starts in text and its
// length, or NULL.
static const char *manifest_find(const char *text, const char *key, size_t *vlen) {
    size_t klen = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > klen + 1 && !strncmp(line, key, klen) && line[klen] == ':') {
            const char *v = line + klen + 1;
            while (*v == ' ') v++;
            *vlen = len - (size_t)(v - line);
            return v;
        }
        line = nl ? nl + 1 : NULL;
    }
    return NULL;
}

static const char *manifest_lookup(const char *text, const char *key, char *out, size_t outlen) {
    size_t vlen;
    const char *v = manifest_find(text, key, &vlen);
    if (!v) return NULL;
    if (vlen >= outlen) vlen = outlen - 1;
    memcpy(out, v, vlen);
    out[vlen] = 0;
    return out;
}

// The values are returned from a copy of the text with its line ends cut to NULs: loaded once,
// so a value stays valid however many lookups follow.
const char *dataset_manifest_get(const char *key) {
    static char *values;
    if (!manifest_text) {
        char *dir = dataset_dir();
        char *path = xasprintf("%s/manifest.txt", dir);
        manifest_text = read_file(path, NULL);
        if (!manifest_text) die("cannot read %s: %s", path, strerror(errno));
        free(path);
        free(dir);
        values = xstrdup(manifest_text);
        for (char *p = values; (p = strchr(p, '\n'));) *p++ = 0;
    }
    size_t vlen;
    const char *v = manifest_find(manifest_text, key, &vlen);
    return v ? values + (v - manifest_text) : NULL;
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

// dataset_impl.h -- internal to the data set files: dataset.c, dataset_prepare.c, dataset_build.c.
#ifndef DATASET_IMPL_H
#define DATASET_IMPL_H

#include "dataset.h"
#include "docs.h"

// Held-out splits: documents are taken in the order of a hash of their text (so the choice
// does not depend on file order, and duplicate documents land on the same side) until the
// split holds HOLDOUT_BYTES; from a training corpus at most HOLDOUT_MAX_FRAC of it each, from a
// validation file at most half of it each.
// 4 MB is about 1M tokens, twice EVAL_TOKENS: an evaluation never repeats a row.
#define HOLDOUT_BYTES (4u << 20)
#define HOLDOUT_MAX_FRAC 0.05

extern const char *split_names[];   // by Split: "train", "val", "test" (dataset.c)

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

typedef struct { const char *key; char *value; } KV;

// Writes the id of the active data set (dataset_build.c).
void set_current(const char *id);
// Reads, splits, tokenizes and writes the data set id into final_dir, atomically (dataset_build.c).
void build_dataset(PrepareOpts *o, const char *id, const char *final_dir, const KV *kv, int nkv);

#endif

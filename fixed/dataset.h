// dataset.h -- prepared data sets in the cache, and the `prepare` command.
//
// Layout under cache_dir():
//   downloads/                 raw downloads (*.part while incomplete)
//   datasets/<id>/             one prepared data set, created as <id>.tmp.<pid> and renamed
//       manifest.txt           identity: "key: value" lines (source, files, sizes, sha256,
//                              split rule, doc/token counts, tokenizer hash, entropy floor)
//       tokenizer.bin          vocabulary (tokenizer.h)
//       train.bin val.bin test.bin   token shards (shard.h)
//   current                    the id of the active data set (atomic write)
// $AUTORESEARCH_DATASET=<id> selects another prepared data set than current.
#ifndef DATASET_H
#define DATASET_H

#include "shard.h"

typedef enum { SPLIT_TRAIN, SPLIT_VAL, SPLIT_TEST } Split;

// Directory of the active data set (malloc'd); dies with a clear message if none is prepared.
char *dataset_dir(void);
// Short identity string of the active data set, e.g. "tinystories-3f2a9c1e" (static storage).
const char *dataset_id(void);
// Value of a manifest key of the active data set, or NULL (static storage, loaded once).
const char *dataset_manifest_get(const char *key);
// The synthetic source's entropy floor (bits per byte of val) of the prepared data set id, or
// NAN when id is not a prepared synthetic data set.
double dataset_floor_of(const char *id);
// The gap to that floor for `status` and `report`: *gap = best - floor, and *removed, the share
// of the baseline's excess the session removed, (baseline - best) / (baseline - floor) (NAN
// unless the baseline is above the floor). Returns 0 when id has no floor.
int dataset_floor_gap(const char *id, double baseline, double best, double *floor, double *gap, double *removed);
// Opens a split of the active data set; dies with a clear message on any problem.
void dataset_open_split(Split split, Shard *s);

// The fixed layer's commands: `autoresearch prepare|encode|decode ...`; return exit codes.
int prepare_main(int argc, char **argv);
int encode_main(int argc, char **argv);
int decode_main(int argc, char **argv);

#endif

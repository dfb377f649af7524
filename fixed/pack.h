// pack.h -- best-fit packing of documents into rows (the original project's dataloader rule).
//
// Each row holds T+1 tokens. Keep a buffer of at least PACK_BUFFER_DOCS documents; repeatedly
// copy in the largest document that fits the remaining space; if none fits, crop the shortest
// one to fill the row exactly (its rest is dropped). No padding; every row starts with BOS
// because every document does and a row is filled from its first position.
#ifndef PACK_H
#define PACK_H

#include <stdint.h>
#include "shard.h"

#define PACK_BUFFER_DOCS 1000

typedef struct {
    const Shard *shard;
    int shuffle;            // visit documents in a seeded random order, new each epoch
    uint64_t seed;
    uint64_t *order;        // document visiting order for the current epoch
    uint64_t next;          // position in order
    int epoch;              // 1 during the first pass
    uint64_t *buf;          // buffered document indices
    int nbuf;
} Packer;

void packer_init(Packer *p, const Shard *shard, int shuffle, uint64_t seed);
void packer_free(Packer *p);
// Fills row[0..T] (T+1 tokens).
void packer_row(Packer *p, int T, int32_t *row);

#endif

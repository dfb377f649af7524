// pack.h -- best-fit packing of documents into rows (the original project's dataloader rule),
// keeping every token of documents longer than a row.
//
// Each row holds T+1 tokens. Keep a buffer of up to PACK_BUFFER_DOCS documents; repeatedly
// copy in the largest one that fits the remaining space; if none fits, crop the shortest to
// fill the row exactly. No padding; every row starts with BOS because every document does
// and a row is filled from its first position.
//
// What happens to a crop's rest is the one departure from the original:
//  - a document that fits a row (at most T+1 tokens) loses its rest, as in the original, so a
//    corpus of short documents is packed exactly as before;
//  - a longer document, or a continuation, keeps it: the rest goes back into the buffer in the
//    same place, as a continuation led by BOS, and is packed like any buffered document. So
//    a long document is used whole, in rows that start with BOS (a book, a paper or a speech
//    is not scored as a handful of openings).
// (Why here and not in `prepare`: the row length is train.c's choice, T <= MAX_SEQ_LEN, so
// only the packer knows where a row ends; splitting in prepare would fix one T, change the
// prepared data and its id, and still drop the tails that are cropped as fillers.)
//
// Epochs: the buffer is refilled from the current pass only; the next pass (in a new order
// when shuffling) starts once the buffer is empty. So a pass uses every token of the split
// exactly once (less the rests of short documents cropped as fillers), even for a split of
// fewer documents than the buffer holds.
#ifndef PACK_H
#define PACK_H

#include <stdint.h>
#include "shard.h"

#define PACK_BUFFER_DOCS 1000

typedef struct {
    uint64_t doc;
    uint64_t off;           // 0: the whole document; else a continuation: BOS, tokens[off..]
} PackEntry;

typedef struct {
    const Shard *shard;
    int shuffle;            // visit documents in a seeded random order, new each epoch
    uint64_t seed;
    int one_pass;           // 1: stop at the end of the first pass instead of starting another
    uint64_t *order;        // document visiting order for the current epoch
    uint64_t next;          // position in order
    int epoch;              // 1 during the first pass
    PackEntry *buf;         // buffered documents and continuations
    int nbuf;
} Packer;

void packer_init(Packer *p, const Shard *shard, int shuffle, uint64_t seed);
void packer_free(Packer *p);
// Fills row[0..T] (T+1 tokens) and returns T+1. With one_pass set, once the first pass is
// used up it returns how many tokens it could still write (fewer than T+1, possibly 0).
int packer_row(Packer *p, int T, int32_t *row);

#endif

// pack.c -- best-fit packing (see pack.h).
#include "pack.h"

#include <string.h>

#include "util.h"

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void new_epoch_order(Packer *p) {
    uint64_t n = p->shard->n_docs;
    for (uint64_t i = 0; i < n; i++) p->order[i] = i;
    if (p->shuffle) {   // Fisher-Yates, seeded by (seed, epoch): reproducible epoch by epoch
        uint64_t s = p->seed * 0x100000001B3ull + (uint64_t)p->epoch;
        for (uint64_t i = n - 1; i > 0; i--) {
            uint64_t j = splitmix64(&s) % (i + 1);
            uint64_t t = p->order[i]; p->order[i] = p->order[j]; p->order[j] = t;
        }
    }
    p->next = 0;
}

void packer_init(Packer *p, const Shard *shard, int shuffle, uint64_t seed) {
    memset(p, 0, sizeof *p);
    p->shard = shard;
    p->shuffle = shuffle;
    p->seed = seed;
    p->epoch = 1;
    p->order = xmalloc(shard->n_docs * sizeof *p->order);
    p->buf = xmalloc(PACK_BUFFER_DOCS * sizeof *p->buf);
    new_epoch_order(p);
}

void packer_free(Packer *p) {
    free(p->order);
    free(p->buf);
    memset(p, 0, sizeof *p);
}

static uint64_t doc_len(const Packer *p, uint64_t d) {
    return p->shard->doc_start[d + 1] - p->shard->doc_start[d];
}

void packer_row(Packer *p, int T, int32_t *row) {
    const uint64_t cap = (uint64_t)T + 1;
    uint64_t pos = 0;
    while (pos < cap) {
        while (p->nbuf < PACK_BUFFER_DOCS) {   // refill; a small split simply repeats
            if (p->next == p->shard->n_docs) { p->epoch++; new_epoch_order(p); }
            p->buf[p->nbuf++] = p->order[p->next++];
        }
        uint64_t remaining = cap - pos;
        int best = -1, shortest = 0;
        uint64_t best_len = 0;
        for (int i = 0; i < p->nbuf; i++) {
            uint64_t len = doc_len(p, p->buf[i]);
            if (len <= remaining && len > best_len) { best = i; best_len = len; }
            if (len < doc_len(p, p->buf[shortest])) shortest = i;
        }
        int pick = best >= 0 ? best : shortest;
        uint64_t d = p->buf[pick];
        uint64_t n = best >= 0 ? best_len : remaining;   // no fit: crop the shortest to fill the row
        const uint16_t *src = p->shard->tokens + p->shard->doc_start[d];
        for (uint64_t i = 0; i < n; i++) row[pos + i] = src[i];
        pos += n;
        // remove pick, keeping buffer order (first-in stays first among equals: deterministic ties)
        memmove(p->buf + pick, p->buf + pick + 1, (size_t)(p->nbuf - pick - 1) * sizeof *p->buf);
        p->nbuf--;
    }
}

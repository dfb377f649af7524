// pack.c -- best-fit packing that keeps long documents whole (see pack.h).
#include "pack.h"

#include <string.h>

#include "util.h"


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

// Tokens an entry puts in a row: a continuation is BOS plus the document's rest.
static uint64_t entry_len(const Packer *p, PackEntry e) {
    return e.off == 0 ? doc_len(p, e.doc) : 1 + doc_len(p, e.doc) - e.off;
}

// Copies the first n tokens of e to dst.
static void copy_entry(const Packer *p, PackEntry e, uint64_t n, int32_t *dst) {
    const uint16_t *src = p->shard->tokens + p->shard->doc_start[e.doc];
    if (e.off > 0) {
        *dst++ = (int32_t)p->shard->bos_id;
        src += e.off;
        n--;
    }
    for (uint64_t i = 0; i < n; i++) dst[i] = src[i];
}

// Refills the buffer from the current pass; starts the next pass once the buffer is empty.
// Returns 0 when there is nothing left to pack (one_pass only).
static int refill(Packer *p) {
    if (p->nbuf == 0 && p->next == p->shard->n_docs) {
        if (p->one_pass) return 0;
        p->epoch++;
        new_epoch_order(p);
    }
    while (p->nbuf < PACK_BUFFER_DOCS && p->next < p->shard->n_docs)
        p->buf[p->nbuf++] = (PackEntry){p->order[p->next++], 0};
    return 1;
}

int packer_row(Packer *p, int T, int32_t *row) {
    const uint64_t cap = (uint64_t)T + 1;
    uint64_t pos = 0;
    while (pos < cap) {
        if (!refill(p)) return (int)pos;
        uint64_t remaining = cap - pos;
        int best = -1, shortest = 0;
        uint64_t best_len = 0, shortest_len = entry_len(p, p->buf[0]);
        for (int i = 0; i < p->nbuf; i++) {
            uint64_t len = entry_len(p, p->buf[i]);
            if (len <= remaining && len > best_len) { best = i; best_len = len; }
            if (len < shortest_len) { shortest = i; shortest_len = len; }
        }
        if (best >= 0) {   // the largest that fits, whole
            copy_entry(p, p->buf[best], best_len, row + pos);
            pos += best_len;
        } else {           // none fits: crop the shortest to fill the row
            PackEntry *e = &p->buf[shortest];
            copy_entry(p, *e, remaining, row + pos);
            pos += remaining;
            if (e->off > 0 || shortest_len > cap) {   // long: its rest stays, in its place
                e->off = (e->off > 0 ? e->off + remaining - 1 : remaining);
                continue;
            }
            best = shortest;   // short: dropped with its rest, as in the original
        }
        // remove it, keeping buffer order (first-in stays first among equals: deterministic ties)
        memmove(p->buf + best, p->buf + best + 1, (size_t)(p->nbuf - best - 1) * sizeof *p->buf);
        p->nbuf--;
    }
    return (int)pos;
}

// dataloader.c -- the training dataloader of prepare.h: best-fit packing on a prefetch thread.
#include <pthread.h>
#include <string.h>

#include "dataset.h"
#include "pack.h"
#include "prepare.h"
#include "util.h"

// A producer thread packs batches into a small ring; dataloader_next copies one out. The
// packing is sequential, so the batch sequence is the same as without the thread.
#define PREFETCH 4

struct DataLoader {
    int B, T;
    Shard shard;
    Packer packer;
    int32_t *ring[PREFETCH];     // each (B, T+1) rows
    int ring_epoch[PREFETCH];
    int head, count;             // consumer reads ring[head]; count batches ready
    int stop, epoch;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void *producer(void *arg) {
    DataLoader *dl = arg;
    for (;;) {
        pthread_mutex_lock(&dl->mu);
        while (dl->count == PREFETCH && !dl->stop) pthread_cond_wait(&dl->cv, &dl->mu);
        if (dl->stop) { pthread_mutex_unlock(&dl->mu); return NULL; }
        int slot = (dl->head + dl->count) % PREFETCH;
        pthread_mutex_unlock(&dl->mu);
        // the slot is ours until count covers it: pack outside the lock
        for (int b = 0; b < dl->B; b++) packer_row(&dl->packer, dl->T, dl->ring[slot] + (size_t)b * (dl->T + 1));
        pthread_mutex_lock(&dl->mu);
        dl->ring_epoch[slot] = dl->packer.epoch;
        dl->count++;
        pthread_cond_broadcast(&dl->cv);
        pthread_mutex_unlock(&dl->mu);
    }
}

DataLoader *dataloader_open(int B, int T, uint64_t seed) {
    if (B < 1 || T < 1 || T > MAX_SEQ_LEN) die("dataloader_open: need B >= 1 and 1 <= T <= %d (got B=%d T=%d)", MAX_SEQ_LEN, B, T);
    DataLoader *dl = xcalloc(1, sizeof *dl);
    dl->B = B;
    dl->T = T;
    dl->epoch = 1;
    dataset_open_split(SPLIT_TRAIN, &dl->shard);
    packer_init(&dl->packer, &dl->shard, 1, seed);
    for (int i = 0; i < PREFETCH; i++) dl->ring[i] = xmalloc((size_t)B * (T + 1) * sizeof(int32_t));
    pthread_mutex_init(&dl->mu, NULL);
    pthread_cond_init(&dl->cv, NULL);
    if (pthread_create(&dl->thread, NULL, producer, dl) != 0) die("dataloader_open: cannot start the prefetch thread");
    return dl;
}

void dataloader_next(DataLoader *dl, int32_t *inputs, int32_t *targets) {
    pthread_mutex_lock(&dl->mu);
    while (dl->count == 0) pthread_cond_wait(&dl->cv, &dl->mu);
    const int32_t *rows = dl->ring[dl->head];
    dl->epoch = dl->ring_epoch[dl->head];
    pthread_mutex_unlock(&dl->mu);
    const int T = dl->T;
    for (int b = 0; b < dl->B; b++) {   // inputs = row[:-1], targets = row[1:]
        const int32_t *row = rows + (size_t)b * (T + 1);
        memcpy(inputs + (size_t)b * T, row, T * sizeof(int32_t));
        memcpy(targets + (size_t)b * T, row + 1, T * sizeof(int32_t));
    }
    pthread_mutex_lock(&dl->mu);
    dl->head = (dl->head + 1) % PREFETCH;
    dl->count--;
    pthread_cond_broadcast(&dl->cv);
    pthread_mutex_unlock(&dl->mu);
}

int dataloader_epoch(const DataLoader *dl) { return dl->epoch; }

void dataloader_close(DataLoader *dl) {
    if (!dl) return;
    pthread_mutex_lock(&dl->mu);
    dl->stop = 1;
    pthread_cond_broadcast(&dl->cv);
    pthread_mutex_unlock(&dl->mu);
    pthread_join(dl->thread, NULL);
    for (int i = 0; i < PREFETCH; i++) free(dl->ring[i]);
    packer_free(&dl->packer);
    shard_close(&dl->shard);
    pthread_mutex_destroy(&dl->mu);
    pthread_cond_destroy(&dl->cv);
    free(dl);
}

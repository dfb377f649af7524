// shard.c -- token shards on disk (format in shard.h).
#include "shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util.h"

static const char SHARD_MAGIC[8] = {'A', 'R', 'T', 'O', 'K', 0, 0, 1};

static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t get32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

// zlib's crc32 takes a uInt length: feed it in 1 GiB pieces.
static uint32_t crc_bytes(const void *data, size_t len) {
    uLong crc = crc32(0L, Z_NULL, 0);
    const unsigned char *p = data;
    while (len) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, p, n);
        p += n; len -= n;
    }
    return (uint32_t)crc;
}

int shard_write(const char *path, const uint16_t *tokens, uint64_t n_tokens, uint32_t vocab_size,
                uint32_t bos_id, char *err, size_t errlen) {
    uint64_t n_docs = 0;
    for (uint64_t i = 0; i < n_tokens; i++) n_docs += tokens[i] == bos_id;
    unsigned char h[SHARD_HEADER_BYTES] = {0};
    memcpy(h, SHARD_MAGIC, 8);
    put32(h + 8, vocab_size);
    put32(h + 12, bos_id);
    put64(h + 16, n_tokens);
    put64(h + 24, n_docs);
    // the payload is stored little endian; this code assumes a little-endian host (x86, arm64)
    put32(h + 32, crc_bytes(tokens, n_tokens * sizeof *tokens));
    AtomicFile af;
    if (atomic_open(&af, path) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    atomic_write(&af, h, sizeof h);
    atomic_write(&af, tokens, n_tokens * sizeof *tokens);
    return atomic_commit(&af, err, errlen);
}

int shard_open(const char *path, Shard *s, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    int fd = open(path, O_RDONLY);
    if (fd < 0) { snprintf(err, errlen, "cannot open shard %s: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat shard %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    if (len < SHARD_HEADER_BYTES) {
        snprintf(err, errlen, "corrupt shard %s: %zu bytes, shorter than its header", path, len);
        close(fd);
        return -1;
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) { snprintf(err, errlen, "cannot map shard %s: %s", path, strerror(errno)); return -1; }
    const unsigned char *h = map;
    const char *why = NULL;
    char whybuf[160];
    uint64_t n_tokens = get64(h + 16), n_docs = get64(h + 24);
    uint32_t vocab = get32(h + 8), bos = get32(h + 12);
    if (memcmp(h, SHARD_MAGIC, 7) != 0) why = "not a token shard (bad magic)";
    else if (h[7] != SHARD_MAGIC[7]) {
        snprintf(whybuf, sizeof whybuf, "unsupported format version %d (expected %d)", h[7], SHARD_MAGIC[7]);
        why = whybuf;
    } else if (vocab == 0 || vocab > 65536 || bos >= vocab) why = "bad vocabulary size or BOS id in header";
    else if (n_tokens > (len - SHARD_HEADER_BYTES) / 2 || len != SHARD_HEADER_BYTES + 2 * n_tokens) {
        snprintf(whybuf, sizeof whybuf, "truncated or overlong: header says %llu tokens, file holds %zu bytes of tokens",
                 (unsigned long long)n_tokens, len - SHARD_HEADER_BYTES);
        why = whybuf;
    } else if (n_tokens == 0) why = "no tokens";
    if (!why) {
        const uint16_t *tok = (const uint16_t *)(h + SHARD_HEADER_BYTES);
        if (crc_bytes(tok, n_tokens * 2) != get32(h + 32)) why = "checksum mismatch (corrupt data)";
        else if (tok[0] != bos) why = "first token is not BOS";
        else {
            uint64_t docs = 0;
            for (uint64_t i = 0; i < n_tokens && !why; i++) {
                if (tok[i] >= vocab) {
                    snprintf(whybuf, sizeof whybuf, "token %llu has id %u >= vocabulary size %u",
                             (unsigned long long)i, tok[i], vocab);
                    why = whybuf;
                }
                docs += tok[i] == bos;
            }
            if (!why && docs != n_docs) why = "document count does not match header";
            if (!why) {
                s->doc_start = xmalloc((n_docs + 1) * sizeof *s->doc_start);
                uint64_t d = 0;
                for (uint64_t i = 0; i < n_tokens; i++)
                    if (tok[i] == bos) s->doc_start[d++] = i;
                s->doc_start[n_docs] = n_tokens;
                s->tokens = (uint16_t *)tok;
            }
        }
    }
    if (why) {
        snprintf(err, errlen, "corrupt shard %s: %s", path, why);
        munmap(map, len);
        memset(s, 0, sizeof *s);
        return -1;
    }
    s->vocab_size = vocab;
    s->bos_id = bos;
    s->n_tokens = n_tokens;
    s->n_docs = n_docs;
    s->map = map;
    s->map_len = len;
    return 0;
}

void shard_close(Shard *s) {
    if (s->map) munmap(s->map, s->map_len);
    free(s->doc_start);
    memset(s, 0, sizeof *s);
}

// shard.h -- token shards: the prepared splits on disk.
//
// Format (little endian), see also README "File formats":
//   char     magic[8]    "ARTOK\0\0\1"  (last byte: format version 1)
//   uint32   vocab_size
//   uint32   bos_id
//   uint64   n_tokens
//   uint64   n_docs
//   uint32   crc32 of the token payload (zlib crc32)
//   uint32   reserved (0)
//   n_tokens x uint16 token ids; every document starts with bos_id
// Opening checks the magic, version, that the file size matches n_tokens exactly (a truncated
// or over-long file is rejected), the checksum, that every id is < vocab_size, that the first
// token is BOS and that the BOS count equals n_docs.
#ifndef SHARD_H
#define SHARD_H

#include <stddef.h>
#include <stdint.h>

#define SHARD_HEADER_BYTES 40

typedef struct {
    uint32_t vocab_size, bos_id;
    uint64_t n_tokens, n_docs;
    uint16_t *tokens;        // n_tokens ids
    uint64_t *doc_start;     // n_docs + 1 offsets into tokens (doc_start[n_docs] = n_tokens)
    void *map; size_t map_len;
} Shard;

int shard_write(const char *path, const uint16_t *tokens, uint64_t n_tokens, uint32_t vocab_size,
                uint32_t bos_id, char *err, size_t errlen);   // atomic
int shard_open(const char *path, Shard *s, char *err, size_t errlen);
void shard_close(Shard *s);

#endif

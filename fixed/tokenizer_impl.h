// tokenizer_impl.h -- internal to the tokenizer (tokenizer*.c): its struct, splitter, encoder.
#ifndef TOKENIZER_IMPL_H
#define TOKENIZER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

#define TOK_MAX_TOKEN_BYTES 65536   // longest token training may create / a file may hold

struct Tokenizer {
    int vocab_size, n_merges;
    int32_t *merges;          // (n_merges, 2): left, right
    int32_t *tok_len;         // (vocab_size,) raw bytes per token, 0 for specials
    size_t *tok_off;          // (vocab_size,) offset of the token's bytes in pool
    uint8_t *pool;            // every token's bytes back to back
    uint64_t *rank_key;       // open-addressed map (left<<32|right) -> merge rank
    int32_t *rank_val;
    size_t rank_mask;
    char *pattern;
    pcre2_code *re;
};

// hashing (tokenizer.c)
static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

uint64_t hash_bytes(const uint8_t *p, size_t n);   // tokenizer.c

static inline uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

// pre-tokenization (tokenizer.c)
typedef struct {
    const pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mc;      // with a big JIT stack, made on first need
    pcre2_jit_stack *js;
    const uint8_t *text;
    size_t len, pos, ms, me;      // ms..me: a match found after a gap, returned next
    int pending;
} Splitter;

void splitter_init(Splitter *s, const Tokenizer *t);
void splitter_free(Splitter *s);
void splitter_reset(Splitter *s, const char *text, size_t len);
// Next chunk [*a, *b); 0 at the end. Every byte lands in exactly one chunk, in order.
int splitter_next(Splitter *s, size_t *a, size_t *b);

// a tokenizer from its merges (tokenizer.c)
Tokenizer *tok_build(const int32_t *merges, int n_merges, const char *pattern, size_t pattern_len,
                     char *err, size_t errlen);

// encoding one chunk (tokenizer_encode.c); bpe_long's buffers:
typedef struct {
    int32_t *id, *nx, *pv;
    uint64_t *heap;           // rank << 32 | position
    size_t cap;
} LongBuf;

// Per-thread encoder state: the splitter, a cache of short chunks -> ids, scratch buffers.
typedef struct {
    uint64_t hash;
    uint32_t koff, ioff;      // key bytes in kbuf, ids in ibuf
    uint16_t len, n;          // len 0: empty slot
} CacheEnt;

typedef struct {
    Splitter sp;
    LongBuf lb;
    int32_t *tmp;             // chunk scratch
    size_t tmp_cap;
    int use_cache;
    CacheEnt *cache;
    size_t cache_cap, cache_n;
    uint8_t *kbuf; size_t klen, kcap;
    int32_t *ibuf; size_t ilen, icap;
} Encoder;

void encoder_init(Encoder *e, const Tokenizer *t, int use_cache);
void encoder_free(Encoder *e);
// Encodes one chunk; returns a pointer to its ids (valid until the next call) and the count.
const int32_t *encode_chunk(const Tokenizer *t, Encoder *e, const uint8_t *p, size_t n, size_t *nout);

// threads over blocks of documents (tokenizer_docs.c), shared by encoding and training
// Splits docs into blocks of about ENC_BLOCK_BYTES; returns the block count, *starts malloc'd.
size_t make_blocks(const DocSet *docs, size_t **starts);
// Runs fn on up to nthreads threads; the calling thread is one of them (the progress drawer).
void run_threads(int nthreads, void *(*fn)(void *), void *job);

#endif

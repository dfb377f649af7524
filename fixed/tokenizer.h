// tokenizer.h -- byte-level BPE: training, encoding, decoding, the vocabulary file.
//
// Vocabulary: ids 0..255 are the raw bytes, then one id per merge in the order learned, then
// TOK_N_SPECIAL reserved special tokens at the top; BOS is the first of them (vocab - 4).
// Text is first split into chunks with the original project's GPT-4-style pattern
// (numbers in groups of at most 2), see TOK_SPLIT_PATTERN; merges never cross chunks.
// Bytes the pattern does not match (invalid UTF-8) become chunks of their own (each maximal
// run of them is one chunk), so decode(encode(x)) == x for every byte string.
//
// Vocabulary file format (little endian), see also README "File formats":
//   char     magic[8]     "ARBPE\0\0\1"  (last byte: format version 1)
//   uint32   vocab_size
//   uint32   n_merges     == vocab_size - 256 - TOK_N_SPECIAL
//   uint32   n_special    == TOK_N_SPECIAL
//   uint32   pattern_len  bytes of the split pattern that follows (no NUL)
//   char     pattern[pattern_len]
//   n_merges x { uint32 left, uint32 right }   merge i creates id 256 + i
//   uint32   crc32 of everything above (zlib crc32)
// The tokenizer's identity (tokenizer hash) is the SHA-256 of the whole file.
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include "prepare.h"
#include "docs.h"

#define TOK_N_SPECIAL 4
#define TOK_SPLIT_PATTERN \
    "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}{1,2}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"

// Trains a tokenizer with vocab_size ids on the documents (each document is pre-tokenized
// on its own). Multi-threaded chunk counting, then incremental pair counts with a priority
// queue. Shows a progress bar unless quiet. Returns NULL with err set if vocab_size is
// too small or the text has too few distinct pairs to learn that many merges.
Tokenizer *tokenizer_train(const DocSet *docs, int vocab_size, int quiet, char *err, size_t errlen);

// Save/load the vocabulary file (atomic write). Load checks magic, version, sizes, merge ids
// and the checksum; on any problem returns NULL with a one-line err naming the file.
int tokenizer_save(const Tokenizer *tok, const char *path, char *err, size_t errlen);
Tokenizer *tokenizer_load(const char *path, char *err, size_t errlen);

// Encodes every document of docs, multi-threaded, with a cache of frequent chunks.
// Output: for each document, BOS followed by its ids, concatenated into *ids (malloc'd),
// *n_ids set. Returns 0 or -1 (err set).
int tokenizer_encode_docs(const Tokenizer *tok, const DocSet *docs, uint16_t **ids, size_t *n_ids,
                          int quiet, char *err, size_t errlen);

// Merge i (0-based) as its two parent ids.
void tokenizer_merge(const Tokenizer *tok, int i, int32_t *left, int32_t *right);
int tokenizer_n_merges(const Tokenizer *tok);

// Pre-tokenization of text into chunks (for tests and tools): ends[i] is the end offset of
// chunk i; chunks cover text in order. Returns the chunk count, or -1 if cap is too small.
long tokenizer_chunks(const Tokenizer *tok, const char *text, size_t len, size_t *ends, long cap);

// The public functions in prepare.h (tokenizer_vocab_size, tokenizer_bos, tokenizer_encode,
// tokenizer_decode, tokenizer_token_bytes, tokenizer_free) are implemented in tokenizer.c and
// tokenizer_encode.c; tokenizer_load_prepared in dataset.c.

#endif

// synth.h -- the synthetic source: English-like documents whose information content is known.
//
// A seeded generator draws every word, clause and sentence from a fixed probabilistic grammar
// and sums -log2 p of each choice it makes. The grammar is unambiguous (a document determines
// the choices that made it), so that sum is exactly the document's information content, and
// (total bits) / (total bytes) over a split is the floor no correct model can beat: about
// 0.75 bits per byte. Its words are a few hundred English ones plus a fixed generated lexicon
// of about 6000 invented names, towns, creatures and things, enough distinct words that a
// few MB of text trains a BPE tokenizer of 4096 ids and more. Output depends only on the seed
// (the same on every machine); changing the grammar or lexicon changes the data format.
#ifndef SYNTH_H
#define SYNTH_H

#include <stdint.h>
#include "docs.h"

// Appends ndocs documents generated from seed to out. If bits is non-NULL, *bits receives
// the summed information content in bits of all generated documents.
void synth_generate(uint64_t seed, size_t ndocs, DocSet *out, double *bits);

// Exact probability of one document under the grammar, by parsing it: returns its
// information content in bits, or -1 if the grammar cannot produce it. Used by tests to
// check the generator's bookkeeping independently.
double synth_doc_bits(const char *text, size_t len);

// Expected information content (bits) and length (bytes) of one document, computed
// analytically from the grammar's probability tables (no sampling). bits/bytes is the
// source's entropy rate in bits per byte; tests compare it with sampled means.
void synth_expectation(double *bits_per_doc, double *bytes_per_doc);

#endif

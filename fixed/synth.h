// synth.h -- the synthetic source: English-like documents whose information content is known.
//
// A seeded generator draws every word, clause and sentence from a fixed probabilistic grammar
// and sums -log2 p of each choice it makes. The grammar is unambiguous (a document determines
// the choices that made it), so that sum is exactly the document's information content, and
// (total bits) / (total bytes) over a split is the floor no correct model can beat. Output
// depends only on the version and the seed (the same on every machine).
//
// Versions: each is a data format, never changed once released (tests/test_synth.c pins
// every version's text by a golden hash).
//   2  simple stories about one hero (synth_v2.c): floor about 0.75 bits per byte, which the
//      default model reaches within 1% in 5 minutes: nothing left to research.
//   3  stories about a cast of three in a world with state (where each one is, what each one
//      holds, the time), a topic-dependent Zipfian lexicon of about 15,000 words, nested
//      clauses and counts (synth_v3.c): floor about 0.81 bits per byte, which the default
//      model ends 5 minutes about 8% above: too little left to research.
//   4  the default (synth_v4.c): version 3's stories with running sums (each member's purse,
//      told again after every earning), 256 rankings of the lexicon instead of 64 and fewer
//      counts: floor about 0.82 bits per byte (README, "The synthetic source", has the
//      measured gaps).
#ifndef SYNTH_H
#define SYNTH_H

#include <stdint.h>
#include "docs.h"

#define SYNTH_VERSION_DEFAULT 4

// 1 if version is one this build can generate.
int synth_version_known(int version);

// Appends ndocs documents generated from seed to out. If bits is non-NULL, *bits receives
// the summed information content in bits of all generated documents.
void synth_generate(int version, uint64_t seed, size_t ndocs, DocSet *out, double *bits);

// Exact probability of one document under the grammar, by parsing it: returns its
// information content in bits, or -1 if the grammar cannot produce it. Used by tests to
// check the generator's bookkeeping independently.
double synth_doc_bits(int version, const char *text, size_t len);

// Expected information content (bits) and length (bytes) of one document, computed
// analytically from the grammar's probability tables (no sampling). bits/bytes is the
// source's entropy rate in bits per byte; tests compare it with sampled means.
void synth_expectation(int version, double *bits_per_doc, double *bytes_per_doc);

// The versions' grammars (synth_v2.c, synth_v3.c).
void synth2_generate(uint64_t seed, size_t ndocs, DocSet *out, double *bits);
double synth2_doc_bits(const char *text, size_t len);
void synth2_expectation(double *bits_per_doc, double *bytes_per_doc);
void synth3_generate(uint64_t seed, size_t ndocs, DocSet *out, double *bits);
double synth3_doc_bits(const char *text, size_t len);
void synth3_expectation(double *bits_per_doc, double *bytes_per_doc);
void synth4_generate(uint64_t seed, size_t ndocs, DocSet *out, double *bits);
double synth4_doc_bits(const char *text, size_t len);
void synth4_expectation(double *bits_per_doc, double *bytes_per_doc);

#endif

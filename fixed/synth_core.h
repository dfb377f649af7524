// synth_core.h -- the machinery the synthetic grammars share (internal to the fixed layer).
//
// A grammar is written once as code over three primitives: lit() (fixed text), pick() (a
// word from a table) and choose() (a structural decision). In generate mode the primitives
// draw from the PRNG and append text; in parse mode they read the text instead, and every
// decision is made by looking ahead at the text (LOOK), so the parse is unique. Both add
// -log2 p of every decision to the same counter, so a parser re-derives a document's
// information content from its text alone. The Ex helpers walk a grammar as expectations
// from its tables, sharing no code with the interpreters (an independent check).
#ifndef SYNTH_CORE_H
#define SYNTH_CORE_H

#include <stddef.h>
#include <stdint.h>

// Kinds of generated words (invented from syllables by a fixed integer PRNG, so every
// machine builds the same lexicon). The values seed the generator: never renumber them.
typedef enum {
    GEN_NONE, GEN_NAME, GEN_TOWN, GEN_CREATURE, GEN_THING, GEN_ADJ,
    GEN_PLACE, GEN_VERB_T, GEN_VERB_I,
} Gen;

#define SYNTH_MAX_TOPICS 256

// A word table: nfixed given words, then ngen generated ones. Zipf probabilities by rank,
// p(r) ~ (r+1)^-zipf_s. With ntopic > 1 every topic ranks the words in its own fixed
// random order (the first topic in table order), so a topic's words are its own common ones.
typedef struct {
    const char *name;
    const char *const *fixed;
    int nfixed, ngen;
    Gen gen;
    double zipf_s;
    int ntopic;
    // filled by synth_lexicon_build
    int n, id;
    const char **w;     // by word index
    size_t *len;
    double *p, *cdf, *lp;  // by rank: probability, cumulative, -log2 p
    int *word_at_rank;  // [ntopic][n]
    int *rank_of_word;  // [ntopic][n]
} Table;

typedef struct { const char *w; size_t len; int table, idx; } Slot;   // table -1: reserved

// All words of one grammar: every table word and reserved literal word, distinct, indexed
// by text (the parser cuts a word out of the text as the run of letters at a position).
typedef struct {
    Table **tables;
    int ntables;
    Slot *slots;
    size_t mask;
} Lexicon;

// Builds the tables; dies if a fixed word is not letters only or appears twice.
// female(i) tells a GEN_NAME table which generated entries get female endings.
void synth_lexicon_build(Lexicon *lx, Table **tables, int ntables, const char *const *reserved,
                         int nreserved, int (*female)(int idx));

// One interpreter's state. A grammar embeds it as the first member of its own state.
typedef struct {
    const Lexicon *lx;
    int parse, fail;
    const char *in; size_t n, pos;   // parse: the text
    char *out; size_t len, cap;      // generate: the document so far
    uint64_t s[4];
    double bits;
    int topic;                       // which ranking the topic tables use
    int var[4];                      // a small grammar's own variables
} G;

#define LOOK(expr) (g->parse ? (expr) : 0)   // lookahead only when parsing

// (exported as synth_*; the short names are for the grammar files, which include this header)
void synth_seed(G *g, uint64_t seed);
void synth_emit(G *g, const char *s, size_t n);
void synth_lit(G *g, const char *s);
int synth_at(const G *g, const char *s);           // parse: does the text at pos start with s?
int synth_word_at(const G *g, const Table *T);     // parse: index of T's word at pos, or -1
int synth_choose(G *g, const double *p, int k, int parsed);   // a decision among k outcomes
int synth_pick(G *g, const Table *T);              // a word of T (under g->topic); its index
void synth_say(G *g, const Table *T, int idx);     // T's word idx, already known: no bits
int synth_uniform(G *g, int n, int parsed);        // a decision among n equally likely outcomes
#define emit synth_emit
#define lit synth_lit
#define at synth_at
#define word_at synth_word_at
#define choose synth_choose
#define pick synth_pick
#define say synth_say
#define uniform_choice synth_uniform

// Expectations (bits, bytes) of grammar parts.
typedef struct { double bits, bytes; } Ex;
Ex synth_ex_add(Ex a, Ex b);
Ex synth_ex_scale(Ex a, double k);
Ex synth_ex_lit(const char *s);
double synth_entropy(const double *p, int k);
Ex synth_ex_table(const Table *T, int topic);       // a pick
double synth_ex_len(const Table *T, int topic);    // mean length of a pick (bytes)
Ex synth_ex_choice(const double *p, int k, const Ex *outcome);
#define ex_add synth_ex_add
#define ex_scale synth_ex_scale
#define ex_lit synth_ex_lit
#define entropy synth_entropy
#define ex_table synth_ex_table
#define ex_len synth_ex_len
#define ex_choice synth_ex_choice

#define COUNT(a) (int)(sizeof a / sizeof *a)

#endif

// synth_story.h -- the story grammar of synthetic versions 3 and 4 (synth_story.c), its
// analytic expectation (synth_story_expect.c) and what the versions share. Internal to
// the fixed layer; a version (synth_v3.c, synth_v4.c) is a Grammar: its tables and decisions.
#ifndef SYNTH_STORY_H
#define SYNTH_STORY_H

#include <string.h>

#include "docs.h"
#include "synth_core.h"

#define NUM_LO 2            // counted things: "counted N THINGS", all equally likely
#define NUM_HI 9999999

static const char *const HOURS[12] = {
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
};
static const char *const SKIP[3] = { "One hour later", "Two hours later", "Three hours later" };

// Sentence types: version 3 has the first nine, version 4 all (each version's own P_TYPE).
enum { S_GO, S_TAKE, S_GIVE, S_DOT, S_DOI, S_REL, S_SAY, S_COUNT, S_CLOCK, S_EARN, N_TYPES };
// The other decisions, the same in every version (each row sums to 1).
static const double P_SUBJ[2] = { 0.5, 0.5 };          // pronoun (the previous subject) / a name
// Every outcome of a decision has its own probability, so that no word of the text can be
// exchanged for another without changing the bits (tests/test_synth.c relies on it).
static const double P_THIRD[3] = { 0.45, 0.33, 0.22 };   // which member
static const double P_HALF[2] = { 0.6, 0.4 };            // which of the other two (next, the one after)
static const double P_NADJ[3] = { 0.1, 0.35, 0.55 };     // 0, 1 or 2 adjectives
static const double P_PP[3] = { 0.3, 0.45, 0.25 };      // - / " in the PLACE" (where the subject is) / " near the PLACE"
static const double P_OWN[2] = { 0.55, 0.45 };             // "the ADJ* OBJECT" / "her OBJECT" (what the subject holds)
static const double P_ADV[3] = { 0.2, 0.35, 0.45 };      // - / " ADV" / " in the PLACE" (where the subject is)
static const double P_NEST[2] = { 0.65, 0.35 };          // end the noun phrase / " that VT the ..."
static const char *const DET[6] = { "the", "this", "some", "every", "each", "another" };
static const double P_DET[6] = { 0.35, 0.2, 0.15, 0.12, 0.1, 0.08 };   // before a noun drawn afresh
static const double P_ITEMS[3] = { 0.1, 0.3, 0.6 };   // things counted: one, two or three
static const double P_SKIP[3] = { 0.5, 0.3, 0.2 };       // one, two, three hours later
static const double P_SEP[2] = { 0.85, 0.15 };           // " " / "\n" before a sentence
static const double P_STOP[2] = { 0.94, 0.06 };          // after sentence min_sentences..max-1
static const double P_HOUR[12] = { 12 / 78.0, 11 / 78.0, 10 / 78.0, 9 / 78.0, 8 / 78.0, 7 / 78.0,   // the first hour
                                   6 / 78.0, 5 / 78.0, 4 / 78.0, 3 / 78.0, 2 / 78.0, 1 / 78.0 };

// Each cast table alternates female / male, by rank.
static inline int is_female(int i) { return i % 2 == 0; }

// The purses (version 4): the pennies each member starts with and each amount earned are all
// equally likely in their ranges; one sentence earns one, two or three amounts. A table, not
// constants, so that a version with other ranges shares the grammar and its expectation
// (whose purse lengths need bounds that are multiples of GRID, synth_story_expect.c).
typedef struct {
    int purse_lo, purse_hi, earn_lo, earn_hi;
    double p_earnings[3];
} Purses;

// Version 4's purses (synth_v4.c), for the tools that read its text (bench/synth_gap.c).
extern const Purses SYNTH4_PURSES;

typedef struct {
    Table *cast[3], *town, *kind, *adj, *object, *place, *vt, *vi, *move, *counted, *adv;
    const double *p_type;   // [story_ntypes]
    const Purses *purses;   // NULL without (version 3)
    int ntopic, min_sentences, max_sentences;
    Lexicon lx;             // filled by story_build
} Grammar;

// The sentence types a grammar draws from: up to S_CLOCK, and S_EARN with the purses.
static inline int story_ntypes(const Grammar *gr) { return gr->purses ? N_TYPES : S_CLOCK + 1; }

// Builds the lexicon of gr from all its tables (they must include gr's) and literal words.
void story_build(Grammar *gr, Table **tables, int ntables, const char *const *reserved, int nreserved);
void story_generate(const Grammar *gr, uint64_t seed, size_t ndocs, DocSet *out, double *bits);
double story_doc_bits(const Grammar *gr, const char *text, size_t len);
void story_expectation(const Grammar *gr, double *bits_per_doc, double *bytes_per_doc);

#endif

// synth_v4.c -- synthetic version 4, the default: version 3's stories (see synth_v3.c) with
// money to count. Each of the three friends starts with a purse of pennies, and whenever one
// earns some the story says how many they have now:
//
//   ... Lucy was in the trugiory with her flute and 412 pennies. ... Amy earned 57 pennies
//   and had 960. He counted 9114500 feathers. Lucy earned 8 pennies and had 420. ...
//
// What the changes from version 3 test (README, "The synthetic source", has the table):
//   - Running sums (0 bits): "had T" is the member's last total plus what they just earned.
//     A model must find that member's last total, possibly many sentences back among the
//     other members' totals (entity-indexed retrieval), and add a two-digit number to it
//     across the tokenizer's two-digit groups (multi-digit arithmetic with carries). A model
//     that has learnt neither pays about the amount's bits again; the amount itself (all
//     equally likely) is dense information.
//   - 256 rankings of every content table instead of 64: four times the distributions to
//     memorise, each seen a quarter as often, so more parameters and more data keep paying.
//   - Fewer equally likely counts: they fill what the sums do not of the floor.
// Everything else is version 3's (the grammar is synth_story.c's; this file is the version's
// tables and decisions).
#include "synth.h"
#include "synth_story.h"
#include "synth_words.h"

#include <pthread.h>

// Zipf exponent 0.8 for the content tables (1.0 in version 3): a longer tail, learnt slowly.
STORY_TABLES(0.8, 1.3, 256);
static const char *const RESERVED[] = { STORY_RESERVED, "earned", "pennies" };
static const double P_TYPE[N_TYPES] = { 0.04, 0.04, 0.04, 0.04, 0.03, 0.04, 0.03, 0.12, 0.03, 0.59 };
// 8 to 18 sentences (24 in version 3): a story with its numbers fits in one 512-token row.
static Grammar V4 = { STORY_GRAMMAR_TABLES, .p_type = P_TYPE, .ntypes = N_TYPES, .ntopic = 256,
                      .min_sentences = 8, .max_sentences = 18 };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void build(void) { story_build(&V4, (Table **)ALL_TABLES, COUNT(ALL_TABLES), RESERVED, COUNT(RESERVED)); }
static const Grammar *v4(void) { pthread_once(&once, build); return &V4; }

void synth4_generate(uint64_t seed, size_t ndocs, DocSet *out, double *bits) { story_generate(v4(), seed, ndocs, out, bits); }
double synth4_doc_bits(const char *text, size_t len) { return story_doc_bits(v4(), text, len); }
void synth4_expectation(double *bits_per_doc, double *bytes_per_doc) { story_expectation(v4(), bits_per_doc, bytes_per_doc); }

// synth_v4.c -- synthetic version 4, the default: version 3's stories (see synth_v3.c) with
// money to count. Each of the three friends starts with a purse of pennies, and whenever one
// earns some the story says how many they have now:
//
//   ... Max was in the treiplimill with his chaibeow and 54222394 pennies. Ella was in the
//   vutroloft with her huoon and 51690717 pennies. ... Max earned 29327288 and had 83549682.
//   Pobra earned 31989858 and had 73468835. ... Ella earned 35775737 and 66409027, and had
//   312108620. She counted 1850581 beads. ...
//
// What the changes from version 3 test (README, "The synthetic source", has the table):
//   - Running sums (0 bits): "had T" is the member's last total plus the one to three
//     amounts just earned. A model must find that member's last total, often many sentences
//     back among the other members' totals (entity-indexed retrieval), and add eight-digit
//     numbers across the tokenizer's two-digit groups (multi-digit addition with carries).
//     A model that has learnt neither pays about an amount's 26 bits again for each total;
//     one that has learnt the magnitudes or the last digits pays less. The amounts (all
//     equally likely) are dense information that holds the floor in the 0.8-1.5 range.
//     Who earns is always named, so that a purse's history does not depend on the rest of
//     the story (the analytic expectation relies on it).
//   - 256 rankings of every content table instead of 64, and a Zipf exponent of 0.8 instead
//     of 1.0: four times the distributions to memorise, each seen a quarter as often, with
//     longer tails, so more parameters and more data keep paying.
//   - Fewer equally likely counts (12% of the sentences instead of 38%): in version 3 they
//     were learnt at once and diluted the gap to the floor.
//   - 8 to 18 sentences (24 in version 3), about 1.1 KB and 360 tokens: a story with its
//     numbers fits in one 512-token row, so its totals can always be looked back on.
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
const Purses SYNTH4_PURSES = { .purse_lo = 10000000, .purse_hi = 99999999, .earn_lo = 10000000, .earn_hi = 99999999,
                               .p_earnings = { 0.75, 0.17, 0.08 } };
static Grammar V4 = { STORY_GRAMMAR_TABLES, .p_type = P_TYPE, .purses = &SYNTH4_PURSES, .ntopic = 256,
                      .min_sentences = 8, .max_sentences = 18 };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void build(void) { story_build(&V4, (Table **)ALL_TABLES, COUNT(ALL_TABLES), RESERVED, COUNT(RESERVED)); }
static const Grammar *v4(void) { pthread_once(&once, build); return &V4; }

void synth4_generate(uint64_t seed, size_t ndocs, DocSet *out, double *bits) { story_generate(v4(), seed, ndocs, out, bits); }
double synth4_doc_bits(const char *text, size_t len) { return story_doc_bits(v4(), text, len); }
void synth4_expectation(double *bits_per_doc, double *bytes_per_doc) { story_expectation(v4(), bits_per_doc, bytes_per_doc); }

// synth_v3.c -- synthetic version 3: stories about three friends in a small
// world with state, written so that a model has to learn a lot to reach the floor.
//
//   It was seven o'clock in Glykroby. There lived three friends: Lucy the little mouse, Amy
//   the cold griy pebble and Gridro the grumomp. Lucy was in the trugiory with her flute. Amy
//   was in the thaloft with her teddy. Gridro was in the house with his lantern. He counted
//   9114500 feathers and 1824970 bells. Lucy went to this stablody park. Three hours later,
//   it was ten o'clock. ... Lucy, who had the flute, found the kreibeily drostaish that
//   deizzled some glakazy bison. ... She saw her flute in the river. ...
//
// The mechanisms, and what each one tests (the ones marked "0 bits" are free to a model that
// has learnt them and cost a model that has not: they are where the headroom is):
//   - A Zipfian lexicon of about 15,000 words (English ones first, then invented ones), and
//     the town's topic: the town (Zipfian over 1600) picks one of 64 rankings of every
//     content table, so the same word is common in one story and rare in the next. A model
//     must memorise 64 distributions per table and infer the topic from the town or from the
//     words so far: capacity and in-context inference, learnt gradually with more data.
//   - A cast of three, introduced at the start with their names (each from its own table,
//     so they differ) and referred back to all through the story (0 bits for the name once
//     the decision says which member): copying from far back, induction.
//   - Pronouns: "He"/"She" always means the previous sentence's subject, with that
//     member's gender (from the name's ending): agreement and coreference.
//   - State (0 bits): where each member is ("X danced in the P": the place X last went to),
//     what each holds ("X painted her O"; gifts swap two members' things; "X, who had the
//     O, ..."), and the time: "Two hours later, it was six o'clock" is arithmetic modulo 12
//     on the hour told many sentences before.
//   - Nested clauses: "the owl that painted the heron that ..." (right-branching relative
//     clauses of geometric depth) after a clause with a relative clause of its own, and
//     centre-embedded: "X said that the owl that painted the heron found the flute".
//   - Counts in digits, all equally likely: nothing to learn, dense information that lifts
//     the floor into the range of real text (the other mechanisms alone give about 0.6).
//   - Length: 8 to 24 sentences after a 4-sentence introduction, about 1.2 KB (340 tokens)
//     on average, so a story uses most of a 512-token row and its state is carried across it.
//
// The grammar is synth_story.c's; this file is the version's tables and decisions.
#include "synth.h"
#include "synth_story.h"
#include "synth_words.h"

#include <pthread.h>

STORY_TABLES(1.0, 1.3, 64);
static const char *const RESERVED[] = { STORY_RESERVED };
static const double P_TYPE[S_CLOCK + 1] = { 0.10, 0.08, 0.08, 0.08, 0.06, 0.08, 0.06, 0.38, 0.08 };
static Grammar V3 = { STORY_GRAMMAR_TABLES, .p_type = P_TYPE, .ntopic = 64,
                      .min_sentences = 8, .max_sentences = 24 };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void build(void) { story_build(&V3, (Table **)ALL_TABLES, COUNT(ALL_TABLES), RESERVED, COUNT(RESERVED)); }
static const Grammar *v3(void) { pthread_once(&once, build); return &V3; }

void synth3_generate(uint64_t seed, size_t ndocs, DocSet *out, double *bits) { story_generate(v3(), seed, ndocs, out, bits); }
double synth3_doc_bits(const char *text, size_t len) { return story_doc_bits(v3(), text, len); }
void synth3_expectation(double *bits_per_doc, double *bytes_per_doc) { story_expectation(v3(), bits_per_doc, bytes_per_doc); }

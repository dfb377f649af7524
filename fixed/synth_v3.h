// synth_v3.h -- synthetic version 3's constants, decisions and tables, shared by its grammar
// (synth_v3.c) and its analytic expectation (synth_v3_expect.c). Internal to the fixed layer.
#ifndef SYNTH_V3_H
#define SYNTH_V3_H

#include <string.h>

#include "synth_core.h"

#define NTOPIC 64
#define ZIPF_CONTENT 1.0
#define ZIPF_NAMES 1.3
#define MIN_SENTENCES 8
#define MAX_SENTENCES 24
#define NUM_LO 2
#define NUM_HI 9999999

static const char *const HOURS[12] = {
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
};
static const char *const SKIP[3] = { "One hour later", "Two hours later", "Three hours later" };

// Structural decisions (each row sums to 1).
enum { S_GO, S_TAKE, S_GIVE, S_DOT, S_DOI, S_REL, S_SAY, S_COUNT, S_CLOCK, N_TYPES };
static const double P_TYPE[N_TYPES] = { 0.10, 0.08, 0.08, 0.08, 0.06, 0.08, 0.06, 0.38, 0.08 };
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
static const double P_STOP[2] = { 0.94, 0.06 };          // after sentence MIN_SENTENCES..MAX-1
static const double P_HOUR[12] = { 12 / 78.0, 11 / 78.0, 10 / 78.0, 9 / 78.0, 8 / 78.0, 7 / 78.0,   // the first hour
                                   6 / 78.0, 5 / 78.0, 4 / 78.0, 3 / 78.0, 2 / 78.0, 1 / 78.0 };

// Each cast table alternates female / male, by rank.
static inline int is_female(int i) { return i % 2 == 0; }

// The tables (synth_v3.c); synth3_init() builds them, once.
extern Table synth3_name_a, synth3_name_b, synth3_name_c, synth3_town, synth3_kind, synth3_adj,
             synth3_object, synth3_place, synth3_vt, synth3_vi, synth3_move, synth3_counted, synth3_adv;
extern Table *const synth3_cast[3];
#define T_NAME_A synth3_name_a
#define T_NAME_B synth3_name_b
#define T_NAME_C synth3_name_c
#define T_TOWN synth3_town
#define T_KIND synth3_kind
#define T_ADJ synth3_adj
#define T_OBJECT synth3_object
#define T_PLACE synth3_place
#define T_VT synth3_vt
#define T_VI synth3_vi
#define T_MOVE synth3_move
#define T_COUNTED synth3_counted
#define T_ADV synth3_adv
#define CAST synth3_cast
void synth3_init(void);

#endif

// synth_v3_expect.c -- synthetic version 3's analytic expectation (see synth.h).
#include "synth.h"
#include "synth_v3.h"

#include <math.h>

// ----------------------------------------------------------------------------
// Analytic expectation: the grammar walked as expectations, from the tables alone (it shares
// no code with the interpreters of synth_v3.c). Bits do not depend on the topic (a topic only
// reorders a table); bytes do, so the story after the town is averaged over topics. The
// state-determined words are distributed like fresh draws (a member's place is the last
// place drawn for it; gifts only move things between members), so they cost the table's
// mean length and no bits. The subject's name or pronoun length depends on who the
// previous subject was: that distribution is carried from sentence to sentence.

static Ex ex_bytes(double b) { return (Ex){ 0, b }; }

static Ex story_given_topic(int t) {
    Ex det = { entropy(P_DET, 6), 0 };
    for (int i = 0; i < 6; i++) det.bytes += P_DET[i] * (double)(strlen(DET[i]) + 1);
    double name_len[3], pron_len[3], named_len = 0, given_len = 0, p_given[3] = { 0 };
    Ex name_pick = { 0, 0 };
    for (int c = 0; c < 3; c++) {
        double pf = 0;
        for (int r = 0; r < CAST[c]->n; r++)
            if (is_female(CAST[c]->word_at_rank[r])) pf += CAST[c]->p[r];
        name_len[c] = ex_len(CAST[c], 0);
        pron_len[c] = 3 * pf + 2 * (1 - pf);   // She / He
        named_len += P_THIRD[c] * name_len[c];
        name_pick = ex_add(name_pick, ex_table(CAST[c], 0));
        for (int j = 0; j < 2; j++) p_given[(c + 1 + j) % 3] += P_THIRD[c] * P_HALF[j];   // who gets a gift
    }
    for (int c = 0; c < 3; c++) given_len += p_given[c] * name_len[c];
    double hour[12], hour_len = 0;   // the hour's distribution, carried like the subject's
    for (int h = 0; h < 12; h++) { hour[h] = P_HOUR[h]; hour_len += P_HOUR[h] * (double)strlen(HOURS[h]); }
    Ex adj1 = ex_add(ex_table(&T_ADJ, t), ex_lit(" "));
    Ex optadj = ex_choice(P_NADJ, 3, (Ex[]){ { 0, 0 }, adj1, ex_scale(adj1, 2) });
    Ex kind = ex_table(&T_KIND, t), obj = ex_table(&T_OBJECT, t), place = ex_table(&T_PLACE, t);
    Ex vt = ex_table(&T_VT, t), vi = ex_table(&T_VI, t), adv = ex_table(&T_ADV, t);
    Ex obj_known = ex_bytes(ex_len(&T_OBJECT, t)), place_known = ex_bytes(ex_len(&T_PLACE, t));
    Ex member = { entropy(P_THIRD, 3), named_len };

    // After the town: the hour's decision is before it, counted here too.
    Ex e = { entropy(P_HOUR, 12), hour_len + strlen("It was ") + strlen(" o'clock in ") };
    e = ex_add(e, ex_lit(". There lived three friends: "));
    e = ex_add(e, name_pick);
    e = ex_add(e, ex_scale(ex_add(ex_add(ex_lit(" the "), optadj), kind), 3));
    e = ex_add(e, ex_lit(", "  " and "  "."));
    for (int c = 0; c < 3; c++)
        e = ex_add(e, ex_add(ex_add(ex_lit(" "), ex_bytes(name_len[c])),
                             ex_add(ex_add(ex_lit(" was in the "), place), ex_add(ex_lit(" with her ."), obj))));

    // Noun phrase: E[np] = base + P(nest) (mid + E[np]).
    Ex np_base = ex_add(ex_add(det, optadj), ex_add(kind, (Ex){ entropy(P_NEST, 2), 0 }));
    Ex np_mid = ex_add(ex_lit(" that "), ex_add(vt, ex_lit(" ")));
    Ex np = ex_scale(ex_add(np_base, ex_scale(np_mid, P_NEST[1])), 1 / (1 - P_NEST[1]));

    double d[3] = { 0, 0, 1 };   // who the previous subject is
    double reach = 1;            // P(the story has a k-th sentence)
    for (int k = 1; k <= MAX_SENTENCES; k++) {
        double subj_bytes = 0, s[3];
        for (int c = 0; c < 3; c++) {
            s[c] = P_SUBJ[0] * d[c] + P_SUBJ[1] * P_THIRD[c];
            subj_bytes += P_SUBJ[0] * d[c] * pron_len[c] + P_SUBJ[1] * P_THIRD[c] * name_len[c];
        }
        Ex subj = { entropy(P_SUBJ, 2) + P_SUBJ[1] * entropy(P_THIRD, 3), subj_bytes };
        double next_hour[12] = { 0 }, clock_len = 0;   // after a clock sentence
        for (int h = 0; h < 12; h++)
            for (int j = 0; j < 3; j++) next_hour[(h + j + 1) % 12] += hour[h] * P_SKIP[j];
        for (int h = 0; h < 12; h++) clock_len += next_hour[h] * (double)strlen(HOURS[h]);
        Ex out[N_TYPES];
        out[S_GO] = ex_add(ex_add(ex_add(subj, ex_lit("  to ")), ex_table(&T_MOVE, t)), ex_add(det, ex_add(optadj, place)));
        out[S_TAKE] = ex_add(ex_add(subj, ex_lit(" picked up ")), ex_add(det, ex_add(optadj, obj)));
        out[S_GIVE] = ex_add(ex_add(ex_add(member, ex_lit(" gave the ")), obj_known),
                             ex_add(ex_add(ex_lit(" to "), (Ex){ entropy(P_HALF, 2), given_len }), ex_add(ex_lit(" and got the "), obj_known)));
        Ex dobj = ex_choice(P_OWN, 2, (Ex[]){ ex_add(ex_lit(" "), ex_add(det, ex_add(optadj, obj))), ex_add(ex_lit(" her "), obj_known) });
        out[S_DOT] = ex_add(ex_add(ex_add(subj, ex_lit(" ")), vt),
                            ex_add(dobj, ex_choice(P_PP, 3, (Ex[]){ { 0, 0 }, ex_add(ex_lit(" in the "), place_known),
                                                                                     ex_add(ex_lit(" near "), ex_add(det, place)) })));
        out[S_DOI] = ex_add(ex_add(subj, ex_lit(" ")), ex_add(vi, ex_choice(P_ADV, 3, (Ex[]){ { 0, 0 }, ex_add(ex_lit(" "), adv),
                                                                                             ex_add(ex_lit(" in the "), place_known) })));
        out[S_REL] = ex_add(ex_add(ex_add(member, ex_lit(", who had the ")), obj_known),
                            ex_add(ex_add(ex_lit(", "), vt), ex_add(ex_lit(" "), np)));
        out[S_SAY] = ex_add(ex_add(ex_add(subj, ex_lit(" said that ")), np),
                            ex_add(ex_add(ex_lit(" "), vt), ex_add(ex_lit(" "), ex_add(det, ex_add(optadj, obj)))));
        double digits = 0;   // mean number of digits
        for (int d = 1, lo = 1; lo <= NUM_HI; d++, lo *= 10) {
            int a = lo > NUM_LO ? lo : NUM_LO, z = 10 * lo - 1 < NUM_HI ? 10 * lo - 1 : NUM_HI;
            if (z >= a) digits += (double)d * (z - a + 1) / (NUM_HI - NUM_LO + 1);
        }
        Ex item = ex_add(ex_add(ex_lit(" "), (Ex){ log2(NUM_HI - NUM_LO + 1), digits }), ex_table(&T_COUNTED, t));
        Ex items = ex_choice(P_ITEMS, 3, (Ex[]){ item, ex_add(ex_scale(item, 2), ex_lit(" and ")),
                                                  ex_add(ex_scale(item, 3), ex_lit(",  and ")) });
        out[S_COUNT] = ex_add(ex_add(subj, ex_lit(" counted ")), items);
        out[S_CLOCK] = ex_add(ex_choice(P_SKIP, 3, (Ex[]){ ex_lit(SKIP[0]), ex_lit(SKIP[1]), ex_lit(SKIP[2]) }),
                              ex_add(ex_lit(", it was "), ex_add(ex_bytes(clock_len), ex_lit(" o'clock"))));
        Ex sent = ex_add(ex_choice(P_TYPE, N_TYPES, out), ex_lit("."));
        sent = ex_add(sent, (Ex){ entropy(P_SEP, 2), 1 });
        if (k >= MIN_SENTENCES && k < MAX_SENTENCES) sent.bits += entropy(P_STOP, 2);
        e = ex_add(e, ex_scale(sent, reach));

        // the next sentence's previous subject
        double p_named = P_TYPE[S_GIVE] + P_TYPE[S_REL], p_same = P_TYPE[S_CLOCK];
        for (int c = 0; c < 3; c++) d[c] = p_same * d[c] + p_named * P_THIRD[c] + (1 - p_same - p_named) * s[c];
        for (int h = 0; h < 12; h++) hour[h] = (1 - p_same) * hour[h] + p_same * next_hour[h];
        if (k >= MIN_SENTENCES) reach *= P_STOP[0];
    }
    return e;
}

void synth3_expectation(double *bits_per_doc, double *bytes_per_doc) {
    synth3_init();
    double p_topic[NTOPIC] = { 0 };
    for (int r = 0; r < T_TOWN.n; r++) p_topic[T_TOWN.word_at_rank[r] % NTOPIC] += T_TOWN.p[r];
    Ex e = ex_table(&T_TOWN, 0);
    for (int t = 0; t < NTOPIC; t++) e = ex_add(e, ex_scale(story_given_topic(t), p_topic[t]));
    *bits_per_doc = e.bits;
    *bytes_per_doc = e.bytes;
}

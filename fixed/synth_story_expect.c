// synth_story_expect.c -- the story grammar's analytic expectation (see synth.h).
#include "synth_story.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>

// ----------------------------------------------------------------------------
// Analytic expectation: the grammar walked as expectations, from the tables alone (it shares
// no code with the interpreters of synth_story.c). Bits do not depend on the topic (a topic only
// reorders a table); bytes do, so the story after the town is averaged over topics. The
// state-determined words are distributed like fresh draws (a member's place is the last
// place drawn for it; gifts only move things between members), so they cost the table's
// mean length and no bits. The subject's name or pronoun length depends on who the
// previous subject was: that distribution is carried from sentence to sentence.

// The purses: whoever earns is named afresh each time, so how many amounts a member has
// earned before sentence k does not depend on the rest of the story; a total's length
// depends only on that count (earn_len[k] below).

static Ex ex_bytes(double b) { return (Ex){ 0, b }; }

// Mean number of digits of a number drawn uniformly from lo..hi.
static double mean_digits(int lo, int hi) {
    double e = 0;
    for (int d = 1, p = 1; p <= hi; d++, p *= 10) {
        int a = p > lo ? p : lo, z = 10 * p - 1 < hi ? 10 * p - 1 : hi;
        if (z >= a) e += (double)d * (z - a + 1) / (hi - lo + 1);
    }
    return e;
}

// earn_len[k]: mean length of the total told in an earning that is sentence k; from
// total_len[m], the mean number of digits of a purse after m amounts. The purse's distribution
// is carried on cells of GRID pennies (the bounds and the powers of ten are multiples of it,
// so a cell has one length); a sum of two values in cells i and j lies in cell i + j or
// i + j + 1, half the mass each: the error is far below what sampling can see.
#define GRID 10000
static void purse_lengths(const Grammar *gr, double *earn_len) {
    const Purses *pu = gr->purses;
    int max_earnings = 3 * gr->max_sentences;
    double *total_len = xmalloc((size_t)(max_earnings + 1) * sizeof *total_len);
    int n = (int)((pu->purse_hi + (long long)max_earnings * pu->earn_hi) / GRID) + 2;
    double *f = xcalloc((size_t)n, sizeof *f), *cum = xmalloc((size_t)(n + 1) * sizeof *cum);
    int p0 = pu->purse_lo / GRID, p1 = (pu->purse_hi + 1) / GRID, lo = pu->earn_lo / GRID, hi = (pu->earn_hi + 1) / GRID;
    for (int i = p0; i < p1; i++) f[i] = 1.0 / (p1 - p0);
    for (int m = 1; m <= max_earnings; m++) {
        cum[0] = 0;
        for (int i = 0; i < n; i++) cum[i + 1] = cum[i] + f[i];
        for (int i = n - 1; i >= 0; i--) {   // the amount's cell is lo..hi-1, each 1/(hi-lo)
            double s = 0;
            for (int off = 0; off <= 1; off++) {   // from cell i - a (off 0) or i - a - 1 (off 1)
                int b = i - lo - off + 1, a = i - hi - off + 1;
                if (b > 0) s += 0.5 * (cum[b < n ? b : n] - cum[a > 0 ? a : 0]);
            }
            f[i] = s / (hi - lo);
        }
        double e = 0;
        for (int i = 0; i < n; i++) {
            double len = 1;
            for (double x = (double)i * GRID; x >= 10; x /= 10) len++;
            e += f[i] * len;
        }
        total_len[m] = e;
    }
    free(f);
    free(cum);
    // Before sentence k, member c has earned j amounts with probability a[c][j]: each
    // sentence is c's earning with probability q, of 1, 2 or 3 amounts.
    size_t na = (size_t)(max_earnings + 1);
    double *a = xcalloc(3 * na, sizeof *a), *next = xmalloc(na * sizeof *next);
    for (int c = 0; c < 3; c++) a[c * na] = 1;
    for (int k = 1; k <= gr->max_sentences; k++) {
        earn_len[k] = 0;
        for (int c = 0; c < 3; c++)
            for (int j = 0; j + 3 <= max_earnings; j++)
                for (int x = 0; x < 3; x++) earn_len[k] += P_THIRD[c] * a[c * na + j] * pu->p_earnings[x] * total_len[j + x + 1];
        for (int c = 0; c < 3; c++) {
            double q = gr->p_type[S_EARN] * P_THIRD[c], *ac = a + c * na;
            memset(next, 0, na * sizeof *next);
            for (int j = 0; j <= max_earnings; j++) {
                next[j] += (1 - q) * ac[j];
                for (int x = 0; x < 3 && j + x + 1 <= max_earnings; x++) next[j + x + 1] += q * pu->p_earnings[x] * ac[j];
            }
            memcpy(ac, next, na * sizeof *next);
        }
    }
    free(a);
    free(next);
    free(total_len);
}

static Ex story_given_topic(const Grammar *gr, int t, const double *earn_len) {
    const Purses *pu = gr->purses;
    const double *P_TYPE = gr->p_type;
    Ex det = { entropy(P_DET, 6), 0 };
    for (int i = 0; i < 6; i++) det.bytes += P_DET[i] * (double)(strlen(DET[i]) + 1);
    double name_len[3], pron_len[3], named_len = 0, given_len = 0, p_given[3] = { 0 };
    Ex name_pick = { 0, 0 };
    for (int c = 0; c < 3; c++) {
        double pf = 0;
        for (int r = 0; r < gr->cast[c]->n; r++)
            if (is_female(gr->cast[c]->word_at_rank[r])) pf += gr->cast[c]->p[r];
        name_len[c] = ex_len(gr->cast[c], 0);
        pron_len[c] = 3 * pf + 2 * (1 - pf);   // She / He
        named_len += P_THIRD[c] * name_len[c];
        name_pick = ex_add(name_pick, ex_table(gr->cast[c], 0));
        for (int j = 0; j < 2; j++) p_given[(c + 1 + j) % 3] += P_THIRD[c] * P_HALF[j];   // who gets a gift
    }
    for (int c = 0; c < 3; c++) given_len += p_given[c] * name_len[c];
    double hour[12], hour_len = 0;   // the hour's distribution, carried like the subject's
    for (int h = 0; h < 12; h++) { hour[h] = P_HOUR[h]; hour_len += P_HOUR[h] * (double)strlen(HOURS[h]); }
    Ex adj1 = ex_add(ex_table(gr->adj, t), ex_lit(" "));
    Ex optadj = ex_choice(P_NADJ, 3, (Ex[]){ { 0, 0 }, adj1, ex_scale(adj1, 2) });
    Ex kind = ex_table(gr->kind, t), obj = ex_table(gr->object, t), place = ex_table(gr->place, t);
    Ex vt = ex_table(gr->vt, t), vi = ex_table(gr->vi, t), adv = ex_table(gr->adv, t);
    Ex obj_known = ex_bytes(ex_len(gr->object, t)), place_known = ex_bytes(ex_len(gr->place, t));
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
    if (pu)   // " and N pennies"
        e = ex_add(e, ex_scale((Ex){ log2(pu->purse_hi - pu->purse_lo + 1), mean_digits(pu->purse_lo, pu->purse_hi) + strlen(" and  pennies") }, 3));

    // Noun phrase: E[np] = base + P(nest) (mid + E[np]).
    Ex np_base = ex_add(ex_add(det, optadj), ex_add(kind, (Ex){ entropy(P_NEST, 2), 0 }));
    Ex np_mid = ex_add(ex_lit(" that "), ex_add(vt, ex_lit(" ")));
    Ex np = ex_scale(ex_add(np_base, ex_scale(np_mid, P_NEST[1])), 1 / (1 - P_NEST[1]));

    double d[3] = { 0, 0, 1 };   // who the previous subject is
    double reach = 1;            // P(the story has a k-th sentence)
    for (int k = 1; k <= gr->max_sentences; k++) {
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
        out[S_GO] = ex_add(ex_add(ex_add(subj, ex_lit("  to ")), ex_table(gr->move, t)), ex_add(det, ex_add(optadj, place)));
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
        Ex item = ex_add(ex_add(ex_lit(" "), (Ex){ log2(NUM_HI - NUM_LO + 1), mean_digits(NUM_LO, NUM_HI) }), ex_table(gr->counted, t));
        Ex items = ex_choice(P_ITEMS, 3, (Ex[]){ item, ex_add(ex_scale(item, 2), ex_lit(" and ")),
                                                  ex_add(ex_scale(item, 3), ex_lit(",  and ")) });
        out[S_COUNT] = ex_add(ex_add(subj, ex_lit(" counted ")), items);
        if (pu) {
            double amount_len = mean_digits(pu->earn_lo, pu->earn_hi);
            double tail = strlen(", and had ");   // after two or three amounts
            Ex amounts = ex_choice(pu->p_earnings, 3, (Ex[]){ ex_bytes(amount_len + strlen(" and had ")),
                                                          ex_bytes(2 * amount_len + strlen(" and ") + tail),
                                                          ex_bytes(3 * amount_len + strlen(", ") + strlen(" and ") + tail) });
            amounts.bits += (pu->p_earnings[0] + 2 * pu->p_earnings[1] + 3 * pu->p_earnings[2]) * log2(pu->earn_hi - pu->earn_lo + 1);
            out[S_EARN] = ex_add(ex_add(member, ex_lit(" earned ")), ex_add(amounts, ex_bytes(earn_len[k])));
        }
        out[S_CLOCK] = ex_add(ex_choice(P_SKIP, 3, (Ex[]){ ex_lit(SKIP[0]), ex_lit(SKIP[1]), ex_lit(SKIP[2]) }),
                              ex_add(ex_lit(", it was "), ex_add(ex_bytes(clock_len), ex_lit(" o'clock"))));
        Ex sent = ex_add(ex_choice(P_TYPE, story_ntypes(gr), out), ex_lit("."));
        sent = ex_add(sent, (Ex){ entropy(P_SEP, 2), 1 });
        if (k >= gr->min_sentences && k < gr->max_sentences) sent.bits += entropy(P_STOP, 2);
        e = ex_add(e, ex_scale(sent, reach));

        // the next sentence's previous subject
        double p_named = P_TYPE[S_GIVE] + P_TYPE[S_REL] + (pu ? P_TYPE[S_EARN] : 0), p_same = P_TYPE[S_CLOCK];
        for (int c = 0; c < 3; c++) d[c] = p_same * d[c] + p_named * P_THIRD[c] + (1 - p_same - p_named) * s[c];
        for (int h = 0; h < 12; h++) hour[h] = (1 - p_same) * hour[h] + p_same * next_hour[h];
        if (k >= gr->min_sentences) reach *= P_STOP[0];
    }
    return e;
}

void story_expectation(const Grammar *gr, double *bits_per_doc, double *bytes_per_doc) {
    double *earn_len = xcalloc((size_t)gr->max_sentences + 1, sizeof *earn_len);
    if (gr->purses) purse_lengths(gr, earn_len);
    double *p_topic = xcalloc((size_t)gr->ntopic, sizeof *p_topic);
    for (int r = 0; r < gr->town->n; r++) p_topic[gr->town->word_at_rank[r] % gr->ntopic] += gr->town->p[r];
    Ex e = ex_table(gr->town, 0);
    for (int t = 0; t < gr->ntopic; t++) e = ex_add(e, ex_scale(story_given_topic(gr, t, earn_len), p_topic[t]));
    *bits_per_doc = e.bits;
    *bytes_per_doc = e.bytes;
    free(p_topic);
    free(earn_len);
}

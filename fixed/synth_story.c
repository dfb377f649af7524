// synth_story.c -- the grammar of synthetic versions 3 and 4: stories about three friends in a
// small world with state, written so that a model has to learn a lot to reach the floor. The
// versions differ in their tables and decisions (synth_v3.c, synth_v4.c, which say what each
// mechanism tests), and version 4 adds the purses (its Purses table).
//
// Exactness (see synth_core.h for the two interpreters): every table word and literal word
// is a distinct string (checked at startup); each decision is visible in the text (a
// sentence type by the words after its subject, a pronoun or a name, an optional word); the
// state-determined words and numbers are emitted with lit()/say(), which in parse mode fail
// unless the text has exactly them; and the length is spelt by the stop decisions. So the
// map from decision sequences to texts is one-to-one and P(text) is the product of their
// probabilities.
#include "synth_story.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

// ----------------------------------------------------------------------------
// The grammar

typedef struct {
    G g;
    const Grammar *gr;
    int name[3];      // index of each member's name in its cast table
    int loc[3];       // PLACE index where each member is
    int held[3];      // OBJECT index each member holds
    int hour;         // 0..11: HOURS[hour] o'clock
    int prev;         // the previous sentence's subject: what a pronoun means
    long long purse[3];   // pennies each member has
} State;

static int female(const State *v, int c) { return is_female(v->name[c]); }

// Parse mode: length of the run of letters at pos.
static size_t run_at(const G *g) {
    size_t m = 0;
    while (g->pos + m < g->n && ((g->in[g->pos + m] | 32) >= 'a' && (g->in[g->pos + m] | 32) <= 'z')) m++;
    return m;
}

// Parse mode: which member's name is the word at pos, or -1.
static int member_at(const State *v) {
    const G *g = &v->g;
    size_t m = run_at(g);
    for (int c = 0; c < 3; c++)
        if (v->gr->cast[c]->len[v->name[c]] == m && memcmp(g->in + g->pos, v->gr->cast[c]->w[v->name[c]], m) == 0) return c;
    return -1;
}

// Parse mode: index of the word at pos in words[0..n), or -1.
static int literal_at(const G *g, const char *const *words, int n) {
    size_t m = run_at(g);
    for (int i = 0; i < n; i++)
        if (strlen(words[i]) == m && memcmp(g->in + g->pos, words[i], m) == 0) return i;
    return -1;
}

static void say_member(State *v, int c) { say(&v->g, v->gr->cast[c], v->name[c]); }

// A member named by the text: uniform over the three.
static int named_member(State *v) {
    G *g = &v->g;
    int parsed = LOOK(member_at(v));
    if (parsed < 0) { g->fail = 1; return 0; }
    int c = choose(g, P_THIRD, 3, parsed);
    say_member(v, c);
    return c;
}

// A sentence's subject: "He"/"She" (the previous subject) or a member's name.
static int subject(State *v) {
    G *g = &v->g;
    if (choose(g, P_SUBJ, 2, LOOK(at(g, "He ") || at(g, "She ") ? 0 : 1)) == 0) {
        lit(g, female(v, v->prev) ? "She" : "He");
        return v->prev;
    }
    return named_member(v);
}

// Parse mode: how many "ADJ " words follow (at most 2).
static int adj_run(State *v) {
    G *g = &v->g;
    const Table *adj = v->gr->adj;
    size_t save = g->pos;
    int k = 0, i;
    while (k < 2 && (i = word_at(g, adj)) >= 0 && g->pos + adj->len[i] < g->n &&
           g->in[g->pos + adj->len[i]] == ' ') {
        g->pos += adj->len[i] + 1;
        k++;
    }
    g->pos = save;
    return k;
}

static void opt_adj(State *v) {
    G *g = &v->g;
    int k = choose(g, P_NADJ, 3, LOOK(adj_run(v)));
    for (int i = 0; i < k; i++) { pick(g, v->gr->adj); lit(g, " "); }
}

// "the " or another determiner (not before a noun the state determines).
static void det(G *g) {
    int parsed = LOOK(literal_at(g, DET, 6));
    if (parsed < 0) { g->fail = 1; return; }
    lit(g, DET[choose(g, P_DET, 6, parsed)]);
    lit(g, " ");
}

// "the ADJ* KIND", then maybe " that VT " and another one.
static void noun_phrase(State *v) {
    G *g = &v->g;
    for (;;) {
        det(g);
        opt_adj(v);
        pick(g, v->gr->kind);
        if (g->fail || choose(g, P_NEST, 2, LOOK(at(g, " that "))) == 0) return;
        lit(g, " that ");
        pick(g, v->gr->vt);
        lit(g, " ");
    }
}

// A number from lo to hi, in digits, all equally likely: dense information that is easy to
// learn (it raises the floor, not the headroom). Returns it.
static void say_number(G *g, long long x) {   // a number the state determines: no bits
    char digits[24];
    snprintf(digits, sizeof digits, "%lld", x);
    lit(g, digits);
}

static int number(G *g, int lo, int hi) {
    int parsed = -1;
    if (g->parse) {
        size_t m = 0;
        int x = 0;
        while (g->pos + m < g->n && m < 8 && g->in[g->pos + m] >= '0' && g->in[g->pos + m] <= '9')
            x = 10 * x + (g->in[g->pos + m++] - '0');
        if (m > 0 && g->in[g->pos] != '0') parsed = x - lo;
    }
    int x = lo + uniform_choice(g, hi - lo + 1, parsed);
    say_number(g, x);
    return x;
}

// "N THINGS", "N THINGS and N THINGS" or "N THINGS, N THINGS and N THINGS"
static void counted_items(State *v) {
    G *g = &v->g;
    number(g, NUM_LO, NUM_HI);
    lit(g, " ");
    pick(g, v->gr->counted);
    int k = choose(g, P_ITEMS, 3, LOOK(at(g, " and ") ? 1 : at(g, ", ") ? 2 : 0));
    for (int i = 1; i <= k; i++) {
        lit(g, i == k ? " and " : ", ");
        number(g, NUM_LO, NUM_HI);
        lit(g, " ");
        pick(g, v->gr->counted);
    }
}

// Parse mode: the sentence type, from the words after the subject.
static int type_at(const State *v) {
    const G *g = &v->g;
    for (int k = 0; k < 3; k++)
        if (at(g, SKIP[k])) return S_CLOCK;
    G h = *g;
    h.pos += run_at(g);
    if (at(&h, " picked up ")) return S_TAKE;
    if (at(&h, " gave the ")) return S_GIVE;
    if (at(&h, ", who had the ")) return S_REL;
    if (at(&h, " said that ")) return S_SAY;
    if (at(&h, " counted ")) return S_COUNT;
    if (at(&h, " earned ")) return S_EARN;
    h.pos++;
    return word_at(&h, v->gr->move) >= 0 ? S_GO : word_at(&h, v->gr->vt) >= 0 ? S_DOT : S_DOI;
}

static void sentence(State *v) {
    G *g = &v->g;
    int t = choose(g, v->gr->p_type, story_ntypes(v->gr), LOOK(type_at(v)));
    int c = v->prev;
    switch (t) {
    case S_GO: c = subject(v); lit(g, " "); pick(g, v->gr->move); lit(g, " to "); det(g); opt_adj(v); v->loc[c] = pick(g, v->gr->place); break;
    case S_TAKE: c = subject(v); lit(g, " picked up "); det(g); opt_adj(v); v->held[c] = pick(g, v->gr->object); break;
    case S_GIVE: {   // a gives b its thing and gets b's
        c = named_member(v);
        lit(g, " gave the ");
        say(g, v->gr->object, v->held[c]);
        lit(g, " to ");
        int parsed = 0;
        if (g->parse) {
            int b = member_at(v);
            if (b < 0 || b == c) { g->fail = 1; return; }
            parsed = b == (c + 1) % 3 ? 0 : 1;
        }
        int b = (c + 1 + choose(g, P_HALF, 2, parsed)) % 3;
        say_member(v, b);
        lit(g, " and got the ");
        say(g, v->gr->object, v->held[b]);
        int tmp = v->held[c]; v->held[c] = v->held[b]; v->held[b] = tmp;
        break;
    }
    case S_DOT:
        c = subject(v);
        lit(g, " ");
        pick(g, v->gr->vt);
        if (choose(g, P_OWN, 2, LOOK(at(g, " his ") || at(g, " her ")))) {
            lit(g, female(v, c) ? " her " : " his ");
            say(g, v->gr->object, v->held[c]);
        } else {
            lit(g, " ");
            det(g);
            opt_adj(v);
            pick(g, v->gr->object);
        }
        switch (choose(g, P_PP, 3, LOOK(at(g, " in the ") ? 1 : at(g, " near ") ? 2 : 0))) {
        case 1: lit(g, " in the "); say(g, v->gr->place, v->loc[c]); break;
        case 2: lit(g, " near "); det(g); pick(g, v->gr->place); break;
        default: break;
        }
        break;
    case S_DOI:
        c = subject(v);
        lit(g, " ");
        pick(g, v->gr->vi);
        switch (choose(g, P_ADV, 3, LOOK(at(g, " in the ") ? 2 : at(g, " ") ? 1 : 0))) {
        case 1: lit(g, " "); pick(g, v->gr->adv); break;
        case 2: lit(g, " in the "); say(g, v->gr->place, v->loc[c]); break;
        default: break;
        }
        break;
    case S_SAY:   // a centre-embedded clause: the verb follows the noun phrase's own clauses
        c = subject(v);
        lit(g, " said that ");
        noun_phrase(v);
        lit(g, " ");
        pick(g, v->gr->vt);
        lit(g, " ");
        det(g);
        opt_adj(v);
        pick(g, v->gr->object);
        break;
    case S_COUNT:
        c = subject(v);
        lit(g, " counted ");
        counted_items(v);
        break;
    case S_EARN: {   // named, not a pronoun: who earns is independent of the story so far
        const Purses *pu = v->gr->purses;
        c = named_member(v);
        lit(g, " earned ");
        v->purse[c] += number(g, pu->earn_lo, pu->earn_hi);
        int k = choose(g, pu->p_earnings, 3, LOOK(at(g, " and had ") ? 0 : at(g, " and ") ? 1 : 2));
        for (int i = 1; i <= k; i++) {
            lit(g, i == k ? " and " : ", ");
            v->purse[c] += number(g, pu->earn_lo, pu->earn_hi);
        }
        lit(g, k ? ", and had " : " and had ");
        say_number(g, v->purse[c]);
        break;
    }
    case S_REL:
        c = named_member(v);
        lit(g, ", who had the ");
        say(g, v->gr->object, v->held[c]);
        lit(g, ", ");
        pick(g, v->gr->vt);
        lit(g, " ");
        noun_phrase(v);
        break;
    default: {
        int k = choose(g, P_SKIP, 3, LOOK(at(g, SKIP[0]) ? 0 : at(g, SKIP[1]) ? 1 : 2));
        lit(g, SKIP[k]);
        lit(g, ", it was ");
        v->hour = (v->hour + k + 1) % 12;
        lit(g, HOURS[v->hour]);
        lit(g, " o'clock");
        break;
    }
    }
    lit(g, ".");
    v->prev = c;
}

static void intro(State *v) {
    G *g = &v->g;
    lit(g, "It was ");
    int parsed = LOOK(literal_at(g, HOURS, 12));
    if (parsed < 0) { g->fail = 1; return; }
    v->hour = choose(g, P_HOUR, 12, parsed);
    lit(g, HOURS[v->hour]);
    lit(g, " o'clock in ");
    g->topic = pick(g, v->gr->town) % v->gr->ntopic;
    lit(g, ". There lived three friends: ");
    for (int c = 0; c < 3; c++) {
        v->name[c] = pick(g, v->gr->cast[c]);
        lit(g, " the ");
        opt_adj(v);
        pick(g, v->gr->kind);
        lit(g, c == 0 ? ", " : c == 1 ? " and " : ".");
    }
    for (int c = 0; c < 3; c++) {
        lit(g, " ");
        say_member(v, c);
        lit(g, " was in the ");
        v->loc[c] = pick(g, v->gr->place);
        lit(g, female(v, c) ? " with her " : " with his ");
        v->held[c] = pick(g, v->gr->object);
        if (v->gr->purses) {
            lit(g, " and ");
            v->purse[c] = number(g, v->gr->purses->purse_lo, v->gr->purses->purse_hi);
            lit(g, " pennies");
        }
        lit(g, ".");
    }
    v->prev = 2;   // the last one introduced
}

static void doc(State *v) {
    G *g = &v->g;
    intro(v);
    for (int k = 1; !g->fail; k++) {   // (a failed parse must not loop: its decisions all read 0)
        lit(g, choose(g, P_SEP, 2, LOOK(at(g, "\n"))) ? "\n" : " ");
        sentence(v);
        if (k == v->gr->max_sentences) return;
        if (k >= v->gr->min_sentences && choose(g, P_STOP, 2, LOOK(g->pos == g->n))) return;
    }
}

// ----------------------------------------------------------------------------
// Public API (synth_story.h)

void story_generate(const Grammar *gr, uint64_t seed, size_t ndocs, DocSet *out, double *bits) {
    State v;
    memset(&v, 0, sizeof v);
    v.gr = gr;
    v.g.lx = &gr->lx;
    synth_seed(&v.g, seed);
    double total = 0;
    for (size_t d = 0; d < ndocs; d++) {
        v.g.len = 0;
        v.g.bits = 0;
        doc(&v);
        docset_add(out, v.g.out, v.g.len);
        total += v.g.bits;
    }
    free(v.g.out);
    if (bits) *bits = total;
}

double story_doc_bits(const Grammar *gr, const char *text, size_t len) {
    State v;
    memset(&v, 0, sizeof v);
    v.gr = gr;
    v.g.lx = &gr->lx;
    v.g.parse = 1;
    v.g.in = text;
    v.g.n = len;
    doc(&v);
    if (v.g.fail || v.g.pos != v.g.n) return -1;
    return v.g.bits;
}

void story_build(Grammar *gr, Table **tables, int ntables, const char *const *reserved, int nreserved) {
    synth_lexicon_build(&gr->lx, tables, ntables, reserved, nreserved, is_female);
}

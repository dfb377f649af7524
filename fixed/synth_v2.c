// synth_v2.c -- synthetic version 2: simple stories from a probabilistic grammar whose exact
// information content is known. Kept unchanged so that data sets prepared with it (the
// default before version 3) reproduce byte for byte: `prepare --synthetic-version 2`.
//
// The stories are TinyStories-like sentences about a hero, whose words come from tables:
// a few hundred common English words plus a generated lexicon of about 6000 invented names,
// towns, creatures, things and qualities ("Once upon a time, there was a fluffy zibble
// named Mirabel from Kelford."). What a model can learn: the grammar, the word frequencies,
// the hero's name and gender carried through the story (the pronoun follows the name's
// ending). What it cannot: the draws themselves, about 0.75 bits per byte.
//
// One grammar, two interpreters (synth_core.h): the grammar is LL(k) on literal words.
//
// Why the sum is the exact information content: every word of every table is a distinct
// string (checked at startup), each table is used in slots where the words around it tell
// which table it is, a decision's outcome is always visible in the text (an optional word
// is present or not, a sentence type has its own first words), and the document length is
// spelt by the stop decisions. So the map from decision sequences to texts is one-to-one and
// P(text) is the product of its decisions' probabilities.
#include "synth.h"
#include "synth_core.h"
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// Vocabulary. Each table gets Zipf probabilities p(rank r) ~ (r+1)^-ZIPF_S. Words after "a"
// begin with a consonant (KIND, ADJ, generated ones too), so the article is always "a".
#define ZIPF_S 0.7

static const char *const NAMES[] = {   // alternating female / male, by rank
    "Lily", "Tom", "Mia", "Ben", "Emma", "Max", "Sara", "Sam", "Anna", "Leo", "Lucy", "Jack",
    "Zoe", "Tim", "Ella", "Finn", "Amy", "Joe", "Rose", "Dan", "Sue", "Bob", "Kate", "Ted",
    "Jane", "Noah", "Nina", "Liam", "Ruby", "Oscar", "Molly", "Jake", "Daisy", "Luke",
    "Grace", "Adam", "Chloe", "Eli", "Olivia", "Owen",
};
#define NAME_IS_FEMALE(i) ((i) % 2 == 0)
static const char *const KIND[] = {
    "dog", "cat", "bird", "frog", "bunny", "bear", "fox", "duck", "mouse", "fish", "puppy",
    "kitten", "lion", "tiger", "pig", "cow", "horse", "sheep", "goat", "hen", "chick", "rabbit",
    "turtle", "snail", "bee", "butterfly", "dragon", "dinosaur", "monkey", "panda", "koala",
    "penguin", "giraffe", "zebra", "wolf", "squirrel", "deer", "hamster", "parrot", "pony",
    "whale", "dolphin", "bat", "lamb", "goose", "kangaroo", "seal", "spider", "ladybug", "crab",
};
static const char *const ADJ[] = {
    "big", "little", "red", "blue", "green", "small", "yellow", "pink", "tiny", "shiny", "soft",
    "purple", "fluffy", "round", "tall", "long", "short", "warm", "cold", "bright", "dark",
    "pretty", "funny", "silly", "noisy", "quiet", "fast", "slow", "strong", "gentle", "kind",
    "brown", "white", "black", "golden", "silver", "wooden", "secret", "magic", "special", "shy",
    "curious", "lucky", "busy", "clever", "cute", "dirty", "clean", "heavy", "light", "wet",
    "dry", "sweet", "spotty", "striped", "fuzzy", "sparkly", "giant", "clumsy", "tidy", "new",
    "wild", "friendly", "lazy",
};
static const char *const OBJECT[] = {
    "ball", "kite", "box", "hat", "cake", "book", "toy", "boat", "car", "flower", "apple",
    "stone", "cookie", "shoe", "sock", "cup", "drum", "bell", "doll", "bike", "train", "truck",
    "balloon", "leaf", "stick", "shell", "rock", "key", "map", "coin", "ring", "star", "bag",
    "basket", "blanket", "pillow", "crayon", "pencil", "picture", "letter", "present", "egg",
    "sandwich", "banana", "carrot", "pie", "candy", "teddy", "spoon", "bucket", "rope",
    "ladder", "lamp", "clock", "feather", "button", "puzzle", "robot", "wagon", "jar", "nest",
    "seed", "umbrella", "orange",
};
static const char *const PLACE[] = {
    "park", "garden", "forest", "house", "school", "beach", "river", "hill", "farm", "shop",
    "lake", "pond", "yard", "kitchen", "library", "zoo", "city", "village", "meadow", "field",
    "cave", "castle", "playground", "street", "market", "bakery", "woods", "jungle", "mountain",
    "island", "sea", "barn", "tree", "bridge", "tent", "bedroom", "attic", "valley", "desert",
    "harbor",
};
static const char *const VT[] = {      // past tense, takes "the OBJECT"
    "found", "saw", "liked", "took", "wanted", "made", "lost", "held", "painted", "shared",
    "hugged", "kicked", "threw", "caught", "opened", "washed", "carried", "fixed", "dropped",
    "pushed", "pulled", "loved", "touched", "hid", "built", "drew", "baked", "bought",
    "cleaned", "chased", "followed", "watched", "ate", "brought", "needed", "shook", "grabbed",
    "filled", "wrapped", "tossed", "counted", "borrowed", "patted", "smelled", "tasted",
    "dried", "colored", "stacked", "showed", "kept",
};
static const char *const VI[] = {      // past tense, no object
    "played", "ran", "jumped", "laughed", "smiled", "slept", "sang", "danced", "cried",
    "waited", "walked", "swam", "climbed", "hopped", "skipped", "rested", "giggled", "shouted",
    "whispered", "listened", "sat", "stood", "flew", "rolled", "spun", "clapped", "cheered",
    "yawned", "sneezed", "wiggled", "splashed", "explored", "dreamed", "hummed", "napped",
    "raced", "crawled", "stretched", "paddled", "wandered", "bounced", "twirled", "tiptoed",
    "waved", "nodded",
};
static const char *const ADV[] = {
    "quickly", "slowly", "happily", "loudly", "softly", "quietly", "carefully", "together",
    "again", "outside", "gently", "proudly", "sadly", "bravely", "merrily", "sleepily",
    "silently", "eagerly", "calmly", "today", "later", "forever", "away", "home",
};
static const char *const FEELING[] = {
    "happy", "sad", "scared", "tired", "proud", "excited", "angry", "sleepy", "brave", "calm",
    "lonely", "hungry", "thirsty", "grumpy", "cheerful", "worried", "surprised", "bored",
    "glad", "nervous", "jealous", "thankful", "upset", "confused", "hopeful", "joyful", "sorry",
    "safe", "free", "cozy",
};

// Generated words: invented names, towns, creatures, things and qualities built from
// syllables, so the source has thousands of distinct words (a BPE vocabulary of 4096 learns
// 3836 merges, and merges never cross words: every distinct word of the training text is at
// least one merge) and a mention of one carries 8-10 bits. They come from a fixed seed and
// integer arithmetic only, so every machine builds the same lexicon; it is part of the
// data format. Their Zipf ranks follow the fixed words of their table, so the fixed words
// stay the common ones.
#define GEN_NAMES 2400       // after NAMES, alternating female / male like them
#define GEN_TOWNS 1600       // the TOWN table: place names ("Miraford")
#define GEN_CREATURES 800    // after KIND, lowercase, starting with a consonant ("zibble")
#define GEN_THINGS 800       // after OBJECT, lowercase ("plonket")
#define GEN_ADJS 400         // after ADJ, lowercase, starting with a consonant ("snorfy")


#define TABLE(nm, arr, kind, count) { .name = nm, .fixed = arr, .nfixed = COUNT(arr), .ngen = count, .gen = kind, .zipf_s = ZIPF_S }
static const char *const NO_WORDS[] = { 0 };
static Table T_NAMES = TABLE("names", NAMES, GEN_NAME, GEN_NAMES),
             T_KIND = TABLE("kinds", KIND, GEN_CREATURE, GEN_CREATURES),
             T_TOWN = { .name = "towns", .fixed = NO_WORDS, .ngen = GEN_TOWNS, .gen = GEN_TOWN, .zipf_s = ZIPF_S },
             T_ADJ = TABLE("adjectives", ADJ, GEN_ADJ, GEN_ADJS), T_OBJECT = TABLE("objects", OBJECT, GEN_THING, GEN_THINGS),
             T_PLACE = TABLE("places", PLACE, GEN_NONE, 0), T_VT = TABLE("verbs", VT, GEN_NONE, 0),
             T_VI = TABLE("intransitive verbs", VI, GEN_NONE, 0), T_ADV = TABLE("adverbs", ADV, GEN_NONE, 0),
             T_FEELING = TABLE("feelings", FEELING, GEN_NONE, 0);
static Table *const ALL_TABLES[] = { &T_NAMES, &T_KIND, &T_TOWN, &T_ADJ, &T_OBJECT, &T_PLACE,
                                     &T_VT, &T_VI, &T_ADV, &T_FEELING };
#define N_TABLES COUNT(ALL_TABLES)

// Literal words the parser looks ahead for; no table word may equal one of them.
static const char *const RESERVED[] = {
    "Once", "upon", "a", "time", "there", "was", "named", "who", "lived", "near", "the",
    "There", "once", "called", "Then", "One", "day", "The", "end", "He", "She", "he", "she",
    "his", "her", "felt", "went", "to", "in", "with", "I", "like", "my", "Look", "at", "Let",
    "us", "go", "am", "so", "Can", "have", "said", "from", "A", "came", "met",
};

// Structural decisions (each row sums to 1).
static const double P_INTRO[3] = { 0.5, 0.3, 0.2 };     // Once upon.. / NAME was a.. / There once..
static const double P_FROM[2] = { 0.6, 0.4 };            // "." / " from TOWN." after the hero's name
static const double P_HOME[2] = { 0.5, 0.5 };            // who lived near the PLACE / in TOWN
static const double P_NADJ[3] = { 0.4, 0.4, 0.2 };       // 0, 1 or 2 adjectives before a noun
static const double P_STOP[2] = { 0.9, 0.1 };            // another sentence / stop
static const double P_SEP[2] = { 0.8, 0.2 };             // " " / "\n"
static const double P_CLOSE[2] = { 0.6, 0.4 };           // nothing / " The end."
// S V. / Then.. / One day.. / quote / The X was Y. / A KIND named NAME came from TOWN.
static const double P_SENT[6] = { 0.34, 0.14, 0.10, 0.08, 0.16, 0.18 };
static const double P_SUBJ[2] = { 0.35, 0.65 };          // name / pronoun
// VT the X / VI .. / felt F / went to the P / went to TOWN / met NAME in TOWN
static const double P_VP[6] = { 0.34, 0.26, 0.08, 0.08, 0.12, 0.12 };
static const double P_PP[2] = { 0.5, 0.5 };              // - / in the PLACE
static const double P_VIMOD[5] = { 0.25, 0.20, 0.15, 0.20, 0.20 };  // - / in the P / with his X / ADV / with NAME
static const double P_QUOTE[6] = { 0.22, 0.18, 0.18, 0.18, 0.14, 0.10 };  // I like my.. / ... / Let us go to TOWN!
static const double P_SPEAKER[2] = { 0.5, 0.5 };         // said NAME / she said

static Lexicon LEX;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static int name_is_female(int i) { return NAME_IS_FEMALE(i); }
static void init_tables(void) {
    synth_lexicon_build(&LEX, (Table **)ALL_TABLES, N_TABLES, RESERVED, COUNT(RESERVED), name_is_female);
}

#define HERO(g) ((g)->var[0])   // NAMES index of the main character

// ----------------------------------------------------------------------------
// The grammar

static const char *pronoun(const G *g, int cap) {
    int f = NAME_IS_FEMALE(HERO(g));
    return cap ? (f ? "She" : "He") : (f ? "she" : "he");
}

// Parse mode: how many "ADJ " words follow (0, 1, 2: more is not in the grammar anyway).
static int adj_run(G *g) {
    size_t save = g->pos;
    int k = 0, i;
    while (k < 2 && (i = word_at(g, &T_ADJ)) >= 0 && g->pos + T_ADJ.len[i] < g->n &&
           g->in[g->pos + T_ADJ.len[i]] == ' ') {
        g->pos += T_ADJ.len[i] + 1;
        k++;
    }
    g->pos = save;
    return k;
}

// "ADJ ", "ADJ ADJ " or nothing
static void opt_adj(G *g) {
    int k = choose(g, P_NADJ, 3, LOOK(adj_run(g)));
    for (int i = 0; i < k; i++) { pick(g, &T_ADJ); lit(g, " "); }
}

static void hero_name(G *g) { emit(g, T_NAMES.w[HERO(g)], T_NAMES.len[HERO(g)]); }

static void subject(G *g, int cap) {
    if (choose(g, P_SUBJ, 2, LOOK(!at(g, T_NAMES.w[HERO(g)]))) == 0) hero_name(g);
    else lit(g, pronoun(g, cap));
}

// After the subject: " VERB ..." (no final period)
static void verb_phrase(G *g) {
    lit(g, " ");
    int v = choose(g, P_VP, 6, LOOK(word_at(g, &T_VT) >= 0 ? 0 : word_at(g, &T_VI) >= 0 ? 1
                                    : at(g, "felt ") ? 2 : at(g, "went to the ") ? 3
                                    : at(g, "went to ") ? 4 : 5));
    switch (v) {
    case 0:
        pick(g, &T_VT);
        lit(g, " the ");
        opt_adj(g);
        pick(g, &T_OBJECT);
        if (choose(g, P_PP, 2, LOOK(at(g, " in the ")))) { lit(g, " in the "); pick(g, &T_PLACE); }
        break;
    case 1: {
        pick(g, &T_VI);
        int m = choose(g, P_VIMOD, 5, LOOK(at(g, " in the ") ? 1 : at(g, " with his ") ? 2
                                           : at(g, " with her ") ? 2 : at(g, " with ") ? 4
                                           : (g->pos < g->n && g->in[g->pos] == ' ') ? 3 : 0));
        if (m == 1) { lit(g, " in the "); pick(g, &T_PLACE); }
        else if (m == 2) {
            lit(g, NAME_IS_FEMALE(HERO(g)) ? " with her " : " with his ");
            pick(g, &T_OBJECT);
        } else if (m == 3) { lit(g, " "); pick(g, &T_ADV); }
        else if (m == 4) { lit(g, " with "); pick(g, &T_NAMES); }
        break;
    }
    case 2: lit(g, "felt "); pick(g, &T_FEELING); break;
    case 3: lit(g, "went to the "); pick(g, &T_PLACE); break;
    case 4: lit(g, "went to "); pick(g, &T_TOWN); break;
    default: lit(g, "met "); pick(g, &T_NAMES); lit(g, " in "); pick(g, &T_TOWN); break;
    }
}

static void quote(G *g) {
    int q = choose(g, P_QUOTE, 6, LOOK(at(g, "I like my ") ? 0 : at(g, "Look at the ") ? 1
                                       : at(g, "Let us go to the ") ? 2 : at(g, "I am so ") ? 3
                                       : at(g, "Let us go to ") ? 5 : 4));
    switch (q) {
    case 0: lit(g, "I like my "); pick(g, &T_OBJECT); lit(g, "!"); break;
    case 1: lit(g, "Look at the "); opt_adj(g); pick(g, &T_OBJECT); lit(g, "!"); break;
    case 2: lit(g, "Let us go to the "); pick(g, &T_PLACE); lit(g, "!"); break;
    case 3: lit(g, "I am so "); pick(g, &T_FEELING); lit(g, "!"); break;
    case 4: lit(g, "Can I have the "); pick(g, &T_OBJECT); lit(g, "?"); break;
    default: lit(g, "Let us go to "); pick(g, &T_TOWN); lit(g, "!"); break;
    }
}

static void intro(G *g) {
    int t = choose(g, P_INTRO, 3, LOOK(at(g, "Once upon ") ? 0 : at(g, "There once ") ? 2 : 1));
    if (t == 0) {
        lit(g, "Once upon a time, there was a ");
        opt_adj(g);
        pick(g, &T_KIND);
        lit(g, " named ");
        HERO(g) = pick(g, &T_NAMES);
    } else if (t == 1) {
        HERO(g) = pick(g, &T_NAMES);
        lit(g, " was a ");
        opt_adj(g);
        pick(g, &T_KIND);
        if (choose(g, P_HOME, 2, LOOK(!at(g, " who lived near the "))) == 0) {
            lit(g, " who lived near the ");
            pick(g, &T_PLACE);
        } else {
            lit(g, " who lived in ");
            pick(g, &T_TOWN);
        }
    } else {
        lit(g, "There once lived a ");
        opt_adj(g);
        pick(g, &T_KIND);
        lit(g, " called ");
        HERO(g) = pick(g, &T_NAMES);
    }
    if (t != 1 && choose(g, P_FROM, 2, LOOK(at(g, " from ")))) { lit(g, " from "); pick(g, &T_TOWN); }
    lit(g, ".");
}

static void sentence(G *g) {
    int t = choose(g, P_SENT, 6, LOOK(at(g, "Then ") ? 1 : at(g, "One day, ") ? 2 : at(g, "\"") ? 3
                                      : at(g, "The ") ? 4 : at(g, "A ") ? 5 : 0));
    switch (t) {
    case 0: subject(g, 1); verb_phrase(g); lit(g, "."); break;
    case 1: lit(g, "Then "); subject(g, 0); verb_phrase(g); lit(g, "."); break;
    case 2: lit(g, "One day, "); subject(g, 0); verb_phrase(g); lit(g, "."); break;
    case 3:
        lit(g, "\"");
        quote(g);
        lit(g, "\" ");
        if (choose(g, P_SPEAKER, 2, LOOK(!at(g, "said "))) == 0) { lit(g, "said "); hero_name(g); }
        else { lit(g, pronoun(g, 0)); lit(g, " said"); }
        lit(g, ".");
        break;
    case 4:
        lit(g, "The ");
        pick(g, &T_OBJECT);
        lit(g, " was ");
        pick(g, &T_ADJ);
        lit(g, ".");
        break;
    default:   // a visitor: a name that is not repeated
        lit(g, "A ");
        opt_adj(g);
        pick(g, &T_KIND);
        lit(g, " named ");
        pick(g, &T_NAMES);
        lit(g, " came from ");
        pick(g, &T_TOWN);
        lit(g, ".");
        break;
    }
}

// A story: an introduction, then sentences until a stop decision; maybe "The end."
static void doc(G *g) {
    intro(g);
    lit(g, " ");
    while (!g->fail) {   // (a failed parse must not loop: its decisions all read 0)
        sentence(g);
        if (choose(g, P_STOP, 2, LOOK(g->pos == g->n || at(g, " The end.")))) {
            if (choose(g, P_CLOSE, 2, LOOK(at(g, " The end.")))) lit(g, " The end.");
            return;
        }
        lit(g, choose(g, P_SEP, 2, LOOK(at(g, "\n"))) ? "\n" : " ");
    }
}

// ----------------------------------------------------------------------------
// Public API

void synth2_generate(uint64_t seed, size_t ndocs, DocSet *out, double *bits) {
    pthread_once(&tables_once, init_tables);
    G g;
    memset(&g, 0, sizeof g);
    g.lx = &LEX;
    synth_seed(&g, seed);
    double total = 0;
    for (size_t d = 0; d < ndocs; d++) {
        g.len = 0;
        g.bits = 0;
        doc(&g);
        docset_add(out, g.out, g.len);
        total += g.bits;
    }
    free(g.out);
    if (bits) *bits = total;
}

double synth2_doc_bits(const char *text, size_t len) {
    pthread_once(&tables_once, init_tables);
    G g;
    memset(&g, 0, sizeof g);
    g.lx = &LEX;
    g.parse = 1;
    g.in = text;
    g.n = len;
    doc(&g);
    if (g.fail || g.pos != g.n) return -1;
    return g.bits;
}

// ----------------------------------------------------------------------------
// Analytic expectation: the same grammar walked as expectations (E[bits], E[bytes]) of each
// part, from the tables alone. It shares no code with the interpreters above, so a decision
// counted twice, forgotten, or drawn from another distribution than the one it is charged
// for shows up as a gap between this and the sampled means (tests/test_synth.c).

static Ex ex_table0(const Table *T) { return ex_table(T, 0); }

void synth2_expectation(double *bits_per_doc, double *bytes_per_doc) {
    pthread_once(&tables_once, init_tables);
    double pf = 0, name_len = 0;   // P(hero is female), E[len(hero name)]
    for (int i = 0; i < T_NAMES.n; i++) {
        if (NAME_IS_FEMALE(i)) pf += T_NAMES.p[i];
        name_len += T_NAMES.p[i] * (double)T_NAMES.len[i];
    }
    Ex name_rep = { 0, name_len };   // a repeated hero name: no new information
    Ex pron_cap = { 0, pf * 3 + (1 - pf) * 2 }, pron = pron_cap;   // She/He, she/he
    Ex adj = ex_table0(&T_ADJ), kind = ex_table0(&T_KIND), obj = ex_table0(&T_OBJECT),
       place = ex_table0(&T_PLACE), names = ex_table0(&T_NAMES), feel = ex_table0(&T_FEELING),
       town = ex_table0(&T_TOWN);

    Ex adj1 = ex_add(adj, ex_lit(" "));
    Ex optadj = ex_choice(P_NADJ, 3, (Ex[]){ { 0, 0 }, adj1, ex_scale(adj1, 2) });
    Ex from = ex_choice(P_FROM, 2, (Ex[]){ { 0, 0 }, ex_add(ex_lit(" from "), town) });
    Ex home = ex_choice(P_HOME, 2, (Ex[]){ ex_add(ex_lit(" who lived near the "), place),
                                           ex_add(ex_lit(" who lived in "), town) });
    Ex intro_e = ex_choice(P_INTRO, 3, (Ex[]){
        ex_add(ex_add(ex_add(ex_lit("Once upon a time, there was a "), optadj), kind), ex_add(ex_add(ex_lit(" named "), names), from)),
        ex_add(ex_add(ex_add(names, ex_lit(" was a ")), ex_add(optadj, kind)), home),
        ex_add(ex_add(ex_add(ex_lit("There once lived a "), optadj), kind), ex_add(ex_add(ex_lit(" called "), names), from)),
    });
    intro_e = ex_add(intro_e, ex_lit("."));

    Ex subj = ex_choice(P_SUBJ, 2, (Ex[]){ name_rep, pron });
    Ex pp = ex_choice(P_PP, 2, (Ex[]){ { 0, 0 }, ex_add(ex_lit(" in the "), place) });
    Ex vimod = ex_choice(P_VIMOD, 5, (Ex[]){
        { 0, 0 }, ex_add(ex_lit(" in the "), place), ex_add(ex_lit(" with his "), obj),
        ex_add(ex_lit(" "), ex_table0(&T_ADV)), ex_add(ex_lit(" with "), names) });
    Ex vp = ex_add(ex_lit(" "), ex_choice(P_VP, 6, (Ex[]){
        ex_add(ex_add(ex_table0(&T_VT), ex_lit(" the ")), ex_add(ex_add(optadj, obj), pp)),
        ex_add(ex_table0(&T_VI), vimod),
        ex_add(ex_lit("felt "), feel),
        ex_add(ex_lit("went to the "), place),
        ex_add(ex_lit("went to "), town),
        ex_add(ex_add(ex_lit("met  in "), names), town) }));
    Ex clause = ex_add(ex_add(subj, vp), ex_lit("."));
    Ex quote_e = ex_choice(P_QUOTE, 6, (Ex[]){
        ex_add(ex_lit("I like my !"), obj),
        ex_add(ex_add(ex_lit("Look at the !"), optadj), obj),
        ex_add(ex_lit("Let us go to the !"), place),
        ex_add(ex_lit("I am so !"), feel),
        ex_add(ex_lit("Can I have the ?"), obj),
        ex_add(ex_lit("Let us go to !"), town) });
    Ex speaker = ex_choice(P_SPEAKER, 2, (Ex[]){ ex_add(ex_lit("said "), name_rep),
                                                 ex_add(pron, ex_lit(" said")) });
    Ex sent = ex_choice(P_SENT, 6, (Ex[]){
        clause,
        ex_add(ex_lit("Then "), clause),
        ex_add(ex_lit("One day, "), clause),
        ex_add(ex_add(ex_lit("\"\" ."), quote_e), speaker),
        ex_add(ex_add(ex_lit("The  was ."), obj), adj),
        ex_add(ex_add(ex_add(ex_lit("A  named  came from ."), optadj), kind), ex_add(names, town)) });

    // K sentences, K ~ geometric with P(stop) = P_STOP[1]: K stop decisions, K-1 separators.
    double k = 1 / P_STOP[1];
    Ex sep = { entropy(P_SEP, 2), 1 };
    Ex stop = { entropy(P_STOP, 2), 0 };   // E[sum of K decisions' bits] = E[K] H(stop)
    Ex close = ex_choice(P_CLOSE, 2, (Ex[]){ { 0, 0 }, ex_lit(" The end.") });
    Ex d = ex_add(ex_add(intro_e, ex_lit(" ")), ex_add(ex_scale(ex_add(sent, stop), k), ex_scale(sep, k - 1)));
    d = ex_add(d, close);
    *bits_per_doc = d.bits;
    *bytes_per_doc = d.bytes;
}

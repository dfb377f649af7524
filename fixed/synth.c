// synth.c -- the synthetic source: simple stories from a probabilistic grammar whose exact
// information content is known.
//
// One grammar, two interpreters. The grammar is written once as code (doc() below) over
// three primitives: lit() (fixed text), pick() (a word from a table) and choose() (a
// structural decision). In generate mode the primitives draw from the PRNG and append text;
// in parse mode they read the text instead, and every structural decision is made by looking
// at the next word (the grammar is LL(k) on literal words), so the parse is unique. Both add
// -log2 p of every decision to the same counter: synth_doc_bits() re-derives a document's
// information content from its text alone.
//
// Why the sum is the exact information content: every word of every table is a distinct
// string (checked at startup), each table is used in slots where the words around it tell
// which table it is, a decision's outcome is always visible in the text (an optional word
// is present or not, a sentence type has its own first words), and the document length is
// spelt by the stop decisions. So the map from decision sequences to texts is one-to-one and
// P(text) is the product of its decisions' probabilities.
#include "synth.h"
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// Vocabulary. Each table gets Zipf probabilities p(rank r) ~ (r+1)^-ZIPF_S. Words after "a"
// begin with a consonant (KIND, ADJ), so the article is always "a".
#define ZIPF_S 0.8

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

typedef struct {
    const char *name;
    const char *const *w;
    int n;
    double *p, *cdf, *lp;   // probability, cumulative, -log2 p
    size_t *len;
} Table;

#define TABLE(name, arr) { name, arr, (int)(sizeof arr / sizeof *arr), 0, 0, 0, 0 }
static Table T_NAMES = TABLE("names", NAMES), T_KIND = TABLE("kinds", KIND),
             T_ADJ = TABLE("adjectives", ADJ), T_OBJECT = TABLE("objects", OBJECT),
             T_PLACE = TABLE("places", PLACE), T_VT = TABLE("verbs", VT),
             T_VI = TABLE("intransitive verbs", VI), T_ADV = TABLE("adverbs", ADV),
             T_FEELING = TABLE("feelings", FEELING);
static Table *const ALL_TABLES[] = { &T_NAMES, &T_KIND, &T_ADJ, &T_OBJECT, &T_PLACE,
                                     &T_VT, &T_VI, &T_ADV, &T_FEELING };
#define N_TABLES (int)(sizeof ALL_TABLES / sizeof *ALL_TABLES)

// Literal words the parser looks ahead for; no table word may equal one of them.
static const char *const RESERVED[] = {
    "Once", "upon", "a", "time", "there", "was", "named", "who", "lived", "near", "the",
    "There", "once", "called", "Then", "One", "day", "The", "end", "He", "She", "he", "she",
    "his", "her", "felt", "went", "to", "in", "with", "I", "like", "my", "Look", "at", "Let",
    "us", "go", "am", "so", "Can", "have", "said",
};

// Structural decisions (each row sums to 1).
static const double P_INTRO[3] = { 0.5, 0.3, 0.2 };     // Once upon.. / NAME was a.. / There once..
static const double P_NADJ[3] = { 0.5, 0.35, 0.15 };     // 0, 1 or 2 adjectives before a noun
static const double P_STOP[2] = { 0.9, 0.1 };            // another sentence / stop
static const double P_SEP[2] = { 0.8, 0.2 };             // " " / "\n"
static const double P_CLOSE[2] = { 0.6, 0.4 };           // nothing / " The end."
static const double P_SENT[5] = { 0.40, 0.15, 0.10, 0.20, 0.15 };  // S V. / Then.. / One day.. / quote / The X was Y.
static const double P_SUBJ[2] = { 0.35, 0.65 };          // name / pronoun
static const double P_VP[4] = { 0.35, 0.30, 0.15, 0.20 };  // VT the X / VI .. / felt F / went to the P
static const double P_PP[2] = { 0.6, 0.4 };              // - / in the PLACE
static const double P_VIMOD[5] = { 0.30, 0.20, 0.15, 0.20, 0.15 };  // - / in the P / with his X / ADV / with NAME
static const double P_QUOTE[5] = { 0.25, 0.2, 0.2, 0.2, 0.15 };
static const double P_SPEAKER[2] = { 0.5, 0.5 };         // said NAME / she said

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void init_tables(void) {
    for (int t = 0; t < N_TABLES; t++) {
        Table *T = ALL_TABLES[t];
        T->p = xmalloc((size_t)T->n * sizeof(double));
        T->cdf = xmalloc((size_t)T->n * sizeof(double));
        T->lp = xmalloc((size_t)T->n * sizeof(double));
        T->len = xmalloc((size_t)T->n * sizeof(size_t));
        double z = 0, c = 0;
        for (int i = 0; i < T->n; i++) z += pow(i + 1, -ZIPF_S);
        for (int i = 0; i < T->n; i++) {
            T->p[i] = pow(i + 1, -ZIPF_S) / z;
            T->lp[i] = -log2(T->p[i]);
            c += T->p[i];
            T->cdf[i] = c;
            T->len[i] = strlen(T->w[i]);
        }
        T->cdf[T->n - 1] = 1.0;
    }
    // Unambiguity needs distinct words made of letters only: a broken table is a bug here,
    // caught on the first use.
    for (int t = 0; t < N_TABLES; t++)
        for (int i = 0; i < ALL_TABLES[t]->n; i++) {
            const char *w = ALL_TABLES[t]->w[i];
            for (const char *c = w; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))) die("synth: bad word '%s'", w);
            for (size_t r = 0; r < sizeof RESERVED / sizeof *RESERVED; r++)
                if (strcmp(w, RESERVED[r]) == 0) die("synth: word '%s' is reserved", w);
            for (int u = 0; u <= t; u++)
                for (int j = 0; j < (u == t ? i : ALL_TABLES[u]->n); j++)
                    if (strcmp(w, ALL_TABLES[u]->w[j]) == 0) die("synth: word '%s' twice", w);
        }
}

// ----------------------------------------------------------------------------
// PRNG: xoshiro256** seeded by splitmix64

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t xoshiro(uint64_t s[4]) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}
static double uniform(uint64_t s[4]) { return (double)(xoshiro(s) >> 11) * 0x1.0p-53; }

// ----------------------------------------------------------------------------
// The two interpreters' state and primitives

typedef struct {
    int parse, fail;
    const char *in; size_t n, pos;   // parse: the text
    char *out; size_t len, cap;      // generate: the document so far
    uint64_t s[4];
    double bits;
    int hero;                        // NAMES index of the main character
} G;

#define LOOK(expr) (g->parse ? (expr) : 0)   // lookahead only when parsing

static void emit(G *g, const char *s, size_t n) {
    if (g->fail) return;
    if (g->parse) {
        if (g->n - g->pos < n || memcmp(g->in + g->pos, s, n) != 0) { g->fail = 1; return; }
        g->pos += n;
        return;
    }
    if (g->len + n > g->cap) {
        while (g->len + n > g->cap) g->cap = g->cap ? 2 * g->cap : 1024;
        g->out = xrealloc(g->out, g->cap);
    }
    memcpy(g->out + g->len, s, n);
    g->len += n;
}
static void lit(G *g, const char *s) { emit(g, s, strlen(s)); }

// Parse mode: does the text at pos start with s?
static int at(const G *g, const char *s) {
    size_t n = strlen(s);
    return g->n - g->pos >= n && memcmp(g->in + g->pos, s, n) == 0;
}

// Parse mode: index of the table word at pos (followed by a non-letter), or -1.
static int word_at(const G *g, const Table *T) {
    const char *s = g->in + g->pos;
    size_t left = g->n - g->pos;
    for (int i = 0; i < T->n; i++) {
        size_t m = T->len[i];
        if (m > left || s[0] != T->w[i][0] || memcmp(s, T->w[i], m) != 0) continue;
        char c = m < left ? s[m] : ' ';
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) continue;
        return i;
    }
    return -1;
}

// A structural decision among k outcomes: drawn when generating, `parsed` when parsing.
static int choose(G *g, const double *p, int k, int parsed) {
    if (g->fail) return 0;
    int i = parsed;
    if (!g->parse) {
        double u = uniform(g->s), c = 0;
        for (i = 0; i < k - 1; i++) {
            c += p[i];
            if (u < c) break;
        }
    }
    g->bits -= log2(p[i]);
    return i;
}

// A word from a table.
static int pick(G *g, const Table *T) {
    if (g->fail) return 0;
    int i;
    if (g->parse) {
        i = word_at(g, T);
        if (i < 0) { g->fail = 1; return 0; }
        g->pos += T->len[i];
    } else {
        double u = uniform(g->s);
        int lo = 0, hi = T->n - 1;   // first i with u < cdf[i]
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (u < T->cdf[mid]) hi = mid; else lo = mid + 1;
        }
        i = lo;
        emit(g, T->w[i], T->len[i]);
    }
    g->bits += T->lp[i];
    return i;
}

// ----------------------------------------------------------------------------
// The grammar

static const char *pronoun(const G *g, int cap) {
    int f = NAME_IS_FEMALE(g->hero);
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

static void subject(G *g, int cap) {
    if (choose(g, P_SUBJ, 2, LOOK(!at(g, NAMES[g->hero]))) == 0) lit(g, NAMES[g->hero]);
    else lit(g, pronoun(g, cap));
}

// After the subject: " VERB ..." (no final period)
static void verb_phrase(G *g) {
    lit(g, " ");
    int v = choose(g, P_VP, 4, LOOK(word_at(g, &T_VT) >= 0 ? 0 : word_at(g, &T_VI) >= 0 ? 1
                                    : at(g, "felt ") ? 2 : 3));
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
            lit(g, NAME_IS_FEMALE(g->hero) ? " with her " : " with his ");
            pick(g, &T_OBJECT);
        } else if (m == 3) { lit(g, " "); pick(g, &T_ADV); }
        else if (m == 4) { lit(g, " with "); pick(g, &T_NAMES); }
        break;
    }
    case 2: lit(g, "felt "); pick(g, &T_FEELING); break;
    default: lit(g, "went to the "); pick(g, &T_PLACE); break;
    }
}

static void quote(G *g) {
    int q = choose(g, P_QUOTE, 5, LOOK(at(g, "I like my ") ? 0 : at(g, "Look at the ") ? 1
                                       : at(g, "Let us go to the ") ? 2 : at(g, "I am so ") ? 3 : 4));
    switch (q) {
    case 0: lit(g, "I like my "); pick(g, &T_OBJECT); lit(g, "!"); break;
    case 1: lit(g, "Look at the "); opt_adj(g); pick(g, &T_OBJECT); lit(g, "!"); break;
    case 2: lit(g, "Let us go to the "); pick(g, &T_PLACE); lit(g, "!"); break;
    case 3: lit(g, "I am so "); pick(g, &T_FEELING); lit(g, "!"); break;
    default: lit(g, "Can I have the "); pick(g, &T_OBJECT); lit(g, "?"); break;
    }
}

static void intro(G *g) {
    int t = choose(g, P_INTRO, 3, LOOK(at(g, "Once upon ") ? 0 : at(g, "There once ") ? 2 : 1));
    if (t == 0) {
        lit(g, "Once upon a time, there was a ");
        opt_adj(g);
        pick(g, &T_KIND);
        lit(g, " named ");
        g->hero = pick(g, &T_NAMES);
    } else if (t == 1) {
        g->hero = pick(g, &T_NAMES);
        lit(g, " was a ");
        opt_adj(g);
        pick(g, &T_KIND);
        lit(g, " who lived near the ");
        pick(g, &T_PLACE);
    } else {
        lit(g, "There once lived a ");
        opt_adj(g);
        pick(g, &T_KIND);
        lit(g, " called ");
        g->hero = pick(g, &T_NAMES);
    }
    lit(g, ".");
}

static void sentence(G *g) {
    int t = choose(g, P_SENT, 5, LOOK(at(g, "Then ") ? 1 : at(g, "One day, ") ? 2 : at(g, "\"") ? 3
                                      : at(g, "The ") ? 4 : 0));
    switch (t) {
    case 0: subject(g, 1); verb_phrase(g); lit(g, "."); break;
    case 1: lit(g, "Then "); subject(g, 0); verb_phrase(g); lit(g, "."); break;
    case 2: lit(g, "One day, "); subject(g, 0); verb_phrase(g); lit(g, "."); break;
    case 3:
        lit(g, "\"");
        quote(g);
        lit(g, "\" ");
        if (choose(g, P_SPEAKER, 2, LOOK(!at(g, "said "))) == 0) { lit(g, "said "); lit(g, NAMES[g->hero]); }
        else { lit(g, pronoun(g, 0)); lit(g, " said"); }
        lit(g, ".");
        break;
    default:
        lit(g, "The ");
        pick(g, &T_OBJECT);
        lit(g, " was ");
        pick(g, &T_ADJ);
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

void synth_generate(uint64_t seed, size_t ndocs, DocSet *out, double *bits) {
    pthread_once(&tables_once, init_tables);
    G g;
    memset(&g, 0, sizeof g);
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) g.s[i] = splitmix64(&x);
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

double synth_doc_bits(const char *text, size_t len) {
    pthread_once(&tables_once, init_tables);
    G g;
    memset(&g, 0, sizeof g);
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

typedef struct { double bits, bytes; } Ex;

static Ex ex_add(Ex a, Ex b) { return (Ex){ a.bits + b.bits, a.bytes + b.bytes }; }
static Ex ex_scale(Ex a, double k) { return (Ex){ a.bits * k, a.bytes * k }; }
static Ex ex_lit(const char *s) { return (Ex){ 0, (double)strlen(s) }; }
static double entropy(const double *p, int k) {
    double h = 0;
    for (int i = 0; i < k; i++) h -= p[i] * log2(p[i]);
    return h;
}
static Ex ex_table(const Table *T) {
    Ex e = { 0, 0 };
    for (int i = 0; i < T->n; i++) { e.bits += T->p[i] * T->lp[i]; e.bytes += T->p[i] * (double)T->len[i]; }
    return e;
}
// A decision: its entropy plus the outcomes' expectations weighted by their probabilities.
static Ex ex_choice(const double *p, int k, const Ex *outcome) {
    Ex e = { entropy(p, k), 0 };
    for (int i = 0; i < k; i++) e = ex_add(e, ex_scale(outcome[i], p[i]));
    return e;
}

void synth_expectation(double *bits_per_doc, double *bytes_per_doc) {
    pthread_once(&tables_once, init_tables);
    double pf = 0, name_len = 0;   // P(hero is female), E[len(hero name)]
    for (int i = 0; i < T_NAMES.n; i++) {
        if (NAME_IS_FEMALE(i)) pf += T_NAMES.p[i];
        name_len += T_NAMES.p[i] * (double)T_NAMES.len[i];
    }
    Ex name_rep = { 0, name_len };   // a repeated hero name: no new information
    Ex pron_cap = { 0, pf * 3 + (1 - pf) * 2 }, pron = pron_cap;   // She/He, she/he
    Ex adj = ex_table(&T_ADJ), kind = ex_table(&T_KIND), obj = ex_table(&T_OBJECT),
       place = ex_table(&T_PLACE), names = ex_table(&T_NAMES), feel = ex_table(&T_FEELING);

    Ex adj1 = ex_add(adj, ex_lit(" "));
    Ex optadj = ex_choice(P_NADJ, 3, (Ex[]){ { 0, 0 }, adj1, ex_scale(adj1, 2) });
    Ex intro_e = ex_choice(P_INTRO, 3, (Ex[]){
        ex_add(ex_add(ex_add(ex_lit("Once upon a time, there was a "), optadj), kind), ex_add(ex_lit(" named "), names)),
        ex_add(ex_add(ex_add(names, ex_lit(" was a ")), ex_add(optadj, kind)), ex_add(ex_lit(" who lived near the "), place)),
        ex_add(ex_add(ex_add(ex_lit("There once lived a "), optadj), kind), ex_add(ex_lit(" called "), names)),
    });
    intro_e = ex_add(intro_e, ex_lit("."));

    Ex subj = ex_choice(P_SUBJ, 2, (Ex[]){ name_rep, pron });
    Ex pp = ex_choice(P_PP, 2, (Ex[]){ { 0, 0 }, ex_add(ex_lit(" in the "), place) });
    Ex vimod = ex_choice(P_VIMOD, 5, (Ex[]){
        { 0, 0 }, ex_add(ex_lit(" in the "), place), ex_add(ex_lit(" with his "), obj),
        ex_add(ex_lit(" "), ex_table(&T_ADV)), ex_add(ex_lit(" with "), names) });
    Ex vp = ex_add(ex_lit(" "), ex_choice(P_VP, 4, (Ex[]){
        ex_add(ex_add(ex_table(&T_VT), ex_lit(" the ")), ex_add(ex_add(optadj, obj), pp)),
        ex_add(ex_table(&T_VI), vimod),
        ex_add(ex_lit("felt "), feel),
        ex_add(ex_lit("went to the "), place) }));
    Ex clause = ex_add(ex_add(subj, vp), ex_lit("."));
    Ex quote_e = ex_choice(P_QUOTE, 5, (Ex[]){
        ex_add(ex_lit("I like my !"), obj),
        ex_add(ex_add(ex_lit("Look at the !"), optadj), obj),
        ex_add(ex_lit("Let us go to the !"), place),
        ex_add(ex_lit("I am so !"), feel),
        ex_add(ex_lit("Can I have the ?"), obj) });
    Ex speaker = ex_choice(P_SPEAKER, 2, (Ex[]){ ex_add(ex_lit("said "), name_rep),
                                                 ex_add(pron, ex_lit(" said")) });
    Ex sent = ex_choice(P_SENT, 5, (Ex[]){
        clause,
        ex_add(ex_lit("Then "), clause),
        ex_add(ex_lit("One day, "), clause),
        ex_add(ex_add(ex_lit("\"\" ."), quote_e), speaker),
        ex_add(ex_add(ex_lit("The  was ."), obj), adj) });

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

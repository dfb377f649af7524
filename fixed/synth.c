// synth.c -- the synthetic source: simple stories from a probabilistic grammar whose exact
// information content is known.
//
// The stories are TinyStories-like sentences about a hero, whose words come from tables:
// a few hundred common English words plus a generated lexicon of about 6000 invented names,
// towns, creatures, things and qualities ("Once upon a time, there was a fluffy zibble
// named Mirabel from Kelford."). What a model can learn: the grammar, the word frequencies,
// the hero's name and gender carried through the story (the pronoun follows the name's
// ending). What it cannot: the draws themselves, about 0.75 bits per byte.
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

static const char *const ONSET[] = {
    "b", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr",
    "gr", "kr", "tr", "th", "sh", "ch", "st", "fl", "cl", "gl", "bl", "pl", "sn", "w",
};
static const char *const VOWEL[] = { "a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ei", "au", "y" };
static const char *const END_F[] = {   // female names end in a vowel sound
    "a", "ia", "ina", "ela", "ette", "elle", "i", "y", "ie", "ara", "issa", "ora", "ea", "ine",
};
static const char *const END_M[] = {
    "an", "on", "en", "el", "ar", "or", "us", "o", "ik", "im", "as", "ert", "io", "ell", "ard", "ix",
};
static const char *const END_TOWN[] = {
    "ton", "ville", "burg", "ford", "wick", "dale", "moor", "haven", "port", "field", "stead",
    "mere", "holm", "by", "bridge", "brook", "wood", "gate", "ham", "shire",
};
static const char *const END_CREATURE[] = {
    "bble", "ggle", "mp", "rp", "nk", "zzle", "ff", "x", "b", "t", "dge", "ppet", "mble", "sh",
    "lk", "ddle", "nt", "sk",
};
static const char *const END_THING[] = {
    "et", "ling", "kin", "o", "ix", "um", "ock", "ette", "en", "ule", "ar", "ip", "oon", "ow",
};
static const char *const END_ADJ[] = { "y", "ny", "ly", "sy", "ky", "py", "ish", "ful", "ous", "zy", "dy" };
#define COUNT(a) (int)(sizeof a / sizeof *a)

typedef enum { GEN_NONE, GEN_NAME, GEN_TOWN, GEN_CREATURE, GEN_THING, GEN_ADJ } Gen;

typedef struct {
    const char *name;
    const char *const *fixed;   // the table's fixed words, then ngen generated ones
    int nfixed, ngen;
    Gen gen;
    int n, id;
    const char **w;
    double *p, *cdf, *lp;   // probability, cumulative, -log2 p
    size_t *len;
} Table;

#define TABLE(name, arr, gen, ngen) { name, arr, COUNT(arr), ngen, gen, 0, 0, 0, 0, 0, 0, 0 }
static const char *const NO_WORDS[] = { 0 };
static Table T_NAMES = TABLE("names", NAMES, GEN_NAME, GEN_NAMES),
             T_KIND = TABLE("kinds", KIND, GEN_CREATURE, GEN_CREATURES),
             T_TOWN = { "towns", NO_WORDS, 0, GEN_TOWNS, GEN_TOWN, 0, 0, 0, 0, 0, 0, 0 },
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
// The word index: every table word and reserved word, by its text. It proves at startup
// that all words are distinct, and gives the parser the table word at a position in O(1).

typedef struct { const char *w; size_t len; int table, idx; } Slot;   // table -1: reserved
static Slot *slots;
static size_t slot_mask;

static int is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static Slot *slot_of(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;   // FNV-1a
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    for (size_t i = h & slot_mask;; i = (i + 1) & slot_mask)
        if (!slots[i].w || (slots[i].len == n && memcmp(slots[i].w, s, n) == 0)) return &slots[i];
}

// Adds a word; returns 0, or -1 if it is already there. Words are letters only, so the
// parser can cut a word out of the text as the run of letters at a position.
static int index_add(const char *w, int table, int idx) {
    for (const char *c = w; *c; c++)
        if (!is_letter(*c)) die("synth: bad word '%s'", w);
    Slot *e = slot_of(w, strlen(w));
    if (e->w) return -1;
    *e = (Slot){ w, strlen(w), table, idx };
    return 0;
}

// ----------------------------------------------------------------------------
// Building the tables

static const char *any(uint64_t *x, const char *const *a, int n) { return a[splitmix64(x) % (uint64_t)n]; }

// One candidate word of a generated table (the caller rejects words already in use).
static char *gen_word(Gen gen, int female, uint64_t *x) {
    char b[64] = "";
    int nsyl = 1 + (int)(splitmix64(x) % 2);   // syllables before the ending
    for (int s = 0; s < nsyl; s++) {
        // names may start with a vowel; the other words may follow "a": a consonant first
        if (!(gen == GEN_NAME && s == 0 && splitmix64(x) % 5 == 0)) strcat(b, any(x, ONSET, COUNT(ONSET)));
        strcat(b, any(x, VOWEL, COUNT(VOWEL)));
    }
    switch (gen) {
    case GEN_NAME:
        strcat(b, any(x, ONSET, COUNT(ONSET)));
        strcat(b, female ? any(x, END_F, COUNT(END_F)) : any(x, END_M, COUNT(END_M)));
        break;
    case GEN_TOWN: strcat(b, any(x, END_TOWN, COUNT(END_TOWN))); break;
    case GEN_CREATURE: strcat(b, any(x, END_CREATURE, COUNT(END_CREATURE))); break;
    case GEN_THING: strcat(b, any(x, END_THING, COUNT(END_THING))); break;
    default: strcat(b, any(x, END_ADJ, COUNT(END_ADJ))); break;
    }
    if (gen == GEN_NAME || gen == GEN_TOWN) b[0] = (char)(b[0] - 'a' + 'A');
    return xstrdup(b);
}

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void init_tables(void) {
    size_t total = COUNT(RESERVED);
    for (int t = 0; t < N_TABLES; t++) total += (size_t)(ALL_TABLES[t]->nfixed + ALL_TABLES[t]->ngen);
    size_t cap = 1;
    while (cap < 2 * total) cap *= 2;
    slots = xmalloc(cap * sizeof *slots);
    memset(slots, 0, cap * sizeof *slots);
    slot_mask = cap - 1;

    // Unambiguity needs distinct words made of letters only: a broken fixed table is a bug
    // here, caught on the first use; a generated word already in use (in any table, or a
    // literal word of the grammar) is drawn again.
    for (size_t r = 0; r < COUNT(RESERVED); r++)
        if (index_add(RESERVED[r], -1, (int)r) != 0) die("synth: reserved word '%s' twice", RESERVED[r]);
    for (int t = 0; t < N_TABLES; t++) {
        Table *T = ALL_TABLES[t];
        T->id = t;
        T->n = T->nfixed + T->ngen;
        T->w = xmalloc((size_t)T->n * sizeof *T->w);
        for (int i = 0; i < T->nfixed; i++) {
            if (index_add(T->fixed[i], t, i) != 0) die("synth: word '%s' is reserved or twice", T->fixed[i]);
            T->w[i] = T->fixed[i];
        }
    }
    for (int t = 0; t < N_TABLES; t++) {
        Table *T = ALL_TABLES[t];
        uint64_t x = 0x5EED0000ULL + (uint64_t)T->gen;
        for (int i = T->nfixed; i < T->n; i++) {
            char *w;
            while (w = gen_word(T->gen, NAME_IS_FEMALE(i), &x), index_add(w, t, i) != 0) free(w);
            T->w[i] = w;
        }
    }

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
}

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

// Parse mode: index of the table word at pos (the whole run of letters there), or -1.
static int word_at(const G *g, const Table *T) {
    size_t m = 0;
    while (g->pos + m < g->n && is_letter(g->in[g->pos + m])) m++;
    if (m == 0) return -1;
    const Slot *e = slot_of(g->in + g->pos, m);
    return e->w && e->table == T->id ? e->idx : -1;
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

static void hero_name(G *g) { emit(g, T_NAMES.w[g->hero], T_NAMES.len[g->hero]); }

static void subject(G *g, int cap) {
    if (choose(g, P_SUBJ, 2, LOOK(!at(g, T_NAMES.w[g->hero]))) == 0) hero_name(g);
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
            lit(g, NAME_IS_FEMALE(g->hero) ? " with her " : " with his ");
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
        g->hero = pick(g, &T_NAMES);
    } else if (t == 1) {
        g->hero = pick(g, &T_NAMES);
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
        g->hero = pick(g, &T_NAMES);
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
       place = ex_table(&T_PLACE), names = ex_table(&T_NAMES), feel = ex_table(&T_FEELING),
       town = ex_table(&T_TOWN);

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
        ex_add(ex_lit(" "), ex_table(&T_ADV)), ex_add(ex_lit(" with "), names) });
    Ex vp = ex_add(ex_lit(" "), ex_choice(P_VP, 6, (Ex[]){
        ex_add(ex_add(ex_table(&T_VT), ex_lit(" the ")), ex_add(ex_add(optadj, obj), pp)),
        ex_add(ex_table(&T_VI), vimod),
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

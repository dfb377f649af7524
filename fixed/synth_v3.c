// synth_v3.c -- synthetic version 3, the default: stories about three friends in a small
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
// Exactness (see synth_core.h for the two interpreters): every table word and literal word
// is a distinct string (checked at startup); each decision is visible in the text (a
// sentence type by the words after its subject, a pronoun or a name, an optional word); the
// state-determined words are emitted with lit()/say(), which in parse mode fail unless the
// text has exactly them; and the length is spelt by the stop decisions. So the map from
// decision sequences to texts is one-to-one and P(text) is the product of their probabilities.
#include "synth.h"
#include "synth_v3.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>

static const char *const NAMES_A[] = {   // each cast table alternates female / male, by rank
    "Lily", "Tom", "Mia", "Ben", "Emma", "Max", "Sara", "Sam", "Anna", "Leo", "Lucy", "Jack", "Zoe", "Tim",
};
static const char *const NAMES_B[] = {
    "Ella", "Finn", "Amy", "Joe", "Rose", "Dan", "Sue", "Bob", "Kate", "Ted", "Jane", "Noah", "Nina", "Liam",
};
static const char *const NAMES_C[] = {
    "Ruby", "Oscar", "Molly", "Jake", "Daisy", "Luke", "Grace", "Adam", "Chloe", "Eli", "Olivia", "Owen",
};
static const char *const KIND[] = {
    "otter", "badger", "owl", "heron", "fox", "hare", "mole", "wren", "stoat", "beaver", "lynx",
    "raven", "goat", "sheep", "pony", "donkey", "mouse", "rat", "toad", "newt", "crow", "robin",
    "sparrow", "hedgehog", "squirrel", "weasel", "ferret", "boar", "elk", "moose", "bison", "yak",
    "camel", "llama", "swan", "goose", "duck", "hen", "rooster", "lamb", "calf", "kitten", "puppy",
    "bear", "wolf", "deer", "frog", "snail", "beetle", "moth",
};
static const char *const ADJ[] = {
    "big", "little", "red", "blue", "green", "small", "old", "young", "tiny", "shiny", "soft",
    "purple", "fluffy", "round", "tall", "long", "short", "warm", "cold", "bright", "dark",
    "pretty", "funny", "silly", "noisy", "quiet", "fast", "slow", "strong", "gentle", "kind",
    "brown", "white", "black", "golden", "silver", "wooden", "secret", "magic", "rusty", "shy",
    "curious", "lucky", "busy", "clever", "cute", "dusty", "clean", "heavy", "light", "wet",
    "dry", "sweet", "spotty", "striped", "fuzzy", "broken", "giant", "clumsy", "tidy", "new",
    "wild", "friendly", "lazy",
};
static const char *const OBJECT[] = {
    "lantern", "flute", "kite", "box", "hat", "cake", "book", "toy", "boat", "cart", "flower",
    "apple", "stone", "cookie", "shoe", "sock", "cup", "drum", "bell", "doll", "bike", "basket",
    "balloon", "leaf", "stick", "shell", "rock", "key", "map", "coin", "ring", "star", "bag",
    "blanket", "pillow", "crayon", "pencil", "picture", "letter", "present", "egg", "kettle",
    "sandwich", "banana", "carrot", "pie", "candle", "teddy", "spoon", "bucket", "rope",
    "ladder", "lamp", "mirror", "feather", "button", "puzzle", "robot", "wagon", "jar", "nest",
    "seed", "umbrella", "orange",
};
static const char *const PLACE[] = {
    "park", "garden", "forest", "house", "school", "beach", "river", "hill", "farm", "shop",
    "lake", "pond", "yard", "kitchen", "library", "orchard", "market", "bakery", "meadow", "field",
    "cave", "castle", "playground", "street", "square", "barn", "woods", "harbor", "mountain",
    "island", "chapel", "tower", "bridge", "tent", "bedroom", "attic", "valley", "cellar", "mill",
    "station",
};
static const char *const VT[] = {      // past tense, takes "the ..."
    "found", "saw", "liked", "took", "wanted", "made", "lost", "held", "painted", "shared",
    "hugged", "kicked", "threw", "caught", "opened", "washed", "carried", "fixed", "dropped",
    "pushed", "pulled", "loved", "touched", "hid", "built", "drew", "baked", "bought",
    "cleaned", "chased", "followed", "watched", "ate", "brought", "needed", "shook", "grabbed",
    "filled", "wrapped", "tossed", "polished", "borrowed", "patted", "smelled", "tasted",
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
static const char *const MOVE[] = {   // past tense, "... to the PLACE"
    "went", "headed", "hurried", "rushed", "strolled", "marched", "drove", "rode", "sailed",
    "travelled", "returned", "moved", "dashed", "strode", "trudged", "crept", "hiked", "jogged",
    "roamed", "sped", "limped", "ambled", "scurried", "scrambled",
};
static const char *const ADV[] = {
    "quickly", "slowly", "happily", "loudly", "softly", "quietly", "carefully", "alone",
    "again", "outside", "gently", "proudly", "sadly", "bravely", "merrily", "sleepily",
    "silently", "eagerly", "calmly", "today", "tonight", "forever", "away", "home",
};
static const char *const COUNTED[] = {   // plural, "counted 17 ..."
    "coins", "stones", "shells", "beads", "seeds", "stars", "apples", "buttons", "feathers",
    "pebbles", "acorns", "marbles", "berries", "nuts", "leaves", "sticks", "eggs", "cards",
    "candles", "ribbons", "bells", "keys", "spoons", "cups",
};

#define TABLE(nm, arr, kind, count, s, topics) \
    { .name = nm, .fixed = arr, .nfixed = COUNT(arr), .ngen = count, .gen = kind, .zipf_s = s, .ntopic = topics }
static const char *const NO_WORDS[] = { 0 };
Table T_NAME_A = TABLE("names A", NAMES_A, GEN_NAME, 1000, ZIPF_NAMES, 1),
             T_NAME_B = TABLE("names B", NAMES_B, GEN_NAME, 1000, ZIPF_NAMES, 1),
             T_NAME_C = TABLE("names C", NAMES_C, GEN_NAME, 1000, ZIPF_NAMES, 1),
             T_TOWN = { .name = "towns", .fixed = NO_WORDS, .ngen = 1600, .gen = GEN_TOWN, .zipf_s = ZIPF_CONTENT, .ntopic = 1 },
             T_KIND = TABLE("kinds", KIND, GEN_CREATURE, 2500, ZIPF_CONTENT, NTOPIC),
             T_ADJ = TABLE("adjectives", ADJ, GEN_ADJ, 1200, ZIPF_CONTENT, NTOPIC),
             T_OBJECT = TABLE("objects", OBJECT, GEN_THING, 5000, ZIPF_CONTENT, NTOPIC),
             T_PLACE = TABLE("places", PLACE, GEN_PLACE, 800, ZIPF_CONTENT, NTOPIC),
             T_VT = TABLE("verbs", VT, GEN_VERB_T, 600, ZIPF_CONTENT, NTOPIC),
             T_VI = TABLE("intransitive verbs", VI, GEN_VERB_I, 400, ZIPF_CONTENT, NTOPIC),
             T_MOVE = TABLE("motion verbs", MOVE, GEN_NONE, 0, ZIPF_CONTENT, NTOPIC),
             T_COUNTED = TABLE("counted things", COUNTED, GEN_NONE, 0, ZIPF_CONTENT, NTOPIC),
             T_ADV = TABLE("adverbs", ADV, GEN_NONE, 0, ZIPF_CONTENT, 1);
static Table *const ALL_TABLES[] = { &T_NAME_A, &T_NAME_B, &T_NAME_C, &T_TOWN, &T_KIND, &T_ADJ,
                                     &T_OBJECT, &T_PLACE, &T_VT, &T_VI, &T_MOVE, &T_COUNTED, &T_ADV };
Table *const CAST[3] = { &T_NAME_A, &T_NAME_B, &T_NAME_C };

// Literal words of the grammar; no table word may equal one of them.
static const char *const RESERVED[] = {
    "It", "was", "o", "clock", "in", "There", "lived", "three", "friends", "the", "and", "with",
    "to", "picked", "up", "counted", "looked", "at", "his", "her", "gave", "got", "who", "had",
    "that", "said", "near", "this", "some", "every", "each", "another", "One", "Two", "Three", "hour", "hours", "later", "it", "He", "She",
    "one", "two", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
};

static Lexicon LEX;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static void init_tables(void) {
    synth_lexicon_build(&LEX, (Table **)ALL_TABLES, COUNT(ALL_TABLES), RESERVED, COUNT(RESERVED), is_female);
}
void synth3_init(void) { pthread_once(&tables_once, init_tables); }

// ----------------------------------------------------------------------------
// The grammar

typedef struct {
    G g;
    int name[3];      // index of each member's name in its cast table
    int loc[3];       // PLACE index where each member is
    int held[3];      // OBJECT index each member holds
    int hour;         // 0..11: HOURS[hour] o'clock
    int prev;         // the previous sentence's subject: what a pronoun means
} V3;

static int female(const V3 *v, int c) { return is_female(v->name[c]); }

// Parse mode: length of the run of letters at pos.
static size_t run_at(const G *g) {
    size_t m = 0;
    while (g->pos + m < g->n && ((g->in[g->pos + m] | 32) >= 'a' && (g->in[g->pos + m] | 32) <= 'z')) m++;
    return m;
}

// Parse mode: which member's name is the word at pos, or -1.
static int member_at(const V3 *v) {
    const G *g = &v->g;
    size_t m = run_at(g);
    for (int c = 0; c < 3; c++)
        if (CAST[c]->len[v->name[c]] == m && memcmp(g->in + g->pos, CAST[c]->w[v->name[c]], m) == 0) return c;
    return -1;
}

// Parse mode: index of the word at pos in words[0..n), or -1.
static int literal_at(const G *g, const char *const *words, int n) {
    size_t m = run_at(g);
    for (int i = 0; i < n; i++)
        if (strlen(words[i]) == m && memcmp(g->in + g->pos, words[i], m) == 0) return i;
    return -1;
}

static void say_member(V3 *v, int c) { say(&v->g, CAST[c], v->name[c]); }

// A member named by the text: uniform over the three.
static int named_member(V3 *v) {
    G *g = &v->g;
    int parsed = LOOK(member_at(v));
    if (parsed < 0) { g->fail = 1; return 0; }
    int c = choose(g, P_THIRD, 3, parsed);
    say_member(v, c);
    return c;
}

// A sentence's subject: "He"/"She" (the previous subject) or a member's name.
static int subject(V3 *v) {
    G *g = &v->g;
    if (choose(g, P_SUBJ, 2, LOOK(at(g, "He ") || at(g, "She ") ? 0 : 1)) == 0) {
        lit(g, female(v, v->prev) ? "She" : "He");
        return v->prev;
    }
    return named_member(v);
}

// Parse mode: how many "ADJ " words follow (at most 2).
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

static void opt_adj(G *g) {
    int k = choose(g, P_NADJ, 3, LOOK(adj_run(g)));
    for (int i = 0; i < k; i++) { pick(g, &T_ADJ); lit(g, " "); }
}

// "the " or another determiner (not before a noun the state determines).
static void det(G *g) {
    int parsed = LOOK(literal_at(g, DET, 6));
    if (parsed < 0) { g->fail = 1; return; }
    lit(g, DET[choose(g, P_DET, 6, parsed)]);
    lit(g, " ");
}

// "the ADJ* KIND", then maybe " that VT " and another one.
static void noun_phrase(G *g) {
    for (;;) {
        det(g);
        opt_adj(g);
        pick(g, &T_KIND);
        if (g->fail || choose(g, P_NEST, 2, LOOK(at(g, " that "))) == 0) return;
        lit(g, " that ");
        pick(g, &T_VT);
        lit(g, " ");
    }
}

// A number from NUM_LO to NUM_HI, in digits, all equally likely: dense information that is
// easy to learn (it raises the floor, not the headroom).
static void number(G *g) {
    int parsed = -1;
    if (g->parse) {
        size_t m = 0;
        int x = 0;
        while (g->pos + m < g->n && m < 8 && g->in[g->pos + m] >= '0' && g->in[g->pos + m] <= '9')
            x = 10 * x + (g->in[g->pos + m++] - '0');
        if (m > 0 && g->in[g->pos] != '0') parsed = x - NUM_LO;
    }
    char digits[16];
    snprintf(digits, sizeof digits, "%d", NUM_LO + uniform_choice(g, NUM_HI - NUM_LO + 1, parsed));
    lit(g, digits);
}

// "N THINGS", "N THINGS and N THINGS" or "N THINGS, N THINGS and N THINGS"
static void counted_items(G *g) {
    number(g);
    lit(g, " ");
    pick(g, &T_COUNTED);
    int k = choose(g, P_ITEMS, 3, LOOK(at(g, " and ") ? 1 : at(g, ", ") ? 2 : 0));
    for (int i = 1; i <= k; i++) {
        lit(g, i == k ? " and " : ", ");
        number(g);
        lit(g, " ");
        pick(g, &T_COUNTED);
    }
}

// Parse mode: the sentence type, from the words after the subject.
static int type_at(const V3 *v) {
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
    h.pos++;
    return word_at(&h, &T_MOVE) >= 0 ? S_GO : word_at(&h, &T_VT) >= 0 ? S_DOT : S_DOI;
}

static void sentence(V3 *v) {
    G *g = &v->g;
    int t = choose(g, P_TYPE, N_TYPES, LOOK(type_at(v)));
    int c = v->prev;
    switch (t) {
    case S_GO: c = subject(v); lit(g, " "); pick(g, &T_MOVE); lit(g, " to "); det(g); opt_adj(g); v->loc[c] = pick(g, &T_PLACE); break;
    case S_TAKE: c = subject(v); lit(g, " picked up "); det(g); opt_adj(g); v->held[c] = pick(g, &T_OBJECT); break;
    case S_GIVE: {   // a gives b its thing and gets b's
        c = named_member(v);
        lit(g, " gave the ");
        say(g, &T_OBJECT, v->held[c]);
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
        say(g, &T_OBJECT, v->held[b]);
        int tmp = v->held[c]; v->held[c] = v->held[b]; v->held[b] = tmp;
        break;
    }
    case S_DOT:
        c = subject(v);
        lit(g, " ");
        pick(g, &T_VT);
        if (choose(g, P_OWN, 2, LOOK(at(g, " his ") || at(g, " her ")))) {
            lit(g, female(v, c) ? " her " : " his ");
            say(g, &T_OBJECT, v->held[c]);
        } else {
            lit(g, " ");
            det(g);
            opt_adj(g);
            pick(g, &T_OBJECT);
        }
        switch (choose(g, P_PP, 3, LOOK(at(g, " in the ") ? 1 : at(g, " near ") ? 2 : 0))) {
        case 1: lit(g, " in the "); say(g, &T_PLACE, v->loc[c]); break;
        case 2: lit(g, " near "); det(g); pick(g, &T_PLACE); break;
        default: break;
        }
        break;
    case S_DOI:
        c = subject(v);
        lit(g, " ");
        pick(g, &T_VI);
        switch (choose(g, P_ADV, 3, LOOK(at(g, " in the ") ? 2 : at(g, " ") ? 1 : 0))) {
        case 1: lit(g, " "); pick(g, &T_ADV); break;
        case 2: lit(g, " in the "); say(g, &T_PLACE, v->loc[c]); break;
        default: break;
        }
        break;
    case S_SAY:   // a centre-embedded clause: the verb follows the noun phrase's own clauses
        c = subject(v);
        lit(g, " said that ");
        noun_phrase(g);
        lit(g, " ");
        pick(g, &T_VT);
        lit(g, " ");
        det(g);
        opt_adj(g);
        pick(g, &T_OBJECT);
        break;
    case S_COUNT:
        c = subject(v);
        lit(g, " counted ");
        counted_items(g);
        break;
    case S_REL:
        c = named_member(v);
        lit(g, ", who had the ");
        say(g, &T_OBJECT, v->held[c]);
        lit(g, ", ");
        pick(g, &T_VT);
        lit(g, " ");
        noun_phrase(g);
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

static void intro(V3 *v) {
    G *g = &v->g;
    lit(g, "It was ");
    int parsed = LOOK(literal_at(g, HOURS, 12));
    if (parsed < 0) { g->fail = 1; return; }
    v->hour = choose(g, P_HOUR, 12, parsed);
    lit(g, HOURS[v->hour]);
    lit(g, " o'clock in ");
    g->topic = pick(g, &T_TOWN) % NTOPIC;
    lit(g, ". There lived three friends: ");
    for (int c = 0; c < 3; c++) {
        v->name[c] = pick(g, CAST[c]);
        lit(g, " the ");
        opt_adj(g);
        pick(g, &T_KIND);
        lit(g, c == 0 ? ", " : c == 1 ? " and " : ".");
    }
    for (int c = 0; c < 3; c++) {
        lit(g, " ");
        say_member(v, c);
        lit(g, " was in the ");
        v->loc[c] = pick(g, &T_PLACE);
        lit(g, female(v, c) ? " with her " : " with his ");
        v->held[c] = pick(g, &T_OBJECT);
        lit(g, ".");
    }
    v->prev = 2;   // the last one introduced
}

static void doc(V3 *v) {
    G *g = &v->g;
    intro(v);
    for (int k = 1; !g->fail; k++) {   // (a failed parse must not loop: its decisions all read 0)
        lit(g, choose(g, P_SEP, 2, LOOK(at(g, "\n"))) ? "\n" : " ");
        sentence(v);
        if (k == MAX_SENTENCES) return;
        if (k >= MIN_SENTENCES && choose(g, P_STOP, 2, LOOK(g->pos == g->n))) return;
    }
}

// ----------------------------------------------------------------------------
// Public API

void synth3_generate(uint64_t seed, size_t ndocs, DocSet *out, double *bits) {
    synth3_init();
    V3 v;
    memset(&v, 0, sizeof v);
    v.g.lx = &LEX;
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

double synth3_doc_bits(const char *text, size_t len) {
    synth3_init();
    V3 v;
    memset(&v, 0, sizeof v);
    v.g.lx = &LEX;
    v.g.parse = 1;
    v.g.in = text;
    v.g.n = len;
    doc(&v);
    if (v.g.fail || v.g.pos != v.g.n) return -1;
    return v.g.bits;
}


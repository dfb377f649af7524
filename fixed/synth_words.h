// synth_words.h -- the words and tables of the story grammar (synthetic versions 3 and 4;
// internal to the fixed layer). Never change them: a data format depends on every word and
// its order. Included once by each version's file, which defines its tables with them.
#ifndef SYNTH_WORDS_H
#define SYNTH_WORDS_H

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

// Literal words of the grammar; no table word may equal one of them.
#define STORY_RESERVED \
    "It", "was", "o", "clock", "in", "There", "lived", "three", "friends", "the", "and", "with", \
    "to", "picked", "up", "counted", "looked", "at", "his", "her", "gave", "got", "who", "had", \
    "that", "said", "near", "this", "some", "every", "each", "another", "One", "Two", "Three", "hour", "hours", "later", "it", "He", "She", \
    "one", "two", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"

// The tables of a version: Zipf exponents of the content tables and the names, and the
// number of topics (rankings of each content table); then its Grammar's table members.
#define TABLE(nm, arr, kind, count, s, topics) \
    { .name = nm, .fixed = arr, .nfixed = COUNT(arr), .ngen = count, .gen = kind, .zipf_s = s, .ntopic = topics }
static const char *const NO_WORDS[] = { 0 };
#define STORY_TABLES(zipf_content, zipf_names, ntopics) \
    static Table T_NAME_A = TABLE("names A", NAMES_A, GEN_NAME, 1000, zipf_names, 1), \
                 T_NAME_B = TABLE("names B", NAMES_B, GEN_NAME, 1000, zipf_names, 1), \
                 T_NAME_C = TABLE("names C", NAMES_C, GEN_NAME, 1000, zipf_names, 1), \
                 T_TOWN = { .name = "towns", .fixed = NO_WORDS, .ngen = 1600, .gen = GEN_TOWN, .zipf_s = zipf_content, .ntopic = 1 }, \
                 T_KIND = TABLE("kinds", KIND, GEN_CREATURE, 2500, zipf_content, ntopics), \
                 T_ADJ = TABLE("adjectives", ADJ, GEN_ADJ, 1200, zipf_content, ntopics), \
                 T_OBJECT = TABLE("objects", OBJECT, GEN_THING, 5000, zipf_content, ntopics), \
                 T_PLACE = TABLE("places", PLACE, GEN_PLACE, 800, zipf_content, ntopics), \
                 T_VT = TABLE("verbs", VT, GEN_VERB_T, 600, zipf_content, ntopics), \
                 T_VI = TABLE("intransitive verbs", VI, GEN_VERB_I, 400, zipf_content, ntopics), \
                 T_MOVE = TABLE("motion verbs", MOVE, GEN_NONE, 0, zipf_content, ntopics), \
                 T_COUNTED = TABLE("counted things", COUNTED, GEN_NONE, 0, zipf_content, ntopics), \
                 T_ADV = TABLE("adverbs", ADV, GEN_NONE, 0, zipf_content, 1); \
    static Table *const ALL_TABLES[] = { &T_NAME_A, &T_NAME_B, &T_NAME_C, &T_TOWN, &T_KIND, &T_ADJ, \
                                         &T_OBJECT, &T_PLACE, &T_VT, &T_VI, &T_MOVE, &T_COUNTED, &T_ADV }
#define STORY_GRAMMAR_TABLES \
    .cast = { &T_NAME_A, &T_NAME_B, &T_NAME_C }, .town = &T_TOWN, .kind = &T_KIND, .adj = &T_ADJ, \
    .object = &T_OBJECT, .place = &T_PLACE, .vt = &T_VT, .vi = &T_VI, .move = &T_MOVE, \
    .counted = &T_COUNTED, .adv = &T_ADV

#endif

// synth_core.c -- the shared machinery of the synthetic grammars (see synth_core.h).
#include "synth_core.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// PRNG: xoshiro256** seeded by splitmix64 (util.h)

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t xoshiro(uint64_t s[4]) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}
static double uniform(uint64_t s[4]) { return (double)(xoshiro(s) >> 11) * 0x1.0p-53; }

void synth_seed(G *g, uint64_t seed) {
    for (int i = 0; i < 4; i++) g->s[i] = splitmix64(&seed);
}

// ----------------------------------------------------------------------------
// The word index: it proves at startup that all words are distinct, and gives the parser
// the table word at a position in O(1).

static int is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static Slot *slot_of(const Lexicon *lx, const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;   // FNV-1a
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    for (size_t i = h & lx->mask;; i = (i + 1) & lx->mask)
        if (!lx->slots[i].w || (lx->slots[i].len == n && memcmp(lx->slots[i].w, s, n) == 0)) return &lx->slots[i];
}

// Adds a word; returns 0, or -1 if it is already there.
static int index_add(Lexicon *lx, const char *w, int table, int idx) {
    for (const char *c = w; *c; c++)
        if (!is_letter(*c)) die("synth: bad word '%s'", w);
    Slot *e = slot_of(lx, w, strlen(w));
    if (e->w) return -1;
    *e = (Slot){ w, strlen(w), table, idx };
    return 0;
}

// ----------------------------------------------------------------------------
// Generated words

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
static const char *const END_PLACE[] = { "ery", "ary", "ory", "yard", "hall", "dell", "mill", "loft", "nook" };
static const char *const END_VERB[] = { "bled", "ggled", "mped", "nked", "zzled", "ffed", "shed", "lked", "dded", "pped" };

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
    case GEN_PLACE: strcat(b, any(x, END_PLACE, COUNT(END_PLACE))); break;
    case GEN_VERB_T: case GEN_VERB_I: strcat(b, any(x, END_VERB, COUNT(END_VERB))); break;
    default: strcat(b, any(x, END_ADJ, COUNT(END_ADJ))); break;
    }
    if (gen == GEN_NAME || gen == GEN_TOWN) b[0] = (char)(b[0] - 'a' + 'A');
    return xstrdup(b);
}

// ----------------------------------------------------------------------------
// Building a lexicon

void synth_lexicon_build(Lexicon *lx, Table **tables, int ntables, const char *const *reserved,
                         int nreserved, int (*female)(int idx)) {
    size_t total = (size_t)nreserved;
    for (int t = 0; t < ntables; t++) total += (size_t)(tables[t]->nfixed + tables[t]->ngen);
    size_t cap = 1;
    while (cap < 2 * total) cap *= 2;
    lx->tables = tables;
    lx->ntables = ntables;
    lx->slots = xcalloc(cap, sizeof *lx->slots);
    lx->mask = cap - 1;

    // Unambiguity needs distinct words made of letters only: a broken fixed table is a bug
    // here, caught on the first use; a generated word already in use (in any table, or a
    // literal word of the grammar) is drawn again.
    for (int r = 0; r < nreserved; r++)
        if (index_add(lx, reserved[r], -1, r) != 0) die("synth: reserved word '%s' twice", reserved[r]);
    for (int t = 0; t < ntables; t++) {
        Table *T = tables[t];
        T->id = t;
        T->n = T->nfixed + T->ngen;
        T->w = xmalloc((size_t)T->n * sizeof *T->w);
        for (int i = 0; i < T->nfixed; i++) {
            if (index_add(lx, T->fixed[i], t, i) != 0) die("synth: word '%s' is reserved or twice", T->fixed[i]);
            T->w[i] = T->fixed[i];
        }
    }
    for (int t = 0; t < ntables; t++) {
        Table *T = tables[t];
        uint64_t x = 0x5EED0000ULL + (uint64_t)T->gen;
        for (int i = T->nfixed; i < T->n; i++) {
            char *w;
            while (w = gen_word(T->gen, female(i), &x), index_add(lx, w, t, i) != 0) free(w);
            T->w[i] = w;
        }
    }

    for (int t = 0; t < ntables; t++) {
        Table *T = tables[t];
        if (T->ntopic < 1) T->ntopic = 1;
        if (T->ntopic > SYNTH_MAX_TOPICS) die("synth: table %s has too many topics", T->name);
        T->p = xmalloc((size_t)T->n * sizeof(double));
        T->cdf = xmalloc((size_t)T->n * sizeof(double));
        T->lp = xmalloc((size_t)T->n * sizeof(double));
        T->len = xmalloc((size_t)T->n * sizeof(size_t));
        double z = 0, c = 0;
        for (int i = 0; i < T->n; i++) z += pow(i + 1, -T->zipf_s);
        for (int i = 0; i < T->n; i++) {
            T->p[i] = pow(i + 1, -T->zipf_s) / z;
            T->lp[i] = -log2(T->p[i]);
            c += T->p[i];
            T->cdf[i] = c;
            T->len[i] = strlen(T->w[i]);
        }
        T->cdf[T->n - 1] = 1.0;
        // Topic rankings: topic 0 keeps table order, every other one is a fixed shuffle.
        size_t nn = (size_t)T->ntopic * (size_t)T->n;
        T->word_at_rank = xmalloc(nn * sizeof(int));
        T->rank_of_word = xmalloc(nn * sizeof(int));
        for (int k = 0; k < T->ntopic; k++) {
            int *order = T->word_at_rank + (size_t)k * T->n;
            for (int i = 0; i < T->n; i++) order[i] = i;
            uint64_t x = 0x70B1C000ULL + 0x100ULL * (uint64_t)t + (uint64_t)k;
            for (int i = T->n - 1; k > 0 && i > 0; i--) {
                int j = (int)(splitmix64(&x) % (uint64_t)(i + 1));
                int tmp = order[i]; order[i] = order[j]; order[j] = tmp;
            }
            for (int r = 0; r < T->n; r++) T->rank_of_word[(size_t)k * T->n + order[r]] = r;
        }
    }
}

// ----------------------------------------------------------------------------
// The two interpreters' primitives

void synth_emit(G *g, const char *s, size_t n) {
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

void synth_lit(G *g, const char *s) { synth_emit(g, s, strlen(s)); }

int synth_at(const G *g, const char *s) {
    size_t n = strlen(s);
    return g->n - g->pos >= n && memcmp(g->in + g->pos, s, n) == 0;
}

int synth_word_at(const G *g, const Table *T) {
    size_t m = 0;
    while (g->pos + m < g->n && is_letter(g->in[g->pos + m])) m++;
    if (m == 0) return -1;
    const Slot *e = slot_of(g->lx, g->in + g->pos, m);
    return e->w && e->table == T->id ? e->idx : -1;
}

int synth_choose(G *g, const double *p, int k, int parsed) {
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

int synth_pick(G *g, const Table *T) {
    if (g->fail) return 0;
    int topic = T->ntopic > 1 ? g->topic % T->ntopic : 0;
    int i, r;
    if (g->parse) {
        i = synth_word_at(g, T);
        if (i < 0) { g->fail = 1; return 0; }
        g->pos += T->len[i];
        r = T->rank_of_word[(size_t)topic * T->n + i];
    } else {
        double u = uniform(g->s);
        int lo = 0, hi = T->n - 1;   // first r with u < cdf[r]
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (u < T->cdf[mid]) hi = mid; else lo = mid + 1;
        }
        r = lo;
        i = T->word_at_rank[(size_t)topic * T->n + r];
        synth_emit(g, T->w[i], T->len[i]);
    }
    g->bits += T->lp[r];
    return i;
}

int synth_uniform(G *g, int n, int parsed) {
    if (g->fail) return 0;
    int i = g->parse ? parsed : (int)(uniform(g->s) * n);
    if (i < 0 || i >= n) { g->fail = 1; return 0; }
    g->bits += log2((double)n);
    return i;
}

void synth_say(G *g, const Table *T, int idx) { synth_emit(g, T->w[idx], T->len[idx]); }

// ----------------------------------------------------------------------------
// Expectations

Ex synth_ex_add(Ex a, Ex b) { return (Ex){ a.bits + b.bits, a.bytes + b.bytes }; }
Ex synth_ex_scale(Ex a, double k) { return (Ex){ a.bits * k, a.bytes * k }; }
Ex synth_ex_lit(const char *s) { return (Ex){ 0, (double)strlen(s) }; }

double synth_entropy(const double *p, int k) {
    double h = 0;
    for (int i = 0; i < k; i++) h -= p[i] * log2(p[i]);
    return h;
}

double synth_ex_len(const Table *T, int topic) {
    topic = T->ntopic > 1 ? topic % T->ntopic : 0;
    double e = 0;
    for (int r = 0; r < T->n; r++) e += T->p[r] * (double)T->len[T->word_at_rank[(size_t)topic * T->n + r]];
    return e;
}

Ex synth_ex_table(const Table *T, int topic) {
    Ex e = { 0, synth_ex_len(T, topic) };
    for (int r = 0; r < T->n; r++) e.bits += T->p[r] * T->lp[r];
    return e;
}

// A decision: its entropy plus the outcomes' expectations weighted by their probabilities.
Ex synth_ex_choice(const double *p, int k, const Ex *outcome) {
    Ex e = { synth_entropy(p, k), 0 };
    for (int i = 0; i < k; i++) e = synth_ex_add(e, synth_ex_scale(outcome[i], p[i]));
    return e;
}

// synth_gap.c -- where a model's gap to the synthetic source's floor lies, mechanism by
// mechanism (README, "The synthetic source"). Reads what `autoresearch train --nll-out`
// wrote (one "target_id nll_nats" line per validation target, MAX_SEQ_LEN targets a row,
// each row after a BOS), decodes every row, sorts each scored token into a category, and
// prints the model's bits per category against the category's exact floor:
//   total    the digits after "had ": a purse's running sum, fully determined (floor 0)
//   purse    the digits before " pennies": a starting purse, uniform over the version's range
//   amount   the digits of "earned A, B and C": uniform over the version's range
//   count    the digits of "counted N THINGS": uniform over NUM_LO..NUM_HI
//   recall   an object the story has already fixed: the word after "gave the", "and got the",
//            ", who had the" or a possessive (floor 0). Not "with his X" in the introduction,
//            which brings the object in. It needs a look-up of a friend's state, like the
//            totals: the part of the gap a seed tends to learn or not (README)
//   text     every other token; its floor is the data set's floor (entropy_bpb x bytes)
//            less the numbers' floors
// A number's floor is exact for its digits only; the bits that say where a count ends fall
// on the token after it, in text. Numbers cut by a row's end or start, whose context the
// row does not hold, count as text.
//
// usage: synth_gap NLL_FILE   (the prepared data set under $AUTORESEARCH_CACHE)
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "prepare.h"
#include "synth_story.h"
#include "util.h"

enum { TOTAL, PURSE, AMOUNT, COUNT, RECALL, TEXT, NCAT };
static const char *const CAT[NCAT] = { "total", "purse", "amount", "count", "recall", "text" };

typedef struct {
    double bits, floor_bits, bytes;
    long tokens, numbers;
} Cat;

// The category of the digit run text[a..b) of a row, from the words around it.
static int classify(const char *text, size_t len, size_t a, size_t b) {
    if (a == 0 || b >= len) return TEXT;   // cut by the row: its context is not here
    if (len - b >= 8 && !memcmp(text + b, " pennies", 8)) return PURSE;
    if (a >= 4 && !memcmp(text + a - 4, "had ", 4)) return TOTAL;
    for (size_t i = a; i-- > 0;) {   // the sentence's verb: the latest before the run
        if (text[i] == '.' || text[i] == '\n') return TEXT;
        if (i + 8 <= a && !memcmp(text + i, " earned ", 8)) return AMOUNT;
        if (i + 9 <= a && !memcmp(text + i, " counted ", 9)) return COUNT;
    }
    return TEXT;
}

static const Purses *pu;   // the data set's version's (main)

static double number_floor(int cat) {
    if (cat == PURSE) return log2((double)pu->purse_hi - pu->purse_lo + 1);
    if (cat == AMOUNT) return log2((double)pu->earn_hi - pu->earn_lo + 1);
    if (cat == COUNT) return log2((double)NUM_HI - NUM_LO + 1);
    return 0;
}

// The words of text[0..len) that name an object the story has fixed: their tokens (those that
// start in the word, past a leading space) go to RECALL. A word cut by the row's end is text.
// A possessive counts only outside the introduction's "with his X", which brings the object in.
static const struct { const char *before; int possessive; } RECALL_CUES[] = {
    { " gave the ", 0 }, { " and got the ", 0 }, { ", who had the ", 0 }, { " his ", 1 }, { " her ", 1 } };

static void mark_recall(const char *text, size_t len, const size_t *start, int T, int *cat, Cat *c) {
    for (size_t i = 0; i < len; i++)
        for (size_t k = 0; k < sizeof RECALL_CUES / sizeof *RECALL_CUES; k++) {
            size_t n = strlen(RECALL_CUES[k].before), a = i + n, b = a;
            if (a > len || memcmp(text + i, RECALL_CUES[k].before, n)) continue;
            if (RECALL_CUES[k].possessive && i >= 5 && !memcmp(text + i - 5, " with", 5)) continue;
            while (b < len && islower((unsigned char)text[b])) b++;
            if (b == a || b == len) continue;
            c[RECALL].numbers++;
            for (int t = 0; t < T; t++) {
                size_t s = start[t] + (start[t + 1] - start[t] > 1 && text[start[t]] == ' ');
                if (s >= a && s < b && cat[t] == TEXT) cat[t] = RECALL;
            }
        }
}

// One row of T targets: decode, find the digit runs, add each token's bits to its category.
static void score_row(const Tokenizer *tok, const int32_t *tg, const float *nll, int T, Cat *c) {
    char text[MAX_SEQ_LEN * 64];
    size_t start[MAX_SEQ_LEN + 1], len = 0;
    for (int t = 0; t < T; t++) {
        start[t] = len;
        long n = tokenizer_decode(tok, tg + t, 1, text + len, sizeof text - len);
        if (n < 0) die("synth_gap: a row decodes to more than %zu bytes", sizeof text);
        len += (size_t)n;
    }
    start[T] = len;
    int cat[MAX_SEQ_LEN];
    for (int t = 0; t < T; t++) cat[t] = TEXT;
    for (int t = 0; t < T;) {   // a run of all-digit tokens is one number
        size_t a = start[t], b = start[t + 1];
        int u = t, digits = b > a;
        for (size_t i = a; i < b; i++) digits &= isdigit((unsigned char)text[i]) != 0;
        if (!digits) { t++; continue; }
        while (u + 1 < T) {
            int ok = start[u + 2] > start[u + 1];
            for (size_t i = start[u + 1]; ok && i < start[u + 2]; i++) ok &= isdigit((unsigned char)text[i]) != 0;
            if (!ok) break;
            u++;
        }
        int k = classify(text, len, a, start[u + 1]);
        for (int i = t; i <= u; i++) cat[i] = k;
        if (k != TEXT) { c[k].numbers++; c[k].floor_bits += number_floor(k); }
        t = u + 1;
    }
    mark_recall(text, len, start, T, cat, c);
    for (int t = 0; t < T; t++) {
        int nb = tokenizer_token_bytes(tok, tg[t]);
        if (nb == 0) continue;   // BOS: not scored (score.c)
        c[cat[t]].bits += nll[t] / log(2.0);
        c[cat[t]].bytes += nb;
        c[cat[t]].tokens++;
    }
}

int main(int argc, char **argv) {
    if (argc != 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(argc == 2 ? stdout : stderr, "usage: synth_gap NLL_FILE   (from `autoresearch train --nll-out`;"
                " the prepared synthetic data set under $AUTORESEARCH_CACHE)\n");
        return argc == 2 ? 0 : 2;
    }
    const char *floor_s = dataset_manifest_get("entropy_bpb");
    if (!floor_s) die("synth_gap: the prepared data set %s has no entropy floor (not synthetic)", dataset_id());
    const double floor_bpb = atof(floor_s);
    const char *formats = dataset_manifest_get("formats"), *v = formats ? strstr(formats, "synthetic v") : NULL;
    int version = v ? atoi(v + strlen("synthetic v")) : 0;
    pu = version == 4 ? &SYNTH4_PURSES : NULL;
    if (!pu) die("synth_gap: the prepared data set %s is synthetic version %d, which has no purses (version 4 has)", dataset_id(), version);
    Tokenizer *tok = tokenizer_load_prepared();
    FILE *f = fopen(argv[1], "r");
    if (!f) die("synth_gap: cannot open %s", argv[1]);
    const int T = MAX_SEQ_LEN;
    int32_t tg[MAX_SEQ_LEN];
    float nll[MAX_SEQ_LEN];
    Cat c[NCAT] = {0};
    long rows = 0;
    for (;;) {
        int t = 0, id;
        float x;
        while (t < T && fscanf(f, "%d %f", &id, &x) == 2) {
            if (id < 0 || id >= tokenizer_vocab_size(tok) || !(x >= 0)) die("synth_gap: %s: bad line %ld", argv[1], rows * T + t + 1);
            tg[t] = id, nll[t++] = x;
        }
        if (t == 0) break;
        if (t < T) die("synth_gap: %s ends inside a row (%d of %d targets): truncated?", argv[1], t, T);
        score_row(tok, tg, nll, T, c);
        rows++;
    }
    fclose(f);
    double bytes = 0, bits = 0, num_floor = 0;
    for (int k = 0; k < NCAT; k++) bytes += c[k].bytes, bits += c[k].bits, num_floor += c[k].floor_bits;
    if (bytes == 0) die("synth_gap: %s holds no scored targets", argv[1]);
    c[TEXT].floor_bits = floor_bpb * bytes - num_floor;
    double excess = bits - floor_bpb * bytes;
    printf("%ld rows, %.0f bytes: val_bpb %.4f, floor %.4f, excess %.4f bits per byte\n", rows, bytes, bits / bytes,
           floor_bpb, excess / bytes);
    printf("%-8s %8s %8s %9s %9s %9s %8s\n", "category", "items", "tokens", "bits/item", "floor/item", "excess", "share");
    for (int k = 0; k < NCAT; k++) {
        double e = c[k].bits - c[k].floor_bits;
        if (k == TEXT)
            printf("%-8s %8s %8ld %9s %9s %9.4f %7.1f%%\n", CAT[k], "-", c[k].tokens, "-", "-", e / bytes, 100 * e / excess);
        else
            printf("%-8s %8ld %8ld %9.2f %9.2f %9.4f %7.1f%%\n", CAT[k], c[k].numbers, c[k].tokens,
                   c[k].numbers ? c[k].bits / c[k].numbers : 0, number_floor(k), e / bytes, 100 * e / excess);
    }
    printf("(excess: bits above the category's floor per byte of all scored text; the shares add up to 100%%)\n");
    tokenizer_free(tok);
    return 0;
}

// synth.c -- the synthetic source's versions (see synth.h).
#include "synth.h"
#include "util.h"

int synth_version_known(int version) { return version >= 2 && version <= 4; }

static void check(int version) {
    if (!synth_version_known(version)) die("synth: unknown synthetic version %d (known: 2, 3, 4)", version);
}

void synth_generate(int version, uint64_t seed, size_t ndocs, DocSet *out, double *bits) {
    check(version);
    if (version == 2) synth2_generate(seed, ndocs, out, bits);
    else if (version == 3) synth3_generate(seed, ndocs, out, bits);
    else synth4_generate(seed, ndocs, out, bits);
}

double synth_doc_bits(int version, const char *text, size_t len) {
    check(version);
    return version == 2 ? synth2_doc_bits(text, len) : version == 3 ? synth3_doc_bits(text, len)
                                                     : synth4_doc_bits(text, len);
}

void synth_expectation(int version, double *bits_per_doc, double *bytes_per_doc) {
    check(version);
    if (version == 2) synth2_expectation(bits_per_doc, bytes_per_doc);
    else if (version == 3) synth3_expectation(bits_per_doc, bytes_per_doc);
    else synth4_expectation(bits_per_doc, bytes_per_doc);
}

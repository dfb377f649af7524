// bench_synth.c -- the synthetic source: generation throughput per version, and the floor.
//
//   build/bench/bench_synth [MB]      (default 64 MB of text per version)
// Reports MB/s of wall time and of this process's CPU time (the machine may be shared: CPU
// time is what other load disturbs least), the bits per byte of the generated text, and the
// analytic rate from the grammar's tables.
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "synth.h"
#include "util.h"

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

int main(int argc, char **argv) {
    double mb = argc > 1 ? atof(argv[1]) : 64;
    if (!(mb > 0)) die("usage: bench_synth [MB]");
    for (int v = 2; v <= 4; v++) {
        double eb, ey;
        synth_expectation(v, &eb, &ey);   // also builds the tables, outside the timing
        DocSet d;
        docset_init(&d);
        double bits = 0, w0 = now_seconds(), c0 = cpu_seconds();
        for (uint64_t b = 0; (double)d.len < mb * 1048576.0; b++) {
            double x;
            synth_generate(v, 1000 + b, 256, &d, &x);
            bits += x;
        }
        double w = now_seconds() - w0, c = cpu_seconds() - c0, m = (double)d.len / 1048576.0;
        printf("version %d: %.1f MB in %zu docs (%.0f bytes each): %.1f MB/s wall, %.1f MB/s CPU; "
               "%.4f bits/byte sampled, %.4f analytic\n", v, m, d.n, (double)d.len / (double)d.n, m / w, m / c,
               bits / (double)d.len, eb / ey);
        docset_free(&d);
    }
    return 0;
}

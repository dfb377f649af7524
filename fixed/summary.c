// summary.c -- run_seed, peak_memory_mb and the summary block of prepare.h (summary.h).
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>

#include "summary.h"
#include "util.h"

static int seed_set;
static uint64_t seed_value;

uint64_t run_seed(uint64_t fallback) {
    const char *s = getenv("AUTORESEARCH_SEED");
    seed_value = fallback;
    if (s && *s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end) die("AUTORESEARCH_SEED='%s': expected a non-negative integer", s);
        seed_value = v;
    }
    seed_set = 1;
    return seed_value;
}

double peak_memory_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;   // Linux reports kilobytes
}

#define LINE(label, fmt, ...) printf("%-18s" fmt "\n", label ":", __VA_ARGS__)

void summary_print(const Summary *s, const char *dataset, const char *budget, const char *eval_tokens) {
    printf("---\n");
    LINE("val_bpb", "%.6f", s->val_bpb);
    LINE("training_seconds", "%.1f", s->training_seconds);
    LINE("total_seconds", "%.1f", s->total_seconds);
    LINE("peak_vram_mb", "%.1f", s->peak_vram_mb);
    LINE("mfu_percent", "%.2f", s->mfu_percent);
    LINE("total_tokens_M", "%.1f", s->total_tokens_M);
    LINE("num_steps", "%d", s->num_steps);
    LINE("num_params_M", "%.1f", s->num_params_M);
    LINE("depth", "%d", s->depth);
    LINE("dataset", "%s", dataset);
    LINE("budget", "%s", budget);
    if (seed_set) LINE("seed", "%" PRIu64, seed_value);
    LINE("eval_tokens", "%s", eval_tokens);
    fflush(stdout);
}

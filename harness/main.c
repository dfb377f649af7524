// main.c -- the `autoresearch` command: dispatches to the fixed layer's and the harness's commands.
#include <stdio.h>
#include <string.h>

#include "dataset.h"
#include "harness.h"
#include "pool.h"
#include "supervise.h"

typedef struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *help;
} Command;

static const Command commands[] = {
    {"prepare", prepare_main, "download or read the corpus, train the tokenizer, write token shards"},
    {"encode", encode_main, "text on stdin -> token ids on stdout (prepared tokenizer)"},
    {"decode", decode_main, "token ids on stdin -> text on stdout (prepared tokenizer)"},
    {"train", train_main, "one supervised training run of build/train (sandboxed; scores computed here)"},
    {"run", run_main, "one experiment: build train.c, train under the budget, log, keep or reset"},
    {"loop", loop_main, "the autonomous loop: agent edits train.c, run, keep or reset, repeat"},
    {"noise", noise_main, "run the baseline K times with different seeds: sigma of val_bpb"},
    {"job", job_main, "one run of a worker (started by `loop --workers`; not for people)"},
    {"status", status_main, "the session: experiments by status, best, the running experiment"},
    {"report", report_main, "progress plot (SVG, PNG) and a Markdown summary with val vs test"},
};

static void usage(FILE *f) {
    fprintf(f,
            "usage: autoresearch COMMAND [options]   (autoresearch COMMAND --help for its options)\n"
            "\n"
            "Autonomous ML research on a small GPT: an agent edits train.c, trains for a fixed\n"
            "budget, keeps what lowers val_bpb. Data and cache: $AUTORESEARCH_CACHE\n"
            "(default ~/.cache/autoresearch).\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "autoresearch: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

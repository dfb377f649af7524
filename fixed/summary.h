// summary.h -- the summary block and the run seed (summary.c), shared by the in-process fixed
// layer (budget.c) and the trainer's client (client.c), which know the data set and budget
// differently.
#ifndef SUMMARY_H
#define SUMMARY_H

#include "prepare.h"

// Prints "---", the block, then the fixed layer's lines (data set, budget, seed, eval_tokens).
void summary_print(const Summary *s, const char *dataset, const char *budget, const char *eval_tokens);

#endif

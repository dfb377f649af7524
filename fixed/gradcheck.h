// gradcheck.h -- the gradient check's contract with train.c (`make gradcheck`; the harness
// runs it after every build, before the training run).
//
// build/gradcheck is train.c (its main renamed) linked with fixed/gradcheck.c. The check asks
// train.c for a tiny model of its own design, fp32 throughout, through gradcheck_model(); it
// draws the parameters and a batch of tokens itself, then for every tensor train.c lists
// compares the change of the loss under small moves of the tensor (central differences) with
// the gradient train.c's backward wrote. It decides pass or fail; train.c only describes.
//
// A train.c whose backward is a deliberate approximation for some tensors says so with
//   #define GRADCHECK_SKIP "name1 name2"
// (set as the model's skip list in gradcheck_model): those tensors are reported as skipped,
// not checked, and the harness records the list in the ledger.
#ifndef GRADCHECK_H
#define GRADCHECK_H

#include <stddef.h>
#include <stdint.h>

#define GRADCHECK_MAX_TENSORS 600

typedef struct {
    const char *name;   // as in the parameter table; the same name on several layers is fine
    int layer;          // -1 for a global tensor
    int rows, cols;     // (out, in): cols is the fan-in
    size_t off, n;      // its place in params and grads; n = rows * cols
} GradcheckTensor;

typedef struct {
    void *model;
    int ntensors;
    GradcheckTensor tensors[GRADCHECK_MAX_TENSORS];
    size_t nparams;            // every parameter: the tensors must cover params[0..nparams)
    float *params, *grads;
    const char *skip;          // GRADCHECK_SKIP, or NULL
    // the mean next-token loss of inputs (B,T) against targets; with backward, grads first
    // zeroed and then set to the gradient of that loss
    double (*loss)(void *model, const int32_t *inputs, const int32_t *targets, int backward);
    void (*params_changed)(void *model);   // called after the check wrote params
} GradcheckModel;

// Defined by train.c: a model for batches of B sequences of T tokens over a vocabulary of V.
void gradcheck_model(GradcheckModel *g, int V, int T, int B);

#endif // GRADCHECK_H

// bench_train_fp32.c -- bench_train.c with fp32 matmuls (train.c built with -DTRAIN_FP32), so
// `make bench` reports both precisions from one build.
#ifndef TRAIN_FP32
#define TRAIN_FP32 1
#endif
#include "bench_train.c"

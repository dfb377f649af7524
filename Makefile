# autoresearch -- build, test, bench.
#   make            build ./autoresearch and build/train
#   make baseline   the quick start: prepare the default data, then one baseline training run
#   make gradcheck  train.c's backward pass against finite differences (seconds)
#   make test       every test, under AddressSanitizer + UBSan
#   make test-agents  the README's aider line, real aider from PyPI, a scripted model server
#   make bench      benchmarks (long; figures go to stdout)
CC      ?= cc
OPT     ?= -O2
CFLAGS  := -std=c11 $(OPT) -g -Wall -Wextra -D_GNU_SOURCE -pthread -Ifixed $(EXTRA_CFLAGS)
LDLIBS  := -lseccomp -lpcre2-8 -lz -lcurl -lcrypto -lpng -lgsl -lgslcblas -lm -pthread
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# train.c: the file the research agent edits. PRECISION=fp32 builds it without bf16 matmuls
# (the default, bf16, becomes fp32 on a CPU without bf16 dot products: see train.c).
# Its element-wise loops are plain C that the compiler vectorises: -fno-math-errno and
# -fno-trapping-math let it (sqrtf, and the comparisons in exp_fast on CPUs without masked
# vector ops), -ffp-contract=fast fuses a*b+c into one FMA as GNU C would, and on x86-64
# full-width AVX-512 vectors where the CPU has them (GCC would otherwise pick 256-bit ones).
PRECISION   ?= bf16
TRAIN_FLAGS := -std=c11 -O3 -march=native -fno-math-errno -fno-trapping-math -ffp-contract=fast \
               $(if $(filter x86_64,$(shell uname -m)),-mprefer-vector-width=512,) \
               -g -Wall -Wextra -D_GNU_SOURCE -fopenmp -Ifixed $(if $(filter fp32,$(PRECISION)),-DTRAIN_FP32,)
TRAIN_LIBS  := -ldnnl $(LDLIBS)
# build/train links the client side of prepare.h (fixed/client.c: the supervisor's protocol)
# and the tokenizer (its core and encoder; not its training or threaded encoding), nothing else
# of the fixed layer. train.c includes prepare.h and the toolbox (fixed/toolbox.h:
# header-only, the matmuls and the rest of the machinery).
CLIENT_SRC  := fixed/client.c fixed/summary.c fixed/tokenizer.c fixed/tokenizer_encode.c fixed/util.c
TRAIN_HDR   := fixed/prepare.h fixed/toolbox.h fixed/exp_fast.h fixed/gradcheck.h

FIXED_SRC   := $(filter-out fixed/client.c fixed/gradcheck.c,$(wildcard fixed/*.c))
HARNESS_SRC := $(filter-out harness/main.c,$(wildcard harness/*.c))
TEST_SRC    := $(wildcard tests/test_*.c)
BENCH_SRC   := $(wildcard bench/bench_*.c)

FIXED_OBJ        := $(FIXED_SRC:%.c=build/obj/%.o)
CLIENT_OBJ       := $(CLIENT_SRC:%.c=build/obj/%.o)
HARNESS_OBJ      := $(HARNESS_SRC:%.c=build/obj/%.o)
FIXED_OBJ_SAN    := $(FIXED_SRC:%.c=build/san/%.o)
HARNESS_OBJ_SAN  := $(HARNESS_SRC:%.c=build/san/%.o)
TEST_BIN         := $(TEST_SRC:tests/%.c=build/tests/%)
BENCH_BIN        := $(BENCH_SRC:bench/%.c=build/bench/%)
# train.c's tests again for an x86-64 CPU without AVX-512 (x86-64-v3: AVX2 + FMA), so the
# scalar paths and the fp32 fallback that such a CPU builds are tested too
ifeq ($(shell uname -m),x86_64)
TEST_BIN         += build/tests/test_train_portable
endif
HEADERS          := $(wildcard fixed/*.h harness/*.h tests/*.h)
DEPS_STAMP       := build/.deps-ok
TEST_DEPS_STAMP  := build/.test-deps-ok

.PHONY: all deps baseline test test-agents bench clean train gradcheck
all: autoresearch build/train

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/install-deps.sh
	@scripts/install-deps.sh
	@mkdir -p build && touch $@
# what only the tests need (a headless browser for the HTML report), so `make test` works on
# a fresh machine while a plain build never installs a browser
$(TEST_DEPS_STAMP): scripts/install-deps.sh
	@scripts/install-deps.sh --test
	@mkdir -p build && touch $@

build/obj/%.o: %.c $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
build/san/%.o: %.c $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@

# score.c computes the log-softmax of every evaluation's logits: vectorised for this CPU
SCORE_FLAGS := -O3 -march=native -fno-math-errno -fno-trapping-math -fopenmp-simd
build/obj/fixed/score.o build/san/fixed/score.o: CFLAGS += $(SCORE_FLAGS)

build/libfixed.a: $(FIXED_OBJ)
	@rm -f $@ && ar rcs $@ $^
build/libclient.a: $(CLIENT_OBJ)
	@rm -f $@ && ar rcs $@ $^
build/san/libfixed.a: $(FIXED_OBJ_SAN)
	ar rcs $@ $^
build/libharness.a: $(HARNESS_OBJ)
	@mkdir -p build && rm -f $@ && ar rcs $@ $^
build/san/libharness.a: $(HARNESS_OBJ_SAN)
	@mkdir -p build/san && rm -f $@ && ar rcs $@ $^

autoresearch: build/obj/harness/main.o build/libharness.a build/libfixed.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

train: build/train
build/train: train.c $(TRAIN_HDR) build/libclient.a
	$(CC) $(TRAIN_FLAGS) train.c build/libclient.a -o $@ $(TRAIN_LIBS)

# The gradient check (fixed/gradcheck.c, see gradcheck.h) drives train.c's tiny model in fp32;
# train.c's main is renamed out of its way (and never runs: it only has to link).
build/gradcheck: fixed/gradcheck.c train.c $(TRAIN_HDR) build/libclient.a
	$(CC) $(TRAIN_FLAGS) -O1 -DTRAIN_FP32 -Dmain=train_c_main -c train.c -o build/gradcheck-train.o
	$(CC) $(TRAIN_FLAGS) -O1 fixed/gradcheck.c build/gradcheck-train.o build/libclient.a -o $@ $(TRAIN_LIBS)
gradcheck: build/gradcheck
	@build/gradcheck

# Tests link the sanitized libraries; test_train* compile train.c in (with -DTESTING).
TEST_DEPS  = $(HEADERS) train.c build/san/libharness.a build/san/libfixed.a
define TEST_BUILD
@mkdir -p build/tests
$(CC) $(TRAIN_FLAGS) $(TEST_ARCH) -O1 $(SAN) -Iharness -Itests $< build/san/libharness.a build/san/libfixed.a \
    -o $@ $(TRAIN_LIBS)
endef
build/tests/%: tests/%.c $(TEST_DEPS)
	$(TEST_BUILD)
build/tests/test_train_portable: TEST_ARCH := -march=x86-64-v3
build/tests/test_train_portable: tests/test_train.c $(TEST_DEPS)
	$(TEST_BUILD)

build/bench/%: bench/%.c $(HEADERS) train.c build/libharness.a build/libfixed.a
	@mkdir -p build/bench
	$(CC) $(TRAIN_FLAGS) -Iharness $< build/libharness.a build/libfixed.a -o $@ $(TRAIN_LIBS)
build/bench/bench_train_fp32: bench/bench_train.c   # it includes bench_train.c
# bench_ring is a trainer: it runs under the supervisor (bench/ring.bench.sh), with the client
build/bench/bench_ring: bench/bench_ring.c $(HEADERS) train.c build/libclient.a
	@mkdir -p build/bench
	$(CC) $(TRAIN_FLAGS) $< build/libclient.a -o $@ $(TRAIN_LIBS)

baseline: all
	./autoresearch prepare
	./autoresearch run -m baseline --gate strict

test: all $(TEST_DEPS_STAMP) $(TEST_BIN) build/bench/synth_gap
	@tests/run.sh $(TEST_BIN)

# The README's aider line with the real aider, installed from PyPI into a virtual environment
# kept in build/ (reinstalled when this pin changes), against a scripted model server on
# loopback (tests/agents/aider_test.sh). Test code only: the product has no Python.
AIDER_VERSION := 0.86.2
AIDER_VENV    := build/agents-venv
$(AIDER_VENV)/.aider-$(AIDER_VERSION): | $(TEST_DEPS_STAMP)
	rm -rf $(AIDER_VENV) && python3 -m venv $(AIDER_VENV)
	$(AIDER_VENV)/bin/pip install -q --disable-pip-version-check aider-chat==$(AIDER_VERSION)
	touch $@
test-agents: all build/san/libharness.a build/san/libfixed.a $(AIDER_VENV)/.aider-$(AIDER_VERSION)
	@AIDER_VENV=$(AIDER_VENV) tests/agents/aider_test.sh

bench: all $(BENCH_BIN)
	@bench/run.sh

clean:
	rm -rf build autoresearch

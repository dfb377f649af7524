# Makefile of the harness tests' scratch repositories: builds the fake train.c against the
# fixed layer's client library of the checkout under test ($(AR_ROOT), set by harness.test.sh).
build/train: train.c
	@mkdir -p build
	cc -std=c11 -O1 -Wall -D_GNU_SOURCE $(EXTRA) -I$(AR_ROOT)/fixed train.c $(AR_ROOT)/build/libclient.a -o $@ \
	    -lpcre2-8 -lz -lcrypto -lm -pthread

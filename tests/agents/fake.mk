# Makefile of the harness tests' scratch repositories: builds the fake train.c against the
# fixed layer's client library of the checkout under test ($(AR_ROOT), set by harness.test.sh);
# FAKE_THROTTLE=0.8 in the environment builds one that trains 80% of its steps (a throttled machine).
build/train: train.c
	@mkdir -p build
	cc -std=c11 -O1 -Wall -D_GNU_SOURCE $(EXTRA) $(if $(FAKE_THROTTLE),-DTHROTTLE=$(FAKE_THROTTLE)) -I$(AR_ROOT)/fixed train.c $(AR_ROOT)/build/libclient.a -o $@ \
	    -lpcre2-8 -lz -lcrypto -lm -pthread

# Makefile of the integrity tests' scratch repositories: the fake train.c built like fake.mk
# (against the client library of the checkout under test, $(AR_ROOT)) plus a one-function
# "fixed layer" library built from the scratch repository's fixed/score.c, which the fake
# trainer passes its penalty through (-DFAKE_LIB): a doctored library changes the score.
build/libfixed.a: fixed/score.c
	@mkdir -p build
	cc -c -O1 fixed/score.c -o build/score.o && ar rcs $@ build/score.o
build/train: train.c build/libfixed.a
	cc -std=c11 -O1 -Wall -D_GNU_SOURCE -DFAKE_LIB -I$(AR_ROOT)/fixed train.c build/libfixed.a \
	    $(AR_ROOT)/build/libclient.a -o $@ -lpcre2-8 -lz -lcrypto -lm -pthread

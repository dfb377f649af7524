# Makefile of the harness tests' scratch repositories: builds the fake train.c.
build/train: train.c
	@mkdir -p build
	cc -std=c11 -O1 -Wall $(EXTRA) train.c -o $@ -lm

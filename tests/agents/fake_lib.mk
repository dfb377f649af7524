# Makefile of the integrity tests' scratch repositories: the fake train.c linked against a
# "fixed layer" library built from fixed/score.c, so a doctored library changes the score.
build/libfixed.a: fixed/score.c
	@mkdir -p build
	cc -c -O1 fixed/score.c -o build/score.o && ar rcs $@ build/score.o
build/train: train.c build/libfixed.a
	cc -std=c11 -O1 -Wall -DFAKE_LIB train.c build/libfixed.a -o $@ -lm

// report.h -- internal to `autoresearch report`: report.c (the command, what it gathers, the
// plot) and reportdoc.c (the page, in Markdown and HTML).
#ifndef REPORT_H
#define REPORT_H

#include <stdio.h>
#include <string.h>

#include "harness.h"

// One writer, two formats (reportdoc.c)
typedef struct {
    FILE *f;
    int html;
} Doc;

// What the page is written from (report.c gathers it)
typedef struct {
    const Session *S;
    View v;
    const Record *base, *best;
    const char *svg;      // the plot, inlined in the HTML page
    double median_tps;    // median tokens/s of the session's experiments (0: unknown)
} Report;

// A field of r, or "" when r lacks it; whether r is a keep.
static inline const char *str(const Record *r, const char *k) { return rec_get(r, k) ? rec_get(r, k) : ""; }
static inline int is_keep(const Record *r) { return !strcmp(str(r, "status"), "keep"); }

// The whole report into d, as Markdown or as HTML (d->html).
void write_doc(Doc *d, const Report *R);

#endif

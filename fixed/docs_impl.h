// docs_impl.h -- internal to the document readers: docs.c and docs_jsonl.c.
#ifndef DOCS_IMPL_H
#define DOCS_IMPL_H

#include <stddef.h>

#include "docs.h"

// Appends the "text" string of every line of the .jsonl bytes s[0..n) to d (docs_jsonl.c).
// 0, or -1 with err naming path, the line and the column.
int read_jsonl(const char *path, const char *s, size_t n, DocSet *d, char *err, size_t errlen);

#endif

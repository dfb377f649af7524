// docs.h -- a set of text documents in memory, and the readers of local text files.
#ifndef DOCS_H
#define DOCS_H

#include <stddef.h>

// Documents stored back to back: document i is data[off[i] .. off[i+1]).
typedef struct {
    char *data;
    size_t len, cap;
    size_t *off;      // n+1 offsets, off[0] = 0
    size_t n, ncap;
} DocSet;

void docset_init(DocSet *d);
void docset_add(DocSet *d, const char *text, size_t len);
void docset_free(DocSet *d);
static inline const char *docset_doc(const DocSet *d, size_t i, size_t *len) {
    *len = d->off[i + 1] - d->off[i];
    return d->data + d->off[i];
}

// How a plain .txt file is cut into documents.
typedef enum { TXT_SPLIT_AUTO, TXT_SPLIT_ENDOFTEXT, TXT_SPLIT_BLANKLINES } TxtSplit;

// Reads a local file into documents and appends them to out:
//   *.txt[.gz]   split on "<|endoftext|>" if the file contains it, else on blank lines
//                (TXT_SPLIT_AUTO; *split_used tells which was used)
//   *.jsonl[.gz] one JSON object per line, its "text" string field is the document
// Empty documents are dropped. Invalid UTF-8 and NUL bytes are kept as bytes (the tokenizer
// is byte-level). Returns 0, or -1 with a one-line message in err naming the file (and line);
// on error out is left as it was.
// Details: the line breaks next to a separator are not part of a document, other whitespace
// is kept; a blank line may hold spaces, tabs and \r; whitespace-only documents are dropped.
// JSON escapes become UTF-8 (surrogate pairs joined, a lone surrogate becomes U+FFFD); the
// first top-level "text" member counts; for .jsonl *split_used is set to TXT_SPLIT_AUTO.
int read_docs_file(const char *path, TxtSplit split, DocSet *out, TxtSplit *split_used,
                   char *err, size_t errlen);

// Decodes the JSON string that starts at s (its opening quote) and ends before end, as the
// .jsonl reader does: escapes become UTF-8, surrogate pairs are joined (a lone surrogate
// becomes U+FFFD), other bytes are kept. Returns the position after the closing quote with
// *out malloc'd and NUL-terminated (*len bytes, which may hold a NUL; len may be NULL), or
// NULL with *why set (why may be NULL) and *out NULL.
const char *json_string_decode(const char *s, const char *end, char **out, size_t *len, const char **why);

// Reads a whole file, gunzipping it if its name ends in .gz (a truncated or corrupt gzip
// is an error). Returns malloc'd bytes (NUL-terminated) or NULL with err set.
char *read_maybe_gz(const char *path, size_t *len, char *err, size_t errlen);

#endif

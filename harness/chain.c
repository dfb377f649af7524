// chain.c -- the ledger's hash chain: results.jsonl is tamper-evident.
//
// Every line the harness appends carries "prev_sha256", the sha256 of the line before it, so
// editing, inserting or removing a line breaks the chain at the next line. The harness keeps
// its own record of the end of the chain in $GIT_DIR/autoresearch/ledger.head (lines, sha256
// of the last line, and while an append is in flight the sha256 of the line being appended),
// which catches an edited last line, appended lines and truncation. While the harness runs it
// also holds the head in memory and checks the file against it before every append and every
// run, so a change made meanwhile (by an agent, a process it left behind, a hand) is caught even
// if whoever made it also rewrote ledger.head. Lines written before the chain existed (no
// "prev_sha256") are accepted only as a prefix.
//
// An edited ledger is never accepted silently: every command that writes stops with the line
// number. The user restores the file, or accepts it as it is now with --accept-ledger REASON,
// which appends a "ledger_accepted" record holding the sha256 of everything before it and the
// reason; verification then starts again from that record.
#include "harness.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void line_hash(const char *line, size_t len, char out[65]) { sha256_hex(line, len, out); }

// "prev_sha256" of a line, "" when it has none; -1 when the line is not a record.
static int line_prev(const char *line, char prev[65], int *accepted, char prefix[65]) {
    Record r;
    char e[64];
    prev[0] = prefix[0] = 0;
    *accepted = 0;
    if (rec_parse(line, &r, e, sizeof e) != 0) return -1;
    const char *p = rec_get(&r, "prev_sha256"), *k = rec_get(&r, "kind"), *x = rec_get(&r, "prefix_sha256");
    if (p) snprintf(prev, 65, "%s", p);
    if (k && !strcmp(k, "ledger_accepted") && x) { *accepted = 1; snprintf(prefix, 65, "%s", x); }
    rec_free(&r);
    return 0;
}

static int read_head(const char *path, ChainHead *h, char pending[65]) {
    memset(h, 0, sizeof *h);
    pending[0] = 0;
    char *t = read_file(path, NULL);
    if (!t) return -1;
    Record r;
    char e[64];
    int rc = rec_parse(t, &r, e, sizeof e);
    free(t);
    if (rc != 0) return -2;
    h->lines = (int)rec_num(&r, "lines", -1);
    const char *l = rec_get(&r, "last"), *p = rec_get(&r, "pending");
    snprintf(h->last, sizeof h->last, "%s", l ? l : "");
    if (p) snprintf(pending, 65, "%s", p);
    rec_free(&r);
    return h->lines < 0 ? -2 : 0;
}

static int write_head(const char *path, const ChainHead *h, const char *pending, char *err, size_t errlen) {
    Record r = {0};
    rec_set_num(&r, "lines", h->lines);
    rec_set_str(&r, "last", h->last);
    if (pending) rec_set_str(&r, "pending", pending);
    char *j = rec_to_json(&r), *line = xasprintf("%s\n", j);
    int rc = write_file_atomic(path, line, strlen(line), err, errlen);
    free(j);
    free(line);
    rec_free(&r);
    return rc;
}

int chain_verify(const char *jsonl, const char *head_path, ChainHead *h, char *err, size_t errlen) {
    memset(h, 0, sizeof *h);
    size_t len;
    char *text = read_file(jsonl, &len);
    if (!text && errno != ENOENT) { snprintf(err, errlen, "cannot read %s: %s", jsonl, strerror(errno)); return -1; }
    if (!text) text = xstrdup(""), len = 0;
    if (len && text[len - 1] != '\n') {
        snprintf(err, errlen, "%s: the last line is incomplete (no newline): the harness never writes one", jsonl);
        free(text);
        return -1;
    }
    int n = 0, chained = 0, rc = -1;
    char prev_hash[65] = "", before_last[65] = "";
    char broken[512] = "";   // the first break after the last accepted point
    for (size_t off = 0; off < len;) {
        char *line = text + off, *nl = memchr(line, '\n', len - off);
        size_t ll = (size_t)(nl - line);
        *nl = 0;
        n++;
        char prev[65], prefix[65];
        int accepted;
        int bad = line_prev(line, prev, &accepted, prefix) != 0;
        if (bad && !*broken)
            snprintf(broken, sizeof broken, "%s:%d: not a record the harness wrote (a line was edited or "
                     "inserted here)", jsonl, n);
        char pre[65];
        if (accepted) sha256_hex(text, off, pre);
        if (!bad && accepted && !strcmp(prefix, pre)) {
            chained = 1;   // the user accepted everything before this line
            broken[0] = 0;
        } else if (!bad && (*prev || chained)) {
            if (strcmp(prev, prev_hash) && !*broken)
                snprintf(broken, sizeof broken, "%s:%d: the hash chain breaks here: line %d was edited, or "
                         "lines were inserted or removed after line %d, since the harness wrote them", jsonl,
                         n, n - 1, n - 1);
            chained = 1;
        }
        snprintf(before_last, sizeof before_last, "%s", prev_hash);
        line_hash(line, ll, prev_hash);
        *nl = '\n';   // the prefix hash of a later accepted line covers the original bytes
        off += ll + 1;
    }
    if (*broken) {
        snprintf(err, errlen, "%s", broken);
        goto out;
    }
    h->lines = n;
    snprintf(h->last, sizeof h->last, "%s", prev_hash);
    ChainHead rec;
    char pending[65];
    int hr = read_head(head_path, &rec, pending);
    if (hr == -1 && !chained) {   // a ledger from before the chain (or none yet): start it
        if (write_head(head_path, h, NULL, err, errlen) != 0) goto out;
        rc = 0;
        goto out;
    }
    if (hr != 0) {
        snprintf(err, errlen, "%s: the harness's record of the ledger's end (%s) is %s", jsonl, head_path,
                 hr == -1 ? "missing" : "corrupt");
        goto out;
    }
    if (rec.lines == n && !strcmp(rec.last, h->last)) { rc = 0; goto out; }
    if (rec.lines == n - 1 && *pending && !strcmp(pending, h->last) && !strcmp(rec.last, before_last)) {
        // killed between appending a line and recording it: that line is the harness's own
        rc = write_head(head_path, h, NULL, err, errlen);
        goto out;
    }
    if (n < rec.lines)
        snprintf(err, errlen, "%s has %d lines but the harness wrote %d: lines were removed", jsonl, n, rec.lines);
    else if (n > rec.lines)
        snprintf(err, errlen, "%s:%d: lines the harness did not write (after line %d, the last it wrote)", jsonl,
                 rec.lines + 1, rec.lines);
    else
        snprintf(err, errlen, "%s:%d: the last line was edited since the harness wrote it", jsonl, n);
out:
    free(text);
    return rc;
}

int chain_unchanged(const char *jsonl, const char *head_path, const ChainHead *h, char *err, size_t errlen) {
    ChainHead now;
    if (chain_verify(jsonl, head_path, &now, err, errlen) != 0) return -1;
    if (now.lines != h->lines || strcmp(now.last, h->last)) {
        snprintf(err, errlen, "%s changed behind the harness's back (%d lines, the harness wrote %d)", jsonl,
                 now.lines, h->lines);
        return -1;
    }
    return 0;
}

int chain_append(const char *jsonl, const char *head_path, ChainHead *h, Record *r, char *err, size_t errlen) {
    if (chain_unchanged(jsonl, head_path, h, err, errlen) != 0) return -1;
    if (h->lines) rec_set_str(r, "prev_sha256", h->last);
    char *json = rec_to_json(r), hash[65];
    line_hash(json, strlen(json), hash);
    // the head says which line is on its way, so a kill between the two writes is recognised
    int rc = write_head(head_path, h, hash, err, errlen);
    if (rc == 0) rc = append_line_atomic(jsonl, json, err, errlen);
    free(json);
    if (rc != 0) return -1;
    h->lines++;
    snprintf(h->last, sizeof h->last, "%s", hash);
    return write_head(head_path, h, NULL, err, errlen);
}

int chain_accept(const char *jsonl, const char *head_path, ChainHead *h, const char *problem, const char *reason,
                 char *err, size_t errlen) {
    size_t len;
    char *text = read_file(jsonl, &len);
    if (!text) { snprintf(err, errlen, "cannot read %s: %s", jsonl, strerror(errno)); return -1; }
    if (len && text[len - 1] != '\n') {
        snprintf(err, errlen, "%s: the last line is incomplete: fix it by hand first", jsonl);
        free(text);
        return -1;
    }
    char pre[65];
    sha256_hex(text, len, pre);
    int n = 0;
    for (size_t i = 0; i < len; i++) n += text[i] == '\n';
    free(text);
    Record r = {0};
    char now[32];
    time_t t = time(NULL);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    rec_set_str(&r, "kind", "ledger_accepted");
    rec_set_str(&r, "time", now);
    rec_set_str(&r, "problem", problem);
    rec_set_str(&r, "reason", reason);
    rec_set_num(&r, "lines", n);
    rec_set_str(&r, "prefix_sha256", pre);
    char *json = rec_to_json(&r), hash[65];
    rec_free(&r);
    line_hash(json, strlen(json), hash);
    int rc = append_line_atomic(jsonl, json, err, errlen);
    free(json);
    if (rc != 0) return -1;
    h->lines = n + 1;
    snprintf(h->last, sizeof h->last, "%s", hash);
    return write_head(head_path, h, NULL, err, errlen);
}

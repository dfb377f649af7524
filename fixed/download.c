// download.c -- HTTP(S) downloads with libcurl: retries with backoff, resume, size cap.
//
// Bytes go to DEST.part, appended across attempts (and across runs) with "Range: bytes=N-".
// Server answers handled: 206 (append), 200 to a ranged request (the server ignores Range:
// start over), 416 (the part is already complete, or longer than the file: start over),
// 4xx (permanent, no retry; except 408/429), 5xx (retry). DEST appears by rename only once
// the transfer completed, after an fsync.
#include "download.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void download_opts_default(DownloadOpts *o) {
    o->max_retries = 5;
    o->backoff_s = 1.0;
    o->max_bytes = 0;
    o->connect_timeout_s = 15;
    o->low_speed_time_s = 30;
    o->quiet = 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

// ----------------------------------------------------------------------------
// One transfer attempt

typedef enum { ST_NONE, ST_BODY, ST_RESTART, ST_CAPPED, ST_HTTPERR, ST_DISKERR } State;

typedef struct {
    CURL *curl;
    FILE *f;
    long long have;        // bytes in the .part file
    long long cap;         // o->max_bytes (0: none)
    long long range_start; // start we asked for (-1: no Range header sent)
    long long cr_start, cr_total;  // parsed Content-Range (-1 if absent)
    long code;             // HTTP status of the final response
    State st;
    int disk_errno;
    Progress prog;
    int prog_on, quiet;
    const char *label;
} Xfer;

// Header lines of every response (redirects included): reset on each status line.
static size_t on_header(char *buf, size_t size, size_t n, void *ud) {
    Xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        x->cr_start = x->cr_total = -1;
    } else if (len > 14 && strncasecmp(buf, "content-range:", 14) == 0) {
        char tmp[128];
        size_t k = len - 14 < sizeof tmp - 1 ? len - 14 : sizeof tmp - 1;
        memcpy(tmp, buf + 14, k);
        tmp[k] = 0;
        long long a, b, t;
        if (sscanf(tmp, " bytes %lld-%lld/%lld", &a, &b, &t) == 3) { x->cr_start = a; x->cr_total = t; }
        else if (sscanf(tmp, " bytes %lld-%lld/*", &a, &b) == 2) { x->cr_start = a; x->cr_total = -1; }
        else if (sscanf(tmp, " bytes */%lld", &t) == 1) { x->cr_start = -1; x->cr_total = t; }
    }
    return len;
}

static int put_bytes(Xfer *x, const char *p, size_t n) {
    if (n && fwrite(p, 1, n, x->f) != n) {
        x->disk_errno = errno ? errno : EIO;
        x->st = ST_DISKERR;
        return -1;
    }
    x->have += (long long)n;
    if (x->prog_on) progress_update(&x->prog, (double)x->have / 1e6);
    return 0;
}

// Body bytes of the final response. Returning a short count aborts the transfer; x->st says why.
static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    Xfer *x = ud;
    size_t len = size * n;
    if (x->st == ST_NONE) {
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->code);
        if (x->code == 206) {
            // Only a range starting where the part ends can be appended.
            if (x->range_start < 0 || x->cr_start != x->range_start) { x->st = ST_RESTART; return 0; }
        } else if (x->code == 200) {
            if (x->have > 0) {   // Range ignored: this is the whole file again
                if (ftruncate(fileno(x->f), 0) != 0 || fseek(x->f, 0, SEEK_SET) != 0) {
                    x->disk_errno = errno;
                    x->st = ST_DISKERR;
                    return 0;
                }
                x->have = 0;
            }
        } else {
            x->st = ST_HTTPERR;  // error bodies are not kept
            return len;
        }
        x->st = ST_BODY;
        if (!x->quiet) {
            curl_off_t cl = -1;
            curl_easy_getinfo(x->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
            double total = cl >= 0 ? (double)(x->have + cl) : 0;
            if (x->cap > 0 && (total == 0 || total > (double)x->cap)) total = (double)x->cap;
            progress_start(&x->prog, x->label, total / 1e6, "MB");
            x->prog_on = 1;
        }
    }
    if (x->st == ST_HTTPERR) return len;
    if (x->cap > 0 && x->have + (long long)len >= x->cap) {
        size_t keep = (size_t)(x->cap - x->have);
        if (put_bytes(x, p, keep)) return 0;
        x->st = ST_CAPPED;
        return keep == len ? len : 0;   // stop as soon as the cap is reached
    }
    return put_bytes(x, p, len) ? 0 : len;
}

static int is_unreachable(CURLcode rc) {
    return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
           rc == CURLE_COULDNT_CONNECT;
}

static int is_retryable(CURLcode rc) {
    switch (rc) {
    case CURLE_PARTIAL_FILE: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING: case CURLE_OPERATION_TIMEDOUT: case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2: case CURLE_HTTP2_STREAM: case CURLE_HTTP3:
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY: case CURLE_COULDNT_CONNECT:
        return 1;
    default:
        return 0;
    }
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

// fsyncs the directory holding path, so the rename survives a crash.
static void sync_dir(const char *path) {
    char *tmp = xstrdup(path);
    int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
    free(tmp);
}

// ----------------------------------------------------------------------------
// The download loop

// The download is whole: the part becomes dest. DOWNLOAD_OK, or DOWNLOAD_EFAIL with err set.
static int finish(const char *url, const char *part, const char *dest, char *err, size_t errlen) {
    if (rename(part, dest) != 0) {
        snprintf(err, errlen, "cannot download %s: cannot rename %s: %s", url, part, strerror(errno));
        return DOWNLOAD_EFAIL;
    }
    sync_dir(dest);
    return DOWNLOAD_OK;
}

int download_file(const char *url, const char *dest, const DownloadOpts *opts,
                  char *err, size_t errlen) {
    if (file_exists(dest)) return DOWNLOAD_OK;
    DownloadOpts defaults;
    if (!opts) { download_opts_default(&defaults); opts = &defaults; }
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, errlen, "cannot download %s: curl_global_init failed", url);
        return DOWNLOAD_EFAIL;
    }
    char *part = xasprintf("%s.part", dest);
    char *label = xstrdup(dest);
    const char *base = strrchr(dest, '/') ? strrchr(dest, '/') + 1 : dest;
    memmove(label, base, strlen(base) + 1);
    char cerr[CURL_ERROR_SIZE];
    int result = DOWNLOAD_EFAIL, reached = 0, restarts = 0, tries = 0;
    err[0] = 0;

    for (int attempt = 0; attempt <= opts->max_retries; attempt++) {
        if (attempt > 0) sleep_s(opts->backoff_s * (double)(1LL << (attempt - 1 < 30 ? attempt - 1 : 30)));
        Xfer x;
        memset(&x, 0, sizeof x);
        x.cap = opts->max_bytes;
        x.quiet = opts->quiet;
        x.label = label;
        x.cr_start = x.cr_total = -1;
        x.f = fopen(part, "ab");
        if (!x.f) {
            snprintf(err, errlen, "cannot download %s: cannot write %s: %s", url, part, strerror(errno));
            break;
        }
        x.have = file_size(part);
        if (x.have < 0) x.have = 0;
        if (x.cap > 0 && x.have >= x.cap) {      // a capped download already complete
            if (x.have > x.cap && ftruncate(fileno(x.f), x.cap) != 0) {
                snprintf(err, errlen, "cannot download %s: cannot truncate %s: %s", url, part, strerror(errno));
                fclose(x.f);
                break;
            }
            x.have = x.cap;
            x.st = ST_CAPPED;
        }
        CURLcode rc = CURLE_OK;
        if (x.st != ST_CAPPED) {
            CURL *c = curl_easy_init();
            if (!c) {
                snprintf(err, errlen, "cannot download %s: curl_easy_init failed", url);
                fclose(x.f);
                break;
            }
            x.curl = c;
            char range[64];
            x.range_start = -1;
            if (x.have > 0 || x.cap > 0) {
                x.range_start = x.have;
                if (x.cap > 0) snprintf(range, sizeof range, "%lld-%lld", x.have, x.cap - 1);
                else snprintf(range, sizeof range, "%lld-", x.have);
                curl_easy_setopt(c, CURLOPT_RANGE, range);
            }
            cerr[0] = 0;
            curl_easy_setopt(c, CURLOPT_URL, url);
            curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
            curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
            curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, opts->connect_timeout_s);
            // Below 1 KB/s for low_speed_time_s counts as stalled (curl averages over ~5 s).
            curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
            curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, opts->low_speed_time_s);
            curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(c, CURLOPT_USERAGENT, "autoresearch/1.0");
            curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
            curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
            curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
            rc = curl_easy_perform(c);
            tries++;
            if (x.code == 0) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x.code);
            double ct = 0;
            curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &ct);
            if (x.code > 0 || ct > 0) reached = 1;
            if (x.st == ST_NONE && x.code >= 300) x.st = ST_HTTPERR;   // an error without a body
            curl_easy_cleanup(c);
            if (x.prog_on && (rc == CURLE_OK || x.st == ST_CAPPED)) progress_finish(&x.prog);
            else if (x.prog_on && x.prog.tty) fputc('\n', stderr);
        }
        int ferr = fflush(x.f) != 0 || fsync(fileno(x.f)) != 0;
        int fe = errno;
        fclose(x.f);
        if (ferr && x.st != ST_DISKERR) { x.st = ST_DISKERR; x.disk_errno = fe; }

        if (x.st == ST_DISKERR) {
            snprintf(err, errlen, "cannot download %s: cannot write %s: %s", url, part, strerror(x.disk_errno));
            break;
        }
        if (x.st == ST_CAPPED || (rc == CURLE_OK && x.st == ST_BODY) ||
            (rc == CURLE_OK && x.code >= 200 && x.code < 300 && x.st == ST_NONE)) {
            // ST_NONE with 2xx: an empty body (an empty file, or an empty remainder).
            result = finish(url, part, dest, err, errlen);
            break;
        }
        if (x.st == ST_RESTART || (x.st == ST_HTTPERR && x.code == 416)) {
            // The part does not fit what the server has (it is complete, longer, or the
            // server answered another range). If the server's total equals the part, done.
            if (x.code == 416 && x.cr_total >= 0 && x.cr_total == x.have && x.have > 0) {
                result = finish(url, part, dest, err, errlen);
                break;
            }
            if (x.code == 416 && x.have == 0) {  // a capped request on an empty file
                snprintf(err, errlen, "cannot download %s: HTTP 416 (range not satisfiable)", url);
                break;
            }
            if (truncate(part, 0) != 0) {
                snprintf(err, errlen, "cannot download %s: cannot truncate %s: %s", url, part, strerror(errno));
                break;
            }
            if (++restarts > 2) {
                snprintf(err, errlen, "cannot download %s: the server's answers to range requests are inconsistent", url);
                break;
            }
            attempt--;   // starting over is not a failed attempt
            continue;
        }
        if (x.st == ST_HTTPERR) {
            snprintf(err, errlen, "cannot download %s: HTTP %ld", url, x.code);
            if (x.code >= 400 && x.code < 500 && x.code != 408 && x.code != 429) break;
            continue;
        }
        // A libcurl error.
        const char *msg = cerr[0] ? cerr : curl_easy_strerror(rc);
        if (is_unreachable(rc) && !reached) {
            snprintf(err, errlen, "cannot reach %s: %s", url, msg);
            result = DOWNLOAD_ENET;
            // Offline is the usual reason: one quick second try, not the whole backoff series.
            if (attempt >= 1) break;
            continue;
        }
        if (rc == CURLE_OPERATION_TIMEDOUT && !reached) {
            // Nothing answered at all (packets dropped): as unreachable as a refused connection.
            snprintf(err, errlen, "cannot reach %s: %s", url, msg);
            result = DOWNLOAD_ENET;
            if (attempt >= 1) break;
            continue;
        }
        result = DOWNLOAD_EFAIL;
        snprintf(err, errlen, "cannot download %s: %s", url, msg);
        if (!is_retryable(rc)) break;
    }
    if (result != DOWNLOAD_OK) {
        if (result == DOWNLOAD_ENET && reached) result = DOWNLOAD_EFAIL;
        if (file_size(part) == 0) unlink(part);   // keep a partial file for the next resume
        size_t k = strlen(err);
        if (tries > 1 && k + 32 < errlen) snprintf(err + k, errlen - k, " (after %d attempts)", tries);
    }
    free(part);
    free(label);
    return result;
}

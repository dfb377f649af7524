// download.h -- HTTP(S) downloads with libcurl: retries with backoff, resume, size cap.
#ifndef DOWNLOAD_H
#define DOWNLOAD_H

#include <stddef.h>

typedef struct {
    int max_retries;          // attempts after the first (default 5)
    double backoff_s;         // first wait, doubled each retry (default 1.0)
    long long max_bytes;      // > 0: fetch at most this many bytes (HTTP Range), keep them
    long connect_timeout_s;   // default 15
    long low_speed_time_s;    // abort a transfer stalled this long (default 30)
    int quiet;                // no progress bar
} DownloadOpts;

void download_opts_default(DownloadOpts *o);

// Downloads url to dest. Bytes arrive in dest.part, which a later call resumes (Range)
// instead of starting over; dest appears (rename) only when complete. If dest exists it is
// left alone and 0 is returned.
// Returns 0 on success; DOWNLOAD_ENET when the host could not be reached at all (DNS,
// connect refused, no route: the caller may fall back to offline data); DOWNLOAD_EFAIL for
// everything else (HTTP errors such as 404/500 after retries, disk errors). err gets one line.
enum { DOWNLOAD_OK = 0, DOWNLOAD_ENET = 1, DOWNLOAD_EFAIL = 2 };
int download_file(const char *url, const char *dest, const DownloadOpts *o,
                  char *err, size_t errlen);

#endif

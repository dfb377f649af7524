// test_download.c -- download_file against a tiny HTTP/1.1 server of our own on 127.0.0.1.
#include "dataset.h"
#include "download.h"
#include "testlib.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

// ----------------------------------------------------------------------------
// The server: one connection at a time, "Connection: close" on every answer.
//   /file     the payload; honours "Range: bytes=S-" and "bytes=S-E" (206), 416 past the end
//   /drop     like /file, but the first drop_n answers stop half-way and close the connection
//   /500ok    500 for the first fail_n requests, then like /file
//   /500 /404 always that status
//   /norange  the whole payload with 200 whatever the Range
//   /stall    sends 1000 bytes of the payload, then nothing until the client goes away
//   /TinyStoriesV2-GPT4-{train,valid}.txt   story text like the real files; the first
//             drop_n answers for the train file stop half-way (prepare must resume)

#define FILE_N 300000
static unsigned char payload[FILE_N];

typedef struct { char path[64]; long long rs, re; } Req;   // range start/end, -1 if none

static struct {
    int lfd, port, stop[2];
    pthread_t th;
    pthread_mutex_t mu;
    Req log[256];
    int nlog;
    int drop_n, fail_n, drop_hits, fail_hits;
} srv;

static void send_all(int fd, const void *p, size_t n) {
    const char *s = p;
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void respond_status(int fd, int code, const char *msg) {
    char h[256];
    int n = snprintf(h, sizeof h, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s", code, msg, strlen(msg), msg);
    send_all(fd, h, (size_t)n);
}

// Serves body honouring the range; sends only `frac` of the body (1: all).
static void respond_body(int fd, const unsigned char *body, long long len, long long rs, long long re, double frac) {
    char h[256];
    int n;
    long long a = 0, b = len - 1;
    if (rs >= 0) {
        if (rs >= len) {
            n = snprintf(h, sizeof h, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%lld\r\n"
                         "Content-Length: 0\r\nConnection: close\r\n\r\n", len);
            send_all(fd, h, (size_t)n);
            return;
        }
        a = rs;
        if (re >= 0 && re < b) b = re;
        n = snprintf(h, sizeof h, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %lld-%lld/%lld\r\n"
                     "Content-Length: %lld\r\nConnection: close\r\n\r\n", a, b, len, b - a + 1);
    } else {
        n = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n", len);
    }
    send_all(fd, h, (size_t)n);
    send_all(fd, body + a, (size_t)((double)(b - a + 1) * frac));
}

static void respond_file(int fd, long long rs, long long re, double frac) {
    respond_body(fd, payload, FILE_N, rs, re, frac);
}

static char *stories_train, *stories_valid;   // the TinyStories stand-ins

static void serve(int fd) {
    char req[8192];
    size_t n = 0;
    while (n < sizeof req - 1) {
        struct pollfd pf = { fd, POLLIN, 0 };
        if (poll(&pf, 1, 5000) <= 0) return;
        ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
        if (r <= 0) return;
        n += (size_t)r;
        req[n] = 0;
        if (strstr(req, "\r\n\r\n")) break;
    }
    Req q = { "", -1, -1 };
    if (sscanf(req, "GET %63s", q.path) != 1) return;
    for (char *l = strstr(req, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "Range: bytes=", 13) == 0) {
            char *p = l + 15, *e;
            q.rs = strtoll(p, &e, 10);
            if (*e == '-' && e[1] >= '0' && e[1] <= '9') q.re = strtoll(e + 1, NULL, 10);
        }
    }
    pthread_mutex_lock(&srv.mu);
    if (srv.nlog < 256) srv.log[srv.nlog++] = q;
    int drop = (strcmp(q.path, "/drop") == 0 || strcmp(q.path, "/TinyStoriesV2-GPT4-train.txt") == 0) &&
               srv.drop_hits++ < srv.drop_n;
    int fail = strcmp(q.path, "/500ok") == 0 && srv.fail_hits++ < srv.fail_n;
    pthread_mutex_unlock(&srv.mu);

    if (strcmp(q.path, "/file") == 0) respond_file(fd, q.rs, q.re, 1);
    else if (strcmp(q.path, "/drop") == 0) respond_file(fd, q.rs, q.re, drop ? 0.5 : 1);
    else if (strcmp(q.path, "/500ok") == 0) {
        if (fail) respond_status(fd, 500, "server error");
        else respond_file(fd, q.rs, q.re, 1);
    }
    else if (strcmp(q.path, "/500") == 0) respond_status(fd, 500, "server error");
    else if (strcmp(q.path, "/norange") == 0) respond_file(fd, -1, -1, 1);
    else if (strcmp(q.path, "/stall") == 0) {
        char h[128];
        int k = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", FILE_N);
        send_all(fd, h, (size_t)k);
        send_all(fd, payload, 1000);
        struct pollfd pf = { fd, POLLIN, 0 };
        poll(&pf, 1, 10000);   // until the client hangs up
    } else if (strcmp(q.path, "/TinyStoriesV2-GPT4-train.txt") == 0 && stories_train)
        respond_body(fd, (unsigned char *)stories_train, (long long)strlen(stories_train), q.rs, q.re, drop ? 0.5 : 1);
    else if (strcmp(q.path, "/TinyStoriesV2-GPT4-valid.txt") == 0 && stories_valid)
        respond_body(fd, (unsigned char *)stories_valid, (long long)strlen(stories_valid), q.rs, q.re, 1);
    else respond_status(fd, 404, "not found");
}

static void *server_main(void *arg) {
    (void)arg;
    for (;;) {
        struct pollfd pf[2] = { { srv.lfd, POLLIN, 0 }, { srv.stop[0], POLLIN, 0 } };
        if (poll(pf, 2, -1) < 0) continue;
        if (pf[1].revents) break;
        int fd = accept(srv.lfd, NULL, NULL);
        if (fd < 0) continue;
        serve(fd);
        shutdown(fd, SHUT_RDWR);
        close(fd);
    }
    return NULL;
}

// A socket bound to 127.0.0.1 on an ephemeral port; listening if listen_too.
static int bind_loopback(int listen_too, int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        (listen_too && listen(fd, 16) != 0) || getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        perror("test server socket");
        exit(2);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static void server_start(void) {
    for (int i = 0; i < FILE_N; i++) payload[i] = (unsigned char)(i * 131 + i / 7);
    pthread_mutex_init(&srv.mu, NULL);
    srv.lfd = bind_loopback(1, &srv.port);
    if (pipe(srv.stop) != 0) { perror("pipe"); exit(2); }
    pthread_create(&srv.th, NULL, server_main, NULL);
}

static void server_stop(void) {
    if (write(srv.stop[1], "x", 1) != 1) perror("write");
    pthread_join(srv.th, NULL);
    close(srv.lfd); close(srv.stop[0]); close(srv.stop[1]);
    pthread_mutex_destroy(&srv.mu);
}

static void server_reset(int drop_n, int fail_n) {
    pthread_mutex_lock(&srv.mu);
    srv.nlog = 0;
    srv.drop_n = drop_n; srv.fail_n = fail_n;
    srv.drop_hits = srv.fail_hits = 0;
    pthread_mutex_unlock(&srv.mu);
}

static int nlog(void) {
    pthread_mutex_lock(&srv.mu);
    int n = srv.nlog;
    pthread_mutex_unlock(&srv.mu);
    return n;
}

// ----------------------------------------------------------------------------
// Helpers

static char *tmp;
static char err[1024];

static char *url(const char *path) { return xasprintf("http://127.0.0.1:%d%s", srv.port, path); }
static char *tpath(const char *name) { return xasprintf("%s/%s", tmp, name); }

static DownloadOpts fast_opts(int retries) {
    DownloadOpts o;
    download_opts_default(&o);
    o.max_retries = retries;
    o.backoff_s = 0.01;
    o.connect_timeout_s = 5;
    o.low_speed_time_s = 5;
    o.quiet = 1;
    return o;
}

// 1 if the file holds exactly payload[0..n).
static int holds_payload(const char *path, size_t n) {
    size_t len;
    char *s = read_file(path, &len);
    int ok = s && len == n && memcmp(s, payload, n) == 0;
    free(s);
    return ok;
}

static void put(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) { perror(path); exit(2); }
}

// ----------------------------------------------------------------------------
// Tests

static void test_full(void) {
    server_reset(0, 0);
    char *u = url("/file"), *d = tpath("full.bin"), *part = xasprintf("%s.part", d);
    DownloadOpts o = fast_opts(2);
    CHECK_MSG(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK, "%s", err);
    CHECK(holds_payload(d, FILE_N));
    CHECK(!file_exists(part));
    CHECK(nlog() == 1 && srv.log[0].rs == -1);
    // dest exists: nothing is fetched and the file is left alone.
    put(d, "keep", 4);
    CHECK(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK);
    CHECK(nlog() == 1 && file_size(d) == 4);
    free(u); free(d); free(part);
}

static void test_progress_bar(void) {
    // Not quiet: same result (the bar goes to stderr).
    server_reset(0, 0);
    char *u = url("/file"), *d = tpath("bar.bin");
    DownloadOpts o = fast_opts(0);
    o.quiet = 0;
    CHECK_MSG(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK, "%s", err);
    CHECK(holds_payload(d, FILE_N));
    free(u); free(d);
}

static void test_resume_after_drop(void) {
    // Within one call: the first answer stops half-way, the retry asks for the rest.
    server_reset(1, 0);
    char *u = url("/drop"), *d = tpath("drop.bin"), *part = xasprintf("%s.part", d);
    DownloadOpts o = fast_opts(3);
    CHECK_MSG(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK, "%s", err);
    CHECK(holds_payload(d, FILE_N));
    CHECK(nlog() == 2);
    CHECK(srv.log[0].rs == -1 && srv.log[1].rs == FILE_N / 2 && srv.log[1].re == -1);
    CHECK(!file_exists(part));
    free(d); free(part);

    // Across calls: no retries, so the first call fails and keeps the half in .part; the
    // next call resumes from there.
    server_reset(1, 0);
    d = tpath("drop2.bin");
    part = xasprintf("%s.part", d);
    o = fast_opts(0);
    CHECK(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_EFAIL);
    CHECK(strstr(err, u) != NULL && !strchr(err, '\n'));
    CHECK(!file_exists(d));
    CHECK(file_size(part) == FILE_N / 2 && holds_payload(part, FILE_N / 2));
    CHECK_MSG(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK, "%s", err);
    CHECK(holds_payload(d, FILE_N) && !file_exists(part));
    CHECK(nlog() == 2 && srv.log[1].rs == FILE_N / 2);

    // Dropped twice in a row, still within the retry budget.
    server_reset(2, 0);
    free(d); free(part);
    d = tpath("drop3.bin");
    o = fast_opts(3);
    CHECK_MSG(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK, "%s", err);
    CHECK(holds_payload(d, FILE_N));
    CHECK(nlog() == 3 && srv.log[2].rs == FILE_N / 2 + FILE_N / 4);
    free(u); free(d);
}

static void test_max_bytes(void) {
    server_reset(0, 0);
    char *u = url("/file"), *d = tpath("cap.bin");
    DownloadOpts o = fast_opts(0);
    o.max_bytes = 1000;
    CHECK_MSG(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK, "%s", err);
    CHECK(holds_payload(d, 1000));
    CHECK(nlog() == 1 && srv.log[0].rs == 0 && srv.log[0].re == 999);
    free(d);
    // A server that ignores Range sends everything; exactly max_bytes are kept.
    server_reset(0, 0);
    free(u);
    u = url("/norange");
    d = tpath("cap2.bin");
    o.max_bytes = 123457;
    CHECK_MSG(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK, "%s", err);
    CHECK(holds_payload(d, 123457));
    free(d);
    // A cap above the file size gives the whole file.
    d = tpath("cap3.bin");
    free(u);
    u = url("/file");
    o.max_bytes = FILE_N * 2LL;
    CHECK_MSG(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK, "%s", err);
    CHECK(holds_payload(d, FILE_N));
    free(u); free(d);
}

static void test_http_errors(void) {
    // 404: fails at once, no retries, nothing left behind.
    server_reset(0, 0);
    char *u = url("/404"), *d = tpath("nf.bin"), *part = xasprintf("%s.part", d);
    DownloadOpts o = fast_opts(5);
    o.backoff_s = 1.0;   // a retry would show up in the log (and take seconds)
    CHECK(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_EFAIL);
    CHECK_MSG(strstr(err, u) && strstr(err, "404") && !strchr(err, '\n'), "%s", err);
    CHECK(nlog() == 1);
    CHECK(!file_exists(d) && !file_exists(part));
    free(u); free(d); free(part);

    // Persistent 500: 1 + max_retries requests, then EFAIL.
    server_reset(0, 0);
    u = url("/500");
    d = tpath("se.bin");
    part = xasprintf("%s.part", d);
    o = fast_opts(2);
    CHECK(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_EFAIL);
    CHECK_MSG(strstr(err, u) && strstr(err, "500") && strstr(err, "3 attempts"), "%s", err);
    CHECK(nlog() == 3);
    fprintf(stderr, "  (500 error: %s)\n", err);
    CHECK(!file_exists(d) && !file_exists(part));
    free(u); free(d); free(part);

    // 500 twice, then OK.
    server_reset(0, 2);
    u = url("/500ok");
    d = tpath("seok.bin");
    o = fast_opts(3);
    CHECK_MSG(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK, "%s", err);
    CHECK(holds_payload(d, FILE_N));
    CHECK(nlog() == 3);
    free(u); free(d);
}

static void test_range_quirks(void) {
    // A server that ignores Range: the partial file is replaced by the full answer.
    server_reset(0, 0);
    char *u = url("/norange"), *d = tpath("nr.bin"), *part = xasprintf("%s.part", d);
    put(part, "garbage that is not the payload", 31);
    DownloadOpts o = fast_opts(0);
    CHECK_MSG(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK, "%s", err);
    CHECK(holds_payload(d, FILE_N));
    CHECK(nlog() == 1 && srv.log[0].rs == 31);
    free(u); free(d); free(part);

    // A complete .part left by an interrupted rename: 416 with the same total -> done.
    server_reset(0, 0);
    u = url("/file");
    d = tpath("done.bin");
    part = xasprintf("%s.part", d);
    put(part, payload, FILE_N);
    CHECK_MSG(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK, "%s", err);
    CHECK(holds_payload(d, FILE_N) && !file_exists(part));
    CHECK(nlog() == 1 && srv.log[0].rs == FILE_N);
    free(d); free(part);

    // A .part longer than the file: 416, start over.
    server_reset(0, 0);
    d = tpath("long.bin");
    part = xasprintf("%s.part", d);
    unsigned char *junk = xcalloc(FILE_N + 500, 1);
    put(part, junk, FILE_N + 500);
    free(junk);
    CHECK_MSG(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_OK, "%s", err);
    CHECK(holds_payload(d, FILE_N));
    CHECK(nlog() == 2 && srv.log[0].rs == FILE_N + 500 && srv.log[1].rs == -1);
    free(u); free(d); free(part);
}

static void test_unreachable(void) {
    // A port bound but not listening on 127.0.0.1: connection refused -> ENET.
    int port;
    int fd = bind_loopback(0, &port);
    char *u = xasprintf("http://127.0.0.1:%d/file", port), *d = tpath("enet.bin");
    DownloadOpts o = fast_opts(3);
    CHECK(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_ENET);
    CHECK_MSG(strstr(err, u) && !strchr(err, '\n'), "%s", err);
    fprintf(stderr, "  (unreachable error: %s)\n", err);
    CHECK(!file_exists(d));
    char *part = xasprintf("%s.part", d);
    CHECK(!file_exists(part));
    close(fd);
    free(u); free(d); free(part);
}

static void test_stall(void) {
    // The server goes silent after 1000 bytes: the low-speed timeout ends the attempt.
    server_reset(0, 0);
    char *u = url("/stall"), *d = tpath("stall.bin"), *part = xasprintf("%s.part", d);
    DownloadOpts o = fast_opts(0);
    o.low_speed_time_s = 1;
    double t0 = now_seconds();
    CHECK(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_EFAIL);
    CHECK(now_seconds() - t0 < 8);   // not a timing test: only "it did not hang"
    CHECK_MSG(strstr(err, u) != NULL, "%s", err);
    fprintf(stderr, "  (stall error: %s)\n", err);
    CHECK(!file_exists(d) && holds_payload(part, 1000));
    free(u); free(d); free(part);
}

static void test_bad_dest(void) {
    server_reset(0, 0);
    char *u = url("/file"), *d = tpath("no/such/dir/x.bin");
    DownloadOpts o = fast_opts(2);
    CHECK(download_file(u, d, &o, err, sizeof err) == DOWNLOAD_EFAIL);
    CHECK_MSG(strstr(err, "cannot write") && strstr(err, u), "%s", err);
    CHECK(nlog() == 0);
    free(u); free(d);
}

// `autoresearch prepare` with the default source, against this server: the train file is
// capped with --max-mb (a Range request), its first answer drops half-way (resumed), the
// valid file supplies val and test, and a second prepare does nothing.
static char *make_stories(int n, const char *who) {
    const char *things[] = {"ball", "kite", "cake", "dog", "tree", "boat", "hat", "star"};
    size_t cap = (size_t)n * 128, len = 0;
    char *s = xmalloc(cap);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "Once upon a time, %s number %d found a %s.\nIt was happy.\n<|endoftext|>\n",
                                who, i, things[(i * 7) % 8]);
    return s;
}

static void test_prepare_tinystories(void) {
    stories_train = make_stories(4000, "Tom");    // about 250 KB
    stories_valid = make_stories(400, "Sue");
    char *cache = tpath("cache"), *base = xasprintf("http://127.0.0.1:%d", srv.port);
    setenv("AUTORESEARCH_CACHE", cache, 1);
    setenv("AUTORESEARCH_TINYSTORIES_URL", base, 1);
    server_reset(1, 0);
    char *argv[] = {"prepare", "--max-mb", "0.1", "--vocab", "300", "-q", NULL};
    CHECK(prepare_main(6, argv) == 0);
    char *dl = xasprintf("%s/downloads/TinyStoriesV2-GPT4-train.first104857B.txt", cache);
    CHECK(file_size(dl) == 104857);   // exactly the cap
    size_t n;
    char *got = read_file(dl, &n);
    CHECK(got && n == 104857 && memcmp(got, stories_train, n) == 0);
    int ranged = 0;
    pthread_mutex_lock(&srv.mu);
    for (int i = 0; i < srv.nlog; i++) ranged += srv.log[i].rs > 0;   // the resume after the drop
    pthread_mutex_unlock(&srv.mu);
    CHECK(ranged >= 1);
    CHECK(!strncmp(dataset_id(), "tinystories-", 12));
    CHECK(dataset_manifest_get("txt_split") && !strcmp(dataset_manifest_get("txt_split"), "endoftext"));
    int vd = atoi(dataset_manifest_get("val_docs")), td = atoi(dataset_manifest_get("test_docs"));
    CHECK(vd > 0 && td > 0 && vd + td == 400);   // val and test come from the valid file
    int before = nlog();
    CHECK(prepare_main(6, argv) == 0);   // nothing to do; the downloads are not fetched again
    CHECK(nlog() == before);
    unsetenv("AUTORESEARCH_TINYSTORIES_URL");
    free(got); free(dl); free(base); free(cache);
    free(stories_train); free(stories_valid);
    stories_train = stories_valid = NULL;
}

int main(void) {
    // Only our own server on 127.0.0.1: no proxy may get in between.
    unsetenv("http_proxy"); unsetenv("HTTP_PROXY"); unsetenv("all_proxy"); unsetenv("ALL_PROXY");
    setenv("no_proxy", "*", 1);
    tmp = tl_tmpdir();
    server_start();
    RUN_TEST(test_full);
    RUN_TEST(test_progress_bar);
    RUN_TEST(test_resume_after_drop);
    RUN_TEST(test_max_bytes);
    RUN_TEST(test_http_errors);
    RUN_TEST(test_range_quirks);
    RUN_TEST(test_unreachable);
    RUN_TEST(test_stall);
    RUN_TEST(test_bad_dest);
    RUN_TEST(test_prepare_tinystories);
    server_stop();
    remove_tree(tmp);
    free(tmp);
    TEST_MAIN_END("test_download");
}

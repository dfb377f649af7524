// test_harness.c -- unit tests of the harness: records, ledger files, summary parsing,
// tunables, the search agent, process timeouts and the plots. (End to end: harness.test.sh.)
#include <errno.h>
#include <png.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "testlib.h"
#include "util.h"

static char *dir;

static char *path(const char *name) { return xasprintf("%s/%s", dir, name); }

static void put_file(const char *p, const char *text) {
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

// ----------------------------------------------------------------------------

static void test_record_roundtrip(void) {
    Record r = {0}, back;
    rec_set_str(&r, "description", "tab\there \"quoted\" back\\slash\nnewline é");
    rec_set_num(&r, "val_bpb", 0.9979);
    rec_set_num(&r, "nan", NAN);
    rec_set_raw(&r, "flag", "true");
    rec_set_fmt(&r, "mem", "%.1f", 12.34);
    rec_set_num(&r, "val_bpb", 1.25);    // overwrite keeps one field
    char *json = rec_to_json(&r);
    CHECK(!strchr(json, '\n') && !strchr(json, '\t'));
    char err[128];
    CHECK(rec_parse(json, &back, err, sizeof err) == 0);
    CHECK(back.n == 5);
    CHECK(!strcmp(rec_get(&back, "description"), "tab\there \"quoted\" back\\slash\nnewline é"));
    CHECK(rec_num(&back, "val_bpb", 0) == 1.25);
    CHECK(rec_get(&back, "nan") == NULL);
    CHECK(rec_num(&back, "nan", -7) == -7);
    CHECK(!strcmp(rec_get(&back, "flag"), "true"));
    CHECK(!strcmp(rec_get(&back, "mem"), "12.3"));
    free(json);
    rec_free(&r);
    rec_free(&back);
    // 0.1 + 0.2 must read back exactly
    rec_set_num(&r, "x", 0.1 + 0.2);
    json = rec_to_json(&r);
    CHECK(rec_parse(json, &back, err, sizeof err) == 0);
    CHECK(rec_num(&back, "x", 0) == 0.1 + 0.2);
    free(json);
    rec_free(&r);
    rec_free(&back);
    // bytes that are not UTF-8 (a model's sample text) are replaced, so the line stays JSON
    rec_set_str(&r, "sample", "ok \xff\xc3 end \xc3\xa9");
    json = rec_to_json(&r);
    CHECK(strstr(json, "ok \xEF\xBF\xBD\xEF\xBF\xBD end \xc3\xa9") != NULL);
    CHECK(rec_parse(json, &back, err, sizeof err) == 0);
    free(json);
    rec_free(&r);
    rec_free(&back);
    // escapes as any JSON writer may give them: a surrogate pair is one code point (U+1F600)
    CHECK(rec_parse("{\"d\": \"\\ud83d\\ude00 \\u00e9\\/\"}", &back, err, sizeof err) == 0);
    CHECK(rec_get(&back, "d") && !strcmp(rec_get(&back, "d"), "\xF0\x9F\x98\x80 \xC3\xA9/"));
    rec_free(&back);
    const char *bad[] = {"", "{", "{\"a\": }", "{\"a\" 1}", "{\"a\": 1,}", "{\"a\": \"x}", "{\"a\": 1} trailing",
                         "{\"a\": {\"nested\": 1}}", "{\"a\": 1x}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK_MSG(rec_parse(bad[i], &back, err, sizeof err) == -1, "%s", bad[i]);
}

static Record experiment_rec(const char *commit, double val, const char *status, const char *desc) {
    Record r = {0};
    rec_set_str(&r, "kind", "experiment");
    rec_set_str(&r, "session", "t");
    rec_set_str(&r, "commit", commit);
    rec_set_num(&r, "val_bpb", val);
    rec_set_fmt(&r, "memory_gb", "%.1f", 44.04);
    rec_set_str(&r, "status", status);
    rec_set_str(&r, "description", desc);
    return r;
}

static void test_tsv_row(void) {
    Record r = experiment_rec("a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2", 0.9979, "keep", "lr\t0.04\nnew");
    char *row = tsv_row(&r);
    CHECK(!strcmp(row, "a1b2c3d\t0.997900\t44.0\tkeep\tlr 0.04 new"));
    free(row);
    rec_set_str(&r, "status", "crash");
    row = tsv_row(&r);
    CHECK(!strcmp(row, "a1b2c3d\t0.000000\t0.0\tcrash\tlr 0.04 new"));
    free(row);
    rec_set_str(&r, "kind", "noise");
    CHECK(tsv_row(&r) == NULL);
    rec_free(&r);
}

static void write_ledger(const char *p, int n) {
    unlink(p);
    char err[256];
    for (int i = 0; i < n; i++) {
        char c[41];
        snprintf(c, sizeof c, "%07x%033d", 0xabc0000 + i, 0);
        Record r = experiment_rec(c, 1.0 - 0.01 * i, i == 2 ? "discard" : "keep", "exp");
        CHECK(ledger_append(p, NULL, &r, err, sizeof err) == 0);
        rec_free(&r);
        if (i == 1) {   // a noise record in between: no tsv row
            Record z = {0};
            rec_set_str(&z, "kind", "noise");
            rec_set_num(&z, "val_bpb", 1);
            CHECK(ledger_append(p, NULL, &z, err, sizeof err) == 0);
            rec_free(&z);
        }
    }
}

static void test_ledger_load_errors(void) {
    char *p = path("bad.jsonl"), err[512];
    Ledger L;
    put_file(p, "{\"a\": 1}\n{\"a\": \n");
    CHECK(ledger_load(p, &L, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "bad.jsonl:2:") != NULL, "%s", err);
    put_file(p, "{\"a\": 1}\n{\"a\": 2}");
    CHECK(ledger_load(p, &L, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "incomplete") != NULL, "%s", err);
    char *missing = path("missing.jsonl");
    CHECK(ledger_load(missing, &L, err, sizeof err) == 0 && L.n == 0);
    free(missing);
    free(p);
}

static void test_tsv_sync(void) {
    char *jl = path("r.jsonl"), *tsv = path("r.tsv"), err[512];
    write_ledger(jl, 4);
    Ledger L;
    CHECK(ledger_load(jl, &L, err, sizeof err) == 0);
    CHECK(L.n == 5);
    // a missing .tsv is derived whole
    unlink(tsv);
    CHECK(tsv_sync(tsv, &L, err, sizeof err) == 0);
    char *t = read_file(tsv, NULL);
    CHECK(!strncmp(t, TSV_HEADER "\n", strlen(TSV_HEADER) + 1));
    int lines = 0;
    for (char *p = t; *p; p++) lines += *p == '\n';
    CHECK(lines == 5);
    CHECK(strstr(t, "abc0002\t0.980000\t44.0\tdiscard\texp\n") != NULL);
    // in sync: nothing changes
    CHECK(tsv_sync(tsv, &L, err, sizeof err) == 0);
    char *t2 = read_file(tsv, NULL);
    CHECK(!strcmp(t, t2));
    free(t2);
    // a kill between the two appends leaves the last row out: it is re-derived
    char *cut = xstrdup(t);
    *strrchr(cut, '\n') = 0;
    *(strrchr(cut, '\n') + 1) = 0;
    put_file(tsv, cut);
    CHECK(tsv_sync(tsv, &L, err, sizeof err) == 0);
    t2 = read_file(tsv, NULL);
    CHECK(!strcmp(t, t2));
    free(t2);
    free(cut);
    // malformed or edited files are reported and left exactly as they were
    const char *bad[][2] = {
        {"commit\tval\n", "header"},
        {TSV_HEADER "\nabc0000\t1.000000\t44.0\tkeep\n", "fewer than 5"},
        {TSV_HEADER "\nabc0000\tx\t44.0\tkeep\texp\n", "val_bpb is not a number"},
        {TSV_HEADER "\nabc0000\t1.000000\t44.0\tmaybe\texp\n", "status"},
        {TSV_HEADER "\nabc0000\t0.900000\t44.0\tkeep\texp\n", "does not match"},
        {TSV_HEADER "\nabc0000\t1.000000\t44.0\tkeep\texp", "incomplete"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put_file(tsv, bad[i][0]);
        CHECK(tsv_sync(tsv, &L, err, sizeof err) == -1);
        CHECK_MSG(strstr(err, bad[i][1]) != NULL, "case %zu: %s", i, err);
        t2 = read_file(tsv, NULL);
        CHECK_MSG(!strcmp(t2, bad[i][0]), "case %zu rewrote the file", i);
        free(t2);
    }
    // more rows than the ledger has
    char *extra = xasprintf("%sabc9999\t1.000000\t1.0\tkeep\textra\n", t);
    put_file(tsv, extra);
    CHECK(tsv_sync(tsv, &L, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "r.tsv:6:") != NULL, "%s", err);
    free(extra);
    free(t);
    ledger_free(&L);
    free(jl);
    free(tsv);
}

static void test_parse_summary(void) {
    const char *log =
        "step 1 loss 5.0\n---\nval_bpb:          9.000000\n\n"   // an earlier block
        "step 2 loss 4.0\n"
        "---\n"
        "val_bpb:          0.997900\n"
        "training_seconds: 300.1\n"
        "peak_vram_mb:     45060.2\n"
        "num_steps:        953\n"
        "depth:            8\n"
        "dataset:          tinystories-3f2a9c1e\n"
        "budget:           time 300 s\n"
        "mfu:              nan\n"
        "\n"
        "trailing: not part of it\n";
    Record r = {0};
    int fail;
    int n = parse_summary(log, &r, &fail);
    CHECK(n == 8);
    CHECK(!fail);
    CHECK(rec_num(&r, "val_bpb", 0) == 0.9979);
    CHECK(rec_num(&r, "num_steps", 0) == 953);
    CHECK(!strcmp(rec_get(&r, "dataset"), "tinystories-3f2a9c1e"));
    CHECK(!strcmp(rec_get(&r, "budget"), "time 300 s"));
    CHECK(rec_get(&r, "mfu") == NULL);   // nan -> null
    CHECK(rec_get(&r, "trailing") == NULL);
    rec_free(&r);
    CHECK(parse_summary("step 5 loss nan\nFAIL\n", &r, &fail) == 0);
    CHECK(fail);
    rec_free(&r);
    CHECK(parse_summary("no block at all\n", &r, &fail) == 0 && !fail);
    rec_free(&r);

    char *p = path("result.txt");
    put_file(p, "val_bpb: 0.5\ntest_bpb: 0.6\neval_tokens: 524288\ndataset: x-1\n");
    CHECK(parse_kv_file(p, &r) == 0);
    CHECK(rec_num(&r, "test_bpb", 0) == 0.6);
    CHECK(!strcmp(rec_get(&r, "dataset"), "x-1"));
    rec_free(&r);
    char *missing = path("nope.txt");
    CHECK(parse_kv_file(missing, &r) == -1);
    rec_free(&r);
    free(missing);
    free(p);
}

static const char *train_src =
    "#include <stdio.h>\n"
    "// @tunables-begin\n"
    "#define DEPTH 4                 // layers [1, 12]\n"
    "#define MATRIX_LR 0.04          // lr\n"
    "\n"
    "// a comment line\n"
    "#define NAME \"text\"          // not numeric: not a tunable\n"
    "#define ADAM_BETA2 0.95        // beta\n"
    "#define WARMUP_RATIO 0.0       // fraction\n"
    "#define DEVICE_BATCH_SIZE 8    // rows\n"
    "#define WD 1e-4f               // float suffix\n"
    "// @tunables-end\n"
    "#define OUTSIDE 3\n";

static void test_tunables(void) {
    Tunable t[16];
    char err[256];
    int n = tunables_parse(train_src, t, 16, err, sizeof err);
    CHECK(n == 6);
    CHECK(!strcmp(t[0].name, "DEPTH") && t[0].is_int && t[0].value == 4 && t[0].lo == 1 && t[0].hi == 12);
    CHECK(!strcmp(t[1].name, "MATRIX_LR") && !t[1].is_int && t[1].value == 0.04 && isinf(t[1].lo));
    CHECK(!strcmp(t[2].name, "ADAM_BETA2"));
    CHECK(!strcmp(t[5].name, "WD") && t[5].value == 1e-4);
    // set keeps the rest of the line and the file
    char *s = tunables_set(train_src, &t[1], 0.0562);
    CHECK(strstr(s, "#define MATRIX_LR 0.0562        // lr\n") != NULL);   // comment column kept
    CHECK(strstr(s, "#define OUTSIDE 3\n") != NULL);
    CHECK(strlen(s) == strlen(train_src));
    Tunable u[16];
    CHECK(tunables_parse(s, u, 16, err, sizeof err) == 6 && u[1].value == 0.0562);
    free(s);
    s = tunables_set(train_src, &t[0], 5);
    CHECK(strstr(s, "#define DEPTH 5                 // layers [1, 12]\n") != NULL);
    free(s);
    char buf[64];
    tunable_format(&t[1], 3, buf, sizeof buf);
    CHECK(!strcmp(buf, "3.0"));   // a real stays a real literal
    // no block, an unterminated block
    CHECK(tunables_parse("int main(void) { return 0; }\n", t, 16, err, sizeof err) == 0);
    CHECK(tunables_parse("// @tunables-begin\n#define A 1\n", t, 16, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "train.c:1:") != NULL, "%s", err);
}

static void test_search_agent(void) {
    Ledger L = {0};
    Mutation a, b;
    char err[256];
    CHECK(search_propose(train_src, &L, "t", 7, &a, err, sizeof err) == 0);
    CHECK(search_propose(train_src, &L, "t", 7, &b, err, sizeof err) == 0);
    CHECK(!strcmp(a.param, b.param) && a.to == b.to);   // seeded: reproducible
    CHECK(a.from != a.to);
    // proposals stay in range: bounds, betas below 1, fractions below 1, counts >= 1
    int seen_lr = 0;
    for (uint64_t seed = 0; seed < 300; seed++) {
        Mutation m;
        CHECK(search_propose(train_src, &L, "t", seed, &m, err, sizeof err) == 0);
        if (!strcmp(m.param, "DEPTH")) CHECK_MSG(m.to >= 1 && m.to <= 12 && m.to == (int)m.to, "DEPTH %g", m.to);
        if (!strcmp(m.param, "ADAM_BETA2")) CHECK_MSG(m.to > 0.9 && m.to < 1, "beta %g", m.to);
        if (!strcmp(m.param, "WARMUP_RATIO")) CHECK_MSG(m.to > 0 && m.to < 1, "ratio %g", m.to);
        if (!strcmp(m.param, "DEVICE_BATCH_SIZE")) CHECK_MSG(m.to == 4 || m.to == 16, "batch %g", m.to);
        if (!strcmp(m.param, "MATRIX_LR")) { seen_lr++; CHECK(m.to >= 0.02 && m.to <= 0.08); }
    }
    CHECK(seen_lr > 10);
    // learning: once MATRIX_LR up was kept from the baseline (commit c1), ...
    L.r = xcalloc(64, sizeof *L.r);
    L.r[L.n] = experiment_rec("c0", 1.0, "keep", "baseline");
    L.n++;
    Record *k = &L.r[L.n++];
    *k = experiment_rec("c1", 0.9, "keep", "MATRIX_LR up");
    rec_set_str(k, "parent", "c0");
    rec_set_str(k, "search_param", "MATRIX_LR");
    rec_set_num(k, "search_from", 0.03);
    rec_set_num(k, "search_to", 0.04);
    // ... and DEPTH 4 -> 5 and DEPTH 4 -> 3 were tried from c1 (the current best) and discarded
    for (int d = 3; d <= 5; d += 2) {
        Record *r = &L.r[L.n++];
        *r = experiment_rec("c2", 1.1, "discard", "DEPTH");
        rec_set_str(r, "parent", "c1");
        rec_set_str(r, "search_param", "DEPTH");
        rec_set_num(r, "search_from", 4);
        rec_set_num(r, "search_to", d);
    }
    int lr_up = 0, depth = 0;
    for (uint64_t seed = 0; seed < 300; seed++) {
        Mutation m;
        CHECK(search_propose(train_src, &L, "t", seed, &m, err, sizeof err) == 0);
        if (!strcmp(m.param, "DEPTH") && (m.to == 3 || m.to == 5)) depth++;   // tabu now
        if (!strcmp(m.param, "MATRIX_LR") && m.to > m.from) lr_up++;
    }
    CHECK_MSG(depth == 0, "DEPTH 3 or 5 proposed %d times after both were discarded", depth);
    CHECK_MSG(lr_up > 300 / 6, "MATRIX_LR up proposed %d/300 times after it was kept", lr_up);
    // another session's records do not count
    for (int i = 0; i < L.n; i++) rec_set_str(&L.r[i], "session", "other");
    depth = 0;
    for (uint64_t seed = 0; seed < 100; seed++) {
        Mutation m;
        CHECK(search_propose(train_src, &L, "t", seed, &m, err, sizeof err) == 0);
        depth += !strcmp(m.param, "DEPTH") && (m.to == 3 || m.to == 5);
    }
    CHECK(depth > 0);
    // a move the sequential gate discarded as noise is tabu from any best, in this session
    for (int i = 0; i < L.n; i++) rec_set_str(&L.r[i], "session", "t");
    for (int i = 2; i < L.n; i++) rec_free(&L.r[i]);
    L.n = 2;   // baseline c0 and the kept c1
    Record *nz = &L.r[L.n++];
    *nz = experiment_rec("c9", 1.0, "discard", "DEPTH 4 -> 5");
    rec_set_str(nz, "parent", "c0");   // tried from an older best
    rec_set_str(nz, "search_param", "DEPTH");
    rec_set_num(nz, "search_from", 4);
    rec_set_num(nz, "search_to", 5);
    rec_set_str(nz, "gate_reason", "noise");
    depth = 0;
    int depth3 = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        Mutation m;
        CHECK(search_propose(train_src, &L, "t", seed, &m, err, sizeof err) == 0);
        depth += !strcmp(m.param, "DEPTH") && m.to == 5;
        depth3 += !strcmp(m.param, "DEPTH") && m.to == 3;
    }
    CHECK_MSG(depth == 0, "DEPTH 4 -> 5 re-proposed %d times after a noise discard", depth);
    CHECK(depth3 > 0);   // the other direction is still open
    rec_set_str(nz, "gate_reason", "worse");   // clearly worse from an older best: may be retried
    depth = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        Mutation m;
        CHECK(search_propose(train_src, &L, "t", seed, &m, err, sizeof err) == 0);
        depth += !strcmp(m.param, "DEPTH") && m.to == 5;
    }
    CHECK(depth > 0);
    ledger_free(&L);
    CHECK(search_propose("int x;\n", &L, "t", 1, &a, err, sizeof err) == -1);
    CHECK(strstr(err, "tunables") != NULL);
}

static void test_stddev(void) {
    double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
    CHECK_NEAR(stddev(x, 8), 2.138089935, 1e-8);
    CHECK(stddev(x, 1) == 0);
}

static void test_proc_timeout_kills_group(void) {
    char *pidf = path("grandchild.pid");
    char *cmd = xasprintf("sleep 30 & echo $! > %s; wait", pidf);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    char *log = path("proc.log");
    ProcSpec s = {.argv = argv, .out_path = log, .timeout = 0.5};
    ProcResult r;
    char err[256];
    double t0 = now_seconds();
    CHECK(proc_run(&s, &r, err, sizeof err) == 0);
    CHECK(r.timed_out);
    CHECK(now_seconds() - t0 < 10);
    char *ps = read_file(pidf, NULL);
    CHECK(ps != NULL);
    if (ps) {
        pid_t gc = (pid_t)atoi(ps);
        int alive = 1;
        for (int i = 0; i < 100 && alive; i++) {   // reaped by init shortly after the kill
            char st[64];
            snprintf(st, sizeof st, "/proc/%d/stat", (int)gc);
            char *stat = read_file(st, NULL);
            alive = stat && !strstr(stat, ") Z");
            free(stat);
            if (alive) usleep(20000);
        }
        CHECK_MSG(!alive, "the grandchild %d survived the timeout", (int)gc);
        free(ps);
    }
    // exit codes and environment reach the child
    setenv("GONE", "1", 1);
    const char *argv2[] = {"/bin/sh", "-c", "test \"$FOO\" = bar && test -z \"${GONE+set}\" && exit 7", NULL};
    const char *env[] = {"FOO=bar", "GONE", NULL};
    ProcSpec s2 = {.argv = argv2, .env = env};
    CHECK(proc_run(&s2, &r, err, sizeof err) == 0);
    CHECK(r.exit_code == 7 && !r.timed_out);
    char *out = NULL;
    const char *argv3[] = {"sh", "-c", "echo hello; echo oops >&2; exit 3", NULL};
    char *eo = NULL;
    CHECK(cmd_capture(argv3, &out, &eo) == 3);
    CHECK(!strcmp(out, "hello\n") && !strcmp(eo, "oops\n"));
    free(out);
    free(eo);
    free(cmd);
    free(pidf);
    free(log);
}

static void test_plots(void) {
    PlotPoint p[12];
    volatile int dots = 0;
    for (int i = 0; i < 12; i++) {
        p[i].status = i % 3 == 0 ? 0 : i % 5 == 4 ? 2 : 1;
        p[i].val = 1.0 - 0.01 * i + (p[i].status == 1 ? 0.02 : 0);
        p[i].label = i == 3 ? "lr <up> & more" : NULL;
        p[i].lo = p[i].hi = NAN;
        dots += p[i].status != 2;
    }
    p[3].lo = 0.96, p[3].hi = 0.98;
    char *png = path("p.png"), *svg = path("p.svg"), err[256];
    PlotInfo info = {"test plot 12 experiments", 1.0, 0.004};
    CHECK(plot_png(png, p, 12, &info, err, sizeof err) == 0);
    info.title = "test <plot> & more";
    CHECK(plot_svg(svg, p, 12, &info, err, sizeof err) == 0);
    FILE *f = fopen(png, "rb");
    CHECK(f != NULL);
    if (f) {
        png_structp ps = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
        png_infop info = png_create_info_struct(ps);
        if (!setjmp(png_jmpbuf(ps))) {
            png_init_io(ps, f);
            png_read_png(ps, info, PNG_TRANSFORM_IDENTITY, NULL);
            CHECK(png_get_image_width(ps, info) == 1000 && png_get_image_height(ps, info) == 560);
            // pixels in the keep colour (the dots and the best line), the baseline's (its
            // dashed line), and the gate band's (the keep colour at 15% over white)
            png_bytepp rows = png_get_rows(ps, info);
            long green = 0, base = 0, band = 0;
            for (int y = 0; y < 560; y++)
                for (int x = 0; x < 1000; x++) {
                    const png_byte *c = rows[y] + 3 * x;
                    green += c[0] == 46 && c[1] == 160 && c[2] == 67;
                    base += c[0] == 60 && c[1] == 110 && c[2] == 200;
                    band += c[0] == 224 && c[1] == 241 && c[2] == 227;
                }
            CHECK_MSG(green > 500 && base > 300 && band > 1000, "green %ld, baseline %ld, band %ld", green, base, band);
        } else {
            CHECK_MSG(0, "libpng could not read the plot back");
        }
        png_destroy_read_struct(&ps, &info, NULL);
        fclose(f);
    }
    char *s = read_file(svg, NULL);
    CHECK(s && strstr(s, "<svg") && strstr(s, "</svg>") && strstr(s, "test &lt;plot&gt; &amp; more"));
    CHECK(s && strstr(s, "<title>#4 keep 0.970000: lr &lt;up&gt; &amp; more</title></circle>"));
    CHECK(s && strstr(s, ">lr &lt;up&gt; &amp; more</text>"));   // the kept change's label
    CHECK(s && strstr(s, "val_bpb (lower is better)") && strstr(s, ">baseline 1.0000<") && strstr(s, ">gate 0.0040<"));
    int circles = 0;
    for (char *q = s; (q = strstr(q, "<circle")); q++) circles++;
    CHECK_MSG(circles == dots + 2, "%d circles", circles);   // + 2 in the legend
    free(s);
    // no experiments: still a picture
    PlotInfo none = {"empty", NAN, 0};
    CHECK(plot_png(png, p, 0, &none, err, sizeof err) == 0);
    free(png);
    free(svg);
}

int main(void) {
    dir = tl_tmpdir();
    RUN_TEST(test_record_roundtrip);
    RUN_TEST(test_tsv_row);
    RUN_TEST(test_ledger_load_errors);
    RUN_TEST(test_tsv_sync);
    RUN_TEST(test_parse_summary);
    RUN_TEST(test_tunables);
    RUN_TEST(test_search_agent);
    RUN_TEST(test_stddev);
    RUN_TEST(test_proc_timeout_kills_group);
    RUN_TEST(test_plots);
    remove_tree(dir);
    free(dir);
    TEST_MAIN_END("test_harness");
}

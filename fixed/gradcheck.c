// gradcheck.c -- `make gradcheck` (build/gradcheck): train.c's hand-written backward pass
// against finite differences, on the tiny model train.c's gradcheck_model() builds (the
// contract is gradcheck.h). Every tensor of the model's table is checked, whatever train.c
// defines, but those its GRADCHECK_SKIP names. Output, one line each:
//   gradcheck: NAME[layer L]: analytic A numeric N, relative error E (CHECK)   a failing tensor
//   gradcheck_skip: NAME NAME                               what GRADCHECK_SKIP skipped
//   gradcheck: ok, K tensors (worst relative error E in NAME)
//   or gradcheck: FAIL: F of K tensors have wrong gradients: NAME[L,L], NAME, ...
// Exit status 0 when every checked tensor passes, 1 otherwise.
#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GC_V 48      // the tiny model's vocabulary, context and batch
#define GC_T 16
#define GC_B 2
#define EPS_DIR 1e-3f    // step along a random +-1 direction over the whole tensor
#define EPS_ONE 5e-3f    // step of a single entry (it moves the loss much less)
#define ENTRIES 3        // single entries checked per tensor, among the larger gradients
#define TOL_DIR 2e-2     // relative tolerances, plus a small absolute one for ~0 derivatives
#define TOL_ONE 3e-2
#define SPREAD 2.0

static uint64_t rng_state = 0x5eed;
static uint64_t rnd(void) {   // splitmix64
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rnd_normal(void) {
    double u1 = ((rnd() >> 11) + 0.5) / 9007199254740992.0, u2 = (rnd() >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int skipped(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ' ' || p[-1] == ',') && (p[n] == 0 || p[n] == ' ' || p[n] == ','))
            return 1;
    return 0;
}

// The tensors must tile params[0..nparams): an untabled parameter would go unchecked
static int covers(const GradcheckModel *g) {
    size_t total = 0;
    for (int i = 0; i < g->ntensors; i++) {
        const GradcheckTensor *t = &g->tensors[i];
        if (t->off + t->n > g->nparams) return 0;
        for (int k = 0; k < i; k++) {
            const GradcheckTensor *u = &g->tensors[k];
            if (t->off < u->off + u->n && u->off < t->off + t->n) return 0;
        }
        total += t->n;
    }
    return total == g->nparams;
}

// Loss after params[off + j] += step * dir[j] (dir NULL: the single entry off)
static double moved_loss(GradcheckModel *g, size_t off, size_t n, const float *dir, float step,
                         const int32_t *x, const int32_t *y) {
    float *p = g->params + off, *save = malloc(n * sizeof *save);
    memcpy(save, p, n * sizeof *save);
    for (size_t j = 0; j < n; j++) p[j] += step * (dir ? dir[j] : 1.0f);
    g->params_changed(g->model);
    double l = g->loss(g->model, x, y, 0);
    memcpy(p, save, n * sizeof *save);
    g->params_changed(g->model);
    free(save);
    return l;
}

// One comparison of a tensor: its relative error, kept when it is the tensor's worst
typedef struct { double err, ana, num; int bad; char what[48]; } Verdict;
static void compare(Verdict *v, const char *what, double ana, double num, double tol, double abs_tol) {
    double diff = fabs(num - ana), scale = fmax(fabs(num), fabs(ana)), err = scale > 0 ? diff / scale : 0;
    int bad = diff > tol * scale + abs_tol;
    if (bad < v->bad || (bad == v->bad && err <= v->err)) return;
    *v = (Verdict){err, ana, num, bad, ""};
    snprintf(v->what, sizeof v->what, "%s", what);
}

// The failing tensors by name, each with its layers: "wte, c_fc[0,1,2], ve_gate[2]"
static void names(char *out, size_t cap, const GradcheckModel *g, const int *bad, int n) {
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < n && len + 1 < cap; i++) {
        const GradcheckTensor *t = &g->tensors[bad[i]];
        int seen = 0;
        for (int k = 0; k < i; k++) seen |= !strcmp(g->tensors[bad[k]].name, t->name);
        if (seen) continue;
        len += snprintf(out + len, cap - len, "%s %s", i ? "," : "", t->name);
        for (int k = i, first = 1; k < n && len + 1 < cap; k++) {
            const GradcheckTensor *u = &g->tensors[bad[k]];
            if (strcmp(u->name, t->name) || u->layer < 0) continue;
            len += snprintf(out + len, cap - len, "%s%d", first ? "[" : ",", u->layer);
            first = 0;
        }
        if (t->layer >= 0 && len + 1 < cap) len += snprintf(out + len, cap - len, "]");
    }
}

int main(void) {
    static GradcheckModel g;
    gradcheck_model(&g, GC_V, GC_T, GC_B);
    if (!covers(&g)) {
        printf("gradcheck: FAIL: the parameter table's %d tensors do not cover the %zu parameters once each\n",
               g.ntensors, g.nparams);
        return 1;
    }
    // every parameter moved off its initialisation (zero-initialised projections and gates
    // would hide most gradients) by SPREAD over the root of its fan-in: activations stay of
    // order one and the logits large enough to bend the softcap
    for (int i = 0; i < g.ntensors; i++) {
        const GradcheckTensor *t = &g.tensors[i];
        for (size_t j = 0; j < t->n; j++) g.params[t->off + j] += (float)(SPREAD / sqrt(t->cols) * rnd_normal());
    }
    int32_t x[GC_B * GC_T], y[GC_B * GC_T];
    for (int i = 0; i < GC_B * GC_T; i++) { x[i] = (int32_t)(rnd() % GC_V); y[i] = (int32_t)(rnd() % GC_V); }
    g.params_changed(g.model);
    g.loss(g.model, x, y, 1);
    float *grad = malloc(g.nparams * sizeof *grad);
    memcpy(grad, g.grads, g.nparams * sizeof *grad);

    int checked = 0, failed = 0;
    double worst = 0;
    char worst_name[64] = "-";
    static int bad[GRADCHECK_MAX_TENSORS];
    char skips[1024] = "";
    for (int i = 0; i < g.ntensors; i++) {
        const GradcheckTensor *t = &g.tensors[i];
        if (skipped(g.skip, t->name)) {
            if (!skipped(skips, t->name) && strlen(skips) + strlen(t->name) + 2 < sizeof skips)
                snprintf(skips + strlen(skips), sizeof skips - strlen(skips), "%s%s", *skips ? " " : "", t->name);
            continue;
        }
        const float *gt = grad + t->off;
        float *dir = malloc(t->n * sizeof *dir);
        double ana = 0;
        for (size_t j = 0; j < t->n; j++) { dir[j] = (rnd() & 1) ? 1.0f : -1.0f; ana += dir[j] * gt[j]; }
        double num = (moved_loss(&g, t->off, t->n, dir, EPS_DIR, x, y) -
                      moved_loss(&g, t->off, t->n, dir, -EPS_DIR, x, y)) / (2 * EPS_DIR);
        free(dir);
        Verdict v = {0};
        compare(&v, "directional derivative", ana, num, TOL_DIR, 2e-4);
        for (int k = 0; k < ENTRIES && t->n > 0; k++) {
            size_t j = (size_t)(rnd() % t->n);
            for (int r = 0; r < 8; r++) { size_t q = (size_t)(rnd() % t->n); if (fabsf(gt[q]) > fabsf(gt[j])) j = q; }
            double n1 = (moved_loss(&g, t->off + j, 1, NULL, EPS_ONE, x, y) -
                         moved_loss(&g, t->off + j, 1, NULL, -EPS_ONE, x, y)) / (2 * EPS_ONE);
            char what[48];
            snprintf(what, sizeof what, "entry %zu", j);
            compare(&v, what, gt[j], n1, TOL_ONE, 1e-4);
        }
        checked++;
        char label[64];
        snprintf(label, sizeof label, t->layer >= 0 ? "%s[layer %d]" : "%s", t->name, t->layer);
        if (fabs(num) < 1e-6 && fabs(ana) < 1e-6) {
            printf("gradcheck: %s: no gradient and no effect on the loss (is it used?)\n", label);
            v.bad = 1;
        } else if (v.bad)
            printf("gradcheck: %s: analytic %.6g numeric %.6g, relative error %.2g (%s)\n", label, v.ana, v.num,
                   v.err, v.what);
        if (v.bad) bad[failed++] = i;
        else if (v.err > worst) { worst = v.err; snprintf(worst_name, sizeof worst_name, "%s", label); }
    }
    free(grad);
    char verdict[1024];
    if (failed) {
        int n = snprintf(verdict, sizeof verdict, "gradcheck: FAIL: %d of %d tensors have wrong gradients:", failed, checked);
        names(verdict + n, sizeof verdict - n, &g, bad, failed);
    }
    else snprintf(verdict, sizeof verdict, "gradcheck: ok, %d tensors (worst relative error %.2g in %s)%s", checked, worst,
                  worst_name, *skips ? ", some skipped (GRADCHECK_SKIP)" : "");
    if (*skips) printf("gradcheck_skip: %s\n", skips);
    printf("%s\n", verdict);
    // under the supervisor (`autoresearch train --gradcheck`): the same lines for its result file
    const char *vf = getenv("AUTORESEARCH_GRADCHECK_VERDICT");
    FILE *f = vf && *vf ? fopen(vf, "w") : NULL;
    if (f) { fprintf(f, "%s%s%s%s\n", *skips ? "gradcheck_skip: " : "", skips, *skips ? "\n" : "", verdict); fclose(f); }
    return failed ? 1 : 0;
}

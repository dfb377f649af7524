// exp_fast.h -- exp in plain C that compilers vectorise inside `omp simd` loops (glibc's expf
// does not vectorise without -ffast-math): Cody-Waite range reduction and a degree-6
// polynomial, about 1 ulp. Inputs are clamped to [-87, 88], so exp of a very negative number
// is ~1e-38, not 0. The clamps are comparisons, not fminf/fmaxf, so that a NaN passes through
// and a diverged run shows up as a NaN loss instead of a finite one (the Makefile's
// -fno-trapping-math lets CPUs without masked vector ops vectorise them). The trainer's
// softmaxes and softcap (through toolbox.h) and the supervisor's scoring (score.c) use it.
#ifndef EXP_FAST_H
#define EXP_FAST_H

#include <stdint.h>

static inline float exp_fast(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    // n = round(x / ln2): adding 1.5*2^23 rounds to an integer, which lands in the low bits
    union { float f; uint32_t u; } t = {.f = x * 1.44269504089f + 12582912.0f};
    float n = t.f - 12582912.0f;
    float r = x - n * 0.693359375f;   // r = x - n ln2, ln2 in two parts
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;       // exp(r) on [-ln2/2, ln2/2]
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + (r + 1.0f);
    union { uint32_t u; float f; } e = {.u = (t.u - 0x4B400000u + 127u) << 23};   // 2^n
    return p * e.f;
}

#endif // EXP_FAST_H

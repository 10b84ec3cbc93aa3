// The vector steps of the perturbation's draw, written once for any width: perturbation.c
// includes this file once per instruction set, after defining what a vector is and how its
// operations are spelled there (the list below), and gets log, sincos, philox, box_muller,
// perturb_blocks and perturb (the version dip_cpu_perturb calls) with the width's suffix (4 for
// AVX2's four doubles, 8 for AVX-512's eight).
// Each function does log_scalar's, sincos_scalar's, philox's and box_muller's operations lane by
// lane, in their order, never contracted (the includer's FP_CONTRACT OFF), so every width gives
// the scalar code's bits. Private to CLayerKernels; x86-64 only; no include guard, on purpose.
//
// What the includer defines:
//   PL_TARGET            the width's target attribute
//   PL_NAME(name)        name with the width's suffix
//   PL_LANES             doubles in a vector (a multiple of 4)
//   PL_GROUPS            groups of PL_LANES blocks a step of perturb's wide loop
//   PL_TAIL              what draws the blocks left after the vectors (dip_cpu_perturb's
//                        signature; a narrower version)
//   VD, VI, VF, VMASK    a vector of doubles, of 64-bit integers, of PL_LANES floats, a lane mask
//   D_*, I_*             the operations on them, one intrinsic each (D_GT and I_TEST give masks,
//                        SELECT(m, a, b) takes b where m is set, NEGATE_WHERE flips signs where m
//                        is set, F_QUARTER(v, h) is floats 4h..4h+3 of v as an __m128)
// and, outside, LOG_TERMS, ln2hi, ln2lo, quarterPi and store_blocks4. The file undefines all of
// the list at its end, so the next width starts from none.
//
// The vector versions take `G` groups of lanes at once, each step for every group before the
// next step: one group's Philox rounds and polynomial steps wait on each other (each step on the
// last one's result), and with two chains in flight the draw ran at the latency of those chains,
// not at the machine's throughput. `G` is a constant where they are inlined.
#define PL_INLINE PL_TARGET __attribute__((always_inline)) static inline
#define EACH for (int g = 0; g < G; g++)

/* log of G vectors of positive normal doubles. */
PL_INLINE void PL_NAME(log)(const int G, const VD *x, VD *out) {
    const VI magic = I_SET1(0x4330000000000000LL);
    const VD one = D_SET1(1.0);
    VD e[G], m[G], s[G], s2[G], p[G];
    EACH {
        const VI bits = D_AS_I(x[g]);
        // The biased exponent as an exact double: its bits under 2^52's, minus 2^52.
        e[g] = D_SUB(I_AS_D(I_OR(I_SRLI(bits, 52), magic)), D_SET1(4503599627370496.0));
        e[g] = D_SUB(e[g], D_SET1(1023.0));
        m[g] = I_AS_D(I_OR(I_AND(bits, I_SET1(0x000FFFFFFFFFFFFFLL)), I_SET1(0x3FF0000000000000LL)));
        const VMASK big = D_GT(m[g], D_SET1(1.4142135623730951));
        m[g] = SELECT(big, m[g], D_MUL(m[g], D_SET1(0.5)));
        e[g] = SELECT(big, e[g], D_ADD(e[g], one));
    }
    EACH s[g] = D_DIV(D_SUB(m[g], one), D_ADD(m[g], one));
    EACH { s2[g] = D_MUL(s[g], s[g]); p[g] = D_SET1(1.0 / 21.0); }
#define STEP(c) EACH p[g] = D_ADD(D_MUL(p[g], s2[g]), D_SET1(c));
    LOG_TERMS(STEP)
#undef STEP
    EACH {
        VD lnm = D_MUL(D_MUL(D_SET1(2.0), s[g]), p[g]);
        out[g] = D_ADD(D_MUL(e[g], D_SET1(ln2hi)), D_ADD(lnm, D_MUL(e[g], D_SET1(ln2lo))));
    }
}

/* sin and cos of 2 pi u for G vectors of u in [0, 1). */
PL_INLINE void PL_NAME(sincos)(const int G, const VD *u, VD *sinOut, VD *cosOut) {
    VI k[G];
    VD r[G], r2[G], sp[G], cp[G];
    EACH {
        VD t = D_MUL(u[g], D_SET1(8.0));
        VD f = D_SUB(t, D_TRUNC(t));
        k[g] = D_TO_I64(t);
        f = SELECT(I_TEST(k[g], I_SET1(1)), f, D_SUB(D_SET1(1.0), f));
        r[g] = D_MUL(f, D_SET1(quarterPi));
        r2[g] = D_MUL(r[g], r[g]);
        sp[g] = D_SET1(-1.0 / 1307674368000.0);
        cp[g] = D_SET1(1.0 / 20922789888000.0);
    }
    // The sine's and the cosine's polynomials are independent: their steps alternate.
#define STEP(c) EACH sp[g] = D_ADD(D_MUL(sp[g], r2[g]), D_SET1(c));
#define CSTEP(c) EACH cp[g] = D_ADD(D_MUL(cp[g], r2[g]), D_SET1(c));
    CSTEP(-1.0 / 87178291200.0)
    STEP(+1.0 / 6227020800.0) CSTEP(+1.0 / 479001600.0)
    STEP(-1.0 / 39916800.0) CSTEP(-1.0 / 3628800.0)
    STEP(+1.0 / 362880.0) CSTEP(+1.0 / 40320.0)
    STEP(-1.0 / 5040.0) CSTEP(-1.0 / 720.0)
    STEP(+1.0 / 120.0) CSTEP(+1.0 / 24.0)
    STEP(-1.0 / 6.0) CSTEP(-0.5)
#undef STEP
#undef CSTEP
    // Octants 1 and 2 (mod 4) swap sine and cosine; the sine is negative in octants 4-7, the
    // cosine in 2-5.
    const VI one = I_SET1(1), two = I_SET1(2), four = I_SET1(4);
    EACH {
        VD sr = D_ADD(r[g], D_MUL(D_MUL(r[g], r2[g]), sp[g]));
        VD cr = D_ADD(D_SET1(1.0), D_MUL(r2[g], cp[g]));
        const VMASK swap = I_TEST(I_ADD(k[g], one), two);
        sinOut[g] = NEGATE_WHERE(SELECT(swap, sr, cr), I_TEST(k[g], four));
        cosOut[g] = NEGATE_WHERE(SELECT(swap, cr, sr), I_TEST(I_ADD(k[g], two), four));
    }
}

/* Philox4x32-10 of G groups of PL_LANES blocks, blocks b + PL_LANES h + j of group h in 64-bit
   lane j (philox's operations lane by lane, each word in the low half of its lane):
   w[4 h + m] lane j is word m of block b + PL_LANES h + j. */
PL_INLINE void PL_NAME(philox)(const int G, unsigned long long b, unsigned long long substream, unsigned int k0,
                               unsigned int k1, VI *w) {
    const VI low = I_SET1(0xFFFFFFFFLL);
    VI c0[G], c1[G], c2[G], c3[G];
    EACH {
        const VI blocks = I_ADD(I_SET1((long long)(b + PL_LANES * (unsigned)g)), I_LANE_INDEX);
        c0[g] = I_AND(blocks, low);
        c1[g] = I_SRLI(blocks, 32);
        c2[g] = I_SET1((long long)(substream & 0xFFFFFFFFULL));
        c3[g] = I_SET1((long long)(substream >> 32));
    }
    const VI m0 = I_SET1(0xD2511F53LL), m1 = I_SET1(0xCD9E8D57LL);
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        const VI vk0 = I_SET1(k0), vk1 = I_SET1(k1);
        EACH {
            VI p0 = I_MULU32(c0[g], m0), p1 = I_MULU32(c2[g], m1);
            VI n0 = I_XOR(I_XOR(I_SRLI(p1, 32), c1[g]), vk0);
            VI n2 = I_XOR(I_XOR(I_SRLI(p0, 32), c3[g]), vk1);
            c1[g] = I_AND(p1, low);
            c3[g] = I_AND(p0, low);
            c0[g] = n0;
            c2[g] = n2;
        }
    }
    EACH { w[4 * g] = c0[g]; w[4 * g + 1] = c1[g]; w[4 * g + 2] = c2[g]; w[4 * g + 3] = c3[g]; }
}

/* Words below 2^32, one in each 64-bit lane, as exact doubles: their bits under 2^52's, less 2^52. */
PL_INLINE VD PL_NAME(words_to_double)(VI w) {
    return D_SUB(I_AS_D(I_OR(w, I_SET1(0x4330000000000000LL))), D_SET1(4503599627370496.0));
}

/* 0 + sigma * (r cos, r sin) of the Box-Muller pairs (a[h], c[h]), G vectors, as floats. */
PL_INLINE void PL_NAME(box_muller)(const int G, const VI *a, const VI *c, VD sigma, VF *cosValues, VF *sinValues) {
    const VD half = D_SET1(0.5), scale = D_SET1(0x1p-32);
    VD u1[G], u2[G], l[G], s[G], co[G];
    EACH {
        u1[g] = D_MUL(D_ADD(PL_NAME(words_to_double)(a[g]), half), scale);
        u2[g] = D_MUL(D_ADD(PL_NAME(words_to_double)(c[g]), half), scale);
    }
    PL_NAME(log)(G, u1, l);
    PL_NAME(sincos)(G, u2, s, co);
    EACH {
        VD r = D_SQRT(D_MUL(D_SET1(-2.0), l[g]));
        cosValues[g] = D_TO_F(D_ADD(D_ZERO(), D_MUL(sigma, D_MUL(r, co[g]))));
        sinValues[g] = D_TO_F(D_ADD(D_ZERO(), D_MUL(sigma, D_MUL(r, s[g]))));
    }
}

/* Blocks b ..< b + PL_LANES G, all inside n: their words in vector lanes (block b + PL_LANES h + j
   in lane j of group h), then the pairs (w0, w1) give each block's values 0 and 1, (w2, w3) its
   values 2 and 3, 2 G independent Box-Muller chains. */
PL_INLINE void PL_NAME(perturb_blocks)(const int G, const float *z, float *out, unsigned long long b, unsigned int k0,
                                       unsigned int k1, unsigned long long substream, VD sigma) {
    VI w[4 * G], a[2 * G], c[2 * G];
    PL_NAME(philox)(G, b, substream, k0, k1, w);
    EACH {
        a[2 * g] = w[4 * g]; c[2 * g] = w[4 * g + 1];
        a[2 * g + 1] = w[4 * g + 2]; c[2 * g + 1] = w[4 * g + 3];
    }
    VF cv[2 * G], sv[2 * G];
    PL_NAME(box_muller)(2 * G, a, c, sigma, cv, sv);
    EACH {
        // Lane j of cv[2 g], sv[2 g], cv[2 g + 1], sv[2 g + 1]: block b + PL_LANES g + j's values
        // (r cos, r sin of its first pair, then of its second), four blocks at a time.
        const long i = (long)(4 * (b + PL_LANES * (unsigned)g));
        for (int h = 0; h < PL_LANES / 4; h++)
            store_blocks4(F_QUARTER(cv[2 * g], h), F_QUARTER(sv[2 * g], h), F_QUARTER(cv[2 * g + 1], h),
                          F_QUARTER(sv[2 * g + 1], h), z + i + 16 * h, out + i + 16 * h);
    }
}
#undef EACH

/* Blocks lo..<hi of n values: PL_GROUPS groups a step, then one group, then PL_TAIL. */
PL_TARGET static void PL_NAME(perturb)(const float *z, float *out, long n, unsigned long long lo, unsigned long long hi,
                                       unsigned int k0, unsigned int k1, unsigned long long substream, double sigma) {
    const VD sd = D_SET1(sigma);
    unsigned long long b = lo;
    const unsigned long long wide = PL_LANES * PL_GROUPS;
    for (; b + wide <= hi && (long)(4 * (b + wide)) <= n; b += wide)
        PL_NAME(perturb_blocks)(PL_GROUPS, z, out, b, k0, k1, substream, sd);
    for (; b + PL_LANES <= hi && (long)(4 * (b + PL_LANES)) <= n; b += PL_LANES)
        PL_NAME(perturb_blocks)(1, z, out, b, k0, k1, substream, sd);
    PL_TAIL(z, out, n, b, hi, k0, k1, substream, sigma);
}

#undef PL_INLINE
#undef PL_TARGET
#undef PL_GROUPS
#undef PL_TAIL
#undef PL_NAME
#undef PL_LANES
#undef VD
#undef VI
#undef VF
#undef VMASK
#undef D_SET1
#undef D_ZERO
#undef D_ADD
#undef D_SUB
#undef D_MUL
#undef D_DIV
#undef D_SQRT
#undef D_TRUNC
#undef D_TO_I64
#undef D_TO_F
#undef D_GT
#undef D_AS_I
#undef I_AS_D
#undef I_SET1
#undef I_LANE_INDEX
#undef I_ADD
#undef I_AND
#undef I_OR
#undef I_XOR
#undef I_SRLI
#undef I_MULU32
#undef I_TEST
#undef SELECT
#undef NEGATE_WHERE
#undef F_QUARTER

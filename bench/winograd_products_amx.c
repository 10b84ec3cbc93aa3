// Could AMX run the Winograd band products at fp32's accuracy? (Issue 13, thirty-eighth part of
// BENCHMARKS.md.) AMX multiplies bf16 only (8 bits of mantissa; the twenty-fifth part measured
// bf16 operands in the Winograd domain at 1e-2 to 1e-1 of the output's RMS, far outside fp32's
// 1e-5). Split three ways, x = hi + mid + lo with each part a bf16 (hi = bf16(x), mid =
// bf16(x - hi), lo = bf16(x - hi - mid): 24 bits of mantissa, x itself where the exponents allow),
// a product U · V is the sum of nine part products; the six largest (hi·hi, hi·mid, mid·hi,
// hi·lo, lo·hi, mid·mid) leave out terms of 2^-24 of it and under. AMX's TDPBF16PS does 16 x 16
// x 32 of them at once, so the six may still beat fp32 FMAs.
//
// This harness times, on one thread, one band's products M[ξ] = U[ξ] (rows x inner) · V[ξ]
// (inner x columns) for every element ξ, every band reading all U[ξ] again as the network does:
//   - avx512: the kernel the network runs (Sources/CWinograd/winograd_products.c), on fp32;
//   - amx x6: the six part products above on AMX tiles, U and V already split and laid out as
//     the tiles read them (U's parts [row][inner], V's parts in pairs of inner rows, "VNNI"),
//     the inner dimension padded to a multiple of 32 with zeros, the next element's U parts
//     asked into the L2 before each element, as the fp32 kernel asks for its next U;
//   - amx x3: hi·hi, hi·mid and mid·hi only (about 16 bits);
//   - amx x1: hi·hi (bf16 operands, for scale);
// and the split of one band's V into the three parts' layout (what the source transform would
// have to write instead of fp32). Errors are RMS and largest |M - exact| over the RMS of the exact
// M (computed in doubles from the fp32 operands), for each version.
//
//   clang -O2 -ISources/CWinograd/include -o /tmp/wpamx bench/winograd_products_amx.c \
//       Sources/CWinograd/winograd_products.c -lm
//   /tmp/wpamx                        (the nets' F(8x8, 3x3) shapes, 100 elements)
//   /tmp/wpamx rows inner columns [elements]
//
// Needs Linux, an x86-64 CPU with AMX-BF16 and AVX-512 (Sapphire Rapids or later); says so and
// stops elsewhere.
#include "winograd_packed_u.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define AMX __attribute__((target("amx-tile,amx-bf16,avx512f")))

enum { MAX_ELEMENTS = 100, BANDS = 40, RUNS = 5 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

// Round to nearest even, as VCVTNEPS2BF16 does (no NaNs here).
static uint16_t to_bf16(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    b += 0x7fff + ((b >> 16) & 1);
    return (uint16_t)(b >> 16);
}

static float from_bf16(uint16_t h) {
    uint32_t b = (uint32_t)h << 16;
    float x;
    memcpy(&x, &b, 4);
    return x;
}

static void split3(float x, uint16_t part[3]) {
    float rest = x;
    for (int i = 0; i < 3; i++) {
        part[i] = to_bf16(rest);
        rest -= from_bf16(part[i]);
    }
}

// The tile configuration of LDTILECFG (palette 1).
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

// Tiles 0-3: C (16 x 16 floats) for rows r0 + {0, 16} by columns c0 + {0, 16}; 4-5: A (16 rows x
// 32 bf16), rows r0 and r0 + 16; 6-7: B (16 pairs of inner rows x 16 columns x 2), columns c0
// and c0 + 16.
AMX static void configure(void) {
    tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) {
        c.colsb[t] = 64;
        c.rows[t] = 16;
    }
    _tile_loadconfig(&c);
}

// One element's M (rows x columns, rows and columns multiples of 32 here, stride `ldm` floats)
// from the parts of U (each [rows][inner_padded] bf16) and V (each [inner_padded / 2][columns][2]
// bf16), `terms` part products of the list below.
AMX static void products_amx(const uint16_t *const u[3], const uint16_t *const v[3], long rows, long inner_padded,
                             long columns, float *m, long ldm, int terms) {
    // (part of U, part of V): the six largest products, largest first.
    static const int pairs[6][2] = {{0, 0}, {0, 1}, {1, 0}, {0, 2}, {2, 0}, {1, 1}};
    const long ua = inner_padded * 2, vb = columns * 4; // bytes from one tile row to the next
    for (long r0 = 0; r0 < rows; r0 += 32)
        for (long c0 = 0; c0 < columns; c0 += 32) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (long k = 0; k < inner_padded; k += 32)
                for (int t = 0; t < terms; t++) {
                    const uint16_t *a = u[pairs[t][0]] + r0 * inner_padded + k;
                    const uint16_t *b = v[pairs[t][1]] + (k / 2) * columns * 2 + c0 * 2;
                    _tile_loadd(4, a, ua);
                    _tile_loadd(5, a + 16 * inner_padded, ua);
                    _tile_loadd(6, b, vb);
                    _tile_loadd(7, b + 32, vb);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            _tile_stored(0, m + r0 * ldm + c0, ldm * 4);
            _tile_stored(1, m + r0 * ldm + c0 + 16, ldm * 4);
            _tile_stored(2, m + (r0 + 16) * ldm + c0, ldm * 4);
            _tile_stored(3, m + (r0 + 16) * ldm + c0 + 16, ldm * 4);
        }
}

// V (inner x columns floats) into its three parts, pairs of inner rows interleaved.
static void split_v(const float *v, long inner, long inner_padded, long columns, uint16_t *const part[3]) {
    for (long k = 0; k < inner_padded; k++)
        for (long j = 0; j < columns; j++) {
            uint16_t s[3] = {0, 0, 0};
            if (k < inner) split3(v[k * columns + j], s);
            for (int i = 0; i < 3; i++) part[i][(k / 2) * columns * 2 + j * 2 + (k & 1)] = s[i];
        }
}

static void error_of(const float *m, const double *exact, long n, double rms, double *rel_rms, double *rel_max) {
    double sum = 0, worst = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs(m[i] - exact[i]);
        sum += d * d;
        if (d > worst) worst = d;
    }
    *rel_rms = sqrt(sum / n) / rms;
    *rel_max = worst / rms;
}

AMX static void run(long rows, long inner, long columns, long e_count) {
    if (rows % 32 || columns % 32) {
        fprintf(stderr, "rows and columns must be multiples of 32 here\n");
        return;
    }
    const long kp = (inner + 31) / 32 * 32, pf = dip_winograd_packed_floats(rows, inner);
    float *u = malloc(sizeof(float) * e_count * rows * inner), *v = malloc(sizeof(float) * e_count * inner * columns);
    float *packed = aligned_alloc(64, sizeof(float) * e_count * pf);
    uint16_t *up[3], *vp[3];
    for (int i = 0; i < 3; i++) {
        up[i] = aligned_alloc(64, 2 * e_count * rows * kp);
        vp[i] = aligned_alloc(64, 2 * e_count * kp * columns);
    }
    srand(1);
    // Operands of the scale and sign of a transformed element: uniform in (-0.5, 0.5).
    for (long i = 0; i < e_count * rows * inner; i++) u[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < e_count * inner * columns; i++) v[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long e = 0; e < e_count; e++) {
        pack_u(u + e * rows * inner, rows, inner, packed + e * pf);
        for (long r = 0; r < rows; r++)
            for (long k = 0; k < kp; k++) {
                uint16_t s[3] = {0, 0, 0};
                if (k < inner) split3(u[(e * rows + r) * inner + k], s);
                for (int i = 0; i < 3; i++) up[i][(e * rows + r) * kp + k] = s[i];
            }
        uint16_t *const parts[3] = {vp[0] + e * kp * columns, vp[1] + e * kp * columns, vp[2] + e * kp * columns};
        split_v(v + e * inner * columns, inner, kp, columns, parts);
    }
    const long mn = e_count * rows * columns;
    float *m[4];
    for (int i = 0; i < 4; i++) m[i] = calloc(mn, sizeof(float));
    double best[4] = {1e9, 1e9, 1e9, 1e9};
    const int terms[4] = {0, 6, 3, 1};
    for (int r = 0; r < RUNS; r++)
        for (int version = 0; version < 4; version++) {
            double t0 = now();
            for (int b = 0; b < BANDS; b++)
                for (long e = 0; e < e_count; e++) {
                    float *me = m[version] + e * rows * columns;
                    if (version == 0) {
                        dip_winograd_products(packed + e * pf, rows, inner, v + e * inner * columns, columns, columns, me,
                                              columns, packed + (e + 1) % e_count * pf);
                    } else {
                        const uint16_t *const ue[3] = {up[0] + e * rows * kp, up[1] + e * rows * kp, up[2] + e * rows * kp};
                        const uint16_t *const ve[3] = {vp[0] + e * kp * columns, vp[1] + e * kp * columns,
                                                       vp[2] + e * kp * columns};
                        // As the fp32 kernel does, ask for the next element's U (the parts
                        // these terms read) while this one's products run.
                        const long next = (e + 1) % e_count;
                        const int u_parts = terms[version] == 6 ? 3 : terms[version] == 3 ? 2 : 1;
                        for (int i = 0; i < u_parts; i++)
                            for (long byte = 0; byte < 2 * rows * kp; byte += 64)
                                _mm_prefetch((const char *)(up[i] + next * rows * kp) + byte, _MM_HINT_T1);
                        products_amx(ue, ve, rows, kp, columns, me, columns, terms[version]);
                    }
                }
            double t = now() - t0;
            if (t < best[version]) best[version] = t;
        }
    // The split of one band's V (all elements), as a source transform would have to write it.
    double split_best = 1e9;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (long e = 0; e < e_count; e++) {
            uint16_t *const parts[3] = {vp[0] + e * kp * columns, vp[1] + e * kp * columns, vp[2] + e * kp * columns};
            split_v(v + e * inner * columns, inner, kp, columns, parts);
        }
        double t = now() - t0;
        if (t < split_best) split_best = t;
    }
    double *exact = malloc(sizeof(double) * mn), rms = 0;
    for (long e = 0; e < e_count; e++)
        for (long o = 0; o < rows; o++)
            for (long j = 0; j < columns; j++) {
                double s = 0;
                for (long k = 0; k < inner; k++) s += (double)u[(e * rows + o) * inner + k] * v[(e * inner + k) * columns + j];
                exact[(e * rows + o) * columns + j] = s;
                rms += s * s;
            }
    rms = sqrt(rms / mn);
    const double flop = 2.0 * rows * inner * columns * e_count * BANDS;
    const char *names[4] = {"avx512 fp32", "amx x6", "amx x3", "amx x1"};
    printf("%4ld x %4ld by %4ld x %3ld, %3ld elements (inner padded to %ld for AMX):\n", rows, inner, inner, columns, e_count, kp);
    for (int i = 0; i < 4; i++) {
        double rel_rms, rel_max;
        error_of(m[i], exact, mn, rms, &rel_rms, &rel_max);
        printf("  %-11s %7.1f GFLOP/s (fp32-equivalent), %6.3f ms a band; error RMS %.1e, largest %.1e of M's RMS\n",
               names[i], flop / best[i] / 1e9, best[i] / BANDS * 1e3, rel_rms, rel_max);
    }
    printf("  V split into three bf16 parts (scalar, this harness's): %.3f ms a band\n", split_best * 1e3);
    free(u); free(v); free(packed); free(exact);
    for (int i = 0; i < 3; i++) { free(up[i]); free(vp[i]); }
    for (int i = 0; i < 4; i++) free(m[i]);
}

int main(int argc, char **argv) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("amx-bf16") || !dip_winograd_products_available()) {
        fprintf(stderr, "winograd_products_amx: this CPU has no AMX-BF16 or no AVX-512\n");
        return 1;
    }
    // Linux hands out the tile data state only on request (ARCH_REQ_XCOMP_PERM, XTILEDATA).
    if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) {
        perror("winograd_products_amx: arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA)");
        return 1;
    }
    configure();
    if (argc >= 4) {
        long e_count = argc >= 5 ? atol(argv[4]) : 100;
        if (e_count < 1 || e_count > MAX_ELEMENTS) e_count = 100;
        run(atol(argv[1]), atol(argv[2]), atol(argv[3]), e_count);
        return 0;
    }
    // F(8x8, 3x3), one tile row a band (32 positions at 256 columns): table1's 132 -> 128 and
    // text's 256 -> 128 forward; their backward-data (128 -> 132, 128 -> 256) rounded to 32 rows.
    const long shapes[][4] = {{128, 132, 32, 100}, {128, 256, 32, 100}, {256, 128, 32, 100}, {128, 128, 32, 100}};
    for (unsigned i = 0; i < sizeof shapes / sizeof shapes[0]; i++) run(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
    return 0;
}

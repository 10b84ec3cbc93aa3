// winograd_products.h's packed layout of U, written out from its description (not from the
// kernel's source), for the products harnesses: winograd_products_packed.c and
// winograd_products_amx.c.
#ifndef DIP_BENCH_WINOGRAD_PACKED_U_H
#define DIP_BENCH_WINOGRAD_PACKED_U_H

#include "winograd_products.h"

// U (rows x inner, row-major) into `packed` (dip_winograd_packed_floats(rows, inner) floats).
static inline void pack_u(const float *u, long rows, long inner, float *packed) {
    for (long first = 0; first < rows; first += DIP_WINOGRAD_PRODUCT_BLOCK) {
        long width = rows - first < DIP_WINOGRAD_PRODUCT_BLOCK ? rows - first : DIP_WINOGRAD_PRODUCT_BLOCK;
        long padded = (width + 15) / 16 * 16;
        for (long k = 0; k < inner; k++)
            for (long r = 0; r < padded; r++) packed[first * inner + k * padded + r] = r < width ? u[(first + r) * inner + k] : 0;
    }
}

#endif

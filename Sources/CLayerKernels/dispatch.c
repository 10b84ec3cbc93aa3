#include "CLayerKernels.h"

// Which version of the layer kernels runs: chosen once from the CPU (AVX2 or not), or forced by
// a test. Both versions give the same bits, so the choice only changes the speed.

static int chosen = -1;

static int best(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

int dip_layer_kernels_isa(void) {
    // Racy only in that two threads may both compute the same answer.
    if (chosen < 0) chosen = best();
    return chosen;
}

void dip_layer_kernels_force(int isa) {
    int b = best();
    chosen = (isa == 0 || isa == 1) && isa <= b ? isa : b;
}


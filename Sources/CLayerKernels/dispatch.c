#include "CLayerKernels.h"

// Which version of the layer kernels runs: chosen once from the CPU (AVX-512F, AVX2 or
// neither) under the cap, or forced by a test. Every version gives the same bits, so the choice
// only changes the speed.

static int chosen = -1;
static int cap = 2;

static int best(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    const int cpu = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
    return cpu < cap ? cpu : cap;
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
    chosen = isa >= 0 && isa <= b ? isa : b;
}

void dip_layer_kernels_cap(int isa) {
    cap = isa < 0 ? 0 : isa;
    // Only lowers a choice made already: a version a test forced stays where the cap allows it
    // (every CPU backend sets the cap, tests make backends while others force versions).
    if (chosen > cap) chosen = cap;
}

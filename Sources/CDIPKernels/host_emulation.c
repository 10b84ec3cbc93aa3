/* The host build of the CUDA kernels: the kernel source compiled as C11 (dip_cuda_compat.h
 * maps the CUDA names onto the emulated coordinates below), for the tests' emulated grids. */
#include "CDIPKernels.h"

_Thread_local struct dip_emu_coordinates dip_emu_current;

void dip_emu_set_thread(unsigned int gridDimX, unsigned int blockDimX, unsigned int blockIndexX,
                        unsigned int threadIndexX) {
    struct dip_emu_dim3 one = {1, 1, 1}, zero = {0, 0, 0};
    dip_emu_current.grid_dim = one;
    dip_emu_current.block_dim = one;
    dip_emu_current.block_index = zero;
    dip_emu_current.thread_index = zero;
    dip_emu_current.grid_dim.x = gridDimX;
    dip_emu_current.block_dim.x = blockDimX;
    dip_emu_current.block_index.x = blockIndexX;
    dip_emu_current.thread_index.x = threadIndexX;
}

#include "cuda/dip_kernels.cu"

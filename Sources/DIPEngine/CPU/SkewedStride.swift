/// A distance, in floats, of at least `floats` between rows that a kernel touches together, chosen
/// so that consecutive rows start 64 bytes apart modulo 4 KiB (a multiple of 4 KiB, plus one
/// cache line).
///
/// Why: the L1 cache (48 KiB, 12-way on the AMD EPYC measured) picks a line's set from address
/// bits 6-11, so rows a multiple of 4 KiB apart all land in one set, and a kernel that touches
/// more than 12 of them at once evicts its own data at every step. Two kernels did: the Winograd
/// eight-tile steps (36 transformed elements at once) and oneDNN's sgemm packing the 1x1 layers'
/// activation rows (BENCHMARKS.md, sixth part; `bench/sgemm_plane_stride.c`).
func skewedStride(_ floats: Int) -> Int { (floats + 1023) / 1024 * 1024 + 16 }

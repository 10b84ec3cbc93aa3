#if canImport(Glibc)
import Glibc
#endif

/// Storage for the engine's large buffers (activations, the backends' scratch, the kept
/// Winograd tiles): where a buffer spans a huge page or more, it starts on a huge-page boundary
/// and the kernel is asked for transparent huge pages there (`madvise(MADV_HUGEPAGE)`), which
/// Debian and most distributions grant on request only (`/sys/kernel/mm/transparent_hugepage/
/// enabled` = madvise). The passes sweep hundreds of MiB with many short runs a plane apart
/// (a row of each of 128-256 channels per band), more pages than the TLB holds at 4 KiB; with
/// 2 MiB pages a table1 iteration at 256x256 took 0.64-0.75 s instead of 0.73-0.81 on a Zen 3
/// (BENCHMARKS.md, fifteenth part). Release with `deallocate()`, as any Swift allocation.
enum LargeAllocation {
    /// An x86-64 (and arm64 with 4 KiB pages) huge page: 2 MiB.
    static let hugePageBytes = 2 << 20

    /// `bytes` of uninitialised memory aligned to `alignment` (a power of two), or to a huge
    /// page with huge pages asked for where `bytes` is a huge page or more. The advice only
    /// changes how the memory is mapped: where the kernel declines it, 4 KiB pages as before.
    static func allocate(bytes: Int, alignment: Int) -> UnsafeMutableRawPointer {
        guard bytes >= hugePageBytes else { return .allocate(byteCount: bytes, alignment: alignment) }
        let storage = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: max(alignment, hugePageBytes))
        #if os(Linux)
        _ = madvise(storage, bytes, MADV_HUGEPAGE)
        #endif
        return storage
    }
}

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
    /// Where the memory cannot be had, the process ends with one line saying so (exit 1), not
    /// a crash report: a fit checks its memory before it starts (FitMemory), but a limit on
    /// the address space (`ulimit -v`), which counts what is reserved and never touched, can
    /// still refuse one.
    static func allocate(bytes: Int, alignment: Int) -> UnsafeMutableRawPointer {
        let huge = bytes >= hugePageBytes
        var storage: UnsafeMutableRawPointer?
        // posix_memalign's memory is what `deallocate()` frees (free, on Linux).
        guard posix_memalign(&storage, huge ? max(alignment, hugePageBytes) : max(alignment, MemoryLayout<Int>.alignment),
                             max(bytes, 1)) == 0, let storage else { outOfMemory(bytes) }
        #if os(Linux)
        if huge { _ = madvise(storage, bytes, MADV_HUGEPAGE) }
        #endif
        return storage
    }

    /// Ends the process with `_exit`, straight to standard error: other threads may hold locks
    /// (stdio's among them) that exit's handlers or a flush would wait on. The line's few
    /// hundred bytes come from the heap, where a refusal of a large block leaves room.
    private static func outOfMemory(_ bytes: Int) -> Never {
        let mib = (bytes + (1 << 20) - 1) >> 20
        let line = "Error: out of memory: \(mib) MiB more could not be had (the machine's memory, or a limit on this process: "
            + "ulimit -v, a container's or a job's); use a smaller image, fewer jobs at once, or a machine with more memory\n"
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        _exit(1)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The CPUs the calling thread may run on (its affinity mask), which is what `taskset`,
/// `numactl`, a Slurm allocation's CPU set or an OpenMP runtime's thread binding narrow; a
/// machine's processor count says nothing of them.
public enum CPUAffinity {
    /// Bytes of the masks read and written: 8192 CPUs, more than any machine this runs on (the
    /// kernel refuses a mask shorter than its own, and glibc's `cpu_set_t` holds only 1024).
    private static let maskWords = 128

    /// The calling thread's CPUs in increasing order, or nil where the system does not say
    /// (not Linux, or the call failed).
    public static func current() -> [Int]? {
        #if os(Linux)
        var mask = [UInt64](repeating: 0, count: maskWords)
        guard let call = affinityCall("sched_getaffinity"),
              mask.withUnsafeMutableBytes({ call(0, $0.count, $0.baseAddress!) }) == 0 else { return nil }
        var cpus: [Int] = []
        for (w, word) in mask.enumerated() where word != 0 {
            for b in 0..<64 where word & (1 << UInt64(b)) != 0 { cpus.append(w * 64 + b) }
        }
        return cpus.isEmpty ? nil : cpus
        #else
        return nil
        #endif
    }

    /// Lets the calling thread run on `cpus` (threads it starts afterwards, and a program it
    /// executes, inherit the mask); false where the system refused or `cpus` is empty or out of
    /// range.
    @discardableResult
    public static func set(_ cpus: [Int]) -> Bool {
        #if os(Linux)
        guard !cpus.isEmpty, cpus.allSatisfy({ $0 >= 0 && $0 < maskWords * 64 }) else { return false }
        var mask = [UInt64](repeating: 0, count: maskWords)
        for cpu in cpus { mask[cpu / 64] |= 1 << UInt64(cpu % 64) }
        guard let call = affinityCall("sched_setaffinity") else { return false }
        return mask.withUnsafeMutableBytes { call(0, $0.count, $0.baseAddress!) } == 0
        #else
        return false
        #endif
    }

    /// glibc's `sched_getaffinity` or `sched_setaffinity` (pid 0: the calling thread), looked up
    /// at run time: Swift's Glibc module leaves out the declarations that need `_GNU_SOURCE`.
    private static func affinityCall(_ name: String) -> (@convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32)? {
        #if os(Linux)
        guard let symbol = dlsym(nil, name) else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32).self)
        #else
        return nil
        #endif
    }

    /// "0-3,8,10-11": `cpus` (increasing) as Linux's CPU lists write them.
    public static func list(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < cpus.count {
            var j = i
            while j + 1 < cpus.count && cpus[j + 1] == cpus[j] + 1 { j += 1 }
            parts.append(j == i ? "\(cpus[i])" : "\(cpus[i])-\(cpus[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}

import Foundation

/// What this machine's processor is, as /proc/cpuinfo names it: for records, benchmarks and
/// the backend's description of where it runs.
public enum HostCPU {
    /// The model name ("unknown" where /proc/cpuinfo says nothing) with the vendor's family and
    /// model numbers and the per-core L2 cache, e.g. "AMD EPYC (family 25, model 1, L2 512K)".
    ///
    /// Why the numbers: a virtual machine often shows only "AMD EPYC", and the machines that
    /// name covers differ in speed: a Zen 3 (family 25, model 1, 512 KiB of L2 a core) ran text
    /// 256 at about 0.75 s an iteration where a Zen 5 (family 26, model 2, 1 MiB) capped to
    /// AVX2 ran it at 0.40 (BENCHMARKS.md, thirteenth part). A recorded figure must say which.
    /// Read once: every `BackendFactory.cpu` and every run's provenance asks for it.
    public static let summary: String = summary(cpuinfo: cpuinfo, level2: level2Text)

    /// The logical CPUs this process may use: its affinity mask where the system gives one
    /// (`CPUAffinity`), else the processors online, and no more than a control group's CPU
    /// quota allows (`CPUQuota`). Thread and job counts default to it and are bounded by it: in
    /// a Slurm allocation of 4 CPUs on a 64-core node, under `taskset -c 0-1` or in a container
    /// run with `--cpus 2`, the machine's count would start 16 or 32 threads on those few CPUs.
    /// Read each time it is asked (the mask can change while the program runs).
    public static var usableCores: Int {
        let cpus = CPUAffinity.current()?.count ?? ProcessInfo.processInfo.activeProcessorCount
        return min(cpus, CPUQuota.current() ?? cpus)
    }

    /// The per-core L2 cache in bytes, from sysfs; nil where it says nothing readable. Kernels
    /// that block their work to stay in a core's L2 size their blocks by it.
    public static let level2Bytes: Int? = bytes(cacheSize: level2Text)

    /// The L2 size those kernels assume where `level2Bytes` is nil: 1 MiB, between the 512 KiB
    /// of a Zen 3 and the 2 MiB of a recent Xeon, so no machine is far from it.
    public static let assumedLevel2Bytes = 1 << 20

    private static var level2Text: String? {
        try? String(contentsOfFile: "/sys/devices/system/cpu/cpu0/cache/index2/size", encoding: .utf8)
    }

    /// Bytes of a sysfs cache `size` ("512K", "1024K", "2M"; a bare number is bytes), or nil.
    static func bytes(cacheSize text: String?) -> Int? {
        guard let text, let bytes = ByteSize.bytes(text.trimmingCharacters(in: .whitespacesAndNewlines), plainUnit: 1) else {
            return nil
        }
        return Int(exactly: bytes.rounded(.down))
    }

    /// `summary` from the text of /proc/cpuinfo and of the L2 cache's sysfs `size` file (either
    /// may be missing: then what it would add is left out).
    static func summary(cpuinfo text: String?, level2: String?) -> String {
        let name = field("model name", in: text) ?? "unknown"
        var details: [String] = []
        if let family = field("cpu family", in: text), let model = field("model", in: text) {
            details.append("family \(family), model \(model)")
        }
        if let size = level2?.trimmingCharacters(in: .whitespacesAndNewlines), !size.isEmpty {
            details.append("L2 \(size)")
        }
        return details.isEmpty ? name : "\(name) (\(details.joined(separator: ", ")))"
    }

    /// The feature flags of the first processor ("avx2", "fma", "avx512f", ...), as the kernel
    /// reports them: only features it has enabled appear (AVX-512 is absent where the kernel
    /// does not save its registers). Read once; empty where /proc/cpuinfo says nothing.
    public static let flags: Set<String> = Set((field("flags", in: cpuinfo) ?? "").split(separator: " ").map(String.init))

    private static var cpuinfo: String? { try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) }

    /// The value of the first line of `text` whose key (before the colon, blanks trimmed) is
    /// `name`: "model" is not "model name".
    private static func field(_ name: String, in text: String?) -> String? {
        guard let text else { return nil }
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"),
                  line[..<colon].trimmingCharacters(in: .whitespaces) == name else { continue }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}

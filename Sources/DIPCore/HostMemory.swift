import Foundation

/// How much more memory this process can take before the kernel has to reclaim it or kill
/// something: what a fit checks before it allocates its activations, so that an image too large
/// for the machine is an error naming the sizes instead of minutes of swapping and a kill by the
/// out-of-memory killer.
public enum HostMemory {
    /// The smallest of /proc/meminfo's MemAvailable; for every control group limiting this
    /// process's memory (a container's, a Slurm job's, a systemd unit's) and its parents, the
    /// limit less what the group already uses; and the address space `ulimit -v` (RLIMIT_AS,
    /// what SGE's h_vmem sets) leaves. Nil where none is readable.
    public static func available() -> UInt64? {
        let read: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) }
        return available(meminfo: read("/proc/meminfo"), cgroups: read("/proc/self/cgroup"), read: read,
                         addressSpace: addressSpaceLeft())
    }

    /// Allocations smaller than this are not checked against `available()` (`worthChecking`):
    /// a process that cannot find 64 MiB is out of memory whatever it does next, and the check
    /// reads five files each time (a render decodes hundreds of small PNG tiles).
    static let checkedFrom: Double = 64 * 1024 * 1024

    /// Whether an allocation of `bytes` is large enough to check against `available()`.
    static func worthChecking(_ bytes: Double) -> Bool { bytes >= checkedFrom }

    /// RLIMIT_AS less the address space this process maps now (/proc/self/statm's size); nil
    /// without such a limit. Under one, a fit the other figures allowed failed its first large
    /// allocation with a crash.
    static func addressSpaceLeft() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max /* RLIM_INFINITY */,
              let mapped = statm(field: 0) else { return nil }
        return limit.rlim_cur > mapped ? UInt64(limit.rlim_cur) - mapped : 0
    }

    /// The bytes this process holds in memory now (resident pages, /proc/self/statm); nil where
    /// that is unreadable.
    public static func resident() -> UInt64? { statm(field: 1) }

    /// Field `field` of /proc/self/statm in bytes (0: the address space mapped, 1: resident).
    private static func statm(field: Int) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        return bytes(statm: text, field: field, pageSize: UInt64(sysconf(Int32(_SC_PAGESIZE))))
    }

    /// `resident` from the text of /proc/self/statm ("SIZE RESIDENT SHARED ..." in pages).
    static func resident(statm: String, pageSize: UInt64) -> UInt64? { bytes(statm: statm, field: 1, pageSize: pageSize) }

    /// Field `field` of a /proc/self/statm text, from pages to bytes.
    private static func bytes(statm: String, field: Int, pageSize: UInt64) -> UInt64? {
        let fields = statm.split(whereSeparator: \.isWhitespace)
        guard fields.count > field, let pages = UInt64(fields[field]) else { return nil }
        return pages * pageSize
    }

    /// v1's memory controller.
    static let memoryRoots = ["/sys/fs/cgroup/memory"]

    /// `available` from the texts of /proc/meminfo and /proc/self/cgroup, reading the groups'
    /// files through `read`: v2's `memory.max` ("max": none) less `memory.current`, v1's
    /// `memory.limit_in_bytes` (a huge number: none) less `memory.usage_in_bytes`.
    /// `addressSpace`: what RLIMIT_AS leaves, when limited.
    static func available(meminfo: String?, cgroups: String?, read: (String) -> String?, addressSpace: UInt64? = nil) -> UInt64? {
        var candidates: [UInt64] = addressSpace.map { [$0] } ?? []
        if let meminfo, let kib = field("MemAvailable", in: meminfo) { candidates.append(kib * 1024) }
        for folder in ControlGroups.folders(cgroups: cgroups ?? "", controller: "memory", v1Roots: memoryRoots) {
            let (limitFile, usageFile) = folder.unified ? ("memory.max", "memory.current")
                                                        : ("memory.limit_in_bytes", "memory.usage_in_bytes")
            guard let limit = number(read(folder.path + "/" + limitFile)), limit < UInt64(1) << 60,
                  let usage = number(read(folder.path + "/" + usageFile)) else { continue }
            candidates.append(limit > usage ? limit - usage : 0)
        }
        return candidates.min()
    }

    /// The number of kB on a /proc/meminfo line "NAME:   N kB".
    private static func field(_ name: String, in text: String) -> UInt64? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.dropFirst(name.count + 1).split(whereSeparator: \.isWhitespace).first.flatMap { UInt64($0) }
        }
        return nil
    }

    private static func number(_ text: String?) -> UInt64? {
        text.flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}

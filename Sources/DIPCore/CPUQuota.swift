import Foundation

/// The CPU time a control group lets this process use, in whole CPUs: Docker's `--cpus`, a
/// systemd `CPUQuota=` or a scheduler's limit. Such a quota leaves the affinity mask whole (every
/// CPU of the machine), so thread counts taken from the mask alone would start a thread per CPU
/// and have the quota throttle them.
enum CPUQuota {
    /// The smallest quota on this process's control groups and their parents, rounded up to
    /// whole CPUs; nil where none is set (or the system says nothing readable).
    static func current() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        return limit(cgroups: text) { try? String(contentsOfFile: $0, encoding: .utf8) }
    }

    /// Where the hierarchies are mounted: cgroup v2 alone, v2 beside v1 (Debian's hybrid
    /// layout), and v1's cpu controller under its two usual names.
    static let unifiedRoots = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
    static let cpuRoots = ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"]

    /// `current` from the text of /proc/self/cgroup, reading files through `read`: for the
    /// unified hierarchy's group ("0::/path") its `cpu.max` ("QUOTA PERIOD" or "max ..."), for
    /// v1's cpu controller ("N:cpu,cpuacct:/path") its `cpu.cfs_quota_us` (-1: none) and
    /// `cpu.cfs_period_us`, on the group and every parent up to the mount's root (inside a
    /// container the root is the container's own group).
    static func limit(cgroups: String, read: (String) -> String?) -> Int? {
        var limits: [Int] = []
        for line in cgroups.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let controllers = fields[1].split(separator: ",")
            let unified = fields[0] == "0" && fields[1].isEmpty
            guard unified || controllers.contains("cpu") else { continue }
            for group in ancestors(String(fields[2])) {
                for root in unified ? unifiedRoots : cpuRoots {
                    let folder = root + group
                    if unified, let text = read(folder + "/cpu.max") {
                        let parts = text.split(whereSeparator: \.isWhitespace)
                        if parts.count == 2, let quota = Double(parts[0]), let period = Double(parts[1]) {
                            limits.append(cpus(quota: quota, period: period))
                        }
                    } else if !unified, let quotaText = read(folder + "/cpu.cfs_quota_us"),
                              let periodText = read(folder + "/cpu.cfs_period_us"),
                              let quota = Double(quotaText.trimmingCharacters(in: .whitespacesAndNewlines)),
                              let period = Double(periodText.trimmingCharacters(in: .whitespacesAndNewlines)), quota > 0 {
                        limits.append(cpus(quota: quota, period: period))
                    }
                }
            }
        }
        return limits.min()
    }

    /// "/a/b" -> ["/a/b", "/a", ""]: the group and its parents, the root last (as a suffix of
    /// a mount point: "" is the root itself).
    private static func ancestors(_ path: String) -> [String] {
        var parts = path.split(separator: "/").map(String.init)
        var result: [String] = []
        while true {
            result.append(parts.isEmpty ? "" : "/" + parts.joined(separator: "/"))
            if parts.isEmpty { return result }
            parts.removeLast()
        }
    }

    private static func cpus(quota: Double, period: Double) -> Int {
        guard period > 0 else { return Int.max }
        return max(1, Int((quota / period).rounded(.up)))
    }
}

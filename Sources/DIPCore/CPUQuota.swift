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

    /// v1's cpu controller under its two usual names.
    static let cpuRoots = ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"]

    /// `current` from the text of /proc/self/cgroup, reading files through `read`: for the
    /// unified hierarchy's group its `cpu.max` ("QUOTA PERIOD" or "max ..."), for v1's cpu
    /// controller its `cpu.cfs_quota_us` (-1: none) and `cpu.cfs_period_us`, on the group and
    /// every parent (`ControlGroups.folders`).
    static func limit(cgroups: String, read: (String) -> String?) -> Int? {
        var limits: [Int] = []
        for folder in ControlGroups.folders(cgroups: cgroups, controller: "cpu", v1Roots: cpuRoots) {
            if folder.unified, let text = read(folder.path + "/cpu.max") {
                let parts = text.split(whereSeparator: \.isWhitespace)
                if parts.count == 2, let quota = Double(parts[0]), let period = Double(parts[1]) {
                    limits.append(cpus(quota: quota, period: period))
                }
            } else if !folder.unified, let quotaText = read(folder.path + "/cpu.cfs_quota_us"),
                      let periodText = read(folder.path + "/cpu.cfs_period_us"),
                      let quota = Double(quotaText.trimmingCharacters(in: .whitespacesAndNewlines)),
                      let period = Double(periodText.trimmingCharacters(in: .whitespacesAndNewlines)), quota > 0 {
                limits.append(cpus(quota: quota, period: period))
            }
        }
        return limits.min()
    }

    private static func cpus(quota: Double, period: Double) -> Int {
        guard period > 0 else { return Int.max }
        return max(1, Int((quota / period).rounded(.up)))
    }
}

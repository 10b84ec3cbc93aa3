import Testing
@testable import DIPCore

/// `CPUQuota`: a control group's CPU quota bounds the usable cores, in both cgroup versions,
/// on the group and its parents.
struct CPUQuotaTests {
    func limit(_ cgroups: String, _ files: [String: String]) -> Int? {
        CPUQuota.limit(cgroups: cgroups) { files[$0] }
    }

    @Test("cgroup v2: cpu.max of the group or a parent, rounded up; max is no limit")
    func unified() {
        let cgroups = "0::/machine.slice/box.scope\n"
        #expect(limit(cgroups, ["/sys/fs/cgroup/machine.slice/box.scope/cpu.max": "150000 100000\n"]) == 2)
        #expect(limit(cgroups, ["/sys/fs/cgroup/machine.slice/box.scope/cpu.max": "max 100000\n",
                                "/sys/fs/cgroup/machine.slice/cpu.max": "400000 100000\n"]) == 4)
        #expect(limit(cgroups, ["/sys/fs/cgroup/machine.slice/box.scope/cpu.max": "max 100000\n"]) == nil)
        // Inside a container: its own group is the mount's root.
        #expect(limit("0::/\n", ["/sys/fs/cgroup/cpu.max": "50000 100000\n"]) == 1)
        // Debian's hybrid layout mounts v2 under unified/.
        #expect(limit(cgroups, ["/sys/fs/cgroup/unified/machine.slice/cpu.max": "200000 100000"]) == 2)
    }

    @Test("cgroup v1: the cpu controller's quota and period; -1 is no limit; the smallest wins")
    func controllers() {
        let cgroups = "4:memory:/x\n2:cpu,cpuacct:/docker/abc\n0::/\n"
        #expect(limit(cgroups, ["/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "300000\n",
                                "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
                                "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
                                "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n"]) == 3)
        #expect(limit("1:cpu:/a/b\n", ["/sys/fs/cgroup/cpu/a/b/cpu.cfs_quota_us": "800000",
                                       "/sys/fs/cgroup/cpu/a/b/cpu.cfs_period_us": "100000",
                                       "/sys/fs/cgroup/cpu/a/cpu.cfs_quota_us": "200000",
                                       "/sys/fs/cgroup/cpu/a/cpu.cfs_period_us": "100000"]) == 2)
        #expect(limit("1:cpu:/a\n", ["/sys/fs/cgroup/cpu/a/cpu.cfs_quota_us": "-1",
                                     "/sys/fs/cgroup/cpu/a/cpu.cfs_period_us": "100000"]) == nil)
        // A controller named like cpu is not cpu.
        #expect(limit("3:cpuset:/a\n", ["/sys/fs/cgroup/cpu/a/cpu.cfs_quota_us": "100000",
                                        "/sys/fs/cgroup/cpu/a/cpu.cfs_period_us": "100000"]) == nil)
        #expect(limit("", [:]) == nil)
    }
}

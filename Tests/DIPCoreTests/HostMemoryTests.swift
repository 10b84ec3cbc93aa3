import Foundation
import Testing
@testable import DIPCore

/// `HostMemory`: what a fit may still allocate is the least of the kernel's available memory
/// and every memory-limited control group's room, in both cgroup versions.
struct HostMemoryTests {
    let meminfo = "MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n"

    func available(_ meminfo: String?, _ cgroups: String?, _ files: [String: String] = [:]) -> UInt64? {
        HostMemory.available(meminfo: meminfo, cgroups: cgroups) { files[$0] }
    }

    @Test("without a memory limit: /proc/meminfo's MemAvailable; nil when nothing is readable")
    func kernelOnly() {
        #expect(available(meminfo, "0::/\n") == 20_000_000 * 1024)
        #expect(available(meminfo, "0::/user.slice\n", ["/sys/fs/cgroup/user.slice/memory.max": "max\n",
                                                       "/sys/fs/cgroup/user.slice/memory.current": "5000\n"]) == 20_000_000 * 1024)
        #expect(available(nil, nil) == nil)
        // What `ulimit -v` leaves counts as any other limit.
        #expect(HostMemory.available(meminfo: meminfo, cgroups: "0::/\n", read: { _ in nil }, addressSpace: 1_000_000) == 1_000_000)
        #expect(HostMemory.available(meminfo: nil, cgroups: nil, read: { _ in nil }, addressSpace: 7) == 7)
        #expect(available("MemTotal: 5 kB\n", "") == nil)
    }

    @Test("cgroup v2: memory.max less memory.current on the group or a parent, the least room wins")
    func unified() {
        let cgroups = "0::/system.slice/job_42/step_0\n"
        let root = "/sys/fs/cgroup/system.slice/job_42"
        #expect(available(meminfo, cgroups, [root + "/memory.max": "4294967296\n", root + "/memory.current": "1073741824\n"])
                == 3 * 1_073_741_824)
        // Over its limit (reclaim pending): no room, not a wrapped-around number.
        #expect(available(meminfo, cgroups, [root + "/memory.max": "100\n", root + "/memory.current": "200\n"]) == 0)
        // A limit above the machine's available memory leaves the kernel's figure.
        #expect(available(meminfo, cgroups, [root + "/step_0/memory.max": "107374182400\n",
                                             root + "/step_0/memory.current": "0\n"]) == 20_000_000 * 1024)
    }

    @Test("cgroup v1: the memory controller's limit and usage; its 'unlimited' huge number is no limit")
    func controllers() {
        let cgroups = "5:memory:/slurm/uid_0/job_7\n2:cpu,cpuacct:/x\n0::/\n"
        let group = "/sys/fs/cgroup/memory/slurm/uid_0/job_7"
        #expect(available(meminfo, cgroups, [group + "/memory.limit_in_bytes": "2147483648\n",
                                             group + "/memory.usage_in_bytes": "1073741824\n",
                                             "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
                                             "/sys/fs/cgroup/memory/memory.usage_in_bytes": "5000000000\n"]) == 1_073_741_824)
        // The cpu controller's files say nothing of memory.
        #expect(available(meminfo, "2:cpu:/x\n", ["/sys/fs/cgroup/memory/x/memory.limit_in_bytes": "1024",
                                                  "/sys/fs/cgroup/memory/x/memory.usage_in_bytes": "0"]) == 20_000_000 * 1024)
    }

    @Test("resident bytes: statm's second field in pages")
    func residentPages() {
        #expect(HostMemory.resident(statm: "1000 250 30 1 0 100 0\n", pageSize: 4096) == 250 * 4096)
        #expect(HostMemory.resident(statm: "", pageSize: 4096) == nil)
        #expect((HostMemory.resident() ?? 0) > 0)
    }

    @Test("on this machine: a positive figure no larger than the machine's memory")
    func here() throws {
        // The machine's memory, not MemAvailable: tests running beside this one move the latter.
        let room = try #require(HostMemory.available())
        #expect(room > 0 && room <= ProcessInfo.processInfo.physicalMemory)
    }
}

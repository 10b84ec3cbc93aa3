import DIPCore
import DIPTestSupport
import Foundation
import Testing

/// The CPUs the tool runs its threads on: those its process was given (a Slurm allocation,
/// `taskset`), whatever the machine has and whatever OpenMP's variables say.
@Suite("the CPUs and threads the tool uses")
struct UsableCoresTests {
    static let data = SharedTestData.folder(holding: "dip-inpainting/library.png")
    static let taskset = ["/usr/bin/taskset", "/bin/taskset"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test("a CPU set of one CPU gives one job of one thread, and bounds --threads by it",
          .enabled(if: data != nil && taskset != nil))
    func cpuSetBoundsDefaults() throws {
        let s = try Scratch()
        let cpu = try #require(CPUAffinity.current()?.first)
        let launcher = [Self.taskset!, "-c", "\(cpu)"]
        let r = try s.run(["run", "library", "--profile", "smoke", "--dry-run", "--data", Self.data!], launcher: launcher)
        #expect(r.status == 0 && r.stdout.contains("1 job x 1 thread on 1 core;"), "\(r.stdout)\(r.stderr)")
        let many = try s.run(["inpaint", "image.png", "--mask", "mask.png", "--out", "out.png", "--threads", "5"], launcher: launcher)
        #expect(many.status == 64 && many.stderr.contains("--threads 5: at most 4 (4 per core; this process may use 1 core)"), "\(many.stderr)")
    }

    @Test("OpenMP's thread binding does not put the tool's threads on one core",
          .enabled(if: data != nil && (CPUAffinity.current()?.count ?? 0) >= 2 && HostCPU.usableCores >= 2),
          arguments: [["OMP_PROC_BIND": "true"], ["OMP_PLACES": "cores"], ["OMP_PROC_BIND": "spread", "OMP_PLACES": "threads"]])
    func bindingIgnored(_ binding: [String: String]) throws {
        let s = try Scratch()
        let cpus = try #require(CPUAffinity.current())
        let r = try s.run(["run", "library", "--profile", "smoke", "--dry-run", "--data", Self.data!], environment: binding)
        #expect(r.status == 0 && r.stdout.contains("on \(HostCPU.usableCores) cores;"), "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("ignored: OpenMP's thread binding would put all of dip-report's own threads on CPU"), "\(r.stderr)")
        #expect(r.stderr.contains("they run unbound on CPUs \(CPUAffinity.list(cpus))"), "\(r.stderr)")
    }

    static let peppers = SharedTestData.folder(holding: "seed-report/peppers256.png").map { $0 + "/seed-report/peppers256.png" }

    @Test("OpenMP settings that shrink teams do not hang a fit", .enabled(if: peppers != nil),
          arguments: [["OMP_DYNAMIC": "true"], ["OMP_THREAD_LIMIT": "1"]])
    func teamsKeepTheirSize(_ setting: [String: String]) throws {
        let s = try Scratch()
        // table1's direct backward-weights at 256x256 waits at a barrier for both threads: with
        // a smaller team the fit spun on one core until killed (BENCHMARKS.md, twenty-first part).
        // This fit takes seconds alone; a hung one is killed after `hung` seconds and fails. (A
        // time limit on the test failed it when a loaded machine made the fit take over a minute,
        // and could not stop a hung one: the test waits for the process.)
        let hung: TimeInterval = 300
        let r = try s.run(["inpaint", Self.peppers!, "--bernoulli", "0.5", "--out", "out.png", "--net", "table1",
                           "--conv", "direct", "--iterations", "2", "--threads", "2"], environment: setting, killedAfter: hung)
        #expect(r.status == 0, "\(r.status == SIGKILL ? "still running after \(Int(hung)) s: killed" : r.stderr)")
        let name = setting.keys.first!
        #expect(r.stderr.contains("dip-report: \(name)=\(setting[name]!) ignored: oneDNN waits for every thread"), "\(r.stderr)")
        #expect(s.exists("out.png"))
    }

    /// A control group of its own with a quota of one CPU (v1's cpu controller or v2's
    /// cpu.max), where this process may make one (root, writable cgroup mounts); nil elsewhere.
    static func oneCPUGroup() -> String? {
        guard getuid() == 0, (CPUAffinity.current()?.count ?? 0) >= 2 else { return nil }
        let name = "dip-report-test-\(UUID().uuidString)"
        let manager = FileManager.default
        for (root, files) in [("/sys/fs/cgroup/cpu", ["cpu.cfs_quota_us": "100000", "cpu.cfs_period_us": "100000"]),
                              ("/sys/fs/cgroup", ["cpu.max": "100000 100000"])] {
            let group = root + "/" + name
            guard (try? manager.createDirectory(atPath: group, withIntermediateDirectories: false)) != nil else { continue }
            if files.allSatisfy({ (try? $0.value.write(toFile: group + "/" + $0.key, atomically: false, encoding: .utf8)) != nil }) {
                return group
            }
            rmdir(group)
        }
        return nil
    }

    static let canMakeGroups: Bool = oneCPUGroup().map { rmdir($0); return true } ?? false

    @Test("a control group's quota of one CPU gives one job of one thread", .enabled(if: data != nil && canMakeGroups))
    func quotaBoundsDefaults() throws {
        let s = try Scratch()
        let group = try #require(Self.oneCPUGroup())
        defer { rmdir(group) }
        // The shell joins the group, then becomes dip-report.
        let launcher = ["/bin/sh", "-c", "echo $$ > '\(group)/cgroup.procs' && exec \"$0\" \"$@\""]
        let r = try s.run(["run", "library", "--profile", "smoke", "--dry-run", "--data", Self.data!], launcher: launcher)
        #expect(r.status == 0 && r.stdout.contains("1 job x 1 thread on 1 core;"), "\(r.stdout)\(r.stderr)")
    }
}

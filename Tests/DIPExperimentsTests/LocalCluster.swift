import DIPTestSupport
import Foundation

/// A private Slurm cluster for one test (scripts/slurm-local/: munged, slurmctld and two
/// slurmd "nodes" on this machine), on ports of its own so that it never meets another
/// cluster, with its state in a short folder under /tmp. Stop it in a `defer`.
final class LocalCluster: @unchecked Sendable {
    /// The state folder.
    let state: String
    /// The environment Slurm's clients need (SLURM_CONF).
    let environment: [String: String]

    /// Whether this machine can run one: root (slurmd must setuid) and Slurm installed or
    /// apt-get there to install it. The reason when not.
    static let unavailable: String? = {
        if getuid() != 0 { return "not root: a private Slurm cluster needs root (CI runs as root)" }
        let installed = ["slurmctld", "slurmd", "sbatch", "munged"].allSatisfy { has($0) }
        if !installed, !has("apt-get") { return "Slurm is not installed and there is no apt-get to install it" }
        return nil
    }()

    private static func has(_ command: String) -> Bool {
        ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(command)") }
    }

    private static let scripts = SharedTestData.packageRoot.appendingPathComponent("scripts/slurm-local").path

    /// Starts a cluster of two nodes with `cpus` CPUs each.
    init(cpus: Int = 2) throws {
        state = "/tmp/dsl-\(UUID().uuidString.prefix(8))"
        let port = Int.random(in: 21000...39000)
        let (status, out) = Self.shell("\(Self.scripts)/start-cluster.sh \(state)", environment: [
            "SLURM_LOCAL_NODES": "2", "SLURM_LOCAL_CPUS": "\(cpus)",
            "SLURM_LOCAL_CTLD_PORT": "\(port)", "SLURM_LOCAL_SLURMD_PORT": "\(port + 1)"])
        guard status == 0 else {
            _ = Self.shell("\(Self.scripts)/stop-cluster.sh \(state) --purge")
            throw NSError(domain: "LocalCluster", code: Int(status), userInfo: [NSLocalizedDescriptionKey: "start-cluster.sh failed: \(out)"])
        }
        environment = ["SLURM_CONF": state + "/etc/slurm.conf"]
    }

    /// Stops every daemon and job of this cluster and deletes its state.
    func stop() {
        _ = Self.shell("\(Self.scripts)/stop-cluster.sh \(state) --purge")
    }

    /// Runs a shell command against this cluster; (status, stdout and stderr).
    @discardableResult
    func shell(_ command: String) -> (Int32, String) { Self.shell(command, environment: environment) }

    static func shell(_ command: String, environment extra: [String: String] = [:]) -> (Int32, String) {
        // posix_spawn and waitpid rather than Foundation's Process: Process learns of the end
        // of its child through a descriptor the child inherits, and the daemons start-cluster.sh
        // starts inherit it too, so it would wait for ever. Output goes to a file for the same
        // reason (a pipe would never reach its end).
        let log = TestFolder.path("dip-cluster", suffix: ".log")
        defer { try? FileManager.default.removeItem(atPath: log) }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra { env[k] = v }
        let argv = ["/bin/bash", "-c", "exec >\(log) 2>&1 </dev/null; " + command]
        let envp = env.map { "\($0.key)=\($0.value)" }
        var cargv = argv.map { strdup($0) } + [nil]
        var cenvp = envp.map { strdup($0) } + [nil]
        defer { for p in cargv + cenvp { free(p) } }
        // Nothing but the three standard descriptors goes to bash: munged keeps what it inherits
        // for its whole life, and a pipe or socket another test's Process was opening at that
        // moment (not close-on-exec) would then never reach its end, and that test would wait.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        closeFromThree(&actions)
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/bash", &actions, nil, &cargv, &cenvp) == 0 else { return (-1, "cannot start bash") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exit, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    /// Waits until none of `jobs` is queued or running; a task requeued by dip-report is made
    /// eligible at once (Slurm holds a requeued job back for two minutes) and counted.
    /// Returns false on timeout.
    func waitForJobs(_ jobs: [String], timeout: Double, requeued: inout Int) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var held: [String: Date] = [:]
        while Date() < deadline {
            let (_, out) = shell("squeue -h -r -j \(jobs.joined(separator: ",")) -o '%i %r' 2>/dev/null")
            let lines = out.split(separator: "\n")
            if lines.isEmpty { return true }
            for line in lines where line.hasSuffix(" BeginTime") {
                let id = String(line.split(separator: " ")[0])
                // Released a few seconds after the requeue: at once, the node may still be
                // cleaning up the slot that ended, and the new start fails.
                guard let since = held[id] else { held[id] = Date(); continue }
                if Date().timeIntervalSince(since) > 3 {
                    requeued += 1
                    held[id] = nil
                    shell("scontrol update JobId=\(id) StartTime=now")
                }
            }
            usleep(500_000)
        }
        return false
    }

    /// The final state of a job (scontrol; MinJobAge keeps it an hour).
    func jobStates(_ job: String) -> [String] {
        let (_, out) = shell("scontrol -o show job \(job)")
        return out.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("JobState=") }.map { String($0.dropFirst(9)) }
        }
    }
}

/// Adds "close every descriptor from 3 on" to `actions`: glibc has it since 2.34 (Debian 12
/// ships 2.36), but Swift's Glibc module leaves `posix_spawn_file_actions_addclosefrom_np` out,
/// so it is looked up by name. Where it is missing, nothing is added (as before).
private func closeFromThree(_ actions: inout posix_spawn_file_actions_t) {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return }
    _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3)
}

import DIPCore
import Foundation

/// Slurm's client commands (sbatch, squeue), found on PATH and run as child processes.
public enum SlurmClient {
    /// The absolute path of `command` on PATH (a path, when it holds a slash, as given), nil
    /// when it is not there.
    public static func find(_ command: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if command.contains("/") { return FileManager.default.isExecutableFile(atPath: command) ? command : nil }
        for dir in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(command)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Why `sbatch` is needed, where to get it, and how to do without it.
    public static let missingSbatch = "sbatch is not on PATH: run `dip-report submit` on a Slurm login node (or `module load slurm` there), install Slurm's client (Debian: apt-get install slurm-client) for a cluster you can reach, try a private local cluster with scripts/slurm-local/start-cluster.sh, or add --dry-run to write the plan and script without submitting"

    /// Runs `arguments` (arguments[0] looked up on PATH); its standard output, trimmed. A
    /// non-zero exit throws with the command and its standard error; so does a command still
    /// running after `timeout` seconds, which is stopped (squeue retries an unreachable
    /// controller for a minute without a word).
    @discardableResult
    public static func run(_ arguments: [String], timeout: Double? = nil) throws -> String {
        guard let exe = find(arguments[0]) else {
            throw arguments[0] == "sbatch" ? DIPError.mismatch(missingSbatch)
                : DIPError.invalidValue(name: "command", value: arguments[0], reason: "not found on PATH")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = Array(arguments.dropFirst())
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try ChildProcess.run(p)
        // Both pipes read at once, before waiting: a full pipe would block the child.
        final class Box: @unchecked Sendable { var data = Data() }
        let o = Box(), e = Box()
        let group = DispatchGroup()
        for (pipe, box) in [(out, o), (err, e)] {
            DispatchQueue.global().async(group: group) { box.data = pipe.fileHandleForReading.readDataToEndOfFile() }
        }
        if let timeout, group.wait(timeout: .now() + timeout) == .timedOut {
            stop(p)
            // A child of the command may still hold the pipes open: do not wait for it.
            _ = group.wait(timeout: .now() + 1)
            throw DIPError.invalidValue(name: "command", value: arguments.joined(separator: " "),
                                        reason: "no answer in \(Int(timeout)) s, stopped (is the Slurm controller up, and SLURM_CONF right?)")
        }
        group.wait()
        p.waitUntilExit()
        let stdout = String(decoding: o.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard p.terminationStatus == 0 else {
            let stderr = String(decoding: e.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let said = stderr.isEmpty ? stdout : stderr
            throw DIPError.invalidValue(name: "command", value: arguments.joined(separator: " "),
                                        reason: "exited with status \(p.terminationStatus): \(said)\(unreachableHint(said, command: arguments[0]))")
        }
        return stdout
    }

    /// What to do when a Slurm command's words say it found no cluster (no slurm.conf, no
    /// controller answering); "" otherwise. `--dry-run` is offered for sbatch only: it is
    /// submit's (status, which runs squeue, has none).
    static func unreachableHint(_ said: String, command: String) -> String {
        let markers = ["Could not establish a configuration source", "Unable to contact slurm controller",
                       "Could not open configuration file", "failed to fetch config", "s_p_parse_file: cannot stat file"]
        guard markers.contains(where: said.contains) else { return "" }
        let dryRun = (command as NSString).lastPathComponent == "sbatch" ? ", or add --dry-run to write the plan and script without submitting" : ""
        return " (no Slurm cluster answers from here: run this on the cluster's login node, point SLURM_CONF at its slurm.conf, "
            + "or start a private local cluster with `make slurm-up`\(dryRun))"
    }

    /// Ends `process` and what it started: Foundation starts each child as the leader of a
    /// process group of its own, so the group's signal reaches a wrapper script's children
    /// too (`terminate()` alone left them running). SIGTERM first, SIGKILL to what is left
    /// after two seconds; returns once the command has exited.
    private static func stop(_ process: Process) {
        let pid = process.processIdentifier
        let group = getpgid(pid) == pid ? -pid : pid
        kill(group, SIGTERM)
        for _ in 0..<40 where process.isRunning { usleep(50_000) }
        kill(group, SIGKILL)
        process.waitUntilExit()
    }

    /// The job id in `sbatch --parsable` output ("123" or "123;cluster").
    public static func jobID(fromParsable output: String) throws -> String {
        let id = output.split(separator: "\n").last.map { String($0.split(separator: ";").first ?? "") } ?? ""
        guard !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw DIPError.invalidValue(name: "sbatch output", value: output, reason: "holds no job id")
        }
        return id
    }

    /// Seconds `status` waits for squeue.
    static let queueTimeout = 15.0

    /// Queue states of the jobs (array tasks included) of `jobs`, as squeue prints them
    /// ("123_4" -> "RUNNING"), a pending one with Slurm's reason ("PENDING (PartitionConfig)":
    /// a job that can never start says why only there). Throws, saying why, when squeue is not
    /// on PATH or fails (no controller, a SLURM_CONF that points nowhere).
    public static func queueStates(jobs: [String]) throws -> [String: String] {
        guard find("squeue") != nil else {
            throw DIPError.mismatch("squeue is not on PATH (run status where Slurm's client is, e.g. the login node)")
        }
        return queueStates(squeueOutput: try run(["squeue", "-h", "-r", "-j", jobs.joined(separator: ","), "-o", "%i %T %r"], timeout: queueTimeout))
    }

    /// The most CPUs a node of `partition` (the default one when nil) has, by `sinfo`; nil when
    /// sinfo is not there or does not answer (then nothing is known, and nothing refused).
    public static func largestNodeCPUs(partition: String?) -> Int? {
        guard find("sinfo") != nil,
              let out = try? run(["sinfo", "-h", "-o", "%c"] + (partition.map { ["-p", $0] } ?? []), timeout: queueTimeout) else { return nil }
        return largestNodeCPUs(sinfoOutput: out)
    }

    /// `largestNodeCPUs` of sinfo's `%c` lines ("2", "64+" where a group's nodes differ).
    static func largestNodeCPUs(sinfoOutput text: String) -> Int? {
        text.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces).filter(\.isNumber)) }.max()
    }

    /// `queueStates` of squeue's `%i %T %r` lines.
    static func queueStates(squeueOutput text: String) -> [String: String] {
        var states: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", maxSplits: 2)
            guard f.count >= 2 else { continue }
            let reason = f.count > 2 ? String(f[2]) : "None"
            states[String(f[0])] = String(f[1]) + (f[1] == "PENDING" && reason != "None" ? " (\(reason))" : "")
        }
        return states
    }
}

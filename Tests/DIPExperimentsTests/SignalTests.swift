import DIPCore
import DIPEngine
import DIPTestSupport
import Foundation
import Testing
@testable import DIPExperiments

private func tempFolder() -> String {
    let p = TestFolder.path("dip-cli")
    try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

private let canRunCLI = CLI.executable != nil && experimentData != nil

/// What `timeout`, `kill`, Slurm and a user's Ctrl-C do to a running dip-report.
@Suite("Signals and concurrent runs, through the executable", .serialized)
struct SignalTests {
    /// Starts `run` of a long fit and waits until the fit is under way (its claim exists and a
    /// second has passed).
    private func startLongRun(_ folder: String, channels: Int = 8, extra: [String] = [],
                              wrapper: [String] = []) throws -> (CLI.Running, ResultStore) {
        let catalog = try CLI.slowCatalog(id: "long", iterations: 100_000, channels: channels, in: folder)
        let results = folder + "/results"
        let p = try CLI.Running(["run", "long", "--catalog", catalog, "--profile", "paper", "--seeds", "0", "--results", results,
                                 "--threads", "1", "--no-estimate", "--data", experimentData!] + extra, log: folder + "/log",
                               wrapper: wrapper)
        let store = try ResultStore(root: results)
        let started = CLI.waitUntil(timeout: 120) { !CLI.files(under: results, containing: ".claim").isEmpty }
        #expect(started, "the run never started: \(p.output)")
        usleep(1_500_000)
        return (p, store)
    }

    /// Starts a million-iteration `inpaint` of a 48x48 random picture in `folder` (out.png, and
    /// curve.json with `curve`), under `wrapper` when given.
    private func startLongInpaint(_ folder: String, seed: UInt64, threads: Int = 1, curve: Bool = true,
                                  wrapper: [String] = []) throws -> CLI.Running {
        var img = Image(channels: 1, height: 48, width: 48)
        img.pixels.withUnsafeMutableBufferPointer { RandomStream(seed: seed, purpose: .auxiliary).fillUniform($0, low: 0, high: 1) }
        try PNGCodec.write(img, to: folder + "/in.png")
        return try CLI.Running(["inpaint", folder + "/in.png", "--bernoulli", "0.5", "--net", "text", "--iterations", "1000000",
                                "--threads", "\(threads)", "--out", folder + "/out.png"] + (curve ? ["--curve", folder + "/curve.json"] : []),
                               log: folder + "/log", wrapper: wrapper)
    }

    /// Expects the `inpaint` started by `startLongInpaint` in `folder` to end with 143 (SIGTERM)
    /// and its picture (and curve, when it asked for one) written.
    private func expectTerminatedWithOutputs(_ p: CLI.Running, in folder: String, curve: Bool = true) {
        #expect(p.wait(timeout: 60) == 143, "\(p.output)")
        #expect(FileManager.default.fileExists(atPath: folder + "/out.png"), "\(p.output)")
        if curve { #expect(FileManager.default.fileExists(atPath: folder + "/curve.json"), "\(p.output)") }
    }

    /// The processes `parent` started (Linux's /proc).
    private func children(of parent: Int32) -> [Int32] {
        let text = (try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { Int32($0) }
    }

    /// Whether `pid` still runs (one that ended may stay a zombie: nobody here is its parent).
    private func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"), stat.distance(from: close, to: stat.endIndex) > 2 else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    @Test("SIGTERM stops `run` after the current iteration: the fit is checkpointed, the claim released, exit 143",
          .enabled(if: canRunCLI, "needs the built dip-report and ../shared/data"))
    func runTerminated() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (p, store) = try startLongRun(folder)
        p.signal(SIGTERM)
        #expect(p.wait(timeout: 60) == 143, "\(p.output)")
        #expect(p.output.contains("checkpointed at iteration"), "\(p.output)")
        #expect(CLI.files(under: store.root, containing: ".checkpoint").count == 1)
        #expect(CLI.files(under: store.root, containing: ".claim").isEmpty, "the claim is given back")
        #expect(store.scan().records.isEmpty)
        // The next run carries on from the checkpoint, and its log says so (a requeued task's too).
        let again = try CLI.Running(["run", "long", "--catalog", folder + "/long.json", "--profile", "paper", "--seeds", "0", "--results", store.root,
                                     "--threads", "1", "--no-estimate", "--data", experimentData!], log: folder + "/again.log")
        #expect(CLI.waitUntil(timeout: 60) { again.output.contains("from its checkpoint at iteration") }, "\(again.output)")
        again.signal(SIGTERM)
        #expect(again.wait(timeout: 60) == 143, "\(again.output)")
    }

    @Test("SIGTERM stops `inpaint` after the current iteration and it still writes the picture and the curve (exit 143)",
          .enabled(if: CLI.executable != nil, "needs the built dip-report"))
    func inpaintTerminated() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let p = try startLongInpaint(folder, seed: 3)
        usleep(4_000_000)
        // Twice, as `timeout` does (to the process, then to its group): one request. Sent at
        // once the two are often handled as one; 2 ms apart they mostly reach the handler apart,
        // inside StopRequests.repeatWindow (0.1 s) even when a loaded machine wakes this thread
        // late (20 ms asked for could come to more than the window, and the second TERM quit).
        p.signal(SIGTERM)
        usleep(2_000)
        p.signal(SIGTERM)
        expectTerminatedWithOutputs(p, in: folder)
        #expect(p.output.contains("status: cancelled"), "\(p.output)")
    }

    @Test("under `timeout`, `inpaint` still writes the picture and the curve when the time is up",
          .enabled(if: CLI.executable != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/timeout"),
                   "needs the built dip-report and coreutils' timeout"))
    func inpaintUnderTimeout() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // timeout signals the fit, then its own process group: two SIGTERMs at once.
        let p = try startLongInpaint(folder, seed: 4, wrapper: ["/usr/bin/timeout", "4"])
        #expect(p.wait(timeout: 60) == 124, "timeout says 124 when it stopped the command: \(p.output)")
        #expect(FileManager.default.fileExists(atPath: folder + "/out.png"), "\(p.output)")
        #expect(FileManager.default.fileExists(atPath: folder + "/curve.json"), "\(p.output)")
        #expect(p.output.contains("status: cancelled"), "\(p.output)")
    }

    @Test("closing the terminal of a `run` (SIGHUP, then every write fails) stops it after the current iteration: checkpointed, claim released",
          .enabled(if: canRunCLI && FileManager.default.isExecutableFile(atPath: "/usr/bin/script"),
                   "needs the built dip-report, ../shared/data and util-linux's script"))
    func runHungUp() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // `script` gives the run a terminal of its own (the folder's path has no spaces); killing
        // `script` closes that terminal as a dropped SSH session does: the kernel sends SIGHUP
        // and every later write to the terminal fails (EIO). The default action of SIGHUP lost
        // the fit in flight; FileHandle's writes trapped on EIO.
        let (p, store) = try startLongRun(folder, wrapper: ["/bin/sh", "-c", "exec /usr/bin/script -qfc \"exec $*\" /dev/null", "sh"])
        let run = try #require(children(of: p.process.processIdentifier).first, "script started nothing: \(p.output)")
        p.signal(SIGKILL)
        p.wait(timeout: 30)
        #expect(CLI.waitUntil(timeout: 60) { !isRunning(run) }, "the run goes on after its terminal closed")
        #expect(CLI.files(under: store.root, containing: ".checkpoint").count == 1, "\(p.output)")
        #expect(CLI.files(under: store.root, containing: ".claim").isEmpty, "the claim is given back")
        if isRunning(run) { kill(run, SIGKILL) }
    }

    @Test("under `nohup` a fit outlives SIGHUP, as nohup promises; SIGTERM still stops it with its outputs",
          .enabled(if: CLI.executable != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/nohup"),
                   "needs the built dip-report and coreutils' nohup"))
    func inpaintUnderNohup() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // nohup starts it with SIGHUP ignored; taking SIGHUP as a stop request must not undo that.
        let p = try startLongInpaint(folder, seed: 7, wrapper: ["/usr/bin/nohup"])
        usleep(4_000_000)
        p.signal(SIGHUP)
        usleep(1_500_000)
        #expect(p.process.isRunning, "SIGHUP stopped a fit started under nohup: \(p.output)")
        p.signal(SIGTERM)
        expectTerminatedWithOutputs(p, in: folder)
    }

    @Test("with the reader of its output gone (`| head`), `inpaint` goes on, and SIGTERM still stops it with its outputs written",
          .enabled(if: CLI.executable != nil && FileManager.default.isExecutableFile(atPath: "/bin/bash"),
                   "needs the built dip-report and bash"))
    func inpaintReaderGone() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // head quits after the first byte; later writes fail (EPIPE). SIGPIPE's default action
        // ended the fit at the next write (here: the message the signal below prints).
        let p = try startLongInpaint(folder, seed: 6, wrapper: ["/bin/bash", "-c", "set -o pipefail; \"$@\" 2>&1 | head -c 1", "bash"])
        usleep(4_000_000)
        let fit = try #require(children(of: p.process.processIdentifier).first { pid in
            ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").contains("inpaint")
        }, "no fit was started: \(p.output)")
        #expect(isRunning(fit))
        kill(fit, SIGTERM)
        expectTerminatedWithOutputs(p, in: folder)  // pipefail: the status is the fit's own
    }

    @Test("no computing thread of a running fit takes SIGINT, SIGTERM, SIGUSR1 or SIGHUP: all block them but the signal thread",
          .enabled(if: CLI.executable != nil && FileManager.default.fileExists(atPath: "/proc/self/task"),
                   "needs the built dip-report and Linux's /proc"))
    func signalsBlockedInEveryThread() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let p = try startLongInpaint(folder, seed: 5, threads: 2, curve: false)
        usleep(4_000_000)
        // A handler that ran on a thread inside oneDNN's JIT code corrupted the heap (about one
        // signal in ten): every thread must block them, OpenMP's and the worker pool's included.
        let tasks = "/proc/\(p.process.processIdentifier)/task"
        let threads = try FileManager.default.contentsOfDirectory(atPath: tasks)
        #expect(threads.count >= 3, "a fit on 2 threads and the signal thread: \(threads)")
        var signalThreads = 0
        for t in threads {
            let name = try String(contentsOfFile: "\(tasks)/\(t)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            if name == "dip-signals" { signalThreads += 1; continue }  // it only writes a byte into a pipe
            let status = try String(contentsOfFile: "\(tasks)/\(t)/status", encoding: .utf8)
            let line = status.split(separator: "\n").first { $0.hasPrefix("SigBlk:") }
            let mask = line.flatMap { UInt64($0.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16) } ?? 0
            for sig in InterruptSignals.all {
                #expect(mask & (1 << UInt64(sig - 1)) != 0, "thread \(t) takes signal \(sig): SigBlk \(String(mask, radix: 16))")
            }
        }
        #expect(signalThreads == 1)
        p.signal(SIGTERM)
        expectTerminatedWithOutputs(p, in: folder, curve: false)
    }

    @Test("a child process (bench's peer) starts with no signal blocked, so Ctrl-C and kill reach it",
          .enabled(if: CLI.executable != nil && FileManager.default.fileExists(atPath: "/proc/self/status"),
                   "needs the built dip-report and Linux's /proc"))
    func childProcessMask() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A peer script that writes down its signal mask and fails (bench then says so).
        let script = folder + "/peer.py"
        try """
        import sys
        open(sys.argv[0] + ".mask", "w").write([l for l in open("/proc/self/status") if l.startswith("SigBlk:")][0])
        sys.exit(3)
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try CLI.run(["bench", "--net", "library-depth2", "--size", "64", "--iterations", "1", "--threads", "1",
                             "--peer", "--peer-script", script], timeout: 120)
        #expect(r.0 != 0 && r.1.contains("benchmark process") && r.1.contains("failed (exit 3)"), "\(r.1)")
        let mask = try String(contentsOfFile: script + ".mask", encoding: .utf8)
        #expect(mask.split(separator: ":").last?.trimmingCharacters(in: .whitespacesAndNewlines) == "0000000000000000", "\(mask)")
    }

    @Test("bench's children end with it: SIGTERM to bench while its peer hangs ends the peer too (it ran on as an orphan); left alone, a hung peer is stopped at --peer-timeout",
          .enabled(if: CLI.executable != nil, "needs the built dip-report"))
    func benchPeerEndsWithBench() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A peer that hangs (ignoring SIGTERM too: the grace, then SIGKILL, ends it).
        let script = folder + "/peer.py"
        try """
        import os, signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(sys.argv[0] + ".pid", "w").write(str(os.getpid()))
        time.sleep(600)
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let p = try CLI.Running(["bench", "--net", "library-depth2", "--size", "64", "--iterations", "1", "--threads", "1",
                                 "--peer", "--peer-script", script], log: folder + "/log")
        #expect(CLI.waitUntil(timeout: 120) { (try? String(contentsOfFile: script + ".pid", encoding: .utf8)).flatMap { Int32($0) } != nil },
                "the peer never started: \(p.output)")
        let peer = try #require(Int32(try String(contentsOfFile: script + ".pid", encoding: .utf8)))
        p.signal(SIGTERM)
        #expect(p.wait(timeout: 30) == 143, "\(p.output)")
        #expect(CLI.waitUntil(timeout: 10) { !isRunning(peer) }, "the peer (pid \(peer)) still runs")
        // Left alone, the hung peer is stopped at its time limit (TERM ignored: KILL after the
        // grace); our row stands, and bench ends saying why the peer's is missing.
        try? FileManager.default.removeItem(atPath: script + ".pid")
        let limited = try CLI.run(["bench", "--net", "library-depth2", "--size", "64", "--iterations", "1", "--threads", "1",
                                   "--peer", "--peer-script", script, "--peer-timeout", "2"], timeout: 120)
        #expect(limited.0 == 1 && limited.1.contains("gave no result within 2 s and was stopped (--peer-timeout sets the limit)")
                && limited.1.contains("dip-report"), "\(limited.1)")
        if let hung = (try? String(contentsOfFile: script + ".pid", encoding: .utf8)).flatMap({ Int32($0) }) {
            #expect(CLI.waitUntil(timeout: 10) { !isRunning(hung) }, "the stopped peer (pid \(hung)) still runs")
        } else { Issue.record("the peer never started: \(limited.1)") }
        // A peer that exits 0 without its result line is named for what it did, and a
        // --peer-script without --peer is refused.
        try "print('garbage')\n".write(toFile: script, atomically: true, encoding: .utf8)
        let r = try CLI.run(["bench", "--net", "library-depth2", "--size", "64", "--iterations", "1", "--threads", "1",
                             "--peer", "--peer-script", script], timeout: 120)
        #expect(r.0 == 1 && r.1.contains("exited 0 but printed no JSON result line"), "\(r.1)")
        let lone = try CLI.run(["bench", "--peer-script", script], timeout: 60)
        #expect(lone.0 == 64 && lone.1.contains("--peer-script \(script): given without --peer"), "\(lone.1)")
    }

    @Test("a second signal quits at once and leaves no temporary file behind, even while a checkpoint is being written",
          .enabled(if: canRunCLI, "needs the built dip-report and ../shared/data"))
    func secondSignal() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A wide net (a checkpoint of about 10 MB); the second signal is sent as soon as the
        // checkpoint the first one asks for is being written.
        let (p, store) = try startLongRun(folder, channels: 128)
        p.signal(SIGINT)
        let caught = CLI.waitUntil(timeout: 30, interval: 1_000) { !CLI.files(under: store.root, containing: ".tmp-").isEmpty }
        // Another signal (the same one within a tenth of a second would count as the first).
        p.signal(SIGTERM)
        #expect(caught, "no checkpoint write was seen")
        #expect(p.wait(timeout: 60) == 130, "\(p.output)")
        #expect(CLI.files(under: store.root, containing: ".tmp-").isEmpty)
    }

    @Test("an interrupted `run --force` refit of a stored run is carried on by the next `run --force`, not thrown away",
          .enabled(if: canRunCLI, "needs the built dip-report and ../shared/data"))
    func forcedRefitResumes() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // 250 iterations, about 8 s here: the refit still runs when status looks, 1.5 s after
        // its claim, on a loaded machine too (150 left a margin of about 2.5 times).
        let catalog = try CLI.slowCatalog(id: "refit", iterations: 250, in: folder)
        let results = folder + "/results"
        let args = ["run", "refit", "--catalog", catalog, "--profile", "paper", "--seeds", "0", "--results", results,
                    "--threads", "1", "--no-estimate", "--data", experimentData!]
        let first = try CLI.Running(args, log: folder + "/first.log")
        #expect(first.wait() == 0, "\(first.output)")
        let store = try ResultStore(root: results)
        guard let stored = store.scan().records.first else { Issue.record("nothing stored: \(first.output)"); return }
        let refit = try CLI.Running(args + ["--force"], log: folder + "/refit.log")
        #expect(CLI.waitUntil(timeout: 120) { !CLI.files(under: results, containing: ".claim").isEmpty }, "\(refit.output)")
        usleep(1_500_000)
        // status shows the refit as running (the run also counts as stored until it is replaced).
        let (_, during) = try CLI.run(["status", "--results", results])
        #expect(during.contains("  refit: 1 / 1 / 0 / 0 / 0") && during.contains("    running refit/"), "\(during)")
        // Without a plan, what status cannot know is said: runs not started, and failures.
        #expect(during.contains("runs not yet started are not counted as missing") && during.contains("is not counted as failed"), "\(during)")
        refit.signal(SIGTERM)
        #expect(refit.wait(timeout: 60) == 143, "\(refit.output)")
        #expect(refit.output.contains("checkpointed at iteration"), "\(refit.output)")
        // Neither a plain run nor a dry run takes the refit's checkpoint for a leftover.
        let plain = try CLI.Running(args, log: folder + "/plain.log")
        #expect(plain.wait() == 0, "\(plain.output)")
        #expect(plain.output.contains("run --force` carries it on"), "\(plain.output)")
        #expect(CLI.files(under: results, containing: ".checkpoint").count == 1, "\(plain.output)")
        let again = try CLI.Running(args + ["--force"], log: folder + "/again.log")
        // Once it says it resumed, its claim says from where (it said 0 until the first
        // heartbeat, and status showed the run started over).
        let at = refit.output.components(separatedBy: "checkpointed at iteration ").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) }
        #expect(CLI.waitUntil(timeout: 60) { again.output.contains("from its checkpoint at iteration") }, "\(again.output)")
        if let at, let seen = store.currentClaim(stored.key)?.iteration {
            #expect(seen >= at, "the resumed run's claim said iteration \(seen), its checkpoint \(at)")
        }
        #expect(again.wait() == 0, "\(again.output)")
        #expect(again.output.contains("from its checkpoint at iteration"), "\(again.output)")
        // The same fit: a resume gives the uninterrupted run's bits.
        let redone = store.scan().records.first
        #expect(redone?.losses == stored.losses && redone?.final == stored.final && redone?.resumes == 1, "\(again.output)")
        #expect(CLI.files(under: results, containing: ".checkpoint").isEmpty)
    }

    @Test("two `run`s on one results folder: each run is fitted once, both exit 0, nothing is left over",
          .enabled(if: canRunCLI, "needs the built dip-report and ../shared/data"))
    func twoRunners() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let catalog = try CLI.slowCatalog(id: "pair", iterations: 60, in: folder)
        let results = folder + "/results"
        let args = ["run", "pair", "--catalog", catalog, "--profile", "paper", "--seeds", "0,1,2", "--results", results,
                    "--jobs", "1", "--threads", "1", "--no-estimate", "--data", experimentData!]
        let a = try CLI.Running(args, log: folder + "/a.log"), b = try CLI.Running(args, log: folder + "/b.log")
        #expect(a.wait() == 0, "\(a.output)")
        #expect(b.wait() == 0, "\(b.output)")
        let lines = (a.output + b.output).split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("done ") }.count == 3, "\(a.output)\n\(b.output)")
        let store = try ResultStore(root: results)
        #expect(store.scan().records.count == 3 && store.scan().problems.isEmpty)
        #expect(store.sweep(remove: false).isEmpty)
        #expect(CLI.files(under: results, containing: ".checkpoint").isEmpty && CLI.files(under: results, containing: ".claim").isEmpty)
    }
}

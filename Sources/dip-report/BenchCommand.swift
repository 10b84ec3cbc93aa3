import ArgumentParser
import DIPCore
import DIPEngine
import Foundation

/// `dip-report bench`: seconds per iteration of the fit, ours and (optionally) PyTorch's.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure seconds per fit iteration (a benchmark, not a test).",
        discussion: """
            Without --net/--size it measures the table1 and text networks at 256x256 and 512x512, \
            each in a fresh process so that peak memory is per configuration. With --peer it also \
            runs bench/dip_torch.py (PyTorch, written from the spec) with the same settings in the \
            same run, for a side-by-side figure.

            Each configuration runs a warm-up iteration, then --iterations timed ones that sample \
            PSNR every --psnr-every iterations as a fit does; s/iter is their total over their \
            number, the rate a fit shows (the median iteration is printed beside it). After the \
            fit it measures the machine's FMA peak for the instruction set oneDNN uses, on the \
            same threads (about 0.2 s), and prints the effective GFLOP/s as a share of it.

            With --rounds N each configuration runs N times, ours and the peer's in turns, and a \
            line per configuration gives the range and median of each and of the rounds' ratios: \
            on a shared machine one pair of runs gives the ratio of the moment.

            Example: dip-report bench --threads 2 --peer --rounds 3
            """)

    @Option(help: ArgumentHelp("Network preset: \(SkipConfig.presetNames.joined(separator: ", ")) (default: table1 and text).", valueName: "PRESET"))
    var net: String?

    @Option(parsing: .unconditional, help: "Side of the square input, 64 to \(Image.maxSide) (default: 256 and 512).")
    var size: Int?

    @Option(parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?

    @Option(parsing: .unconditional, help: "Timed iterations after one warm-up.")
    var iterations: Int = Benchmark.defaultIterations

    @Option(name: .customLong("psnr-every"), parsing: .unconditional, help: "Sample PSNR every this many iterations, as a fit does (default: a fit's default, 10).")
    var psnrEvery: Int?

    @Option(help: "Convolution algorithm: auto (Winograd for 3x3 stride 1 where it is the faster, direct elsewhere), direct or winograd.")
    var conv: ConvAlgorithm = .auto

    @OptionGroup var devices: DeviceOptions

    @Flag(help: "Also run the PyTorch peer (python3 bench/dip_torch.py) on the same configurations (on the same device).")
    var peer = false

    @Option(name: .customLong("peer-script"), help: "Path of the peer script (relative to the current directory; default bench/dip_torch.py); with --peer.")
    var peerScriptOption: String?

    /// The peer script `--peer` runs.
    private var peerScript: String { peerScriptOption ?? "bench/dip_torch.py" }

    @Option(name: .customLong("peer-timeout"), parsing: .unconditional,
            help: ArgumentHelp("Seconds one peer run may take before it is stopped and the peer's rows are left out, 1 to \(Self.maxPeerTimeout) (default: 600, or 60 times our own run of that configuration, whichever is longer); with --peer.", valueName: "seconds"))
    var peerTimeout: Int?

    /// The most `--peer-timeout`: a day.
    static let maxPeerTimeout = 86_400

    /// Seconds the peer's run of a configuration may take, given our own run's: a peer that hung
    /// (a stuck import, a script waiting on input) held bench for ever.
    private func peerLimit(after ours: BenchmarkResult) -> Double {
        if let peerTimeout { return Double(peerTimeout) }
        return max(600, 60 * ours.iterationSeconds * Double(ours.iterations + 1))
    }

    @Option(parsing: .unconditional, help: "Runs of each configuration, ours and the peer's in turns, 1 to \(Self.maxRounds); above 1 a line per configuration gives the range and median of each and of the rounds' ratios.")
    var rounds: Int = 1

    /// The most `--rounds`: each is a fresh process per configuration (and one for the peer).
    static let maxRounds = 20

    @Flag(help: "Also print the time of each step of the passes (each layer, or a BatchNorm with the convolution it feeds), per iteration; CPU only.")
    var layers = false

    @Flag(help: "Print JSON lines instead of a table.")
    var json = false

    func validate() throws {
        if let problem = FitConfig.iterationsProblem(iterations) { throw ValidationError("--iterations \(iterations): \(problem)") }
        if let p = psnrEvery, p < 1 { throw ValidationError("--psnr-every \(p): at least 1") }
        try Parallelism.check(threads, flag: "--threads")
        // Here, not in each child process: every child would fail on it, each saying so.
        if let net { try checkPreset(net) }
        if let s = size, !(64...Image.maxSide).contains(s) {
            throw ValidationError("--size \(s): from 64 to \(Image.maxSide) (a fit at a size its machine cannot hold says so before it starts)")
        }
        if !(1...Self.maxRounds).contains(rounds) { throw ValidationError("--rounds \(rounds): from 1 to \(Self.maxRounds)") }
        // Checked before anything runs: the peer goes after our own (long) runs, and python3's
        // own message about a missing file would come only then, inside a failed child's.
        if let script = peerScriptOption, !peer {
            throw ValidationError("--peer-script \(script): given without --peer, which runs it; add --peer")
        }
        if let t = peerTimeout {
            if !peer { throw ValidationError("--peer-timeout \(t): given without --peer, whose runs it bounds; add --peer") }
            if !(1...Self.maxPeerTimeout).contains(t) { throw ValidationError("--peer-timeout \(t): from 1 to \(Self.maxPeerTimeout) seconds") }
        }
        if peer, !FileManager.default.isReadableFile(atPath: peerScript) {
            throw ValidationError("--peer-script \(peerScript): no such file from \(FileManager.default.currentDirectoryPath); "
                                  + "run bench from the repository's root (where bench/dip_torch.py is) or give the script's path")
        }
    }

    func run() throws {
        let threadCount = threads ?? Parallelism.defaultThreads
        if let warning = Parallelism.warning(threads, flag: "--threads") { printNote(warning) }
        let nets = net.map { [$0] } ?? ["table1", "text"]
        let sizes = size.map { [$0] } ?? [256, 512]
        if nets.count == 1 && sizes.count == 1 && !peer && rounds == 1 {
            // One configuration in this process.
            let r = try Benchmark.run(net: nets[0], size: sizes[0], threads: threadCount, iterations: iterations,
                                      psnrEvery: psnrEvery, conv: conv, backends: try devices.factory(), layers: layers)
            emit([r])
            return
        }
        // From here on the work is in child processes: a stop signal ends them with bench.
        RunningChildren.endWithStopSignals()
        var rows: [BenchmarkResult] = []
        var summaries: [String] = []
        var peerFailure: String? = nil
        let sampling = psnrEvery.map { ["--psnr-every", "\($0)"] } ?? []
        // Resolved once here, so `auto` means the same device for every child and the peer.
        let factory = try devices.factory()
        let onGPU = factory.name != BackendFactory.cpu.name
        let device = ["--device", onGPU ? "cuda" : "cpu"] + (onGPU ? ["--gpu-math", devices.gpuMath.rawValue] : [])
        for n in nets {
            for s in sizes {
                var oursSeconds: [Double] = [], peerSeconds: [Double] = [], peerName = "peer"
                for _ in 0..<rounds {
                    let ours = try runChild([CommandLine.arguments[0], "bench", "--net", n, "--size", "\(s)",
                                             "--threads", "\(threadCount)", "--iterations", "\(iterations)",
                                             "--conv", conv.rawValue, "--json"] + sampling + device
                                            + (layers ? ["--layers"] : []))
                    rows.append(ours)
                    oursSeconds.append(ours.iterationSeconds)
                    if peer, peerFailure == nil {
                        // PyTorch runs with the user's OpenMP settings, as they would run it, and
                        // samples PSNR as often as we did. A peer that fails (PyTorch missing, a
                        // script error) stops the peer's runs, not ours: they are shown.
                        do {
                            let theirs = try runChild(["/usr/bin/env", "python3", peerScript, "--net", n, "--size", "\(s)",
                                                       "--threads", "\(threadCount)", "--iters", "\(iterations)",
                                                       "--json", "--device", onGPU ? "cuda" : "cpu"]
                                                         + (devices.gpuMath == .strict ? ["--no-tf32"] : [])
                                                         + (ours.psnrEvery.map { ["--psnr-every", "\($0)"] } ?? []),
                                                      environment: OpenMPLaunch.userEnvironment(ProcessInfo.processInfo.environment),
                                                      limit: peerLimit(after: ours))
                            rows.append(theirs)
                            peerSeconds.append(theirs.iterationSeconds)
                            peerName = theirs.implementation.split(separator: " ").first.map(String.init) ?? peerName
                        } catch {
                            peerFailure = "\(error)"
                        }
                    }
                }
                if rounds > 1, peerFailure == nil {
                    summaries.append("\(n) \(s), \(rounds) rounds: "
                                     + BenchmarkRounds(ours: oursSeconds, peer: peerSeconds).summary(peerName: peerName))
                }
            }
        }
        emit(rows, summaries: summaries)
        if let peerFailure {
            printError("the peer failed, so its rows are missing (ours are above): \(peerFailure)")
            throw ExitCode.failure
        }
    }

    /// The table of `rows`, then what ran where, then `summaries` (`--rounds`); with --json the
    /// rows alone, one JSON line each.
    private func emit(_ rows: [BenchmarkResult], summaries: [String] = []) {
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            for r in rows { print(String(decoding: (try? enc.encode(r)) ?? Data(), as: UTF8.self)) }
            return
        }
        let name = max(14, rows.map { $0.implementation.count }.max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        // The peer runs on the same machine and threads: its share is of the peak our run measured.
        var peaks: [String: FMAPeak] = [:]
        for r in rows { if let p = r.fmaPeak { peaks["\(r.net) \(r.size)"] = p } }
        print(pad("implementation", name) + "  " + pad("net", 7)
              + "  size  threads  conv      s/iter  median    fwd     bwd     opt  GFLOP/s  % peak  peak MiB")
        for r in rows {
            let share = peaks["\(r.net) \(r.size)"].map { String(format: "%6.0f", 100 * r.gflops / $0.gflops) } ?? "     -"
            print(pad(r.implementation, name) + "  " + pad(r.net, 7)
                  + String(format: "  %4d  %7d  ", r.size, r.threads) + pad(String(r.conv.prefix(8)), 8)
                  + String(format: "  %6.3f  %6.3f  ", r.iterationSeconds, r.medianIterationSeconds ?? .nan)
                  + (r.batchedSeconds == nil
                     ? String(format: "%6.3f  %6.3f  %6.3f", r.forwardSeconds, r.backwardSeconds, r.optimizerSeconds)
                     : "     -       -       -")
                  + String(format: "  %7.1f  ", r.gflops)
                  + share + String(format: "  %8.0f", r.peakMemoryMiB))
        }
        if let r = rows.first(where: { $0.psnrEvery != nil }) {
            print("s/iter: \(r.iterations) timed iteration\(r.iterations == 1 ? "" : "s") after a warm-up one, PSNR sampled every \(r.psnrEvery!) as in a fit; their total over their number")
        }
        var padded = Set<String>()
        for r in rows {
            guard let canvas = r.canvas, padded.insert("\(r.net) \(r.size)").inserted else { continue }
            print("\(r.net) \(r.size): the network needs a \(canvas)x\(canvas) canvas, so it ran there as `inpaint` runs such an image; "
                  + "s/iter is a \(r.size)x\(r.size) image's, GFLOP/s the canvas's")
        }
        if rows.contains(where: { $0.batchedSeconds != nil }) {
            print("fwd/bwd/opt: - where most iterations ran in batches (replayed graphs on a GPU), which are not timed phase by phase")
        }
        // What ran where: the ISA oneDNN chose, the machine's FMA peak for it, and the algorithms
        // `--conv` resolved to.
        for device in Set(rows.compactMap(\.device)).sorted() { print("device: \(device)") }
        // One line per kernel and thread count, a range where runs (--rounds) measured several.
        let measured = Dictionary(grouping: rows.compactMap(\.fmaPeak)) { "\($0.isa) \($0.threads)" }
        for key in measured.keys.sorted() { print("FMA peak: " + Self.describe(measured[key]!)) }
        var described = Set<String>()
        for r in rows {
            if let c = r.convolutions, described.insert("\(r.net) \(r.size)").inserted { print("\(r.net) \(r.size): \(c)") }
        }
        for line in summaries { print(line) }
        for r in rows { if let steps = r.layers { printSteps(steps, of: r) } }
    }

    /// Each step's milliseconds and share of the iteration, then what the steps leave out.
    private func printSteps(_ steps: [LayerTime], of r: BenchmarkResult) {
        print("\(r.net) \(r.size), each step of the passes (ms an iteration over the \(r.iterations) timed iterations, share of "
              + String(format: "%.1f ms", 1000 * r.iterationSeconds) + "):")
        let width = max(20, steps.map(\.step.count).max() ?? 0)
        for s in steps {
            print("  " + s.pass.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
                  + s.step.padding(toLength: width, withPad: " ", startingAt: 0)
                  + String(format: "  %8.2f  %5.1f %%", 1000 * s.seconds, 100 * s.seconds / r.iterationSeconds))
        }
        let total = steps.reduce(0) { $0 + $1.seconds }
        print(String(format: "  the steps: %.1f of %.1f ms; the rest is Adam, PSNR sampling and the loop's own work",
                     1000 * total, 1000 * r.iterationSeconds))
    }

    /// "190 GFLOP/s (avx2 FMA, 2 threads; 96 on 1 thread)" for peaks of one kernel and thread
    /// count, with ranges ("188-190") where they differ.
    private static func describe(_ peaks: [FMAPeak]) -> String {
        func range(_ values: [Double]) -> String {
            let lo = String(format: "%.0f", values.min() ?? 0), hi = String(format: "%.0f", values.max() ?? 0)
            return lo == hi ? lo : "\(lo)-\(hi)"
        }
        let p = peaks[0]
        return "\(range(peaks.map(\.gflops))) GFLOP/s (\(p.isa) FMA, \(p.threads) thread\(p.threads == 1 ? "" : "s")"
            + (p.threads > 1 ? "; \(range(peaks.map(\.singleThreadGFLOPs))) on 1 thread)" : ")")
    }

    /// Runs a child benchmark process and decodes its one JSON line; one still running after
    /// `limit` seconds is stopped (`RunningChildren.stop(_:after:)`) and is a failure.
    private func runChild(_ argv: [String], environment: [String: String]? = nil, limit: Double? = nil) throws -> BenchmarkResult {
        let p = Process()
        if let environment { p.environment = environment }
        p.executableURL = URL(fileURLWithPath: argv[0] == CommandLine.arguments[0]
                              ? (Bundle.main.executablePath ?? argv[0]) : argv[0])
        p.arguments = Array(argv.dropFirst())
        let pipe = Pipe()
        p.standardOutput = pipe
        try RunningChildren.shared.start(p)
        let deadline = limit.map { RunningChildren.shared.stop(p, after: $0) }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        deadline?.cancel()
        RunningChildren.shared.finished(p)
        func failure(_ why: String) -> Error {
            // A run that failed is no usage error (64): its own message is on standard error above.
            DIPError.invalidValue(name: "benchmark process", value: argv.joined(separator: " "), reason: why)
        }
        if let limit, deadline?.passed == true {
            throw failure("gave no result within \(Int(limit.rounded())) s and was stopped (--peer-timeout sets the limit)")
        }
        guard p.terminationStatus == 0 else { throw failure("failed (exit \(p.terminationStatus))") }
        guard let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw failure("exited 0 but printed no JSON result line (a peer script must print bench/dip_torch.py's --json line)")
        }
        do { return try JSONDecoder().decode(BenchmarkResult.self, from: Data(line.utf8)) } catch {
            throw failure("printed a JSON line that is not a benchmark result (\(error)): \(line.prefix(200))")
        }
    }
}

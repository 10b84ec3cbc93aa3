import ArgumentParser
import DIPCore
import DIPEngine
import DIPExperiments
import Foundation

/// `dip-report run`: runs the experiments of the report that are not stored yet.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the report's experiments; what is stored already is skipped.",
        discussion: """
            Every run is keyed by (experiment, image, configuration hash, seed) and stored as \
            RESULTS/<experiment>/<image>/<hash>-s<seed>.json with its pictures beside it. Ctrl-C \
            stops cleanly: finished runs stay, a fit keeps a checkpoint (also written every few \
            minutes), and the next `run` carries on from it to the same result bit for bit.

            Experiments: table1-paper, table1-seed, table1-tv, width, depth, library, optimizers, \
            era (it compares with table1-paper's runs, so `run era` plans those too; stored ones \
            are reused) (and those of --catalog FILE, a JSON array of experiments: `run optimizers \
            --print-catalog` prints one to start from).
            Profiles: paper (the protocols as written), quick (about 35 minutes on 2 cores), \
            smoke (under 2 minutes; checks the plumbing).

            Examples:
              dip-report run --profile smoke
              dip-report run table1-paper --profile paper --seeds 0,1,2 --results results
              dip-report run width depth --profile quick --jobs 1 --threads 2
            """)

    @Argument(help: ArgumentHelp("Experiments to run (default: all).", valueName: "EXPERIMENT"))
    var experiments: [String] = []

    @Option(help: "Profile: paper, quick or smoke.")
    var profile: String = "paper"

    @Option(help: ArgumentHelp("Comma-separated seeds (default: the profile's; paper: 0,1,2).", valueName: "0,1,2"))
    var seeds: String?

    @Option(help: "Runs at once (default: one per core, one per 6 GiB of memory at most).")
    var jobs: Int?

    @Option(help: "Threads per run (default: cores / jobs).")
    var threads: Int?

    @Option(help: ArgumentHelp("The results folder.", valueName: "DIR"))
    var results: String = "results"

    @OptionGroup var dataOptions: DataCommand.DataOptions

    @Option(help: ArgumentHelp("More experiments from a JSON file (an array of experiments; --print-catalog shows the format).", valueName: "FILE"))
    var catalog: String?

    @Flag(name: .customLong("print-catalog"), help: "Print the selected experiments as catalog JSON (a template for --catalog) and stop.")
    var printCatalog = false

    @Flag(help: "Run again what is stored (replaces the records).")
    var force = false

    @Option(name: .customLong("checkpoint-minutes"), help: "Minutes between checkpoints of a long run.")
    var checkpointMinutes: Double = 5

    @Flag(name: .customLong("dry-run"), help: "Print the plan and the estimate, run nothing.")
    var dryRun = false

    @Flag(name: .customLong("no-estimate"), help: "Skip the short speed measurement before a long build.")
    var noEstimate = false

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs \(jobs): at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads \(threads): at least 1") }
        if !(checkpointMinutes > 0) { throw ValidationError("--checkpoint-minutes \(checkpointMinutes): must be positive") }
        if let seeds, parseSeeds(seeds) == nil { throw ValidationError("--seeds \(seeds): give comma-separated non-negative integers, e.g. 0,1,2") }
    }

    private func parseSeeds(_ text: String) -> [UInt64]? {
        let parts = text.split(separator: ",").map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        var seen = Set<UInt64>()
        return parts.compactMap { $0 }.filter { seen.insert($0).inserted }
    }

    func run() throws {
        let profile = try Profile.named(self.profile)
        let all = try Catalog.all(userFile: catalog)
        let named = try Catalog.select(experiments, from: all)
        if printCatalog { print(try Catalog.json(named)); return }
        let selected = Catalog.withBaselines(named, from: all)
        for e in selected where !named.contains(where: { $0.id == e.id }) {
            print("\(e.id) is planned too: it holds the reference runs of \(named.filter { $0.baseline == e.id }.map(\.id).joined(separator: ", ")) (stored ones are reused)")
        }
        let options = RunnerOptions(dataDirectory: dataOptions.directory, profile: profile,
                                    seeds: seeds.flatMap(parseSeeds), jobs: jobs, threadsPerJob: threads, force: force,
                                    checkpoints: CheckpointSchedule(seconds: checkpointMinutes * 60))
        let store = try ResultStore(root: results)
        let runner = Runner(store: store, options: options)
        let plan = try runner.plan(selected)

        for p in plan.problems { printError("\(p) (skipped, not overwritten)") }
        let pending = plan.pending
        let stored = plan.runs.filter { $0.state == .stored }.count
        let blocked = plan.runs.filter { if case .blocked = $0.state { return true } else { return false } }.count
        let resumable = pending.filter { $0.state == .checkpointed }.count
        let iterations = pending.reduce(0) { $0 + $1.iterations }
        print("profile \(profile.name): \(profile.summary)")
        print("\(plan.runs.count) runs in \(selected.count) experiment\(selected.count == 1 ? "" : "s") x \(options.seeds.count) seed\(options.seeds.count == 1 ? "" : "s") (\(options.seeds.map(String.init).joined(separator: ","))): \(pending.count) to run\(resumable > 0 ? " (\(resumable) from a checkpoint)" : ""), \(stored) stored\(blocked > 0 ? ", \(blocked) blocked by unreadable records" : ""); \(iterations.formatted()) iterations")
        print("\(options.jobs) job\(options.jobs == 1 ? "" : "s") x \(options.threadsPerJob) thread\(options.threadsPerJob == 1 ? "" : "s") on \(ProcessInfo.processInfo.activeProcessorCount) cores; results in \(results)")
        guard !pending.isEmpty else { print("nothing to run"); return }
        if !noEstimate, profile.name != Profile.smoke.name {
            let est = try runner.estimate(plan)
            print(String(format: "estimate: about %@ on this machine (measured %.1f GMAC/s per run)",
                         ProgressPrinter.duration(est.seconds), est.macsPerSecond / 1e9))
        }
        fflush(nil)  // the plan and estimate should be seen before hours of work start
        if dryRun { return }

        let interrupt = InterruptFlag.install()
        let work: @Sendable (PlannedRun) -> Double = { Double(max($0.macsPerForward, 50 * $0.size.width * $0.size.height * $0.channels)) * Double($0.iterations) }
        let display = RunsProgressDisplay(runs: pending.count, totalWork: pending.reduce(0) { $0 + work($1) })
        let summary = runner.execute(plan, events: { event in
            switch event {
            case let .started(run, _, resumedAt):
                display.started(key: run.key.description, label: run.label, total: run.iterations, work: work(run), resumedAt: resumedAt)
            case let .progress(key, done, total, psnr):
                display.progress(key: key.description, done: done, total: total, psnr: psnr)
            case .checkpointed:
                break
            case let .finished(run, record):
                let f = record.final.map { String(format: "final %.2f dB", $0.psnr) } ?? "final n/a"
                let b = record.best.map { String(format: ", best %.2f dB", $0.psnr) } ?? ""
                let at = record.bestIteration.map { " at \($0)" } ?? ""
                display.ended(key: run.key.description, line: "\(record.status == .done ? "done" : "DIVERGED") \(run.key) (\(run.label)): \(f)\(b)\(at), \(ProgressPrinter.duration(record.wallSeconds))", countsAsDone: true)
            case let .interrupted(run, at):
                display.ended(key: run.key.description, line: at.map { "interrupted \(run.key): checkpointed at iteration \($0)" } ?? "interrupted \(run.key): discarded (it restarts next time)", countsAsDone: false)
            case let .failed(run, why):
                display.ended(key: run.key.description, line: "FAILED \(run.key): \(why)", countsAsDone: false)
            case let .note(text):
                display.line("note: \(text)")
            }
        }, shouldCancel: { interrupt.isSet })
        display.finish()
        print("\(summary.done) done, \(summary.diverged) diverged, \(summary.failed) failed, \(summary.interrupted) interrupted, \(summary.skipped) skipped")
        if let why = summary.stopReason {
            printError("stopped early: \(why); run the same command again to carry on")
            throw ExitCode(interrupt.isSet ? 130 : 1)
        }
        if summary.failed > 0 { throw ExitCode(1) }
    }
}

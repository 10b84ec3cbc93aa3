import ArgumentParser
import DIPCore
import DIPEngine
import DIPExperiments
import Foundation

/// Which runs: the options `run`, `build` and `submit` share.
struct SelectionOptions: ParsableArguments {
    // Optional, with the default applied below: `run --plan` refuses what was given (the plan
    // fixes it), and a default cannot be told from a given value otherwise.
    @Option(name: .customLong("profile"), help: "Profile: paper (the full replication), quick or smoke (default: paper).")
    var givenProfile: String?

    /// The profile's name: the given one, else paper.
    var profile: String { givenProfile ?? "paper" }

    // .unconditional: "-1" is this option's (wrong) value, not a flag the value is missing before.
    @Option(parsing: .unconditional, help: ArgumentHelp("Comma-separated seeds (default: the profile's; paper: 0,1,2).", valueName: "0,1,2"))
    var seeds: String?

    @Option(name: .customLong("results"), help: ArgumentHelp("The results folder (default: results).", valueName: "DIR"))
    var givenResults: String?

    /// The results folder: the given one, else ./results.
    var results: String { givenResults ?? "results" }

    @OptionGroup var dataOptions: DataCommand.DataOptions

    @Option(help: ArgumentHelp("More experiments from a JSON file (an array of experiments; `run --print-catalog` shows the format).", valueName: "FILE"))
    var catalog: String?

    func validate() throws {
        if let givenProfile { try Self.checkProfile(givenProfile) }
        if let seeds, Self.parseSeeds(seeds) == nil { throw ValidationError("--seeds \(seeds): give comma-separated non-negative integers, e.g. 0,1,2") }
    }

    /// The flags given on the command line (`run --plan` names them: the plan fixes them).
    var givenFlags: [String] {
        flagsGiven([("--profile", givenProfile != nil), ("--seeds", seeds != nil), ("--results", givenResults != nil),
         ("--data", dataOptions.data != nil), ("--catalog", catalog != nil)])
    }

    /// Refuses a profile name that is none of the profiles, as a usage error (exit 64).
    static func checkProfile(_ name: String) throws {
        do { _ = try Profile.named(name) } catch { throw ValidationError("\(error)") }
    }

    /// The seeds given, duplicates dropped; nil for the profile's.
    var seedList: [UInt64]? { seeds.flatMap(Self.parseSeeds) }

    private static func parseSeeds(_ text: String) -> [UInt64]? {
        let parts = text.split(separator: ",").map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        var seen = Set<UInt64>()
        return parts.compactMap { $0 }.filter { seen.insert($0).inserted }
    }

    /// The named experiments (all of the catalog and `--catalog` when none are named) and,
    /// with `baselines`, the experiments whose runs they compare with (`era` reads
    /// `table1-paper`'s), which are planned too; stored ones are reused.
    func experiments(_ ids: [String], baselines: Bool = true) throws -> [Experiment] {
        let all = try Catalog.all(userFile: catalog)
        // An unknown name is a usage error (exit 64), as an unknown --profile is.
        let named: [Experiment]
        do { named = try Catalog.select(ids, from: all) } catch let error as DIPError { throw ValidationError(error.description) }
        guard baselines else { return named }
        let selected = Catalog.withBaselines(named, from: all)
        for e in selected where !named.contains(where: { $0.id == e.id }) {
            print("\(e.id) is planned too: it holds the reference runs of \(named.filter { $0.baseline == e.id }.map(\.id).joined(separator: ", ")) (stored ones are reused)")
        }
        return selected
    }
}

/// How runs go on this machine: `run` and `build`.
struct ExecutionOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Runs at once (default: one per core, one per 6 GiB of memory at most).")
    var jobs: Int?

    @Option(parsing: .unconditional, help: "Threads per run (default: cores / jobs).")
    var threads: Int?

    @OptionGroup var checkpoint: CheckpointOptions

    @OptionGroup var devices: DeviceOptions

    func validate() throws {
        // Bounded by the cores (issue 11.9): thousands of jobs or threads stall the machine.
        try Parallelism.check(jobs, flag: "--jobs")
        try Parallelism.check(threads, flag: "--threads")
        if let jobs, let threads, jobs * threads > Parallelism.limit {
            throw ValidationError("--jobs \(jobs) x --threads \(threads): at most \(Parallelism.limit) threads in all (\(Parallelism.oversubscription) per core on \(Parallelism.cores) cores)")
        }
    }

    /// The flags given on the command line.
    var givenFlags: [String] {
        flagsGiven([("--jobs", jobs != nil), ("--threads", threads != nil)]) + checkpoint.givenFlags + devices.givenFlags
    }
}

/// How often fits checkpoint: `run`, `build` and `submit`.
struct CheckpointOptions: ParsableArguments {
    @Option(name: .customLong("checkpoint-minutes"), parsing: .unconditional, help: "Minutes between checkpoints of a long run (default: 5).")
    var givenCheckpointMinutes: Double?

    /// Minutes between checkpoints: the given number, else 5.
    var checkpointMinutes: Double { givenCheckpointMinutes ?? 5 }

    /// The flags given on the command line.
    var givenFlags: [String] { givenCheckpointMinutes == nil ? [] : ["--checkpoint-minutes"] }

    func validate() throws {
        if !CheckpointSchedule.accepts(seconds: checkpointMinutes * 60) {
            throw ValidationError("--checkpoint-minutes \(checkpointMinutes): more than 0 and at most \(Int(CheckpointSchedule.maxSeconds / 60)) (a week)")
        }
    }

    var schedule: CheckpointSchedule { CheckpointSchedule(seconds: checkpointMinutes * 60) }
}

/// What `run` and `build` share: plan the selected runs, print the plan, run what is missing
/// with a live display, and turn the outcome into an exit status.
enum LocalRun {
    /// Plans and runs `experimentIDs` (all when empty); throws `ExitCode` 130/143 when a signal
    /// stopped it, 1 when a run failed. Returns how many runs were left to other runners (in
    /// flight elsewhere when their turn came).
    @discardableResult
    static func perform(selection: SelectionOptions, experimentIDs: [String], execution: ExecutionOptions,
                        force: Bool = false, dryRun: Bool = false, estimate: Bool = true) throws -> Int {
        let profile = try Profile.named(selection.profile)
        let selected = try selection.experiments(experimentIDs)
        let options = RunnerOptions(dataDirectory: selection.dataOptions.directory, profile: profile,
                                    seeds: selection.seedList, jobs: execution.jobs, threadsPerJob: execution.threads,
                                    force: force, checkpoints: execution.checkpoint.schedule, backend: try execution.devices.factory())
        // A dry run leaves no trace: the results folder it made for planning goes again, with
        // the parents it made (only while empty, so never anything stored).
        let made = OutputFiles.missingFolders(selection.results)
        defer { if dryRun { OutputFiles.removeEmpty(made) } }
        let (runner, plan) = try OutputFiles.removingCreatedFolder(selection.results) {
            let store = try ResultStore(root: selection.results)
            let runner = Runner(store: store, options: options)
            reportLeftovers(store, remove: !dryRun)
            return (runner, try runner.plan(selected))
        }

        for p in plan.problems { printError("\(p) (skipped, not overwritten)") }
        for n in plan.notes { printNote(n) }
        try relabel(plan, runner: runner, dryRun: dryRun)
        let pending = plan.pending
        let stored = plan.runs.filter { $0.state == .stored }.count
        let blocked = plan.runs.filter { if case .blocked = $0.state { return true } else { return false } }.count
        let resumable = plan.fitted.filter { $0.state == .checkpointed }.count  // a copy drops its checkpoint
        let copies = pending.count - plan.fitted.count
        let iterations = plan.fitted.reduce(0) { $0 + $1.iterationsLeft }
        print("profile \(profile.name): \(profile.summary)")
        print("\(plan.runs.count) runs in \(selected.count) experiment\(selected.count == 1 ? "" : "s") x \(options.seeds.count) seed\(options.seeds.count == 1 ? "" : "s") (\(options.seeds.map(String.init).joined(separator: ","))): \(pending.count) to run\(resumable > 0 ? " (\(resumable) from a checkpoint)" : "")\(copies > 0 ? " (\(copies) copied from a twin: the same configuration and seed in another experiment)" : ""), \(stored) stored\(blocked > 0 ? ", \(blocked) blocked by unreadable records" : ""); \(iterations.formatted()) iterations")
        let cores = HostCPU.usableCores
        print("\(options.jobs) job\(options.jobs == 1 ? "" : "s") x \(options.threadsPerJob) thread\(options.threadsPerJob == 1 ? "" : "s") on \(cores) core\(cores == 1 ? "" : "s"); results in \(selection.results)")
        if let warning = Parallelism.warning(jobs: options.jobs, threads: options.threadsPerJob) { printNote(warning) }
        // Runs blocked by unreadable records are work the user asked for that cannot happen:
        // never a silent success (issue 11.12); --force does not overwrite files it did not write.
        let blockedMessage = "\(blocked) run\(blocked == 1 ? " is" : "s are") blocked by unreadable records (listed above); move or delete those files and run again (--force never overwrites files dip-report cannot read)"
        guard !pending.isEmpty else {
            print("nothing to run")
            if blocked > 0 { printError(blockedMessage); throw ExitCode.failure }
            return 0
        }
        if estimate, profile.name != Profile.smoke.name {
            let est = try runner.estimate(plan)
            // A plan of TV runs only has no network to measure a rate of.
            let rate = est.macsPerSecond > 0 ? String(format: " (measured %.1f GMAC/s per run)", est.macsPerSecond / 1e9) : ""
            print("estimate: about \(ProgressPrinter.duration(est.seconds)) on this machine\(rate)")
        }
        fflush(nil)  // the plan and estimate should be seen before hours of work start
        if dryRun { return 0 }
        let elsewhere = try execute(plan, runner: runner)
        if blocked > 0 { printError(blockedMessage); throw ExitCode.failure }
        return elsewhere
    }

    /// Gives stored runs the catalog's new labels and groups (`Runner.relabel`; neither is
    /// hashed, so a renamed configuration keeps its runs), saying how many; a dry run only says.
    static func relabel(_ plan: RunPlan, runner: Runner, dryRun: Bool) throws {
        let n = plan.relabelled.count
        guard n > 0 else { return }
        if !dryRun { try runner.relabel(plan) }
        print("\(n) stored run\(n == 1 ? "" : "s") \(dryRun ? "would take" : "took") the catalog's new label or group")
    }

    /// Prints (and, with `remove`, deletes) what interrupted or concurrent runners left behind.
    static func reportLeftovers(_ store: ResultStore, remove: Bool) {
        for l in store.sweep(remove: remove) { printNote("leftover: \(l)") }
    }

    /// Runs `plan` with the live display; the exit status says how it ended. Returns how many
    /// runs were left to other runners. `carryOn` says how to go on after an interruption.
    @discardableResult
    static func execute(_ plan: RunPlan, runner: Runner, carryOn: String = "run the same command again") throws -> Int {
        let pending = plan.pending
        let interrupt = InterruptFlag.install(onQuit: { runner.removeOwnTemporaries() })
        let work: @Sendable (PlannedRun) -> Double = { Double(max($0.macsPerForward, 50 * $0.size.width * $0.size.height * $0.channels)) * Double($0.iterations) }
        // Copies of twins take no work: the bar and the ETA count the fits.
        let display = RunsProgressDisplay(runs: pending.count, totalWork: plan.fitted.reduce(0) { $0 + work($1) })
        let summary = runner.execute(plan, events: { event in
            switch event {
            case let .started(run, _, resumedAt):
                // Said in the log too: a requeued task's log should show where it carried on.
                if let resumedAt { display.line("resumed \(run.key) (\(run.label)) from its checkpoint at iteration \(resumedAt)") }
                display.started(key: run.key.description, label: run.label, total: run.iterations, work: work(run), resumedAt: resumedAt)
            case let .progress(key, done, total, psnr):
                display.progress(key: key.description, done: done, total: total, psnr: psnr)
            case .checkpointed:
                break
            case let .finished(run, record):
                let f = record.final.map { String(format: "final %.2f dB", $0.psnr) } ?? "final n/a"
                let b = record.best.map { String(format: ", best %.2f dB", $0.psnr) } ?? ""
                let at = record.bestIteration.map { " at \($0)" } ?? ""
                display.ended(key: run.key.description, line: "\(record.status == .done ? "done" : "DIVERGED") \(run.key) (\(run.label)): \(f)\(b)\(at), \(record.copiedFrom.map { "copied from \($0), the same configuration and seed in another experiment" } ?? ProgressPrinter.duration(record.wallSeconds))", countsAsDone: true,
                              copied: record.copiedFrom != nil)
            case let .interrupted(run, at):
                display.ended(key: run.key.description, line: at.map { "interrupted \(run.key): checkpointed at iteration \($0)" } ?? "interrupted \(run.key): discarded (it restarts next time)", countsAsDone: false)
            case let .failed(run, why):
                display.ended(key: run.key.description, line: "FAILED \(run.key): \(why)", countsAsDone: false)
            case let .claimedElsewhere(run, by):
                let line: String
                if let by, by.isUnreadable {
                    // Garbage where a claim belongs blocks the run until it is as old as a stale claim.
                    line = "elsewhere \(run.key): \(runner.store.claimPath(for: run.key)) is \(by.describe()); if no runner is working on "
                        + "this run, delete it (it is taken over once \(Int(runner.options.claimStaleSeconds / 60)) minutes old)"
                } else {
                    line = by.map { "elsewhere \(run.key): running on \($0.describe())" } ?? "elsewhere \(run.key): stored by another runner meanwhile"
                }
                display.ended(key: run.key.description, line: line, countsAsDone: true)
            case let .note(text):
                // A warning (a mask file's polarity that looks inverted) is said as one.
                display.line(text.hasPrefix("warning: ") ? text : "note: \(text)")
            }
        }, shouldCancel: { interrupt.isSet })
        display.finish()
        print("\(summary.done) done, \(summary.diverged) diverged, \(summary.failed) failed, \(summary.interrupted) interrupted, \(summary.skipped) skipped\(summary.claimedElsewhere > 0 ? ", \(summary.claimedElsewhere) left to other runners" : "")")
        if let why = summary.stopReason {
            if interrupt.exitStatus == 128 + SIGUSR1 {
                // Not an error: submit's batch script requeues the task, which resumes.
                printNote("stopped for the time limit (SIGUSR1); the batch script of `submit` requeues the task, which resumes from the checkpoints above")
            } else if interrupt.isSet {
                printNote("stopped as asked (\(why)); \(carryOn) to carry on from the checkpoints above")
            } else {
                printError("stopped early: \(why); \(carryOn) to carry on")
            }
            throw ExitCode(interrupt.exitStatus ?? 1)
        }
        if summary.failed > 0 { throw ExitCode(1) }
        return summary.claimedElsewhere
    }
}

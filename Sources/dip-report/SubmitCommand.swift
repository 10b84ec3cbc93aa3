import ArgumentParser
import DIPCore
import DIPEngine
import DIPExperiments
import Foundation

/// `dip-report submit`: the missing part of the plan as a Slurm job array, plus a render job.
struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit what is missing of the plan to Slurm as a job array, then a job that renders the page.",
        discussion: """
            Plans exactly as `run` does, freezes the missing runs to RESULTS/.plans/<id>.json \
            (run keys, configurations, estimated seconds and memory per run, this tool's commit), \
            writes <id>.sbatch beside it (one array task per run, or per pack of runs shorter than \
            a minute), submits it with sbatch (one array per time/memory size), then a render job \
            that runs after the arrays however they end, and after the jobs of earlier submissions \
            over the same results folder that are still queued. Each task runs \
            `dip-report run --plan FILE --task I` with this very executable; a task warned of its \
            time limit (SIGUSR1) checkpoints and requeues itself, and resumes to the same bits.

            Examples:
              dip-report submit --profile paper --results /shared/results --out /shared/report --partition cpu
              dip-report submit table1-tv width --profile quick --time 00:30:00 --max-parallel 20 --dry-run
            """)

    @Argument(help: ArgumentHelp("Experiments to submit (default: all).", valueName: "EXPERIMENT"))
    var experiments: [String] = []

    @OptionGroup var selection: SelectionOptions

    @OptionGroup var checkpoint: CheckpointOptions

    @OptionGroup var devices: DeviceOptions

    @Option(help: ArgumentHelp("The folder the render job writes index.html into.", valueName: "DIR"))
    var out = "report"

    @Option(help: "Slurm partition.")
    var partition: String?

    @Option(help: "Slurm account.")
    var account: String?

    @Option(help: ArgumentHelp("Time limit of every task (default: each task's estimate x1.5 + 2 min, in steps). A run longer than the limit goes on over several requeued slots.", valueName: "HH:MM:SS"))
    var time: String?

    @Option(name: .customLong("cpus-per-task"), parsing: .unconditional, help: "Threads per run, and CPUs per task.")
    var cpusPerTask = 1

    @Option(name: .customLong("mem-per-run"), parsing: .unconditional, help: ArgumentHelp("Memory per task: auto (the run's estimated peak + 25 %) or a size such as 4G or 3500M.", valueName: "auto|SIZE"))
    var memPerRun = "auto"

    @Option(name: .customLong("max-parallel"), parsing: .unconditional, help: ArgumentHelp("Tasks running at once, over the whole submission (each array's --array=...%K; the arrays, one per time and memory, then run one after another).", valueName: "K"))
    var maxParallel: Int?

    @Option(help: ArgumentHelp("Generic resources per task, passed to sbatch (e.g. gpu:1).", valueName: "GRES"))
    var gres: String?

    @Option(name: .customLong("warning-seconds"), parsing: .unconditional, help: "Seconds before the time limit at which a task checkpoints and requeues itself (sbatch --signal=B:USR1@N).")
    var warningSeconds = 120

    @Option(name: .customLong("sbatch-arg"), parsing: .unconditionalSingleValue, help: ArgumentHelp("Another sbatch option, as it is (repeatable), e.g. --sbatch-arg=--qos=long.", valueName: "ARG"))
    var sbatchArgs: [String] = []

    @Option(name: .customLong("pack-seconds"), parsing: .unconditional, help: "Runs estimated shorter than this are packed into tasks of at least this many seconds (a task costs seconds of scheduling and start-up).")
    var packSeconds = 60.0

    @Flag(name: .customLong("dry-run"), help: "Write the plan and the script and print the sbatch lines; submit nothing.")
    var dryRun = false

    @Flag(name: .customLong("no-estimate"), help: "Cost the runs with fixed prior figures instead of timing short fits here.")
    var noEstimate = false

    func validate() throws {
        if !(1...Self.maxCPUsPerTask).contains(cpusPerTask) {
            throw ValidationError("--cpus-per-task \(cpusPerTask): at least 1 and at most \(Self.maxCPUsPerTask)")
        }
        if let maxParallel, !(1...Self.maxMaxParallel).contains(maxParallel) {
            throw ValidationError("--max-parallel \(maxParallel): at least 1 and at most \(Self.maxMaxParallel)")
        }
        // Written into the script's #SBATCH lines: a line break would end one there, and an
        // empty value is an sbatch error only once the jobs are submitted.
        for (flag, value) in [("--partition", partition), ("--account", account), ("--gres", gres)] {
            guard let value else { continue }
            if value.isEmpty { throw ValidationError("\(flag) \"\": give a value, or leave \(flag) out") }
            if !BatchScript.fitsDirective(value) {
                throw ValidationError("\(flag) \(String(reflecting: value)): a value with a line break cannot go into the script's #SBATCH lines")
            }
        }
        if !(0...Self.maxPackSeconds).contains(packSeconds) {
            throw ValidationError("--pack-seconds \(packSeconds): 0 (one task per run) to \(Int(Self.maxPackSeconds)) (a week)")
        }
        // Slurm's --signal takes at most 65535 s.
        if !(1...65535).contains(warningSeconds) { throw ValidationError("--warning-seconds \(warningSeconds): at least 1 and at most 65535") }
        if let time {
            guard let limit = BatchScript.parseTime(time) else {
                if time.contains("0"), time.allSatisfy({ "0:-".contains($0) }) {
                    throw ValidationError("--time \(time): that is Slurm's \"no limit\", but a task needs a limit to checkpoint and requeue itself before; give one such as 24:00:00, or leave --time out for each task's own")
                }
                throw ValidationError("--time \(time): give Slurm's form, e.g. 04:00:00, 90 (minutes) or 2-00:00:00")
            }
            if limit > BatchScript.maxTimeLimit {
                throw ValidationError("--time \(time): at most 365-00:00:00 (a year); a task checkpoints and requeues itself before its limit, so a long run needs no longer one")
            }
            if let problem = BatchScript.warningProblem(warningSeconds: warningSeconds, timeLimit: limit) {
                throw ValidationError("--warning-seconds \(warningSeconds) with --time \(time): \(problem)")
            }
        }
        if let problem = sbatchArgs.lazy.compactMap(SlurmRequest.extraArgumentProblem).first { throw ValidationError(problem) }
        if memPerRun != "auto" {
            guard let bytes = Self.parseSize(memPerRun) else { throw ValidationError("--mem-per-run \(memPerRun): give auto or a size such as 4G, 3500M") }
            // Less cannot hold a fit (the smallest net and image, with oneDNN's buffers).
            if bytes < 256 * 1_048_576 { throw ValidationError("--mem-per-run \(memPerRun): at least 256M (auto sizes it from each run's network and image)") }
            if bytes > Self.maxMemPerRun { throw ValidationError("--mem-per-run \(memPerRun): at most 64T, more than any node has (auto sizes it from each run's network and image)") }
        }
        // Slurm reads a log name with a backslash literally (no %A_%a: status finds no logs),
        // and a line break would end the script's #SBATCH lines.
        if selection.results.contains("\\") || !BatchScript.fitsDirective(selection.results) {
            throw ValidationError("--results \(BatchScript.quote(selection.results)): a results folder for Slurm cannot hold a backslash or a line break in its path; choose another")
        }
        // The render job writes --out once every fit is done: checked now, not after the fits.
        try OutputFiles.checkFolder(selection.results, flag: "--results")
        try OutputFiles.checkReportFolder(out, results: selection.results)
        if !experiments.isEmpty { _ = try selection.experiments(experiments, baselines: false) }
    }

    /// Threads (and CPUs) one task may ask for.
    static let maxCPUsPerTask = CPUBackend.maxThreads
    /// The most tasks --max-parallel may let run at once (more than any array this tool writes).
    static let maxMaxParallel = 100_000
    /// Memory one task may ask for: 64 TiB, past the largest single machines sold.
    static let maxMemPerRun = 64 * 1_099_511_627_776.0
    /// Seconds a packed task may be made to last at most.
    static let maxPackSeconds = 604_800.0

    /// "4G", "3500M", "512K" or plain MiB, in bytes.
    static func parseSize(_ text: String) -> Double? { ByteSize.bytes(text, plainUnit: 1_048_576) }

    func run() throws {
        // Before minutes of planning and timing: without sbatch only a dry run can succeed.
        if !dryRun, SlurmClient.find("sbatch") == nil {
            throw DIPError.mismatch(SlurmClient.missingSbatch)
        }
        // sbatch queues a task that asks for more CPUs than any node has, and it pends for ever
        // (PartitionConfig), holding up the render job of every later submission over the folder.
        // (Not for a dry run, which needs no cluster: sinfo may wait for a controller that is down.)
        if !dryRun, let most = SlurmClient.largestNodeCPUs(partition: partition), cpusPerTask > most {
            throw DIPError.mismatch("--cpus-per-task \(cpusPerTask): the largest node of \(partition.map { "partition \($0)" } ?? "the default partition") "
                                    + "has \(most) CPU\(most == 1 ? "" : "s") (sinfo), so no task could ever start; give at most \(most)")
        }
        let profile = try Profile.named(selection.profile)
        let selected = try selection.experiments(experiments)
        let results = Self.absolute(selection.results)
        var options = RunnerOptions(dataDirectory: Self.absolute(selection.dataOptions.directory), profile: profile,
                                    seeds: selection.seedList, jobs: 1, threadsPerJob: cpusPerTask,
                                    checkpoints: checkpoint.schedule)
        // The estimate times fits on what the tasks will run on: a GPU here if there is one;
        // for cuda without one, Adam fits get a prior GPU rate (the CPU's would give time limits
        // of hours for minutes of work).
        var gpuPrior = false
        if devices.device != .cpu {
            if let here = try? devices.factory(noting: false), here.name != BackendFactory.cpu.name {
                options.backend = here
            } else if devices.device == .cuda {
                gpuPrior = true
                print("no usable GPU here: the estimate costs GPU fits at a prior rate (PyTorch on an H100), so their time limits are generous")
            }
        }
        let (runner, plan) = try OutputFiles.removingCreatedFolder(results) {
            let store = try ResultStore(root: results)
            let runner = Runner(store: store, options: options)
            LocalRun.reportLeftovers(store, remove: false)
            return (runner, try runner.plan(selected))
        }
        let store = runner.store
        for p in plan.problems { printError("\(p) (skipped, not overwritten)") }
        for n in plan.notes { printNote(n) }
        try LocalRun.relabel(plan, runner: runner, dryRun: dryRun)
        let stored = plan.runs.filter { $0.state == .stored }.count
        print("profile \(profile.name): \(counted(plan.runs.count, "run")), \(plan.pending.count) missing, \(stored) stored in \(results)")
        guard !plan.pending.isEmpty else { print("nothing to submit"); return }
        let inFlight = plan.pending.compactMap { run in store.currentClaim(run.key).flatMap { $0.isStale() ? nil : (run.key, $0) } }
        if let (key, claim) = inFlight.first {
            // Their tasks will find them claimed and leave them; the render job waits for them only
            // where their runner is a job of an earlier submission here that is still queued.
            printNote("\(inFlight.count) of the missing runs \(inFlight.count == 1 ? "is" : "are") being fitted by another runner now (\(key): \(claim.describe())); "
                      + "the render job waits for the jobs of earlier submissions over this results folder, not for a runner outside Slurm; should it lack some, once `dip-report status --results \(BatchScript.quote(results))` "
                      + "shows them stored, `dip-report render --results \(BatchScript.quote(results)) --out \(BatchScript.quote(Self.absolute(out)))` makes the whole page")
        }

        var planner = ArrayPlanner()
        planner.measure = !noEstimate
        planner.gpuPrior = gpuPrior
        planner.minimumTaskSeconds = packSeconds
        planner.timeLimit = time.flatMap(BatchScript.parseTime)
        planner.memoryBytes = memPerRun == "auto" ? nil : Self.parseSize(memPerRun)
        if planner.measure { print("timing short fits of the plan's networks here for the estimate (--no-estimate skips it)..."); fflush(nil) }
        let runs = try planner.estimateRuns(plan, runner: runner)
        let tasks = planner.tasks(runs)
        if let shortest = tasks.map(\.timeLimit).min(),
           let problem = BatchScript.warningProblem(warningSeconds: warningSeconds, timeLimit: shortest) {
            throw ValidationError("--warning-seconds \(warningSeconds) with the shortest task's time limit: \(problem)")
        }
        let software = SoftwareInfo.current(backend: options.backend)
        let id = Self.planID()
        let frozen = FrozenPlan(id: id, created: Date(), tool: software.tool, commit: software.commit,
                                executable: Self.executablePath(), results: results, out: Self.absolute(out),
                                data: options.dataDirectory, profile: profile.name, seeds: options.seeds,
                                threadsPerRun: cpusPerTask, checkpointSeconds: checkpoint.checkpointMinutes * 60,
                                experiments: selected, runs: runs, tasks: tasks,
                                device: devices.device.rawValue, gpuMath: devices.gpuMath.rawValue)
        let planPath = try frozen.write()
        var request = SlurmRequest()
        request.partition = partition
        request.account = account
        // A GPU task needs a GPU from Slurm: gpu:1 unless --gres says otherwise.
        request.gres = gres ?? (devices.device == .cuda ? "gpu:1" : nil)
        request.maxParallel = maxParallel
        request.warningSeconds = warningSeconds
        request.extraArguments = sbatchArgs
        let script = BatchScript(plan: frozen, planPath: planPath, request: request)
        try script.write()

        let seconds = tasks.map(\.seconds).sorted()
        print("plan \(id): \(runs.count) run\(runs.count == 1 ? "" : "s") in \(tasks.count) task\(tasks.count == 1 ? "" : "s") (\(runs.count - tasks.count) packed with others); estimated seconds per task: longest \(Int(seconds.last!.rounded())), median \(Int(seconds[seconds.count / 2].rounded())), total \(Int(seconds.reduce(0, +).rounded())) at \(cpusPerTask) thread\(cpusPerTask == 1 ? "" : "s") per run")
        // More at once than there are tasks, or than --max-parallel lets run, is not a case:
        // one task showed "1 at once: 17s; 10 at once: 17s; 50 at once: 17s".
        let widest = min(tasks.count, maxParallel ?? tasks.count)
        let walls = Set([10, 50, widest].map { min($0, widest) }).sorted().map { "\($0) at once: \(ProgressPrinter.duration(script.wallSeconds(parallel: $0)))" }
        print("estimated wall time on nodes like this one, with " + walls.joined(separator: "; "))
        print("plan: \(planPath)\nscript: \(script.path)\nlogs: \(FrozenPlan.logFolder(results: results))/<job>_<task>.out")
        if dryRun {
            let lines = script.submissions.indices.map { script.arrayCommand(script.submissions[$0], previous: $0 > 0 ? "<array\($0)>" : nil) }
                + [script.renderCommand(after: script.submissions.indices.map { "<array\($0 + 1)>" } + script.otherLiveJobs())]
            print("dry run: would submit")
            for l in lines { print("  " + l.map(BatchScript.quote).joined(separator: " ")) }
            return
        }
        let jobs = try script.submit()
        print("submitted: array job\(jobs.arrays.count == 1 ? "" : "s") \(jobs.arrays.joined(separator: ", ")); render job \(jobs.render) (after the arrays, however they end)")
        if !jobs.alsoAfter.isEmpty {
            print("the render job also waits for the jobs of earlier submissions over this results folder that are still queued: \(jobs.alsoAfter.joined(separator: ", "))")
        }
        print("follow it: dip-report status --results \(BatchScript.quote(results)) --watch; squeue -j \((jobs.arrays + [jobs.render]).joined(separator: ","))")
    }

    /// `path` made absolute against the working directory (tasks run elsewhere).
    static func absolute(_ path: String) -> String {
        let p = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return URL(fileURLWithPath: p).standardizedFileURL.path
    }

    /// This executable's absolute path (what every task runs).
    static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? absolute(CommandLine.arguments[0])
    }

    /// "20261202-013512-3f9a": sortable, unique enough for plans made by hand.
    static func planID() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        return f.string(from: Date()) + "-" + String(format: "%04x", UInt16.random(in: 0...UInt16.max))
    }
}

/// `dip-report run --plan FILE --task I`: one array task of a submitted plan.
enum PlanTask {
    /// The task to run: `task`, else Slurm's SLURM_ARRAY_TASK_ID. Checked in `run`'s
    /// validate, so that a missing one is a usage error with `run`'s usage.
    static func index(_ task: Int?) throws -> Int {
        let given = ProcessInfo.processInfo.environment["SLURM_ARRAY_TASK_ID"]
        if task == nil, let given, Int(given) == nil {
            throw ValidationError("SLURM_ARRAY_TASK_ID '\(given)' is no task index; give --task I")
        }
        guard let index = task ?? given.flatMap({ Int($0) }) else {
            throw ValidationError("--plan needs --task I (or SLURM_ARRAY_TASK_ID, which Slurm sets in an array task)")
        }
        return index
    }

    static func perform(planFile: String, task: Int?) throws {
        let environment = ProcessInfo.processInfo.environment
        let index = try index(task)
        let frozen = try FrozenPlan.read(planFile)
        let plansFolder = (SubmitCommand.absolute(planFile) as NSString).deletingLastPathComponent
        let lies = (plansFolder as NSString).deletingLastPathComponent
        if FrozenPlan.folder(results: lies) == plansFolder, !frozen.belongs(to: lies) {
            throw DIPError.mismatch("\(planFile): this plan was made for the results folder \(frozen.results), not \(lies) where it lies "
                                    + "(was the folder moved, or the plan copied?), and would store its runs there; submit again over \(lies)")
        }
        // Outside Slurm's CPU binding (another scheduler, or by hand) the node may have fewer
        // cores than the plan's tasks asked for: the flags' rule for threads applies.
        if frozen.threadsPerRun > Parallelism.limit {
            throw DIPError.mismatch("\(planFile): its runs take \(frozen.threadsPerRun) threads each, and this process may use \(counted(Parallelism.cores, "core")) "
                                    + "(at most \(Parallelism.limit) threads): run the task where it has those cores, or submit again with a smaller --cpus-per-task")
        }
        let job = environment["SLURM_ARRAY_JOB_ID"].map { "\($0)_\(environment["SLURM_ARRAY_TASK_ID"] ?? "\(index)")" } ?? environment["SLURM_JOB_ID"]
        var options = RunnerOptions(dataDirectory: frozen.data, profile: try Profile.named(frozen.profile), seeds: frozen.seeds,
                                    jobs: 1, threadsPerJob: frozen.threadsPerRun,
                                    checkpoints: CheckpointSchedule(seconds: frozen.checkpointSeconds), backend: try frozen.backend(),
                                    schedulerJob: job)
        // A requeued task's attempt: it takes back what its predecessor claimed.
        options.schedulerAttempt = environment["SLURM_RESTART_COUNT"].flatMap { Int($0) }.map { max(0, $0) } ?? 0
        let runner = Runner(store: try ResultStore(root: frozen.results), options: options)
        let plan = try frozen.runPlan(task: index, runner: runner)
        print("plan \(frozen.id) task \(index): \(plan.runs.count) run\(plan.runs.count == 1 ? "" : "s"), \(plan.pending.count) to run, \(frozen.threadsPerRun) thread\(frozen.threadsPerRun == 1 ? "" : "s")\(job.map { "; job \($0)" } ?? "")")
        fflush(nil)
        guard !plan.pending.isEmpty else { print("nothing to run"); return }
        // A task stopped by scancel (not by its time limit, which requeues it) is not run again
        // by Slurm: a new submission over the results folder queues what is left.
        try LocalRun.execute(plan, runner: runner, carryOn: "`dip-report submit` with the plan's options (it freezes what is left) or `dip-report run --plan \(BatchScript.quote(planFile)) --task \(index)`")
    }
}

import DIPCore
import DIPEngine
import Foundation

/// The missing part of a results folder's plan, frozen to `RESULTS/.plans/<id>.json` by
/// `dip-report submit`: what each array task runs, with the estimates its resources come from.
/// A task (`dip-report run --plan FILE --task I`) recomputes its runs from the embedded
/// experiments and checks that their keys are still these, so a task never runs anything the
/// plan did not name.
public struct FrozenPlan: Codable, Sendable {
    /// One run of the plan.
    public struct Run: Codable, Sendable, Hashable {
        /// Its key.
        public var key: RunKey
        /// The configuration's label.
        public var label: String
        /// Iterations (network evaluations, or TV iterations).
        public var iterations: Int
        /// Estimated seconds on a node like the submitting machine, at `threadsPerRun`.
        public var seconds: Double
        /// Estimated peak memory in bytes.
        public var peakBytes: Double
    }

    /// One array task: runs done one after the other, and what Slurm is asked for.
    public struct Task: Codable, Sendable, Hashable {
        /// Indices into `runs`.
        public var runs: [Int]
        /// Estimated seconds of its runs together.
        public var seconds: Double
        /// Estimated peak memory in bytes (its largest run).
        public var peakBytes: Double
        /// The time limit asked for, in seconds.
        public var timeLimit: Int
        /// The memory asked for, in MiB.
        public var memoryMiB: Int
    }

    /// Schema name and version of the file.
    public var schema = "dip-report/plan"
    /// The version of the file format.
    public var version = 1
    /// The plan's id (also its file name).
    public var id: String
    /// When it was made.
    public var created: Date
    /// The dip-report that made it.
    public var tool: String
    /// Its commit.
    public var commit: String
    /// The executable each task runs (absolute).
    public var executable: String
    /// The results folder (absolute).
    public var results: String
    /// The report folder the render job writes (absolute).
    public var out: String
    /// The data folder (absolute).
    public var data: String
    /// The profile's name.
    public var profile: String
    /// The seeds.
    public var seeds: [UInt64]
    /// Threads per run (Slurm's --cpus-per-task).
    public var threadsPerRun: Int
    /// Seconds between checkpoints.
    public var checkpointSeconds: Double
    /// The experiments the runs come from (the built-in ones and a user's catalog alike).
    public var experiments: [Experiment]
    /// Every run of the plan.
    public var runs: [Run]
    /// The array's tasks, longest first.
    public var tasks: [Task]
    /// Where the tasks' fits compute, as `--device` names it ("cpu", "cuda", "auto"; nil in
    /// plans before tool 0.5.0, which means the CPU). Resolved on the compute node, not where
    /// the plan was made (a login node has no GPU).
    public var device: String?
    /// The GPU convolution arithmetic (`--gpu-math`; nil means tf32).
    public var gpuMath: String?

    /// A plan; see the properties.
    public init(id: String, created: Date, tool: String, commit: String, executable: String, results: String,
                out: String, data: String, profile: String, seeds: [UInt64], threadsPerRun: Int,
                checkpointSeconds: Double, experiments: [Experiment], runs: [Run], tasks: [Task],
                device: String? = nil, gpuMath: String? = nil) {
        self.device = device
        self.gpuMath = gpuMath
        self.id = id
        self.created = created
        self.tool = tool
        self.commit = commit
        self.executable = executable
        self.results = results
        self.out = out
        self.data = data
        self.profile = profile
        self.seeds = seeds
        self.threadsPerRun = threadsPerRun
        self.checkpointSeconds = checkpointSeconds
        self.experiments = experiments
        self.runs = runs
        self.tasks = tasks
    }

    /// The backend factory of the plan's device, on this (compute) node.
    public func backend() throws -> BackendFactory {
        guard let d = ComputeDevice(rawValue: device ?? "cpu"), let m = GPUMathMode(rawValue: gpuMath ?? "tf32") else {
            throw DIPError.invalidValue(name: "plan", value: id, reason: "names device '\(device ?? "")' / GPU math '\(gpuMath ?? "")', which this dip-report does not know; submit again with this build")
        }
        return try d.factory(math: m)
    }

    /// The plans folder of a results folder.
    public static func folder(results: String) -> String { (results as NSString).appendingPathComponent(".plans") }

    /// Whether `folder` is the results folder this plan was made for (`results`), symbolic
    /// links followed. A plan found in another folder's `.plans` (the folder moved, the file
    /// copied) stores its runs where it was made: `run --plan` refuses it, and `status` does not
    /// count it (one recreated the old folder and wrote there; the other counted another
    /// folder's runs as missing).
    public func belongs(to folder: String) -> Bool {
        func real(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        return real(folder) == real(results)
    }
    /// The Slurm logs folder of a results folder.
    public static func logFolder(results: String) -> String { (results as NSString).appendingPathComponent(".logs") }

    /// Reads a plan file; a missing, damaged or newer file names itself and what to do.
    public static func read(_ path: String) throws -> FrozenPlan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DIPError.io(path: path, reason: "cannot read the plan file (\(FileErrorText.readProblem(path))); `dip-report submit --dry-run` writes one")
        }
        // Not JSON at all (another file given as --plan): said so, where the decoder's error
        // named no field ("bad value at ''").
        guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
            throw DIPError.badFile(path: path, reason: "is not a dip-report plan (not a JSON object); `dip-report submit --dry-run` writes one")
        }
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        let plan: FrozenPlan
        do { plan = try d.decode(FrozenPlan.self, from: data) } catch {
            throw DIPError.badFile(path: path, reason: "is not a dip-report plan (\(RunRecord.describe(error)))")
        }
        guard plan.schema == "dip-report/plan", plan.version <= 1 else {
            throw DIPError.badFile(path: path, reason: "is a \(plan.schema) version \(plan.version) file; this dip-report reads dip-report/plan version 1")
        }
        // What submit accepts: a hand-edited 2048 threads crashed oneDNN, a checkpoint interval
        // of 0 wrote a checkpoint every iteration.
        guard (1...CPUBackend.maxThreads).contains(plan.threadsPerRun) else {
            throw DIPError.badFile(path: path, reason: "threadsPerRun \(plan.threadsPerRun): from 1 to \(CPUBackend.maxThreads) (submit's --cpus-per-task)")
        }
        guard CheckpointSchedule.accepts(seconds: plan.checkpointSeconds) else {
            throw DIPError.badFile(path: path, reason: "checkpointSeconds \(plan.checkpointSeconds): more than 0 and at most \(Int(CheckpointSchedule.maxSeconds)) (a week)")
        }
        // The same checks as a catalog file's: an id or image name must not lead a task's
        // writes out of the results folder.
        for e in plan.experiments {
            if let problem = e.problems.first {
                throw DIPError.badFile(path: path, reason: "experiment '\(e.id)': \(problem)")
            }
        }
        if let problem = plan.impossibleValue {
            throw DIPError.badFile(path: path, reason: "is a damaged plan (\(problem)); `dip-report submit` makes a new one")
        }
        return plan
    }

    /// The first value `submit` cannot have written, in a few words, nil when there is none: a
    /// task's run index outside `runs` crashed `run --plan`, and a run of 5·10^18 iterations
    /// crashed `status` on an overflow as it added them up.
    var impossibleValue: String? {
        func bad(_ field: String, _ value: Any) -> String { "impossible value \(value) at '\(field)'" }
        let counts = RunRecord.possibleIterations
        func amount(_ x: Double) -> Bool { x.isFinite && x >= 0 }
        for (i, run) in runs.enumerated() {
            guard counts.contains(run.iterations) else { return bad("runs[\(i)].iterations", run.iterations) }
            guard amount(run.seconds) else { return bad("runs[\(i)].seconds", run.seconds) }
            guard amount(run.peakBytes) else { return bad("runs[\(i)].peakBytes", run.peakBytes) }
        }
        for (t, task) in tasks.enumerated() {
            if let i = task.runs.first(where: { !runs.indices.contains($0) }) { return bad("tasks[\(t)].runs", i) }
            guard amount(task.seconds) else { return bad("tasks[\(t)].seconds", task.seconds) }
            guard amount(task.peakBytes) else { return bad("tasks[\(t)].peakBytes", task.peakBytes) }
            guard (0...BatchScript.maxTimeLimit).contains(task.timeLimit) else { return bad("tasks[\(t)].timeLimit", task.timeLimit) }
            guard task.memoryMiB >= 0 else { return bad("tasks[\(t)].memoryMiB", task.memoryMiB) }
        }
        return nil
    }

    /// Writes the plan (atomically) to `<results>/.plans/<id>.json` and returns the path.
    @discardableResult
    public func write() throws -> String {
        let path = (Self.folder(results: results) as NSString).appendingPathComponent(id + ".json")
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try e.encode(self), to: path)
        return path
    }

    /// The task's runs, checked against what `runner` plans now.
    public func runPlan(task index: Int, runner: Runner) throws -> RunPlan {
        guard tasks.indices.contains(index) else {
            throw DIPError.invalidValue(name: "--task", value: "\(index)", reason: "the plan \(id) has tasks 0 to \(tasks.count - 1)")
        }
        // Only the experiments of this task's runs: an image of another experiment that went
        // missing or was damaged since the submit fails that experiment's tasks, not every task.
        let needed = Set(tasks[index].runs.map { self.runs[$0].key.experiment })
        let full = try runner.plan(experiments.filter { needed.contains($0.id) })
        var runs: [PlannedRun] = []
        for i in tasks[index].runs {
            let key = self.runs[i].key
            guard let run = full.runs.first(where: { $0.key == key }) else {
                throw DIPError.invalidValue(name: "plan", value: id, reason: "names run \(key), which this dip-report (commit \(SoftwareInfo.current(backend: .cpu).commit)) does not plan; the plan was made by commit \(commit): submit again with this build")
            }
            runs.append(run)
        }
        return RunPlan(runs: runs, problems: full.problems, profile: full.profile)
    }
}

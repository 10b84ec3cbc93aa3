import DIPCore
import DIPEngine
import Foundation

/// Where a results folder stands, from the folder alone (records, claims, checkpoints, plans and
/// the Slurm logs beside them) and, where `squeue` exists, the queue: what `dip-report status`
/// prints.
public struct StoreStatus: Sendable {
    /// A run being fitted now.
    public struct Running: Sendable {
        /// Its key.
        public var key: RunKey
        /// Its claim (holder, job, progress).
        public var claim: RunClaim
    }

    /// A planned run that is not stored and whose task reported it failed.
    public struct Failed: Sendable {
        /// Its key.
        public var key: RunKey
        /// The log that says so.
        public var log: String
        /// The log's last lines.
        public var lastLines: [String]
    }

    /// One experiment's runs by state.
    public struct Experiment: Sendable {
        /// Its id.
        public var id: String
        /// Runs stored (records).
        public var stored = 0
        /// Of those, the runs whose loss became NaN or infinite (stored with the curve up to there).
        public var diverged = 0
        /// Runs fitted now (planned, or found by their live claims).
        public var running: [Running] = []
        /// Planned runs that failed.
        public var failed: [Failed] = []
        /// Runs with a checkpoint, waiting to resume (planned, or found by their files).
        public var checkpointed = 0
        /// Planned runs with nothing yet.
        public var missing = 0
    }

    /// Per experiment, sorted by id.
    public var experiments: [Experiment]
    /// Iterations of the planned runs done (stored, plus the running runs' progress).
    public var iterationsDone: Int
    /// Iterations of the planned runs left.
    public var iterationsLeft: Int
    /// Seconds left at the throughput seen since the newest plan was made; nil before any.
    public var etaSeconds: Double?
    /// Queue states of the plans' jobs ("RUNNING" -> 3); nil when no plan was submitted or the
    /// queue could not be read (`queueProblem`).
    public var queue: [String: Int]?
    /// Why the queue of submitted plans could not be read (squeue missing or failing).
    public var queueProblem: String?
    /// Array tasks of the plans the queue holds (the jobs that fit runs, not the render jobs);
    /// nil where the queue is not known.
    public var fittingTasksQueued: Int?

    /// Whether what is left has nothing to do it: iterations left, no array task of the plans
    /// in the queue (a render job fits nothing) and no run in flight. A throughput ETA would
    /// then promise an end that never comes.
    public var stalled: Bool {
        iterationsLeft > 0 && fittingTasksQueued == 0 && experiments.allSatisfy { $0.running.isEmpty }
    }
    /// The newest counted plan's id (see `uncountedPlans`).
    public var plan: String?
    /// Whether that plan's jobs were submitted (false after `submit --dry-run`, or when
    /// sbatch refused its first array).
    public var planSubmitted = false
    /// The plans `submit` queued nothing of (dry runs, or refused by sbatch) whose runs are not
    /// counted: all of them while another plan was queued, else all but the newest; oldest first.
    public var uncountedPlans: [String] = []
    /// Stored runs by the profile they ran under ("smoke" -> 226).
    public var storedByProfile: [String: Int] = [:]
    /// Files that are not what their names say (damaged records, unreadable plans and
    /// checkpoints), "path: why" each, sorted: a damaged record's or plan's runs are counted
    /// nowhere else, a damaged checkpoint's planned run counts as missing.
    public var unreadable: [String] = []

    /// Reads the status of the results folder `results`.
    public static func read(results: String, now: Date = Date()) throws -> StoreStatus {
        let store = try ResultStore(root: results, create: false)
        let scan = store.scan()
        let records = scan.records
        var unreadable = scan.problems.map(\.description)
        var stored: [RunKey: RunRecord] = [:]
        for r in records { stored[r.key] = r }

        // The plans `submit` queued, each with its jobs; a later plan's entry for a run replaces
        // an earlier one's. A plan it queued nothing of (a --dry-run, or sbatch refused it) is
        // left out while any plan was queued: a dry run of another profile to see its estimate
        // must not turn that profile's runs into missing ones of this folder. With none queued
        // the newest such plan counts (its script may have been given to sbatch by hand).
        let plansFolder = FrozenPlan.folder(results: results)
        let planFiles = ((try? FileManager.default.contentsOfDirectory(atPath: plansFolder)) ?? [])
            .filter { $0.hasSuffix(".json") && !$0.hasSuffix(BatchScript.catalogSuffix) }.sorted()
        var plans: [(plan: FrozenPlan, jobs: (arrays: [String], render: String?))] = []
        for f in planFiles {
            let path = (plansFolder as NSString).appendingPathComponent(f)
            do {
                let plan = try FrozenPlan.read(path)
                guard plan.belongs(to: results) else {
                    unreadable.append("\(path): a plan made for the results folder \(plan.results); its runs are not counted here")
                    continue
                }
                plans.append((plan, BatchScript.submittedJobs(planPath: path)))
            } catch {
                unreadable.append("\(path): an unreadable plan (\(error)); its runs are not counted")
            }
        }
        let queued = plans.filter { !$0.jobs.arrays.isEmpty }
        let counted = queued.isEmpty ? Array(plans.suffix(1)) : queued
        let uncounted = plans.filter { p in p.jobs.arrays.isEmpty && !counted.contains { $0.plan.id == p.plan.id } }.map(\.plan.id)
        var planned: [RunKey: FrozenPlan.Run] = [:]
        for (p, _) in counted { for r in p.runs { planned[r.key] = r } }
        let submittedPlans = queued.map { (plan: $0.plan, arrays: $0.jobs.arrays) }
        let jobs = queued.flatMap { $0.jobs.arrays + ($0.jobs.render.map { [$0] } ?? []) }
        let newest = counted.last?.plan
        let planSubmitted = !(counted.last?.jobs.arrays.isEmpty ?? true)

        var byExperiment: [String: Experiment] = [:]
        func bump(_ id: String, _ f: (inout Experiment) -> Void) {
            var e = byExperiment[id] ?? Experiment(id: id)
            f(&e)
            byExperiment[id] = e
        }
        for r in records { bump(r.key.experiment) { $0.stored += 1; if r.status == .diverged { $0.diverged += 1 } } }

        // Every task log, read once (`status --watch` reads them every 10 seconds).
        let logFolder = FrozenPlan.logFolder(results: results)
        let logs = readLogs(logFolder)
        var failures = failedRuns(logs)
        // A task that failed before any run of it started (its data folder gone, say) names no
        // run in its log: its runs are failed too, or they would show as merely missing.
        for (plan, arrays) in submittedPlans {
            for array in arrays {
                for (t, task) in plan.tasks.enumerated() {
                    let log = (logFolder as NSString).appendingPathComponent("\(array)_\(t).out")
                    guard let lines = logs[log], let lastLines = failedWhole(lines) else { continue }
                    for r in task.runs where failures[plan.runs[r].key] == nil { failures[plan.runs[r].key] = (log, lastLines) }
                }
            }
        }
        // A checkpoint counts when its state can be read: a damaged one (a disk that filled, a
        // copy cut short) is listed, and its run counts as missing, since `run` starts it afresh.
        func readableCheckpoint(_ key: RunKey) -> Int? {
            let path = store.checkpointPath(for: key)
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            if let steps = FitCheckpoint.completedSteps(at: path) { return steps }
            unreadable.append("\(path): an unreadable checkpoint; `run` starts its run afresh")
            return nil
        }
        var done = 0, left = 0, recentDone = 0
        let since = newest?.created ?? now
        for (key, run) in planned {
            if let r = stored[key] {
                // A live claim on a stored run is a `run --force` refit of it.
                if let c = store.currentClaim(key), !c.isStale(now: now) { bump(key.experiment) { $0.running.append(Running(key: key, claim: c)) } }
                done += run.iterations
                // A copy of a twin (`copiedFrom`) took no iterations: it says nothing of the rate.
                if r.copiedFrom == nil, let t = ISO8601DateFormatter().date(from: r.finishedAt), t >= since { recentDone += run.iterations }
                continue
            }
            if let c = store.currentClaim(key), !c.isStale(now: now) {
                bump(key.experiment) { $0.running.append(Running(key: key, claim: c)) }
                let progress = min(c.iteration ?? 0, run.iterations)
                done += progress
                recentDone += progress
                left += run.iterations - progress
            } else if let f = failures[key] {
                bump(key.experiment) { $0.failed.append(Failed(key: key, log: f.log, lastLines: f.lastLines)) }
                left += run.iterations
            } else if let steps = readableCheckpoint(key) {
                bump(key.experiment) { $0.checkpointed += 1 }
                // What the checkpoint holds is done: a resumed run carries on from there.
                let kept = min(steps, run.iterations)
                done += kept
                left += run.iterations - kept
            } else {
                bump(key.experiment) { $0.missing += 1 }
                left += run.iterations
            }
        }
        // Runs no plan names (`dip-report run` freezes none): in flight or checkpointed, found by
        // their files, so a plain run shows what it is doing and what an interruption kept.
        // A stored one with a live claim is being refitted (`run --force`).
        for key in claimedOrCheckpointedKeys(store) where planned[key] == nil {
            if let c = store.currentClaim(key), !c.isStale(now: now) {
                bump(key.experiment) { $0.running.append(Running(key: key, claim: c)) }
            } else if stored[key] == nil, readableCheckpoint(key) != nil {
                bump(key.experiment) { $0.checkpointed += 1 }
            }
        }
        let elapsed = now.timeIntervalSince(since)
        let eta: Double? = recentDone > 0 && elapsed > 0 ? Double(left) / (Double(recentDone) / elapsed) : nil
        var queue: [String: Int]?
        var queueProblem: String?
        var fittingTasksQueued: Int?
        if !jobs.isEmpty {
            do {
                queue = [:]
                let states = try SlurmClient.queueStates(jobs: jobs)
                for s in states.values { queue![s, default: 0] += 1 }
                // squeue names array tasks "123_4"; a render job is a job of its own.
                let arrays = Set(submittedPlans.flatMap(\.arrays))
                fittingTasksQueued = states.keys.filter { arrays.contains(String($0.prefix { $0 != "_" })) }.count
            } catch {
                queue = nil
                queueProblem = "\(error)"
            }
        }
        var experiments = byExperiment.values.sorted { $0.id < $1.id }
        for i in experiments.indices {
            experiments[i].running.sort { $0.key.description < $1.key.description }
            experiments[i].failed.sort { $0.key.description < $1.key.description }
        }
        return StoreStatus(experiments: experiments, iterationsDone: done, iterationsLeft: left, etaSeconds: eta,
                           queue: queue, queueProblem: queueProblem, fittingTasksQueued: fittingTasksQueued, plan: newest?.id, planSubmitted: planSubmitted,
                           uncountedPlans: uncounted,
                           storedByProfile: Dictionary(records.map { ($0.profile, 1) }, uniquingKeysWith: +), unreadable: unreadable.sorted())
    }

    /// The keys of the claims and checkpoints in the results folder
    /// (`<experiment>/<image>/<hash>-s<seed>.claim` or `.checkpoint`).
    static func claimedOrCheckpointedKeys(_ store: ResultStore) -> Set<RunKey> {
        let fm = FileManager.default
        var keys = Set<RunKey>()
        func entries(_ path: String) -> [String] { ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") } }
        for experiment in entries(store.root) {
            let experimentFolder = (store.root as NSString).appendingPathComponent(experiment)
            for image in entries(experimentFolder) {
                for name in entries((experimentFolder as NSString).appendingPathComponent(image))
                where name.hasSuffix(".claim") || name.hasSuffix(".checkpoint") {
                    // "<hash>-s<seed>" and nothing more before the extension.
                    if let key = ResultStore.key(experiment: experiment, image: image, stem: (name as NSString).deletingPathExtension) {
                        keys.insert(key)
                    }
                }
            }
        }
        return keys
    }

    /// Runs the task logs (`readLogs`) report as FAILED (the runner's line "FAILED <key>: why"),
    /// with the newest log that says so and its last lines. A later "done <key>" in the same log
    /// clears it.
    static func failedRuns(_ logs: [String: [String]]) -> [RunKey: (log: String, lastLines: [String])] {
        var failed: [RunKey: (log: String, lastLines: [String])] = [:]
        for (path, lines) in logs.sorted(by: { $0.key < $1.key }) {
            for line in lines {
                for (prefix, isFailure) in [("FAILED ", true), ("done ", false), ("DIVERGED ", false)] where line.hasPrefix(prefix) {
                    guard let key = parseKey(String(line.dropFirst(prefix.count).prefix { $0 != ":" && $0 != " " })) else { continue }
                    if isFailure { failed[key] = (path, Array(lines.suffix(5))) } else { failed[key] = nil }
                }
            }
        }
        return failed
    }

    /// The lines of the task logs (`.out`) in `logFolder`, by path.
    static func readLogs(_ logFolder: String) -> [String: [String]] {
        var logs: [String: [String]] = [:]
        for f in ((try? FileManager.default.contentsOfDirectory(atPath: logFolder)) ?? []) where f.hasSuffix(".out") {
            let path = (logFolder as NSString).appendingPathComponent(f)
            if let text = try? String(contentsOfFile: path, encoding: .utf8) { logs[path] = text.split(separator: "\n").map(String.init) }
        }
        return logs
    }

    /// The last lines of a task's log (its `lines`) whose latest attempt (after its last
    /// "dip-report task" line: requeues append) ended with an error of the task as a whole, or
    /// was killed by the memory limit (slurmstepd's "Detected 1 oom-kill event(s)", "oom_kill
    /// event" before 21.08: the run in flight showed as merely checkpointed, waiting for
    /// nothing); nil otherwise.
    static func failedWhole(_ lines: [String]) -> [String]? {
        let start = lines.lastIndex { $0.hasPrefix("dip-report task ") }.map { $0 + 1 } ?? 0
        let ended = lines[start...].contains { line in
            line.hasPrefix("Error: ") || (line.contains("slurmstepd") && (line.contains("oom-kill event") || line.contains("oom_kill event")))
                // The batch shell's word for a task's dip-report killed by a signal (SIGKILL: a
                // kernel OOM kill outside cgroups, or by hand): it wrote nothing, and its stale
                // claim counted its run as merely missing while the queue went on (a review).
                || line.wholeMatch(of: /(.*: )?line [0-9]+: +[0-9]+ (Killed|Segmentation fault|Aborted).* run --plan .*/) != nil
        }
        return ended ? Array(lines.suffix(5)) : nil
    }

    /// A key from its description "experiment/image/hash-sSEED".
    static func parseKey(_ text: String) -> RunKey? {
        let parts = text.split(separator: "/")
        guard parts.count == 3, let dash = parts[2].range(of: "-s", options: .backwards),
              let seed = UInt64(parts[2][dash.upperBound...]) else { return nil }
        return RunKey(experiment: String(parts[0]), image: String(parts[1]), configHash: String(parts[2][..<dash.lowerBound]), seed: seed)
    }
}

import DIPCore
import Foundation

/// What `dip-report submit` asks of Slurm besides each task's time and memory.
public struct SlurmRequest: Sendable {
    /// --partition.
    public var partition: String?
    /// --account.
    public var account: String?
    /// --gres (e.g. gpu:1).
    public var gres: String?
    /// Tasks running at once over the whole submission: each array's `%K`, and the arrays
    /// (one per time and memory) one after another, since Slurm limits only within an array.
    public var maxParallel: Int?
    /// Seconds before the time limit at which Slurm warns a task (SIGUSR1) to checkpoint and
    /// requeue itself.
    public var warningSeconds = 120
    /// More sbatch options, passed as they are.
    public var extraArguments: [String] = []

    /// A request with the defaults.
    public init() {}

    /// The sbatch options `submit` sets itself, by long and short name, and what to use instead:
    /// given again through `extraArguments` they would override one submission's and not
    /// another's (`--time` went to the render job but not the arrays; `--array` made the render
    /// job an array).
    static let reserved: [(long: String, short: String?, instead: String)] = [
        ("array", "a", "submit makes the arrays; --max-parallel limits how many tasks run at once"),
        ("time", "t", "use --time"),
        ("mem", nil, "use --mem-per-run"),
        ("mem-per-cpu", nil, "use --mem-per-run"),
        ("mem-per-gpu", nil, "use --mem-per-run"),
        ("cpus-per-task", "c", "use --cpus-per-task"),
        ("output", "o", "the logs go to RESULTS/.logs, where status reads them"),
        ("error", "e", "the logs go to RESULTS/.logs, where status reads them"),
        ("job-name", "J", "status and `squeue -n dip-<plan>` find the jobs by the name submit gives"),
        ("open-mode", nil, "the logs go to RESULTS/.logs, where status reads them"),
        ("dependency", "d", "submit makes the render job wait for the arrays"),
        ("signal", nil, "use --warning-seconds"),
        ("requeue", nil, "the tasks requeue themselves to checkpoint before their limit"),
        ("no-requeue", nil, "the tasks requeue themselves to checkpoint before their limit"),
        ("wrap", nil, "submit writes the script"),
    ]

    /// Why `argument` (one `--sbatch-arg`) cannot be passed on; nil when it can. A long option
    /// counts by any start of its name of 3 or more letters, as sbatch reads it (`--dep=`).
    /// Also refused: a line break, which would end the script's `#SBATCH` lines; a word that
    /// is no option; and an option parted from its value by a space, which sbatch reads as one
    /// word (`--qos long`: "unrecognized option"; `-p debug`: the partition " debug").
    public static func extraArgumentProblem(_ argument: String) -> String? {
        if !BatchScript.fitsDirective(argument) { return "--sbatch-arg: a value holding a line break cannot go into the script" }
        guard argument.hasPrefix("-"), argument.count > 1 else {
            return "--sbatch-arg=\(argument): not an sbatch option; give one option a --sbatch-arg, as in --sbatch-arg=--qos=long"
        }
        let isLong = argument.hasPrefix("--")
        // The option's name ends at "=" or, mistyped, at a space (`--array 1-3`).
        let name = isLong ? String(argument.dropFirst(2).prefix { $0 != "=" && !$0.isWhitespace }) : nil
        for r in reserved {
            let byName = name.map { $0 == r.long || ($0.count >= 3 && r.long.hasPrefix($0)) } ?? false
            let byLetter = r.short.map { !isLong && argument.hasPrefix("-\($0)") } ?? false
            if byName || byLetter {
                return "--sbatch-arg=\(argument): submit sets --\(r.long) itself (\(r.instead))"
            }
        }
        let head = isLong ? argument.prefix { $0 != "=" } : argument.prefix(3)
        if head.contains(where: \.isWhitespace) {
            let word = argument.split(whereSeparator: \.isWhitespace)
            let joined = "\(word[0])\(isLong ? "=" : "")\(word.dropFirst().joined(separator: " "))"
            return "--sbatch-arg='\(argument)': sbatch reads it as one word, space and all; write the option and its value as one: --sbatch-arg='\(joined)'"
        }
        return nil
    }
}

/// One sbatch submission: an array over some of the plan's tasks, all with one time and memory.
public struct ArraySubmission: Sendable, Hashable {
    /// Task indices (SLURM_ARRAY_TASK_ID).
    public var tasks: [Int]
    /// Time limit in seconds.
    public var timeLimit: Int
    /// Memory in MiB.
    public var memoryMiB: Int

    /// `0-3,7,9-12`, with `%K` when given.
    public func arraySpec(maxParallel: Int?) -> String {
        var parts: [String] = []
        var i = 0
        while i < tasks.count {
            var j = i
            while j + 1 < tasks.count, tasks[j + 1] == tasks[j] + 1 { j += 1 }
            parts.append(i == j ? "\(tasks[i])" : "\(tasks[i])-\(tasks[j])")
            i = j + 1
        }
        return parts.joined(separator: ",") + (maxParallel.map { "%\($0)" } ?? "")
    }
}

/// The sbatch script of a frozen plan and the command lines that submit it.
public struct BatchScript: Sendable {
    /// The plan.
    public let plan: FrozenPlan
    /// Where the plan file is.
    public let planPath: String
    /// What else Slurm is asked for.
    public let request: SlurmRequest

    /// A script for `plan` (written at `planPath`).
    public init(plan: FrozenPlan, planPath: String, request: SlurmRequest) {
        self.plan = plan
        self.planPath = planPath
        self.request = request
    }

    /// The script's path: beside the plan, `<id>.sbatch`.
    public var path: String { (planPath as NSString).deletingPathExtension + ".sbatch" }

    /// Tasks grouped by their (time, memory): Slurm gives every task of an array the same limits.
    public var submissions: [ArraySubmission] {
        var groups: [ArraySubmission] = []
        for (i, t) in plan.tasks.enumerated() {
            if let g = groups.firstIndex(where: { $0.timeLimit == t.timeLimit && $0.memoryMiB == t.memoryMiB }) {
                groups[g].tasks.append(i)
            } else {
                groups.append(ArraySubmission(tasks: [i], timeLimit: t.timeLimit, memoryMiB: t.memoryMiB))
            }
        }
        return groups
    }

    /// Why a warning `warningSeconds` before a limit of `timeLimit` seconds leaves a task too little
    /// time to fit (nil when it leaves at least half): warned sooner, a task checkpoints and
    /// requeues again and again, each slot mostly spent waiting to start.
    public static func warningProblem(warningSeconds: Int, timeLimit: Int) -> String? {
        guard warningSeconds * 2 > timeLimit else { return nil }
        return "the warning comes less than half the time limit (\(slurmTime(timeLimit))) after a task starts, "
            + "so it would checkpoint and requeue before fitting much; give --warning-seconds at most \(timeLimit / 2) or a longer --time"
    }

    /// The render job's time limit: 30 minutes (a render reads records and PNGs; it never fits),
    /// but no longer than the longest array's, which the partition has accepted: a partition
    /// whose limit is shorter would hold a 30-minute job pending for ever.
    public var renderTimeLimit: Int { min(1800, submissions.map(\.timeLimit).max() ?? 1800) }

    /// Slurm's D-HH:MM:SS.
    public static func slurmTime(_ seconds: Int) -> String {
        let d = seconds / 86400, h = (seconds % 86400) / 3600, m = (seconds % 3600) / 60, s = seconds % 60
        return (d > 0 ? "\(d)-" : "") + String(format: "%02d:%02d:%02d", h, m, s)
    }

    /// The longest time limit `submit --time` takes: a year (a task requeues itself before its
    /// limit, so no run needs more; a larger one such as `99999999999:00:00` went to Slurm as given).
    public static let maxTimeLimit = 365 * 86400

    /// Parses Slurm's time forms (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS) into seconds.
    public static func parseTime(_ text: String) -> Int? {
        var days = 0
        var rest = Substring(text)
        if let dash = text.firstIndex(of: "-") {
            guard let d = Int(text[..<dash]) else { return nil }
            days = d
            rest = text[text.index(after: dash)...]
        }
        let f = rest.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        // Bounded so that the sum below cannot overflow; `maxTimeLimit` bounds the result.
        guard !f.isEmpty, f.count <= 3, f.allSatisfy({ $0 != nil && (0...1_000_000_000_000).contains($0!) }), days <= 1_000_000_000_000 else { return nil }
        let v = f.map { $0! }
        let seconds: Int
        if text.contains("-") {
            seconds = v[0] * 3600 + (v.count > 1 ? v[1] * 60 : 0) + (v.count > 2 ? v[2] : 0)
        } else {
            switch v.count {
            case 1: seconds = v[0] * 60
            case 2: seconds = v[0] * 60 + v[1]
            default: seconds = v[0] * 3600 + v[1] * 60 + v[2]
            }
        }
        let total = days * 86400 + seconds
        return total > 0 ? total : nil
    }

    /// A word quoted for bash (single quotes unless it needs none).
    public static func quote(_ word: String) -> String {
        if !word.isEmpty, word.allSatisfy({ $0.isLetter || $0.isNumber || "/._-+=:,@%".contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `path` as a Slurm file name pattern, which reads `%` as the start of a replacement
    /// symbol (`%j`, `%A`): each one doubled, so a results folder named with `%` is written as it is.
    static func filenamePattern(_ path: String) -> String { path.replacingOccurrences(of: "%", with: "%%") }

    /// Whether `value` can go into an `#SBATCH` line: a line break would end the line there, and
    /// the rest would run as shell. (`directive` cannot throw; the flags are checked with this
    /// before a script is written.)
    public static func fitsDirective(_ value: String) -> Bool { !value.contains(where: \.isNewline) }

    /// One option as an `#SBATCH` line: sbatch splits those lines at white space and takes
    /// quotes and backslashes as the shell does, so a value with either is double-quoted, its
    /// `"` and `\` escaped (a results path with a space or an apostrophe).
    static func directive(_ option: String) -> String {
        guard option.contains(where: { $0.isWhitespace || "\"'\\#".contains($0) }) else { return "#SBATCH \(option)" }
        let escaped = option.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        guard let equals = escaped.firstIndex(of: "="), escaped.hasPrefix("--") else { return "#SBATCH \"\(escaped)\"" }
        return "#SBATCH \(escaped[...equals])\"\(escaped[escaped.index(after: equals)...])\""
    }

    /// The sbatch options every array submission shares (also written into the script).
    var commonOptions: [String] {
        var o = ["--job-name=dip-\(plan.id)",
                 "--output=\(Self.filenamePattern(FrozenPlan.logFolder(results: plan.results)))/%A_%a.out",
                 "--open-mode=append",
                 "--cpus-per-task=\(plan.threadsPerRun)",
                 "--signal=B:USR1@\(request.warningSeconds)",
                 "--requeue"]
        if let p = request.partition { o.append("--partition=\(p)") }
        if let a = request.account { o.append("--account=\(a)") }
        if let g = request.gres { o.append("--gres=\(g)") }
        return o + request.extraArguments
    }

    /// The command line submitting one array (`sbatch --parsable ...`); with `maxParallel`, an
    /// array after the first starts once the one submitted before it (`previous`) has ended.
    public func arrayCommand(_ s: ArraySubmission, previous: String?) -> [String] {
        ["sbatch", "--parsable", "--array=\(s.arraySpec(maxParallel: request.maxParallel))",
         "--time=\(Self.slurmTime(s.timeLimit))", "--mem=\(s.memoryMiB)M"]
            + (request.maxParallel != nil ? previous.map { ["--dependency=afterany:\($0)"] } ?? [] : [])
            + [path]
    }

    /// Wall seconds for the tasks with `parallel` of them running at once: the arrays one after
    /// another when `maxParallel` chains them, else all of them together.
    public func wallSeconds(parallel: Int) -> Double {
        guard request.maxParallel != nil else { return ArrayPlanner.wallSeconds(plan.tasks, parallel: parallel) }
        return submissions.reduce(0) { $0 + ArrayPlanner.wallSeconds($1.tasks.map { plan.tasks[$0] }, parallel: parallel) }
    }

    /// The render job's own command: the whole page from the results folder, for the plan's
    /// profile, with the user's experiments when there are any.
    var renderArguments: [String] {
        [plan.executable, "render", "--results", plan.results, "--out", plan.out, "--profile", plan.profile]
            + (userExperiments.isEmpty ? [] : ["--catalog", catalogPath])
    }

    /// The command line of the render job, after every job of `jobs` (this plan's arrays, and
    /// `otherLiveJobs`) has ended however it ended.
    public func renderCommand(after jobs: [String]) -> [String] {
        var c = ["sbatch", "--parsable", "--dependency=afterany:\(jobs.joined(separator: ":"))",
                 "--job-name=dip-\(plan.id)-render", "--output=\(Self.filenamePattern(FrozenPlan.logFolder(results: plan.results)))/%j_render.out",
                 "--time=\(Self.slurmTime(renderTimeLimit))", "--mem=2048M", "--cpus-per-task=1"]
        if let p = request.partition { c.append("--partition=\(p)") }
        if let a = request.account { c.append("--account=\(a)") }
        c += request.extraArguments
        return c + ["--wrap", renderArguments.map(Self.quote).joined(separator: " ")]
    }

    /// The script: readable, commented, valid bash.
    public var text: String {
        let q = Self.quote
        let total = plan.tasks.reduce(0) { $0 + $1.seconds }
        return """
        #!/bin/bash
        # dip-report: job array of plan \(plan.id) (\(counted(plan.runs.count, "run")) in \(counted(plan.tasks.count, "task")),
        # profile \(plan.profile), seeds \(plan.seeds.map(String.init).joined(separator: ",")); about \(Int(total.rounded())) s of fitting in all),
        # written by `dip-report submit` (\(plan.tool), commit \(plan.commit)).
        #
        # Array task I runs the runs of task I of the plan, one after the other:
        #   dip-report run --plan PLAN --task I
        # Each run takes a claim beside its record first, so a run stored or in flight elsewhere
        # is skipped, and writes its record into \(plan.results).
        # Tasks differ in length: `submit` passes --array, --time and --mem on each sbatch line
        # (printed when it submits, and in the plan file per task).
        #
        # Time limits: Slurm sends SIGUSR1 \(request.warningSeconds) s before a task's limit (--signal below);
        # dip-report then checkpoints the fit at the next iteration and exits, and this script
        # requeues the task (--requeue), which resumes the fit from its checkpoint to the same bits.
        \(commonOptions.map(Self.directive).joined(separator: "\n"))

        set -u
        # Slurm's warning may come at any moment of a task, its first millisecond too (its check
        # runs every 30 s), so it is taken from the first line: untrapped, it ended this shell and
        # the task failed instead of being requeued.
        child=
        warned=0
        trap 'warned=1; [ -n "$child" ] && kill -USR1 "$child" 2>/dev/null' USR1
        exe=\(q(plan.executable))
        plan=\(q(planPath))
        task=${SLURM_ARRAY_TASK_ID:?this script is a Slurm array job: submit it with sbatch --array}
        echo "dip-report task $task of plan \(plan.id) on $(hostname) at $(date -u +%FT%TZ) (job ${SLURM_ARRAY_JOB_ID:-?}_$task, restart ${SLURM_RESTART_COUNT:-0})"
        if [ "$warned" = 1 ]; then
          echo "time limit near before any run started: requeueing ${SLURM_ARRAY_JOB_ID}_$task"
          scontrol requeue "${SLURM_ARRAY_JOB_ID}_$task" && exit 0
          exit 1
        fi

        # dip-report runs in the background so that this shell can pass Slurm's warning on.
        "$exe" run --plan "$plan" --task "$task" &
        child=$!
        # A warning between the start and `child` being set reached nobody: pass it on now.
        if [ "$warned" = 1 ]; then kill -USR1 "$child" 2>/dev/null; fi
        while :; do
          wait "$child"; rc=$?
          kill -0 "$child" 2>/dev/null || break   # wait returns early when a trapped signal arrives
        done

        if [ "$warned" = 1 ] && [ "$rc" != 0 ]; then
          echo "time limit near: checkpointed; requeueing ${SLURM_ARRAY_JOB_ID}_$task"
          scontrol requeue "${SLURM_ARRAY_JOB_ID}_$task" && exit 0
        fi
        exit "$rc"

        """
    }
}

extension BatchScript {
    /// Where the job ids of a submitted plan are kept (one per line: the arrays, then "render ID").
    public var jobsPath: String { (planPath as NSString).deletingPathExtension + ".jobs" }

    /// The plan's experiments that are not built in (a user's --catalog).
    var userExperiments: [Experiment] {
        plan.experiments.filter { !Catalog.isBuiltIn($0.id) }
    }

    /// Beside the plan, `<id>.catalog.json`: the user's experiments, for the render job's page
    /// (their titles and order of configurations), whatever became of the file they came from.
    public var catalogPath: String { (planPath as NSString).deletingPathExtension + Self.catalogSuffix }

    /// How a plan's catalog file ends, set apart from the plans beside it.
    static let catalogSuffix = ".catalog.json"

    /// Writes the script (executable) beside the plan, the user's experiments when there are
    /// any (`catalogPath`), and the log folder Slurm writes into (a missing one fails every
    /// task before it starts).
    public func write() throws {
        if !userExperiments.isEmpty { try AtomicFile.write(Data(try Catalog.json(userExperiments).utf8), to: catalogPath) }
        try AtomicFile.write(Data(text.utf8), to: path)
        chmod(path, 0o755)
        try FileManager.default.createDirectory(atPath: FrozenPlan.logFolder(results: plan.results), withIntermediateDirectories: true)
    }

    /// The jobs of the results folder's other submitted plans that the queue still holds: their
    /// arrays and render jobs, by the `.jobs` files beside their plans, in file order. The render
    /// job renders the whole folder, so it waits for these too: otherwise a submission made while
    /// another's runs are still fitting renders without them, and where both write one report
    /// folder, the render that started first may write last. Empty where squeue cannot tell.
    public func otherLiveJobs() -> [String] {
        let folder = FrozenPlan.folder(results: plan.results), mine = (jobsPath as NSString).lastPathComponent
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".jobs") && $0 != mine }.sorted()
        let ids = files.flatMap { f -> [String] in
            let j = Self.submittedJobs(planPath: (folder as NSString).appendingPathComponent(f))
            return j.arrays + (j.render.map { [$0] } ?? [])
        }
        // squeue names array tasks "123_4"; a job it no longer holds is not listed (or, asked
        // for alone, makes it fail).
        guard !ids.isEmpty, let states = try? SlurmClient.queueStates(jobs: ids) else { return [] }
        let held = Set(states.keys.map { String($0.prefix { $0 != "_" }) })
        return ids.filter(held.contains)
    }

    /// Submits the arrays, then the render job after them and after `otherLiveJobs`; records and
    /// returns the job ids (`alsoAfter`: the other plans' jobs the render job waits for). When
    /// sbatch refuses one after others were queued, the queued ones are recorded (`status`
    /// follows them) and the error names them: they run whatever happens to this command.
    public func submit() throws -> (arrays: [String], render: String, alsoAfter: [String]) {
        guard SlurmClient.find("sbatch") != nil else {
            throw DIPError.mismatch(SlurmClient.missingSbatch)
        }
        var arrays: [String] = []
        func record(_ lines: [String]) throws {
            try AtomicFile.write(Data(lines.joined(separator: "\n").utf8 + [10]), to: jobsPath)
        }
        do {
            for s in submissions {
                arrays.append(try SlurmClient.jobID(fromParsable: try SlurmClient.run(arrayCommand(s, previous: arrays.last))))
            }
            let others = otherLiveJobs()
            let render = try SlurmClient.jobID(fromParsable: try SlurmClient.run(renderCommand(after: arrays + others)))
            try record(arrays + ["render \(render)"])
            return (arrays, render, others)
        } catch where !arrays.isEmpty {
            try? record(arrays)
            let which = "array job\(arrays.count == 1 ? "" : "s") \(arrays.joined(separator: ", "))"
            throw DIPError.mismatch("\(error)\nAlready queued: \(which), which will fit their runs; `dip-report status --results \(plan.results)` follows them. "
                                    + "Render once they end (`\(renderArguments.map(Self.quote).joined(separator: " "))`), or cancel them: scancel \(arrays.joined(separator: " "))")
        }
    }

    /// The job ids recorded for the plan at `planPath` (arrays, render), empty when not submitted.
    public static func submittedJobs(planPath: String) -> (arrays: [String], render: String?) {
        let p = (planPath as NSString).deletingPathExtension + ".jobs"
        guard let text = try? String(contentsOfFile: p, encoding: .utf8) else { return ([], nil) }
        var arrays: [String] = []
        var render: String?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("render ") { render = String(line.dropFirst(7)) } else { arrays.append(String(line)) }
        }
        return (arrays, render)
    }
}

import DIPCore
import DIPEngine
import DIPTestSupport
import Foundation
import Testing
@testable import DIPExperiments

private func tempFolder() -> String {
    let p = TestFolder.path("dip-slurm")
    try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

/// The job ids `submit` printed ("submitted: array job 3; render job 4 ...").
private func submittedJobs(_ output: String) -> (arrays: [String], render: String)? {
    guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("submitted: array job") }) else { return nil }
    let words = line.replacingOccurrences(of: ",", with: " ").replacingOccurrences(of: ";", with: " ").split(separator: " ").map(String.init)
    guard let r = words.firstIndex(of: "render") else { return nil }
    let arrays = words[..<r].filter { $0.allSatisfy(\.isNumber) }
    guard words.count > r + 2, !arrays.isEmpty else { return nil }
    return (arrays, words[r + 2])
}

/// Every record of `a` has its twin in `b`: same key, curve, losses, scores and picture bytes.
private func expectSameRuns(_ a: ResultStore, _ b: ResultStore, comment: String = "") throws {
    let ra = a.scan().records, rb = b.scan().records
    #expect(ra.count == rb.count && !ra.isEmpty, "\(ra.count) vs \(rb.count) records \(comment)")
    for r in ra {
        guard let s = try b.load(r.key) else { Issue.record("\(r.key) missing \(comment)"); continue }
        #expect(r.curve == s.curve && r.losses.map(\.bitPattern) == s.losses.map(\.bitPattern), "\(r.key)")
        #expect(r.final == s.final && r.best == s.best && r.bestIteration == s.bestIteration, "\(r.key)")
        for role in r.images.keys {
            let x = FileManager.default.contents(atPath: a.imagePath(for: r.key, role))
            #expect(x != nil && x == FileManager.default.contents(atPath: b.imagePath(for: r.key, role)), "\(r.key) \(role)")
        }
    }
}

private let clusterGate = LocalCluster.unavailable == nil && CLI.executable != nil && experimentData != nil
private let clusterWhy = LocalCluster.unavailable ?? "needs the built dip-report and ../shared/data"

@Suite("Slurm: a private cluster from Debian's packages", .serialized)
struct SlurmTests {
    @Test("submit of two smoke experiments (two seeds): the array stores the very records of a local run, and the render job writes the page",
          .enabled(if: clusterGate, "\(clusterWhy)"))
    func endToEnd() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cluster = try LocalCluster()
        defer { cluster.stop() }
        let common = ["width", "table1-tv", "--profile", "smoke", "--seeds", "0,1", "--data", experimentData!]
        // The local reference runs meanwhile, with the same threads per run.
        let local = try CLI.Running(["run"] + common + ["--results", folder + "/local", "--jobs", "1", "--threads", "1"], log: folder + "/local.log")
        // A results path with a space, an apostrophe and a % (which Slurm's log names read as
        // %j), and an sbatch option whose value has a space: the script's #SBATCH lines and
        // the log names carry them as they are.
        let results = folder + "/my results, it's 100%j"
        let (status, out) = try CLI.run(["submit"] + common + ["--results", results, "--out", folder + "/report",
                                                              "--cpus-per-task", "1", "--no-estimate", "--pack-seconds", "5",
                                                              "--sbatch-arg=--comment=dip report"],
                                        environment: cluster.environment)
        #expect(status == 0, "\(out)")
        guard let jobs = submittedJobs(out) else { Issue.record("no job ids in: \(out)"); return }
        var requeued = 0
        #expect(cluster.waitForJobs(jobs.arrays + [jobs.render], timeout: 600, requeued: &requeued), "jobs did not finish")
        #expect(local.wait() == 0, "\(local.output)")
        for j in jobs.arrays { #expect(Set(cluster.jobStates(j)) == ["COMPLETED"], "array \(j)") }
        #expect(cluster.jobStates(jobs.render) == ["COMPLETED"])
        try expectSameRuns(try ResultStore(root: folder + "/local"), try ResultStore(root: results))
        #expect(FileManager.default.fileExists(atPath: folder + "/report/index.html"), "the render job writes the page")
        let logs = (try? FileManager.default.contentsOfDirectory(atPath: FrozenPlan.logFolder(results: results))) ?? []
        #expect(logs.contains("\(jobs.arrays[0])_0.out") && logs.contains("\(jobs.render)_render.out"), "\(logs)")
        let (_, status2) = try CLI.run(["status", "--results", results], environment: cluster.environment)
        #expect(status2.contains("width: 10 / 0 / 0 / 0 / 0") && status2.contains("table1-tv: 52 / 0 / 0 / 0 / 0"), "\(status2)")
        #expect(status2.contains("0 left") && status2.contains("no job of the plans is queued"), "\(status2)")
    }

    @Test("a task whose time limit is shorter than its fit is warned, checkpoints, is requeued and ends with the record of an uninterrupted run; status shows it running meanwhile",
          .enabled(if: clusterGate, "\(clusterWhy)"))
    func preemption() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cluster = try LocalCluster()
        defer { cluster.stop() }
        // About a minute of fitting in a debug build here; Slurm's limits are whole minutes, so
        // the limit is one minute and the warning (SIGUSR1) comes at most 30 s into each slot.
        let catalog = try CLI.slowCatalog(id: "preempt", iterations: 800, in: folder)
        let common = ["preempt", "--catalog", catalog, "--profile", "paper", "--seeds", "0", "--data", experimentData!]
        let local = try CLI.Running(["run"] + common + ["--results", folder + "/local", "--threads", "1", "--no-estimate"], log: folder + "/local.log")
        let (status, out) = try CLI.run(["submit"] + common + ["--results", folder + "/results", "--out", folder + "/report",
                                                              "--no-estimate", "--time", "1", "--warning-seconds", "30"],
                                        environment: cluster.environment)
        #expect(status == 0, "\(out)")
        guard let jobs = submittedJobs(out) else { Issue.record("no job ids in: \(out)"); return }
        // Mid-flight: the run is claimed by the array task, with its job id.
        let running = CLI.waitUntil(timeout: 120) {
            guard let (_, s) = try? CLI.run(["status", "--results", folder + "/results"], environment: cluster.environment) else { return false }
            return s.contains("running preempt/kate/") && s.contains("(job \(jobs.arrays[0])_0)")
        }
        #expect(running, "status never showed the run in flight")
        var requeued = 0
        #expect(cluster.waitForJobs(jobs.arrays + [jobs.render], timeout: 600, requeued: &requeued), "jobs did not finish")
        #expect(local.wait() == 0, "\(local.output)")
        let results = try ResultStore(root: folder + "/results")
        let log = (try? String(contentsOfFile: FrozenPlan.logFolder(results: results.root) + "/\(jobs.arrays[0])_0.out", encoding: .utf8)) ?? ""
        #expect(requeued >= 1 && log.contains("requeueing"), "\(log)")
        #expect(results.scan().records.first.map { $0.resumes >= 1 } == true,
                "\(log)\n\(cluster.shell("scontrol -o show job \(jobs.arrays[0])").1)\n\(cluster.shell("cat \(cluster.state)/log/jobcomp.log").1)")
        try expectSameRuns(try ResultStore(root: folder + "/local"), results)
        #expect(results.sweep(remove: false).isEmpty)
    }

    @Test("two arrays submitted over one results folder at once store each run exactly once, with no damaged file",
          .enabled(if: clusterGate, "\(clusterWhy)"))
    func collisions() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cluster = try LocalCluster()
        defer { cluster.stop() }
        let args = ["submit", "width", "--profile", "smoke", "--seeds", "0,1", "--data", experimentData!, "--results", folder + "/results",
                    "--out", folder + "/report", "--no-estimate", "--pack-seconds", "0"]
        // More CPUs a task than any node has: sbatch queued it, pending for ever (and every later
        // submission's render job behind it); refused before anything is queued.
        let (tooWide, said) = try CLI.run(args + ["--cpus-per-task", "64"], environment: cluster.environment)
        #expect(tooWide == 1 && said.contains("--cpus-per-task 64: the largest node of the default partition has ")
                && said.contains("so no task could ever start"), "\(said)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/results/.plans"), "nothing was planned")
        let a = try CLI.Running(args, environment: cluster.environment, log: folder + "/a.log")
        let b = try CLI.Running(args, environment: cluster.environment, log: folder + "/b.log")
        #expect(a.wait() == 0 && b.wait() == 0, "\(a.output)\n\(b.output)")
        guard let ja = submittedJobs(a.output), let jb = submittedJobs(b.output) else { Issue.record("\(a.output)\n\(b.output)"); return }
        var requeued = 0
        #expect(cluster.waitForJobs(ja.arrays + jb.arrays + [ja.render, jb.render], timeout: 600, requeued: &requeued))
        let store = try ResultStore(root: folder + "/results")
        let logs = try FileManager.default.contentsOfDirectory(atPath: FrozenPlan.logFolder(results: store.root))
            .compactMap { try? String(contentsOfFile: FrozenPlan.logFolder(results: store.root) + "/" + $0, encoding: .utf8) }.joined()
        let fitted = logs.split(separator: "\n").filter { $0.hasPrefix("done ") || $0.hasPrefix("DIVERGED ") }
        #expect(fitted.count == 10 && Set(fitted.map { $0.split(separator: " ")[1] }).count == 10, "\(logs)")
        let scan = store.scan()
        #expect(scan.records.count == 10 && scan.problems.isEmpty)
        #expect(store.sweep(remove: false).isEmpty)
    }

    @Test("a submission over a results folder whose earlier submission is still queued renders only after that one's jobs end, and its page holds every run",
          .enabled(if: clusterGate, "\(clusterWhy)"))
    func renderAfterEarlierSubmissions() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cluster = try LocalCluster()
        defer { cluster.stop() }
        let args = ["submit", "width", "--profile", "smoke", "--seeds", "0", "--data", experimentData!, "--results", folder + "/results",
                    "--out", folder + "/report", "--no-estimate", "--pack-seconds", "0"]
        // The first submission's jobs may start only in an hour: they stay queued throughout
        // (waitForJobs, which releases such jobs as requeued ones, is never asked about them).
        let (firstStatus, firstOut) = try CLI.run(args + ["--sbatch-arg=--begin=now+3600"], environment: cluster.environment)
        let (secondStatus, secondOut) = try CLI.run(args, environment: cluster.environment)
        #expect(firstStatus == 0 && secondStatus == 0, "\(firstOut)\n\(secondOut)")
        guard let first = submittedJobs(firstOut), let second = submittedJobs(secondOut) else {
            Issue.record("\(firstOut)\n\(secondOut)"); return
        }
        let earlier = first.arrays + [first.render]
        #expect(secondOut.contains("that are still queued: \(earlier.joined(separator: ", "))"), "\(secondOut)")
        let dependency = cluster.shell("scontrol -o show job \(second.render)").1
        for j in earlier { #expect(dependency.contains("afterany:\(j)"), "\(dependency)") }
        // The second array fits every run; its render job still waits for the first submission.
        var requeued = 0
        #expect(cluster.waitForJobs(second.arrays, timeout: 600, requeued: &requeued), "the second array did not finish")
        #expect(try ResultStore(root: folder + "/results").scan().records.count == 5)
        #expect(cluster.jobStates(second.render) == ["PENDING"], "\(cluster.shell("scontrol -o show job \(second.render)").1)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/report/index.html"))
        _ = cluster.shell("scancel \(earlier.joined(separator: " "))")
        #expect(cluster.waitForJobs([second.render], timeout: 600, requeued: &requeued), "the render job did not finish")
        #expect(cluster.jobStates(second.render) == ["COMPLETED"])
        let page = (try? String(contentsOfFile: folder + "/report/index.html", encoding: .utf8)) ?? ""
        #expect(!page.isEmpty, "the render job writes the page once the first submission's jobs end")
    }
}

@Suite("Slurm: plans and scripts")
struct SlurmPlanTests {
    @Test("submit --dry-run writes a plan and a valid bash script with the signal and requeue, and prints the array and dependency lines",
          .enabled(if: CLI.executable != nil && experimentData != nil, "needs the built dip-report and ../shared/data"))
    func dryRun() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, out) = try CLI.run(["submit", "width", "table1-tv", "--profile", "smoke", "--seeds", "0,1", "--data", experimentData!,
                                         "--results", folder + "/results", "--no-estimate", "--pack-seconds", "0",
                                         "--partition", "cpu", "--max-parallel", "4", "--dry-run"])
        #expect(status == 0, "\(out)")
        let plans = try FileManager.default.contentsOfDirectory(atPath: folder + "/results/.plans")
        guard let planFile = plans.first(where: { $0.hasSuffix(".json") }), let scriptFile = plans.first(where: { $0.hasSuffix(".sbatch") }) else {
            Issue.record("\(plans)"); return
        }
        let plan = try FrozenPlan.read(folder + "/results/.plans/" + planFile)
        #expect(plan.runs.count == 62 && plan.tasks.count == 62 && plan.profile == "smoke")
        let script = try String(contentsOfFile: folder + "/results/.plans/" + scriptFile, encoding: .utf8)
        #expect(LocalCluster.shell("bash -n \(folder)/results/.plans/\(scriptFile)").0 == 0, "not valid bash")
        for part in ["#SBATCH --signal=B:USR1@120", "#SBATCH --requeue", "#SBATCH --partition=cpu", "#SBATCH --cpus-per-task=1",
                     "run --plan \"$plan\" --task \"$task\"", "scontrol requeue", plan.executable] {
            #expect(script.contains(part), "the script lacks \(part)")
        }
        #expect(out.contains("--array=0-61%4"), "\(out)")
        // With at most 4 at once, 10 or 50 at once is no case to estimate.
        let wall = out.split(separator: "\n").first { $0.hasPrefix("estimated wall time") }
        #expect(wall?.hasSuffix(" with 4 at once: " + (wall?.split(separator: " ").last ?? "")) == true, "\(out)")
        #expect(out.contains("--dependency=afterany:<array1>"), "\(out)")
        // The render job asks for no more time than the tasks (5 minutes here), which the
        // partition accepts; a fixed 30 minutes stayed pending for ever on a shorter partition.
        #expect(out.contains("_render.out --time=00:05:00 "), "\(out)")
        let jobsFile = folder + "/results/.plans/" + planFile.replacingOccurrences(of: ".json", with: ".jobs")
        #expect(!FileManager.default.fileExists(atPath: jobsFile))
        // status says the plan queued nothing, rather than showing it as if it were live; a
        // --catalog submission's copy of the user's experiments beside the plan is no plan.
        try "[]".write(toFile: folder + "/results/.plans/" + planFile.replacingOccurrences(of: ".json", with: ".catalog.json"), atomically: true, encoding: .utf8)
        let (_, dry) = try CLI.run(["status", "--results", folder + "/results"])
        #expect(dry.contains("plan \(plan.id) (not submitted by `dip-report submit`: a --dry-run, or sbatch refused it; jobs of it submitted by hand are not followed here: `squeue -n dip-\(plan.id)`)"), "\(dry)")
        #expect(!dry.contains("unreadable"), "\(dry)")
        // Once submitted, a queue that cannot be read is said to be unknown, and why.
        try "4242\nrender 4243\n".write(toFile: jobsFile, atomically: true, encoding: .utf8)
        let (_, submitted) = try CLI.run(["status", "--results", folder + "/results"], environment: ["PATH": "/nonexistent"])
        #expect(!submitted.contains("not submitted") && submitted.contains("queue: not known: squeue is not on PATH"), "\(submitted)")
        // A task that failed as a whole (before any run of it started) shows its runs as failed,
        // with its log, not as missing.
        let log = FrozenPlan.logFolder(results: folder + "/results") + "/4242_0.out"
        try "dip-report task 0 of plan \(plan.id) on node (job 4242_0, restart 0)\nError: /data: 1 test image is missing\n"
            .write(toFile: log, atomically: true, encoding: .utf8)
        let (_, failed) = try CLI.run(["status", "--results", folder + "/results"], environment: ["PATH": "/nonexistent"])
        let key = plan.runs[plan.tasks[0].runs[0]].key
        #expect(failed.contains("failed \(key): see \(log)") && failed.contains("| Error: /data: 1 test image is missing"), "\(failed)")
        // A later dry run of other experiments (to see their estimate) leaves the queued plan's
        // counts as they were, and is named as not counted.
        let before = failed.split(separator: "\n").filter { $0.hasPrefix("iterations:") }
        let (again, laterOut) = try CLI.run(["submit", "depth", "--profile", "smoke", "--seeds", "0", "--data", experimentData!,
                                             "--results", folder + "/results", "--no-estimate", "--dry-run"])
        #expect(again == 0, "\(laterOut)")
        let later = try FileManager.default.contentsOfDirectory(atPath: folder + "/results/.plans")
            .filter { $0.hasSuffix(".json") && $0 != planFile && !$0.hasSuffix(".catalog.json") }
        let (_, mixed) = try CLI.run(["status", "--results", folder + "/results"], environment: ["PATH": "/nonexistent"])
        #expect(later.count == 1 && mixed.contains("not counted: 1 plan `submit` queued nothing of (a --dry-run, or sbatch refused it): "
                                                    + later[0].replacingOccurrences(of: ".json", with: "")), "\(later) \(mixed)")
        #expect(!mixed.contains("  depth:") && mixed.hasPrefix("plan \(plan.id)\nexperiment: stored / running"), "\(mixed)")
        #expect(mixed.split(separator: "\n").filter { $0.hasPrefix("iterations:") } == before, "\(mixed)")
    }

    @Test("a task plans only its own runs' experiments: an image of another experiment damaged since the submit fails that experiment's tasks only",
          .enabled(if: CLI.executable != nil && experimentData != nil, "needs the built dip-report and ../shared/data"))
    func taskPlansItsOwnExperiments() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder + "/data/dip-inpainting", withIntermediateDirectories: true)
        for f in ["kate.png", "library.png", "library_mask.png"] {
            try FileManager.default.copyItem(atPath: experimentData! + "/dip-inpainting/" + f, toPath: folder + "/data/dip-inpainting/" + f)
        }
        let (status, out) = try CLI.run(["submit", "width", "library", "--profile", "smoke", "--seeds", "0", "--data", folder + "/data",
                                         "--results", folder + "/results", "--no-estimate", "--pack-seconds", "0", "--dry-run"])
        #expect(status == 0, "\(out)")
        let plans = try FileManager.default.contentsOfDirectory(atPath: folder + "/results/.plans")
        guard let planFile = plans.first(where: { $0.hasSuffix(".json") }) else { Issue.record("\(plans)"); return }
        let planPath = folder + "/results/.plans/" + planFile
        let plan = try FrozenPlan.read(planPath)
        func task(of experiment: String) -> Int? { plan.tasks.firstIndex { plan.runs[$0.runs[0]].key.experiment == experiment } }
        guard let width = task(of: "width"), let library = task(of: "library") else { Issue.record("\(plan.tasks)"); return }
        try "not a picture".write(toFile: folder + "/data/dip-inpainting/library.png", atomically: true, encoding: .utf8)
        let (widthStatus, widthOut) = try CLI.run(["run", "--plan", planPath, "--task", "\(width)"])
        #expect(widthStatus == 0 && widthOut.contains("1 done"), "\(widthOut)")
        let (libraryStatus, libraryOut) = try CLI.run(["run", "--plan", planPath, "--task", "\(library)"])
        #expect(libraryStatus != 0 && libraryOut.contains("library.png"), "\(libraryOut)")
    }

    /// `submit width --dry-run` of the smoke profile, seed 0, over `results`: the plan file's name.
    static func dryRunPlan(results: String) throws -> String {
        let (status, out) = try CLI.run(["submit", "width", "--profile", "smoke", "--seeds", "0", "--data", experimentData!,
                                         "--results", results, "--no-estimate", "--dry-run"])
        #expect(status == 0, "\(out)")
        return try #require(try FileManager.default.contentsOfDirectory(atPath: FrozenPlan.folder(results: results)).first { $0.hasSuffix(".json") })
    }

    @Test("run --plan refuses a plan whose threads or checkpoint interval submit would not write, and threads this machine cannot give",
          .enabled(if: CLI.executable != nil && experimentData != nil, "needs the built dip-report and ../shared/data"))
    func planValuesChecked() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = try Self.dryRunPlan(results: folder + "/results")
        let plans = folder + "/results/.plans/"
        let original = try String(contentsOfFile: plans + file, encoding: .utf8)
        // 2048 OpenMP threads smashed oneDNN's stack; 0 and a 0-second interval were taken as given.
        var cases = [("\"threadsPerRun\" : 2048", "threadsPerRun 2048: from 1 to 1024"), ("\"threadsPerRun\" : 0", "threadsPerRun 0: from 1 to 1024"),
                     ("\"checkpointSeconds\" : 0", "checkpointSeconds 0.0: more than 0")]
        // More than the flags' 4 threads a core of this machine (where that is a valid plan).
        let over = 4 * HostCPU.usableCores + 1
        if over <= 1024 { cases.append(("\"threadsPerRun\" : \(over)", "its runs take \(over) threads each, and this process may use")) }
        for (edit, expected) in cases {
            let field = String(edit.prefix { $0 != ":" })
            let changed = original.replacingOccurrences(of: field + ": [0-9.]+", with: edit, options: .regularExpression)
            #expect(changed != original, "\(field)")
            try changed.write(toFile: plans + file, atomically: true, encoding: .utf8)
            let (code, text) = try CLI.run(["run", "--plan", plans + file, "--task", "0"])
            #expect(code != 0 && text.contains(expected) && !text.contains("Program crashed"), "\(edit): \(text)")
        }
        // A task's run index outside the runs crashed `run --plan` (an index out of range); a run
        // of 5·10^18 iterations crashed `status` on an overflow as it added them up.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(original.utf8)) as? [String: Any])
        let edits: [(String, ([String: Any]) -> [String: Any], String)] = [
            ("tasks[0].runs", { var j = $0; var t = j["tasks"] as! [[String: Any]]; t[0]["runs"] = [1_000_000]; j["tasks"] = t; return j },
             "impossible value 1000000 at 'tasks[0].runs'"),
            ("tasks[0].runs", { var j = $0; var t = j["tasks"] as! [[String: Any]]; t[0]["runs"] = [-1]; j["tasks"] = t; return j },
             "impossible value -1 at 'tasks[0].runs'"),
            ("runs[0].iterations", { var j = $0; var r = j["runs"] as! [[String: Any]]; r[0]["iterations"] = 5_000_000_000_000_000_000; j["runs"] = r; return j },
             "impossible value 5000000000000000000 at 'runs[0].iterations'"),
            ("runs[0].iterations", { var j = $0; var r = j["runs"] as! [[String: Any]]; r[0]["iterations"] = -5; j["runs"] = r; return j },
             "impossible value -5 at 'runs[0].iterations'"),
        ]
        for (field, edit, expected) in edits {
            try JSONSerialization.data(withJSONObject: edit(json)).write(to: URL(fileURLWithPath: plans + file))
            let (code, text) = try CLI.run(["run", "--plan", plans + file, "--task", "0"])
            #expect(code != 0 && text.contains("is a damaged plan (\(expected))") && !text.contains("crash"), "\(field): \(text)")
            let (statusCode, statusText) = try CLI.run(["status", "--results", folder + "/results"])
            #expect(statusCode == 0 && statusText.contains(expected) && !statusText.contains("crash"), "\(field): \(statusText)")
        }
    }

    @Test("a plan found in another results folder than it was made for (the folder moved, the plan copied) is refused by run --plan and not counted by status",
          .enabled(if: CLI.executable != nil && experimentData != nil, "needs the built dip-report and ../shared/data"))
    func movedPlan() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = try Self.dryRunPlan(results: folder + "/before")
        try FileManager.default.moveItem(atPath: folder + "/before", toPath: folder + "/after")
        let plans = folder + "/after/.plans/"
        // It recreated the old folder and stored the runs there, exit 0.
        let (code, text) = try CLI.run(["run", "--plan", plans + file, "--task", "0"])
        #expect(code == 1 && text.contains("this plan was made for the results folder \(folder)/before, not \(folder)/after where it lies"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/before"))
        // status counted its runs as this folder's missing ones.
        let (statusCode, statusText) = try CLI.run(["status", "--results", folder + "/after"])
        #expect(statusCode == 0 && statusText.contains("a plan made for the results folder \(folder)/before; its runs are not counted here")
                && !statusText.contains("width: 0 / 0 / 0 / 0 /"), "\(statusText)")
    }

    @Test("sinfo's CPUs a node are read as the largest node's, ranges included")
    func largestNode() {
        #expect(SlurmClient.largestNodeCPUs(sinfoOutput: "2\n64+\n16\n") == 64)
        #expect(SlurmClient.largestNodeCPUs(sinfoOutput: "") == nil)
    }

    @Test("#SBATCH lines quote a value with a space, quote or backslash; a % in a log path is doubled; options submit sets are refused as --sbatch-arg")
    func directives() {
        #expect(BatchScript.directive("--requeue") == "#SBATCH --requeue")
        #expect(BatchScript.directive("--output=/a b/it's/%A.out") == "#SBATCH --output=\"/a b/it's/%A.out\"")
        #expect(BatchScript.directive("--comment=say \"hi\" \\o/") == "#SBATCH --comment=\"say \\\"hi\\\" \\\\o/\"")
        #expect(BatchScript.filenamePattern("/r/100%j") == "/r/100%%j")
        for reserved in ["--array=0-3", "-t5", "--time=1:00:00", "--mem=1G", "--mem-per-cpu=1G", "-c2", "--output=x", "--dependency=afterok:1",
                         "--requeue", "--wrap=ls", "--dep=afterok:1", "--arr=1", "-e", "--error=e.txt", "-Jname", "--job-name=x", "--comment=a\nb"] {
            #expect(SlurmRequest.extraArgumentProblem(reserved) != nil, "\(reserved)")
        }
        // Parted from its value by a space, an option is one word to sbatch (checked against
        // sbatch 22.05: "unrecognized option '--qos long'", "invalid partition specified:  debug").
        #expect(SlurmRequest.extraArgumentProblem("--qos long") == "--sbatch-arg='--qos long': sbatch reads it as one word, space and all; write the option and its value as one: --sbatch-arg='--qos=long'")
        #expect(SlurmRequest.extraArgumentProblem("-p debug")?.hasSuffix("--sbatch-arg='-pdebug'") == true)
        #expect(SlurmRequest.extraArgumentProblem("qos=long")?.contains("not an sbatch option") == true)
        // An option submit sets is named as such, spaced or not (not told to join its value).
        #expect(SlurmRequest.extraArgumentProblem("--array 1-3")?.contains("submit sets --array itself") == true)
        #expect(SlurmRequest.extraArgumentProblem("-J name")?.contains("submit sets --job-name itself") == true)
        #expect(SlurmRequest.extraArgumentProblem("-")?.contains("not an sbatch option") == true)
        for allowed in ["--qos=long", "--constraint=avx2", "-Cavx2", "--comment=a b", "--exclusive", "--time-min=10", "--export=ALL", "--cpus-per-gpu=2"] {
            #expect(SlurmRequest.extraArgumentProblem(allowed) == nil, "\(allowed)")
        }
    }

    @Test("a pending job's state carries Slurm's reason, others their state alone")
    func queueReasons() {
        let states = SlurmClient.queueStates(squeueOutput: "12_0 RUNNING None\n12_1 PENDING PartitionConfig\n13 PENDING Dependency\n14 PENDING None\n")
        #expect(states == ["12_0": "RUNNING", "12_1": "PENDING (PartitionConfig)", "13": "PENDING (Dependency)", "14": "PENDING"])
    }

    @Test("with --max-parallel the arrays run one after another, and the estimate adds them up")
    func chainedArrays() {
        let tasks = [(100.0, 600), (100.0, 600), (100.0, 1200), (100.0, 1200)].map { FrozenPlan.Task(runs: [], seconds: $0.0, peakBytes: 1e8, timeLimit: $0.1, memoryMiB: 512) }
        let plan = FrozenPlan(id: "p", created: Date(), tool: "t", commit: "c", executable: "/x", results: "/r", out: "/o", data: "/d",
                              profile: "smoke", seeds: [0], threadsPerRun: 1, checkpointSeconds: 600, experiments: [], runs: [], tasks: tasks,
                              device: "cpu", gpuMath: "default")
        var request = SlurmRequest()
        let free = BatchScript(plan: plan, planPath: "/r/.plans/p.json", request: request)
        #expect(free.submissions.count == 2 && free.wallSeconds(parallel: 4) == 100)
        #expect(!free.arrayCommand(free.submissions[1], previous: "7").contains { $0.hasPrefix("--dependency") })
        request.maxParallel = 2
        let held = BatchScript(plan: plan, planPath: "/r/.plans/p.json", request: request)
        #expect(held.wallSeconds(parallel: 2) == 200)
        #expect(held.arrayCommand(held.submissions[0], previous: nil).contains("--array=0-1%2"))
        #expect(held.arrayCommand(held.submissions[1], previous: "7").contains("--dependency=afterany:7"))
    }

    @Test("without sbatch, submit says what to install or where to run, and suggests --dry-run",
          .enabled(if: CLI.executable != nil && experimentData != nil, "needs the built dip-report and ../shared/data"))
    func missingSbatch() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, out) = try CLI.run(["submit", "table1-tv", "--profile", "smoke", "--data", experimentData!,
                                         "--results", folder + "/results", "--no-estimate"], environment: ["PATH": "/nonexistent"])
        #expect(status != 0)
        #expect(out.contains("sbatch is not on PATH") && out.contains("slurm-client") && out.contains("--dry-run"), "\(out)")
    }

    @Test("short runs are packed into tasks of about a minute, long ones run alone, longest first; limits come in steps")
    func packing() {
        var planner = ArrayPlanner()
        let key = RunKey(experiment: "e", image: "i", configHash: "abc", seed: 0)
        let runs = [10.0, 20, 3600, 40, 5, 100].map { FrozenPlan.Run(key: key, label: "", iterations: 1, seconds: $0, peakBytes: 1e9) }
        let tasks = planner.tasks(runs)
        #expect(tasks.map(\.runs) == [[2], [5], [0, 1, 3], [4]])
        #expect(tasks[0].timeLimit == 120 * 60 && tasks[0].memoryMiB == 2048)  // 3600 s x1.5 + 2 min -> 2 h; 1.25 GB -> 2 GiB
        planner.timeLimit = 600
        planner.memoryBytes = 3e9
        #expect(planner.tasks(runs).allSatisfy { $0.timeLimit == 600 && $0.memoryMiB == 2862 }, "3e9 bytes asked for as given, in whole MiB")
        #expect(BatchScript.parseTime("1") == 60 && BatchScript.parseTime("04:00:00") == 14400 && BatchScript.parseTime("2-00:00:00") == 172800)
        #expect(BatchScript.parseTime("soon") == nil && BatchScript.slurmTime(90061) == "1-01:01:01")
        #expect(ArraySubmission(tasks: [0, 1, 2, 5, 7, 8], timeLimit: 60, memoryMiB: 512).arraySpec(maxParallel: 3) == "0-2,5,7-8%3")
    }

    @Test("a Slurm command that finds no cluster says what to do; its other failures are passed on as they are")
    func noCluster() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // What Debian's sbatch 22.05 printed on a machine with no slurm.conf and no DNS SRV record.
        let script = folder + "/sbatch"
        try "#!/bin/sh\necho 'sbatch: error: fetch_config: DNS SRV lookup failed' >&2\necho 'sbatch: error: _establish_config_source: failed to fetch config' >&2\nexit 1\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        #expect { try SlurmClient.run([script]) } throws: {
            "\($0)".contains("failed to fetch config (no Slurm cluster answers from here") && "\($0)".contains("--dry-run")
        }
        // squeue (status's) is offered no --dry-run, which status does not have.
        try FileManager.default.copyItem(atPath: script, toPath: folder + "/squeue")
        #expect { try SlurmClient.run([folder + "/squeue"]) } throws: {
            "\($0)".contains("no Slurm cluster answers from here") && !"\($0)".contains("--dry-run")
        }
        try "#!/bin/sh\necho 'sbatch: error: Batch job submission failed: Invalid account' >&2\nexit 1\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        #expect { try SlurmClient.run([script]) } throws: {
            "\($0)".hasSuffix("Invalid account") && !"\($0)".contains("no Slurm cluster")
        }
    }

    @Test("the shell that starts the test cluster's daemons gets the standard descriptors only, not another test's open pipe")
    func clusterShellDescriptors() throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { for end in ends { close(end) } }
        // Not close-on-exec, as a pipe Foundation's Process is setting up for another test is.
        let (status, out) = LocalCluster.shell("ls /proc/$$/fd; true")  // `; true`: bash itself, not ls exec-ed in its place
        #expect(status == 0, "\(out)")
        #expect(out.split(separator: "\n").sorted() == ["0", "1", "2"], "\(out)")
    }

    @Test("a Slurm command that does not answer in time is stopped with everything it started, and said so")
    func silentCommand() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // A wrapper script (site squeue wrappers are common) whose own child never answers.
        let script = folder + "/squeue"
        try "#!/bin/sh\nsleep 300 &\necho $! > \(folder)/child\nwait\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let started = Date()
        // 3 s: time enough, on a loaded machine too, for the wrapper to start its child and
        // write its pid before it is stopped (the file was found empty).
        #expect {
            try SlurmClient.run([script], timeout: 3)
        } throws: { "\($0)".contains("no answer in 3 s, stopped") }
        #expect(Date().timeIntervalSince(started) < 12)
        let child = try #require(Int32(try String(contentsOfFile: folder + "/child", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // Gone, or a zombie waiting for its new parent to reap it: either way not running.
        var running = true
        for _ in 0..<40 {
            let stat = (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8)) ?? ""
            running = !stat.isEmpty && !stat.contains(") Z ")
            if !running { break }
            usleep(50_000)
        }
        #expect(!running, "the wrapper's child \(child) still runs")
    }

    @Test("cuda tasks planned where no GPU is: Adam fits at the prior GPU rate (table1 at 512: PyTorch's 17.6 ms an iteration), TV runs as on the CPU",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func gpuPrior() throws {
        let root = TestFolder.path("dip-gpu-prior")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let runner = Runner(store: try ResultStore(root: root),
                            options: RunnerOptions(dataDirectory: experimentData!, profile: .paper, seeds: [0], jobs: 1, threadsPerJob: 1))
        let plan = try runner.plan(try Catalog.select(["table1-paper", "table1-tv"], from: Catalog.experiments))
        var planner = ArrayPlanner()
        planner.measure = false
        let cpu = try planner.estimateRuns(plan, runner: runner)
        planner.gpuPrior = true
        let gpu = try planner.estimateRuns(plan, runner: runner)
        var adam = 0
        for (run, (c, g)) in zip(plan.pending, zip(cpu, gpu)) {
            if ArrayPlanner.runsOnGPU(run) {
                adam += 1
                #expect(g.seconds < c.seconds / 5, "\(run.label): \(g.seconds) s on the GPU prior vs \(c.seconds) on the CPU's")
                if run.size.height == 512, run.size.width == 512 {
                    #expect(abs(g.seconds - (10 + 0.0176 * Double(run.iterations))) < 1e-6 * g.seconds, "\(run.label)")
                }
            } else {
                #expect(g.seconds == c.seconds, "\(run.label): a CPU run keeps the CPU's cost")
            }
        }
        #expect(adam > 0 && adam < plan.pending.count)
    }
}

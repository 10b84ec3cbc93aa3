import DIPEngine
import DIPTestSupport
import Foundation
import Testing
@testable import DIPExperiments

/// The keys of two interrupted runs of table1-paper: one whose checkpoint status can read, one
/// whose checkpoint is damaged (a copy cut short: listed, not counted, since `run` starts that
/// run afresh).
private let soundKey = RunKey(experiment: "table1-paper", image: "boat", configHash: "e2bafad265e7", seed: 2)
private let damagedKey = RunKey(experiment: "table1-paper", image: "house", configHash: "e2bafad265e7", seed: 1)

/// Writes their checkpoints: a checkpoint's state is all status reads of it (the steps it holds, 400).
private func plantCheckpoints(in store: ResultStore) throws {
    for key in [soundKey, damagedKey] { try FileManager.default.createDirectory(atPath: store.folder(for: key), withIntermediateDirectories: true) }
    try SafetensorsFile(metadata: ["state": #"{"step": 400}"#]).write(to: store.checkpointPath(for: soundKey))
    #expect(FileManager.default.createFile(atPath: store.checkpointPath(for: damagedKey), contents: Data("checkpoint".utf8)))
}

@Suite("Status of a results folder")
struct StoreStatusTests {
    @Test("runs of a plain `run` (no frozen plan) show as running by their live claims and as checkpointed by their checkpoints")
    func unplannedRuns() throws {
        let store = try ResultStore(root: TestFolder.path("dip-status"))
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        let running = RunKey(experiment: "table1-paper", image: "barbara", configHash: "8682dfa25902", seed: 0)
        let abandoned = RunKey(experiment: "width", image: "kate", configHash: "0123456789ab", seed: 1)
        guard case let .acquired(claim, _) = try store.claim(running, job: nil, iterations: 11000) else {
            Issue.record("a free key must be claimed"); return
        }
        defer { claim.release() }
        try plantCheckpoints(in: store)
        // A claim whose holder is gone and nothing else: no run to show.
        try FileManager.default.createDirectory(atPath: store.folder(for: abandoned), withIntermediateDirectories: true)
        let old = Date().addingTimeInterval(-7200)
        let stale = RunClaim(host: RunClaim.localHost, pid: Int32.max, job: nil, started: old, heartbeat: old,
                             iteration: 5, iterations: 10, token: "stale")
        try stale.encoded().write(to: URL(fileURLWithPath: store.claimPath(for: abandoned)))

        let status = try StoreStatus.read(results: store.root)
        let table1 = status.experiments.first { $0.id == "table1-paper" }
        #expect(table1?.running.map(\.key) == [running])
        #expect(table1?.checkpointed == 1)
        #expect(table1?.stored == 0 && table1?.missing == 0)
        #expect(!status.experiments.contains { $0.id == "width" }, "a stale claim alone is no run: \(status.experiments.map(\.id))")
        #expect(status.plan == nil)
        #expect(status.unreadable == ["\(store.checkpointPath(for: damagedKey)): an unreadable checkpoint; `run` starts its run afresh"],
                "\(status.unreadable)")
    }

    @Test("a planned run whose checkpoint is damaged counts as missing, with its iterations left, and the file is listed; a sound one counts its steps as done")
    func plannedDamagedCheckpoint() throws {
        let store = try ResultStore(root: TestFolder.path("dip-status"))
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        try plantCheckpoints(in: store)
        let runs = [soundKey, damagedKey].map { FrozenPlan.Run(key: $0, label: "paper", iterations: 1000, seconds: 60, peakBytes: 1e8) }
        let task = FrozenPlan.Task(runs: [0, 1], seconds: 120, peakBytes: 1e8, timeLimit: 600, memoryMiB: 512)
        try FrozenPlan(id: "p", created: Date(), tool: "t", commit: "c", executable: "/x", results: store.root, out: "/o", data: "/d",
                       profile: "paper", seeds: [1, 2], threadsPerRun: 1, checkpointSeconds: 600, experiments: [],
                       runs: runs, tasks: [task], device: "cpu", gpuMath: "default").write()

        let status = try StoreStatus.read(results: store.root)
        let table1 = status.experiments.first { $0.id == "table1-paper" }
        #expect(table1?.checkpointed == 1 && table1?.missing == 1, "\(String(describing: table1))")
        #expect(status.iterationsDone == 400 && status.iterationsLeft == 1600)
        #expect(status.unreadable == ["\(store.checkpointPath(for: damagedKey)): an unreadable checkpoint; `run` starts its run afresh"],
                "\(status.unreadable)")
    }

    @Test("a task log ending in an error, in slurmstepd's out-of-memory kill or in the shell's word of a killed dip-report fails the task as a whole; a requeued attempt after it does not")
    func wholeTaskFailures() {
        let start = "dip-report task 3 of plan p on node1 (job 12_3, restart 0)"
        #expect(StoreStatus.failedWhole([start, "Error: /data: 1 test image is missing"]) != nil)
        let oom = "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=12.batch. Some of your processes may have been killed by the cgroup out-of-memory handler."
        #expect(StoreStatus.failedWhole([start, "  runs 0/2 elapsed 1m", oom]) == [start, "  runs 0/2 elapsed 1m", oom])
        #expect(StoreStatus.failedWhole([start, "slurmstepd: error: Detected 1 oom_kill event in step 12.batch cgroup."]) != nil)
        #expect(StoreStatus.failedWhole([start, oom, "dip-report task 3 of plan p on node2 (job 12_3, restart 1)", "  runs 1/2"]) == nil)
        #expect(StoreStatus.failedWhole([start, "note: the run mentions oom-kill event in its label"]) == nil)
        // dip-report killed by a signal: the batch shell says so.
        // (bash's own words for `"$exe" run --plan "$plan" --task "$task" &` killed, as this
        // machine's bash 5.2 prints them)
        let killed = "/r/.plans/p.sbatch: line 35: 15191 Killed                  \"$exe\" run --plan \"$plan\" --task \"$task\""
        #expect(StoreStatus.failedWhole([start, "  runs 0/2 elapsed 1m", killed]) != nil)
        #expect(StoreStatus.failedWhole([start, "note: a label saying Killed run --plan"]) == nil)
    }

    @Test("stored runs that diverged are counted as such among the stored")
    func divergedCounted() throws {
        let store = try ResultStore(root: TestFolder.path("dip-status-diverged"))
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        try store.save(try RecordSchemaTests.sampleRecord(seed: 0), images: [:])
        var diverged = try RecordSchemaTests.sampleRecord(seed: 1)
        diverged.status = .diverged
        diverged.stoppedAt = 1
        try store.save(diverged, images: [:])
        let status = try StoreStatus.read(results: store.root)
        let paper = try #require(status.experiments.first { $0.id == "table1-paper" })
        #expect(paper.stored == 2 && paper.diverged == 1)
    }

    @Test("damaged records and plans are listed, not silently left out of the counts")
    func unreadableFiles() throws {
        let store = try ResultStore(root: TestFolder.path("dip-status"))
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        let key = RunKey(experiment: "table1-paper", image: "barbara", configHash: "8682dfa25902", seed: 0)
        try FileManager.default.createDirectory(atPath: store.folder(for: key), withIntermediateDirectories: true)
        let record = store.folder(for: key) + "/8682dfa25902-s0.json"
        #expect(FileManager.default.createFile(atPath: record, contents: Data("{\"schema\": ".utf8)))
        let plans = FrozenPlan.folder(results: store.root)
        try FileManager.default.createDirectory(atPath: plans, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: plans + "/p1.json", contents: Data("xx".utf8)))
        let status = try StoreStatus.read(results: store.root)
        #expect(status.unreadable.count == 2, "\(status.unreadable)")
        #expect(status.unreadable.contains { $0.hasPrefix(record) }, "\(status.unreadable)")
        #expect(status.unreadable.contains { $0.hasPrefix(plans + "/p1.json") && $0.contains("unreadable plan") }, "\(status.unreadable)")
    }
}

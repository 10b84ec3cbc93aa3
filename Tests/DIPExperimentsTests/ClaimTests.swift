import DIPCore
import DIPEngine
import DIPTestSupport
import Foundation
import Testing
@testable import DIPExperiments

/// Notes a runner sends from its jobs.
private final class NoteLog: @unchecked Sendable {
    private let lock = NSLock()
    private var notes: [String] = []
    func add(_ note: String) { lock.lock(); notes.append(note); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return notes }
}

private func tempStore() throws -> ResultStore {
    try ResultStore(root: TestFolder.path("dip-claims"))
}

private let key = RunKey(experiment: "width", image: "kate", configHash: "0123456789ab", seed: 1)

/// A claim file as another runner would have left it.
private func plantClaim(_ store: ResultStore, pid: Int32, host: String = RunClaim.localHost, heartbeatAgo: Double) throws {
    let beat = Date().addingTimeInterval(-heartbeatAgo)
    let c = RunClaim(host: host, pid: pid, job: "77_3", started: beat, heartbeat: beat, iteration: 10, iterations: 100, token: "planted")
    try FileManager.default.createDirectory(atPath: store.folder(for: key), withIntermediateDirectories: true)
    try c.encoded().write(to: URL(fileURLWithPath: store.claimPath(for: key)))
}

/// Another runner's live claim on `key`, written over whatever claim is there: a takeover by
/// "node9 pid 4242 (job 5_1)", token "usurper", while the holder was stalled.
private func usurp(_ key: RunKey, in store: ResultStore) {
    let beat = Date()
    let usurper = RunClaim(host: "node9", pid: 4242, job: "5_1", started: beat, heartbeat: beat, token: "usurper")
    try? usurper.encoded().write(to: URL(fileURLWithPath: store.claimPath(for: key)))
}

/// A pid that is certainly not running: a child that has exited and been reaped.
private func deadPid() throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/true")
    try p.run()
    p.waitUntilExit()
    return p.processIdentifier
}

/// A runner over a fresh store with `StoreFailureTests.threeTVRuns()` planned.
private func threeTVRuns() throws -> (ResultStore, Runner, RunPlan) {
    let store = try ResultStore(root: StoreFailureTests.tempDir())
    let runner = Runner(store: store, options: StoreFailureTests.options())
    return (store, runner, try runner.plan(try StoreFailureTests.threeTVRuns()))
}

/// Ends `p` and waits for it, so that its pid is free: SIGKILL, since a test process's threads
/// may block SIGTERM, which its children inherit.
private func killAndReap(_ p: Process) {
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
}

@Suite("Claims on run keys")
struct ClaimTests {
    @Test("a claim's description says how old its heartbeat is, or how far ahead of this clock (another node's clock runs ahead)")
    func heartbeatAge() {
        let now = Date()
        func claim(_ offset: Double) -> RunClaim {
            let beat = now.addingTimeInterval(offset)
            return RunClaim(host: "node7", pid: 42, job: "9_1", started: beat, heartbeat: beat, iteration: 1, iterations: 10, token: "t")
        }
        #expect(claim(-12).describe(now: now) == "node7 pid 42 (job 9_1), heartbeat 12s ago")
        #expect(claim(30).describe(now: now) == "node7 pid 42 (job 9_1), heartbeat 30s ahead of this machine's clock")
    }

    @Test("a claim is exclusive while held and free again once released")
    func exclusive() throws {
        let store = try tempStore()
        guard case let .acquired(mine, tookOver) = try store.claim(key, job: "5_1", iterations: 100) else {
            Issue.record("a free key must be claimed"); return
        }
        #expect(tookOver == nil)
        guard case let .held(other) = try store.claim(key, job: nil, iterations: 100) else {
            Issue.record("a held key must not be claimed twice"); return
        }
        #expect(other.pid == getpid() && other.job == "5_1")
        mine.heartbeat(iteration: 42, of: 100, force: true)
        #expect(store.currentClaim(key)?.iteration == 42)
        mine.release()
        #expect(store.currentClaim(key) == nil)
        guard case .acquired = try store.claim(key, job: nil, iterations: 1) else { Issue.record("released key must be free"); return }
    }

    @Test("a claim file already holding this runner's own token is its own (an NFS link whose reply was lost made it), not another's")
    func lostLinkReply() throws {
        let store = try tempStore()
        let beat = Date()
        let made = RunClaim(host: RunClaim.localHost, pid: getpid(), job: nil, started: beat, heartbeat: beat, token: "sent-twice")
        try FileManager.default.createDirectory(atPath: store.folder(for: key), withIntermediateDirectories: true)
        try made.encoded().write(to: URL(fileURLWithPath: store.claimPath(for: key)))
        guard case let .acquired(handle, tookOver) = try store.claim(key, job: nil, attempt: 0, iterations: 1,
                                                                     staleAfter: RunClaim.defaultStaleSeconds, token: "sent-twice") else {
            Issue.record("the runner's own claim must read as acquired"); return
        }
        #expect(tookOver == nil && handle.stillHeld())
        // Anyone else's fresh claim is still held.
        guard case .held = try store.claim(key, job: nil, iterations: 1) else { Issue.record("a live claim must be respected"); return }
    }

    @Test("a holder whose claim file is gone (taken over while it stalled, the run stored and the claim given back) stops, and writes no claim back")
    func vanishedClaimLost() throws {
        let store = try tempStore()
        guard case let .acquired(handle, _) = try store.claim(key, job: "5_1", iterations: 100) else { Issue.record("a free key must be claimed"); return }
        unlink(store.claimPath(for: key))
        handle.heartbeat(iteration: 7, of: 100, force: true)
        #expect(handle.isLost && !handle.stillHeld())
        #expect(store.currentClaim(key) == nil, "the claim is not written back")
        handle.release()
        #expect(store.currentClaim(key) == nil)
    }

    @Test("a stale claim (dead pid on this host, or a heartbeat older than the threshold) is taken over, and says whose it was")
    func staleTakeover() throws {
        let store = try tempStore()
        try plantClaim(store, pid: try deadPid(), heartbeatAgo: 5)
        guard case let .acquired(_, old?) = try store.claim(key, job: nil, iterations: 1) else {
            Issue.record("a dead holder's claim must be taken over"); return
        }
        #expect(old.job == "77_3" && old.token == "planted")

        let other = try tempStore()
        try plantClaim(other, pid: 1, host: "elsewhere", heartbeatAgo: 3600)
        guard case .acquired(_, _?) = try other.claim(key, job: nil, iterations: 1, staleAfter: 600) else {
            Issue.record("an old heartbeat must be taken over"); return
        }
        let fresh = try tempStore()
        try plantClaim(fresh, pid: 1, host: "elsewhere", heartbeatAgo: 5)
        guard case .held = try fresh.claim(key, job: nil, iterations: 1, staleAfter: 600) else {
            Issue.record("a live claim on another host must be respected"); return
        }
    }

    @Test("a claim of another pid namespace on this host (a container sharing the host's name) is not judged by its pid; this namespace's is")
    func otherPidNamespace() throws {
        let store = try tempStore()
        let beat = Date().addingTimeInterval(-5)
        // A pid above pid_max: never running here, whatever else the tests start meanwhile.
        let pidMax = Int32((try String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 4_194_304
        var c = RunClaim(host: RunClaim.localHost, pid: pidMax + 1, job: nil, started: beat, heartbeat: beat, token: "container")
        c.pidNamespace = "pid:[1]"
        #expect(!c.isStale())
        try FileManager.default.createDirectory(atPath: store.folder(for: key), withIntermediateDirectories: true)
        try c.encoded().write(to: URL(fileURLWithPath: store.claimPath(for: key)))
        guard case .held = try store.claim(key, job: nil, iterations: 1) else { Issue.record("a live container's claim was taken over"); return }
        c.pidNamespace = RunClaim.localPidNamespace
        #expect(c.isStale())
        // Claims record it.
        try FileManager.default.removeItem(atPath: store.claimPath(for: key))
        guard case let .acquired(mine, _) = try store.claim(key, job: nil, iterations: 1) else { Issue.record("claim"); return }
        #expect(store.currentClaim(key)?.pidNamespace == RunClaim.localPidNamespace && RunClaim.localPidNamespace != nil)
        mine.release()
    }

    @Test("a requeued Slurm task takes over its earlier attempt's claim at once (it skipped the run it was interrupted in); other jobs' live claims, and its own attempt's, are respected")
    func earlierAttempt() throws {
        // Attempt 0 of array task 77_3 died on another node a minute ago.
        let store = try tempStore()
        try plantClaim(store, pid: 1, host: "node-that-failed", heartbeatAgo: 60)
        for (job, attempt) in [("77_4", 1), ("77_3", 0)] as [(String?, Int)] + [(nil, 1)] {
            guard case .held = try store.claim(key, job: job, attempt: attempt, iterations: 1, staleAfter: 600) else {
                Issue.record("job \(job ?? "none") attempt \(attempt) must respect the live claim"); return
            }
        }
        guard case let .acquired(mine, old?) = try store.claim(key, job: "77_3", attempt: 1, iterations: 1, staleAfter: 600) else {
            Issue.record("the requeued task must take its own run back"); return
        }
        #expect(old.host == "node-that-failed" && old.isEarlierAttempt(ofJob: "77_3", attempt: 1))
        // The claim says which attempt holds it: not an earlier one of its own attempt.
        let now = try #require(store.currentClaim(key))
        #expect(now.attempt == 1 && !now.isEarlierAttempt(ofJob: "77_3", attempt: 1) && now.isEarlierAttempt(ofJob: "77_3", attempt: 2))
        #expect(now.describe().hasPrefix("\(RunClaim.localHost) pid \(getpid()) (job 77_3, attempt 1), heartbeat "))
        mine.release()
    }

    @Test("a runner whose claim was taken over while it stalled stores nothing and leaves the run to the new holder (it used to store over it)",
          .enabled(if: SharedTestData.folder(holding: "bm3d/barbara.png") != nil))
    func lostClaim() throws {
        let (store, runner, plan) = try threeTVRuns()
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        // As each run starts, another runner takes its claim over (as after a stall of 600 s).
        let notes = NoteLog()
        let summary = runner.execute(plan, events: { event in
            switch event {
            case let .started(run, _, _): usurp(run.key, in: store)
            case let .note(text): notes.add(text)
            default: break
            }
        })
        #expect(summary.done == 0 && summary.failed == 0 && summary.claimedElsewhere == 3 && !summary.stoppedEarly, "\(summary)")
        for run in plan.runs {
            #expect(!store.hasRecordFile(run.key))
            #expect(store.currentClaim(run.key)?.token == "usurper", "the new holder's claim stays")
        }
        #expect(notes.all.filter { $0.contains("node9 pid 4242 (job 5_1)") && $0.contains("took its claim over")
                                   && $0.hasSuffix("this one stops the run and leaves it to the other runner") }.count == 3, "\(notes.all)")
    }

    @Test("a fit whose claim is taken over writes no checkpoint over the new holder's, and no record",
          .enabled(if: SharedTestData.folder(holding: "bm3d/barbara.png") != nil))
    func lostClaimMidFit() throws {
        let root = StoreFailureTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ResultStore(root: root)
        var paper = try Catalog.select(["table1-paper"], from: Catalog.experiments)
        paper[0].runs[0].images = [paper[0].runs[0].images[0]]
        // A checkpoint after every iteration: the first finds the claim gone.
        var options = StoreFailureTests.options(checkpoints: CheckpointSchedule(iterations: 1))
        options.seeds = [0]
        let runner = Runner(store: store, options: options)
        let plan = try runner.plan(paper)
        let key = try #require(plan.runs.first?.key)
        let summary = runner.execute(plan, events: { event in
            if case .started = event { usurp(key, in: store) }
        })
        #expect(summary.claimedElsewhere == 1 && summary.done == 0 && summary.failed == 0, "\(summary)")
        #expect(!FileManager.default.fileExists(atPath: store.checkpointPath(for: key)) && !store.hasRecordFile(key))
        #expect(store.currentClaim(key)?.token == "usurper")
    }

    @Test("a run another live runner held when it came up is taken up at the end once that runner has died; one whose holder lives stays left to it",
          .enabled(if: SharedTestData.folder(holding: "bm3d/barbara.png") != nil))
    func heldRunTakenUpOnceItsHolderDies() throws {
        let (store, runner, plan) = try threeTVRuns()
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        let (first, second) = (plan.runs[0].key, plan.runs[1].key)
        // Two other runners on this host, alive when this one starts: one is killed while this
        // runner does other work (a Ctrl-C'd or killed `run` beside it), the other lives on.
        func sleeper() throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sleep")
            p.arguments = ["600"]
            try p.run()
            return p
        }
        let doomed = try sleeper(), living = try sleeper()
        defer { killAndReap(living) }
        for (k, holder) in [(first, doomed), (second, living)] {
            let beat = Date()
            let claim = RunClaim(host: RunClaim.localHost, pid: holder.processIdentifier, job: nil,
                                 pidNamespace: RunClaim.localPidNamespace, started: beat, heartbeat: beat, token: "other-\(k.image)")
            try FileManager.default.createDirectory(atPath: store.folder(for: k), withIntermediateDirectories: true)
            try claim.encoded().write(to: URL(fileURLWithPath: store.claimPath(for: k)))
        }
        let notes = NoteLog()
        let summary = runner.execute(plan, events: { event in
            switch event {
            case let .claimedElsewhere(run, _) where run.key == first:
                killAndReap(doomed)
            case let .note(text): notes.add(text)
            default: break
            }
        })
        #expect(summary.done == 2 && summary.claimedElsewhere == 1 && summary.failed == 0 && !summary.stoppedEarly, "\(summary)")
        #expect(store.hasRecordFile(first) && !store.hasRecordFile(second))
        #expect(notes.all.contains { $0.hasPrefix("\(first): the runner that held it is gone") && $0.hasSuffix("this runner takes the run up") },
                "\(notes.all)")
        #expect(store.currentClaim(first) == nil, "the claim taken over is given back")
        #expect(store.currentClaim(second)?.token == "other-\(second.image)", "the living runner's claim stays")
    }

    @Test("sweep removes an L-BFGS pair folder whose checkpoint is gone (a kill while removing it), not one a live runner is writing or one its checkpoint names")
    func orphanPairs() throws {
        let store = try tempStore()
        let pairs = store.checkpointPath(for: key) + ".lbfgs"
        try FileManager.default.createDirectory(atPath: pairs, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: pairs + "/pair-1.safetensors", contents: Data([1])))
        // A first checkpoint writes its pairs before its main file, under its claim.
        guard case let .acquired(handle, _) = try store.claim(key, job: nil, iterations: 1) else { Issue.record("claim"); return }
        #expect(store.sweep(remove: true).isEmpty)
        handle.release()
        // With its main file (a run to resume), the folder is the checkpoint's.
        #expect(FileManager.default.createFile(atPath: store.checkpointPath(for: key), contents: Data([1])))
        #expect(store.sweep(remove: true).isEmpty)
        try FileManager.default.removeItem(atPath: store.checkpointPath(for: key))
        let found = store.sweep(remove: true)
        #expect(found.map(\.path) == [pairs] && found.allSatisfy(\.removed))
        #expect(!FileManager.default.fileExists(atPath: pairs))
    }

    @Test("sweep removes temporary files and checkpoints older than their stored runs that no live claim covers, and leaves the rest")
    func sweep() throws {
        let store = try tempStore()
        let folder = store.folder(for: key)
        try FileManager.default.createDirectory(atPath: folder + "/" + ResultStore.stem(key) + ".checkpoint.lbfgs", withIntermediateDirectories: true)
        let stem = ResultStore.stem(key)
        let tmp = folder + "/.\(stem).checkpoint.tmp-99999-123"
        let pairTmp = folder + "/\(stem).checkpoint.lbfgs/.pair-3.safetensors.tmp-99999-7"
        for p in [tmp, pairTmp, store.checkpointPath(for: key), store.recordPath(for: key)] {
            #expect(FileManager.default.createFile(atPath: p, contents: Data([1])))
        }
        // Written before the record: a runner another beat to it left it.
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-3600)], ofItemAtPath: store.checkpointPath(for: key))
        // A live claim (ours): nothing of the run is touched.
        guard case let .acquired(handle, _) = try store.claim(key, job: nil, iterations: 1) else { Issue.record("claim"); return }
        #expect(store.sweep(remove: true).isEmpty)
        handle.release()
        let found = store.sweep(remove: true)
        #expect(Set(found.map(\.path)) == [tmp, pairTmp, store.checkpointPath(for: key)])
        #expect(found.allSatisfy { $0.removed })
        for p in [tmp, pairTmp, store.checkpointPath(for: key), store.checkpointPath(for: key) + ".lbfgs"] {
            #expect(!FileManager.default.fileExists(atPath: p), "\(p) should be gone")
        }
        #expect(FileManager.default.fileExists(atPath: store.recordPath(for: key)))
        // Written after the record: an interrupted `run --force` refit's, which the next one
        // carries on; named, kept.
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-3600)], ofItemAtPath: store.recordPath(for: key))
        #expect(FileManager.default.createFile(atPath: store.checkpointPath(for: key), contents: Data([1])))
        let refit = store.sweep(remove: true)
        #expect(refit.map(\.path) == [store.checkpointPath(for: key)] && refit.allSatisfy { !$0.removed && $0.what.contains("run --force") }, "\(refit)")
        #expect(store.hasResumableCheckpoint(key))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: store.checkpointPath(for: key))
        #expect(!store.hasResumableCheckpoint(key))
        // A record read for its finishedAt, which a relabel's rewrite keeps: a rewritten record
        // (a new file time) does not make a refit's checkpoint older than it.
        let finished = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-3000))
        try Data("{\"finishedAt\": \"\(finished)\"}".utf8).write(to: URL(fileURLWithPath: store.recordPath(for: key)))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-60)], ofItemAtPath: store.checkpointPath(for: key))
        #expect(store.hasResumableCheckpoint(key))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-3600)], ofItemAtPath: store.checkpointPath(for: key))
        #expect(!store.hasResumableCheckpoint(key))
        // A checkpoint of a run that is not stored is resumable, not a leftover.
        try FileManager.default.removeItem(atPath: store.recordPath(for: key))
        #expect(FileManager.default.createFile(atPath: store.checkpointPath(for: key), contents: Data([1])))
        #expect(store.sweep(remove: true).isEmpty)
    }

    @Test("sweep removes a stale claim on a stored run, but not one a runner took over after the sweep read it, nor one a takeover is replacing right now")
    func sweepRemovesOnlyTheStaleClaimItRead() throws {
        let store = try tempStore()
        let path = store.claimPath(for: key)
        try plantClaim(store, pid: try deadPid(), heartbeatAgo: 3600)
        #expect(FileManager.default.createFile(atPath: store.recordPath(for: key), contents: Data([1])))
        let stale = try #require(store.currentClaim(key))
        // Taken over between the sweep's read and its removal: the new claim stays.
        usurp(key, in: store)
        #expect(!ResultStore.removeClaim(at: path, ifStill: stale))
        #expect(store.currentClaim(key)?.token == "usurper")
        // A takeover holds the lock: the sweep leaves the claim to it.
        try plantClaim(store, pid: try deadPid(), heartbeatAgo: 3600)
        let planted = try #require(store.currentClaim(key))
        #expect(FileManager.default.createFile(atPath: path + ".takeover", contents: Data()))
        #expect(!ResultStore.removeClaim(at: path, ifStill: planted))
        #expect(store.currentClaim(key) == planted)
        try FileManager.default.removeItem(atPath: path + ".takeover")
        // Unchanged and unlocked: removed, and the sweep says so, leaving no lock behind.
        let found = store.sweep(remove: true)
        #expect(found.map(\.path) == [path] && found.allSatisfy { $0.removed && $0.what.hasPrefix("stale claim of ") }, "\(found)")
        #expect(store.currentClaim(key) == nil && !FileManager.default.fileExists(atPath: path + ".takeover"))
    }

    @Test("two runners on one results folder at once store each run exactly once, without errors",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func concurrentRunners() throws {
        let store = try tempStore()
        let options = RunnerOptions(dataDirectory: experimentData!, profile: .smoke, seeds: [0, 1], jobs: 1, threadsPerJob: 1)
        let experiments = try Catalog.select(["width", "table1-tv"], from: Catalog.experiments)
        let a = Runner(store: store, options: options), b = Runner(store: store, options: options)
        let plan = try a.plan(experiments)
        let finished = Counter()
        let group = DispatchGroup()
        let summaries = SummaryList()
        for runner in [a, b] {
            group.enter()
            Thread {
                let s = runner.execute(plan, events: { if case .finished = $0 { finished.add() } })
                summaries.add(s)
                group.leave()
            }.start()
        }
        group.wait()
        let all = summaries.all
        #expect(all.allSatisfy { $0.failed == 0 && !$0.stoppedEarly })
        #expect(finished.value == plan.runs.count, "each run is fitted by one runner only")
        #expect(all.reduce(0) { $0 + $1.done + $1.diverged } == plan.runs.count)
        #expect(all.reduce(0) { $0 + $1.claimedElsewhere } == plan.runs.count)
        let scan = store.scan()
        #expect(scan.problems.isEmpty && scan.records.count == plan.runs.count)
        #expect(store.sweep(remove: false).isEmpty, "no claim, checkpoint or temporary file is left")
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

private final class SummaryList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [RunSummary] = []
    func add(_ s: RunSummary) { lock.lock(); list.append(s); lock.unlock() }
    var all: [RunSummary] { lock.lock(); defer { lock.unlock() }; return list }
}

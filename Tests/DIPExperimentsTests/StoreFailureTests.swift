import DIPCore
import DIPEngine
import DIPTestSupport
import Foundation
import Testing
@testable import DIPExperiments

/// The shared test images, when present (barbara.png stands for the set).
private let storeTestData = SharedTestData.folder(holding: "bm3d/barbara.png")

/// Collects the runner's events from its jobs.
private final class Events: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [RunnerEvent] = []
    func add(_ e: RunnerEvent) { lock.lock(); events.append(e); lock.unlock() }
    var all: [RunnerEvent] { lock.lock(); defer { lock.unlock() }; return events }
    var started: [RunKey] { all.compactMap { if case let .started(run, _, _) = $0 { return run.key } else { return nil } } }
    var notes: [String] { all.compactMap { if case let .note(text) = $0 { return text } else { return nil } } }
}

/// "A full disk: a clear message, nothing lost", checked without root: an obstacle (a file where
/// the store needs a folder, a folder where it needs a file) makes a write fail as a full disk
/// would. The runner must stop with a message that names the path, keep what it stored before,
/// leave nothing half-written, and carry on once the obstacle is gone.
@Suite("Store write failures", .serialized)
struct StoreFailureTests {
    static func tempDir() -> String {
        let p = TestFolder.path("dip-store-failure")
        try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    /// The TV baseline on the first three Table-1 images, one seed: three runs of well under a
    /// second each under the smoke profile.
    static func threeTVRuns() throws -> [Experiment] {
        var tv = try Catalog.select(["table1-tv"], from: Catalog.experiments)
        tv[0].runs = [tv[0].runs[0]]
        tv[0].runs[0].images = Array(tv[0].runs[0].images.prefix(3))
        return tv
    }

    static func options(checkpoints: CheckpointSchedule = CheckpointSchedule(seconds: 300)) -> RunnerOptions {
        RunnerOptions(dataDirectory: storeTestData!, profile: .smoke, seeds: [0], jobs: 1, threadsPerJob: 1,
                      checkpoints: checkpoints)
    }

    /// Every file under `root`, relative to it.
    static func files(_ root: String) -> [String] {
        var out: [String] = []
        let walker = FileManager.default.enumerator(atPath: root)
        while let rel = walker?.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue { out.append(rel) }
        }
        return out.sorted()
    }

    /// The message must say where, that the disk may be full, and that finished runs are safe.
    static func expectClearMessage(_ summary: RunSummary, naming path: String) {
        #expect(summary.stoppedEarly)
        let why = summary.stopReason ?? ""
        #expect(why.contains(path), "the message does not name \(path): \(why)")
        #expect(why.contains("is the disk full?"), "\(why)")
        #expect(why.contains("Finished runs are safe"), "\(why)")
    }

    /// Runs the three TV runs with `obstacle` placed before the second run's store, checks the
    /// stop, then removes it and checks that a second execution completes the set.
    func stopAndCarryOn(obstacle place: (ResultStore, RunKey) throws -> String) throws {
        let root = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ResultStore(root: root)
        let runner = Runner(store: store, options: Self.options())
        let plan = try runner.plan(try Self.threeTVRuns())
        #expect(plan.pending.count == 3)
        let keys = plan.runs.map(\.key)
        let obstacle = try place(store, keys[1])

        let log = Events()
        let summary = runner.execute(plan, events: { log.add($0) })
        Self.expectClearMessage(summary, naming: obstacle)
        #expect(summary.done == 1 && summary.failed == 1)
        // The failed run may fail before it starts: its claim needs the folder too.
        #expect(log.started == Array(keys.prefix(2)) || log.started == [keys[0]], "no run may start after the failed one")

        // The first run is stored whole; the failed one left nothing but the obstacle.
        let scan = store.scan()
        #expect(scan.problems.isEmpty, "\(scan.problems)")
        #expect(scan.records.map(\.key) == [keys[0]])
        let first = try #require(try store.load(keys[0]))
        for role in first.images.keys { _ = try store.loadImage(role, of: first) }
        let firstBytes = FileManager.default.contents(atPath: store.recordPath(for: keys[0]))
        let left = Self.files(root)
        #expect(!left.contains { ($0 as NSString).lastPathComponent.hasPrefix(".") }, "temporary files left: \(left)")
        #expect(!left.contains { $0.hasPrefix("table1-tv/\(keys[1].image)/") && $0.hasSuffix(".png") },
                "pictures of the failed run left: \(left)")

        // Obstacle gone: the next execution skips the stored run and completes the others.
        try FileManager.default.removeItem(atPath: obstacle)
        let again = Runner(store: store, options: Self.options())
        let plan2 = try again.plan(try Self.threeTVRuns())
        #expect(plan2.runs.map(\.state) == [.stored, .missing, .missing])
        let summary2 = again.execute(plan2, events: { _ in })
        #expect(!summary2.stoppedEarly && summary2.failed == 0 && summary2.done == 2, "\(summary2)")
        let scan2 = store.scan()
        #expect(scan2.problems.isEmpty && scan2.records.map(\.key) == keys)
        #expect(FileManager.default.contents(atPath: store.recordPath(for: keys[0])) == firstBytes)
    }

    @Test("a file where the store needs a folder stops the run clearly; stored runs survive; the next run completes",
          .enabled(if: storeTestData != nil, "needs ../shared/data (or DIP_DATA)"))
    func blockedFolder() throws {
        try stopAndCarryOn { store, key in
            let folder = store.folder(for: key)
            try FileManager.default.createDirectory(atPath: (folder as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data("not a folder".utf8).write(to: URL(fileURLWithPath: folder))
            return folder
        }
    }

    @Test("a picture that cannot be written after others were stops the run and leaves none of them behind",
          .enabled(if: storeTestData != nil, "needs ../shared/data (or DIP_DATA)"))
    func blockedPicture() throws {
        // `clean` is written last of the TV run's pictures, so four are on disk when it fails.
        try stopAndCarryOn { store, key in
            let path = store.imagePath(for: key, .clean)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }
    }

    @Test("a checkpoint that cannot be written stops the run clearly; the next run carries on and completes",
          .enabled(if: storeTestData != nil, "needs ../shared/data (or DIP_DATA)"))
    func blockedCheckpoint() throws {
        let root = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var adam = try Catalog.select(["optimizers"], from: Catalog.experiments)
        adam[0].runs = [adam[0].runs[1]]  // Adam at LR 0.01
        let store = try ResultStore(root: root)
        let options = Self.options(checkpoints: CheckpointSchedule(iterations: 3))
        let runner = Runner(store: store, options: options)
        let plan = try runner.plan(adam)
        let key = try #require(plan.runs.first?.key)
        let checkpoint = store.checkpointPath(for: key)
        // Once the run has started (a fresh run clears its checkpoint path first), a non-empty
        // folder where the checkpoint goes: the first checkpoint cannot be moved into place.
        let obstacle = checkpoint
        let summary = runner.execute(plan, events: { event in
            if case .started = event {
                try? FileManager.default.createDirectory(atPath: obstacle + "/in-the-way", withIntermediateDirectories: true)
            }
        })
        Self.expectClearMessage(summary, naming: checkpoint)
        #expect(summary.failed == 1 && summary.done == 0)
        let scan = store.scan()
        #expect(scan.records.isEmpty && scan.problems.isEmpty, "\(scan.problems)")
        #expect(!Self.files(root).contains { ($0 as NSString).lastPathComponent.hasPrefix(".") })

        try FileManager.default.removeItem(atPath: obstacle)
        let again = Runner(store: store, options: options)
        let plan2 = try again.plan(adam)
        #expect(plan2.runs.map(\.state) == [.missing])
        let summary2 = again.execute(plan2, events: { _ in })
        #expect(!summary2.stoppedEarly && summary2.done == 1, "\(summary2)")
        #expect(store.scan().records.map(\.key) == [key])
        #expect(Self.files(root).allSatisfy { !$0.contains(".checkpoint") }, "\(Self.files(root))")
    }

    /// Checkpoints now carry the runner's state inside; older versions left it in
    /// `<stem>.checkpoint.json`, which may still lie in a results folder.
    @Test("an older checkpoint's side state is not taken for a foreign record; a foreign JSON file still is")
    func checkpointStateIsNoProblem() throws {
        let root = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ResultStore(root: root)
        let key = RunKey(experiment: "width", image: "kate", configHash: "0123456789ab", seed: 0)
        let side = store.checkpointPath(for: key) + ".json"
        try AtomicFile.write(Data("{\"resumes\":0,\"wallSeconds\":1.5}".utf8), to: side)
        let foreign = (store.folder(for: key) as NSString).appendingPathComponent("notes.json")
        try AtomicFile.write(Data("{}".utf8), to: foreign)
        let scan = store.scan()
        #expect(scan.records.isEmpty)
        #expect(scan.problems.map(\.path) == [foreign])
    }
}

@Suite("Store writes of bad data")
struct StoreBadDataTests {
    @Test("a picture with NaN samples is refused as bad data, not as a write failure, and nothing is written")
    func nanPicture() throws {
        let root = StoreFailureTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ResultStore(root: root)
        let record = try RecordSchemaTests.sampleRecord()
        var bad = Image(channels: 1, height: 4, width: 4, value: 0.5)
        bad.pixels[3] = .nan
        #expect {
            try store.save(record, images: [.mask: Image(channels: 1, height: 4, width: 4, value: 1), .final: bad])
        } throws: { error in
            guard case .invalidValue? = error as? DIPError else { return false }
            return true
        }
        #expect(StoreFailureTests.files(root).isEmpty)
        #expect(!store.hasRecordFile(record.key))
    }

    @Test("a forced refit that fails mid-save leaves the run not stored (the next run fits it), never the old record over the new pictures")
    func failedReplacement() throws {
        let root = StoreFailureTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ResultStore(root: root)
        let record = try RecordSchemaTests.sampleRecord()
        let mask = Image(channels: 1, height: 4, width: 4, value: 1)
        try store.save(record, images: [.mask: mask, .final: Image(channels: 1, height: 4, width: 4, value: 0.25)])
        #expect(store.hasRecordFile(record.key))
        // The refit's last picture cannot be written (a folder stands where it goes).
        try FileManager.default.createDirectory(atPath: store.imagePath(for: record.key, .clean), withIntermediateDirectories: true)
        #expect(throws: DIPError.self) {
            try store.save(record, images: [.mask: mask, .final: Image(channels: 1, height: 4, width: 4, value: 0.75),
                                            .clean: mask], force: true)
        }
        #expect(!store.hasRecordFile(record.key))
        #expect(!FileManager.default.fileExists(atPath: store.imagePath(for: record.key, .final)))
    }
}

import DIPCore
import DIPEngine
import DIPTestSupport
import Foundation
import Testing
@testable import DIPExperiments

/// The shared test images, when present (barbara.png stands for the set).
let experimentData = SharedTestData.folder(holding: "bm3d/barbara.png")

private func tempDir() -> String {
    let p = TestFolder.path("dip-runner")
    try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

/// Collects events from the runner's jobs.
private final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [RunnerEvent] = []
    func add(_ e: RunnerEvent) { lock.lock(); events.append(e); lock.unlock() }
    var all: [RunnerEvent] { lock.lock(); defer { lock.unlock() }; return events }
}

/// The numbers of a record, without timings, dates or machine.
private func numbers(_ r: RunRecord) -> String {
    let d = r.losses.map { String($0.bitPattern) }.joined(separator: ",")
    return "\(r.key) \(r.status) \(r.curve) \(d) \(String(describing: r.final)) \(String(describing: r.best)) \(String(describing: r.bestIteration)) \(String(describing: r.worstDrop)) \(r.backtracks) \(r.iterations)"
}

@Suite("The runner", .serialized)
struct RunnerTests {
    /// The optimizers experiment with only its run `index` (1: Adam at LR 0.01, 3: L-BFGS).
    static func optimizersRun(_ index: Int) -> Experiment {
        var one = Catalog.experiments.first { $0.id == "optimizers" }!
        one.runs = [one.runs[index]]
        return one
    }

    /// `optimizersRun(1)` (Adam at LR 0.01 on kate) under experiment `id`, keeping no drop: its
    /// twin, labelled `label`.
    static func adamTwin(_ id: String, label: String = "adam twin") -> Experiment {
        var twin = optimizersRun(1)
        twin.id = id
        twin.runs[0].keepWorstDrop = false
        twin.runs[0].label = label
        return twin
    }

    /// Runs `one`'s single run into `store` until its first checkpoint, then stops it; its key.
    static func stoppedAtFirstCheckpoint(_ one: Experiment, store: ResultStore, options: RunnerOptions) throws -> RunKey {
        let runner = Runner(store: store, options: options)
        let checkpoints = EventLog()
        _ = runner.execute(try runner.plan([one]), events: { e in if case .checkpointed = e { checkpoints.add(e) } },
                           shouldCancel: { !checkpoints.all.isEmpty })
        return try #require(runner.plan([one]).runs.first?.key)
    }

    /// The smoke profile, one job, a checkpoint every 3 iterations.
    static func checkpointing(seed: UInt64 = 1, threads: Int = 1) -> RunnerOptions {
        RunnerOptions(dataDirectory: experimentData!, profile: .smoke, seeds: [seed], jobs: 1, threadsPerJob: threads,
                      checkpoints: CheckpointSchedule(iterations: 3))
    }

    @Test("smoke profile end to end: every experiment, two seeds, records and pictures stored; a second run skips them all",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func smoke() throws {
        let store = try ResultStore(root: tempDir())
        let options = RunnerOptions(dataDirectory: experimentData!, profile: .smoke, seeds: [0, 1], jobs: 1, threadsPerJob: 1)
        let runner = Runner(store: store, options: options)
        let plan = try runner.plan(Catalog.experiments)
        #expect(Set(plan.runs.map(\.key.experiment)) == Set(Catalog.experiments.map(\.id)))
        #expect(plan.pending.count == plan.runs.count)
        #expect(plan.fitted.count == plan.runs.count - 4, "kate's Adam-at-0.01 fit is planned once and copied twice, each seed")
        let log = EventLog()
        let summary = runner.execute(plan, events: { log.add($0) })
        #expect(summary.failed == 0 && summary.interrupted == 0 && !summary.stoppedEarly)
        #expect(summary.done + summary.diverged == plan.runs.count)

        let scan = store.scan()
        #expect(scan.problems.isEmpty)
        #expect(scan.records.count == plan.runs.count)
        for r in scan.records {
            #expect(r.profile == "smoke")
            #expect(r.schema == RunRecord.schemaName && r.version == RunRecord.currentVersion)
            #expect(r.software.oneDNN.hasPrefix("2."))
            for role in r.images.keys {
                #expect(FileManager.default.fileExists(atPath: store.imagePath(for: r.key, role)), "\(r.key) lacks \(role)")
            }
            #expect(r.images[.mask] != nil && r.images[.final] != nil)
            // A mask file's hash is kept (planning tells an edited one), a drawn mask has none.
            if case let .file(m) = r.configuration.mask {
                #expect(r.maskSHA256 == (try SHA256.hex(ofFileAt: experimentData! + "/" + m)), "\(r.key)")
            } else {
                #expect(r.maskSHA256 == nil, "\(r.key)")
            }
            #expect(r.holeFraction > 0 && r.holeFraction < 1, "\(r.key): the crop must keep holes")
            if r.status == .done { #expect(r.final != nil) }
            if case .dip = r.configuration.method {
                #expect(!r.curve.isEmpty && r.best != nil && r.bestIteration != nil)
            }
            if r.key.experiment == "optimizers", r.worstDrop != nil { #expect(r.images[.drop] != nil) }
            // kate's width 128, depth 5 with skips and Adam at 0.01 are one fit, stored once and copied.
            if let source = r.copiedFrom {
                let fitted = try #require(try store.load(source))
                #expect(fitted.copiedFrom == nil && fitted.final?.psnr == r.final?.psnr && fitted.curve == r.curve, "\(r.key)")
            }
            // 30 TV iterations already gain 9-20 dB over the corrupted input.
            if r.key.experiment == "table1-tv" { #expect(r.final!.psnr > r.corruptedPSNR + 5) }
        }
        // TV sees the very masks the DIP runs see.
        let tv = scan.records.first { $0.key.experiment == "table1-tv" && $0.key.image == "house" && $0.key.seed == 1 && $0.size.width == 66 }
        let dip = scan.records.first { $0.key.experiment == "table1-paper" && $0.key.image == "house" && $0.key.seed == 1 }
        #expect(try store.loadImage(.mask, of: try #require(tv)) == store.loadImage(.mask, of: try #require(dip)))

        #expect(scan.records.filter { $0.copiedFrom != nil }.count == 4, "kate's Adam-at-0.01 fit, copied twice for each seed")

        let again = try runner.plan(Catalog.experiments)
        #expect(again.pending.isEmpty)
    }

    /// Run 1 of the optimizers experiment is Adam at LR 0.01, run 3 L-BFGS (whose checkpoint
    /// carries its curvature pairs in a folder beside it).
    @Test("an interrupted run (Adam or L-BFGS) resumes from its checkpoint to the record of an uninterrupted run",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"), arguments: [1, 3])
    func resume(runIndex: Int) throws {
        let one = Self.optimizersRun(runIndex)
        let whole = try ResultStore(root: tempDir())
        let opts = Self.checkpointing()
        let a = Runner(store: whole, options: opts)
        _ = a.execute(try a.plan([one]), events: { _ in })

        let parted = try ResultStore(root: tempDir())
        let b = Runner(store: parted, options: opts)
        let log = EventLog()
        let counter = EventLog()
        let summary = b.execute(try b.plan([one]), events: { e in
            log.add(e)
            if case .checkpointed = e { counter.add(e) }
        }, shouldCancel: {
            // Stop right after the first periodic checkpoint: the cancel writes another.
            !counter.all.isEmpty
        })
        #expect(summary.interrupted == 1)
        let key = try #require(b.plan([one]).runs.first?.key)
        if case let .dip(config) = one.runs[0].method, case .lbfgs = config.optimizer {
            let pairs = try FileManager.default.contentsOfDirectory(atPath: FitCheckpointWriter.historyDirectory(for: parted.checkpointPath(for: key)))
            #expect(!pairs.isEmpty)
        }
        #expect(parted.scan().records.isEmpty)
        let plan = try b.plan([one])
        #expect(plan.pending.map(\.state) == [.checkpointed])
        let resumed = Runner(store: parted, options: opts)
        let log2 = EventLog()
        _ = resumed.execute(plan, events: { log2.add($0) })
        #expect(log2.all.contains { if case let .started(_, _, at) = $0 { return at != nil } else { return false } })
        let r1 = try #require(whole.scan().records.first), r2 = try #require(parted.scan().records.first)
        #expect(numbers(r1) == numbers(r2))
        #expect(r2.resumes == 1)
        #expect(r2.computeStretches == nil)
        for role in r1.images.keys {
            let x = FileManager.default.contents(atPath: whole.imagePath(for: r1.key, role))
            let y = FileManager.default.contents(atPath: parted.imagePath(for: r2.key, role))
            #expect(x == y, "\(role) differs")
        }
        #expect(!FileManager.default.fileExists(atPath: parted.checkpointPath(for: r2.key)))
        #expect(!FileManager.default.fileExists(atPath: FitCheckpointWriter.historyDirectory(for: parted.checkpointPath(for: r2.key))))
    }

    @Test("a run resumed on another thread count is finished, noted, and its record lists where each stretch ran",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func resumeInAnotherSetup() throws {
        let one = Self.optimizersRun(1)
        let store = try ResultStore(root: tempDir())
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        let key = try Self.stoppedAtFirstCheckpoint(one, store: store, options: Self.checkpointing(threads: 1))
        let ck = try FitCheckpoint.read(from: store.checkpointPath(for: key))

        let second = Runner(store: store, options: Self.checkpointing(threads: 2))
        let plan = try second.plan([one])
        // The plan counts what is left (its totals and estimate), not the whole fit again.
        #expect(ck.step > 0 && plan.pending.map(\.iterationsDone) == [ck.step])
        #expect(plan.pending[0].iterationsLeft == plan.pending[0].iterations - ck.step)
        // So does submit's costing with fixed priors (--no-estimate): the iterations left.
        let freshStore = try ResultStore(root: tempDir())
        defer { try? FileManager.default.removeItem(atPath: freshStore.root) }
        let fresh = try Runner(store: freshStore, options: Self.checkpointing(threads: 2)).plan([one])
        var prior = ArrayPlanner()
        prior.measure = false
        let left = try prior.estimateRuns(plan, runner: second)[0].seconds, whole = try prior.estimateRuns(fresh, runner: second)[0].seconds
        // In proportion: the class is costed as a whole fit, whichever run of it comes first.
        let share = Double(plan.pending[0].iterationsLeft) / Double(plan.pending[0].iterations)
        #expect(abs(left / whole - share) < 1e-9, "\(left) s for what is left, \(whole) s for the whole fit")
        let log = EventLog()
        _ = second.execute(plan, events: { log.add($0) })
        let notes = log.all.compactMap { e -> String? in if case let .note(text) = e { return text } else { return nil } }
        #expect(notes.contains { $0.contains("resumes at iteration \(ck.step) on 2 threads") && $0.contains("ran on 1 thread,") })
        let record = try #require(store.scan().records.first)
        #expect(record.status == .done && record.resumes == 1 && record.machine.threads == 2)
        let stretches = try #require(record.computeStretches)
        #expect(stretches.map(\.fromIteration) == [0, ck.step])
        #expect(stretches.map(\.threads) == [1, 2])
        #expect(stretches.allSatisfy { $0.cpu == record.machine.cpu && $0.backend == record.software.backend })
    }

    /// `source` stopped at its first checkpoint (seed 1) in a fresh store, the checkpoint copied
    /// into the place of `target`'s run under `options`, and `target` run: the store, that run's
    /// key, the summary, the events, and the notes among them.
    static func runWithForeignCheckpoint(from source: Experiment, to target: Experiment, options: RunnerOptions) throws
        -> (store: ResultStore, key: RunKey, summary: RunSummary, events: [RunnerEvent], notes: [String]) {
        let store = try ResultStore(root: tempDir())
        let sourceKey = try Self.stoppedAtFirstCheckpoint(source, store: store, options: Self.checkpointing(seed: 1))
        let runner = Runner(store: store, options: options)
        let key = try #require(runner.plan([target]).runs.first?.key)
        try FileManager.default.createDirectory(atPath: store.folder(for: key), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: store.checkpointPath(for: sourceKey), toPath: store.checkpointPath(for: key))
        let log = EventLog()
        let summary = runner.execute(try runner.plan([target]), events: { log.add($0) })
        let notes = log.all.compactMap { if case let .note(text) = $0 { return text } else { return nil } }
        return (store, key, summary, log.all, notes)
    }

    @Test("a checkpoint of another seed in a run's place is noted and the run starts afresh, instead of failing every time",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func foreignCheckpoint() throws {
        let one = Self.optimizersRun(1)
        let r = try Self.runWithForeignCheckpoint(from: one, to: one, options: Self.checkpointing(seed: 2))
        defer { try? FileManager.default.removeItem(atPath: r.store.root) }
        #expect(r.summary.done == 1 && r.summary.failed == 0, "\(r.events)")
        #expect(r.notes.contains { $0.contains(r.store.checkpointPath(for: r.key)) && $0.contains("another configuration or seed") && $0.contains("afresh") },
                "\(r.notes)")
        #expect(r.store.scan().records.map(\.key) == [r.key])
    }

    @Test("a checkpoint of the same configuration and seed on another image, in a run's place, is noted and the run starts afresh, instead of resuming the other fit",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func checkpointOfAnotherImage() throws {
        // kate's run, and the very same run on another 512x512 colour image (the text mask is
        // drawn the same on both): a checkpoint of one passes the configuration and seed check
        // of the other, and was resumed as its own.
        var lena = Self.adamTwin("lena-twin")
        lena.runs[0].images = [ImageRef(name: "lenacolor", file: "bm3d/lenacolor.png")]
        let r = try Self.runWithForeignCheckpoint(from: Self.optimizersRun(1), to: lena, options: Self.checkpointing(seed: 1))
        defer { try? FileManager.default.removeItem(atPath: r.store.root) }
        #expect(r.summary.done == 1 && r.summary.failed == 0, "\(r.events)")
        #expect(r.notes.contains { $0.contains(r.store.checkpointPath(for: r.key)) && $0.contains("another image or mask") && $0.contains("afresh") },
                "\(r.notes)")
        #expect(!r.events.contains { if case let .started(_, _, resumedAt) = $0 { return resumedAt != nil } else { return false } })
        let record = try #require(r.store.scan().records.first { $0.key == r.key })
        #expect(record.resumes == 0)
    }

    @Test("a run whose configuration and seed another experiment stored is copied from it, not fitted; the twin keeping the worst drop is fitted first; --force fits a copy again",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func twinsAreCopied() throws {
        // Adam at LR 0.01 on kate, as the optimizers experiment runs it (keeping the worst drop),
        // and the very same run under two experiments that keep none, planned first.
        let keeper = Self.optimizersRun(1)
        let plain = Self.adamTwin("plain", label: "plain twin"), other = Self.adamTwin("other", label: "other twin")
        let store = try ResultStore(root: tempDir())
        let options = RunnerOptions(dataDirectory: experimentData!, profile: .smoke, seeds: [0], jobs: 1, threadsPerJob: 1)
        let runner = Runner(store: store, options: options)
        // The plan counts the two copies out of what it will fit (and of the estimate).
        let plan = try runner.plan([plain, keeper, other])
        #expect(plan.pending.count == 3 && plan.fitted.map(\.key.experiment) == ["optimizers"])
        let log = EventLog()
        let summary = runner.execute(plan, events: { log.add($0) })
        #expect(summary.done + summary.diverged == 3 && summary.failed == 0, "\(log.all)")

        let records = store.scan().records
        #expect(records.count == 3)
        let fitted = try #require(records.first { $0.key.experiment == "optimizers" })
        #expect(fitted.copiedFrom == nil)
        let finished = log.all.compactMap { if case let .finished(_, record) = $0 { return record } else { return nil } }
        #expect(finished.map(\.key.experiment) == ["optimizers", "plain", "other"], "the drop keeper is fitted first")
        for (id, label) in [("plain", "plain twin"), ("other", "other twin")] {
            let copy = try #require(records.first { $0.key.experiment == id })
            #expect(copy.copiedFrom == fitted.key && copy.label == label && copy.profile == "smoke")
            #expect(copy.worstDrop == nil && copy.images[.drop] == nil)
            var same = copy
            same.key = fitted.key
            same.worstDrop = fitted.worstDrop
            #expect(numbers(same) == numbers(fitted))
            #expect(copy.timings.iterations == fitted.timings.iterations && copy.machine.host == fitted.machine.host)
            #expect(Set(copy.images.keys) == Set(fitted.images.keys).subtracting([.drop]))
            for role in copy.images.keys { #expect(try store.loadImage(role, of: copy) == store.loadImage(role, of: fitted)) }
        }

        // --force fits the copy again: the same numbers, and no longer a copy.
        let forced = Runner(store: store, options: RunnerOptions(dataDirectory: experimentData!, profile: .smoke, seeds: [0],
                                                                 jobs: 1, threadsPerJob: 1, force: true))
        _ = forced.execute(try forced.plan([plain]), events: { _ in })
        var refit = try #require(records.first { $0.key.experiment == "plain" }.flatMap { try store.load($0.key) })
        #expect(refit.copiedFrom == nil)
        refit.key = fitted.key
        refit.worstDrop = fitted.worstDrop
        #expect(numbers(refit) == numbers(fitted))
    }

    @Test("a run keeping the worst drop is fitted, not copied, where its twin kept no drop picture and the twin's curve falls",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func twinWithoutTheDropIsNotCopied() throws {
        let keeper = Self.optimizersRun(1)
        let plain = Self.adamTwin("plain")
        let store = try ResultStore(root: tempDir())
        let options = RunnerOptions(dataDirectory: experimentData!, profile: .smoke, seeds: [0], jobs: 1, threadsPerJob: 1)
        let runner = Runner(store: store, options: options)
        _ = runner.execute(try runner.plan([plain]), events: { _ in })
        // The stored twin's curve made to fall (its record otherwise as written).
        var twin = try #require(store.scan().records.first)
        let sampled = twin.curve.indices.filter { twin.curve[$0].psnr != nil }
        #expect(sampled.count >= 2)
        twin.curve[sampled[1]].psnr = twin.curve[sampled[0]].psnr! - 1
        try store.save(twin, images: [:], force: true)
        #expect(Runner.worstDrop(twin.curve) != nil)
        #expect(try runner.plan([Self.adamTwin("another")]).fitted.isEmpty, "a run keeping no drop is copied from it")

        let plan = try runner.plan([keeper])
        #expect(plan.fitted.count == 1, "the twin cannot stand for a run keeping the drop")
        let summary = runner.execute(plan, events: { _ in })
        #expect(summary.done + summary.diverged == 1 && summary.failed == 0)
        let fitted = try #require(store.scan().records.first { $0.key.experiment == "optimizers" })
        #expect(fitted.copiedFrom == nil)
    }

    @Test("a twin fitted to an image file edited in place since is not copied: the run is fitted to the file as it is",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func twinOfAnEditedImageIsNotCopied() throws {
        // A data folder of our own holding kate.png, which this test edits.
        let data = tempDir()
        let kate = "dip-inpainting/kate.png"
        try FileManager.default.createDirectory(atPath: data + "/dip-inpainting", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: experimentData! + "/" + kate, toPath: data + "/" + kate)
        let plain = Self.adamTwin("plain"), other = Self.adamTwin("other")
        let store = try ResultStore(root: tempDir())
        let runner = Runner(store: store, options: RunnerOptions(dataDirectory: data, profile: .smoke, seeds: [0], jobs: 1, threadsPerJob: 1))
        _ = runner.execute(try runner.plan([plain]), events: { _ in })
        #expect(try runner.plan([other]).fitted.isEmpty, "before the edit, a copy")

        var picture = try PNGCodec.read(data + "/" + kate).image
        picture.pixels[0] = picture.pixels[0] < 0.5 ? 1 : 0
        try Data(PNGCodec.encode(picture)).write(to: URL(fileURLWithPath: data + "/" + kate))
        // A new runner: a runner keeps the images it prepared.
        let after = Runner(store: store, options: RunnerOptions(dataDirectory: data, profile: .smoke, seeds: [0], jobs: 1, threadsPerJob: 1))
        let plan = try after.plan([other])
        #expect(plan.fitted.count == 1)
        _ = after.execute(plan, events: { _ in })
        let fitted = try #require(store.scan().records.first { $0.key.experiment == "other" })
        let edited = try SHA256.hex(ofFileAt: data + "/" + kate)
        #expect(fitted.copiedFrom == nil && fitted.imageSHA256 == edited)
    }

    @Test("a fit that diverges is stored as diverged, without a final picture it cannot show",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func divergedIsStored() throws {
        var exp = Catalog.experiments.first { $0.id == "optimizers" }!
        exp.id = "blow-up"
        guard case var .dip(config) = exp.runs[0].method else { Issue.record("not a DIP run"); return }
        config.optimizer = .adam(learningRate: 1e30)
        exp.runs = [exp.runs[0]]
        exp.runs[0].method = .dip(config)
        let store = try ResultStore(root: tempDir())
        let runner = Runner(store: store, options: RunnerOptions(dataDirectory: experimentData!, profile: .smoke, seeds: [0],
                                                                 jobs: 1, threadsPerJob: 1))
        let summary = runner.execute(try runner.plan([exp]), events: { _ in })
        #expect(summary.failed == 0 && !summary.stoppedEarly, "\(summary)")
        let record = try #require(store.scan().records.first)
        #expect(record.status == .diverged && summary.diverged == 1)
        #expect(record.final == nil && record.images[.final] == nil)
        for role in record.images.keys { _ = try store.loadImage(role, of: record) }
    }

    @Test("the configuration hash changes exactly when a numeric knob changes")
    func hash() throws {
        let spec = Catalog.experiments.first { $0.id == "table1-paper" }!.runs[0]
        func conf(_ s: RunSpec) -> RunConfiguration {
            RunConfiguration(imageFile: "bm3d/house.png", preprocessing: s.preprocessing, mask: s.mask, method: s.method)
        }
        let base = try conf(spec).hash()
        var relabelled = spec
        relabelled.label = "another name"
        #expect(try conf(relabelled).hash() == base)
        // The profile's name is not hashed: paper applies no change, so the same runs are shared.
        #expect(try conf(Profile.paper.apply(spec)).hash() == base)
        #expect(try conf(Profile.quick.apply(spec)).hash() != base)
        var changes: [RunSpec] = []
        guard case let .dip(fit) = spec.method else { Issue.record("not a DIP spec"); return }
        for edit in [{ (c: inout FitConfig) in c.iterations += 1 }, { $0.optimizer = .adam(learningRate: 0.002) },
                     { $0.perturbation = 0.05 }, { $0.network.skip[0] = 8 }, { $0.backtracking = nil },
                     { $0.psnrEvery = 20 }, { $0.gammaInit = .one }] {
            var f = fit
            edit(&f)
            var s = spec
            s.method = .dip(f)
            changes.append(s)
        }
        var masked = spec
        masked.mask = .bernoulli(keep: 0.4, perChannel: true)
        var cropped = spec
        cropped.preprocessing.centreCrop = ImageSize(width: 128, height: 128)
        changes += [masked, cropped]
        let hashes = try changes.map { try conf($0).hash() }
        #expect(!hashes.contains(base))
        #expect(Set(hashes).count == hashes.count)
    }

    @Test("TV inpainting of house.png (50 % holes) beats the corrupted image by a wide margin",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func tvBaseline() throws {
        let ref = ImageRef(name: "house", file: "bm3d/house.png")
        let img = try Preparation.image(ref, dataDirectory: experimentData!,
                                        preprocessing: Preprocessing(centreCrop: ImageSize(width: 128, height: 128))).image
        let mask = try BernoulliMask.make(channels: 1, height: 128, width: 128, keepFraction: 0.5, seed: 0)
        let out = try TVInpainting.inpaint(img, mask: mask, config: TVConfig(iterations: 300))
        let corrupted = try Metrics.psnr(img.masked(by: mask), img)
        let restored = try Metrics.psnr(out, img)
        // Measured by this test on its first run: corrupted 8.89 dB, TV (300 iterations) 34.19 dB.
        #expect(restored > corrupted + 20)
        #expect(restored > 27)
        // Known pixels are kept exactly.
        for i in 0..<mask.pixels.count where mask.pixels[i] == 1 { #expect(out.pixels[i] == img.pixels[i]) }
    }
}

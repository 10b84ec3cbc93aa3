import DIPCore
import DIPTestSupport
import Foundation
import Testing
import DIPEngine
@testable import DIPExperiments

@Suite("Fit checkpoints and sample hook")
struct FitCheckpointTests {
    let backend: CPUBackend
    init() throws { backend = try CPUBackend(threads: 1) }

    private func problem() throws -> FitProblem {
        var img = Image(channels: 1, height: 16, width: 16)
        for y in 0..<16 { for x in 0..<16 { img[0, y, x] = 0.2 + 0.04 * Float(x) - 0.01 * Float(y) } }
        let mask = try BernoulliMask.make(channels: 1, height: 16, width: 16, keepFraction: 0.5, seed: 4)
        return try FitProblem(image: img, mask: mask)
    }

    /// A tiny net with backtracking that fires (tiny threshold), so its state is part of the test.
    private func config() -> FitConfig {
        let net = SkipConfig.uniform(depth: 2, channels: 4, skip: 2, inputChannels: 4, outputChannels: 1)
        var c = FitConfig(network: net, inputCode: .noise(channels: 4, scale: 0.1), perturbation: 0.03,
                          optimizer: .adam(learningRate: 0.05), iterations: 30,
                          backtracking: Backtracking(interval: 3, threshold: 0.05), finalRender: .lastPerturbed)
        c.psnrEvery = 2
        return c
    }

    private func expectSame(_ a: FitResult, _ b: FitResult) {
        #expect(a.losses.map(\.bitPattern) == b.losses.map(\.bitPattern))
        #expect(a.curve == b.curve)
        #expect(a.backtracks == b.backtracks)
        #expect(a.finalImage.pixels.map(\.bitPattern) == b.finalImage.pixels.map(\.bitPattern))
        #expect(a.best?.iteration == b.best?.iteration)
        #expect(a.best?.image == b.best?.image)
        #expect(a.status == b.status)
        #expect(a.timings.iterations == b.timings.iterations)
    }

    @Test("interrupted, written to disk and resumed equals uninterrupted, bit for bit")
    func resumeAfterCancel() throws {
        let p = try problem(), c = config()
        let whole = try Fitter(problem: p, config: c, seed: 5, backend: backend).run()
        var saved: FitCheckpoint?
        var calls = 0
        let first = try Fitter(problem: p, config: c, seed: 5, backend: backend)
            .run(checkpoints: CheckpointSchedule(iterations: 100), onCheckpoint: { saved = $0 },
                 shouldCancel: { calls += 1; return calls > 13 })
        #expect(first.status == .cancelled(iteration: 13))
        let path = TestFolder.path("fit", suffix: ".checkpoint")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var withExtras = try #require(saved)
        withExtras.attachments["runner"] = "{\"wallSeconds\":1.5}"
        let picture = Image(channels: 1, height: 2, width: 3, pixels: [0, 0.25, 0.5, 0.75, 1, Float.ulpOfOne])
        withExtras.attachedImages["drop"] = picture
        try withExtras.write(to: path)
        let loaded = try FitCheckpoint.read(from: path)
        #expect(loaded.step == 13)
        // What status counts as done, read from the header alone; no checkpoint, no count.
        #expect(FitCheckpoint.completedSteps(at: path) == 13)
        #expect(FitCheckpoint.completedSteps(at: path + ".missing") == nil)
        // A copy cut short in its tensors has a whole header but is no checkpoint to resume.
        let cut = path + ".cut"
        defer { try? FileManager.default.removeItem(atPath: cut) }
        let written = try Data(contentsOf: URL(fileURLWithPath: path))
        try written.prefix(written.count - 100).write(to: URL(fileURLWithPath: cut))
        #expect(FitCheckpoint.completedSteps(at: cut) == nil)
        #expect(throws: EngineError.self) { try SafetensorsFile.readMetadata(from: cut) }
        #expect(loaded.attachments == ["runner": "{\"wallSeconds\":1.5}"] && loaded.attachedImages["drop"] == picture)
        let resumed = try Fitter(problem: p, config: c, seed: 5, backend: backend).run(resumingFrom: loaded)
        #expect(!whole.backtracks.isEmpty)
        expectSame(whole, resumed)
        // One float overwritten in place, the file's size and layout unchanged: refused, where it
        // was resumed into a wrong result.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerEnd = 8 + Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        withUnsafeBytes(of: Float(1e30).bitPattern.littleEndian) { bytes.replaceSubrange(headerEnd + 40..<headerEnd + 44, with: $0) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect { try FitCheckpoint.read(from: path) } throws: { "\($0)".contains("damaged checkpoint (its contents differ from those it was written with)") }
    }

    @Test("a periodic checkpoint resumes to the same result; the sample hook sees every curve point")
    func periodic() throws {
        let p = try problem(), c = config()
        var checkpoints: [FitCheckpoint] = []
        var samples: [CurvePoint] = []
        let whole = try Fitter(problem: p, config: c, seed: 6, backend: backend)
            .run(checkpoints: CheckpointSchedule(iterations: 10), onCheckpoint: { checkpoints.append($0) },
                 onSample: { point, image in samples.append(point); #expect(image.height == 16) })
        #expect(checkpoints.map(\.step) == [10, 20])
        #expect(samples == whole.curve)
        let resumed = try Fitter(problem: p, config: c, seed: 6, backend: backend).run(resumingFrom: checkpoints[0])
        expectSame(whole, resumed)
    }

    @Test("a checkpoint of another configuration is refused")
    func foreign() throws {
        let p = try problem()
        var checkpoint: FitCheckpoint?
        _ = try Fitter(problem: p, config: config(), seed: 5, backend: backend)
            .run(checkpoints: CheckpointSchedule(iterations: 10), onCheckpoint: { checkpoint = $0 })
        var other = config()
        other.optimizer = .adam(learningRate: 0.01)
        #expect(throws: EngineError.self) {
            _ = try Fitter(problem: p, config: other, seed: 5, backend: backend).run(resumingFrom: checkpoint)
        }
    }

    @Test("a checkpoint of another image or mask is refused, also after a trip through its file; one that records none resumes as before")
    func anotherProblem() throws {
        let p = try problem(), c = config()
        var checkpoint: FitCheckpoint?
        let whole = try Fitter(problem: p, config: c, seed: 5, backend: backend)
            .run(checkpoints: CheckpointSchedule(iterations: 10), onCheckpoint: { if checkpoint == nil { checkpoint = $0 } })
        let path = TestFolder.path("fit-problem", suffix: ".checkpoint")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #require(checkpoint).write(to: path)
        var loaded = try FitCheckpoint.read(from: path)
        #expect(loaded.problemDigest == p.digest)
        #expect(loaded.mismatch(config: c, seed: 5, problemDigest: p.digest) == nil)
        // One pixel of the image changed (the file edited while the run was stopped), or the
        // mask: refused, with the reason.
        var edited = p.image
        edited.pixels[37] += 0.25
        var moved = p.mask
        moved.pixels[0] = 1 - moved.pixels[0]
        for other in [try FitProblem(image: edited, mask: p.mask), try FitProblem(image: p.image, mask: moved)] {
            #expect(other.digest != p.digest)
            #expect { _ = try Fitter(problem: other, config: c, seed: 5, backend: self.backend).run(resumingFrom: loaded) }
                throws: { "\($0)".contains("another image or mask") }
        }
        // Another seed is named as such before the problem is looked at.
        #expect(loaded.mismatch(config: c, seed: 6, problemDigest: "x")?.contains("configuration or seed") == true)
        // A checkpoint written before the digest was recorded has none, and is taken as it is.
        loaded.problemDigest = nil
        expectSame(whole, try Fitter(problem: p, config: c, seed: 5, backend: backend).run(resumingFrom: loaded))
    }

    /// The tiny net fitted with upstream's L-BFGS (after its 100 Adam warm-up steps).
    private func lbfgsConfig(iterations: Int) -> FitConfig {
        var c = config()
        c.optimizer = .lbfgs(learningRate: 0.01)
        c.iterations = iterations
        c.backtracking = nil
        return c
    }

    @Test("an L-BFGS fit interrupted mid-way, written to disk and resumed equals the uninterrupted fit")
    func lbfgsResumeAfterCancel() throws {
        let p = try problem(), c = lbfgsConfig(iterations: 40)
        let whole = try Fitter(problem: p, config: c, seed: 7, backend: backend).run()
        #expect(whole.status == .done && whole.timings.iterations == 140)
        var saved: FitCheckpoint?
        var calls = 0
        // 100 warm-up polls, then one before each L-BFGS iteration (after L-BFGS's first
        // evaluation, the 101st): the 121st poll comes before iteration 21.
        let first = try Fitter(problem: p, config: c, seed: 7, backend: backend)
            .run(checkpoints: CheckpointSchedule(iterations: 1000), onCheckpoint: { saved = $0 },
                 shouldCancel: { calls += 1; return calls > 120 })
        #expect(first.status == .cancelled(iteration: 121))
        let checkpoint = try #require(saved)
        #expect(checkpoint.step == 121 && checkpoint.lbfgs?.iteration == 20)
        let pairs = checkpoint.lbfgs?.history.count ?? 0
        #expect(pairs > 10)

        let path = TestFolder.path("fit", suffix: ".checkpoint")
        defer { try? FitCheckpointWriter.remove(at: path) }
        try checkpoint.write(to: path)
        let pairFiles = try FileManager.default.contentsOfDirectory(atPath: FitCheckpointWriter.historyDirectory(for: path))
        #expect(pairFiles.count == pairs)
        let loaded = try FitCheckpoint.read(from: path)
        #expect(loaded.lbfgs?.history.map(\.serial) == checkpoint.lbfgs?.history.map(\.serial))
        let resumed = try Fitter(problem: p, config: c, seed: 7, backend: backend).run(resumingFrom: loaded)
        expectSame(whole, resumed)

        // An Adam fit refuses an L-BFGS checkpoint, and the reverse.
        #expect(throws: EngineError.self) {
            _ = try Fitter(problem: p, config: config(), seed: 7, backend: backend).run(resumingFrom: loaded)
        }
    }

    @Test("L-BFGS checkpoints in series write each pair once, drop the forgotten ones, and resume exactly")
    func lbfgsSeries() throws {
        // 220 L-BFGS iterations without perturbation (whose noise makes many pairs fail the
        // curvature test): the 100-pair history fills and shifts.
        let p = try problem()
        var c = lbfgsConfig(iterations: 220)
        c.perturbation = 0
        let path = TestFolder.path("fit", suffix: ".checkpoint")
        defer { try? FitCheckpointWriter.remove(at: path) }
        let directory = FitCheckpointWriter.historyDirectory(for: path)
        // A stale checkpoint of another fit at the same path must not leak into this one.
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data("stale".utf8).write(to: URL(fileURLWithPath: FitCheckpointWriter.pairPath(3, directory: directory)))
        let writer = try FitCheckpointWriter(path: path, resumed: nil)
        #expect(!FileManager.default.fileExists(atPath: directory))

        var steps: [Int] = []
        var modified: [String: Date] = [:]
        var rewritten = 0
        let whole = try Fitter(problem: p, config: c, seed: 8, backend: backend)
            .run(checkpoints: CheckpointSchedule(iterations: 60), onCheckpoint: { ck in
                try writer.write(ck)
                steps.append(ck.step)
                let files = Set(try FileManager.default.contentsOfDirectory(atPath: directory))
                let expected = Set((ck.lbfgs?.history ?? []).map { "pair-\($0.serial).safetensors" })
                #expect(files == expected, "after step \(ck.step)")
                for f in files {
                    let date = try FileManager.default.attributesOfItem(atPath: (directory as NSString).appendingPathComponent(f))[.modificationDate] as? Date
                    if let old = modified[f], old != date { rewritten += 1 }
                    modified[f] = date
                }
            })
        #expect(steps == [120, 180, 240, 300])
        #expect(rewritten == 0)
        let loaded = try FitCheckpoint.read(from: path)
        #expect(loaded.step == 300 && loaded.lbfgs?.history.count == 100)
        #expect(loaded.lbfgs?.history.first?.serial ?? 0 > 0)
        let resumed = try Fitter(problem: p, config: c, seed: 8, backend: backend).run(resumingFrom: loaded)
        expectSame(whole, resumed)

        // A missing pair is named in the error.
        try FileManager.default.removeItem(atPath: FitCheckpointWriter.pairPath(loaded.lbfgs!.history[5].serial, directory: directory))
        #expect { try FitCheckpoint.read(from: path) } throws: { "\($0)".contains("pair-") }
    }
}

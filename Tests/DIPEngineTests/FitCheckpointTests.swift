import DIPCore
import Foundation
import Testing
@testable import DIPEngine

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
        let path = NSTemporaryDirectory() + "fit-\(UUID().uuidString).checkpoint"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #require(saved).write(to: path)
        let loaded = try FitCheckpoint.read(from: path)
        #expect(loaded.step == 13)
        let resumed = try Fitter(problem: p, config: c, seed: 5, backend: backend).run(resumingFrom: loaded)
        #expect(!whole.backtracks.isEmpty)
        expectSame(whole, resumed)
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
}

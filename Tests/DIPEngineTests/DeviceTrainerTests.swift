import DIPCore
import Foundation
import Testing
@testable import DIPEngine

/// A backend whose fits run in a `DeviceTrainer` over the operations `ops` makes, with host
/// convolutions from `base`: over `HostDeviceOps` the device path (NHWC activations, KRSC filters,
/// one parameter arena, the summary's dataflow, state copies between device and host) with the
/// host layers' arithmetic, so its results must be the host trainer's bits; over the kernels' host
/// emulation, the CUDA backend's kernel sequences.
final class DeviceTrainerBackend: ComputeBackend, @unchecked Sendable {
    let base: any ComputeBackend
    let name: String
    let ops: @Sendable (any ComputeBackend) throws -> any DeviceOps
    init(_ base: any ComputeBackend, name: String = "host-device",
         ops: @escaping @Sendable (any ComputeBackend) throws -> any DeviceOps = { HostDeviceOps(backend: $0) }) {
        self.base = base
        self.name = name
        self.ops = ops
    }
    var threads: Int { base.threads }
    func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any ConvolutionKernel {
        try base.makeConvolution(geometry, algorithm: algorithm)
    }
    func makeTrainer(network: SkipNetwork, problem: TrainingProblem) throws -> any NetworkTrainer {
        try DeviceTrainer(network: network, problem: problem, ops: ops(base))
    }
}

@Suite("Device trainer (host operations)")
struct DeviceTrainerTests {
    let host: CPUBackend
    let device: DeviceTrainerBackend
    init() throws {
        host = try CPUBackend(threads: 1)
        device = DeviceTrainerBackend(host)
    }

    private func problem(size: Int, channels: Int) throws -> FitProblem {
        var img = Image(channels: channels, height: size, width: size)
        for c in 0..<channels { for y in 0..<size { for x in 0..<size {
            img[c, y, x] = 0.2 + 0.03 * Float(x % 11) - 0.01 * Float(y % 7) + 0.05 * Float(c)
        } } }
        let mask = try BernoulliMask.make(channels: 1, height: size, width: size, keepFraction: 0.5, seed: 4)
        return try FitProblem(image: img, mask: mask)
    }

    private func expectSame(_ a: FitResult, _ b: FitResult, _ what: String) {
        // Booleans first, so a failure names what differs instead of printing every pixel.
        let losses = a.losses.map(\.bitPattern) == b.losses.map(\.bitPattern)
        let final = a.finalImage.pixels.map(\.bitPattern) == b.finalImage.pixels.map(\.bitPattern)
        let best = a.best?.image == b.best?.image
        #expect(losses, "\(what): losses differ")
        #expect(a.curve == b.curve, "\(what): curve")
        #expect(a.backtracks == b.backtracks, "\(what): backtracks")
        #expect(final, "\(what): final image differs")
        #expect(best, "\(what): best image differs")
        #expect(a.status == b.status, "\(what): status")
    }

    /// Networks covering every operation: skips with and without crops, stride and average-pool
    /// downsampling, nearest and both bilinear upsamplings, the 1x1 decoder block, and a level
    /// without a skip.
    private func cases() -> [(String, SkipConfig, Int)] {
        var plain = SkipConfig.uniform(depth: 2, channels: 4, skip: 2, inputChannels: 3, outputChannels: 1)
        plain.upsampling = .nearest
        var bilinear = SkipConfig.uniform(depth: 3, channels: 5, skip: 3, inputChannels: 2, outputChannels: 3)
        bilinear.upsampling = .bilinear(alignCorners: true)
        bilinear.need1x1Up = true
        var pooled = SkipConfig.uniform(depth: 2, channels: 4, skip: 2, inputChannels: 4, outputChannels: 1)
        pooled.downsampling = .avgPool
        pooled.upsampling = .bilinear(alignCorners: false)
        var partial = SkipConfig.uniform(depth: 2, channels: 4, skip: 2, inputChannels: 3, outputChannels: 1)
        partial.skip = [2, 0]
        partial.kernelSkip = 3
        return [("plain 19x19 (crops)", plain, 19), ("bilinear align_corners, 1x1 up, 3 channels", bilinear, 24),
                ("avg pool, bilinear", pooled, 16), ("a level without skip", partial, 16)]
    }

    @Test("a whole Adam fit with perturbation and backtracking gives the host trainer's bits")
    func adamFitMatchesHost() throws {
        for (what, net, size) in cases() {
            var config = FitConfig(network: net, inputCode: .noise(channels: net.inputChannels, scale: 0.1), perturbation: 0.03,
                                   optimizer: .adam(learningRate: 0.05), iterations: 12,
                                   backtracking: Backtracking(interval: 3, threshold: 0.05), finalRender: .lastPerturbed)
            config.psnrEvery = 2
            let p = try problem(size: size, channels: net.outputChannels)
            let a = try Fitter(problem: p, config: config, seed: 5, backend: host)
            let b = try Fitter(problem: p, config: config, seed: 5, backend: device)
            let ra = try a.run(), rb = try b.run()
            expectSame(ra, rb, what)
            // After run the host model holds the device's final parameters and buffers.
            for (x, y) in zip(a.network.tensors, b.network.tensors) {
                let same = x.value.array.map(\.bitPattern) == y.value.array.map(\.bitPattern)
                #expect(same, "\(what): \(x.key) differs")
            }
        }
    }

    @Test("a checkpoint taken on the device resumes on the device to the same bits")
    func checkpointResume() throws {
        let (_, net, size) = cases()[0]
        var config = FitConfig(network: net, inputCode: .noise(channels: net.inputChannels, scale: 0.1), perturbation: 0.03,
                               optimizer: .adam(learningRate: 0.05), iterations: 14,
                               backtracking: Backtracking(interval: 3, threshold: 0.05), finalRender: .lastPerturbed)
        config.psnrEvery = 2
        let p = try problem(size: size, channels: 1)
        let whole = try Fitter(problem: p, config: config, seed: 7, backend: device).run()
        var taken: [FitCheckpoint] = []
        var n = 0
        _ = try Fitter(problem: p, config: config, seed: 7, backend: device)
            .run(checkpoints: CheckpointSchedule(iterations: 100), onCheckpoint: { taken.append($0) },
                 progress: { _ in n += 1 }, shouldCancel: { n >= 8 })
        #expect(taken.count == 1)
        #expect(!taken[0].backtrackSaved.isEmpty)
        let resumed = try Fitter(problem: p, config: config, seed: 7, backend: device).run(resumingFrom: taken[0])
        expectSame(whole, resumed, "resumed")
        // And a device checkpoint resumes on the host trainer: the state is the same state.
        let onHost = try Fitter(problem: p, config: config, seed: 7, backend: host).run(resumingFrom: taken[0])
        expectSame(whole, onHost, "resumed on the host")
    }

    @Test("plain iterations in batches (counters, step-terms table and loss ring on the device) give the host trainer's bits, through checkpoints")
    func batchesMatchHost() throws {
        for (what, net, size) in cases().prefix(2) {
            var config = FitConfig(network: net, inputCode: .noise(channels: net.inputChannels, scale: 0.1), perturbation: 0.03,
                                   optimizer: .adam(learningRate: 0.05), iterations: 40,
                                   backtracking: Backtracking(interval: 9, threshold: 0.05), finalRender: .lastPerturbed)
            config.psnrEvery = 7
            let p = try problem(size: size, channels: net.outputChannels)
            let a = try Fitter(problem: p, config: config, seed: 5, backend: host).run()
            let b = try Fitter(problem: p, config: config, seed: 5, backend: device).run()
            expectSame(a, b, what)
            #expect(a.timings.batched == nil)
            #expect((b.timings.batched ?? 0) > 0, "\(what): the device trainer ran no batch")
            #expect(b.timings.iterations == 40)

            // Checkpoints every 5 iterations cut the batches; a cancelled fit resumes to the same bits.
            var taken: [FitCheckpoint] = []
            var done = 0
            _ = try Fitter(problem: p, config: config, seed: 5, backend: device)
                .run(checkpoints: CheckpointSchedule(iterations: 5), onCheckpoint: { taken.append($0) },
                     progress: { done = $0.iteration }, shouldCancel: { done >= 23 })
            // (25 twice: the schedule's checkpoint after step 25, then the cancellation's, as on the host.)
            #expect(taken.map(\.step) == [5, 10, 15, 20, 25, 25], "\(what): checkpoints at \(taken.map(\.step))")
            let resumed = try Fitter(problem: p, config: config, seed: 5, backend: device).run(resumingFrom: taken.last!)
            expectSame(a, resumed, "\(what), resumed")
        }
    }

    @Test("weights loaded into the host model reach the device; L-BFGS is refused by name")
    func weightsAndLBFGS() throws {
        let (_, net, size) = cases()[0]
        var config = FitConfig(network: net, inputCode: .noise(channels: net.inputChannels, scale: 0.1), perturbation: 0,
                               optimizer: .adam(learningRate: 0.01), iterations: 3)
        config.psnrEvery = 1
        let p = try problem(size: size, channels: 1)
        let trained = try Fitter(problem: p, config: config, seed: 1, backend: host)
        _ = try trained.run()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dip-device-\(getpid()).safetensors").path
        defer { unlink(path) }
        try WeightsFile.save(trained.network, to: path)
        let a = try Fitter(problem: p, config: config, seed: 2, backend: host)
        let b = try Fitter(problem: p, config: config, seed: 2, backend: device)
        try a.loadWeights(path)
        try b.loadWeights(path)
        expectSame(try a.run(), try b.run(), "loaded weights")

        config.optimizer = .lbfgs(learningRate: 0.1)
        #expect(throws: EngineError.self) { try Fitter(problem: p, config: config, seed: 2, backend: device).run() }
    }
}

@Suite("Device operations check")
struct DeviceOpsCheckTests {
    @Test("the host layers over oneDNN pass against the host layers over the reference loops, every operation")
    func hostAgainstReference() throws {
        let check = DeviceOpsCheck(reference: HostDeviceOps(backend: ReferenceBackend()),
                                   candidate: HostDeviceOps(backend: try CPUBackend(threads: 1)), bound: 0, convolutionBound: 1e-5)
        let results = try check.run()
        #expect(results.count > 60)
        for r in results { #expect(r.passed, "\(r)") }
        // Everything but the convolutions is the same code on both sides: the same bits.
        #expect(results.filter { !$0.name.hasPrefix("convolution") }.allSatisfy { $0.error == 0 })
    }
}

/// The GPU's kernel sequences (KernelDeviceOps) over the kernels' host build: everything a CUDA
/// fit runs except the launches, cuDNN and the card's own rounding.
@Suite("CUDA kernel sequences on the host emulation")
struct KernelDeviceOpsTests {
    let host: CPUBackend
    init() throws { host = try CPUBackend(threads: 1) }

    @Test("every operation matches the host layers: same bits except the reordered Float64 sums (BatchNorm, loss value)")
    func operations() throws {
        let check = DeviceOpsCheck(reference: HostDeviceOps(backend: host),
                                   candidate: KernelDeviceOps(device: EmulatedKernelDevice(convolutions: host)),
                                   bound: 1e-6, convolutionBound: 0)
        let results = try check.run()
        for r in results { #expect(r.passed, "\(r)") }
        let exact = results.filter { !$0.name.hasPrefix("batchnorm") && !$0.name.hasPrefix("masked MSE value") }
        for r in exact { #expect(r.error == 0, "\(r): expected the host's bits") }
    }

    @Test("a whole fit through DeviceTrainer and the kernel sequences follows the host trainer's")
    func wholeFit() throws {
        let (p, config) = try smallBacktrackingFit(side: 21, alignCorners: true, iterations: 10, every: 3, interval: 3)
        let a = try Fitter(problem: p, config: config, seed: 3, backend: host).run()
        let device = DeviceTrainerBackend(host, name: "cuda-kernels-emulated") {
            KernelDeviceOps(device: EmulatedKernelDevice(convolutions: $0))
        }
        let b = try Fitter(problem: p, config: config, seed: 3, backend: device).run()
        #expect(a.losses.count == b.losses.count)
        let worst = zip(a.losses, b.losses).map { abs($0 - $1) / $0 }.max() ?? 0
        #expect(worst < 1e-5, "losses differ by \(worst) relative")
        #expect(a.backtracks == b.backtracks)
        #expect(abs((a.finalPSNR ?? 0) - (b.finalPSNR ?? 1)) < 1e-3, "final PSNR \(a.finalPSNR ?? 0) vs \(b.finalPSNR ?? 0)")
    }

    @Test("a recorded iteration replayed (frozen arguments, as a CUDA graph) gives the eager kernel sequence's bits")
    func recordedIterations() throws {
        var (p, config) = try smallBacktrackingFit(side: 20, alignCorners: false, iterations: 40, every: 8, interval: 3)
        // A step large enough that backtracking restores the parameters: between a replayed
        // evaluation and the replayed Adam step.
        config.optimizer = .adam(learningRate: 1.0)
        let devices = Devices()
        func backend(recording: Bool) -> DeviceTrainerBackend {
            DeviceTrainerBackend(host, name: "cuda-kernels-emulated") {
                let d = EmulatedKernelDevice(convolutions: $0, records: recording)
                devices.add(d)
                return KernelDeviceOps(device: d)
            }
        }
        let replayed = try Fitter(problem: p, config: config, seed: 4, backend: backend(recording: true))
        let a = try replayed.run()
        // A plain iteration and its two halves (the sampled iterations' evaluation, and Adam's
        // step after a possible restore), each recorded once.
        #expect(devices.all.map(\.captures) == [3], "three pieces recorded once: \(devices.all.map(\.captures))")
        #expect(replayed.algorithmSummary.contains("replayed from one recorded graph"), "\(replayed.algorithmSummary)")
        let b = try Fitter(problem: p, config: config, seed: 4, backend: backend(recording: false)).run()
        let losses = a.losses.map(\.bitPattern) == b.losses.map(\.bitPattern)
        #expect(losses, "losses differ between replayed and eager batches")
        #expect(a.finalImage == b.finalImage)
        #expect(a.curve == b.curve)
        #expect(a.backtracks == b.backtracks)
        #expect(!a.backtracks.isEmpty, "no restore happened: the test does not reach it")
        #expect((a.timings.batched ?? 0) > 0)
        // And both follow the host trainer.
        let h = try Fitter(problem: p, config: config, seed: 4, backend: host).run()
        let worst = zip(h.losses, a.losses).map { abs($0 - $1) / $0 }.max() ?? 0
        #expect(h.losses.count == a.losses.count && worst < 1e-5, "losses differ from the host's by \(worst) relative")
    }

    @Test("a step-terms table refilled mid-fit (the iteration recorded again) gives the bits of one that never is")
    func stepTermsRefill() throws {
        let skip = SkipConfig.uniform(depth: 3, channels: 5, skip: 3, inputChannels: 4, outputChannels: 3)
        let problem = try CUDASelfTest.syntheticProblem(skip, channels: 3, side: 20)
        func run(reserve: Int) throws -> (losses: [UInt64], parameters: [[UInt32]], captures: Int) {
            let device = EmulatedKernelDevice(convolutions: host)
            let network = try SkipNetwork(config: skip, backend: host, seed: 5)
            let t = try DeviceTrainer(network: network, problem: problem, ops: KernelDeviceOps(device: device), stepTermsReserve: reserve)
            try t.startAdam(learningRate: 0.01)
            var losses: [Double] = []
            var iteration = 0
            for _ in 0..<4 {
                losses.append(try t.evaluate(iteration: iteration, keepOutput: true).loss)
                try t.adamStep()
                iteration += 1
                losses += try t.train(from: iteration, count: 5).losses
                iteration += 5
            }
            try t.pullState()
            return (losses.map(\.bitPattern), network.tensors.map { $0.value.array.map(\.bitPattern) }, device.captures)
        }
        let refilled = try run(reserve: 4), once = try run(reserve: DeviceTrainer.stepTermsReserve)
        #expect(once.captures == 3, "recorded once: \(once.captures) captures")
        #expect(refilled.captures > 3, "the small table was never refilled: \(refilled.captures) captures")
        #expect(refilled.losses == once.losses)
        #expect(refilled.parameters == once.parameters)
    }

    @Test("the GPU self-test's whole-iteration check (loss, every gradient, the Adam update) passes on the emulated kernels", arguments: ["table1", "text"])
    func selfTestIteration(net: String) throws {
        let summary = try CUDASelfTest.iterationCheck(net: net, math: .strict) {
            KernelDeviceOps(device: EmulatedKernelDevice(convolutions: ReferenceBackend()))
        }
        #expect(summary.contains("64x64"), "\(summary)")
    }

    @Test("the whole-iteration check fails a device whose 1x1 layers' weight gradients come out half again too large")
    func selfTestIterationCatchesOneWrongTensor() throws {
        // Five of table1's 82 compared tensors, each 50 % off: the median stays, and the worst
        // (0.5) is under 10 times the largest spread, so only the tensor-by-tensor bound sees it.
        #expect(throws: CUDAError.self) {
            try CUDASelfTest.iterationCheck(net: "table1", math: .strict) {
                KernelDeviceOps(device: EmulatedKernelDevice(convolutions: ScaledWeightGradients(kernel: 1, by: 1.5)))
            }
        }
    }
}

/// Plain-loop convolutions whose weight gradients come out scaled by `factor` for the layers of
/// `kernel` x `kernel` (a device that computes one kind of layer wrongly).
private final class ScaledWeightGradients: ComputeBackend, @unchecked Sendable {
    let loops = ReferenceBackend(), kernel: Int, factor: Float
    init(kernel: Int, by factor: Float) { (self.kernel, self.factor) = (kernel, factor) }
    var name: String { "scaled weight gradients" }
    var threads: Int { 1 }
    func makeConvolution(_ g: ConvGeometry, algorithm: ConvAlgorithm) throws -> any ConvolutionKernel {
        let k = try loops.makeConvolution(g, algorithm: algorithm)
        return g.kernel == kernel ? Scaled(k, factor) : k
    }

    private final class Scaled: ForwardingConvolution {
        let factor: Float
        init(_ base: any ConvolutionKernel, _ factor: Float) {
            self.factor = factor
            super.init(base)
        }
        override func backwardWeights(input: Tensor, gradOutput: Tensor, gradWeight: Tensor, gradBias: Tensor) throws {
            try base.backwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
            for i in 0..<gradWeight.count { gradWeight.pointer[i] *= factor }
        }
        // Both passes through this class's own, so the scaling is in whichever the caller uses.
        override func backward(input: Tensor, gradOutput: Tensor, weight: Tensor, gradWeight: Tensor, gradBias: Tensor,
                               gradInput: Tensor?) throws {
            try backwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
            if let gradInput { try backwardData(gradOutput: gradOutput, weight: weight, gradInput: gradInput) }
        }
    }
}

/// The emulated devices a test's backend made (one per fit).
private final class Devices: @unchecked Sendable {
    private(set) var all: [EmulatedKernelDevice] = []
    func add(_ d: EmulatedKernelDevice) { all.append(d) }
}

@Suite("Which backend runs a fit")
struct BackendChoiceTests {
    @Test("a factory that cannot run L-BFGS hands L-BFGS fits to the CPU and keeps Adam fits")
    func lbfgsGoesToCPU() throws {
        let gpuLike = BackendFactory(name: "device-only", libraryVersions: [:], device: "test", runsLBFGS: false) { _ in
            DeviceTrainerBackend(ReferenceBackend())
        }
        var config = FitConfig(network: SkipConfig.uniform(depth: 1, channels: 2, skip: 1, inputChannels: 2, outputChannels: 1))
        #expect(gpuLike.forFit(config).name == "device-only")
        config.optimizer = .lbfgs(learningRate: 0.1)
        #expect(gpuLike.forFit(config).name == BackendFactory.cpu.name)
        #expect(BackendFactory.cpu.forFit(config).name == BackendFactory.cpu.name)
    }
}

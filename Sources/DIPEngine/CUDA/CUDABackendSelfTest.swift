import DIPCore

extension CUDASelfTest {
    /// The backend's checks on the card: every kernel sequence (KernelDeviceOps) against the host
    /// layers (HostDeviceOps), then one whole iteration of the table1 and text nets (loss, the
    /// gradient of every parameter, the Adam update) against the CPU trainer, in both math modes.
    static func backendChecks(ordinal: Int, record: (String, () throws -> String) -> Void) {
        for math in GPUMathMode.allCases {
            let convolutionBound = tolerance(math)
            record("kernel sequences, \(math.rawValue), against the host layers") {
                let device = try CUDAKernelDevice(ordinal: ordinal, math: math)
                let check = DeviceOpsCheck(reference: HostDeviceOps(backend: try CPUBackend(threads: 1)),
                                           candidate: KernelDeviceOps(device: device),
                                           bound: 1e-5, convolutionBound: convolutionBound)
                let results = try check.run()
                let failed = results.filter { !$0.passed }
                guard failed.isEmpty else {
                    throw CUDAError.invalidArgument(failed.map(\.description).joined(separator: "; "))
                }
                let worst = results.max { $0.error < $1.error }!
                return "\(results.count) operations; worst \(worst)"
            }
            for net in ["table1", "text"] {
                record("one iteration of the \(net) net, \(math.rawValue), against the CPU trainer") {
                    try iterationCheck(net: net, ordinal: ordinal, math: math)
                }
            }
            record("plain iterations replayed from a recorded graph, \(math.rawValue), against eager ones") {
                try replayCheck(net: "table1", side: 256, iterations: 50, ordinal: ordinal, math: math)
            }
        }
    }

    /// One evaluation and one Adam step of `net` at the smallest size it takes (at least 64),
    /// on the GPU and on the CPU from the same weights and noise: the loss, every parameter's
    /// gradient and the Adam update where the gradient is not noise.
    static func iterationCheck(net: String, ordinal: Int, math: GPUMathMode) throws -> String {
        let channels = net == "table1" ? 1 : 3
        let skip = try SkipConfig.preset(net, outputChannels: channels)
        let side = max(64, NetworkSummary.smallestFittingMultiple(skip))
        let problem = try syntheticProblem(skip, channels: channels, side: side)
        let cpu = try CPUBackend(threads: 1)
        let host = try HostTrainer(network: try SkipNetwork(config: skip, backend: cpu, seed: 0), problem: problem)
        let device = try DeviceTrainer(network: try SkipNetwork(config: skip, backend: cpu, seed: 0), problem: problem,
                                       ops: KernelDeviceOps(device: try CUDAKernelDevice(ordinal: ordinal, math: math)))
        let a = try host.evaluate(iteration: 0, keepOutput: false), b = try device.evaluate(iteration: 0, keepOutput: false)
        let lossError = abs(a.loss - b.loss) / a.loss
        let hostGradients = (host.hostParameters ?? []).map { $0.gradient!.array }
        let deviceGradients = try device.gradientsOnHost()
        var gradientError = 0.0
        for (g, d) in zip(hostGradients, deviceGradients) {
            let scale = g.map { abs(Double($0)) }.max() ?? 0
            guard scale > 0 else { continue }
            for (x, y) in zip(g, d) { gradientError = max(gradientError, abs(Double(x) - Double(y)) / scale) }
        }
        for trainer in [host, device] as [any NetworkTrainer] {
            try trainer.startAdam(learningRate: 0.01)
            try trainer.adamStep()
        }
        try device.pullState()
        // Adam's first step moves a parameter by about lr * sign(gradient): compare it where the
        // gradient is well above the rounding noise (a bias before a BatchNorm has a gradient that
        // is zero in exact arithmetic, hence a random sign).
        var updateError = 0.0
        for ((p, q), g) in zip(zip(host.network.tensors.filter { !$0.isBuffer }, device.network.tensors.filter { !$0.isBuffer }), hostGradients) {
            let scale = g.map { abs($0) }.max() ?? 0
            for i in 0..<g.count where abs(g[i]) > 1e-3 * scale {
                updateError = max(updateError, abs(Double(p.value.pointer[i]) - Double(q.value.pointer[i])) / 0.01)
            }
        }
        let bound = math == .strict ? 1e-3 : 2e-2
        let figures = String(format: "%dx%d: loss %.2e, gradients %.2e, Adam update %.2e (of lr)", side, side, lossError, gradientError, updateError)
        guard lossError <= bound, gradientError <= bound, updateError <= 0.1 else {
            throw CUDAError.invalidArgument("\(figures): above the bounds (\(bound), \(bound), 0.1)")
        }
        return figures
    }

    /// A random image with a 50 % mask as a training problem for `skip` at `side` x `side`:
    /// upstream's input code, sigma_p 0.03, seed 0.
    static func syntheticProblem(_ skip: SkipConfig, channels: Int, side: Int) throws -> TrainingProblem {
        var image = Image(channels: channels, height: side, width: side)
        image.pixels.withUnsafeMutableBufferPointer { RandomStream(seed: 3, purpose: .auxiliary).fillUniform($0) }
        let mask = try BernoulliMask.make(channels: 1, height: side, width: side, keepFraction: 0.5, seed: 3)
        let code = InputCode.upstream(for: skip).make(height: side, width: side, seed: 0)
        let target = Tensor([channels, side, side]), maskTensor = Tensor([channels, side, side])
        for c in 0..<channels { for y in 0..<side { for x in 0..<side {
            target.pointer[(c * side + y) * side + x] = image[c, y, x]
            maskTensor.pointer[(c * side + y) * side + x] = mask[0, y, x]
        } } }
        return TrainingProblem(code: code, target: target, mask: maskTensor, lossScale: 1, perturbation: 0.03, seed: 0)
    }

    /// `iterations` plain iterations twice over on two GPU trainers from the same start: one
    /// evaluating and stepping eagerly (a sync per iteration for the loss), one through
    /// `train(from:count:)`, which records the iteration as a CUDA graph and replays it. The
    /// losses and the final parameters must be the same bits; the second round of each is timed.
    static func replayCheck(net: String, side: Int, iterations n: Int, ordinal: Int, math: GPUMathMode) throws -> String {
        let channels = net == "table1" ? 1 : 3
        let skip = try SkipConfig.preset(net, outputChannels: channels)
        let problem = try syntheticProblem(skip, channels: channels, side: side)
        let cpu = try CPUBackend(threads: 1)
        func trainer() throws -> DeviceTrainer {
            let t = try DeviceTrainer(network: try SkipNetwork(config: skip, backend: cpu, seed: 0), problem: problem,
                                      ops: KernelDeviceOps(device: try CUDAKernelDevice(ordinal: ordinal, math: math)))
            try t.startAdam(learningRate: 0.01)
            return t
        }
        let eager = try trainer(), replayed = try trainer()
        let clock = ContinuousClock()
        var eagerLosses: [Double] = [], replayedLosses: [Double] = []
        var eagerSeconds = 0.0, replayedSeconds = 0.0
        for round in 0..<2 {
            let t0 = clock.now
            for i in round * n..<(round + 1) * n {
                eagerLosses.append(try eager.evaluate(iteration: i, keepOutput: false).loss)
                try eager.adamStep()
            }
            _ = try eager.adamState()  // a download: waits for the last step
            let t1 = clock.now
            replayedLosses += try replayed.train(from: round * n, count: n).losses
            let t2 = clock.now
            if round == 1 { eagerSeconds = (t1 - t0).seconds; replayedSeconds = (t2 - t1).seconds }
        }
        guard replayed.algorithmSummary.contains("replayed from one recorded graph") else {
            throw CUDAError.invalidArgument("the iteration was not replayed: \(replayed.algorithmSummary)")
        }
        if let first = eagerLosses.indices.first(where: { eagerLosses[$0].bitPattern != replayedLosses[$0].bitPattern }) {
            throw CUDAError.invalidArgument("losses differ from iteration \(first): \(eagerLosses[first]) eager, \(replayedLosses[first]) replayed")
        }
        try eager.pullState()
        try replayed.pullState()
        for (a, b) in zip(eager.network.tensors, replayed.network.tensors) where a.value.array.map(\.bitPattern) != b.value.array.map(\.bitPattern) {
            throw CUDAError.invalidArgument("\(a.key) differs between eager and replayed iterations")
        }
        return "\(net) " + String(format: "%dx%d, %d iterations: same bits; eager %.2f ms, replayed %.2f ms per iteration", side, side,
                                    2 * n, 1000 * eagerSeconds / Double(n), 1000 * replayedSeconds / Double(n))
    }
}

import DIPCore

/// The trainer of backends that compute on host memory (the oneDNN CPU backend, the reference
/// backend): the network's own layers run in place on its host tensors, so `pullState` and
/// `pushState` have nothing to copy.
final class HostTrainer: NetworkTrainer {
    let network: SkipNetwork
    private let problem: TrainingProblem
    private let zIt: Tensor
    private let gradient: Tensor
    private let parallel: ChannelParallel
    private let parameters: [NamedTensor]
    private var adam: Adam?
    private var saved: [[Float]] = []

    /// Prepares `network` (buffers and convolutions) at the problem's size.
    init(network: SkipNetwork, problem: TrainingProblem) throws {
        let dims = problem.code.dims
        try network.prepare(height: dims[1], width: dims[2])
        self.network = network
        self.problem = problem
        zIt = Tensor(dims)
        gradient = Tensor(problem.target.dims)
        parallel = ChannelParallel(threads: max(1, network.backend.threads))
        parameters = network.tensors.filter { !$0.isBuffer }
    }

    var hostParameters: [NamedTensor]? { parameters }

    var algorithmSummary: String { network.algorithmSummary }

    func evaluate(iteration: Int, keepOutput: Bool) throws -> TrainerEvaluation {
        let clock = ContinuousClock()
        let t0 = clock.now
        network.step(.forward, "perturbation") { perturb(iteration: iteration) }
        let out = try network.forward(zIt)
        let t1 = clock.now
        let loss = try network.step(.backward, "loss") { try lossAndGradient(out) }
        // A diverged fit stops here: its gradient is of no use.
        if loss.isFinite { try network.backward(gradOutput: gradient) }
        return TrainerEvaluation(loss: loss, output: keepOutput ? out : nil,
                                 forwardSeconds: (t1 - t0).seconds, backwardSeconds: (clock.now - t1).seconds)
    }

    func render(perturbedBy iteration: Int?) throws -> Tensor {
        if let iteration { perturb(iteration: iteration) } else { zIt.copy(from: problem.code) }
        return try network.forward(zIt)
    }

    /// Fills zIt with z + sigma_p * N(0, 1) of iteration `iteration`'s stream (or copies z).
    private func perturb(iteration: Int) {
        guard problem.perturbation > 0 else { zIt.copy(from: problem.code); return }
        Perturbation.fill(problem.code.pointer, into: zIt.pointer, count: zIt.count, sigma: problem.perturbation,
                          seed: problem.seed, iteration: iteration, parallel: parallel)
    }

    /// Loss and gradient (written into `gradient`) of a network output.
    private func lossAndGradient(_ output: Tensor) throws -> Double {
        try MaskedMSELoss.scaled(output: output, target: problem.target, mask: problem.mask, scale: problem.lossScale,
                                 gradient: gradient)
    }

    func startAdam(learningRate: Double) throws {
        adam = try Adam(parameters.map { (parameter: $0.value, gradient: $0.gradient!) }, learningRate: learningRate)
    }

    private func currentAdam() throws -> Adam {
        guard let adam else { throw EngineError.invalidConfig("Adam used before startAdam") }
        return adam
    }

    func adamStep() throws { try currentAdam().step(parallel: parallel) }

    func adamState() throws -> AdamState {
        let adam = try currentAdam()
        return AdamState(first: adam.firstMoments.map(\.array), second: adam.secondMoments.map(\.array), steps: adam.stepCount)
    }

    func restoreAdam(_ state: AdamState) throws {
        let adam = try currentAdam()
        guard state.first.count == adam.firstMoments.count, state.second.count == adam.secondMoments.count else {
            throw EngineError.weights("checkpoint: Adam state does not match the network; delete the checkpoint to start afresh")
        }
        for (dst, src) in zip(adam.firstMoments + adam.secondMoments, state.first + state.second) {
            guard dst.count == src.count else { throw EngineError.weights("checkpoint: Adam moment of the wrong size; delete the checkpoint to start afresh") }
            src.withUnsafeBufferPointer { dst.pointer.update(from: $0.baseAddress!, count: src.count) }
        }
        adam.stepCount = state.steps
    }

    func saveParameters() throws { saved = parameters.map { $0.value.array } }

    func restoreParameters() throws {
        for (p, v) in zip(parameters, saved) {
            v.withUnsafeBufferPointer { p.value.pointer.update(from: $0.baseAddress!, count: v.count) }
        }
    }

    func savedParameters() throws -> [[Float]] { saved }

    func setSavedParameters(_ values: [[Float]]) throws {
        guard values.isEmpty || zip(values, parameters).allSatisfy({ $0.count == $1.value.count }) && values.count == parameters.count else {
            throw EngineError.weights("checkpoint: backtracking's saved parameters do not match the network; delete the checkpoint to start afresh")
        }
        saved = values
    }

    func pullState() throws {}
    func pushState() throws {}
}

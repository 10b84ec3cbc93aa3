import DIPCore
import Testing
@testable import DIPEngine

/// The host trainer, noting which substream of the perturbation each evaluation and the final
/// render ask for; everything else goes to the real trainer unchanged.
private final class NoiseRecordingTrainer: NetworkTrainer {
    let base: any NetworkTrainer
    var evaluated: [Int] = []
    var rendered: [Int?] = []
    init(_ base: any NetworkTrainer) { self.base = base }

    var network: SkipNetwork { base.network }
    func evaluate(iteration: Int, keepOutput: Bool) throws -> TrainerEvaluation {
        evaluated.append(iteration)
        return try base.evaluate(iteration: iteration, keepOutput: keepOutput)
    }
    func render(perturbedBy iteration: Int?) throws -> Tensor {
        rendered.append(iteration)
        return try base.render(perturbedBy: iteration)
    }
    var preferredBatch: Int { base.preferredBatch }
    func startAdam(learningRate: Double) throws { try base.startAdam(learningRate: learningRate) }
    func adamStep() throws { try base.adamStep() }
    func adamState() throws -> AdamState { try base.adamState() }
    func restoreAdam(_ state: AdamState) throws { try base.restoreAdam(state) }
    func saveParameters() throws { try base.saveParameters() }
    func restoreParameters() throws { try base.restoreParameters() }
    func savedParameters() throws -> [[Float]] { try base.savedParameters() }
    func setSavedParameters(_ values: [[Float]]) throws { try base.setSavedParameters(values) }
    func pullState() throws { try base.pullState() }
    func pushState() throws { try base.pushState() }
    var hostParameters: [NamedTensor]? { base.hostParameters }
    var algorithmSummary: String { base.algorithmSummary }
}

/// The CPU backend, whose trainer is the recording one above.
private final class NoiseRecordingBackend: ComputeBackend, @unchecked Sendable {
    let base: CPUBackend
    private(set) var trainer: NoiseRecordingTrainer?
    init(_ base: CPUBackend) { self.base = base }
    var name: String { base.name }
    var threads: Int { base.threads }
    func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any ConvolutionKernel {
        try base.makeConvolution(geometry, algorithm: algorithm)
    }
    func makeTrainer(network: SkipNetwork, problem: TrainingProblem) throws -> any NetworkTrainer {
        let t = NoiseRecordingTrainer(try HostTrainer(network: network, problem: problem))
        trainer = t
        return t
    }
}

@Suite("The perturbation's noise per evaluation")
struct PerturbationIndexTests {
    @Test("every evaluation draws its own noise, the one repeated after a backtracking restore too, and the last-perturbed render reuses the last evaluation's (as restoration.ipynb's closure and global net_input do)")
    func freshNoiseAfterRestore() throws {
        // A step large enough that backtracking restores the parameters (as in the device tests).
        var (problem, config) = try smallBacktrackingFit(side: 20, alignCorners: true, iterations: 40, every: 8, interval: 3)
        config.optimizer = .adam(learningRate: 1.0)
        let backend = NoiseRecordingBackend(try CPUBackend(threads: 1))
        let result = try Fitter(problem: problem, config: config, seed: 4, backend: backend).run()
        let trainer = try #require(backend.trainer)
        #expect(!result.backtracks.isEmpty, "no restore happened: the test does not reach it")
        // One substream per evaluation, in order: none drawn twice (the counter repeats after a
        // restore; the noise keyed to it repeated the attempt's ε).
        #expect(trainer.evaluated == Array(0..<config.iterations), "\(trainer.evaluated)")
        #expect(trainer.rendered == [config.iterations - 1], "\(trainer.rendered)")
        // The counter (the curve's iterations) still holds back on a restore, as the notebook's i.
        #expect((result.curve.last?.iteration ?? 0) < config.iterations - 1, "\(result.curve.map(\.iteration))")
    }
}

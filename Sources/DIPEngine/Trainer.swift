import DIPCore

/// What a trainer fits: the input code, the target and mask on the working canvas, and the
/// constants of the loss and the perturbation (docs/semantics.md §6).
public struct TrainingProblem {
    /// The input code z, [Cin, H, W] at the working size.
    public let code: Tensor
    /// The image on the canvas, [C, H, W]; the loss reads only its known pixels.
    public let target: Tensor
    /// 1 = known pixel, 0 = hole or canvas padding, [C, H, W].
    public let mask: Tensor
    /// Scale that turns the canvas's mean into upstream's mean over the image's C*H*W.
    public let lossScale: Double
    /// sigma_p: the standard deviation of the perturbation added to z each iteration (0 = none).
    public let perturbation: Float
    /// The seed whose `.perturbation` substream i perturbs step i (the i-th evaluation).
    public let seed: UInt64
}

/// One evaluation's result as the host sees it.
public struct TrainerEvaluation {
    /// The masked loss, scaled to upstream's normaliser.
    public var loss: Double
    /// The network output ([C, H, W] at the working size) when it was asked for.
    public var output: Tensor?
    /// Seconds spent in the perturbation and the forward pass.
    public var forwardSeconds: Double
    /// Seconds spent in the loss and the backward pass.
    public var backwardSeconds: Double
    /// Seconds of an evaluation the device ran as one recorded piece of work, which it cannot
    /// time phase by phase (the two above are then 0).
    public var batchedSeconds: Double = 0
}

/// What a batch of plain iterations (`NetworkTrainer.train`) gave.
public struct TrainerRun {
    /// The loss of each iteration, in order; after a non-finite one there are no more.
    public var losses: [Double] = []
    /// Seconds in perturbations and forward passes, where the trainer timed the phases apart.
    public var forwardSeconds = 0.0
    /// Seconds in losses and backward passes, likewise.
    public var backwardSeconds = 0.0
    /// Seconds in Adam steps, likewise.
    public var optimizerSeconds = 0.0
    /// Seconds of iterations a device ran as one piece of work (a replayed graph), which it
    /// cannot time phase by phase.
    public var batchedSeconds = 0.0

    /// A run from its parts.
    public init(losses: [Double] = [], forwardSeconds: Double = 0, backwardSeconds: Double = 0,
                optimizerSeconds: Double = 0, batchedSeconds: Double = 0) {
        self.losses = losses
        self.forwardSeconds = forwardSeconds
        self.backwardSeconds = backwardSeconds
        self.optimizerSeconds = optimizerSeconds
        self.batchedSeconds = batchedSeconds
    }
}

/// Adam's state as a checkpoint holds it: the moments in parameter order and the step count.
public struct AdamState: Sendable, Equatable {
    /// First moments (PyTorch's exp_avg), one array per parameter.
    public var first: [[Float]]
    /// Second moments (PyTorch's exp_avg_sq).
    public var second: [[Float]]
    /// Steps taken.
    public var steps: Int

    /// Creates a state.
    public init(first: [[Float]], second: [[Float]], steps: Int) {
        self.first = first
        self.second = second
        self.steps = steps
    }
}

/// The arithmetic of one fit, wherever the backend computes: the network's parameters,
/// activations and gradients, the loss, the perturbation of z and Adam's state live on the
/// backend's device for the whole fit; the host sees losses, the outputs it asks for and copies of
/// the state. The `Fitter` keeps the loop's logic (sampling, backtracking decisions, checkpoints,
/// the curve); a trainer keeps the numbers, so a GPU backend is a new trainer, not a new loop.
///
/// The host model `network` holds the state_dict keys, shapes and initial values; its tensors
/// are the device's values after `pullState()`, and `pushState()` makes the device take the
/// host's values (weights loaded from a file, a checkpoint restored).
public protocol NetworkTrainer: AnyObject {
    /// The host model: keys, shapes and (after `pullState`) values of every parameter and buffer.
    var network: SkipNetwork { get }
    /// Perturbs z with `iteration`'s noise, runs the forward pass, the masked loss and the
    /// backward pass: afterwards every parameter's gradient is that of this evaluation. The output
    /// is copied to the host when `keepOutput`.
    func evaluate(iteration: Int, keepOutput: Bool) throws -> TrainerEvaluation
    /// A forward pass only (train-mode BatchNorm like every other), with z itself (nil) or z
    /// perturbed by `iteration`'s noise: the final render. Returns the output on the host.
    func render(perturbedBy iteration: Int?) throws -> Tensor
    /// How many plain iterations the trainer would like per `train` call (1: it gains nothing
    /// from batches, so the Fitter runs each iteration on its own, between its checks).
    var preferredBatch: Int { get }
    /// `count` plain iterations from `iteration` on: each evaluates iteration `iteration + k`
    /// with no output and takes an Adam step, exactly as `evaluate` then `adamStep` would. It
    /// stops after a non-finite loss; the state after one is unspecified (the fit is over).
    func train(from iteration: Int, count: Int) throws -> TrainerRun
    /// Starts a fresh Adam (zero moments, step 0) over all parameters.
    func startAdam(learningRate: Double) throws
    /// One Adam step with the gradients of the last evaluation.
    func adamStep() throws
    /// Adam's state, for a checkpoint.
    func adamState() throws -> AdamState
    /// Takes over a checkpoint's Adam state (after `startAdam`).
    func restoreAdam(_ state: AdamState) throws
    /// Backtracking: keeps a copy of the parameters (buffers excluded) beside them.
    func saveParameters() throws
    /// Backtracking: copies the kept parameters back.
    func restoreParameters() throws
    /// The kept copy, in parameter order (empty before the first save), for a checkpoint.
    func savedParameters() throws -> [[Float]]
    /// Takes over a checkpoint's kept copy.
    func setSavedParameters(_ values: [[Float]]) throws
    /// Copies the device's parameters and buffers into `network.tensors`.
    func pullState() throws
    /// Copies `network.tensors` onto the device.
    func pushState() throws
    /// The parameters on the host, updated in place, with their gradients: what L-BFGS needs.
    /// Nil where the trainer keeps them elsewhere (the Fitter then refuses L-BFGS, naming it).
    var hostParameters: [NamedTensor]? { get }
    /// Which convolution algorithms run, in one line (what `auto` chose), for `bench` and
    /// `inpaint`.
    var algorithmSummary: String { get }
}

extension NetworkTrainer {
    /// One iteration at a time.
    public var preferredBatch: Int { 1 }

    /// `evaluate` then `adamStep`, `count` times, each phase timed.
    public func train(from iteration: Int, count: Int) throws -> TrainerRun {
        var run = TrainerRun()
        for k in 0..<count {
            let evaluation = try evaluate(iteration: iteration + k, keepOutput: false)
            run.losses.append(evaluation.loss)
            run.forwardSeconds += evaluation.forwardSeconds
            run.backwardSeconds += evaluation.backwardSeconds
            guard evaluation.loss.isFinite else { break }
            let t = ContinuousClock.now
            try adamStep()
            run.optimizerSeconds += (ContinuousClock.now - t).seconds
        }
        return run
    }
}

import Foundation

/// Adam exactly as `torch.optim.Adam` computes it (single-tensor path, no weight decay, no
/// AMSGrad, constant learning rate), over (parameter, gradient) tensor pairs that the network
/// owns: the optimizer reads the gradients and updates the parameters in place.
///
/// The arithmetic follows PyTorch's order of operations in Float32 so trajectories agree with a
/// PyTorch run to rounding: m += (1-b1)(g-m); v = v*b2 + ((1-b2) g) g;
/// denom = sqrt(v)/sqrt(1-b2^t) + eps; p += (-lr/(1-b1^t)) m / denom.
public final class Adam {
    /// The tensors updated in place.
    public let parameters: [Tensor]
    /// The gradients read at each step, one per parameter, same shape.
    public let gradients: [Tensor]
    /// First moments (PyTorch's exp_avg), one per parameter; part of a checkpoint.
    public let firstMoments: [Tensor]
    /// Second moments (PyTorch's exp_avg_sq), one per parameter; part of a checkpoint.
    public let secondMoments: [Tensor]
    /// Steps taken (PyTorch's state "step"); set it when restoring a checkpoint.
    public var stepCount: Int = 0
    /// Learning rate; constant unless the caller changes it.
    public var learningRate: Double
    /// Decay of the first moment.
    public let beta1: Double
    /// Decay of the second moment.
    public let beta2: Double
    /// Added to the denominator for numerical safety.
    public let epsilon: Double

    /// Creates the optimizer with zero moments. Throws EngineError.shape when a gradient's
    /// shape differs from its parameter's.
    public init(_ pairs: [(parameter: Tensor, gradient: Tensor)], learningRate: Double,
                beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) throws {
        for (i, pair) in pairs.enumerated() where pair.parameter.dims != pair.gradient.dims {
            throw EngineError.shape("Adam: parameter \(i) is \(pair.parameter.dims) but its gradient is \(pair.gradient.dims)")
        }
        self.parameters = pairs.map(\.parameter)
        self.gradients = pairs.map(\.gradient)
        self.firstMoments = pairs.map { Tensor($0.parameter.dims) }
        self.secondMoments = pairs.map { Tensor($0.parameter.dims) }
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// Number of scalar parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// The factors of update number `step` (1-based) that depend on it: -lr / (1 - beta1^step)
    /// and sqrt(1 - beta2^step). The CUDA kernel reads them from a device table filled with
    /// this function, so both devices round them the same way.
    func stepTerms(step: Int) -> (negStep: Float, biasCorrection2Sqrt: Float) {
        Self.stepTerms(step: step, learningRate: learningRate, beta1: beta1, beta2: beta2)
    }

    /// The same for any settings, without an optimizer (a device's Adam step).
    static func stepTerms(step: Int, learningRate: Double, beta1: Double, beta2: Double)
        -> (negStep: Float, biasCorrection2Sqrt: Float) {
        let t = Double(step)
        // PyTorch computes the bias corrections in double, then the kernels round them to Float.
        let biasCorrection1 = 1 - pow(beta1, t)
        let biasCorrection2Sqrt = (1 - pow(beta2, t)).squareRoot()
        return (Float(-(learningRate / biasCorrection1)), Float(biasCorrection2Sqrt))
    }

    /// Applies one update from the current gradients.
    public func step() { step(parallel: ChannelParallel(threads: 1)) }

    /// Elements per piece of the update's work: the pieces are shared out between threads
    /// (each element's update depends on that element alone, so any split gives the same bits).
    static let pieceElements = 1 << 14

    /// (parameter, element range) pieces of at most `pieceElements`, in parameter order.
    private lazy var pieces: [(tensor: Int, range: Range<Int>)] = parameters.indices.flatMap { i in
        stride(from: 0, to: parameters[i].count, by: Self.pieceElements).map {
            (i, $0..<min($0 + Self.pieceElements, parameters[i].count))
        }
    }

    /// One update, its pieces on `parallel`'s threads: a pass bound by memory that a single
    /// thread left the other cores idle for (about 1.5 % of a table1 iteration at 256x256).
    func step(parallel: ChannelParallel) {
        stepCount += 1
        let (negStep, bc2) = stepTerms(step: stepCount)
        let w1 = Float(1 - beta1), b2 = Float(beta2), c2 = Float(1 - beta2), eps = Float(epsilon)
        let tensors = UncheckedBox((parameters, gradients, firstMoments, secondMoments)), pieces = pieces
        parallel.run(pieces.count) { k in
            let (i, range) = pieces[k]
            let (parameters, gradients, firstMoments, secondMoments) = tensors.value
            let x = parameters[i].pointer, g = gradients[i].pointer
            let m = firstMoments[i].pointer, v = secondMoments[i].pointer
            // Eight lanes at a time (the same operations in the same order, so the same bits as
            // the scalar tail); the compiler does not vectorize the scalar loop by itself.
            typealias V = SIMD8<Float>
            let vw1 = V(repeating: w1), vb2 = V(repeating: b2), vc2 = V(repeating: c2)
            let vbc2 = V(repeating: bc2), veps = V(repeating: eps), vstep = V(repeating: negStep)
            var j = range.lowerBound
            while j + 8 <= range.upperBound {
                let gj = loadLanes(g + j), mOld = loadLanes(m + j), vOld = loadLanes(v + j), xOld = loadLanes(x + j)
                let mj = mOld + vw1 * (gj - mOld)
                let vj = vOld * vb2 + vc2 * gj * gj
                storeLanes(mj, m + j)
                storeLanes(vj, v + j)
                storeLanes(xOld + vstep * mj / (vj.squareRoot() / vbc2 + veps), x + j)
                j += 8
            }
            while j < range.upperBound {
                let gj = g[j]
                let mj = m[j] + w1 * (gj - m[j])
                let vj = v[j] * b2 + c2 * gj * gj
                m[j] = mj
                v[j] = vj
                x[j] = x[j] + negStep * mj / (vj.squareRoot() / bc2 + eps)
                j += 1
            }
        }
    }
}

/// L-BFGS as `torch.optim.LBFGS` runs without a line search: a port of its `step(closure)`,
/// including the state it keeps between calls, so a fit that upstream ran with
/// `LBFGS(params, max_iter=N, lr=LR, tolerance_grad=-1, tolerance_change=-1)` takes the same path.
///
/// Vectors are Float32 like PyTorch's; dot products accumulate in Double (PyTorch accumulates
/// in Float32 blocks, so results agree to rounding, not to the bit).
public final class LBFGS {
    /// Why a `step` call returned.
    public enum StopReason: String, Sendable {
        /// max_iter iterations done.
        case maxIterations
        /// max_eval function evaluations done.
        case maxEvaluations
        /// max |g| <= tolerance_grad.
        case gradientTolerance
        /// The step or the loss change fell below tolerance_change, or the direction was not
        /// one of descent (g.d > -tolerance_change).
        case changeTolerance
    }

    /// One function evaluation, reported to the caller's callback.
    public struct Evaluation: Sendable {
        /// 1-based count of evaluations over the optimizer's life (PyTorch's func_evals).
        public var index: Int
        /// Iterations completed within this `step` call when the evaluation ran.
        public var iteration: Int
        /// The loss the closure returned.
        public var loss: Double
    }

    /// What a `step` call did.
    public struct StepResult: Sendable {
        /// The loss at the starting point (what PyTorch's step returns).
        public var initialLoss: Double
        /// The loss of the last evaluation.
        public var lastLoss: Double
        /// Iterations taken in this call.
        public var iterations: Int
        /// Evaluations made in this call.
        public var evaluations: Int
        /// Why it stopped.
        public var stopReason: StopReason
    }

    /// The tensors updated in place, flattened in this order.
    public let parameters: [Tensor]
    /// Step size; the first iteration ever uses min(1, 1/|g|_1) times it.
    public var learningRate: Double
    /// Iterations per `step` call.
    public var maxIterations: Int
    /// Evaluations per `step` call.
    public var maxEvaluations: Int
    /// Stop when max |g| <= this (negative disables it, as upstream does).
    public var toleranceGrad: Double
    /// Stop when the step or the loss change is below this (negative disables it).
    public var toleranceChange: Double
    /// Curvature pairs remembered.
    public let historySize: Int

    /// Iterations over the optimizer's life (PyTorch's state n_iter).
    public private(set) var totalIterations = 0
    /// Evaluations over the optimizer's life (PyTorch's state func_evals).
    public private(set) var totalEvaluations = 0

    private var direction: [Float] = []
    private var stepLength: Double = 0
    private var history: [Pair] = []            // oldest first, at most historySize
    private var pairsStored = 0
    private var hessianDiagonal: Double = 1
    private var previousGradient: [Float]?
    private var alphas: [Double] = []

    /// PyTorch's defaults: lr 1, max_iter 20, max_eval max_iter*5/4, tolerance_grad 1e-7,
    /// tolerance_change 1e-9, history 100.
    public init(parameters: [Tensor], learningRate: Double = 1, maxIterations: Int = 20, maxEvaluations: Int? = nil,
                toleranceGrad: Double = 1e-7, toleranceChange: Double = 1e-9, historySize: Int = 100) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.maxIterations = maxIterations
        self.maxEvaluations = maxEvaluations ?? maxIterations * 5 / 4
        self.toleranceGrad = toleranceGrad
        self.toleranceChange = toleranceChange
        self.historySize = historySize
    }

    /// Upstream's optimize() L-BFGS: one `step` of `iterations` iterations, tolerances disabled.
    /// (Upstream first runs 100 Adam steps at lr 0.001 through the same closure; that warm-up
    /// belongs to the fit loop, not to this type.)
    public static func upstream(parameters: [Tensor], iterations: Int, learningRate: Double) -> LBFGS {
        LBFGS(parameters: parameters, learningRate: learningRate, maxIterations: iterations,
              toleranceGrad: -1, toleranceChange: -1, historySize: 100)
    }

    /// Number of scalar parameters (the length of a flat gradient).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// The gradient tensors concatenated in order, the flat gradient the closure returns.
    public static func flatten(_ tensors: [Tensor]) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(tensors.reduce(0) { $0 + $1.count })
        for t in tensors { out.append(contentsOf: t.buffer) }
        return out
    }

    /// Runs up to `maxIterations` iterations. `closure` evaluates the loss and the flat gradient
    /// at the current parameters; `onEvaluation` hears of every evaluation (and may throw to
    /// stop the run).
    ///
    /// `beforeIteration` is called before every iteration with the whole state at that point (it
    /// may throw to stop the run there, e.g. after saving the state); `resumingFrom` continues a
    /// `step` call from such a state, with the parameters restored by the caller, and takes
    /// bit for bit the path the uninterrupted call would have taken. Throws EngineError.shape if
    /// a gradient has the wrong length and EngineError.invalidConfig for a state of another size.
    @discardableResult
    public func step(resumingFrom resumed: State? = nil,
                     closure: () throws -> (loss: Double, gradient: [Float]),
                     onEvaluation: (Evaluation) throws -> Void = { _ in },
                     beforeIteration: (State) throws -> Void = { _ in }) throws -> StepResult {
        let n = parameterCount
        var iteration = 0
        var currentEvaluations = 0
        func evaluate() throws -> (Double, [Float]) {
            let (loss, gradient) = try closure()
            guard gradient.count == n else {
                throw EngineError.shape("L-BFGS: the closure returned \(gradient.count) gradient values for \(n) parameters")
            }
            currentEvaluations += 1
            totalEvaluations += 1
            try onEvaluation(Evaluation(index: totalEvaluations, iteration: iteration, loss: loss))
            return (loss, gradient)
        }

        var loss: Double, gradient: [Float], initialLoss: Double
        if let resumed {
            try restore(resumed)
            (iteration, currentEvaluations) = (resumed.iteration, resumed.evaluations)
            (initialLoss, loss, gradient) = (resumed.initialLoss, resumed.loss, resumed.gradient)
        } else {
            (loss, gradient) = try evaluate()
            initialLoss = loss
        }
        func result(_ reason: StopReason) -> StepResult {
            StepResult(initialLoss: initialLoss, lastLoss: loss, iterations: iteration,
                       evaluations: currentEvaluations, stopReason: reason)
        }
        var optimal = Self.maxAbs(gradient) <= toleranceGrad
        if optimal { return result(.gradientTolerance) }

        while iteration < maxIterations {
            try beforeIteration(State(totalIterations: totalIterations, totalEvaluations: totalEvaluations,
                                      pairsStored: pairsStored, history: history, hessianDiagonal: hessianDiagonal,
                                      direction: direction, stepLength: stepLength, previousGradient: previousGradient,
                                      iteration: iteration, evaluations: currentEvaluations, initialLoss: initialLoss,
                                      loss: loss, gradient: gradient))
            iteration += 1
            totalIterations += 1

            if totalIterations == 1 {
                direction = gradient.map { -$0 }
                history = []
                hessianDiagonal = 1
            } else {
                updateHistory(gradient: gradient)
                computeDirection(gradient: gradient)
            }
            previousGradient = gradient
            let previousLoss = loss

            if totalIterations == 1 {
                stepLength = min(1, 1 / Self.absSum(gradient)) * learningRate
            } else {
                stepLength = learningRate
            }
            let gtd = Self.dot(gradient, direction)
            if gtd > -toleranceChange { return result(.changeTolerance) }

            // No line search: a fixed step, then re-evaluate unless this is the last iteration.
            addStep()
            if iteration != maxIterations {
                (loss, gradient) = try evaluate()
                optimal = Self.maxAbs(gradient) <= toleranceGrad
            }

            if iteration == maxIterations { return result(.maxIterations) }
            if currentEvaluations >= maxEvaluations { return result(.maxEvaluations) }
            if optimal { return result(.gradientTolerance) }
            if Self.maxAbs(direction) * abs(stepLength) <= toleranceChange { return result(.changeTolerance) }
            if abs(loss - previousLoss) < toleranceChange { return result(.changeTolerance) }
        }
        return result(.maxIterations)
    }

    /// Takes over a saved state's optimizer-lifetime fields after checking its sizes.
    private func restore(_ state: State) throws {
        let n = parameterCount
        func bad(_ why: String) -> EngineError {
            EngineError.invalidConfig("L-BFGS: the saved state does not fit these \(n) parameters (\(why)); start afresh")
        }
        guard state.gradient.count == n else { throw bad("gradient of \(state.gradient.count)") }
        guard state.totalIterations == 0 || state.direction.count == n else { throw bad("direction of \(state.direction.count)") }
        guard state.previousGradient.map({ $0.count == n }) ?? true else { throw bad("previous gradient") }
        guard state.history.count <= historySize else { throw bad("\(state.history.count) pairs for a history of \(historySize)") }
        for p in state.history where p.y.count != n || p.s.count != n { throw bad("pair \(p.serial)") }
        guard state.iteration < maxIterations, state.evaluations >= 0 else { throw bad("iteration \(state.iteration) of \(maxIterations)") }
        totalIterations = state.totalIterations
        totalEvaluations = state.totalEvaluations
        pairsStored = state.pairsStored
        history = state.history
        hessianDiagonal = state.hessianDiagonal
        direction = state.direction
        stepLength = state.stepLength
        previousGradient = state.previousGradient
    }

    /// Stores the new curvature pair (if the curvature is positive enough) and rescales H0.
    private func updateHistory(gradient: [Float]) {
        guard let previous = previousGradient else { return }
        let t = Float(stepLength)
        var y = [Float](repeating: 0, count: gradient.count)
        var s = [Float](repeating: 0, count: gradient.count)
        for i in gradient.indices {
            y[i] = gradient[i] - previous[i]
            s[i] = direction[i] * t
        }
        let ys = Self.dot(y, s)
        guard ys > 1e-10 else { return }
        if history.count == historySize { history.removeFirst() }
        history.append(Pair(serial: pairsStored, y: y, s: s, inverseCurvature: 1 / ys))
        pairsStored += 1
        hessianDiagonal = ys / Self.dot(y, y)
    }

    /// The two-loop recursion: direction = -H g.
    private func computeDirection(gradient: [Float]) {
        let count = history.count
        if alphas.count < count { alphas = [Double](repeating: 0, count: max(historySize, count)) }
        var q = gradient.map { -$0 }
        for i in stride(from: count - 1, through: 0, by: -1) {
            alphas[i] = Self.dot(history[i].s, q) * history[i].inverseCurvature
            Self.axpy(Float(-alphas[i]), history[i].y, &q)
        }
        let h = Float(hessianDiagonal)
        for i in q.indices { q[i] *= h }
        for i in 0..<count {
            let beta = Self.dot(history[i].y, q) * history[i].inverseCurvature
            Self.axpy(Float(alphas[i] - beta), history[i].s, &q)
        }
        direction = q
    }

    /// parameters += stepLength * direction, in flattening order.
    private func addStep() {
        let t = Float(stepLength)
        var offset = 0
        for p in parameters {
            let x = p.pointer
            direction.withUnsafeBufferPointer { d in
                for j in 0..<p.count { x[j] += t * d[offset + j] }
            }
            offset += p.count
        }
    }

    private static func dot(_ a: [Float], _ b: [Float]) -> Double {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                var sum = 0.0
                for i in 0..<pa.count { sum += Double(pa[i]) * Double(pb[i]) }
                return sum
            }
        }
    }

    private static func axpy(_ alpha: Float, _ x: [Float], _ y: inout [Float]) {
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                for i in 0..<py.count { py[i] += alpha * px[i] }
            }
        }
    }

    private static func absSum(_ a: [Float]) -> Double { a.reduce(0.0) { $0 + Double(abs($1)) } }

    private static func maxAbs(_ a: [Float]) -> Double { Double(a.reduce(Float(0)) { max($0, abs($1)) }) }
}

extension LBFGS {
    /// One remembered curvature pair. `serial` counts the pairs ever stored (0 first), so a
    /// checkpoint writer can tell which pairs it has already saved.
    public struct Pair: Sendable {
        /// Position in the sequence of pairs ever stored.
        public var serial: Int
        /// y = g_k+1 - g_k (PyTorch's old_dirs).
        public var y: [Float]
        /// s = t d (PyTorch's old_stps).
        public var s: [Float]
        /// 1 / (y.s) (PyTorch's ro).
        public var inverseCurvature: Double

        /// Creates a pair.
        public init(serial: Int, y: [Float], s: [Float], inverseCurvature: Double) {
            self.serial = serial
            self.y = y
            self.s = s
            self.inverseCurvature = inverseCurvature
        }
    }

    /// Everything L-BFGS needs to go on from the start of an iteration: its lifetime state
    /// (PyTorch's optimizer state) and the position inside the current `step` call. The arrays
    /// are shared with the optimizer until it changes them, so taking a state costs no copy.
    public struct State: Sendable {
        /// Iterations over the optimizer's life.
        public var totalIterations: Int
        /// Evaluations over the optimizer's life.
        public var totalEvaluations: Int
        /// Pairs ever stored (the next pair's serial).
        public var pairsStored: Int
        /// The remembered pairs, oldest first.
        public var history: [Pair]
        /// H0's scale, (y.s)/(y.y) of the newest pair.
        public var hessianDiagonal: Double
        /// The last search direction (empty before the first iteration).
        public var direction: [Float]
        /// The last step length.
        public var stepLength: Double
        /// The gradient before the last step (nil before the first iteration).
        public var previousGradient: [Float]?
        /// Iterations done in the current `step` call.
        public var iteration: Int
        /// Evaluations done in the current `step` call.
        public var evaluations: Int
        /// The loss at the start of the current `step` call.
        public var initialLoss: Double
        /// The loss at the current parameters.
        public var loss: Double
        /// The gradient at the current parameters.
        public var gradient: [Float]

        /// Creates a state.
        public init(totalIterations: Int, totalEvaluations: Int, pairsStored: Int, history: [Pair],
                    hessianDiagonal: Double, direction: [Float], stepLength: Double, previousGradient: [Float]?,
                    iteration: Int, evaluations: Int, initialLoss: Double, loss: Double, gradient: [Float]) {
            self.totalIterations = totalIterations
            self.totalEvaluations = totalEvaluations
            self.pairsStored = pairsStored
            self.history = history
            self.hessianDiagonal = hessianDiagonal
            self.direction = direction
            self.stepLength = stepLength
            self.previousGradient = previousGradient
            self.iteration = iteration
            self.evaluations = evaluations
            self.initialLoss = initialLoss
            self.loss = loss
            self.gradient = gradient
        }
    }
}

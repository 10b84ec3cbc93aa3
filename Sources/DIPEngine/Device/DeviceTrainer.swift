import DIPCore
import Foundation

/// A fit kept whole on a device (`DeviceOps`): parameters, activations, gradients, Adam's moments
/// and the backtracking copy live in device memory from start to end; the host uploads z, the
/// target and the mask once and downloads the loss, the outputs it asks for and state copies.
///
/// It executes NetworkSummary's dataflow (the one walk of docs/semantics.md §4.1): forward in
/// layer order, backward in reverse, a value read by two layers (a level's input, read by its
/// skip branch and its encoder) getting the sum of both gradients. A BatchNorm followed by its
/// LeakyReLU runs as one fused operation, as on the host.
///
/// Device layouts: activations NHWC, conv filters KRSC; parameters sit in one arena in the host
/// network's canonical (state_dict) order, so Adam is one pass over all of them and the
/// backtracking copy one device copy. Layouts are converted on the host, at upload and download.
///
/// Plain iterations (no output wanted) run in batches (`train(from:count:)`): one iteration's
/// work is recorded once where the device can (a CUDA graph) and replayed, reading what changes
/// from iteration to iteration from device memory — the perturbation's substream and Adam's step
/// from two counters the replay advances itself, Adam's step terms from a table — and writing
/// each loss into a ring the host reads once per batch. So a batch costs one upload (the first
/// iteration's number) and one download, not a round trip per iteration. Where recording fails
/// the same work runs eagerly (said once on standard error).
final class DeviceTrainer: NetworkTrainer {
    let network: SkipNetwork
    private let ops: any DeviceOps
    private let problem: TrainingProblem
    private let shape: FeatureShape
    private let steps: [Step]
    private let values: [Int: Value]
    private let outputValue: Int
    /// Parameters, gradients, Adam's moments and the backtracking copy: one arena each, the
    /// parameters in canonical order.
    private let parameters: any DeviceAllocation
    private let gradients: any DeviceAllocation
    private let firstMoments: any DeviceAllocation
    private let secondMoments: any DeviceAllocation
    private let saved: any DeviceAllocation
    private var hasSaved = false
    private let buffers: any DeviceAllocation
    /// Where each host tensor lives: its arena, its offset, and whether it is a conv weight
    /// (stored KRSC on the device, OIHW on the host).
    private let placements: [Placement]
    private let parameterCount: Int
    private let code: any DeviceAllocation
    private let perturbed: any DeviceAllocation
    private let target: any DeviceAllocation
    private let mask: any DeviceAllocation
    private let outputGradient: any DeviceAllocation
    private var adam: (learningRate: Double, steps: Int)?
    /// The loop's state on the device, two UInt64 words: the iteration whose noise the next
    /// perturbation draws, and Adam's steps taken.
    private let counters: any DeviceAllocation
    private var iterationCounter: DevicePointer { counters.pointer }
    private var stepCounter: DevicePointer { counters.pointer.advanced(by: 2) }
    /// The last evaluation's loss, one Float64.
    private let lossValue: any DeviceAllocation
    /// The losses of a batch, Float64, slot = Adam's steps taken before the iteration, modulo
    /// `lossLogCapacity`.
    private let lossLog: any DeviceAllocation
    /// Slots of the loss ring: the longest batch.
    static let lossLogCapacity = 512
    private let loss: any DeviceMaskedMSE
    /// Adam's step terms (Float pairs) for steps 1...capacity at the current learning rate.
    private var stepTerms: (table: any DeviceAllocation, capacity: Int)?
    private let stepTermsReserve: Int
    /// The recorded work, once the first Adam step has run (or a batch asked for it).
    private var replay = Replay.notRecorded

    private enum Replay {
        case notRecorded
        case graphs(Recorded)
        /// The device records nothing (nil) or recording failed (why): run the work eagerly.
        case eager(String?)
    }

    /// What is recorded: a plain iteration (the batches), and the same iteration in its two
    /// halves for the sampled ones, which need the output and, at a backtracking check, a
    /// restore between the backward pass and Adam's step. Several fits sharing a card each
    /// launch hundreds of kernels and cuDNN calls per eager iteration, and contend for the
    /// driver and cuDNN while doing so; a replay is one launch.
    private struct Recorded {
        let iteration: any DeviceGraph
        let evaluation: any DeviceGraph
        let step: any DeviceGraph
    }
    /// Keeps every activation, gradient and scratch allocation alive.
    private let storage: [any DeviceAllocation]

    /// One tensor of the host network on the device.
    private struct Placement {
        let tensor: NamedTensor
        let isParameter: Bool
        let offset: Int
        /// [O, I, k, k] on the host, [O, k, k, I] on the device.
        let filter: (out: Int, in: Int, k: Int)?
    }

    /// An activation and its gradient.
    private struct Value {
        let shape: FeatureShape
        let data: DevicePointer
        let gradient: DevicePointer
    }

    /// One operation of the forward pass with everything its backward needs.
    private enum Operation {
        case convolution(any DeviceConvolution, pad: Int, padded: DevicePointer?, paddedGradient: DevicePointer?,
                         weight: Int, bias: Int, inputGradient: Bool)
        case batchNorm(any DeviceBatchNorm, gamma: Int, beta: Int, runningMean: Int, runningVar: Int, tracked: Int)
        case averagePool
        case upsample(SkipConfig.Upsampling)
        case concat
        case sigmoid
    }

    private struct Step {
        let operation: Operation
        let inputs: [Int]
        let output: Int
        /// Per input: true when an earlier backward step (later in the forward) already wrote
        /// that input's gradient this pass, so this one adds into it through `scratch`.
        let accumulates: [Bool]
    }

    /// A scratch gradient as large as the largest activation that is read twice.
    private let scratch: DevicePointer?

    /// `stepTermsReserve`: the first step-terms table's steps (tests make it small, to refill).
    init(network: SkipNetwork, problem: TrainingProblem, ops: any DeviceOps,
         stepTermsReserve: Int = DeviceTrainer.stepTermsReserve) throws {
        self.stepTermsReserve = max(1, stepTermsReserve)
        self.network = network
        self.ops = ops
        self.problem = problem
        let dims = problem.code.dims
        shape = FeatureShape(channels: dims[0], height: dims[1], width: dims[2])
        let summary = try NetworkSummary(config: network.config, height: shape.height, width: shape.width)

        // Host tensors to arenas, in canonical order.
        var placements: [Placement] = []
        var parameterCount = 0, bufferCount = 0
        for t in network.tensors {
            let d = t.value.dims
            let filter = d.count == 4 ? (out: d[0], in: d[1], k: d[2]) : nil
            if t.isBuffer {
                placements.append(Placement(tensor: t, isParameter: false, offset: bufferCount, filter: nil))
                bufferCount += t.value.count
            } else {
                placements.append(Placement(tensor: t, isParameter: true, offset: parameterCount, filter: filter))
                parameterCount += t.value.count
            }
        }
        self.placements = placements
        self.parameterCount = parameterCount
        parameters = try ops.allocate(floats: parameterCount)
        gradients = try ops.allocate(floats: parameterCount)
        firstMoments = try ops.allocate(floats: parameterCount)
        secondMoments = try ops.allocate(floats: parameterCount)
        saved = try ops.allocate(floats: parameterCount)
        buffers = try ops.allocate(floats: max(1, bufferCount))
        code = try ops.allocate(floats: shape.count)
        perturbed = try ops.allocate(floats: shape.count)
        target = try ops.allocate(floats: problem.target.count)
        mask = try ops.allocate(floats: problem.mask.count)
        outputGradient = try ops.allocate(floats: problem.target.count)
        counters = try ops.allocate(words: 2)
        lossValue = try ops.allocate(words: 1)
        lossLog = try ops.allocate(words: Self.lossLogCapacity)
        let outputShape = FeatureShape(channels: problem.target.dims[0], height: problem.target.dims[1],
                                       width: problem.target.dims[2])
        loss = try ops.makeMaskedMSE(shape: outputShape, scale: problem.lossScale)

        // The dataflow, with device memory for every value.
        var storage: [any DeviceAllocation] = []
        func allocate(_ n: Int) throws -> DevicePointer {
            let a = try ops.allocate(floats: max(1, n))
            storage.append(a)
            return a.pointer
        }
        var values: [Int: Value] = [0: Value(shape: shape, data: perturbed.pointer, gradient: try allocate(shape.count))]
        var cursor = placements.makeIterator()
        func nextTensor(_ suffix: String) throws -> Int {
            guard let p = cursor.next(), p.tensor.key.hasSuffix(suffix) else {
                throw EngineError.backend("device trainer: the network's tensors do not follow its layers (expected a '\(suffix)' tensor)")
            }
            return p.offset
        }
        var steps: [Step] = []
        let layers = summary.layers
        var index = 0
        while index < layers.count {
            let layer = layers[index]
            let inputShapes = layer.inputs.map { values[$0]!.shape }
            let out = FeatureShape(channels: layer.outChannels, height: layer.outputSize.height, width: layer.outputSize.width)
            var output = layer.output
            let operation: Operation
            switch layer.operation {
            case let .convolution(k, s, p):
                let x = inputShapes[0]
                let geometry = ConvGeometry(inChannels: x.channels, outChannels: out.channels, kernel: k, stride: s,
                                            inputHeight: x.height + 2 * p, inputWidth: x.width + 2 * p)
                let paddedCount = x.channels * geometry.inputHeight * geometry.inputWidth
                let padded = p > 0 ? try allocate(paddedCount) : nil
                let inputGradient = layer.inputs[0] != 0
                operation = .convolution(try ops.makeConvolution(geometry, algorithm: network.convAlgorithm), pad: p,
                                         padded: padded, paddedGradient: p > 0 && inputGradient ? try allocate(paddedCount) : nil,
                                         weight: try nextTensor(".weight"), bias: try nextTensor(".bias"),
                                         inputGradient: inputGradient)
            case .batchNorm:
                // Fused with the LeakyReLU that reads it, if one does: the pair writes the
                // LeakyReLU's value.
                var slope: Float?
                if index + 1 < layers.count, case .leakyReLU = layers[index + 1].operation,
                   layers[index + 1].inputs == [layer.output] {
                    slope = 0.2
                    output = layers[index + 1].output
                    index += 1
                }
                operation = .batchNorm(try ops.makeBatchNorm(shape: inputShapes[0], slope: slope),
                                       gamma: try nextTensor(".weight"), beta: try nextTensor(".bias"),
                                       runningMean: try nextTensor(".running_mean"), runningVar: try nextTensor(".running_var"),
                                       tracked: try nextTensor(".num_batches_tracked"))
            case .leakyReLU:
                throw EngineError.backend("device trainer: a LeakyReLU that does not follow its BatchNorm")
            case .averagePool: operation = .averagePool
            case let .upsample(mode): operation = .upsample(mode)
            case .concat: operation = .concat
            case .sigmoid: operation = .sigmoid
            }
            values[output] = Value(shape: out, data: try allocate(out.count), gradient: try allocate(out.count))
            steps.append(Step(operation: operation, inputs: layer.inputs, output: output, accumulates: []))
            index += 1
        }
        guard cursor.next() == nil else {
            throw EngineError.backend("device trainer: the network has tensors no layer uses")
        }
        // Backward runs the steps in reverse: the first step (in that order) to reach a value
        // writes its gradient, any later one adds.
        var written: Set<Int> = []
        var largestShared = 0
        for i in steps.indices.reversed() {
            let step = steps[i]
            let flags = step.inputs.map { written.contains($0) }
            for (input, again) in zip(step.inputs, flags) where again { largestShared = max(largestShared, values[input]!.shape.count) }
            written.formUnion(step.inputs)
            steps[i] = Step(operation: step.operation, inputs: step.inputs, output: step.output, accumulates: flags)
        }
        scratch = largestShared > 0 ? try allocate(largestShared) : nil
        self.steps = steps
        self.values = values
        outputValue = steps.last!.output
        self.storage = storage

        try upload(problem.code, to: code.pointer)
        try upload(problem.target, to: target.pointer)
        try upload(problem.mask, to: mask.pointer)
        try pushState()
    }

    var hostParameters: [NamedTensor]? { nil }

    var algorithmSummary: String {
        var seen: [String] = []
        for step in steps {
            if case let .convolution(conv, _, _, _, _, _, _) = step.operation, !seen.contains(conv.implementation) {
                seen.append(conv.implementation)
            }
        }
        let iterations: String
        switch replay {
        case .notRecorded: iterations = "not yet recorded"
        case .graphs: iterations = "replayed from one recorded graph"
        case .eager(nil): iterations = "run eagerly"
        case let .eager(why?): iterations = "run eagerly, recording failed: \(why)"
        }
        return "\(ops.name): " + seen.joined(separator: "; ") + "; plain iterations \(iterations)"
    }

    // MARK: The iteration

    func evaluate(iteration: Int, keepOutput: Bool) throws -> TrainerEvaluation {
        try turn(settingUp: false) { try evaluateNow(iteration: iteration, keepOutput: keepOutput) }
    }

    private func evaluateNow(iteration: Int, keepOutput: Bool) throws -> TrainerEvaluation {
        let clock = ContinuousClock()
        let t0 = clock.now
        try ops.upload(value: UInt64(iteration), to: iterationCounter)
        let out = values[outputValue]!
        if case let .graphs(recorded) = replay {
            // The backward pass runs whatever the loss, as in a batch: a non-finite loss ends
            // the fit, and the state after it is not used.
            try recorded.evaluation.replay()
            let value = try ops.download(Double.self, from: lossValue.pointer)[0]
            return TrainerEvaluation(loss: value, output: keepOutput ? try download(out) : nil,
                                     forwardSeconds: 0, backwardSeconds: 0, batchedSeconds: (clock.now - t0).seconds)
        }
        try perturb()
        try forward()
        let t1 = clock.now
        try computeLoss()
        let value = try ops.download(Double.self, from: lossValue.pointer)[0]
        if value.isFinite { try backward() }
        return TrainerEvaluation(loss: value, output: keepOutput ? try download(out) : nil,
                                 forwardSeconds: (t1 - t0).seconds, backwardSeconds: (clock.now - t1).seconds)
    }

    /// Up to a ring's worth of iterations per batch: a device iteration takes milliseconds, so
    /// a full batch is still well under a second between progress reports.
    var preferredBatch: Int { Self.lossLogCapacity }

    func train(from iteration: Int, count: Int) throws -> TrainerRun {
        guard let state = adam else { throw EngineError.invalidConfig("Adam used before startAdam") }
        guard count >= 1, count <= Self.lossLogCapacity else {
            throw EngineError.invalidConfig("device trainer: a batch of \(count) iterations (1...\(Self.lossLogCapacity))")
        }
        return try turn(settingUp: !stepTermsCover(state.steps + count)) { try trainNow(from: iteration, count: count, state: state) }
    }

    private func trainNow(from iteration: Int, count: Int, state: (learningRate: Double, steps: Int)) throws -> TrainerRun {
        try reserveStepTerms(state.steps + count)
        if case .notRecorded = replay { try record() }
        let clock = ContinuousClock()
        let t0 = clock.now
        try ops.upload(value: UInt64(iteration), to: iterationCounter)
        switch replay {
        case let .graphs(recorded): for _ in 0..<count { try recorded.iteration.replay() }
        case .eager, .notRecorded: for _ in 0..<count { try iterationWork() }
        }
        let ring = try ops.download(Double.self, count: Self.lossLogCapacity, from: lossLog.pointer)
        adam = (state.learningRate, state.steps + count)
        let losses = (0..<count).map { ring[(state.steps + $0) % Self.lossLogCapacity] }
        return TrainerRun(losses: losses, batchedSeconds: (clock.now - t0).seconds)
    }

    /// Runs `body` in a turn of the device's gate (`DeviceGate`, where fits share the device):
    /// exclusive while the fit sets up (nothing recorded yet, so its first eager iteration loads
    /// kernels and its recording instantiates graphs; or `settingUp`: the step-terms table must
    /// grow, which allocates and records again), shared once it replays.
    private func turn<T>(settingUp: Bool, _ body: () throws -> T) throws -> T {
        guard let gate = ops.gate else { return try body() }
        if case .notRecorded = replay { return try gate.exclusive(body) }
        return settingUp ? try gate.exclusive(body) : try gate.shared(body)
    }

    /// Whether the step-terms table covers steps 1...`steps` (else a refill allocates).
    private func stepTermsCover(_ steps: Int) -> Bool { (stepTerms?.capacity ?? 0) >= steps }

    /// Records a plain iteration and its two halves for replay, or notes why they run eagerly.
    private func record() throws {
        var graphs: [any DeviceGraph] = []
        for work in [iterationWork, evaluationWork, stepWork] {
            switch try ops.capture(work) {
            case let .graph(graph):
                graphs.append(graph)
            case .unsupported:
                replay = .eager(nil)
                return
            case let .failed(reason):
                replay = .eager(reason)
                StandardStreams.error("dip-report: \(ops.name): recording an iteration failed (\(reason)); iterations run eagerly\n")
                return
            }
        }
        replay = .graphs(Recorded(iteration: graphs[0], evaluation: graphs[1], step: graphs[2]))
    }

    /// One plain iteration as the device runs it, reading the iteration number and Adam's step
    /// from the counters and advancing both: perturb, forward, loss (into the ring), backward,
    /// Adam. The backward runs whatever the loss: a non-finite loss ends the fit (the Fitter
    /// sees it in the batch's losses), and the state after it is not used.
    private func iterationWork() throws {
        try evaluationWork()
        try ops.storeLoss(lossValue.pointer, into: lossLog.pointer, capacity: Self.lossLogCapacity, index: stepCounter)
        try stepWork()
        try ops.increment(iterationCounter)
    }

    /// A sampled iteration's first half, for the iteration in the counter: perturb, forward,
    /// loss (into `lossValue`), backward. The counters stay as they are.
    private func evaluationWork() throws {
        try perturb()
        try forward()
        try computeLoss()
        try backward()
    }

    /// The masked MSE of the output (into `lossValue`) and its gradient.
    private func computeLoss() throws {
        let out = values[outputValue]!
        try loss.compute(output: out.data, target: target.pointer, mask: mask.pointer, gradient: out.gradient,
                         loss: lossValue.pointer)
    }

    /// Adam's step: advances the step counter and updates the parameters from the gradients.
    private func stepWork() throws {
        try ops.increment(stepCounter)
        try adamUpdate()
    }

    func render(perturbedBy iteration: Int?) throws -> Tensor {
        try turn(settingUp: false) { try renderNow(perturbedBy: iteration) }
    }

    private func renderNow(perturbedBy iteration: Int?) throws -> Tensor {
        if let iteration {
            try ops.upload(value: UInt64(iteration), to: iterationCounter)
            try perturb()
        } else {
            try ops.copy(code.pointer, to: perturbed.pointer, count: shape.count)
        }
        try forward()
        return try download(values[outputValue]!)
    }

    /// z perturbed with the noise of the iteration in the counter.
    private func perturb() throws {
        guard problem.perturbation > 0 else {
            try ops.copy(code.pointer, to: perturbed.pointer, count: shape.count)
            return
        }
        try ops.perturb(code.pointer, into: perturbed.pointer, shape: shape, sigma: problem.perturbation,
                        seed: problem.seed, substream: iterationCounter)
    }

    private func parameter(_ offset: Int) -> DevicePointer { parameters.pointer.advanced(by: offset) }
    private func gradient(_ offset: Int) -> DevicePointer { gradients.pointer.advanced(by: offset) }
    private func buffer(_ offset: Int) -> DevicePointer { buffers.pointer.advanced(by: offset) }

    private func forward() throws {
        for step in steps {
            let y = values[step.output]!
            let x = values[step.inputs[0]]!
            switch step.operation {
            case let .convolution(conv, pad, padded, _, weight, bias, _):
                var input = x.data
                if let padded {
                    try ops.reflectionPad(x.data, into: padded, shape: x.shape, pad: pad)
                    input = padded
                }
                try conv.forward(input: input, weight: parameter(weight), bias: parameter(bias), output: y.data)
            case let .batchNorm(layer, gamma, beta, runningMean, runningVar, tracked):
                try layer.forward(x.data, into: y.data, gamma: parameter(gamma), beta: parameter(beta),
                                  runningMean: buffer(runningMean), runningVar: buffer(runningVar), tracked: buffer(tracked))
            case .averagePool:
                try ops.averagePool(x.data, into: y.data, shape: x.shape)
            case let .upsample(mode):
                try ops.upsample(x.data, into: y.data, shape: x.shape, mode: mode)
            case .concat:
                let d = values[step.inputs[1]]!
                try ops.concat(skip: x.data, skipShape: x.shape, deeper: d.data, deeperShape: d.shape, into: y.data)
            case .sigmoid:
                try ops.sigmoid(x.data, into: y.data, count: x.shape.count)
            }
        }
    }

    private func backward() throws {
        for step in steps.reversed() {
            let y = values[step.output]!
            // Where input k's gradient goes: its own buffer, or the scratch to be added to it.
            func target(_ k: Int) -> DevicePointer { step.accumulates[k] ? scratch! : values[step.inputs[k]]!.gradient }
            func settle(_ k: Int) throws {
                if step.accumulates[k] {
                    let v = values[step.inputs[k]]!
                    try ops.add(scratch!, into: v.gradient, count: v.shape.count)
                }
            }
            let x = values[step.inputs[0]]!
            switch step.operation {
            case let .convolution(conv, pad, padded, paddedGradient, weight, bias, inputGradient):
                try conv.backwardWeights(input: padded ?? x.data, gradOutput: y.gradient, gradWeight: gradient(weight),
                                         gradBias: gradient(bias))
                if inputGradient {
                    if let paddedGradient {
                        try conv.backwardData(gradOutput: y.gradient, weight: parameter(weight), gradInput: paddedGradient)
                        try ops.reflectionPadBackward(paddedGradient, into: target(0), shape: x.shape, pad: pad)
                    } else {
                        try conv.backwardData(gradOutput: y.gradient, weight: parameter(weight), gradInput: target(0))
                    }
                    try settle(0)
                }
            case let .batchNorm(layer, gamma, beta, _, _, _):
                try layer.backward(x.data, gradOutput: y.gradient, gradInput: target(0), gamma: parameter(gamma),
                                   gradGamma: gradient(gamma), gradBeta: gradient(beta))
                try settle(0)
            case .averagePool:
                try ops.averagePoolBackward(y.gradient, into: target(0), shape: x.shape)
                try settle(0)
            case let .upsample(mode):
                try ops.upsampleBackward(y.gradient, into: target(0), shape: x.shape, mode: mode)
                try settle(0)
            case .concat:
                let d = values[step.inputs[1]]!
                // Two targets can both need the scratch only if both inputs are read twice,
                // which the skip network never does; refuse rather than alias.
                guard !(step.accumulates[0] && step.accumulates[1]) else {
                    throw EngineError.backend("device trainer: both concat inputs accumulate")
                }
                try ops.concatBackward(y.gradient, skipGradient: target(0), skipShape: x.shape,
                                       deeperGradient: target(1), deeperShape: d.shape)
                try settle(0)
                try settle(1)
            case .sigmoid:
                try ops.sigmoidBackward(output: y.data, gradOutput: y.gradient, gradInput: target(0), count: x.shape.count)
                try settle(0)
            }
        }
    }

    // MARK: Adam and backtracking

    func startAdam(learningRate: Double) throws {
        try ops.zero(firstMoments.pointer, count: parameterCount)
        try ops.zero(secondMoments.pointer, count: parameterCount)
        try ops.upload(value: UInt64(0), to: stepCounter)
        adam = (learningRate, 0)
        // The table is the learning rate's; a recorded iteration reads the old one.
        stepTerms = nil
        replay = .notRecorded
    }

    func adamStep() throws {
        guard let state = adam else { throw EngineError.invalidConfig("Adam used before startAdam") }
        try turn(settingUp: !stepTermsCover(state.steps + 1)) { try adamStepNow() }
    }

    private func adamStepNow() throws {
        guard var state = adam else { throw EngineError.invalidConfig("Adam used before startAdam") }
        state.steps += 1
        try reserveStepTerms(state.steps)
        if case let .graphs(recorded) = replay { try recorded.step.replay() } else { try stepWork() }
        adam = state
        // Record the plain iteration now, after a whole eager one has run (cuDNN and the kernels
        // are loaded and warm), so the first batch replays at once and recording counts as the
        // fit's set-up, not as the first batch's time.
        if case .notRecorded = replay { try record() }
    }

    /// Adam's update for the step number in the counter.
    private func adamUpdate() throws {
        guard let state = adam, let terms = stepTerms else { throw EngineError.invalidConfig("Adam used before startAdam") }
        try ops.adam(parameters: parameters.pointer, gradients: gradients.pointer, first: firstMoments.pointer,
                     second: secondMoments.pointer, count: parameterCount, stepTerms: terms.table.pointer, step: stepCounter,
                     learningRate: state.learningRate, beta1: Self.adamSettings.beta1, beta2: Self.adamSettings.beta2,
                     epsilon: Self.adamSettings.epsilon)
    }

    /// Adam's constants: PyTorch's defaults, as the host Adam's.
    static let adamSettings = (beta1: 0.9, beta2: 0.999, epsilon: 1e-8)

    /// The table `DeviceOps.adam` reads: pair s - 1 is step s's (negStep, biasCorrection2Sqrt),
    /// for steps 1...`steps`.
    static func stepTermsTable(steps: Int, learningRate: Double) -> [Float] {
        var table = [Float](repeating: 0, count: 2 * steps)
        for s in stride(from: 1, through: steps, by: 1) {
            let t = Adam.stepTerms(step: s, learningRate: learningRate, beta1: adamSettings.beta1, beta2: adamSettings.beta2)
            table[2 * (s - 1)] = t.negStep
            table[2 * (s - 1) + 1] = t.biasCorrection2Sqrt
        }
        return table
    }

    /// Steps the first step-terms table covers: 65,536 (512 KiB), more than any protocol's fit
    /// (the paper's is 11,000), so a fit allocates it once. A refill allocates, frees and records
    /// again: on an H200 with 8 fits at once, the 4,096-step table of before stalled fits for
    /// minutes at steps 4,096 and 8,192 (most likely because cuMemAlloc and cuMemFree wait for
    /// the whole device, every other fit's queued batch included).
    static let stepTermsReserve = 65_536

    /// Makes the step-terms table cover steps 1...`steps`: twice that, at least `reserve` steps
    /// (each refill moves the table, so the recorded iteration is recorded again).
    private func reserveStepTerms(_ steps: Int) throws {
        guard let state = adam else { throw EngineError.invalidConfig("Adam used before startAdam") }
        if stepTermsCover(steps) { return }
        let capacity = max(stepTermsReserve, 2 * steps)
        let table = Self.stepTermsTable(steps: capacity, learningRate: state.learningRate)
        let allocation = try ops.allocate(floats: table.count)
        try table.withUnsafeBufferPointer { try ops.upload($0, to: allocation.pointer) }
        stepTerms = (allocation, capacity)
        replay = .notRecorded
    }

    func adamState() throws -> AdamState {
        guard let state = adam else { throw EngineError.invalidConfig("Adam used before startAdam") }
        return AdamState(first: try arenaToHost(firstMoments), second: try arenaToHost(secondMoments), steps: state.steps)
    }

    func restoreAdam(_ state: AdamState) throws {
        guard let current = adam else { throw EngineError.invalidConfig("Adam used before startAdam") }
        try hostToArena(state.first, firstMoments, what: "Adam's first moments")
        try hostToArena(state.second, secondMoments, what: "Adam's second moments")
        try ops.upload(value: UInt64(state.steps), to: stepCounter)
        adam = (current.learningRate, state.steps)
    }

    func saveParameters() throws {
        try ops.copy(parameters.pointer, to: saved.pointer, count: parameterCount)
        hasSaved = true
    }

    func restoreParameters() throws {
        guard hasSaved else { return }
        try ops.copy(saved.pointer, to: parameters.pointer, count: parameterCount)
    }

    func savedParameters() throws -> [[Float]] { hasSaved ? try arenaToHost(saved) : [] }

    func setSavedParameters(_ values: [[Float]]) throws {
        hasSaved = !values.isEmpty
        if hasSaved { try hostToArena(values, saved, what: "backtracking's saved parameters") }
    }

    /// The gradients of the last evaluation, in parameter order and host layout (what the GPU
    /// self-test compares with the host trainer's).
    func gradientsOnHost() throws -> [[Float]] { try arenaToHost(gradients) }

    // MARK: State between host and device

    func pullState() throws {
        for p in placements {
            let arena = p.isParameter ? parameters : buffers
            try withDeviceOrder(p) { staging in
                try ops.download(arena.pointer.advanced(by: p.offset), into: staging)
            } finish: { staging in
                Self.fromDevice(staging, into: p.tensor.value.pointer, filter: p.filter)
            }
        }
    }

    func pushState() throws {
        for p in placements {
            let arena = p.isParameter ? parameters : buffers
            var staging = [Float](repeating: 0, count: p.tensor.value.count)
            staging.withUnsafeMutableBufferPointer { Self.toDevice(p.tensor.value.pointer, into: $0, filter: p.filter) }
            try staging.withUnsafeBufferPointer { try ops.upload($0, to: arena.pointer.advanced(by: p.offset)) }
        }
    }

    /// Downloads a tensor's device values into host staging, then lets `finish` reorder them.
    private func withDeviceOrder(_ p: Placement, fill: (UnsafeMutableBufferPointer<Float>) throws -> Void,
                                 finish: (UnsafeMutableBufferPointer<Float>) -> Void) throws {
        var staging = [Float](repeating: 0, count: p.tensor.value.count)
        try staging.withUnsafeMutableBufferPointer { try fill($0) }
        staging.withUnsafeMutableBufferPointer { finish($0) }
    }

    /// A parameter arena (moments, the saved copy) as host arrays in parameter order and host
    /// layout.
    private func arenaToHost(_ arena: any DeviceAllocation) throws -> [[Float]] {
        try placements.filter(\.isParameter).map { p in
            var device = [Float](repeating: 0, count: p.tensor.value.count)
            try device.withUnsafeMutableBufferPointer { try ops.download(arena.pointer.advanced(by: p.offset), into: $0) }
            var host = device
            device.withUnsafeMutableBufferPointer { d in
                host.withUnsafeMutableBufferPointer { Self.fromDevice(d, into: $0.baseAddress!, filter: p.filter) }
            }
            return host
        }
    }

    private func hostToArena(_ arrays: [[Float]], _ arena: any DeviceAllocation, what: String) throws {
        let params = placements.filter(\.isParameter)
        guard arrays.count == params.count, zip(arrays, params).allSatisfy({ $0.count == $1.tensor.value.count }) else {
            throw EngineError.weights("checkpoint: \(what) do not match the network; delete the checkpoint to start afresh")
        }
        for (values, p) in zip(arrays, params) {
            var device = [Float](repeating: 0, count: values.count)
            values.withUnsafeBufferPointer { h in
                device.withUnsafeMutableBufferPointer { Self.toDevice(UnsafeMutablePointer(mutating: h.baseAddress!), into: $0, filter: p.filter) }
            }
            try device.withUnsafeBufferPointer { try ops.upload($0, to: arena.pointer.advanced(by: p.offset)) }
        }
    }

    /// Host order to device order: OIHW filters to KRSC ([O, k, k, I]); everything else as is.
    private static func toDevice(_ host: UnsafeMutablePointer<Float>, into device: UnsafeMutableBufferPointer<Float>,
                                 filter: (out: Int, in: Int, k: Int)?) {
        guard let f = filter else {
            device.baseAddress!.update(from: host, count: device.count)
            return
        }
        Layout.hwc(fromCHW: host, into: device.baseAddress!, channels: f.in, height: f.k, width: f.k, items: f.out)
    }

    /// Device order back to host order.
    private static func fromDevice(_ device: UnsafeMutableBufferPointer<Float>, into host: UnsafeMutablePointer<Float>,
                                   filter: (out: Int, in: Int, k: Int)?) {
        guard let f = filter else {
            host.update(from: device.baseAddress!, count: device.count)
            return
        }
        Layout.chw(fromHWC: device.baseAddress!, into: host, channels: f.in, height: f.k, width: f.k, items: f.out)
    }

    /// A host [C, H, W] tensor to device NHWC.
    private func upload(_ t: Tensor, to destination: DevicePointer) throws {
        var nhwc = [Float](repeating: 0, count: t.count)
        nhwc.withUnsafeMutableBufferPointer {
            Layout.hwc(fromCHW: t.pointer, into: $0.baseAddress!, channels: t.dims[0], height: t.dims[1], width: t.dims[2])
        }
        try nhwc.withUnsafeBufferPointer { try ops.upload($0, to: destination) }
    }

    /// A device NHWC value to a host [C, H, W] tensor.
    private func download(_ v: Value) throws -> Tensor {
        var nhwc = [Float](repeating: 0, count: v.shape.count)
        try nhwc.withUnsafeMutableBufferPointer { try ops.download(v.data, into: $0) }
        let out = Tensor(v.shape.dims)
        nhwc.withUnsafeBufferPointer {
            Layout.chw(fromHWC: $0.baseAddress!, into: out.pointer, channels: v.shape.channels, height: v.shape.height,
                       width: v.shape.width)
        }
        return out
    }
}

import DIPCore

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

    init(network: SkipNetwork, problem: TrainingProblem, ops: any DeviceOps) throws {
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
        return "\(ops.name): " + seen.joined(separator: "; ")
    }

    // MARK: The iteration

    func evaluate(iteration: Int, keepOutput: Bool) throws -> TrainerEvaluation {
        let clock = ContinuousClock()
        let t0 = clock.now
        try perturb(iteration)
        try forward()
        let t1 = clock.now
        let out = values[outputValue]!
        let loss = try ops.maskedMSE(output: out.data, target: target.pointer, mask: mask.pointer, shape: out.shape,
                                     scale: problem.lossScale, gradient: out.gradient)
        if loss.isFinite { try backward() }
        return TrainerEvaluation(loss: loss, output: keepOutput ? try download(out) : nil,
                                 forwardSeconds: (t1 - t0).seconds, backwardSeconds: (clock.now - t1).seconds)
    }

    func render(perturbedBy iteration: Int?) throws -> Tensor {
        if let iteration { try perturb(iteration) } else { try ops.copy(code.pointer, to: perturbed.pointer, count: shape.count) }
        try forward()
        return try download(values[outputValue]!)
    }

    private func perturb(_ iteration: Int) throws {
        guard problem.perturbation > 0 else {
            try ops.copy(code.pointer, to: perturbed.pointer, count: shape.count)
            return
        }
        try ops.perturb(code.pointer, into: perturbed.pointer, shape: shape, sigma: problem.perturbation,
                        seed: problem.seed, iteration: iteration)
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
        adam = (learningRate, 0)
    }

    func adamStep() throws {
        guard var state = adam else { throw EngineError.invalidConfig("Adam used before startAdam") }
        state.steps += 1
        try ops.adam(parameters: parameters.pointer, gradients: gradients.pointer, first: firstMoments.pointer,
                     second: secondMoments.pointer, count: parameterCount, step: state.steps,
                     learningRate: state.learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
        adam = state
    }

    func adamState() throws -> AdamState {
        guard let state = adam else { throw EngineError.invalidConfig("Adam used before startAdam") }
        return AdamState(first: try arenaToHost(firstMoments), second: try arenaToHost(secondMoments), steps: state.steps)
    }

    func restoreAdam(_ state: AdamState) throws {
        guard let current = adam else { throw EngineError.invalidConfig("Adam used before startAdam") }
        try hostToArena(state.first, firstMoments, what: "Adam's first moments")
        try hostToArena(state.second, secondMoments, what: "Adam's second moments")
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

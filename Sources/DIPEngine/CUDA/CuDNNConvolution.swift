import CCUDA

/// Device scratch shared by every cuDNN convolution of one handle: they run one after another
/// on one stream, so the largest need is enough. Each convolution reserves its need when it is
/// made; make every convolution before capturing a graph, since growing moves the buffer.
public final class CuDNNWorkspace: @unchecked Sendable {
    /// The context the memory belongs to.
    public let context: CUDAContext
    /// The buffer, nil while nothing needs scratch.
    public private(set) var buffer: DeviceBuffer?

    /// An empty workspace.
    public init(context: CUDAContext) {
        self.context = context
    }

    /// Bytes available.
    public var byteCount: Int { buffer?.byteCount ?? 0 }

    /// Grows the buffer to at least `bytes` (never shrinks).
    public func reserve(_ bytes: Int) throws {
        guard bytes > byteCount else { return }
        buffer = nil  // free first: the old contents are scratch, and the peak stays lower
        buffer = try DeviceBuffer(context: context, byteCount: bytes)
    }
}

/// One cuDNN algorithm chosen for one direction of a convolution.
public struct CuDNNAlgorithmChoice: Sendable, Equatable, CustomStringConvertible {
    /// The cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t value.
    public var algorithm: Int32
    /// The math type it runs with (cudnnMathType_t).
    public var mathType: Int32
    /// Workspace bytes it needs.
    public var workspaceBytes: Int

    /// "algo 1 (tensor-op math, 4096 B)".
    public var description: String {
        let math = [CUDNN_DEFAULT_MATH: "default math", CUDNN_TENSOR_OP_MATH: "tensor-op math", CUDNN_FMA_MATH: "FMA math"][mathType] ?? "math \(mathType)"
        return "algo \(algorithm) (\(math), \(workspaceBytes) B)"
    }
}

/// One convolution geometry on cuDNN's legacy API (deprecated in cuDNN 9 but present through
/// 9.26; the graph API could replace it behind this type without callers noticing).
///
/// Tensors are device pointers, batch 1, float, NHWC: input [H][W][Cin], output
/// [Ho][Wo][Cout], weight [Cout][k][k][Cin], bias [Cout]. Algorithms are chosen once, here, by
/// cuDNN's heuristics (cudnnGet*_v7, not the timing-based Find, whose pick could change from
/// run to run), keeping only deterministic ones in the requested math mode; the heuristics'
/// order decides among those. Every call enqueues on the handle's stream and is capturable.
public final class CuDNNConvolution: @unchecked Sendable {
    /// The geometry.
    public let geometry: ConvGeometry
    /// The math mode the algorithms were chosen for.
    public let math: GPUMathMode
    /// What runs forward.
    public let forwardAlgorithm: CuDNNAlgorithmChoice
    /// What runs the input gradient.
    public let backwardDataAlgorithm: CuDNNAlgorithmChoice
    /// What runs the weight gradient.
    public let backwardFilterAlgorithm: CuDNNAlgorithmChoice

    let handle: CuDNNHandle
    let workspace: CuDNNWorkspace
    let descriptors: CuDNNConvolutionDescriptors

    /// Prepares `geometry`: descriptors, the three algorithms, and the workspace they need.
    public init(handle: CuDNNHandle, workspace: CuDNNWorkspace, geometry: ConvGeometry, math: GPUMathMode) throws {
        self.handle = handle
        self.workspace = workspace
        self.geometry = geometry
        self.math = math
        let cudnn = handle.cudnn
        let d = try CuDNNConvolutionDescriptors(cudnn: cudnn, geometry: geometry, math: math)
        descriptors = d
        try handle.context.bind()
        let api = cudnn.api
        let h = handle.handle

        forwardAlgorithm = try Self.choose(cudnn, "forward \(geometry)", math, descriptor: d.forward,
            maxCount: { try cudnn.check(api.cudnnGetConvolutionForwardAlgorithmMaxCount(h, &$0), "cudnnGetConvolutionForwardAlgorithmMaxCount") },
            candidates: { (count: Int32) -> [cudnnConvolutionFwdAlgoPerf_t] in
                var results = [cudnnConvolutionFwdAlgoPerf_t](repeating: .init(), count: Int(count))
                var returned: Int32 = 0
                try cudnn.check(api.cudnnGetConvolutionForwardAlgorithm_v7(h, d.x.handle, d.w.handle, d.forward.handle, d.y.handle,
                                                                           count, &returned, &results),
                                "cudnnGetConvolutionForwardAlgorithm_v7(\(geometry))")
                return Array(results.prefix(Int(returned)))
            },
            fields: { ($0.algo, $0.status, $0.determinism, $0.mathType, $0.memory) },
            workspace: { algo in
                var bytes = 0
                try cudnn.check(api.cudnnGetConvolutionForwardWorkspaceSize(h, d.x.handle, d.w.handle, d.forward.handle, d.y.handle, algo, &bytes),
                                "cudnnGetConvolutionForwardWorkspaceSize(\(geometry), algo \(algo))")
                return bytes
            })
        backwardDataAlgorithm = try Self.choose(cudnn, "input gradient of \(geometry)", math, descriptor: d.backwardData,
            maxCount: { try cudnn.check(api.cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &$0), "cudnnGetConvolutionBackwardDataAlgorithmMaxCount") },
            candidates: { (count: Int32) -> [cudnnConvolutionBwdDataAlgoPerf_t] in
                var results = [cudnnConvolutionBwdDataAlgoPerf_t](repeating: .init(), count: Int(count))
                var returned: Int32 = 0
                try cudnn.check(api.cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w.handle, d.y.handle, d.backwardData.handle, d.x.handle,
                                                                                count, &returned, &results),
                                "cudnnGetConvolutionBackwardDataAlgorithm_v7(\(geometry))")
                return Array(results.prefix(Int(returned)))
            },
            fields: { ($0.algo, $0.status, $0.determinism, $0.mathType, $0.memory) },
            workspace: { algo in
                var bytes = 0
                try cudnn.check(api.cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w.handle, d.y.handle, d.backwardData.handle, d.x.handle,
                                                                                 algo, &bytes),
                                "cudnnGetConvolutionBackwardDataWorkspaceSize(\(geometry), algo \(algo))")
                return bytes
            })
        backwardFilterAlgorithm = try Self.choose(cudnn, "weight gradient of \(geometry)", math, descriptor: d.backwardFilter,
            maxCount: { try cudnn.check(api.cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &$0), "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount") },
            candidates: { (count: Int32) -> [cudnnConvolutionBwdFilterAlgoPerf_t] in
                var results = [cudnnConvolutionBwdFilterAlgoPerf_t](repeating: .init(), count: Int(count))
                var returned: Int32 = 0
                try cudnn.check(api.cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x.handle, d.y.handle, d.backwardFilter.handle, d.w.handle,
                                                                                  count, &returned, &results),
                                "cudnnGetConvolutionBackwardFilterAlgorithm_v7(\(geometry))")
                return Array(results.prefix(Int(returned)))
            },
            fields: { ($0.algo, $0.status, $0.determinism, $0.mathType, $0.memory) },
            workspace: { algo in
                var bytes = 0
                try cudnn.check(api.cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x.handle, d.y.handle, d.backwardFilter.handle, d.w.handle,
                                                                                   algo, &bytes),
                                "cudnnGetConvolutionBackwardFilterWorkspaceSize(\(geometry), algo \(algo))")
                return bytes
            })
        try workspace.reserve(max(forwardAlgorithm.workspaceBytes, backwardDataAlgorithm.workspaceBytes,
                                  backwardFilterAlgorithm.workspaceBytes))
    }

    /// The first of cuDNN's heuristic list that succeeded, is deterministic and keeps to
    /// `math`; sets the descriptor's math type to the one it reports (cuDNN decides tensor-core
    /// use from the algorithm and the descriptor's math type together, as PyTorch does).
    private static func choose<Perf>(_ cudnn: CuDNN, _ what: String, _ math: GPUMathMode, descriptor: CuDNNConvolutionDescriptor,
                                     maxCount: (inout Int32) throws -> Void,
                                     candidates: (Int32) throws -> [Perf],
                                     fields: (Perf) -> (algo: Int32, status: Int32, determinism: Int32, mathType: Int32, memory: Int),
                                     workspace: (Int32) throws -> Int) throws -> CuDNNAlgorithmChoice {
        var count: Int32 = 0
        try maxCount(&count)
        let all = try candidates(max(count, 1)).map(fields)
        guard let pick = all.first(where: { $0.status == CUDNN_STATUS_SUCCESS && $0.determinism == CUDNN_DETERMINISTIC && math.allows($0.mathType) }) else {
            let offered = all.map { "algo \($0.algo) status \($0.status) \($0.determinism == CUDNN_DETERMINISTIC ? "deterministic" : "non-deterministic") math \($0.mathType)" }
            throw CUDAError.noDeterministicAlgorithm("\(what) in \(math.rawValue) math (offered: \(offered.joined(separator: ", ")))")
        }
        try descriptor.setMathType(pick.mathType)
        let bytes = try workspace(pick.algo)
        return CuDNNAlgorithmChoice(algorithm: pick.algo, mathType: pick.mathType, workspaceBytes: max(bytes, pick.memory))
    }

    private func scratch(_ needed: Int, _ what: String) throws -> (UnsafeMutableRawPointer?, Int) {
        guard needed > 0 else { return (nil, 0) }
        guard let buffer = workspace.buffer, buffer.byteCount >= needed else {
            throw CUDAError.invalidArgument("\(what) of \(geometry) needs \(needed) bytes of workspace, the shared workspace has \(workspace.byteCount)")
        }
        return (UnsafeMutableRawPointer(bitPattern: UInt(buffer.address)), buffer.byteCount)
    }

    private static func device(_ address: CUdeviceptr) -> UnsafeMutableRawPointer? {
        UnsafeMutableRawPointer(bitPattern: UInt(address))
    }

    /// output = conv(input, weight) + bias; overwrites output.
    public func forward(input: CUdeviceptr, weight: CUdeviceptr, bias: CUdeviceptr, output: CUdeviceptr) throws {
        let cudnn = handle.cudnn, d = descriptors
        try handle.context.bind()
        let (ws, wsBytes) = try scratch(forwardAlgorithm.workspaceBytes, "forward")
        var one: Float = 1, zero: Float = 0
        try cudnn.check(cudnn.api.cudnnConvolutionForward(handle.handle, &one, d.x.handle, Self.device(input), d.w.handle, Self.device(weight),
                                                          d.forward.handle, forwardAlgorithm.algorithm, ws, wsBytes, &zero,
                                                          d.y.handle, Self.device(output)),
                        "cudnnConvolutionForward(\(geometry))")
        try cudnn.check(cudnn.api.cudnnAddTensor(handle.handle, &one, d.bias.handle, Self.device(bias), &one, d.y.handle, Self.device(output)),
                        "cudnnAddTensor(bias of \(geometry))")
    }

    /// gradInput = d loss / d input given gradOutput; overwrites gradInput, or adds to it when
    /// `accumulate` (for an input that feeds several layers).
    public func backwardData(gradOutput: CUdeviceptr, weight: CUdeviceptr, gradInput: CUdeviceptr, accumulate: Bool = false) throws {
        let cudnn = handle.cudnn, d = descriptors
        try handle.context.bind()
        let (ws, wsBytes) = try scratch(backwardDataAlgorithm.workspaceBytes, "input gradient")
        var one: Float = 1, beta: Float = accumulate ? 1 : 0
        try cudnn.check(cudnn.api.cudnnConvolutionBackwardData(handle.handle, &one, d.w.handle, Self.device(weight), d.y.handle, Self.device(gradOutput),
                                                               d.backwardData.handle, backwardDataAlgorithm.algorithm, ws, wsBytes, &beta,
                                                               d.x.handle, Self.device(gradInput)),
                        "cudnnConvolutionBackwardData(\(geometry))")
    }

    /// gradWeight = d loss / d weight; overwrites it.
    public func backwardFilter(input: CUdeviceptr, gradOutput: CUdeviceptr, gradWeight: CUdeviceptr) throws {
        let cudnn = handle.cudnn, d = descriptors
        try handle.context.bind()
        let (ws, wsBytes) = try scratch(backwardFilterAlgorithm.workspaceBytes, "weight gradient")
        var one: Float = 1, zero: Float = 0
        try cudnn.check(cudnn.api.cudnnConvolutionBackwardFilter(handle.handle, &one, d.x.handle, Self.device(input), d.y.handle, Self.device(gradOutput),
                                                                 d.backwardFilter.handle, backwardFilterAlgorithm.algorithm, ws, wsBytes, &zero,
                                                                 d.w.handle, Self.device(gradWeight)),
                        "cudnnConvolutionBackwardFilter(\(geometry))")
    }

    /// gradBias = d loss / d bias (gradOutput summed over the image); overwrites it.
    public func backwardBias(gradOutput: CUdeviceptr, gradBias: CUdeviceptr) throws {
        let cudnn = handle.cudnn, d = descriptors
        try handle.context.bind()
        var one: Float = 1, zero: Float = 0
        try cudnn.check(cudnn.api.cudnnConvolutionBackwardBias(handle.handle, &one, d.y.handle, Self.device(gradOutput), &zero,
                                                               d.bias.handle, Self.device(gradBias)),
                        "cudnnConvolutionBackwardBias(\(geometry))")
    }

    /// What runs, for bench and records: "forward algo 1 (tensor-op math, 0 B), ...".
    public var implementation: String {
        "cudnn \(math.rawValue): forward \(forwardAlgorithm), input gradient \(backwardDataAlgorithm), weight gradient \(backwardFilterAlgorithm)"
    }
}

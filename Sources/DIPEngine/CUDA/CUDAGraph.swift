import CCUDA

/// An instantiated CUDA graph: work captured once from a stream, replayed with one launch.
public final class CUDAGraph: @unchecked Sendable {
    /// The context the graph runs in.
    public let context: CUDAContext
    let exec: CUgraphExec

    init(context: CUDAContext, exec: CUgraphExec) {
        self.context = context
        self.exec = exec
    }

    deinit {
        try? context.bind()
        _ = context.api.cuGraphExecDestroy(exec)
    }

    /// Enqueues one replay of the graph on `stream` (no wait).
    public func launch(on stream: CUDAStream) throws {
        try context.bind()
        try context.check(context.api.cuGraphLaunch(exec, stream.handle), "cuGraphLaunch")
    }
}

/// What capturing produced: a graph to replay, or why not (then run the same enqueue code
/// eagerly, and say so once).
public enum CUDAGraphCapture: Sendable {
    /// The work, captured and instantiated.
    case graph(CUDAGraph)
    /// Capture, ending it or instantiating failed; the text says where and why.
    case failed(reason: String)
}

extension CUDAStream {
    /// Whether the stream is in the middle of a capture.
    public var isCapturing: Bool {
        get throws {
            try context.bind()
            var status: CUstreamCaptureStatus = CU_STREAM_CAPTURE_STATUS_NONE
            try context.check(context.api.cuStreamIsCapturing(handle, &status), "cuStreamIsCapturing")
            return status != CU_STREAM_CAPTURE_STATUS_NONE
        }
    }

    /// Captures the work `enqueue` puts on this stream as a graph, instead of running it.
    ///
    /// Everything `enqueue` uses must exist before (buffers, workspaces, cuDNN algorithms,
    /// modules): allocating or synchronizing during capture is not allowed. Values that change
    /// from replay to replay must be read by the kernels from device memory, since the
    /// kernels' scalar arguments are frozen into the graph.
    ///
    /// Thread-local capture mode: several fits may share the process (`--jobs`), each on its
    /// own stream and thread, and in global mode another thread's cuMemAlloc or synchronize
    /// during our capture would fail it (and its call). Thread-local mode only forbids those
    /// unsafe calls on the capturing thread, which is what catches our own mistakes. That mode
    /// also requires ending the capture on the thread that began it, hence a synchronous
    /// closure rather than async code that could resume elsewhere.
    ///
    /// Any error while capturing (from `enqueue`, a driver or cuDNN call refusing capture,
    /// ending or instantiating) gives `.failed` with the reason, and leaves the stream out of
    /// capture mode; a genuine error will recur, and be thrown, when the caller runs the same
    /// work eagerly.
    public func capture(_ enqueue: () throws -> Void) throws -> CUDAGraphCapture {
        try context.bind()
        let api = context.api
        let begin = api.cuStreamBeginCapture(handle, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
        guard begin == CUDA_SUCCESS else {
            return .failed(reason: Self.text(api, begin, "cuStreamBeginCapture"))
        }
        var enqueueError: (any Error)?
        do { try enqueue() } catch { enqueueError = error }
        var graph: CUgraph?
        let end = api.cuStreamEndCapture(handle, &graph)
        defer { if let graph { _ = api.cuGraphDestroy(graph) } }
        if let enqueueError {
            return .failed(reason: "while capturing: \(enqueueError)")
        }
        guard end == CUDA_SUCCESS, let graph else {
            return .failed(reason: Self.text(api, end, "cuStreamEndCapture"))
        }
        var exec: CUgraphExec?
        let instantiate = api.cuGraphInstantiateWithFlags(&exec, graph, 0)
        guard instantiate == CUDA_SUCCESS, let exec else {
            return .failed(reason: Self.text(api, instantiate, "cuGraphInstantiateWithFlags"))
        }
        // The executable graph is independent of the graph it was made from (destroyed above).
        return .graph(CUDAGraph(context: context, exec: exec))
    }

    private static func text(_ api: CUDADriverAPI, _ result: CUresult, _ call: String) -> String {
        let (name, text) = CUDADriver.describe(api, result)
        return "\(call): \(name) (\(result)): \(text)"
    }
}

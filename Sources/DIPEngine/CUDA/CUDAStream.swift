import CCUDA

/// A CUDA stream: work enqueued on it runs in order. Created non-blocking, so it never waits
/// for the legacy NULL stream that other code in the process (a library using the runtime's
/// default stream) might be using.
public final class CUDAStream: @unchecked Sendable {
    /// The context the stream belongs to.
    public let context: CUDAContext
    let handle: CUstream

    /// A new non-blocking stream.
    public init(context: CUDAContext) throws {
        self.context = context
        try context.bind()
        var stream: CUstream?
        try context.check(context.api.cuStreamCreate(&stream, UInt32(CU_STREAM_NON_BLOCKING)), "cuStreamCreate")
        guard let stream else { throw CUDAError.invalidArgument("cuStreamCreate returned no stream") }
        handle = stream
    }

    deinit {
        try? context.bind()
        _ = context.api.cuStreamDestroy(handle)
    }

    /// Waits until everything enqueued so far has run; an error from earlier asynchronous work
    /// (a failed kernel) surfaces here.
    public func synchronize() throws {
        try context.bind()
        try context.check(context.api.cuStreamSynchronize(handle), "cuStreamSynchronize")
    }
}

/// A CUDA event with timing enabled, for measuring GPU time between two points of a stream.
public final class CUDAEvent: @unchecked Sendable {
    /// The context the event belongs to.
    public let context: CUDAContext
    let handle: CUevent

    /// A new event that records timestamps.
    public init(context: CUDAContext) throws {
        self.context = context
        try context.bind()
        var event: CUevent?
        try context.check(context.api.cuEventCreate(&event, UInt32(CU_EVENT_DEFAULT)), "cuEventCreate")
        guard let event else { throw CUDAError.invalidArgument("cuEventCreate returned no event") }
        handle = event
    }

    deinit {
        try? context.bind()
        _ = context.api.cuEventDestroy(handle)
    }

    /// Enqueues the event on `stream`: it completes when the work before it has.
    public func record(on stream: CUDAStream) throws {
        try context.bind()
        try context.check(context.api.cuEventRecord(handle, stream.handle), "cuEventRecord")
    }

    /// Waits until the event has completed.
    public func synchronize() throws {
        try context.bind()
        try context.check(context.api.cuEventSynchronize(handle), "cuEventSynchronize")
    }

    /// GPU milliseconds from `start` to this event (both recorded; waits for this one).
    /// Resolution about half a microsecond.
    public func milliseconds(since start: CUDAEvent) throws -> Double {
        try synchronize()
        var ms: Float = 0
        try context.check(context.api.cuEventElapsedTime(&ms, start.handle, handle), "cuEventElapsedTime")
        return Double(ms)
    }
}

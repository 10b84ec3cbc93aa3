import CCUDA
import Synchronization

/// Device memory this process holds through `DeviceBuffer`, now and at most: what `bench`
/// reports as a GPU run's peak memory (PyTorch's peer reports its allocator's
/// max_memory_allocated, likewise without the context's own memory).
public enum DeviceMemoryTally {
    private static let bytes = Mutex((current: 0, peak: 0))

    /// The most bytes held at once so far.
    public static var peakBytes: Int { bytes.withLock { $0.peak } }

    static func add(_ n: Int) {
        bytes.withLock {
            $0.current += n
            $0.peak = max($0.peak, $0.current)
        }
    }
}

/// Device memory owned by one object: allocated with cuMemAlloc, freed in deinit.
///
/// Copies from and to ordinary (pageable) host memory enqueue on a stream and then wait for
/// it, so the host memory may be reused as soon as they return; only pinned memory
/// (`PinnedHostBuffer`) gets truly asynchronous copies.
public final class DeviceBuffer: @unchecked Sendable {
    /// The context the memory belongs to.
    public let context: CUDAContext
    /// The device address (what kernels and cuDNN take).
    public let address: CUdeviceptr
    /// Size in bytes.
    public let byteCount: Int

    /// `byteCount` bytes of uninitialised device memory (cuMemAlloc aligns to at least 256
    /// bytes, enough for every vector load our kernels and cuDNN do).
    public init(context: CUDAContext, byteCount: Int) throws {
        guard byteCount > 0 else {
            throw CUDAError.invalidArgument("device buffer of \(byteCount) bytes: a buffer needs at least one byte")
        }
        self.context = context
        self.byteCount = byteCount
        var address: CUdeviceptr = 0
        try context.exclusively {
            try context.check(context.api.cuMemAlloc(&address, byteCount), "cuMemAlloc(\(byteCount) bytes)")
        }
        self.address = address
        DeviceMemoryTally.add(byteCount)
    }

    /// Room for `count` Floats.
    public convenience init(context: CUDAContext, floats count: Int) throws {
        try self.init(context: context, byteCount: count * MemoryLayout<Float>.stride)
    }

    deinit {
        try? context.bind()
        _ = context.api.cuMemFree(address)
        DeviceMemoryTally.add(-byteCount)
    }

    /// Floats the buffer holds.
    public var floatCount: Int { byteCount / MemoryLayout<Float>.stride }

    /// Copies `source` to the start of the buffer (or at `offset` bytes), on `stream`, and
    /// waits for the copy.
    public func copy(from source: UnsafeRawBufferPointer, offset: Int = 0, on stream: CUDAStream) throws {
        try checkRange(offset: offset, count: source.count, "copy to device")
        guard let base = source.baseAddress, source.count > 0 else { return }
        try context.bind()
        try context.check(context.api.cuMemcpyHtoDAsync(address + CUdeviceptr(offset), base, source.count, stream.handle),
                          "cuMemcpyHtoDAsync(\(source.count) bytes)")
        try stream.synchronize()
    }

    /// Copies `destination.count` bytes from the buffer (at `offset` bytes) to `destination`,
    /// on `stream`, and waits for the copy.
    public func copy(to destination: UnsafeMutableRawBufferPointer, offset: Int = 0, on stream: CUDAStream) throws {
        try checkRange(offset: offset, count: destination.count, "copy from device")
        guard let base = destination.baseAddress, destination.count > 0 else { return }
        try context.bind()
        try context.check(context.api.cuMemcpyDtoHAsync(base, address + CUdeviceptr(offset), destination.count, stream.handle),
                          "cuMemcpyDtoHAsync(\(destination.count) bytes)")
        try stream.synchronize()
    }

    /// Uploads `values` to the start of the buffer.
    public func upload(_ values: [Float], on stream: CUDAStream) throws {
        try values.withUnsafeBytes { try copy(from: $0, on: stream) }
    }

    /// The first `count` Floats of the buffer (all of them by default).
    public func download(count: Int? = nil, on stream: CUDAStream) throws -> [Float] {
        let n = count ?? floatCount
        var values = [Float](repeating: 0, count: n)
        try values.withUnsafeMutableBytes { try copy(to: $0, on: stream) }
        return values
    }

    /// Enqueues a device-to-device copy of `byteCount` bytes from `source` (no wait).
    public func enqueueCopy(from source: DeviceBuffer, byteCount: Int, sourceOffset: Int = 0, offset: Int = 0,
                            on stream: CUDAStream) throws {
        try checkRange(offset: offset, count: byteCount, "device-to-device copy")
        try source.checkRange(offset: sourceOffset, count: byteCount, "device-to-device copy source")
        try context.bind()
        try context.check(context.api.cuMemcpyDtoDAsync(address + CUdeviceptr(offset), source.address + CUdeviceptr(sourceOffset),
                                                        byteCount, stream.handle),
                          "cuMemcpyDtoDAsync(\(byteCount) bytes)")
    }

    /// Enqueues setting every byte to `value` (no wait; capturable in a graph).
    public func enqueueFill(byte value: UInt8 = 0, on stream: CUDAStream) throws {
        try context.bind()
        try context.check(context.api.cuMemsetD8Async(address, value, byteCount, stream.handle), "cuMemsetD8Async(\(byteCount) bytes)")
    }

    /// Enqueues setting every whole 32-bit word to `value`'s bits, e.g. a Float constant
    /// (no wait; capturable in a graph).
    public func enqueueFill(float value: Float, on stream: CUDAStream) throws {
        try context.bind()
        let words = byteCount / 4
        try context.check(context.api.cuMemsetD32Async(address, value.bitPattern, words, stream.handle), "cuMemsetD32Async(\(words) words)")
    }

    func checkRange(offset: Int, count: Int, _ what: String) throws {
        guard offset >= 0, count >= 0, offset + count <= byteCount else {
            throw CUDAError.invalidArgument("\(what): bytes \(offset)..<\(offset + count) outside a device buffer of \(byteCount) bytes")
        }
    }
}

/// Page-locked host memory (cuMemAllocHost): the GPU copies to it asynchronously, without a
/// staging copy, which is what lets a captured graph hand the loss back without a wait.
public final class PinnedHostBuffer: @unchecked Sendable {
    /// The context the memory is registered with.
    public let context: CUDAContext
    /// The host address.
    public let pointer: UnsafeMutableRawPointer
    /// Size in bytes.
    public let byteCount: Int

    /// `byteCount` bytes of pinned host memory, zeroed.
    public init(context: CUDAContext, byteCount: Int) throws {
        guard byteCount > 0 else {
            throw CUDAError.invalidArgument("pinned host buffer of \(byteCount) bytes: a buffer needs at least one byte")
        }
        self.context = context
        self.byteCount = byteCount
        var pointer: UnsafeMutableRawPointer?
        try context.exclusively {
            try context.check(context.api.cuMemAllocHost(&pointer, byteCount), "cuMemAllocHost(\(byteCount) bytes)")
        }
        guard let pointer else { throw CUDAError.invalidArgument("cuMemAllocHost(\(byteCount) bytes) returned no memory") }
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        self.pointer = pointer
    }

    deinit {
        try? context.bind()
        _ = context.api.cuMemFreeHost(pointer)
    }

    /// The contents as Floats. Read only after the stream that filled it was synchronized.
    public var floats: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer.bindMemory(to: Float.self, capacity: byteCount / 4), count: byteCount / 4)
    }

    /// Enqueues a copy of `byteCount` bytes of `source` (from `sourceOffset`) into this buffer
    /// (at `offset`); no wait, capturable in a graph.
    public func enqueueCopy(from source: DeviceBuffer, byteCount: Int, sourceOffset: Int = 0, offset: Int = 0,
                            on stream: CUDAStream) throws {
        guard offset >= 0, byteCount >= 0, offset + byteCount <= self.byteCount else {
            throw CUDAError.invalidArgument("copy to pinned memory: bytes \(offset)..<\(offset + byteCount) outside \(self.byteCount) bytes")
        }
        try source.checkRange(offset: sourceOffset, count: byteCount, "copy to pinned memory")
        try context.bind()
        try context.check(context.api.cuMemcpyDtoHAsync(pointer + offset, source.address + CUdeviceptr(sourceOffset), byteCount, stream.handle),
                          "cuMemcpyDtoHAsync(\(byteCount) bytes, pinned)")
    }

    /// Enqueues a copy of this buffer's bytes (from `offset`) to `destination`; no wait.
    public func enqueueCopy(to destination: DeviceBuffer, byteCount: Int, offset: Int = 0, destinationOffset: Int = 0,
                            on stream: CUDAStream) throws {
        guard offset >= 0, byteCount >= 0, offset + byteCount <= self.byteCount else {
            throw CUDAError.invalidArgument("copy from pinned memory: bytes \(offset)..<\(offset + byteCount) outside \(self.byteCount) bytes")
        }
        try destination.checkRange(offset: destinationOffset, count: byteCount, "copy from pinned memory")
        try context.bind()
        try context.check(context.api.cuMemcpyHtoDAsync(destination.address + CUdeviceptr(destinationOffset), pointer + offset,
                                                        byteCount, stream.handle),
                          "cuMemcpyHtoDAsync(\(byteCount) bytes, pinned)")
    }
}

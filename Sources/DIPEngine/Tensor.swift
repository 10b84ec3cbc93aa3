import Foundation

/// A dense Float32 array with a fixed shape, row-major (the last dimension varies fastest),
/// 64-byte aligned so vector loads and oneDNN never see a split cache line.
///
/// Activations are N=1 tensors stored as [C, H, W]; convolution weights as [O, I, kH, kW].
/// A class, not a struct: the network holds many large buffers that are written in place
/// every iteration, and copy-on-write checks there would only cost time.
public final class Tensor: @unchecked Sendable {
    /// The dimensions, outermost first.
    public let dims: [Int]
    /// Number of elements.
    public let count: Int
    /// The elements.
    public let buffer: UnsafeMutableBufferPointer<Float>

    /// A zero-filled tensor of the given dimensions.
    public init(_ dims: [Int]) {
        precondition(!dims.isEmpty && dims.allSatisfy { $0 > 0 }, "tensor dimensions must be positive: \(dims)")
        self.dims = dims
        self.count = dims.reduce(1, *)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        let p = raw.bindMemory(to: Float.self, capacity: count)
        p.initialize(repeating: 0, count: count)
        self.buffer = UnsafeMutableBufferPointer(start: p, count: count)
    }

    /// A tensor holding a copy of `values`; `values.count` must match `dims`.
    public convenience init(_ dims: [Int], values: [Float]) {
        self.init(dims)
        precondition(values.count == count, "\(values.count) values for a tensor of \(dims)")
        values.withUnsafeBufferPointer { buffer.baseAddress!.update(from: $0.baseAddress!, count: count) }
    }

    deinit { UnsafeMutableRawPointer(buffer.baseAddress!).deallocate() }

    /// The first element's address.
    @inlinable public var pointer: UnsafeMutablePointer<Float> { buffer.baseAddress! }

    /// The elements as an array (a copy).
    public var array: [Float] { Array(buffer) }

    /// Sets every element to zero.
    public func zero() { pointer.update(repeating: 0, count: count) }

    /// Copies the elements of `other`, which must have the same element count.
    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy between tensors of \(other.dims) and \(dims)")
        pointer.update(from: other.pointer, count: count)
    }
}

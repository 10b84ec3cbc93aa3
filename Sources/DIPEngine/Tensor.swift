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
    /// Where the storage goes back to on release; nil when the tensor owns it outright.
    private let pool: TensorPool?
    /// The tensor whose storage this one views (kept alive by the view); nil when not a view.
    private let base: Tensor?

    /// A zero-filled tensor of the given dimensions.
    public init(_ dims: [Int]) {
        precondition(!dims.isEmpty && dims.allSatisfy { $0 > 0 }, "tensor dimensions must be positive: \(dims)")
        self.dims = dims
        self.count = dims.reduce(1, *)
        let raw = LargeAllocation.allocate(bytes: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        let p = raw.bindMemory(to: Float.self, capacity: count)
        p.initialize(repeating: 0, count: count)
        self.buffer = UnsafeMutableBufferPointer(start: p, count: count)
        self.pool = nil
        self.base = nil
    }

    /// A tensor of `dims` over `base`'s elements from `offset` on (shared storage, no copy).
    init(viewing base: Tensor, offset: Int, dims: [Int]) {
        let count = dims.reduce(1, *)
        precondition(offset >= 0 && offset + count <= base.count, "a view of \(dims) at \(offset) does not fit \(base.dims)")
        self.dims = dims
        self.count = count
        self.buffer = UnsafeMutableBufferPointer(start: base.pointer + offset, count: count)
        self.pool = nil
        self.base = base
    }

    /// A tensor over storage lent by `pool` (uninitialised contents), returned to it on release.
    fileprivate init(_ dims: [Int], count: Int, storage: UnsafeMutableRawPointer, pool: TensorPool) {
        self.dims = dims
        self.count = count
        self.buffer = UnsafeMutableBufferPointer(start: storage.assumingMemoryBound(to: Float.self), count: count)
        self.pool = pool
        self.base = nil
    }

    /// A tensor holding a copy of `values`; `values.count` must match `dims`.
    public convenience init(_ dims: [Int], values: [Float]) {
        self.init(dims)
        precondition(values.count == count, "\(values.count) values for a tensor of \(dims)")
        values.withUnsafeBufferPointer { buffer.baseAddress!.update(from: $0.baseAddress!, count: count) }
    }

    deinit {
        if base != nil { return }
        if let pool {
            pool.recycle(UnsafeMutableRawPointer(buffer.baseAddress!))
        } else {
            UnsafeMutableRawPointer(buffer.baseAddress!).deallocate()
        }
    }

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

/// Storage for transient tensors (the gradients of a backward pass): a tensor taken from the
/// pool gives its storage back when its last reference goes, and the next request reuses it.
/// So the gradients of a pass take the memory of those alive at once, not a buffer per layer,
/// and after the first pass no request allocates.
///
/// A request gets the smallest free block that holds it unless that block is more than 1.25x
/// too big; new blocks get 2% headroom, so a padded gradient (514 x 514) and an unpadded one
/// (512 x 512) of the same channels share blocks.
final class TensorPool: @unchecked Sendable {
    private let lock = NSLock()
    /// Free blocks and their sizes in bytes.
    private var free: [(storage: UnsafeMutableRawPointer, bytes: Int)] = []
    /// Every block's size, lent or free.
    private var sizes: [UnsafeMutableRawPointer: Int] = [:]

    /// Creates an empty pool.
    init() {}

    deinit {
        // Tensors hold their pool, so every block is free by now.
        for block in free { block.storage.deallocate() }
    }

    /// Bytes held by the pool, lent or free.
    var totalBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return sizes.values.reduce(0, +)
    }

    /// A tensor of `shape` with undefined contents (NaN in debug builds, so a layer that
    /// leaves an element unwritten shows up in tests).
    func tensor(_ shape: FeatureShape) -> Tensor {
        let count = shape.count, need = count * MemoryLayout<Float>.stride
        lock.lock()
        var best: Int?
        for (i, block) in free.enumerated() where block.bytes >= need && block.bytes <= need + need / 4 {
            if best == nil || block.bytes < free[best!].bytes { best = i }
        }
        let storage: UnsafeMutableRawPointer
        if let best {
            storage = free.remove(at: best).storage
        } else {
            let bytes = (need + need / 50 + 4095) / 4096 * 4096
            storage = LargeAllocation.allocate(bytes: bytes, alignment: 4096)
            sizes[storage] = bytes
        }
        lock.unlock()
        #if DEBUG
        storage.initializeMemory(as: Float.self, repeating: .nan, count: count)
        #endif
        return Tensor(shape.dims, count: count, storage: storage, pool: self)
    }

    /// Takes a block back (from a releasing tensor).
    fileprivate func recycle(_ storage: UnsafeMutableRawPointer) {
        lock.lock()
        free.append((storage, sizes[storage]!))
        lock.unlock()
    }
}

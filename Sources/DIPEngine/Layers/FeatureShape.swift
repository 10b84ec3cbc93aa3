import CWorkerPool
import Foundation

/// The shape of one N=1 activation, [channels, height, width].
public struct FeatureShape: Hashable, Sendable, CustomStringConvertible {
    /// Channels.
    public var channels: Int
    /// Rows.
    public var height: Int
    /// Columns.
    public var width: Int

    /// Creates a shape.
    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// The shape of a [C, H, W] tensor.
    init(_ t: Tensor) {
        precondition(t.dims.count == 3, "an activation must be [C, H, W], got \(t.dims)")
        self.init(channels: t.dims[0], height: t.dims[1], width: t.dims[2])
    }

    /// Tensor dimensions [C, H, W].
    public var dims: [Int] { [channels, height, width] }
    /// Pixels per channel.
    public var plane: Int { height * width }
    /// Elements.
    public var count: Int { channels * height * width }
    /// "CxHxW".
    public var description: String { "\(channels)x\(height)x\(width)" }

    /// A tensor of this shape.
    func makeTensor() -> Tensor { Tensor(dims) }
}

/// Runs per-channel work on a fixed number of threads. Each channel is handled by exactly one
/// thread in a fixed order, so results do not depend on the thread count.
struct ChannelParallel: Sendable {
    /// Threads to use (1 = run inline).
    let threads: Int

    /// Calls `body(c)` for every c in 0..<count.
    func run(_ count: Int, _ body: (Int) -> Void) {
        runBlocks(count) { _, block in
            for c in block { body(c) }
        }
    }

    /// Cuts 0..<count into `min(threads, count)` contiguous blocks (for cache locality) and
    /// calls `body(part, block)` for each, the parts in parallel (WorkerPool); the parts are
    /// 0..<threads, so a caller can give each its own scratch.
    func runBlocks(_ count: Int, _ body: (_ part: Int, _ block: Range<Int>) -> Void) {
        let t = min(threads, count)
        if t <= 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        WorkerPool.run(parts: t) { part in body(part, count * part / t ..< count * (part + 1) / t) }
    }

    /// Calls `body(part, next)` for each of `min(threads, count)` parts, in parallel, where
    /// `next()` hands out the indices 0..<count, each once and in increasing order, to whichever
    /// part asks first, then nil: a part whose core another process holds for a while takes
    /// fewer indices instead of keeping the others waiting at the end (on a shared 2-core VM,
    /// the two threads' fixed halves of the products of text's 258x258 forward took 71 and
    /// 81 ms an iteration; BENCHMARKS.md, fifteenth part). Only for work whose result for an
    /// index does not depend on the part that runs it (the part picks its scratch), so the bits
    /// do not depend on who took what.
    func runClaiming(_ count: Int, _ body: (_ part: Int, _ next: @escaping () -> Int?) -> Void) {
        let t = min(threads, count)
        if t <= 1 {
            var index = 0
            if count > 0 {
                body(0) {
                    defer { index += 1 }
                    return index < count ? index : nil
                }
            }
            return
        }
        let counter = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        counter.initialize(to: 0)
        defer { counter.deallocate() }
        WorkerPool.run(parts: t) { part in
            body(part) {
                let index = dip_pool_claim(counter)
                return index < count ? index : nil
            }
        }
    }
}

/// Lets a non-Sendable closure or pointer cross into a parallel region; the callers write
/// disjoint channels, so there is no data race.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A [C, H, W] window of a larger buffer that a layer writes its output into instead of a
/// buffer of its own: a channel range of a concat buffer, or the interior of the reflection-
/// padded input of the convolution that follows. The consumer then finds the data in place.
struct FeatureWindow {
    /// The buffer (what the writing layer's forward returns).
    let tensor: Tensor
    /// The window's shape.
    let shape: FeatureShape
    /// Element index of (channel 0, row 0, column 0).
    let offset: Int
    /// Elements from one row to the next.
    let rowStride: Int
    /// Elements from one channel to the next.
    let planeStride: Int

    /// The whole of a plain tensor of `shape`, the default place of a layer's output.
    init(_ tensor: Tensor, _ shape: FeatureShape) {
        self.init(tensor, shape, offset: 0, rowStride: shape.width, planeStride: shape.plane)
    }

    /// A window with explicit strides.
    init(_ tensor: Tensor, _ shape: FeatureShape, offset: Int, rowStride: Int, planeStride: Int) {
        precondition(offset + (shape.channels - 1) * planeStride + (shape.height - 1) * rowStride + shape.width <= tensor.count,
                     "window \(shape) at \(offset) does not fit a tensor of \(tensor.dims)")
        self.tensor = tensor
        self.shape = shape
        self.offset = offset
        self.rowStride = rowStride
        self.planeStride = planeStride
    }

    /// Row 0 of channel `c`.
    @inline(__always) func plane(_ c: Int) -> UnsafeMutablePointer<Float> {
        tensor.pointer + offset + c * planeStride
    }
}

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
        let t = min(threads, count)
        if t <= 1 {
            for c in 0..<count { body(c) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: t) { part in
                // Contiguous blocks of channels per thread, for cache locality.
                let lo = count * part / t, hi = count * (part + 1) / t
                for c in lo..<hi { box.value(c) }
            }
        }
    }
}

/// Lets a non-Sendable closure or pointer cross into `concurrentPerform`; the callers write
/// disjoint channels, so there is no data race.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

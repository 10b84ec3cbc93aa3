/// What one layer costs at one input shape: its learned values, its multiply-accumulates and the
/// memory its forward and its backward move. Each layer type states its own (`Conv2d.cost`,
/// `BatchNorm.cost`, ...) beside the code that does the work, so a change to one is seen next to
/// the other; NetworkSummary adds them up.
///
/// MACs count products of weights with activations (the convolutions), as semantics.md §4.3
/// does; element-wise layers count none.
///
/// Bytes moved are fp32 values of activations, their gradients and the parameters (running
/// statistics included), as the layer's code sweeps them: each pass over memory counts every
/// tensor it reads once and every tensor it writes once (one both read and written, as by an
/// accumulation, counts twice), whatever the order of access inside the pass. Caches are not
/// modelled, scratch of one value per channel is left out, and a layer is costed as it runs
/// alone: the copies SkipNetwork saves by letting a layer write into the next one's buffer (a
/// BatchNorm into a convolution's padded input, an upsample into the concat) are not
/// subtracted.
struct LayerCost: Hashable, Sendable {
    /// Bytes of one stored value (fp32).
    static let bytesPerValue = MemoryLayout<Float>.size

    /// No parameters, no MACs, no traffic of its own.
    static let zero = LayerCost(forwardValues: 0, backwardValues: 0)

    /// Learned values (weights, biases, gamma, beta).
    var parameters: Int
    /// Multiply-accumulates of one forward pass.
    var macs: Int
    /// Bytes read plus bytes written by one forward pass.
    var forwardBytes: Int
    /// Bytes read plus bytes written by one backward pass.
    var backwardBytes: Int

    /// A cost from counts of values moved; the bytes follow from `bytesPerValue`.
    init(parameters: Int = 0, macs: Int = 0, forwardValues: Int, backwardValues: Int) {
        self.parameters = parameters
        self.macs = macs
        forwardBytes = forwardValues * Self.bytesPerValue
        backwardBytes = backwardValues * Self.bytesPerValue
    }

    /// Two layers run one after the other (a convolution and its padding).
    static func + (a: LayerCost, b: LayerCost) -> LayerCost {
        var sum = a
        sum.parameters += b.parameters
        sum.macs += b.macs
        sum.forwardBytes += b.forwardBytes
        sum.backwardBytes += b.backwardBytes
        return sum
    }
}

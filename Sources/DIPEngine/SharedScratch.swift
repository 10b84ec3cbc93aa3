/// One buffer that several layers use in turn, each only for a moment: the padded inputs of the
/// convolutions whose kernels keep what their backward needs (`keepsForwardInput`), which are
/// dead between a convolution's forward and its backward. So the network holds one padded
/// buffer, the largest, instead of one per convolution.
///
/// Its size is fixed up front (the largest user's, known from the network's summary before any
/// layer is prepared), so every view starts at the same memory; the memory is allocated at the
/// first view, so a network whose kernels all read their input again allocates none.
final class SharedScratch {
    /// Elements of the buffer.
    let capacity: Int
    private var storage: Tensor?

    /// A buffer of `capacity` elements, not yet allocated.
    init(capacity: Int) {
        self.capacity = capacity
    }

    /// A tensor of `shape` over the start of the buffer; throws when it does not fit.
    func view(_ shape: FeatureShape) throws -> Tensor {
        guard shape.count <= capacity else {
            throw EngineError.shape("a shared buffer of \(capacity) values cannot hold \(shape)")
        }
        let base = storage ?? Tensor([max(capacity, 1)])
        storage = base
        return Tensor(viewing: base, offset: 0, dims: shape.dims)
    }
}

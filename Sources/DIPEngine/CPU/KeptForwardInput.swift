/// What a convolution kernel derived from its last forward's input (oneDNN's reordered input,
/// our Winograd's transformed tiles), kept for the backward-weights pass of the same tensor:
/// the rule of `ConvolutionKernel.backwardWeights` in one place. The kept data serves that one
/// pass and only the tensor the forward read; a forward that fails keeps nothing.
final class KeptForwardInput {
    /// The buffer, allocated at the first forward and reused by every later one.
    private var storage: UnsafeMutableRawPointer?
    /// The tensor the buffer's data came from, until a backward-weights pass takes it.
    private var input: UnsafeMutablePointer<Float>?

    deinit { storage?.deallocate() }

    /// Where a forward writes what it keeps (`bytes` long, page-aligned); nothing counts as kept
    /// until `kept(from:)`.
    func buffer(bytes: Int) -> UnsafeMutableRawPointer {
        input = nil
        let buffer = storage ?? LargeAllocation.allocate(bytes: bytes, alignment: 4096)
        storage = buffer
        return buffer
    }

    /// The forward that read `tensor` has filled the buffer.
    func kept(from tensor: Tensor) { input = tensor.pointer }

    /// Nothing counts as kept any more: the tensor the forward read now holds other data under
    /// the same address (StrideTwoWinograd's phases, split again from another input).
    func discard() { input = nil }

    /// The kept data when it came from `tensor`, once; nil otherwise (the pass derives it again).
    func take(for tensor: Tensor) -> UnsafeMutableRawPointer? {
        defer { input = nil }
        return input == tensor.pointer ? storage : nil
    }
}

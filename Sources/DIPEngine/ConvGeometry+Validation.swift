/// Checks shared by every backend, so a bad geometry or a wrongly sized tensor gets the same
/// clear message whichever backend runs it.
extension ConvGeometry {
    /// Throws `EngineError.shape` unless the geometry describes a runnable valid convolution.
    public func validate() throws {
        guard inChannels >= 1, outChannels >= 1 else {
            throw EngineError.shape("convolution \(self): channel counts must be at least 1")
        }
        guard kernel >= 1, stride >= 1 else {
            throw EngineError.shape("convolution \(self): kernel and stride must be at least 1")
        }
        guard inputHeight >= kernel, inputWidth >= kernel else {
            throw EngineError.shape("convolution \(self): the input is smaller than the kernel; use a larger image")
        }
    }

    /// [Cin, H, W].
    var inputDims: [Int] { [inChannels, inputHeight, inputWidth] }
    /// [Cout, Ho, Wo].
    var outputDims: [Int] { [outChannels, outputHeight, outputWidth] }
    /// [Cout, Cin, k, k].
    var weightDims: [Int] { [outChannels, inChannels, kernel, kernel] }
    /// [Cout].
    var biasDims: [Int] { [outChannels] }

    /// Throws `EngineError.shape` unless `tensor` has dimensions `dims`.
    func expect(_ tensor: Tensor, _ dims: [Int], as role: String) throws {
        guard tensor.dims == dims else {
            throw EngineError.shape("convolution \(self): \(role) has dimensions \(tensor.dims), expected \(dims)")
        }
    }

    /// The tensors of a forward pass have this geometry's shapes.
    func checkForward(input: Tensor, weight: Tensor, bias: Tensor, output: Tensor) throws {
        try expect(input, inputDims, as: "input")
        try expect(weight, weightDims, as: "weight")
        try expect(bias, biasDims, as: "bias")
        try expect(output, outputDims, as: "output")
    }

    /// The tensors of an input-gradient pass have this geometry's shapes.
    func checkBackwardData(gradOutput: Tensor, weight: Tensor, gradInput: Tensor) throws {
        try expect(gradOutput, outputDims, as: "output gradient")
        try expect(weight, weightDims, as: "weight")
        try expect(gradInput, inputDims, as: "input gradient")
    }

    /// The tensors of an input-gradient pass that folds a reflection pad of `pad` (the input
    /// being the padded one) have this geometry's shapes, and the pad leaves more than 2 pad
    /// rows and columns (as ReflectionPad needs).
    func checkBackwardData(gradOutput: Tensor, weight: Tensor, foldingReflectionPad pad: Int, gradInput: Tensor) throws {
        let (h, w) = (inputHeight - 2 * pad, inputWidth - 2 * pad)
        guard leavesRoomToFold(pad) else {
            throw EngineError.shape("convolution \(self): a reflection pad of \(pad) leaves \(h)x\(w), too small to fold")
        }
        try expect(gradOutput, outputDims, as: "output gradient")
        try expect(weight, weightDims, as: "weight")
        try expect(gradInput, [inChannels, h, w], as: "unpadded input gradient")
    }

    /// Whether the input, its reflection pad of `pad` taken off, keeps more than 2 pad rows and
    /// columns: what folding the pad's gradient needs (ReflectionPad.foldBlock), where the pad
    /// itself needs only more than `pad`.
    func leavesRoomToFold(_ pad: Int) -> Bool {
        pad >= 0 && inputHeight - 2 * pad > 2 * pad && inputWidth - 2 * pad > 2 * pad
    }

    /// The tensors of a weight-gradient pass have this geometry's shapes.
    func checkBackwardWeights(input: Tensor, gradOutput: Tensor, gradWeight: Tensor, gradBias: Tensor) throws {
        try expect(input, inputDims, as: "input")
        try expect(gradOutput, outputDims, as: "output gradient")
        try expect(gradWeight, weightDims, as: "weight gradient")
        try expect(gradBias, biasDims, as: "bias gradient")
    }
}

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
}

@testable import DIPEngine

/// A convolution that hands every call to `base`: a test subclasses it to change one thing (what
/// it says of keeping its input, what one pass writes) and leaves the rest to the real kernel.
class ForwardingConvolution: ConvolutionKernel {
    let base: any ConvolutionKernel
    init(_ base: any ConvolutionKernel) { self.base = base }
    var geometry: ConvGeometry { base.geometry }
    var algorithm: ConvAlgorithm { base.algorithm }
    var implementation: String { base.implementation }
    var keepsForwardInput: Bool { base.keepsForwardInput }
    func forward(input: Tensor, weight: Tensor, bias: Tensor, output: Tensor) throws {
        try base.forward(input: input, weight: weight, bias: bias, output: output)
    }
    func backwardData(gradOutput: Tensor, weight: Tensor, gradInput: Tensor) throws {
        try base.backwardData(gradOutput: gradOutput, weight: weight, gradInput: gradInput)
    }
    func backwardWeights(input: Tensor, gradOutput: Tensor, gradWeight: Tensor, gradBias: Tensor) throws {
        try base.backwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
    }
    func backward(input: Tensor, gradOutput: Tensor, weight: Tensor, gradWeight: Tensor, gradBias: Tensor,
                  gradInput: Tensor?) throws {
        try base.backward(input: input, gradOutput: gradOutput, weight: weight, gradWeight: gradWeight, gradBias: gradBias,
                          gradInput: gradInput)
    }
}

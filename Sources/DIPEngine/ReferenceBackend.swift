/// A backend in plain Swift: straightforward Float32 loops, one thread, no oneDNN.
///
/// It is the fallback where oneDNN is unavailable and the independent check the layer tests
/// compare against; it is written to be read, not to be fast.
public final class ReferenceBackend: ComputeBackend {
    /// "reference".
    public let name = "reference"
    /// Always 1.
    public let threads = 1

    /// A reference backend.
    public init() {}

    /// A direct convolution for `geometry`; every algorithm gives the same loops here.
    public func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any ConvolutionKernel {
        try geometry.validate()
        return ReferenceConvolution(geometry: geometry)
    }
}

/// The valid convolution written out: out[o, y, x] = b[o] + sum_{i, u, v} w[o, i, u, v] *
/// in[i, y*s + u, x*s + v]. The loops run over whole output rows so the innermost loop is
/// contiguous, which keeps the debug-build tests of the layers quick.
final class ReferenceConvolution: ConvolutionKernel {
    /// The geometry this kernel was made for.
    let geometry: ConvGeometry
    /// Always direct.
    let algorithm = ConvAlgorithm.direct
    /// "reference loops".
    let implementation = "direct (reference Float32 loops)"

    init(geometry: ConvGeometry) { self.geometry = geometry }

    /// output = conv(input, weight) + bias.
    func forward(input: Tensor, weight: Tensor, bias: Tensor, output: Tensor) throws {
        let g = geometry
        try g.checkForward(input: input, weight: weight, bias: bias, output: output)
        let (inp, w, b, out) = (input.pointer, weight.pointer, bias.pointer, output.pointer)
        let (h, wd, ho, wo, k, s) = (g.inputHeight, g.inputWidth, g.outputHeight, g.outputWidth, g.kernel, g.stride)
        for o in 0..<g.outChannels {
            let outPlane = out + o * ho * wo
            outPlane.update(repeating: b[o], count: ho * wo)
            for i in 0..<g.inChannels {
                let inPlane = inp + i * h * wd
                for u in 0..<k {
                    for v in 0..<k {
                        let wv = w[((o * g.inChannels + i) * k + u) * k + v]
                        for y in 0..<ho {
                            let inRow = inPlane + (y * s + u) * wd + v
                            let outRow = outPlane + y * wo
                            for x in 0..<wo { outRow[x] += wv * inRow[x * s] }
                        }
                    }
                }
            }
        }
    }

    /// gradInput[i, y*s + u, x*s + v] += w[o, i, u, v] * gradOutput[o, y, x].
    func backwardData(gradOutput: Tensor, weight: Tensor, gradInput: Tensor) throws {
        let g = geometry
        try g.checkBackwardData(gradOutput: gradOutput, weight: weight, gradInput: gradInput)
        let (dout, w, din) = (gradOutput.pointer, weight.pointer, gradInput.pointer)
        let (h, wd, ho, wo, k, s) = (g.inputHeight, g.inputWidth, g.outputHeight, g.outputWidth, g.kernel, g.stride)
        gradInput.zero()
        for i in 0..<g.inChannels {
            let dinPlane = din + i * h * wd
            for o in 0..<g.outChannels {
                let doutPlane = dout + o * ho * wo
                for u in 0..<k {
                    for v in 0..<k {
                        let wv = w[((o * g.inChannels + i) * k + u) * k + v]
                        for y in 0..<ho {
                            let dinRow = dinPlane + (y * s + u) * wd + v
                            let doutRow = doutPlane + y * wo
                            for x in 0..<wo { dinRow[x * s] += wv * doutRow[x] }
                        }
                    }
                }
            }
        }
    }

    /// gradWeight[o, i, u, v] = sum_{y, x} gradOutput[o, y, x] * in[i, y*s + u, x*s + v];
    /// gradBias[o] = sum_{y, x} gradOutput[o, y, x].
    func backwardWeights(input: Tensor, gradOutput: Tensor, gradWeight: Tensor, gradBias: Tensor) throws {
        let g = geometry
        try g.checkBackwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
        let (inp, dout, dw, db) = (input.pointer, gradOutput.pointer, gradWeight.pointer, gradBias.pointer)
        let (h, wd, ho, wo, k, s) = (g.inputHeight, g.inputWidth, g.outputHeight, g.outputWidth, g.kernel, g.stride)
        for o in 0..<g.outChannels {
            let doutPlane = dout + o * ho * wo
            var biasSum: Float = 0
            for j in 0..<(ho * wo) { biasSum += doutPlane[j] }
            db[o] = biasSum
            for i in 0..<g.inChannels {
                let inPlane = inp + i * h * wd
                for u in 0..<k {
                    for v in 0..<k {
                        var sum: Float = 0
                        for y in 0..<ho {
                            let inRow = inPlane + (y * s + u) * wd + v
                            let doutRow = doutPlane + y * wo
                            for x in 0..<wo { sum += doutRow[x] * inRow[x * s] }
                        }
                        dw[((o * g.inChannels + i) * k + u) * k + v] = sum
                    }
                }
            }
        }
    }
}

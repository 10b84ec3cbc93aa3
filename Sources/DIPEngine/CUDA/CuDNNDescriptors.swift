import CCUDA

/// A cuDNN tensor descriptor: batch 1, float, NHWC (channels innermost), the layout every
/// activation of the GPU network uses. Needs no GPU.
final class CuDNNTensorDescriptor {
    let cudnn: CuDNN
    let handle: cudnnTensorDescriptor_t

    /// Dimensions are given N, C, H, W whatever the layout (cuDNN's convention).
    init(cudnn: CuDNN, channels: Int, height: Int, width: Int) throws {
        self.cudnn = cudnn
        var handle: cudnnTensorDescriptor_t?
        try cudnn.check(cudnn.api.cudnnCreateTensorDescriptor(&handle), "cudnnCreateTensorDescriptor")
        self.handle = handle!
        try cudnn.check(cudnn.api.cudnnSetTensor4dDescriptor(self.handle, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1,
                                                             Int32(channels), Int32(height), Int32(width)),
                        "cudnnSetTensor4dDescriptor(NHWC float, 1x\(channels)x\(height)x\(width))")
    }

    deinit { _ = cudnn.api.cudnnDestroyTensorDescriptor(handle) }
}

/// A cuDNN filter descriptor: float, NHWC, i.e. weights stored [Cout][kh][kw][Cin] (KRSC).
/// The CPU network and the safetensors files keep PyTorch's [Cout][Cin][kh][kw]; whoever
/// uploads weights permutes them.
final class CuDNNFilterDescriptor {
    let cudnn: CuDNN
    let handle: cudnnFilterDescriptor_t

    init(cudnn: CuDNN, outChannels: Int, inChannels: Int, kernel: Int) throws {
        self.cudnn = cudnn
        var handle: cudnnFilterDescriptor_t?
        try cudnn.check(cudnn.api.cudnnCreateFilterDescriptor(&handle), "cudnnCreateFilterDescriptor")
        self.handle = handle!
        try cudnn.check(cudnn.api.cudnnSetFilter4dDescriptor(self.handle, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC,
                                                             Int32(outChannels), Int32(inChannels), Int32(kernel), Int32(kernel)),
                        "cudnnSetFilter4dDescriptor(NHWC float, \(outChannels)x\(inChannels)x\(kernel)x\(kernel))")
    }

    deinit { _ = cudnn.api.cudnnDestroyFilterDescriptor(handle) }
}

/// A cuDNN convolution descriptor: no padding (the network reflection-pads first), the
/// geometry's stride, no dilation, cross-correlation (what PyTorch's Conv2d computes), float
/// accumulation, and a math type.
final class CuDNNConvolutionDescriptor {
    let cudnn: CuDNN
    let handle: cudnnConvolutionDescriptor_t

    init(cudnn: CuDNN, stride: Int, mathType: cudnnMathType_t) throws {
        self.cudnn = cudnn
        var handle: cudnnConvolutionDescriptor_t?
        try cudnn.check(cudnn.api.cudnnCreateConvolutionDescriptor(&handle), "cudnnCreateConvolutionDescriptor")
        self.handle = handle!
        try cudnn.check(cudnn.api.cudnnSetConvolution2dDescriptor(self.handle, 0, 0, Int32(stride), Int32(stride), 1, 1,
                                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                        "cudnnSetConvolution2dDescriptor(stride \(stride))")
        try setMathType(mathType)
    }

    func setMathType(_ mathType: cudnnMathType_t) throws {
        try cudnn.check(cudnn.api.cudnnSetConvolutionMathType(handle, mathType), "cudnnSetConvolutionMathType(\(mathType))")
    }

    deinit { _ = cudnn.api.cudnnDestroyConvolutionDescriptor(handle) }
}

/// The descriptors of one convolution geometry: input x, output y, bias b (1xCx1x1), filter
/// w, and one convolution descriptor per direction (each direction's chosen algorithm sets
/// its own math type). Built and checked without a GPU: cuDNN's output size must be the
/// geometry's, or the layouts disagree.
final class CuDNNConvolutionDescriptors {
    let geometry: ConvGeometry
    let x: CuDNNTensorDescriptor
    let y: CuDNNTensorDescriptor
    let bias: CuDNNTensorDescriptor
    let w: CuDNNFilterDescriptor
    let forward: CuDNNConvolutionDescriptor
    let backwardData: CuDNNConvolutionDescriptor
    let backwardFilter: CuDNNConvolutionDescriptor

    init(cudnn: CuDNN, geometry g: ConvGeometry, math: GPUMathMode) throws {
        try g.validate()
        geometry = g
        x = try CuDNNTensorDescriptor(cudnn: cudnn, channels: g.inChannels, height: g.inputHeight, width: g.inputWidth)
        y = try CuDNNTensorDescriptor(cudnn: cudnn, channels: g.outChannels, height: g.outputHeight, width: g.outputWidth)
        bias = try CuDNNTensorDescriptor(cudnn: cudnn, channels: g.outChannels, height: 1, width: 1)
        w = try CuDNNFilterDescriptor(cudnn: cudnn, outChannels: g.outChannels, inChannels: g.inChannels, kernel: g.kernel)
        forward = try CuDNNConvolutionDescriptor(cudnn: cudnn, stride: g.stride, mathType: math.descriptorMathType)
        backwardData = try CuDNNConvolutionDescriptor(cudnn: cudnn, stride: g.stride, mathType: math.descriptorMathType)
        backwardFilter = try CuDNNConvolutionDescriptor(cudnn: cudnn, stride: g.stride, mathType: math.descriptorMathType)

        var n: Int32 = 0, c: Int32 = 0, h: Int32 = 0, wd: Int32 = 0
        try cudnn.check(cudnn.api.cudnnGetConvolution2dForwardOutputDim(forward.handle, x.handle, w.handle, &n, &c, &h, &wd),
                        "cudnnGetConvolution2dForwardOutputDim(\(g))")
        guard (n, c, h, wd) == (1, Int32(g.outChannels), Int32(g.outputHeight), Int32(g.outputWidth)) else {
            throw CUDAError.invalidArgument("convolution \(g): cuDNN computes an output of \(n)x\(c)x\(h)x\(wd), the network expects 1x\(g.outChannels)x\(g.outputHeight)x\(g.outputWidth)")
        }
    }
}

/// Which arithmetic cuDNN convolutions may use on the GPU.
public enum GPUMathMode: String, Codable, Sendable, CaseIterable {
    /// TF32 tensor cores allowed (Ampere and later): PyTorch's default for cuDNN convolutions
    /// (torch.backends.cudnn.allow_tf32 = True), so the fair comparison. Inputs are rounded to
    /// 10 mantissa bits inside the multiply, accumulation stays FP32: relative error ~1e-3
    /// per product, ~3e-4 on a layer's output.
    case tf32
    /// FP32 FMA only, no tensor cores (`--gpu-math strict`): close to the CPU's rounding.
    case strict

    /// The math type set on the descriptors before asking for algorithms, as PyTorch does:
    /// CUDNN_DEFAULT_MATH lets cuDNN use TF32 for float data on Ampere and later;
    /// CUDNN_FMA_MATH forbids tensor cores. (CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, which
    /// may convert to FP16, is never used.)
    var descriptorMathType: cudnnMathType_t {
        switch self {
        case .tf32: return CUDNN_DEFAULT_MATH
        case .strict: return CUDNN_FMA_MATH
        }
    }

    /// Whether an algorithm that reports `mathType` keeps to this mode.
    func allows(_ mathType: cudnnMathType_t) -> Bool {
        switch self {
        case .tf32: return mathType == CUDNN_DEFAULT_MATH || mathType == CUDNN_TENSOR_OP_MATH || mathType == CUDNN_FMA_MATH
        case .strict: return mathType == CUDNN_FMA_MATH
        }
    }
}

import Foundation

/// LeakyReLU with negative slope 0.2 (dip-spec §3.3). The network fuses it into BatchNorm; this
/// standalone form is for networks that put it elsewhere.
final class LeakyReLU {
    /// The slope for negative inputs.
    let negativeSlope: Float
    private var shape = FeatureShape(channels: 1, height: 1, width: 1)
    private var input: Tensor?
    private(set) var output = Tensor([1])
    private(set) var gradInput = Tensor([1])

    init(negativeSlope: Float = 0.2) { self.negativeSlope = negativeSlope }

    /// Allocates the buffers.
    @discardableResult
    func prepare(inputShape s: FeatureShape) -> FeatureShape {
        shape = s
        output = s.makeTensor()
        gradInput = s.makeTensor()
        return s
    }

    /// max(x, 0) + slope * min(x, 0).
    func forward(_ x: Tensor) -> Tensor {
        input = x
        let a = x.pointer, y = output.pointer, s = negativeSlope
        for i in 0..<shape.count { let v = a[i]; y[i] = v > 0 ? v : v * s }
        return output
    }

    /// gradient times 1 where x > 0, times the slope elsewhere (PyTorch's choice at 0).
    func backward(_ gradOutput: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("LeakyReLU.backward before forward") }
        let a = x.pointer, g = gradOutput.pointer, d = gradInput.pointer, s = negativeSlope
        for i in 0..<shape.count { d[i] = a[i] > 0 ? g[i] : g[i] * s }
        return gradInput
    }
}

/// The output Sigmoid.
final class Sigmoid {
    private var shape = FeatureShape(channels: 1, height: 1, width: 1)
    private(set) var output = Tensor([1])
    private(set) var gradInput = Tensor([1])

    /// Allocates the buffers.
    @discardableResult
    func prepare(inputShape s: FeatureShape) -> FeatureShape {
        shape = s
        output = s.makeTensor()
        gradInput = s.makeTensor()
        return s
    }

    /// 1 / (1 + exp(-x)).
    func forward(_ x: Tensor) -> Tensor {
        let a = x.pointer, y = output.pointer
        for i in 0..<shape.count { y[i] = 1 / (1 + Foundation.exp(-a[i])) }
        return output
    }

    /// gradient * y (1 - y), from the stored output.
    func backward(_ gradOutput: Tensor) -> Tensor {
        let y = output.pointer, g = gradOutput.pointer, d = gradInput.pointer
        for i in 0..<shape.count { d[i] = g[i] * (y[i] * (1 - y[i])) }
        return gradInput
    }
}

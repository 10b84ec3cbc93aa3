import Foundation

/// The output Sigmoid.
final class Sigmoid {
    private var shape = FeatureShape(channels: 1, height: 1, width: 1)
    private(set) var output = Tensor([1])
    private(set) var gradInput = Tensor([1])

    /// No parameters or MACs. The forward reads the input and writes the output; the backward
    /// reads the output and its gradient and writes the input gradient.
    static func cost(inputShape s: FeatureShape) -> LayerCost {
        LayerCost(forwardValues: 2 * s.count, backwardValues: 3 * s.count)
    }

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

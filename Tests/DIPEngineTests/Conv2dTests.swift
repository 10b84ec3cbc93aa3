import DIPCore
import Foundation
import Testing
@testable import DIPEngine

/// Conv2d (reflection pad, kernel, bias) against `referenceConv`, and its cost.
@Suite("Conv2d")
struct Conv2dTests {
    let serial = ChannelParallel(threads: 1)

    @Test("convolution layer: reflection pad + kernel + bias, stride 1 and 2, 1x1 without pad",
          arguments: [(3, 1), (3, 2), (5, 2), (1, 1)])
    func conv(kernel k: Int, stride: Int) throws {
        let s = FeatureShape(channels: 2, height: 5, width: 7)
        var rng = RandomStream(seed: 20, purpose: .weights)
        let conv = Conv2d(inChannels: 2, outChannels: 3, kernel: k, stride: stride, rng: &rng, parallel: serial)
        let o = try conv.prepare(inputShape: s, backend: ReferenceBackend(), algorithm: .direct)
        #expect(o == FeatureShape(channels: 3, height: (s.height - 1) / stride + 1, width: (s.width - 1) / stride + 1))
        let x = randomTensor(s.dims, seed: 21)
        let all = float64s(x) + float64s(conv.weight) + float64s(conv.bias)
        let ref = { (v: [Double]) in referenceConv(v, s, out: 3, k: k, stride: stride) }
        expectClose(try conv.forward(x), ref(all), tol: 1e-5, "conv forward")
        let g = randomTensor(o.dims, seed: 22)
        let numeric = numericGradient(all, float64s(g), ref)
        let gx = try #require(try conv.backward(g))
        expectClose(gx, Array(numeric[0..<s.count]), tol: 1e-5, "conv d/dx")
        expectClose(conv.gradWeight, Array(numeric[s.count..<(s.count + conv.weight.count)]), tol: 1e-5, "conv d/dw")
        expectClose(conv.gradBias, Array(numeric[(s.count + conv.weight.count)...]), tol: 1e-5, "conv d/db")
    }

    /// CPUBackend, except that every 3x3 stride-1 convolution is our Winograd kernel with `tile` (CPUBackend
    /// itself may pick oneDNN's on small images), whose backward-data folds the pad's gradient.
    final class OwnWinogradBackend: ComputeBackend {
        let cpu: CPUBackend
        let tile: WinogradTile
        init(threads: Int, tile: WinogradTile) throws {
            cpu = try CPUBackend(threads: threads)
            self.tile = tile
        }
        var name: String { "cpu-onednn, our Winograd" }
        var threads: Int { cpu.threads }
        func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any ConvolutionKernel {
            WinogradConvolution.fits(geometry) ? try WinogradConvolution(geometry: geometry, backend: cpu, tile: tile)
                : try cpu.makeConvolution(geometry, algorithm: algorithm)
        }
    }

    @Test("convolution layer whose kernel folds the reflection pad's gradient: the gradients of pad + convolution",
          arguments: [WinogradTile.f43, .f63, .f83])
    func foldedPadGradient(_ tile: WinogradTile) throws {
        // 9x11 padded to 11x13: F(4x4, 3x3)'s bands (4 rows) and F(6x6, 3x3)'s (6 or 12) end
        // before the bottom border row or hold it with the row it reflects onto, and so do
        // F(8x8, 3x3)'s (8 or 16).
        let kernel = try checkOwnWinogradLayer(FeatureShape(channels: 3, height: tile == .f43 ? 9 : 11, width: 11), tile: tile,
                                               seed: 23)
        #expect(kernel.foldsReflectionPad(1))
    }

    @Test("convolution + BatchNorm backward, the bias gradient summed as the BatchNorm writes the gradient: the bits of the two apart",
          arguments: [(3, 1, 13, 14), (3, 1, 2, 3), (1, 1, 9, 37), (3, 2, 12, 11)])
    func biasGradientSummedByBatchNorm(kernel k: Int, stride: Int, height: Int, width: Int) throws {
        // Our Winograd with and without the pad's fold, the 1x1 kernel (both sum the plane), and
        // oneDNN's stride-2 convolution (its own bias gradient: nothing to fuse).
        let s = FeatureShape(channels: 3, height: height, width: width)
        let backend = try OwnWinogradBackend(threads: 2, tile: .f43)
        func layers() throws -> (Conv2d, BatchNorm) {
            var rng = RandomStream(seed: 27, purpose: .weights)
            let parallel = ChannelParallel(threads: 2)
            let conv = Conv2d(inChannels: 3, outChannels: 5, kernel: k, stride: stride, rng: &rng, parallel: parallel)
            let o = try conv.prepare(inputShape: s, backend: backend, algorithm: .auto)
            let bn = BatchNorm(channels: 5, negativeSlope: 0.2, gammaInit: .uniform, rng: &rng, parallel: parallel)
            try bn.prepare(inputShape: o)
            return (conv, bn)
        }
        let (apart, fused) = (try layers(), try layers())
        #expect(fused.0.biasGradientIsPlaneSum == (stride == 1), "\(fused.0.geometry!)")
        var results: [[UInt32]] = []
        for (conv, bn) in [apart, fused] {
            let x = randomTensor(s.dims, seed: 28)
            let y = bn.forward(try conv.forward(x))
            let g = randomTensor(y.dims, seed: 29)
            let gx = try #require(conv === apart.0 ? try conv.backward(bn.backward(g)) : try SkipLevel.backward(conv, bn, g))
            results.append((gx.array + conv.gradWeight.array + conv.gradBias.array + bn.gradWeight.array + bn.gradBias.array)
                .map(\.bitPattern))
        }
        #expect(results[0] == results[1], "\(k)x\(k)/\(stride) at \(height)x\(width)")
    }

    /// A 64x64 input reaches 2x2 at table1's deepest level: too small for the fold, which needs
    /// more than 2 pad rows and columns, though not for the pad (more than 1). The layer then
    /// writes the padded gradient and runs the pad's backward (it used to stop the fit with
    /// "too small to fold").
    @Test("convolution layer with a folding kernel on inputs too small to fold: the gradients of pad + convolution",
          arguments: [(2, 2), (2, 5), (5, 2)])
    func tooSmallToFold(height: Int, width: Int) throws {
        // As in the network: the padded input in the buffer other layers share, which they
        // overwrite between this layer's forward and backward.
        let shared = SharedScratch(capacity: 3 * (height + 2) * (width + 2))
        let kernel = try checkOwnWinogradLayer(FeatureShape(channels: 3, height: height, width: width), tile: .f43, seed: 26,
                                               paddedInputs: shared)
        #expect(!kernel.foldsReflectionPad(1))
    }

    /// A 3 -> 4 channel 3x3 Conv2d on `s` whose kernel is our Winograd with `tile`: its forward
    /// and its input, weight and bias gradients against `referenceConv` and its numeric gradient
    /// (inputs from seeds `seed` to `seed + 2`). With `paddedInputs`, the padded input lives
    /// there and is overwritten with NaN between the forward and the backward. Returns the kernel.
    private func checkOwnWinogradLayer(_ s: FeatureShape, tile: WinogradTile, seed: UInt64,
                                       paddedInputs: SharedScratch? = nil) throws -> WinogradConvolution {
        var rng = RandomStream(seed: seed, purpose: .weights)
        let conv = Conv2d(inChannels: 3, outChannels: 4, kernel: 3, rng: &rng, parallel: ChannelParallel(threads: 2))
        let o = try conv.prepare(inputShape: s, backend: OwnWinogradBackend(threads: 2, tile: tile), algorithm: .auto,
                                 paddedInputs: paddedInputs)
        let kernel = try #require(conv.convolution as? WinogradConvolution)
        let x = randomTensor(s.dims, seed: seed + 1)
        let all = float64s(x) + float64s(conv.weight) + float64s(conv.bias)
        let ref = { (v: [Double]) in referenceConv(v, s, out: 4, k: 3, stride: 1) }
        expectClose(try conv.forward(x), ref(all), tol: 1e-4, "conv forward")
        if let paddedInputs {
            let padded = FeatureShape(channels: s.channels, height: s.height + 2, width: s.width + 2)
            try paddedInputs.view(padded).buffer.update(repeating: .nan)
        }
        let g = randomTensor(o.dims, seed: seed + 2)
        let numeric = numericGradient(all, float64s(g), ref)
        let gx = try #require(try conv.backward(g))
        #expect(gx.dims == s.dims)
        expectClose(gx, Array(numeric[0..<s.count]), tol: 1e-4, "conv d/dx")
        expectClose(conv.gradWeight, Array(numeric[s.count..<(s.count + conv.weight.count)]), tol: 1e-4, "conv d/dw")
        expectClose(conv.gradBias, Array(numeric[(s.count + conv.weight.count)...]), tol: 1e-4, "conv d/db")
        return kernel
    }

    @Test("cost: weights and biases, MACs by hand, the pad's traffic included, no data pass for the code's convolutions")
    func cost() throws {
        // 2 -> 3 channels, 3x3 on 5x7 padded to 7x9.
        let g = ConvGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 1, inputHeight: 7, inputWidth: 9)
        let c = Conv2d.cost(g)
        var rng = RandomStream(seed: 1, purpose: .weights)
        let conv = Conv2d(inChannels: 2, outChannels: 3, kernel: 3, rng: &rng, parallel: serial)
        #expect(c.parameters == 3 * 2 * 3 * 3 + 3)
        #expect(c.parameters == conv.weight.count + conv.bias.count)
        #expect(c.macs == 3 * (5 * 7) * 2 * (3 * 3))
        // Padded input 126, weights 54, bias 3, output 105, unpadded input 70.
        let pad = (forward: 70 + 126, backward: 126 + 2 * 70)
        #expect(c.forwardBytes == 4 * (126 + 54 + 3 + 105 + pad.forward))
        let weightPass = 126 + 105 + 54 + 3, dataPass = 105 + 54 + 126
        #expect(c.backwardBytes == 4 * (weightPass + dataPass + pad.backward))
        let code = Conv2d.cost(g, needsInputGradient: false)
        #expect(code.forwardBytes == c.forwardBytes)
        #expect(code.backwardBytes == 4 * weightPass)

        // A 1x1 convolution has no pad; stride 2 halves the MACs' output pixels.
        let pointwise = Conv2d.cost(ConvGeometry(inChannels: 4, outChannels: 2, kernel: 1, stride: 1, inputHeight: 5, inputWidth: 7))
        #expect(pointwise.parameters == 10 && pointwise.macs == 2 * 35 * 4)
        #expect(pointwise.forwardBytes == 4 * (140 + 8 + 2 + 70))
        #expect(pointwise.backwardBytes == 4 * ((140 + 70 + 8 + 2) + (70 + 8 + 140)))
        let strided = Conv2d.cost(ConvGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 2, inputHeight: 7, inputWidth: 9))
        #expect(strided.macs == 3 * (3 * 4) * 2 * 9 && strided.parameters == c.parameters)
    }
}

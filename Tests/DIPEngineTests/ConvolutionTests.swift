import CPointwise
import DIPCore
import Foundation
import Testing
@testable import DIPEngine

/// The valid convolution and its two gradients in Float64, written as the formulas read, so the
/// backends are checked against something that shares none of their code.
private enum Conv64 {
    static func forward(_ g: ConvGeometry, x: [Double], w: [Double], b: [Double]) -> [Double] {
        let (ci, h, wd, co, ho, wo, k, s) = (g.inChannels, g.inputHeight, g.inputWidth, g.outChannels,
                                             g.outputHeight, g.outputWidth, g.kernel, g.stride)
        var y = [Double](repeating: 0, count: co * ho * wo)
        for o in 0..<co {
            for oy in 0..<ho {
                for ox in 0..<wo {
                    var sum = b[o]
                    for i in 0..<ci {
                        for u in 0..<k {
                            for v in 0..<k {
                                sum += w[((o * ci + i) * k + u) * k + v] * x[(i * h + oy * s + u) * wd + ox * s + v]
                            }
                        }
                    }
                    y[(o * ho + oy) * wo + ox] = sum
                }
            }
        }
        return y
    }

    static func backwardData(_ g: ConvGeometry, dy: [Double], w: [Double]) -> [Double] {
        let (ci, h, wd, co, ho, wo, k, s) = (g.inChannels, g.inputHeight, g.inputWidth, g.outChannels,
                                             g.outputHeight, g.outputWidth, g.kernel, g.stride)
        var dx = [Double](repeating: 0, count: ci * h * wd)
        for o in 0..<co {
            for oy in 0..<ho {
                for ox in 0..<wo {
                    let d = dy[(o * ho + oy) * wo + ox]
                    for i in 0..<ci {
                        for u in 0..<k {
                            for v in 0..<k {
                                dx[(i * h + oy * s + u) * wd + ox * s + v] += w[((o * ci + i) * k + u) * k + v] * d
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    static func backwardWeights(_ g: ConvGeometry, x: [Double], dy: [Double]) -> (dw: [Double], db: [Double]) {
        let (ci, h, wd, co, ho, wo, k, s) = (g.inChannels, g.inputHeight, g.inputWidth, g.outChannels,
                                             g.outputHeight, g.outputWidth, g.kernel, g.stride)
        var dw = [Double](repeating: 0, count: co * ci * k * k)
        var db = [Double](repeating: 0, count: co)
        for o in 0..<co {
            for oy in 0..<ho {
                for ox in 0..<wo {
                    let d = dy[(o * ho + oy) * wo + ox]
                    db[o] += d
                    for i in 0..<ci {
                        for u in 0..<k {
                            for v in 0..<k {
                                dw[((o * ci + i) * k + u) * k + v] += x[(i * h + oy * s + u) * wd + ox * s + v] * d
                            }
                        }
                    }
                }
            }
        }
        return (dw, db)
    }
}

/// Inputs for one geometry, drawn from the auxiliary stream of `seed`.
private struct ConvData {
    let x, w, b, dy: Tensor

    init(_ g: ConvGeometry, seed: UInt64) {
        func random(_ dims: [Int], _ substream: UInt64) -> Tensor {
            let t = Tensor(dims)
            RandomStream(seed: seed, purpose: .auxiliary, substream: substream).fillUniform(t.buffer, low: -1, high: 1)
            return t
        }
        x = random(g.inputDims, 1)
        w = random(g.weightDims, 2)
        b = random(g.biasDims, 3)
        dy = random(g.outputDims, 4)
    }
}

/// What one kernel computed from a `ConvData`.
private struct ConvResult: Equatable {
    let y, dx, dw, db: [Float]

    init(_ kernel: any ConvolutionKernel, _ d: ConvData) throws {
        let g = kernel.geometry
        let (y, dx, dw, db) = (Tensor(g.outputDims), Tensor(g.inputDims), Tensor(g.weightDims), Tensor(g.biasDims))
        // Stale values in the outputs must not leak into the results: every call overwrites.
        for t in [y, dx, dw, db] { t.buffer.update(repeating: 7) }
        try kernel.forward(input: d.x, weight: d.w, bias: d.b, output: y)
        try kernel.backwardData(gradOutput: d.dy, weight: d.w, gradInput: dx)
        try kernel.backwardWeights(input: d.x, gradOutput: d.dy, gradWeight: dw, gradBias: db)
        (self.y, self.dx, self.dw, self.db) = (y.array, dx.array, dw.array, db.array)
    }

    /// Bit patterns, so a NaN compares equal to itself and -0 differs from 0.
    var bits: [UInt32] { (y + dx + dw + db).map(\.bitPattern) }
}

/// max |a - ref| / max |ref|: the error relative to the tensor's scale, which is what matters for
/// a sum of many products of mixed sign (an element near zero has no meaningful relative error).
private func relativeError(_ a: [Float], _ ref: [Double]) -> Double {
    precondition(a.count == ref.count)
    var err = 0.0, scale = 0.0
    for (p, q) in zip(a, ref) {
        if !p.isFinite { return .infinity }
        err = max(err, abs(Double(p) - q))
        scale = max(scale, abs(q))
    }
    return err / max(scale, 1e-30)
}

private func doubles(_ t: Tensor) -> [Double] { t.array.map(Double.init) }

/// Small shapes that cover what the skip network uses (1x1, 3x3, 5x5; stride 1 and 2) with odd
/// sizes, channel counts that are not multiples of oneDNN's 8/16 blocks, and strides that do
/// not divide the input (the last row and column are then never read).
private let geometries: [ConvGeometry] = [
    ConvGeometry(inChannels: 3, outChannels: 4, kernel: 3, stride: 1, inputHeight: 7, inputWidth: 9),
    ConvGeometry(inChannels: 5, outChannels: 17, kernel: 3, stride: 2, inputHeight: 8, inputWidth: 10),
    ConvGeometry(inChannels: 4, outChannels: 5, kernel: 1, stride: 1, inputHeight: 7, inputWidth: 9),
    ConvGeometry(inChannels: 17, outChannels: 3, kernel: 5, stride: 1, inputHeight: 9, inputWidth: 7),
    ConvGeometry(inChannels: 3, outChannels: 17, kernel: 5, stride: 2, inputHeight: 11, inputWidth: 12),
    ConvGeometry(inChannels: 17, outChannels: 16, kernel: 3, stride: 1, inputHeight: 12, inputWidth: 13),
    ConvGeometry(inChannels: 32, outChannels: 48, kernel: 3, stride: 1, inputHeight: 14, inputWidth: 11),
    ConvGeometry(inChannels: 16, outChannels: 17, kernel: 1, stride: 2, inputHeight: 9, inputWidth: 8),
]

@Suite("Convolution kernels")
struct ConvolutionTests {
    @Test("a convolution's shape is printed width first, as every size the tool prints")
    func geometryWidthFirst() {
        #expect(geometries[0].description == "3->4 3x3/1 at 9x7")
    }

    @Test("the Float64 reference's gradients match central finite differences of sum(output * R)")
    func referenceGradients() {
        for g in [geometries[1], geometries[4]] {
            let d = ConvData(g, seed: 11)
            var (x, w, b) = (doubles(d.x), doubles(d.w), doubles(d.b))
            let r = doubles(d.dy)
            func loss() -> Double { zip(Conv64.forward(g, x: x, w: w, b: b), r).reduce(0) { $0 + $1.0 * $1.1 } }
            // The loss is linear in each argument, so central differences are exact up to
            // rounding; h = 1/2 keeps that rounding far below the tolerance.
            let h = 0.5
            func derivative(_ set: (Double) -> Void, at value: Double) -> Double {
                set(value + h)
                let up = loss()
                set(value - h)
                let down = loss()
                set(value)
                return (up - down) / (2 * h)
            }
            let dx = Conv64.backwardData(g, dy: r, w: w)
            let (dw, db) = Conv64.backwardWeights(g, x: x, dy: r)
            for j in x.indices {
                let n = derivative({ x[j] = $0 }, at: x[j])
                #expect(abs(n - dx[j]) <= 1e-9 * max(1, abs(dx[j])), "dx[\(j)] \(g)")
            }
            for j in w.indices {
                let n = derivative({ w[j] = $0 }, at: w[j])
                #expect(abs(n - dw[j]) <= 1e-9 * max(1, abs(dw[j])), "dw[\(j)] \(g)")
            }
            for j in b.indices {
                let n = derivative({ b[j] = $0 }, at: b[j])
                #expect(abs(n - db[j]) <= 1e-9 * max(1, abs(db[j])), "db[\(j)] \(g)")
            }
        }
    }

    /// Checks every pass of `kernel` against Conv64 on two data sets (the second shows the
    /// primitives and reorder buffers are reusable).
    private func checkAgainstReference(_ kernel: any ConvolutionKernel, tolerance: Double, label: String) throws {
        let g = kernel.geometry
        for seed: UInt64 in [1, 2] {
            let d = ConvData(g, seed: seed)
            let got = try ConvResult(kernel, d)
            let y = Conv64.forward(g, x: doubles(d.x), w: doubles(d.w), b: doubles(d.b))
            let dx = Conv64.backwardData(g, dy: doubles(d.dy), w: doubles(d.w))
            let (dw, db) = Conv64.backwardWeights(g, x: doubles(d.x), dy: doubles(d.dy))
            for (name, a, ref) in [("forward", got.y, y), ("backward-data", got.dx, dx),
                                   ("backward-weights", got.dw, dw), ("bias gradient", got.db, db)] {
                let e = relativeError(a, ref)
                #expect(e <= tolerance, "\(label) \(name) \(g): relative error \(e)")
            }
        }
    }

    @Test("oneDNN direct and the reference backend agree with the Float64 convolution to 1e-4")
    func directMatchesReference() throws {
        // Float32 sums of at most a few hundred products of magnitude <= 1: the rounding error
        // measured 5e-7 of the result's scale, so 1e-4 leaves room for any summation order.
        let cpu = try CPUBackend(threads: 2)
        let reference = ReferenceBackend()
        for g in geometries {
            try checkAgainstReference(cpu.makeConvolution(g, algorithm: .direct), tolerance: 1e-4, label: "cpu direct")
            try checkAgainstReference(cpu.makeConvolution(g, algorithm: .auto), tolerance: 1e-4, label: "cpu auto")
            try checkAgainstReference(reference.makeConvolution(g, algorithm: .direct), tolerance: 1e-4, label: "reference")
        }
    }

    @Test("winograd (oneDNN's, or ours where oneDNN has none) agrees with the Float64 convolution to 5e-4")
    func winogradMatchesReference() throws {
        // Winograd F(4x4, 3x3) multiplies in a transformed domain: the tile transforms have
        // entries up to 8 (and 1/24 on the way back), so Float32 rounding is amplified compared
        // with a direct sum, and grows with the channel count. Here it measured 1.3e-6 of the
        // result's scale (direct: 5e-7); 5e-4 leaves room for other CPUs' kernels and is still
        // far below the O(0.1) errors of a wrong tap or offset.
        // (Run with DNNL_MAX_CPU_ISA=AVX2 to take our own Winograd on an AVX-512 machine.)
        let cpu = try CPUBackend(threads: 2)
        for g in geometries {
            let made = try cpu.makeConvolution(g, algorithm: .winograd)
            if made is WinogradConvolution {
                // oneDNN has no Winograd here (or refused the shape): ours runs, under auto too
                // (but for outputs under 32x32 on AVX-512, where auto runs oneDNN's direct kernels).
                #expect(g.kernel == 3 && g.stride == 1 && made.implementation.contains("dip-report"), "\(g)")
                let auto = try cpu.makeConvolution(g, algorithm: .auto)
                let directUnderAuto = CPUBackend.oneDNNHasWinograd && !WinogradConvolution.outrunsOneDNNWinograd(g)
                #expect(directUnderAuto ? auto.algorithm == .direct : auto is WinogradConvolution, "\(g)")
                try checkAgainstReference(made, tolerance: 5e-4, label: "our winograd")
                continue
            }
            if made is PointwiseConvolution {
                // 1x1 stride 1 is a matrix product under every algorithm (checked in `pointwise`).
                #expect(g.kernel == 1 && g.stride == 1 && made.algorithm == .direct, "\(g)")
                continue
            }
            let explicit = try #require(made as? OneDNNConvolution)
            let passes = [explicit.forward, explicit.backwardData, explicit.backwardWeights]
            if g.kernel != 3 || g.stride != 1 {
                #expect(passes.allSatisfy { $0.algorithm == .direct } && !explicit.notes.isEmpty)
            } else {
                #expect(passes.allSatisfy { $0.algorithm == .winograd } && explicit.implementation.contains("winograd"))
            }
            try checkAgainstReference(explicit, tolerance: 5e-4, label: "cpu winograd")
        }
    }

    @Test("1x1 stride-1 convolutions run as matrix products: right across pixel blocks, the same bits on 1, 2 and 3 threads")
    func pointwise() throws {
        // 70x65 = 4550 pixels: five column blocks and two weight-gradient partials, the last of
        // each short (the last block's 454 columns end inside a 16- and a 32-column step); 5 -> 7
        // and 20 -> 13 channels: rows in whole and partial steps of 6 and 8, both ways (and on
        // AVX2, with inner dimensions this short, a group of two steps of 6 and a partial group).
        let products: [PointwiseConvolution.Product] = [.sgemm, .fma(isa: Int32(DIP_POINTWISE_AVX2)),
                                                        .fma(isa: Int32(DIP_POINTWISE_AVX512))].filter(\.runs)
        for (cin, cout) in [(5, 7), (20, 13)] {
            let g = ConvGeometry(inChannels: cin, outChannels: cout, kernel: 1, stride: 1, inputHeight: 70, inputWidth: 65)
            #expect(g.inputHeight * g.inputWidth > PointwiseConvolution.columnBlock)
            #expect(g.inputHeight * g.inputWidth > PointwiseConvolution.reductionBlock)
            var fmaBits: [[UInt32]] = []
            for product in products {
                var bits: [[UInt32]] = []
                for threads in [1, 2, 3] {
                    let cpu = try CPUBackend(threads: threads)
                    for algorithm in ConvAlgorithm.allCases {
                        let kernel = try cpu.makeConvolution(g, algorithm: algorithm)
                        #expect(kernel is PointwiseConvolution && kernel.algorithm == .direct, "\(algorithm)")
                    }
                    let kernel = try PointwiseConvolution(geometry: g, backend: cpu, product: product)
                    // Weight-gradient sums over 4550 pixels: still far below 1e-4 of their scale.
                    try checkAgainstReference(kernel, tolerance: 1e-4, label: "pointwise, \(product), \(threads) threads")
                    bits.append(try ConvResult(kernel, ConvData(g, seed: 9)).bits)
                }
                #expect(bits.allSatisfy { $0 == bits[0] }, "\(product), \(g)")
                if product != .sgemm { fmaBits.append(bits[0]) }
            }
            // The FMA kernels do the same operations in the same order on either width.
            #expect(fmaBits.allSatisfy { $0 == fmaBits[0] }, "\(g)")
        }
        let g = ConvGeometry(inChannels: 5, outChannels: 7, kernel: 1, stride: 1, inputHeight: 70, inputWidth: 65)
        // Each pass's best product here is the one reported; one the CPU lacks is refused, not run.
        let best = try PointwiseConvolution(geometry: g, backend: CPUBackend(threads: 1))
        #expect(best.forwardProduct == .best(rows: 7, inner: 5, forward: true)
                && best.backwardDataProduct == .best(rows: 5, inner: 7, forward: false))
        #expect(best.implementation.contains("\(best.forwardProduct) for forward, \(best.backwardDataProduct) for backward-data"))
        if let missing = [PointwiseConvolution.Product.fma(isa: Int32(DIP_POINTWISE_AVX2)), .fma(isa: Int32(DIP_POINTWISE_AVX512))]
            .first(where: { !$0.runs }) {
            #expect(throws: EngineError.self) { try PointwiseConvolution(geometry: g, backend: CPUBackend(threads: 1), product: missing) }
        }
        // The products run every 1x1 stride-1 layer, wide or narrow; a strided 1x1 is oneDNN's.
        let cpu = try CPUBackend(threads: 2)
        for outChannels in [128, 4] {
            let g = ConvGeometry(inChannels: 128, outChannels: outChannels, kernel: 1, stride: 1, inputHeight: 64, inputWidth: 64)
            #expect(try cpu.makeConvolution(g, algorithm: .auto) is PointwiseConvolution, "\(g)")
        }
        let strided = ConvGeometry(inChannels: 4, outChannels: 4, kernel: 1, stride: 2, inputHeight: 8, inputWidth: 8)
        #expect(!(try cpu.makeConvolution(strided, algorithm: .auto) is PointwiseConvolution))
        #expect(throws: EngineError.self) { try PointwiseConvolution(geometry: strided, backend: CPUBackend(threads: 1)) }
    }

    @Test("the same inputs give the same bits, call after call and kernel after kernel")
    func deterministic() throws {
        for threads in [1, 2] {
            let cpu = try CPUBackend(threads: threads)
            for g in [geometries[1], geometries[6]] {
                for algorithm in [ConvAlgorithm.direct, .winograd] {
                    let d = ConvData(g, seed: 5)
                    let first = try ConvResult(cpu.makeConvolution(g, algorithm: algorithm), d)
                    let kernel = try cpu.makeConvolution(g, algorithm: algorithm)
                    _ = try ConvResult(kernel, ConvData(g, seed: 6))
                    let again = try ConvResult(kernel, d)
                    #expect(first.bits == again.bits, "\(threads) threads, \(algorithm), \(g)")
                }
            }
        }
    }

    @Test("oneDNN's backward-weights reads the forward's kept reordered input only for that input, with the same bits")
    func oneDNNKeptSource() throws {
        let cpu = try CPUBackend(threads: 2)
        var keeping = 0
        for g in [geometries[1], geometries[5], geometries[6]] {
            for algorithm in [ConvAlgorithm.direct, .auto] {
                let (d, other) = (ConvData(g, seed: 11), ConvData(g, seed: 12))
                func make() throws -> OneDNNConvolution { try OneDNNConvolution(geometry: g, algorithm: algorithm, backend: cpu) }
                func weights(_ kernel: OneDNNConvolution, _ x: Tensor, combined: Bool = false) throws -> [UInt32] {
                    let (dw, db, dx) = (Tensor(g.weightDims), Tensor(g.biasDims), Tensor(g.inputDims))
                    if combined {
                        try kernel.backward(input: x, gradOutput: d.dy, weight: d.w, gradWeight: dw, gradBias: db, gradInput: dx)
                    } else {
                        try kernel.backwardWeights(input: x, gradOutput: d.dy, gradWeight: dw, gradBias: db)
                    }
                    return (dw.array + db.array).map(\.bitPattern)
                }
                // Reordered in the pass itself: kernels that never ran forward.
                let fresh = try weights(make(), d.x), freshOther = try weights(make(), other.x)
                let kernel = try make()
                if kernel.keepsForwardInput { keeping += 1 }
                let (x, y) = (Tensor(g.inputDims), Tensor(g.outputDims))
                for combined in [false, true] {
                    x.copy(from: d.x)
                    try kernel.forward(input: x, weight: d.w, bias: d.b, output: y)
                    if kernel.keepsForwardInput { x.copy(from: other.x) }  // what the kept input allows
                    #expect(try weights(kernel, x, combined: combined) == fresh, "\(algorithm) \(g), combined \(combined)")
                    // Used once: then the tensor as it is now.
                    x.copy(from: other.x)
                    #expect(try weights(kernel, x, combined: combined) == freshOther, "\(algorithm) \(g)")
                    // Another tensor than the forward's: never the kept input.
                    try kernel.forward(input: d.x, weight: d.w, bias: d.b, output: y)
                    #expect(try weights(kernel, other.x, combined: combined) == freshOther, "\(algorithm) \(g)")
                }
            }
        }
        // oneDNN reorders inputs of 16 and more channels into its blocked layouts on x86-64.
        #expect(keeping > 0, "no oneDNN kernel kept its input; the test checked nothing")
    }

    @Test("the backend sets oneDNN's OpenMP thread count on whichever thread calls it")
    func threadCount() async throws {
        let one = try CPUBackend(threads: 1)
        let three = try CPUBackend(threads: 3)
        #expect(three.withRuntime { three.openMPMaxThreads } == 3)
        #expect(one.withRuntime { one.openMPMaxThreads } == 1)
        let fromAnotherThread = await Task.detached { three.withRuntime { three.openMPMaxThreads } }.value
        #expect(fromAnotherThread == 3)
        #expect(CPUBackend.oneDNNVersion.hasPrefix("2."))
        #expect(throws: EngineError.self) { try CPUBackend(threads: 0) }
    }

    @Test("wrong tensor shapes and impossible geometries are refused with a shape error")
    func shapeErrors() throws {
        let g = geometries[0]
        let d = ConvData(g, seed: 3)
        for backend in [try CPUBackend(threads: 1), ReferenceBackend()] as [any ComputeBackend] {
            let kernel = try backend.makeConvolution(g, algorithm: .direct)
            #expect(throws: EngineError.self) {
                try kernel.forward(input: d.x, weight: d.w, bias: d.b, output: Tensor([g.outChannels, 1, 1]))
            }
            #expect(throws: EngineError.self) {
                try kernel.backwardData(gradOutput: d.dy, weight: Tensor([1, 1, 3, 3]), gradInput: d.x)
            }
            #expect(throws: EngineError.self) {
                try kernel.backwardWeights(input: d.dy, gradOutput: d.dy, gradWeight: d.w, gradBias: d.b)
            }
            let tooSmall = ConvGeometry(inChannels: 3, outChannels: 4, kernel: 5, stride: 1, inputHeight: 4, inputWidth: 9)
            #expect(throws: EngineError.self) { try backend.makeConvolution(tooSmall, algorithm: .direct) }
        }
    }
}

import DIPCore
import Foundation
import Testing
@testable import DIPEngine

/// The reference backend's kernels, but reporting `threads` so the layers split channels
/// across threads; results must not change.
final class ThreadedReferenceBackend: ComputeBackend {
    let name = "reference-threaded"
    let threads: Int
    init(threads: Int) { self.threads = threads }
    func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any ConvolutionKernel {
        try ReferenceBackend().makeConvolution(geometry, algorithm: algorithm)
    }
}

/// The CPU backend's kernels, saying whether they keep their forward's input as they do, or,
/// with `rereads`, that none does; counts the kernels that say they keep it.
final class KeepingCPUBackend: ComputeBackend, @unchecked Sendable {
    final class Kernel: ForwardingConvolution {
        let keeps: Bool
        init(_ base: any ConvolutionKernel, keeps: Bool) {
            self.keeps = keeps
            super.init(base)
        }
        override var keepsForwardInput: Bool { keeps }
    }
    let cpu: CPUBackend
    let rereads: Bool
    private(set) var keeping = 0
    var name: String { cpu.name }
    var threads: Int { cpu.threads }
    init(threads: Int, rereads: Bool) throws { (cpu, self.rereads) = (try CPUBackend(threads: threads), rereads) }
    func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any ConvolutionKernel {
        let base = try cpu.makeConvolution(geometry, algorithm: algorithm)
        let kernel = Kernel(base, keeps: !rereads && base.keepsForwardInput)
        if kernel.keepsForwardInput { keeping += 1 }
        return kernel
    }
}

/// A small net of `depth` levels of `channels` channels (nearest, stride, 1x1 up).
func tinyConfig(depth: Int = 5, channels: Int = 4, skip: Int = 2, inputChannels: Int = 3) -> SkipConfig {
    SkipConfig.uniform(depth: depth, channels: channels, skip: skip, inputChannels: inputChannels, outputChannels: 3)
}

/// A uniform input code for `net` at height x width.
func inputCode(_ config: SkipConfig, _ h: Int, _ w: Int, seed: UInt64 = 99) -> Tensor {
    randomTensor([config.inputChannels, h, w], seed: seed, low: 0, high: 0.1)
}

@Suite("Skip network")
struct SkipNetworkTests {
    /// key -> (dims, isBuffer) rows of an upstream TSV; "scalar" is our one-element tensor.
    func parse(_ tsv: String) -> [(String, [Int], Bool)] {
        tsv.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: "\t").map(String.init)
            let dims = f[1] == "scalar" ? [1] : f[1].split(separator: "x").map { Int($0)! }
            return (f[0], dims, f[2] == "buffer")
        }
    }

    @Test("keys, order and shapes equal upstream's state_dict for table1 (gray) and text (RGB)",
          arguments: [("table1", 1), ("text", 3)])
    func upstreamKeys(preset: String, outputChannels: Int) throws {
        let net = try SkipNetwork(config: .preset(preset, outputChannels: outputChannels), backend: ReferenceBackend(), seed: 1)
        let expected = parse(preset == "table1" ? UpstreamKeyTSV.table1Gray : UpstreamKeyTSV.textRGB)
        #expect(net.tensors.count == expected.count)
        for (t, (key, dims, isBuffer)) in zip(net.tensors, expected) {
            #expect(t.key == key)
            #expect(t.value.dims == dims, "\(key)")
            #expect(t.isBuffer == isBuffer, "\(key)")
            #expect((t.gradient == nil) == isBuffer, "\(key)")
        }
    }

    @Test("parameter counts of every preset equal docs/semantics.md §4.3")
    func parameterCounts() throws {
        let expected: [(String, Int, Int)] = [
            ("table1", 1, 2_217_573), ("table1", 3, 2_217_831), ("text", 3, 3_002_627), ("vase", 3, 2_157_955),
            ("library-depth6", 3, 2_996_467), ("library-depth4", 3, 1_060_339), ("library-depth2", 3, 59_635),
            ("restoration-kate", 3, 1_027_379),
        ]
        for (name, out, count) in expected {
            let net = try SkipNetwork(config: .preset(name, outputChannels: out), backend: ReferenceBackend(), seed: 0)
            #expect(net.parameterCount == count, "\(name) with \(out) output channels")
        }
    }

    @Test("MACs per forward pass equal docs/semantics.md §4.3 (512² figures, from 64² times 64)")
    func macs() throws {
        // At 64² every level's size is exactly 512²'s divided by 8, so MACs scale by 64.
        for (name, out, gigaMACs) in [("text", 3, 129.80), ("table1", 1, 77.43), ("restoration-kate", 3, 7.58)] {
            let net = try SkipNetwork(config: .preset(name, outputChannels: out), backend: ReferenceBackend(), seed: 0)
            try net.prepare(height: 64, width: 64)
            let g = Double(net.macsPerForward * 64) / 1e9
            #expect(abs(g - gigaMACs) < 0.005, "\(name): \(g) G")
            #expect(net.convolutions.first?.key == (name == "restoration-kate" ? "1.1" : "1.0.1"))
        }
    }

    @Test("output is [Cout, H, W] in (0, 1) at 64x64 and at 66x66 (the concat crop path)")
    func shapes() throws {
        let config = tinyConfig()
        for n in [64, 66] {
            let net = try SkipNetwork(config: config, backend: ReferenceBackend(), seed: 3)
            try net.prepare(height: n, width: n)
            let y = try net.forward(inputCode(config, n, n))
            #expect(y.dims == [3, n, n])
            #expect(y.array.allSatisfy { $0 > 0 && $0 < 1 })
        }
    }

    @Test("sizes that do not fit are refused with a message naming sizes that work")
    func badSizes() throws {
        let noSkip = try SkipNetwork(config: tinyConfig(skip: 0), backend: ReferenceBackend(), seed: 1)
        do {
            try noSkip.prepare(height: 66, width: 64)
            Issue.record("66 rows should not fit a skip-free depth-5 net")
        } catch let EngineError.shape(message) {
            // One size rule, NetworkSummary's, with its message: sizes WIDTHxHEIGHT like every size the tool prints.
            #expect(message.contains("input 64x66") && message.contains("height 64 or 96 would work")
                    && message.contains("multiples of 32 (2^depth) from 64 up"), "\(message)")
        }
        try noSkip.prepare(height: 96, width: 64)
        let withSkip = try SkipNetwork(config: tinyConfig(), backend: ReferenceBackend(), seed: 1)
        #expect(throws: EngineError.self) { try withSkip.prepare(height: 32, width: 64) }
        let avg = try SkipNetwork(config: .preset("restoration-kate", outputChannels: 3), backend: ReferenceBackend(), seed: 1)
        #expect(throws: EngineError.self) { try avg.prepare(height: 65, width: 64) }
    }

    @Test("misuse is an error, not a crash: wrong input code, backward before forward")
    func misuse() throws {
        let config = tinyConfig(depth: 2)
        let net = try SkipNetwork(config: config, backend: ReferenceBackend(), seed: 1)
        #expect(throws: EngineError.self) { try net.forward(inputCode(config, 8, 8)) }
        try net.prepare(height: 8, width: 8)
        #expect(throws: EngineError.self) { try net.backward(gradOutput: Tensor([3, 8, 8])) }
        #expect(throws: EngineError.self) { try net.forward(inputCode(config, 8, 12)) }
        _ = try net.forward(inputCode(config, 8, 8))
        #expect(throws: EngineError.self) { try net.backward(gradOutput: Tensor([1, 8, 8])) }
        // The backward writes gradients over the forward's saved activations: one per forward.
        try net.backward(gradOutput: Tensor([3, 8, 8]))
        #expect(throws: EngineError.self) { try net.backward(gradOutput: Tensor([3, 8, 8])) }
    }

    @Test("same seed: identical weights, outputs and gradients, on 1 or 3 threads; another seed differs")
    func determinism() throws {
        let config = tinyConfig(depth: 3)
        func run(seed: UInt64, threads: Int) throws -> [[Float]] {
            let net = try SkipNetwork(config: config, backend: ThreadedReferenceBackend(threads: threads), seed: seed)
            try net.prepare(height: 18, width: 17)
            let y = try net.forward(inputCode(config, 18, 17)).array
            try net.backward(gradOutput: randomTensor([3, 18, 17], seed: 5))
            return [y] + net.tensors.map(\.value.array) + net.tensors.compactMap { $0.gradient?.array }
        }
        let a = try run(seed: 7, threads: 1)
        #expect(a == (try run(seed: 7, threads: 1)))
        #expect(a == (try run(seed: 7, threads: 3)))
        #expect(a[1] != (try run(seed: 8, threads: 1))[1])
    }

    @Test("init: conv weights and biases in ±1/sqrt(fan_in), gamma U(0,1) or 1, beta 0, running stats 0/1")
    func initialisation() throws {
        for gammaInit in GammaInit.allCases {
            let net = try SkipNetwork(config: .preset("table1", outputChannels: 1), backend: ReferenceBackend(),
                                      gammaInit: gammaInit, seed: 11)
            var convs = net.tensors.makeIterator()
            var gammas: [Float] = []
            while let t = convs.next() {
                let v = t.value.array
                if t.key.hasSuffix(".1.weight") {
                    let fanIn = t.value.dims[1...].reduce(1, *)
                    let bound = 1 / Float(fanIn).squareRoot()
                    guard let bias = convs.next() else { Issue.record("\(t.key) has no bias"); return }
                    #expect(bias.key.hasSuffix(".1.bias"))
                    #expect(v.allSatisfy { abs($0) <= bound } && bias.value.array.allSatisfy { abs($0) <= bound }, "\(t.key)")
                    if v.count > 1000 { #expect(v.map(abs).max()! > 0.99 * bound && abs(v.reduce(0, +) / Float(v.count)) < 0.05 * bound) }
                } else if t.key.hasSuffix(".weight") {
                    gammas += v
                } else if t.key.hasSuffix(".bias") || t.key.hasSuffix("running_mean") || t.key.hasSuffix("tracked") {
                    #expect(v.allSatisfy { $0 == 0 }, "\(t.key)")
                } else if t.key.hasSuffix("running_var") {
                    #expect(v.allSatisfy { $0 == 1 }, "\(t.key)")
                }
            }
            switch gammaInit {
            case .one: #expect(gammas.allSatisfy { $0 == 1 })
            case .uniform:
                #expect(gammas.allSatisfy { $0 >= 0 && $0 < 1 })
                #expect(abs(gammas.reduce(0, +) / Float(gammas.count) - 0.5) < 0.02)
            }
        }
    }

    /// d/dp of L = sum(w * net(z)) by central differences on the Float32 network, against
    /// backward, for two elements of every parameter tensor.
    ///
    /// Why these steps and this tolerance: L sums ~300 Float32 outputs and carries rounding noise
    /// of about 1e-6, so a step h adds noise of ~1e-6 / h to the quotient (tolerance 2e-6 / h);
    /// the network is only piecewise smooth (LeakyReLU kinks, amplified by BatchNorm over 4 to 9
    /// pixels at the deepest level), so a step that straddles a kink is wrong by O(1). A
    /// parameter passes if the quotient agrees within 2e-6 / h + 2e-2 |analytic| for one of
    /// h = 1e-3, 3e-4, 1e-4: a correct backward always meets that at a step small enough to
    /// miss the kinks, while a wrong backward (a dropped term, a wrong index) fails at every step.
    @Test("convolutions that keep their input share one padded buffer: the same outputs and gradients as kernels that read it again")
    func sharedPaddedInputs() throws {
        // 16 channels and up: oneDNN reorders the inputs and keeps them (our Winograd always does).
        let config = SkipConfig.uniform(depth: 3, channels: 16, skip: 4, inputChannels: 16, outputChannels: 3)
        func run(rereads: Bool, algorithm: ConvAlgorithm, h: Int, w: Int) throws -> (values: [[UInt32]], keeping: Int) {
            let backend = try KeepingCPUBackend(threads: 2, rereads: rereads)
            let net = try SkipNetwork(config: config, backend: backend, convAlgorithm: algorithm, seed: 3)
            try net.prepare(height: h, width: w)
            var values: [[Float]] = []
            for step in 0..<2 {
                // A forward without a backward in between, as a fit's PSNR sample does.
                values.append(try net.forward(inputCode(config, h, w, seed: 40)).array)
                values.append(try net.forward(inputCode(config, h, w, seed: 41 + UInt64(step))).array)
                try net.backward(gradOutput: randomTensor([3, h, w], seed: 50 + UInt64(step)))
                values += net.tensors.compactMap { $0.gradient?.array }
            }
            return (values.map { $0.map(\.bitPattern) }, backend.keeping)
        }
        // 19x21 takes the concat's crop path (odd sizes at every level).
        for (h, w) in [(20, 22), (19, 21)] {
            for algorithm in [ConvAlgorithm.direct, .auto] {
                let shared = try run(rereads: false, algorithm: algorithm, h: h, w: w)
                let own = try run(rereads: true, algorithm: algorithm, h: h, w: w)
                #expect(shared.keeping > 0, "\(algorithm): no kernel kept its input; the test checked nothing")
                #expect(own.keeping == 0)
                // The first tensor that differs, not every bit of both runs.
                let differing = shared.values.indices.first { $0 >= own.values.count || shared.values[$0] != own.values[$0] }
                #expect(shared.values.count == own.values.count && differing == nil,
                        "\(h)x\(w) \(algorithm): value \(differing ?? -1) differs")
            }
        }
    }

    @Test("whole-network gradient against finite differences (crop path, avg pool, bilinear, 5x5, Cin 32/2/1)",
          arguments: [0, 1, 2])
    func gradientCheck(variant: Int) throws {
        let (config, h, w): (SkipConfig, Int, Int) = switch variant {
        case 0: (SkipConfig(inputChannels: 32, outputChannels: 3, down: [3, 4], up: [4, 3], skip: [2, 2]), 10, 9)
        case 1: (SkipConfig(inputChannels: 2, outputChannels: 1, down: [3, 3], up: [3, 3], skip: [0, 0],
                            upsampling: .bilinear(alignCorners: false), downsampling: .avgPool), 8, 8)
        default: (SkipConfig(inputChannels: 1, outputChannels: 3, down: [3, 4], up: [3, 4], skip: [0, 0], kernelDown: 5,
                             upsampling: .bilinear(alignCorners: true), need1x1Up: false), 16, 12)
        }
        let net = try SkipNetwork(config: config, backend: ReferenceBackend(), seed: 21)
        try net.prepare(height: h, width: w)
        let z = inputCode(config, h, w)
        let weights = randomTensor([config.outputChannels, h, w], seed: 22)
        func loss() throws -> Double {
            let y = try net.forward(z)
            return zip(y.array, weights.array).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        _ = try loss()
        try net.backward(gradOutput: weights)
        let steps: [Float] = [1e-3, 3e-4, 1e-4]
        var checked = 0, retried = 0
        for t in net.tensors where !t.isBuffer {
            let analytic = t.gradient?.array ?? []
            for i in Set([0, t.value.count / 2]).sorted() {
                let p = t.value.pointer, saved = p[i]
                let a = Double(analytic[i])
                var quotients: [Double] = []
                for step in steps {
                    p[i] = saved + step
                    let up = try loss()
                    p[i] = saved - step
                    let down = try loss()
                    p[i] = saved
                    quotients.append((up - down) / Double(2 * step))
                    if abs(quotients.last! - a) <= 2e-6 / Double(step) + 2e-2 * abs(a) { break }
                }
                let step = steps[quotients.count - 1], numeric = quotients.last!
                #expect(abs(numeric - a) <= 2e-6 / Double(step) + 2e-2 * abs(a),
                        "\(t.key)[\(i)]: backward \(a), difference quotients \(quotients) for steps \(steps)")
                if quotients.count > 1 { retried += 1 }
                checked += 1
            }
        }
        #expect(checked >= 20)
        // Kinks are the exception: most parameters pass at the first step.
        #expect(retried * 3 < checked, "\(retried) of \(checked) needed a smaller step")
    }
}

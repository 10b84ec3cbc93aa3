import DIPCore
import Testing
@testable import DIPEngine

/// StrideTwoWinograd: 3x3 stride-2 convolutions by F(6x6, 2x2) over the input's four phases,
/// made directly (CPUBackend chooses it only for large layers below AVX-512).
@Suite("Stride-2 convolutions by Winograd F(6x6,2x2) over the input's phases")
struct StrideTwoWinogradTests {
    /// Inputs of odd and even sides (the last row and column read by an output or not), one
    /// output and many, channel counts off the 8 lanes, rows wider than the phase split's 48.
    static let geometries: [ConvGeometry] = [
        ConvGeometry(inChannels: 3, outChannels: 5, kernel: 3, stride: 2, inputHeight: 9, inputWidth: 9),
        ConvGeometry(inChannels: 17, outChannels: 16, kernel: 3, stride: 2, inputHeight: 14, inputWidth: 13),
        ConvGeometry(inChannels: 8, outChannels: 11, kernel: 3, stride: 2, inputHeight: 38, inputWidth: 43),
        ConvGeometry(inChannels: 2, outChannels: 1, kernel: 3, stride: 2, inputHeight: 3, inputWidth: 4),
        ConvGeometry(inChannels: 5, outChannels: 7, kernel: 3, stride: 2, inputHeight: 20, inputWidth: 130),
        ConvGeometry(inChannels: 33, outChannels: 20, kernel: 3, stride: 2, inputHeight: 66, inputWidth: 66),
    ]

    @Test("forward, backward-data and backward-weights match the reference loops to 1e-4 of the result's scale",
          arguments: geometries)
    func matchesReference(_ g: ConvGeometry) throws {
        // F(6x6, 2x2)'s rounding over 4 Cin channels (WinogradTests: at most about 1e-5 of the
        // scale); the phases' split, the filters' arrangement and the merges are exact moves.
        let cpu = try CPUBackend(threads: 2)
        let reference = try ReferenceBackend().makeConvolution(g, algorithm: .direct)
        for kernel in try [nil, 1, 3].map({ try StrideTwoWinograd(geometry: g, backend: cpu, rowsPerBand: $0) }) {
            for seed: UInt64 in [1, 2] {
                let d = WinogradTests.Data(g, seed: seed)
                let got = try WinogradTests.run(kernel, d), want = try WinogradTests.run(reference, d)
                for (k, name) in ["forward", "backward-data", "backward-weights", "bias gradient"].enumerated() {
                    let e = WinogradTests.relativeError(got[k], want[k])
                    #expect(e <= 1e-4, "\(name) \(g): relative error \(e)")
                }
                // Rows and columns no output reads have an exact zero gradient, as directly.
                let (h, w) = (g.inputHeight, g.inputWidth)
                for c in 0..<g.inChannels {
                    for y in 0..<h {
                        for x in 0..<w where y > 2 * g.outputHeight || x > 2 * g.outputWidth {
                            #expect(got[1][(c * h + y) * w + x] == 0, "\(g): gradient at (\(c), \(y), \(x))")
                        }
                    }
                }
            }
        }
    }

    @Test("the same bits call after call and for 1, 2 and 3 threads; portable and AVX2 transforms agree")
    func deterministic() throws {
        for g in [Self.geometries[2], Self.geometries[5]] {
            let d = WinogradTests.Data(g, seed: 5)
            var results: [[UInt32]] = []
            for threads in [1, 2, 3] {
                let kernel = try StrideTwoWinograd(geometry: g, backend: CPUBackend(threads: threads), rowsPerBand: 2)
                let first = try WinogradTests.run(kernel, d)
                _ = try WinogradTests.run(kernel, WinogradTests.Data(g, seed: 6))
                #expect(try WinogradTests.run(kernel, d) == first, "\(threads) threads, \(g)")
                results.append(first.joined().map(\.bitPattern))
            }
            #expect(results.allSatisfy { $0 == results[0] }, "\(g)")
            guard WinogradKernels.avx2.runs(on: HostCPU.flags) else { continue }
            let cpu = try CPUBackend(threads: 2)
            let portable = try StrideTwoWinograd(geometry: g, backend: cpu, rowsPerBand: 2, kernels: .portable)
            let avx2 = try StrideTwoWinograd(geometry: g, backend: cpu, rowsPerBand: 2, kernels: .avx2)
            #expect(try WinogradTests.run(portable, d) == WinogradTests.run(avx2, d), "\(g)")
        }
    }

    @Test("backward-weights reads the forward's kept tiles only for that input, also after backward-data")
    func keptInput() throws {
        let g = Self.geometries[2], cpu = try CPUBackend(threads: 2)
        let (d, other) = (WinogradTests.Data(g, seed: 7), WinogradTests.Data(g, seed: 8))
        func weights(_ kernel: StrideTwoWinograd, _ x: Tensor) throws -> [UInt32] {
            let (dw, db) = (Tensor(g.weightDims), Tensor(g.biasDims))
            try kernel.backwardWeights(input: x, gradOutput: d.dy, gradWeight: dw, gradBias: db)
            return (dw.array + db.array).map(\.bitPattern)
        }
        // Split and transformed in the pass itself: kernels that never ran forward.
        let fresh = try weights(StrideTwoWinograd(geometry: g, backend: cpu), d.x)
        let freshOther = try weights(StrideTwoWinograd(geometry: g, backend: cpu), other.x)
        let kernel = try StrideTwoWinograd(geometry: g, backend: cpu)
        let (x, y) = (Tensor(g.inputDims), Tensor(g.outputDims))
        x.copy(from: d.x)
        try kernel.forward(input: x, weight: d.w, bias: d.b, output: y)
        // The input gradient goes through the phases' memory first; the kept tiles stay right.
        try kernel.backwardData(gradOutput: d.dy, weight: d.w, gradInput: Tensor(g.inputDims))
        #expect(try weights(kernel, x) == fresh)
        // Used once: after that the same tensor, changed, is split again.
        x.copy(from: other.x)
        #expect(try weights(kernel, x) == freshOther)
        // Another tensor than the forward's: its own phases, never the kept tiles.
        try kernel.forward(input: d.x, weight: d.w, bias: d.b, output: y)
        #expect(try weights(kernel, other.x) == freshOther)
        // The bias gradient left to the caller: the same weight gradient, the bias untouched.
        try kernel.forward(input: d.x, weight: d.w, bias: d.b, output: y)
        let (dw, db) = (Tensor(g.weightDims), Tensor(g.biasDims, values: Array(repeating: 42, count: g.outChannels)))
        try kernel.backwardWeights(input: d.x, gradOutput: d.dy, gradWeight: dw, keepingSummedBias: db)
        #expect(dw.array.map(\.bitPattern) == Array(fresh.prefix(dw.count)) && db.array.allSatisfy { $0 == 42 })
    }

    @Test("selection: for stride-2 layers with destinations of 128x128 or more on every ISA, never for direct or other shapes")
    func selection() throws {
        let cpu = try CPUBackend(threads: 1)
        let large = ConvGeometry(inChannels: 8, outChannels: 8, kernel: 3, stride: 2, inputHeight: 258, inputWidth: 258)
        let small = ConvGeometry(inChannels: 8, outChannels: 8, kernel: 3, stride: 2, inputHeight: 130, inputWidth: 258)
        #expect(StrideTwoWinograd.pays(large) && !StrideTwoWinograd.pays(small))
        for algorithm in [ConvAlgorithm.auto, .winograd] {
            let kernel = try cpu.makeConvolution(large, algorithm: algorithm)
            #expect(kernel is StrideTwoWinograd, "\(algorithm) on \(CPUBackend.effectiveISA)")
            #expect(!(try cpu.makeConvolution(small, algorithm: algorithm) is StrideTwoWinograd))
        }
        #expect(!(try cpu.makeConvolution(large, algorithm: .direct) is StrideTwoWinograd))
        let ours = try #require(try cpu.makeConvolution(large, algorithm: .auto) as? StrideTwoWinograd)
        #expect(ours.algorithm == .winograd && ours.implementation.hasPrefix("winograd F(6x6,2x2) over the input's four phases"))
        #expect(throws: EngineError.self) { try StrideTwoWinograd(geometry: WinogradTests.geometries[1], backend: cpu) }
    }
}

import CWinograd
import DIPCore
import Testing
@testable import DIPEngine

/// Our Winograd F(4x4, 3x3), F(6x6, 3x3), F(8x8, 3x3) and F(6x6, 2x2) kernels (WinogradConvolution), made
/// directly rather than through CPUBackend's choice, so these tests run whatever instruction set
/// oneDNN has here.
@Suite("Winograd F(4x4,3x3), F(6x6,3x3), F(8x8,3x3) and F(6x6,2x2) kernels")
struct WinogradTests {
    /// Odd channel counts (not multiples of the 8 lanes), sizes that are not multiples of the
    /// 4x4, 6x6 or 8x8 tile (partial tiles at the right and bottom), one tile and many, a single
    /// row or column of tiles, and rows of more than 48 and 64 columns (whole blocks of the phase
    /// splits by six and eight, and partial ones).
    static let geometries: [ConvGeometry] = [
        ConvGeometry(inChannels: 3, outChannels: 5, kernel: 3, stride: 1, inputHeight: 7, inputWidth: 9),
        ConvGeometry(inChannels: 17, outChannels: 16, kernel: 3, stride: 1, inputHeight: 13, inputWidth: 10),
        ConvGeometry(inChannels: 9, outChannels: 11, kernel: 3, stride: 1, inputHeight: 43, inputWidth: 38),
        ConvGeometry(inChannels: 2, outChannels: 1, kernel: 3, stride: 1, inputHeight: 3, inputWidth: 3),
        ConvGeometry(inChannels: 1, outChannels: 2, kernel: 3, stride: 1, inputHeight: 4, inputWidth: 75),
        ConvGeometry(inChannels: 64, outChannels: 40, kernel: 3, stride: 1, inputHeight: 22, inputWidth: 19),
        ConvGeometry(inChannels: 5, outChannels: 7, kernel: 3, stride: 1, inputHeight: 15, inputWidth: 103),
    ]

    /// 2x2 stride-1 convolutions for F(6x6, 2x2), as StrideTwoWinograd makes them: the same
    /// kinds of shapes, and destinations whose width is a multiple of 6 (the last tile's
    /// rightmost input feeds a kept output, so its row takes one more position) or not.
    static let geometries2x2: [ConvGeometry] = [
        ConvGeometry(inChannels: 12, outChannels: 5, kernel: 2, stride: 1, inputHeight: 7, inputWidth: 9),
        ConvGeometry(inChannels: 17, outChannels: 16, kernel: 2, stride: 1, inputHeight: 13, inputWidth: 13),
        ConvGeometry(inChannels: 36, outChannels: 11, kernel: 2, stride: 1, inputHeight: 43, inputWidth: 38),
        ConvGeometry(inChannels: 2, outChannels: 1, kernel: 2, stride: 1, inputHeight: 2, inputWidth: 2),
        ConvGeometry(inChannels: 4, outChannels: 2, kernel: 2, stride: 1, inputHeight: 4, inputWidth: 75),
        ConvGeometry(inChannels: 64, outChannels: 40, kernel: 2, stride: 1, inputHeight: 22, inputWidth: 19),
        ConvGeometry(inChannels: 20, outChannels: 7, kernel: 2, stride: 1, inputHeight: 15, inputWidth: 103),
    ]

    /// The geometries a tile runs: 3x3 or 2x2.
    static func geometries(for tile: WinogradTile) -> [ConvGeometry] { tile.filterSize == 2 ? geometries2x2 : geometries }

    /// Every geometry with each tile that runs it.
    static let cases: [(WinogradTile, ConvGeometry)] = WinogradTile.allCases.flatMap { t in geometries(for: t).map { (t, $0) } }
    /// The 3x3 ones: the reflection pad's fold and the normalized input serve 3x3 layers only.
    static let threeByThreeCases = cases.filter { $0.0.filterSize == 3 }

    /// Uniform(-1, 1) inputs drawn from the auxiliary stream of `seed`.
    struct Data {
        let x, w, b, dy: Tensor
        init(_ g: ConvGeometry, seed: UInt64) {
            func random(_ dims: [Int], _ substream: UInt64) -> Tensor {
                let t = Tensor(dims)
                RandomStream(seed: seed, purpose: .auxiliary, substream: substream).fillUniform(t.buffer, low: -1, high: 1)
                return t
            }
            (x, w, b, dy) = (random(g.inputDims, 1), random(g.weightDims, 2), random(g.biasDims, 3), random(g.outputDims, 4))
        }
    }

    /// The four results of one kernel on `d`, outputs prefilled with garbage (every call must
    /// overwrite them).
    static func run(_ kernel: any ConvolutionKernel, _ d: Data) throws -> [[Float]] {
        let g = kernel.geometry
        let (y, dx, dw, db) = (Tensor(g.outputDims), Tensor(g.inputDims), Tensor(g.weightDims), Tensor(g.biasDims))
        for t in [y, dx, dw, db] { t.buffer.update(repeating: .nan) }
        try kernel.forward(input: d.x, weight: d.w, bias: d.b, output: y)
        try kernel.backwardData(gradOutput: d.dy, weight: d.w, gradInput: dx)
        try kernel.backwardWeights(input: d.x, gradOutput: d.dy, gradWeight: dw, gradBias: db)
        return [y.array, dx.array, dw.array, db.array]
    }

    /// max |a - ref| / max |ref|, infinite when `a` has a NaN (an element left unwritten).
    static func relativeError(_ a: [Float], _ ref: [Float]) -> Double {
        var err = 0.0, scale = 0.0
        for (p, q) in zip(a, ref) {
            if !p.isFinite { return .infinity }
            err = max(err, abs(Double(p) - Double(q)))
            scale = max(scale, abs(Double(q)))
        }
        return err / max(scale, 1e-30)
    }

    @Test("forward, backward-data and backward-weights match the reference loops to 1e-4 of the result's scale",
          arguments: cases)
    func matchesReference(_ tile: WinogradTile, _ g: ConvGeometry) throws {
        // Winograd F(4x4, 3x3) in Float32: the transforms have entries up to 8 (5 in Bᵀ, 1/24
        // in G), so each transformed product carries rounding a few tens of ulps of the tile's
        // scale, and the inverse transform adds it up over 36 elements. Measured here against
        // the Float32 reference loops (themselves ~5e-7 from Float64): at most 5.3e-6 forward,
        // 4.4e-6 backward-data, 2.7e-6 backward-weights, 9e-7 bias gradient. 1e-4 leaves room
        // for larger channel counts and is far below the O(0.1) error of a wrong tap, offset or
        // tile. F(6x6, 3x3) has larger entries (32 in Aᵀ, 5.25 in Bᵀ) and sums 64 elements:
        // measured at most 7.8e-6 forward, 8.0e-6 backward-data, 4.3e-6 backward-weights.
        // F(6x6, 2x2) (entries up to 32 in Aᵀ, 5.25 in Bᵀ, 49 elements): at most 9.7e-6 forward,
        // 7.6e-6 backward-data, 5.3e-6 backward-weights.
        let cpu = try CPUBackend(threads: 2)
        let reference = try ReferenceBackend().makeConvolution(g, algorithm: .direct)
        // Small chunks, so the chunked products and the dU accumulation across chunks run too;
        // bands of 1, 2 and 3 tile rows (with and without a position between rows, the last
        // band short or not), whatever the preferred one is.
        let kernels = try [nil, 1, 2, 3].map { try WinogradConvolution(geometry: g, backend: cpu, tile: tile, rowsPerBand: $0) }
            + [try WinogradConvolution(geometry: g, backend: cpu, tile: tile, chunkBytes: 1)]
        for kernel in kernels {
            for seed: UInt64 in [1, 2] {
                let d = Data(g, seed: seed)
                let got = try Self.run(kernel, d), want = try Self.run(reference, d)
                for (k, name) in ["forward", "backward-data", "backward-weights", "bias gradient"].enumerated() {
                    let e = Self.relativeError(got[k], want[k])
                    #expect(e <= 1e-4, "\(tile) \(name) \(g): relative error \(e)")
                }
            }
        }
    }

    @Test("the same bits call after call, kernel after kernel, and for 1, 2 and 3 threads")
    func deterministic() throws {
        for (tile, g) in WinogradTile.allCases.flatMap({ t in [(t, Self.geometries(for: t)[2]), (t, Self.geometries(for: t)[5])] }) {
            let d = Data(g, seed: 5)
            var results: [[UInt32]] = []
            for threads in [1, 1, 2, 2, 3] {
                let kernel = try WinogradConvolution(geometry: g, backend: CPUBackend(threads: threads), tile: tile, rowsPerBand: 2)
                let first = try Self.run(kernel, d)
                _ = try Self.run(kernel, Data(g, seed: 6))
                let again = try Self.run(kernel, d)
                #expect(first == again, "\(threads) threads, \(g)")
                results.append(first.joined().map(\.bitPattern))
            }
            // Each band of tile rows (forward, backward-data) or product (backward-weights) runs
            // on one thread and the other transforms are split by channel, so the thread count
            // does not change a single sum, also when the bands do not split evenly.
            #expect(results.allSatisfy { $0 == results[0] }, "\(tile) \(g)")
        }
    }

    @Test("backward-weights uses the forward's transformed input only for that input, with the same bits",
          arguments: WinogradTile.allCases)
    func keptSource(_ tile: WinogradTile) throws {
        let g = Self.geometries(for: tile)[2], cpu = try CPUBackend(threads: 2)
        let (d, other) = (Data(g, seed: 7), Data(g, seed: 8))
        func weights(_ kernel: WinogradConvolution, _ x: Tensor) throws -> [UInt32] {
            let (dw, db) = (Tensor(g.weightDims), Tensor(g.biasDims))
            try kernel.backwardWeights(input: x, gradOutput: d.dy, gradWeight: dw, gradBias: db)
            return (dw.array + db.array).map(\.bitPattern)
        }
        for chunkBytes in [WinogradTiling.defaultChunkBytes, 1] {
            // Transformed in the pass itself: a kernel that never ran forward.
            let fresh = try weights(WinogradConvolution(geometry: g, backend: cpu, tile: tile, chunkBytes: chunkBytes), d.x)
            let freshOther = try weights(WinogradConvolution(geometry: g, backend: cpu, tile: tile, chunkBytes: chunkBytes), other.x)
            let kernel = try WinogradConvolution(geometry: g, backend: cpu, tile: tile, chunkBytes: chunkBytes)
            let (x, y) = (Tensor(g.inputDims), Tensor(g.outputDims))
            x.copy(from: d.x)
            try kernel.forward(input: x, weight: d.w, bias: d.b, output: y)
            #expect(try weights(kernel, x) == fresh, "kept tiles, chunks of \(chunkBytes) bytes")
            // Used once: after that the same tensor, changed, is transformed again.
            x.copy(from: other.x)
            #expect(try weights(kernel, x) == freshOther)
            // Another tensor than the forward's: its own tiles, never the kept ones.
            try kernel.forward(input: d.x, weight: d.w, bias: d.b, output: y)
            #expect(try weights(kernel, other.x) == freshOther)
        }
    }

    @Test("the kept position-major copy (dip_stream_transposed) is the transpose, every float of the run and nothing beside it")
    func streamTransposed() {
        // Rows (channels) past a 4-row block and past the 512-row block, positions past a group
        // of 8 (43 and 22: F(6x6, 3x3)'s bands at 258 and 130 columns); runs that start anywhere
        // in a 64-byte line and span none, part of one, or several whole lines.
        let sentinel = Float(-7.5)
        for (rows, count) in [(1, 1), (3, 5), (4, 8), (7, 9), (132, 43), (128, 22), (513, 17), (1030, 8)] {
            for offset in 0..<16 {
                let stride = count + 5, total = rows * count
                let src = (0..<(rows * stride)).map { Float($0) * 0.25 + 1 }
                let storage = UnsafeMutableRawPointer.allocate(byteCount: (total + 64) * 4, alignment: 64)
                defer { storage.deallocate() }
                let all = storage.bindMemory(to: Float.self, capacity: total + 64)
                all.initialize(repeating: sentinel, count: total + 64)
                dip_stream_transposed(src, stride, rows, count, all + offset)
                var expected = [Float](repeating: sentinel, count: total + 64)
                for r in 0..<rows { for k in 0..<count { expected[offset + k * rows + r] = src[r * stride + k] } }
                let written = Array(UnsafeBufferPointer(start: all, count: total + 64))
                #expect(written == expected, "\(rows) rows of \(count), offset \(offset)")
            }
        }
    }

    @Test("backward-data folding the reflection pad: the bits of backward-data then ReflectionPad.backward",
          arguments: threeByThreeCases)
    func foldsReflectionPad(_ tile: WinogradTile, _ g: ConvGeometry) throws {
        let unpadded = FeatureShape(channels: g.inChannels, height: g.inputHeight - 2, width: g.inputWidth - 2)
        let d = Data(g, seed: 9)
        guard unpadded.height > 2, unpadded.width > 2 else {
            // Nothing left to fold onto: a clear error, not a trap.
            let kernel = try WinogradConvolution(geometry: g, backend: CPUBackend(threads: 1), tile: tile)
            #expect(!kernel.foldsReflectionPad(1))
            #expect(throws: EngineError.self) {
                try kernel.backwardData(gradOutput: d.dy, weight: d.w, foldingReflectionPad: 1,
                                        into: Tensor([g.inChannels, max(unpadded.height, 1), max(unpadded.width, 1)]))
            }
            return
        }
        let pad = ReflectionPad(pad: 1, parallel: ChannelParallel(threads: 1))
        try pad.prepare(inputShape: unpadded)
        // Bands of 1 to 3 tile rows on 1 to 3 threads: the bottom border row and the row it
        // reflects onto fall in one band or in two, on one thread or two.
        for (rows, threads) in [(nil, 2), (1, 1), (1, 3), (2, 2), (3, 3)] as [(Int?, Int)] {
            let kernel = try WinogradConvolution(geometry: g, backend: CPUBackend(threads: threads), tile: tile, rowsPerBand: rows)
            #expect(kernel.foldsReflectionPad(1))
            let padded = Tensor(g.inputDims)
            try kernel.backwardData(gradOutput: d.dy, weight: d.w, gradInput: padded)
            let want = pad.backward(padded).array.map(\.bitPattern)
            let folded = Tensor(unpadded.dims)
            folded.buffer.update(repeating: .nan)
            try kernel.backwardData(gradOutput: d.dy, weight: d.w, foldingReflectionPad: 1, into: folded)
            #expect(folded.array.map(\.bitPattern) == want, "\(tile) \(g), \(rows.map(String.init) ?? "preferred") rows a band, \(threads) threads")
        }
        // The unpadded gradient's shape is checked.
        let kernel = try WinogradConvolution(geometry: g, backend: CPUBackend(threads: 1), tile: tile)
        #expect(throws: EngineError.self) {
            try kernel.backwardData(gradOutput: d.dy, weight: d.w, foldingReflectionPad: 1, into: Tensor(g.inputDims))
        }
    }

    @Test("forward of a BatchNorm's output built row by row (NormalizesItsInput): the bits of BatchNorm, pad, then forward",
          arguments: threeByThreeCases)
    func normalizedInput(_ tile: WinogradTile, _ g: ConvGeometry) throws {
        let unpadded = FeatureShape(channels: g.inChannels, height: g.inputHeight - 2, width: g.inputWidth - 2)
        guard unpadded.height > 1, unpadded.width > 1, unpadded.plane > 1 else { return }
        let d = Data(g, seed: 11)
        let x = Tensor(unpadded.dims)
        RandomStream(seed: 11, purpose: .auxiliary, substream: 5).fillUniform(x.buffer, low: -2, high: 3)
        for slope in [Float(0.2), nil] {
            var rng = RandomStream(seed: 12, purpose: .weights)
            let bn = BatchNorm(channels: g.inChannels, negativeSlope: slope, gammaInit: .uniform, rng: &rng,
                               parallel: ChannelParallel(threads: 1))
            // Some shifts negative, some positive: the activation's both branches in every plane.
            for c in 0..<g.inChannels { bn.bias.pointer[c] = Float(c % 3) - 1 }
            let pad = ReflectionPad(pad: 1, parallel: ChannelParallel(threads: 1))
            try pad.prepare(inputShape: unpadded)
            try bn.prepare(inputShape: unpadded, into: pad.interior)
            let padded = pad.forward(bn.forward(x))
            // Bands of 1 to 3 tile rows on 1 to 3 threads: rows reflected at the top and the bottom
            // fall in one band or in several.
            for (rows, threads) in [(nil, 2), (1, 1), (1, 3), (2, 2), (3, 3)] as [(Int?, Int)] {
                let kernel = try WinogradConvolution(geometry: g, backend: CPUBackend(threads: threads), tile: tile,
                                                     rowsPerBand: rows)
                let (y, dw, db) = (Tensor(g.outputDims), Tensor(g.weightDims), Tensor(g.biasDims))
                try kernel.forward(input: padded, weight: d.w, bias: d.b, output: y)
                try kernel.backwardWeights(input: padded, gradOutput: d.dy, gradWeight: dw, gradBias: db)
                // The tensor it stands for is neither read nor written: NaNs there change nothing.
                let standIn = Tensor(g.inputDims)
                standIn.buffer.update(repeating: .nan)
                let (y2, dw2, db2) = (Tensor(g.outputDims), Tensor(g.weightDims), Tensor(g.biasDims))
                y2.buffer.update(repeating: .nan)
                try kernel.forward(normalizing: bn.normalizedInput(x, padded: 1), standingFor: standIn, weight: d.w,
                                   bias: d.b, output: y2)
                try kernel.backwardWeights(input: standIn, gradOutput: d.dy, gradWeight: dw2, gradBias: db2)
                let label = "\(tile) \(g), slope \(slope.map { "\($0)" } ?? "none"), \(rows.map(String.init) ?? "preferred") rows a band, \(threads) threads"
                #expect(y2.array.map(\.bitPattern) == y.array.map(\.bitPattern), "\(label)")
                #expect(dw2.array.map(\.bitPattern) == dw.array.map(\.bitPattern), "\(label)")
                #expect(db2.array.map(\.bitPattern) == db.array.map(\.bitPattern), "\(label)")
                #expect(standIn.array.allSatisfy { $0.isNaN }, "\(label)")
            }
        }
        // A normalized input of another size is refused, not read past its end.
        let kernel = try WinogradConvolution(geometry: g, backend: CPUBackend(threads: 1), tile: tile)
        var rng = RandomStream(seed: 12, purpose: .weights)
        let bn = BatchNorm(channels: g.inChannels, negativeSlope: nil, gammaInit: .one, rng: &rng, parallel: ChannelParallel(threads: 1))
        let smaller = FeatureShape(channels: g.inChannels, height: unpadded.height, width: unpadded.width - 1)
        guard smaller.width > 1 else { return }
        try bn.prepare(inputShape: smaller)
        #expect(throws: EngineError.self) {
            try kernel.forward(normalizing: bn.normalizedInput(Tensor(smaller.dims), padded: 1), standingFor: Tensor(g.inputDims),
                               weight: d.w, bias: d.b, output: Tensor(g.outputDims))
        }
    }

    @Test("the AVX2 tile transforms give the same bits as the portable Swift ones",
          .enabled(if: WinogradKernels.avx2.runs(on: HostCPU.flags), "this CPU has no AVX2"),
          arguments: cases)
    func kernelsAgree(_ tile: WinogradTile, _ g: ConvGeometry) throws {
        let cpu = try CPUBackend(threads: 2)
        for (chunkBytes, rows) in [(WinogradTiling.defaultChunkBytes, 1), (1, 1), (WinogradTiling.defaultChunkBytes, 3)] {
            let portable = try WinogradConvolution(geometry: g, backend: cpu, tile: tile, rowsPerBand: rows, chunkBytes: chunkBytes,
                                                   kernels: .portable)
            let avx2 = try WinogradConvolution(geometry: g, backend: cpu, tile: tile, rowsPerBand: rows, chunkBytes: chunkBytes,
                                               kernels: .avx2)
            #expect(portable.implementation.contains("portable tile transforms") && avx2.implementation.contains("avx2 tile transforms"))
            for seed: UInt64 in [3, 4] {
                let d = Data(g, seed: seed)
                let want = try Self.run(portable, d), got = try Self.run(avx2, d)
                for (k, name) in ["forward", "backward-data", "backward-weights", "bias gradient"].enumerated() {
                    let differing = zip(got[k], want[k]).filter { $0.bitPattern != $1.bitPattern }.count
                    #expect(differing == 0,
                            "\(tile) \(name) \(g), chunks of \(chunkBytes) bytes, \(rows) rows a band, seed \(seed): \(differing) of \(want[k].count) values differ")
                }
            }
        }
    }

    @Test("selection: ours for 3x3 stride 1 where oneDNN has no Winograd or is slower, oneDNN's direct under auto where its Winograd is, never for other shapes or direct")
    func selection() throws {
        let cpu = try CPUBackend(threads: 1)
        // Small layers (oneDNN's where it has one), a 32x32 destination (ours on every ISA).
        let small = ConvGeometry(inChannels: 132, outChannels: 128, kernel: 3, stride: 1, inputHeight: 18, inputWidth: 130)
        let large = ConvGeometry(inChannels: 256, outChannels: 128, kernel: 3, stride: 1, inputHeight: 34, inputWidth: 34)
        for (g, ours) in [(Self.geometries[1], !CPUBackend.oneDNNHasWinograd), (small, !CPUBackend.oneDNNHasWinograd),
                          (large, true)] {
            #expect(WinogradConvolution.outrunsOneDNNWinograd(g) == (g == large), "\(g)")
            for algorithm in [ConvAlgorithm.auto, .winograd] {
                let kernel = try cpu.makeConvolution(g, algorithm: algorithm)
                if algorithm == .auto, !ours {
                    // oneDNN's Winograd would run: its direct kernels are the faster there.
                    #expect(kernel is OneDNNConvolution && kernel.algorithm == .direct, "\(g) on \(CPUBackend.effectiveISA)")
                    continue
                }
                #expect(kernel.algorithm == .winograd && kernel.implementation.contains("winograd"))
                #expect((kernel is WinogradConvolution) == ours, "\(g), \(algorithm) on \(CPUBackend.effectiveISA)")
            }
        }
        let g = Self.geometries[1]
        #expect(!(try cpu.makeConvolution(g, algorithm: .direct) is WinogradConvolution))
        let strided = ConvGeometry(inChannels: 3, outChannels: 4, kernel: 3, stride: 2, inputHeight: 9, inputWidth: 9)
        #expect(!(try cpu.makeConvolution(strided, algorithm: .winograd) is WinogradConvolution))
        #expect(throws: EngineError.self) { try WinogradConvolution(geometry: strided, backend: cpu) }
    }

    @Test("the large tile for destinations of 128x128 or more (F(8x8,3x3) with AVX2 transforms), F(4x4,3x3) below, and the implementation says which")
    func tileChoice() throws {
        let cpu = try CPUBackend(threads: 1)
        let cases = [(Self.geometries[1], WinogradTile.f43),
                     (ConvGeometry(inChannels: 8, outChannels: 8, kernel: 3, stride: 1, inputHeight: 129, inputWidth: 300), .f43),
                     (ConvGeometry(inChannels: 8, outChannels: 8, kernel: 3, stride: 1, inputHeight: 130, inputWidth: 130), WinogradTile.large)]
        for (g, tile) in cases {
            #expect(WinogradTile.preferred(for: g) == tile, "\(g)")
            let ours = try WinogradConvolution(geometry: g, backend: cpu)
            #expect(ours.products == .best && ours.implementation.hasPrefix("winograd \(tile) (dip-report; \(WinogradProducts.best), "),
                    "\(ours.implementation)")
        }
        #expect(WinogradTile.largeTile(kernels: .avx2) == .f83 && WinogradTile.largeTile(kernels: .portable) == .f63)
        #expect(WinogradTile.preferred(for: cases[2].0, large: .f63) == .f63)
        #expect(WinogradTile.f83.description == "F(8x8,3x3)")
        #expect(WinogradTile.f43.description == "F(4x4,3x3)" && WinogradTile.f63.description == "F(6x6,3x3)")
        #expect(WinogradTile.f62.description == "F(6x6,2x2)" && WinogradTile.preferred(for: Self.geometries2x2[1]) == .f62)
        // A tile runs only its own filter size.
        #expect(throws: EngineError.self) { try WinogradConvolution(geometry: Self.geometries[1], backend: cpu, tile: .f62) }
        #expect(throws: EngineError.self) { try WinogradConvolution(geometry: Self.geometries2x2[1], backend: cpu, tile: .f63) }
    }

    @Test("bands: the rows per band that transform the fewest positions, and where the rows lie")
    func bands() {
        func tiling(_ tile: WinogradTile, size: Int, pad: Int) -> WinogradTiling {
            WinogradTiling(tile: tile, sourceChannels: 8, sourceHeight: size, sourceWidth: size, pad: pad, destinationChannels: 8)
        }
        // F(6x6, 3x3) forward at 256 columns: 43 tiles, the last overhanging by 2, so two rows
        // side by side need no gap: 86 tiles in 88 positions.
        let f63 = tiling(.f63, size: 258, pad: 0)
        #expect((f63.tilesPerRow, f63.rowSlot, f63.rowsPerBand, f63.tileColumns, f63.usedTileColumns, f63.bands) == (43, 43, 2, 88, 86, 22))
        // 43 rows in 22 bands: one of 1 row, the first, and 21 of 2, in order and without gaps.
        #expect(f63.tileRows(ofBand: 0) == 0..<1 && f63.tileRows(ofBand: 1) == 1..<3 && f63.tileRows(ofBand: 21) == 41..<43)
        #expect((1..<22).allSatisfy { f63.tileRows(ofBand: $0).lowerBound == f63.tileRows(ofBand: $0 - 1).upperBound })
        #expect((f63.usedTileColumns(ofBand: 0), f63.usedTileColumns(ofBand: 1), f63.fewestUsedTileColumns) == (43, 86, 43))
        // Its backward-data at 258 columns: the last tile's outputs are all kept, so a gap.
        let d63 = tiling(.f63, size: 256, pad: 2)
        #expect((d63.tilesPerRow, d63.rowSlot, d63.rowsPerBand, d63.tileColumns, d63.usedTileColumns) == (43, 44, 2, 88, 87))
        // F(4x4, 3x3) backward-data at 66 columns: 17 tiles, three rows in 56 positions.
        let d43 = tiling(.f43, size: 64, pad: 2)
        #expect((d43.tilesPerRow, d43.rowSlot, d43.rowsPerBand, d43.tileColumns) == (17, 17, 3, 56))
        // F(6x6, 2x2): a destination of 126 columns (21 whole tiles) needs the last tile's
        // rightmost input in a position of its own; one of 128 (22 tiles, 4 columns over) does not.
        #expect((tiling(.f62, size: 127, pad: 0).tilesPerRow, tiling(.f62, size: 127, pad: 0).rowSlot) == (21, 22))
        #expect((tiling(.f62, size: 129, pad: 0).tilesPerRow, tiling(.f62, size: 129, pad: 0).rowSlot) == (22, 22))
        #expect((tiling(.f62, size: 128, pad: 1).destinationWidth, tiling(.f62, size: 128, pad: 1).rowSlot) == (129, 22))
        // Where a taller band does not save positions (an F(4x4, 3x3) grid of 16 x 16 tiles with
        // no gap between rows; F(6x6, 3x3) at 128 columns): one row where one row's V and M fit
        // the L2, else the tallest band that makes an even number of bands. F(4x4, 3x3) with
        // 128 channels in and out: 590 KB for a row of 16 positions.
        let row43 = 36 * 256 * 4, row63 = 64 * 384 * 4
        func preferred(grid: Int, tiles: Int, slot: Int, bytes: Int, l2: Int?) -> Int {
            WinogradTiling.preferredRowsPerBand(gridRows: grid, tilesPerRow: tiles, rowSlot: slot, bytesPerPosition: bytes,
                                                level2Bytes: l2)
        }
        #expect(preferred(grid: 16, tiles: 16, slot: 16, bytes: row43, l2: 1 << 20) == 1)
        #expect(preferred(grid: 16, tiles: 16, slot: 16, bytes: row43, l2: 512 << 10) == 4)
        #expect(preferred(grid: 16, tiles: 16, slot: 16, bytes: row43, l2: nil) == 1)
        #expect(preferred(grid: 22, tiles: 22, slot: 22, bytes: row63, l2: 1 << 20) == 4)
        #expect(preferred(grid: 22, tiles: 22, slot: 22, bytes: 8 * 16 * 4, l2: 512 << 10) == 1)
        // At 256 columns 4 rows tie with 2 (11 x 176 positions, 22 x 88) but make 11 bands.
        #expect(preferred(grid: 43, tiles: 43, slot: 43, bytes: row63, l2: 512 << 10) == 2)
        // An even split of 22 rows into 6 bands: 3, 4, 4, 3, 4, 4.
        let split = WinogradTiling(tile: .f63, sourceChannels: 1, sourceHeight: 130, sourceWidth: 130, pad: 0,
                                   destinationChannels: 1, rowsPerBand: 4)
        #expect(split.bands == 6 && split.rowsPerBand == 4 && (0..<6).map { split.tileRows(ofBand: $0).count } == [3, 4, 4, 3, 4, 4])
        // At most as many rows as the grid has; asked for more, all of them.
        #expect(WinogradTiling(tile: .f43, sourceChannels: 1, sourceHeight: 6, sourceWidth: 6, pad: 0, destinationChannels: 1,
                               rowsPerBand: 5).rowsPerBand == 1)
    }

    @Test("the source rows a band reads, which the passes prefetch: every row its tiles read, and no other")
    func sourceRowsOfBands() {
        // A NaN in a source row shows in the band's V exactly when the band reads that row.
        for (tile, size, pad, rows) in [(WinogradTile.f43, 18, 0, 1), (.f43, 16, 2, 3), (.f63, 26, 0, 2), (.f63, 24, 2, 1), (.f63, 23, 2, 2),
                                        (.f62, 25, 0, 2), (.f62, 24, 1, 1), (.f62, 23, 1, 3)] {
            let t = WinogradTiling(tile: tile, sourceChannels: 1, sourceHeight: size, sourceWidth: size, pad: pad,
                                   destinationChannels: 1, rowsPerBand: rows)
            let vStride = t.tileColumns
            let v = UnsafeMutablePointer<Float>.allocate(capacity: tile.elements * vStride)
            let plane = UnsafeMutablePointer<Float>.allocate(capacity: size * size)
            defer { v.deallocate(); plane.deallocate() }
            for band in 0..<t.bands {
                let expected = t.sourceRows(ofBand: band)
                for y in 0..<size {
                    for i in 0..<size * size { plane[i] = Float(i % 7) }
                    plane[y * size + size / 2] = .nan
                    t.withSourceStrip { strip, work in
                        t.transformSourceRow(plane, band: band, strip: strip, work: work, into: v, vStride: vStride)
                    }
                    let read = (0..<tile.elements * vStride).contains { v[$0].isNaN }
                    #expect(read == expected.contains(y), "\(tile) size \(size) pad \(pad), band \(band), row \(y)")
                }
            }
        }
    }
}

import CLayerKernels

/// Upsample(scale_factor = 2), nearest or bilinear, with PyTorch's index formulas
/// (docs/semantics.md §3.4).
final class Upsample2x {
    /// Nearest or bilinear (and which align_corners convention).
    let mode: SkipConfig.Upsampling
    private let parallel: ChannelParallel
    private(set) var inputShape = FeatureShape(channels: 1, height: 1, width: 1)
    private(set) var outputShape = FeatureShape(channels: 1, height: 2, width: 2)
    /// Where the forward writes (a buffer of its own, or a window of the concat's).
    private(set) var output = FeatureWindow(Tensor([4]), FeatureShape(channels: 1, height: 2, width: 2))
    private var gradients = TensorPool()
    private var rows = Taps(count: 0), cols = Taps(count: 0)
    /// cols' indices as the forward's C pass takes them.
    private var columnIndices = Taps(count: 0).cIndices
    private var columnGather = ColumnGather(Taps(count: 0), sources: 0)

    /// For each output index: the two source indices and their weights, as PyTorch's CPU
    /// kernel computes them (source position and lambdas in Float64, the sum in Float32).
    struct Taps {
        var i0: [Int], i1: [Int], l0: [Float], l1: [Float]
        init(count: Int) { i0 = .init(repeating: 0, count: count); i1 = i0; l0 = .init(repeating: 0, count: count); l1 = l0 }

        /// align_corners true: src = dst * (in-1)/(out-1). False: src = (dst+0.5) * in/out - 0.5,
        /// clamped at 0 (half-pixel centres).
        init(input n: Int, output m: Int, alignCorners: Bool) {
            self.init(count: m)
            let scale = alignCorners ? (m > 1 ? Double(n - 1) / Double(m - 1) : 0) : Double(n) / Double(m)
            for d in 0..<m {
                let src = alignCorners ? scale * Double(d) : max(scale * (Double(d) + 0.5) - 0.5, 0)
                let s0 = Int(src)
                let lambda1 = src - Double(s0)
                i0[d] = s0
                i1[d] = s0 < n - 1 ? s0 + 1 : s0
                l1[d] = Float(lambda1)
                l0[d] = Float(1 - lambda1)
            }
        }

        /// i0 and i1 as CLayerKernels' `dip_cpu_upsample_across` takes them.
        var cIndices: (i0: [Int32], i1: [Int32]) { (i0.map { Int32($0) }, i1.map { Int32($0) }) }

        /// For each source index, the output indices that read it with their weights, in the
        /// order the backward's scatter adds them (output index ascending, i0's term before
        /// i1's): a gather that adds them in this order onto zero gives the scatter's bits.
        func readers(sources n: Int) -> [[(output: Int, weight: Float)]] {
            var r = [[(output: Int, weight: Float)]](repeating: [], count: n)
            for d in i0.indices {
                r[i0[d]].append((d, l0[d]))
                r[i1[d]].append((d, l1[d]))
            }
            return r
        }

        /// The four readers' weights of every source index, `weights[k][x]` reader k's, when
        /// every source index x from 2 to the last but one is read by exactly the outputs
        /// 2x - 1, 2x, 2x + 1 and 2x + 2, in that order: then the gather can take eight sources
        /// at a time. Nil otherwise. Both alignments have that pattern at scale 2 (without
        /// align_corners the weights are the same for every x, with it they drift with x);
        /// source 1 has a fifth reader, output 0 (at weight 0 without align_corners).
        static func regularWeights(_ readers: [[(output: Int, weight: Float)]]) -> [[Float]]? {
            guard readers.count >= 4 else { return nil }
            var weights = [[Float]](repeating: [Float](repeating: 0, count: readers.count), count: 4)
            for x in 2..<(readers.count - 1) {
                let r = readers[x]
                guard r.map(\.output) == [2 * x - 1, 2 * x, 2 * x + 1, 2 * x + 2] else { return nil }
                for k in 0..<4 { weights[k][x] = r[k].weight }
            }
            return weights
        }
    }

    /// The column step of the bilinear backward, as a gather: row[x] = the sum, onto zero and in
    /// `readers`' order, of weight * gradient[output] over the outputs that read source x; with
    /// `regular` weights, sources 2 to width - 2 eight at a time (the same operations, the same
    /// bits). It replaced a scatter that added each output column onto its two sources with a
    /// scalar update each: table1's [128, 256, 256] backward (align_corners, then one source at
    /// a time) took 3.4-3.5 ms per iteration instead of 4.0-4.6 (2 threads, AMD EPYC, both ISAs;
    /// BENCHMARKS.md, tenth part). Until the regular pattern was checked from source 2 (source
    /// 1 has a fifth reader), no size had it, and every source took the scalar `one`: with each
    /// source's own weights, eight at a time, the gather took 0.27 % of a table1 256 iteration's
    /// CPU time instead of 0.87-1.00 % on a Zen 3 (BENCHMARKS.md, seventeenth part).
    private struct ColumnGather {
        let readers: [[(output: Int, weight: Float)]]
        let regular: [[Float]]?

        init(_ taps: Taps, sources: Int) {
            readers = taps.readers(sources: sources)
            regular = Taps.regularWeights(readers)
        }

        @inline(__always)
        private func one(_ g: UnsafePointer<Float>, _ x: Int, into row: UnsafeMutablePointer<Float>) {
            var acc: Float = 0
            for (output, weight) in readers[x] { acc += weight * g[output] }
            row[x] = acc
        }

        func run(_ g: UnsafePointer<Float>, into row: UnsafeMutablePointer<Float>) {
            let w = readers.count
            guard let k = regular else {
                for x in 0..<w { one(g, x, into: row) }
                return
            }
            @inline(__always) func load16(_ i: Int) -> SIMD16<Float> {
                UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
            }
            one(g, 0, into: row)
            one(g, 1, into: row)
            var x = 2
            k[0].withUnsafeBufferPointer { a in k[1].withUnsafeBufferPointer { b in
            k[2].withUnsafeBufferPointer { c in k[3].withUnsafeBufferPointer { d in
                // Sources x..<x+8 read outputs 2x - 1 ... 2x + 17, all inside while x + 8 <= w - 1.
                while x + 8 <= w - 1 {
                    let before = load16(2 * x - 2), here = load16(2 * x), after = load16(2 * x + 2)
                    var acc = SIMD8<Float>(repeating: 0) + loadLanes(a.baseAddress! + x) * before.oddHalf
                    acc = acc + loadLanes(b.baseAddress! + x) * here.evenHalf
                    acc = acc + loadLanes(c.baseAddress! + x) * here.oddHalf
                    acc = acc + loadLanes(d.baseAddress! + x) * after.evenHalf
                    storeLanes(acc, row + x)
                    x += 8
                }
            }}}}
            while x < w { one(g, x, into: row); x += 1 }
        }
    }

    init(mode: SkipConfig.Upsampling, parallel: ChannelParallel) {
        self.mode = mode
        self.parallel = parallel
    }

    /// No parameters or MACs. The forward reads the input and writes the output (4x the input);
    /// the backward reads the output gradient and writes the input gradient, which bilinear
    /// accumulates into (read and written).
    static func cost(inputShape s: FeatureShape, mode: SkipConfig.Upsampling) -> LayerCost {
        let n = s.count, out = outputShape(s).count
        let accumulates = if case .bilinear = mode { true } else { false }
        return LayerCost(forwardValues: n + out, backwardValues: out + (accumulates ? 2 * n : n))
    }

    /// The output shape for an input of shape `s`: twice the rows and columns.
    static func outputShape(_ s: FeatureShape) -> FeatureShape {
        FeatureShape(channels: s.channels, height: 2 * s.height, width: 2 * s.width)
    }

    /// Allocates the output, or adopts `window` as the place to write (the concat's deeper
    /// channels), and for bilinear the tap tables; the backward's gradient comes from
    /// `gradients`.
    @discardableResult
    func prepare(inputShape s: FeatureShape, into window: FeatureWindow? = nil,
                 gradients: TensorPool = TensorPool()) -> FeatureShape {
        inputShape = s
        outputShape = Self.outputShape(s)
        precondition(window.map { $0.shape == outputShape } ?? true, "upsample window of the wrong shape")
        output = window ?? FeatureWindow(outputShape.makeTensor(), outputShape)
        self.gradients = gradients
        if case let .bilinear(ac) = mode {
            rows = Taps(input: s.height, output: outputShape.height, alignCorners: ac)
            cols = Taps(input: s.width, output: outputShape.width, alignCorners: ac)
            columnIndices = cols.cIndices
            columnGather = ColumnGather(cols, sources: s.width)
        }
        return outputShape
    }

    /// Doubles the resolution of `input`. Returns the tensor written: the whole buffer when
    /// the output is a window of the concat's.
    func forward(_ input: Tensor) -> Tensor {
        let h = inputShape.height, w = inputShape.width, ho = 2 * h, wo = 2 * w
        let src = UncheckedBox(input.pointer), out = output, rs = out.rowStride
        switch mode {
        case .nearest:
            parallel.run(inputShape.channels) { c in
                let s = src.value + c * h * w, d = out.plane(c)
                for oy in 0..<ho {
                    let sr = s + (oy >> 1) * w, dr = d + oy * rs
                    for x in 0..<w { let v = sr[x]; dr[2 * x] = v; dr[2 * x + 1] = v }
                }
            }
        case .bilinear:
            let taps = UncheckedBox((rows, cols, columnIndices))
            parallel.run(inputShape.channels) { c in
                let (r, k, columnIndices) = taps.value
                let s = src.value + c * h * w, d = out.plane(c)
                // Each source row interpolated across once (it feeds up to four output rows),
                // then every output row is two of those rows weighted: h0 * (w0 a[x0] + w1 a[x1])
                // + h1 * (w0 b[x0] + w1 b[x1]), the same operations as pixel by pixel.
                withUnsafeTemporaryAllocation(of: Float.self, capacity: h * wo) { across in
                    let across = across.baseAddress!
                    // CLayerKernels' pass: eight outputs at a time on AVX2, the same operations.
                    columnIndices.i0.withUnsafeBufferPointer { i0 in columnIndices.i1.withUnsafeBufferPointer { i1 in
                    k.l0.withUnsafeBufferPointer { l0 in k.l1.withUnsafeBufferPointer { l1 in
                        for y in 0..<h {
                            dip_cpu_upsample_across(s + y * w, w, i0.baseAddress, i1.baseAddress, l0.baseAddress, l1.baseAddress,
                                                    wo, across + y * wo)
                        }
                    }}}}
                    for oy in 0..<ho {
                        weightedRows(across + r.i0[oy] * wo, r.l0[oy], across + r.i1[oy] * wo, r.l1[oy], into: d + oy * rs, count: wo)
                    }
                }
            }
        }
        return out.tensor
    }

    /// Adds each output gradient onto the source pixels it was interpolated from.
    func backward(_ gradOutput: Tensor) -> Tensor {
        let plane = outputShape.plane, wo = outputShape.width
        let gradInput = makeGradInput()
        let src = UncheckedBox(UnsafePointer(gradOutput.pointer))
        parallel.run(inputShape.channels) { c in
            let g = src.value + c * plane
            backward(channel: c, into: gradInput) { oy, _ in g + oy * wo }
        }
        return gradInput
    }

    /// A tensor for the input gradient (`backward(channel:into:gradientRow:)` fills it).
    func makeGradInput() -> Tensor { gradients.tensor(inputShape) }

    /// Channel `c` of the backward into `gradInput`, the output gradient's rows from
    /// `gradientRow(oy, scratch)`: row oy (output-wide), either where it already lies or made
    /// into `scratch`. Rows are asked for in order, and a row must stay valid while the next
    /// one is made (nearest adds two rows at once): the two scratch rows take turns. Channels
    /// may run on several threads at once.
    func backward(channel c: Int, into gradInput: Tensor,
                  gradientRow: (_ oy: Int, _ scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float>) {
        let h = inputShape.height, w = inputShape.width, ho = 2 * h, wo = 2 * w
        let d = gradInput.pointer + c * h * w, r = rows, k = columnGather
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * wo) { scratch in
            let scratch = scratch.baseAddress!
            func row(_ oy: Int) -> UnsafePointer<Float> { gradientRow(oy, scratch + (oy & 1) * wo) }
            switch mode {
            case .nearest:
                for y in 0..<h {
                    let g0 = row(2 * y), g1 = row(2 * y + 1), dr = d + y * w
                    for x in 0..<w { dr[x] = (g0[2 * x] + g0[2 * x + 1]) + (g1[2 * x] + g1[2 * x + 1]) }
                }
            case .bilinear:
                // The forward's two steps transposed: each gradient row onto its two source
                // rows (still output-wide; whole rows eight lanes at a time, in row order), then
                // each of those rows' columns onto their two source columns (in column order).
                // The CUDA kernel's gather visits the terms in this order, for the same bits.
                withUnsafeTemporaryAllocation(of: Float.self, capacity: h * wo) { down in
                    let down = down.baseAddress!
                    down.update(repeating: 0, count: h * wo)
                    for oy in 0..<ho {
                        let g = row(oy)
                        accumulate(g, r.l0[oy], into: down + r.i0[oy] * wo, count: wo)
                        accumulate(g, r.l1[oy], into: down + r.i1[oy] * wo, count: wo)
                    }
                    for y in 0..<h { k.run(down + y * wo, into: d + y * w) }
                }
            }
        }
    }
}

/// out[i] = h0 * a[i] + h1 * b[i], eight at a time.
private func weightedRows(_ a: UnsafePointer<Float>, _ h0: Float, _ b: UnsafePointer<Float>, _ h1: Float,
                          into out: UnsafeMutablePointer<Float>, count: Int) {
    let v0 = SIMD8<Float>(repeating: h0), v1 = SIMD8<Float>(repeating: h1)
    var i = 0
    while i + 8 <= count {
        storeLanes(v0 * loadLanes(a + i) + v1 * loadLanes(b + i), out + i)
        i += 8
    }
    while i < count {
        out[i] = h0 * a[i] + h1 * b[i]
        i += 1
    }
}

/// row[i] += weight * g[i], eight at a time.
private func accumulate(_ g: UnsafePointer<Float>, _ weight: Float, into row: UnsafeMutablePointer<Float>, count: Int) {
    let v = SIMD8<Float>(repeating: weight)
    var i = 0
    while i + 8 <= count {
        storeLanes(loadLanes(row + i) + v * loadLanes(g + i), row + i)
        i += 8
    }
    while i < count {
        row[i] += weight * g[i]
        i += 1
    }
}

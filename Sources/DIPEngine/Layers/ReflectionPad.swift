/// ReflectionPad2d(p): the edge pixel is not repeated, so index -1 reads 1 and index n reads
/// n-2 (docs/semantics.md §3.1). Needs p < H and p < W, as PyTorch does.
final class ReflectionPad {
    /// Pixels added on each side.
    let pad: Int
    private let parallel: ChannelParallel
    private(set) var inputShape = FeatureShape(channels: 1, height: 1, width: 1)
    private(set) var outputShape = FeatureShape(channels: 1, height: 1, width: 1)
    private(set) var output = Tensor([1])
    private var gradients = TensorPool()

    init(pad: Int, parallel: ChannelParallel) {
        precondition(pad >= 0)
        self.pad = pad
        self.parallel = parallel
    }

    /// The padded shape of `s`. Refuses a pad that reaches past the opposite edge.
    func outputShape(for s: FeatureShape) throws -> FeatureShape {
        guard pad < s.height, pad < s.width else {
            throw EngineError.shape("reflection padding of \(pad) needs more than \(pad) rows and columns, got \(s.height)x\(s.width)")
        }
        return FeatureShape(channels: s.channels, height: s.height + 2 * pad, width: s.width + 2 * pad)
    }

    /// Allocates the padded buffer, or takes it from `shared` (a buffer other layers use too,
    /// for a consumer that needs the padded tensor only while it reads it); the backward's
    /// gradient comes from `gradients`. Refuses a pad that reaches past the opposite edge.
    @discardableResult
    func prepare(inputShape s: FeatureShape, gradients: TensorPool = TensorPool(),
                 shared: SharedScratch? = nil) throws -> FeatureShape {
        outputShape = try outputShape(for: s)
        inputShape = s
        output = try shared?.view(outputShape) ?? outputShape.makeTensor()
        self.gradients = gradients
        return outputShape
    }

    /// The unpadded part of `output`: a producer that writes its result here, then calls
    /// `forward(output)`, saves the copy.
    var interior: FeatureWindow {
        FeatureWindow(output, inputShape, offset: pad * outputShape.width + pad, rowStride: outputShape.width,
                      planeStride: outputShape.plane)
    }

    /// No parameters or MACs. The forward reads the input and writes the padded output; the
    /// backward reads the padded gradient and writes the input gradient, then adds the border's
    /// gradients onto it (read and written).
    static func cost(inputShape s: FeatureShape, pad: Int) -> LayerCost {
        let padded = s.channels * (s.height + 2 * pad) * (s.width + 2 * pad)
        return LayerCost(forwardValues: s.count + padded, backwardValues: padded + 2 * s.count)
    }

    /// Source index of padded index `i` in 0..<n+2p.
    @inline(__always) static func reflect(_ i: Int, _ n: Int) -> Int {
        i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i)
    }

    /// Fills a padded row's `pad` border columns on each side from its own interior (`width`
    /// values from `row + pad`), as the forward pads every row.
    @inline(__always)
    static func reflectColumns(_ row: UnsafeMutablePointer<Float>, pad p: Int, width w: Int) {
        for j in 0..<p {
            row[j] = row[2 * p - j]
            row[p + w + j] = row[p + w - 2 - j]
        }
    }

    /// Pads `input` into `output`; when `input` is `output` itself (a producer wrote the
    /// interior), only the border is filled.
    func forward(_ input: Tensor) -> Tensor {
        let h = inputShape.height, w = inputShape.width, p = pad
        let ho = outputShape.height, wo = outputShape.width
        let inPlace = input === output
        let src = UncheckedBox(input.pointer), dst = UncheckedBox(output.pointer)
        parallel.run(inputShape.channels) { c in
            let d = dst.value + c * ho * wo
            // Source rows: the caller's tensor, or the interior of the padded buffer.
            let s = inPlace ? d + p * wo + p : src.value + c * h * w, stride = inPlace ? wo : w
            for oy in 0..<ho {
                let sr = s + Self.reflect(oy - p, h) * stride
                let dr = d + oy * wo
                if !inPlace || oy < p || oy >= p + h { (dr + p).update(from: sr, count: w) }
                Self.reflectColumns(dr, pad: p, width: w)
            }
        }
        return output
    }

    /// Folds the padded gradient back: each border gradient adds onto the pixel it copied.
    func backward(_ gradOutput: Tensor) -> Tensor {
        let h = inputShape.height, w = inputShape.width, p = pad
        let ho = outputShape.height, wo = outputShape.width
        let gradInput = gradients.tensor(inputShape)
        let src = UncheckedBox(gradOutput.pointer), dst = UncheckedBox(gradInput.pointer)
        parallel.run(inputShape.channels) { c in
            let g = src.value + c * ho * wo, d = dst.value + c * h * w
            for oy in p..<(p + h) { Self.copyInterior(g + oy * wo, paddedRow: oy, pad: p, height: h, width: w, into: d) }
            for oy in 0..<ho { Self.addBorders(g + oy * wo, paddedRow: oy, pad: p, height: h, width: w, into: d) }
        }
        return gradInput
    }

    /// The input gradient written by `fold` straight from the padded gradient's producer (a
    /// convolution's backward-data pass that folds its rows as `backward` does, with
    /// `copyInterior` and `addBorders`), which saves writing the padded gradient and the pass
    /// over it.
    func backward(folding fold: (_ gradInput: Tensor) throws -> Void) rethrows -> Tensor {
        let gradInput = gradients.tensor(inputShape)
        try fold(gradInput)
        return gradInput
    }

    // MARK: The fold, one padded row at a time
    //
    // One channel's fold is `copyInterior` for every interior padded row, then `addBorders` for
    // every padded row in increasing order. A producer may fold a block of rows at a time, in
    // row order, as long as each input row sees its operations in that order: the interior
    // copy first, then the border additions of the padded rows that reflect onto it, lowest
    // first. The CUDA kernel adds the terms in the same order, for the same bits.

    /// Input row oy - p = padded row `oy`'s interior columns (`oy` must be an interior row,
    /// p..<p + height); `plane` is the channel's input gradient, height x width.
    @inline(__always)
    static func copyInterior(_ row: UnsafePointer<Float>, paddedRow oy: Int, pad p: Int, height h: Int, width w: Int,
                             into plane: UnsafeMutablePointer<Float>) {
        (plane + (oy - p) * w).update(from: row + p, count: w)
    }

    /// Adds padded row `oy`'s border gradients onto the input row it reflects: its whole
    /// interior width when `oy` is a border row, and its left and right border columns.
    @inline(__always)
    static func addBorders(_ row: UnsafePointer<Float>, paddedRow oy: Int, pad p: Int, height h: Int, width w: Int,
                           into plane: UnsafeMutablePointer<Float>) {
        let dr = plane + reflect(oy - p, h) * w
        if oy < p || oy >= p + h { for x in 0..<w { dr[x] += row[p + x] } }
        for j in 0..<p {
            dr[p - j] += row[j]
            dr[w - 2 - j] += row[p + w + j]
        }
    }

    /// The input rows whose interiors padded rows `rows` hold (`copyInterior`'s destinations):
    /// padded row oy is input row oy - pad where 0 <= oy - pad < height.
    static func interiorRows(ofPaddedRows rows: Range<Int>, pad p: Int, height h: Int) -> Range<Int> {
        let first = min(max(rows.lowerBound - p, 0), h)
        return first..<max(first, min(rows.upperBound - p, h))
    }

    /// Folds one channel's padded rows `rows`, held in `block` (padded row oy at `block + (oy -
    /// rows.lowerBound) * (width + 2 pad)`), into `plane` as `backward` does, except the bottom
    /// border rows: those are copied to `bottomBorder` (`pad` padded rows) for
    /// `foldBottomBorder`. Blocks of disjoint rows may be folded in any order, on any threads:
    /// each writes only the input rows of its own interior rows, and of its top border rows
    /// when it holds the first rows (then it must reach row 2 pad, their sources); the bottom
    /// border rows, whose sources may lie in another block, come last in `backward` too.
    static func foldBlock(_ block: UnsafePointer<Float>, rows: Range<Int>, pad p: Int, height h: Int, width w: Int,
                          into plane: UnsafeMutablePointer<Float>, bottomBorder: UnsafeMutablePointer<Float>) {
        precondition(rows.lowerBound > 0 || rows.count > 2 * p || rows.upperBound == h + 2 * p,
                     "the first block of a reflection pad's fold must hold the sources of its top border")
        let wo = w + 2 * p
        for y in interiorRows(ofPaddedRows: rows, pad: p, height: h) {
            copyInterior(block + (y + p - rows.lowerBound) * wo, paddedRow: y + p, pad: p, height: h, width: w, into: plane)
        }
        for oy in rows {
            let row = block + (oy - rows.lowerBound) * wo
            if oy >= p + h {
                (bottomBorder + (oy - p - h) * wo).update(from: row, count: wo)
            } else {
                addBorders(row, paddedRow: oy, pad: p, height: h, width: w, into: plane)
            }
        }
    }

    /// The bottom border rows `foldBlock` set aside, folded into `plane` once every block of
    /// the channel is done.
    static func foldBottomBorder(_ bottomBorder: UnsafePointer<Float>, pad p: Int, height h: Int, width w: Int,
                                 into plane: UnsafeMutablePointer<Float>) {
        for k in 0..<p {
            addBorders(bottomBorder + k * (w + 2 * p), paddedRow: p + h + k, pad: p, height: h, width: w, into: plane)
        }
    }
}

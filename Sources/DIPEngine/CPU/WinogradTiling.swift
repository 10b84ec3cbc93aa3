/// How one Winograd F(4x4, 3x3) valid convolution is cut into tiles, tile rows and chunks,
/// where its scratch goes, and the transform steps (source tiles in, products out, output
/// gradient in).
///
/// A "source" of `sourceChannels` planes of `sourceHeight x sourceWidth`, read as if padded by
/// `pad` zeros on every side, is convolved into a "destination" of `destinationChannels` planes
/// of `destinationHeight x destinationWidth` (= source + 2 pad - 2). The destination is covered
/// by 4x4 tiles, `tileRows x tileColumns`; tiles that reach past its bottom or right edge read
/// zeros beyond the source and their extra outputs are dropped. The forward pass is pad 0; the
/// backward-data pass is the "full" convolution of the output gradient, pad 2.
///
/// Layouts (Float elements; t = tile index within a chunk or a tile row, row-major over the
/// chunk's tile rows, `tileColumns` per row):
/// - filter U: [36][destinationChannels][sourceChannels],
/// - source tiles V: [36][sourceChannels][tiles],
/// - products M: [36][destinationChannels][tiles], so M[ξ] = U[ξ] · V[ξ].
/// With tiles last, the transforms vectorise over 8 neighbouring tiles of a row, and every
/// transformed element is written as 8 contiguous floats. The 36 elements ξ lie a
/// `skewedStride` apart, not a packed one: the eight-tile steps touch all 36 at once, and at
/// the packed strides, (near) multiples of 4 KiB, they evicted each other from the L1.
struct WinogradTiling {
    /// Channels of the source (the GEMM's inner dimension in forward).
    let sourceChannels: Int
    /// Source rows and columns, before padding.
    let sourceHeight: Int, sourceWidth: Int
    /// Zeros around the source.
    let pad: Int
    /// Channels of the destination.
    let destinationChannels: Int
    /// Destination rows and columns.
    let destinationHeight: Int, destinationWidth: Int
    /// Tile rows covering the destination.
    let tileRows: Int
    /// Tiles per row, rounded up to a multiple of 8 (the vector width); the extra tiles read
    /// zeros, produce zeros, and are never written out.
    let tileColumns: Int
    /// Tiles per row that reach into the destination (`tileColumns` before the rounding): the
    /// products of the row-at-a-time passes cover only these (backward-data's destination of
    /// 258 columns has 65 of 72, at 130 columns 33 of 40).
    var usedTileColumns: Int { (destinationWidth + 3) / 4 }
    /// Tile rows per chunk: the products are done chunk by chunk so the scratch stays small.
    let rowsPerChunk: Int
    /// The code that runs the eight-tile steps of the sweeps (the same bits either way).
    let kernels: WinogradKernels

    /// The default scratch per chunk: V and M of one chunk together stay near this many bytes
    /// (at least one tile row).
    static let defaultChunkBytes = 24 << 20

    init(sourceChannels: Int, sourceHeight: Int, sourceWidth: Int, pad: Int, destinationChannels: Int,
         chunkBytes: Int = defaultChunkBytes, kernels: WinogradKernels = .best) {
        self.kernels = kernels
        self.sourceChannels = sourceChannels
        self.sourceHeight = sourceHeight
        self.sourceWidth = sourceWidth
        self.pad = pad
        self.destinationChannels = destinationChannels
        destinationHeight = sourceHeight + 2 * pad - 2
        destinationWidth = sourceWidth + 2 * pad - 2
        tileRows = (destinationHeight + 3) / 4
        tileColumns = ((destinationWidth + 3) / 4 + 7) / 8 * 8
        let bytesPerTile = WinogradF43.elements * (sourceChannels + destinationChannels) * MemoryLayout<Float>.stride
        rowsPerChunk = min(tileRows, max(1, chunkBytes / (bytesPerTile * tileColumns)))
    }

    /// Tiles of the largest chunk.
    var chunkTiles: Int { rowsPerChunk * tileColumns }
    /// The tile-row ranges of the chunks, in order.
    var chunks: [Range<Int>] {
        stride(from: 0, to: tileRows, by: rowsPerChunk).map { $0..<min($0 + rowsPerChunk, tileRows) }
    }

    /// Floats from one element ξ to the next in U (or in its gradient; skewed).
    var filterStride: Int { skewedStride(destinationChannels * sourceChannels) }
    /// Floats of U (or of its gradient).
    var filterFloats: Int { WinogradF43.elements * filterStride }
    /// Floats from one element ξ to the next in the V of the tile rows `rows` (skewed).
    func sourceStride(_ rows: Range<Int>) -> Int { skewedStride(sourceChannels * rows.count * tileColumns) }
    /// Floats from one element ξ to the next in the M (or dM) of the tile rows `rows` (skewed).
    func productStride(_ rows: Range<Int>) -> Int { skewedStride(destinationChannels * rows.count * tileColumns) }
    /// Where chunk `rows`'s V starts in a V of every chunk, one after the other.
    func keptOffset(_ rows: Range<Int>) -> Int {
        rows.lowerBound / rowsPerChunk * WinogradF43.elements * sourceStride(0..<rowsPerChunk)
    }
    /// Floats of a V of every chunk, one after the other.
    var keptFloats: Int {
        let last = chunk(holding: tileRows - 1)
        return keptOffset(last) + WinogradF43.elements * sourceStride(last)
    }
    /// Floats of V for the largest chunk.
    var sourceFloats: Int { WinogradF43.elements * sourceStride(0..<rowsPerChunk) }
    /// Floats of M for the largest chunk.
    var productFloats: Int { WinogradF43.elements * productStride(0..<rowsPerChunk) }

    /// Byte offsets of U, V and M in the scratch arena, each 4 KiB aligned, and the total.
    var scratchLayout: (filter: Int, source: Int, products: Int, bytes: Int) {
        let source = Self.pages(filterFloats), products = source + Self.pages(sourceFloats)
        return (0, source, products, products + Self.pages(productFloats))
    }

    /// Floats from one element ξ to the next in one tile row's V.
    var rowSourceStride: Int { sourceStride(0..<1) }
    /// Floats from one element ξ to the next in one tile row's M.
    var rowProductStride: Int { productStride(0..<1) }
    /// Floats of V for one tile row.
    var rowSourceFloats: Int { WinogradF43.elements * rowSourceStride }
    /// Floats of M for one tile row.
    var rowProductFloats: Int { WinogradF43.elements * rowProductStride }

    /// Byte offsets in the scratch arena for a sweep that takes one tile row at a time on each
    /// of `parts` threads: U, then per part its V and M of one row (part p's at `p * part`
    /// bytes further), each 4 KiB aligned, and the total.
    func rowScratchLayout(parts: Int) -> (filter: Int, source: Int, products: Int, part: Int, bytes: Int) {
        let source = Self.pages(filterFloats), products = source + Self.pages(rowSourceFloats)
        let part = Self.pages(rowSourceFloats) + Self.pages(rowProductFloats)
        return (0, source, products, part, source + parts * part)
    }

    /// The chunk that holds tile row `ty`.
    func chunk(holding ty: Int) -> Range<Int> {
        let first = ty / rowsPerChunk * rowsPerChunk
        return first..<min(first + rowsPerChunk, tileRows)
    }

    private static func pages(_ floats: Int) -> Int { (floats * MemoryLayout<Float>.stride + 4095) / 4096 * 4096 }

    // MARK: The transform steps: of one channel over a chunk (channels run in parallel), or of one
    // channel over one tile row (the row-at-a-time passes run rows in parallel).

    /// V[ξ][c][t] for source channel `c` and the tile rows `rows`, from `plane` (that channel).
    func transformSource(_ plane: UnsafePointer<Float>, channel c: Int, rows: Range<Int>, into v: UnsafeMutablePointer<Float>) {
        let n = rows.count * tileColumns
        withSourceStrip { strip, work in
            for ty in rows {
                transformSourceRow(plane, row: ty, strip: strip, work: work,
                                   into: v + c * n + (ty - rows.lowerBound) * tileColumns, vStride: sourceStride(rows))
            }
        }
    }

    /// Floats of the strip `transformSourceRow` works in.
    var sourceStripFloats: Int { 24 * (tileColumns + 1) }

    /// Runs `body` with a cleared strip of `sourceStripFloats` and the lanes the kernels work in.
    func withSourceStrip<R>(_ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<WinogradLanes>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: sourceStripFloats) { stripBuffer in
            withUnsafeTemporaryAllocation(of: WinogradLanes.self, capacity: WinogradKernels.workLanes) { lanes in
                let strip = stripBuffer.baseAddress!
                strip.update(repeating: 0, count: sourceStripFloats)
                return body(strip, lanes.baseAddress!)
            }
        }
    }

    /// The tiles of tile row `ty` of one source channel, from `plane` (that channel): element ξ
    /// of tile k goes to `v[ξ * vStride + k]`. `strip` (`sourceStripFloats`) must be all zeros
    /// before the first call and then be passed to every later one unchanged: a source row
    /// writes the same columns of its strip row at every tile row and in every channel, so only
    /// a strip row with no source row (above or below the source) needs clearing again.
    func transformSourceRow(_ plane: UnsafePointer<Float>, row ty: Int, strip: UnsafeMutablePointer<Float>,
                            work: UnsafeMutablePointer<WinogradLanes>, into v: UnsafeMutablePointer<Float>, vStride: Int) {
        // The six source rows of the tile row, split by column phase: strip[(r * 4 + m) * sx + k]
        // is source column 4k + m - pad of row r, so column s of tile k is phase s % 4 at
        // k + s / 4, and the tiles k..k+7 load as one contiguous vector.
        let sx = tileColumns + 1
        for r in 0..<6 {
            let y = 4 * ty + r - pad
            guard y >= 0 && y < sourceHeight else {
                (strip + r * 4 * sx).update(repeating: 0, count: 4 * sx)
                continue
            }
            kernels.splitRow(plane + y * sourceWidth, width: sourceWidth, pad: pad, into: strip + r * 4 * sx, phaseStride: sx)
        }
        for tx in stride(from: 0, to: tileColumns, by: 8) {
            kernels.input(strip: strip + tx, phaseStride: sx, into: v + tx, vStride: vStride, work: work)
        }
    }

    /// Runs `body` with a strip of `16 tileColumns` floats and the lanes the kernels work in.
    func withProductStrip<R>(_ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<WinogradLanes>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 * tileColumns) { stripBuffer in
            withUnsafeTemporaryAllocation(of: WinogradLanes.self, capacity: WinogradKernels.workLanes) { lanes in
                body(stripBuffer.baseAddress!, lanes.baseAddress!)
            }
        }
    }

    /// Tile row `ty` of one destination channel from its products (element ξ of tile k at
    /// `m[ξ * mStride + k]`): Aᵀ m A + `bias`, written to `plane` (that channel) where it lies
    /// inside the destination. `strip` holds `16 tileColumns` floats.
    func transformProductsRow(_ m: UnsafePointer<Float>, mStride: Int, row ty: Int, bias: Float,
                              strip: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<WinogradLanes>,
                              into plane: UnsafeMutablePointer<Float>) {
        // strip[(a * 4 + b) * tileColumns + k] is output (a, b) of tile k: the inverse of the
        // phase split in transformSourceRow.
        for tx in stride(from: 0, to: tileColumns, by: 8) {
            kernels.output(m + tx, mStride: mStride, bias: bias, into: strip + tx, stripStride: tileColumns, work: work)
        }
        for a in 0..<4 {
            let yy = 4 * ty + a
            guard yy < destinationHeight else { break }
            kernels.mergeRow(strip + a * 4 * tileColumns, phaseStride: tileColumns, into: plane + yy * destinationWidth,
                             width: destinationWidth)
        }
    }

    /// dM[ξ][o][t] = (A dY Aᵀ)[ξ] for destination channel `o` of the tile rows `rows`, from
    /// `plane`, that channel of the destination's gradient. Outputs past the destination's
    /// edge were dropped, so their gradient is zero.
    func transformGradient(_ plane: UnsafePointer<Float>, channel o: Int, rows: Range<Int>,
                           into dm: UnsafeMutablePointer<Float>) {
        let n = rows.count * tileColumns
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 * tileColumns) { stripBuffer in
            withUnsafeTemporaryAllocation(of: WinogradLanes.self, capacity: WinogradKernels.workLanes) { lanes in
                let strip = stripBuffer.baseAddress!, work = lanes.baseAddress!
                // Zeros once, as in transformSource: only rows past the destination's edge (in
                // its last tile row) need clearing again.
                strip.update(repeating: 0, count: 16 * tileColumns)
                for ty in rows {
                    for a in 0..<4 {
                        let yy = 4 * ty + a
                        guard yy < destinationHeight else {
                            (strip + a * 4 * tileColumns).update(repeating: 0, count: 4 * tileColumns)
                            continue
                        }
                        kernels.splitRow(plane + yy * destinationWidth, width: destinationWidth, pad: 0,
                                         into: strip + a * 4 * tileColumns, phaseStride: tileColumns)
                    }
                    let base = dm + o * n + (ty - rows.lowerBound) * tileColumns
                    for tx in stride(from: 0, to: tileColumns, by: 8) {
                        kernels.outputGradient(strip: strip + tx, stripStride: tileColumns, into: base + tx,
                                               dmStride: productStride(rows), work: work)
                    }
                }
            }
        }
    }
}

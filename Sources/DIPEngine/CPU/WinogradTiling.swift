/// Which Winograd algorithm: F(m x m, 3x3) computes an m x m output tile from an (m + 2) x (m + 2)
/// input tile with (m + 2)² multiplications.
enum WinogradTile: Sendable, CaseIterable, CustomStringConvertible {
    /// F(4x4, 3x3): 36 multiplications per 16 outputs (WinogradF43).
    case f43
    /// F(6x6, 3x3): 64 multiplications per 36 outputs (WinogradF63), 21 % fewer per output.
    case f63

    /// Outputs per tile side (m).
    var outputSize: Int { self == .f43 ? 4 : 6 }
    /// Inputs per tile side (m + 2).
    var inputSize: Int { outputSize + 2 }
    /// Transformed elements per tile: the number of batched products.
    var elements: Int { inputSize * inputSize }

    /// The faster of the two for the 3x3 stride-1 convolution `g`, measured per layer (both
    /// passes and the weights' gradient, AVX2 cap on an AVX-512 Zen, BENCHMARKS.md, eighth
    /// part): F(6x6, 3x3) on destinations of 128x128 or more, where it took 3-11 % less time
    /// (the 21 % fewer products, less the dearer output transform and the tile columns past the
    /// edge, 43 tiles rounded to 48 at 256 columns); F(4x4, 3x3) on smaller ones, where the
    /// rounding and the transforms outweighed the products (up to twice the time at 8x8).
    static func preferred(for g: ConvGeometry) -> WinogradTile {
        min(g.outputHeight, g.outputWidth) >= 128 ? .f63 : .f43
    }

    /// "F(4x4,3x3)" or "F(6x6,3x3)".
    var description: String { "F(\(outputSize)x\(outputSize),3x3)" }
}

/// How one Winograd F(m x m, 3x3) valid convolution is cut into tiles, tile rows and chunks,
/// where its scratch goes, and the transform steps (source tiles in, products out, output
/// gradient in).
///
/// A "source" of `sourceChannels` planes of `sourceHeight x sourceWidth`, read as if padded by
/// `pad` zeros on every side, is convolved into a "destination" of `destinationChannels` planes
/// of `destinationHeight x destinationWidth` (= source + 2 pad - 2). The destination is covered
/// by m x m tiles (m = `tile.outputSize`, read from n x n inputs, n = m + 2),
/// `tileRows x tileColumns`; tiles that reach past its bottom or right edge read zeros beyond
/// the source and their extra outputs are dropped. The forward pass is pad 0; the
/// backward-data pass is the "full" convolution of the output gradient, pad 2.
///
/// Layouts (Float elements; t = tile index within a chunk or a tile row, row-major over the
/// chunk's tile rows, `tileColumns` per row):
/// - filter U: [n²][destinationChannels][sourceChannels],
/// - source tiles V: [n²][sourceChannels][tiles],
/// - products M: [n²][destinationChannels][tiles], so M[ξ] = U[ξ] · V[ξ].
/// With tiles last, the transforms vectorise over 8 neighbouring tiles of a row, and every
/// transformed element is written as 8 contiguous floats. The n² elements ξ lie a
/// `skewedStride` apart, not a packed one: the eight-tile steps touch all of them at once, and at
/// the packed strides, (near) multiples of 4 KiB, they evicted each other from the L1.
struct WinogradTiling {
    /// The algorithm: the tile sizes and the transforms.
    let tile: WinogradTile
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
    /// products of the row-at-a-time passes cover only these (with F(4x4, 3x3), backward-data's
    /// destination of 258 columns has 65 of 72, at 130 columns 33 of 40).
    var usedTileColumns: Int { (destinationWidth + tile.outputSize - 1) / tile.outputSize }
    /// Tile rows per chunk: the products are done chunk by chunk so the scratch stays small.
    let rowsPerChunk: Int
    /// The code that runs the eight-tile steps of the sweeps (the same bits either way).
    let kernels: WinogradKernels

    /// The default scratch per chunk: V and M of one chunk together stay near this many bytes
    /// (at least one tile row).
    static let defaultChunkBytes = 24 << 20

    init(tile: WinogradTile, sourceChannels: Int, sourceHeight: Int, sourceWidth: Int, pad: Int, destinationChannels: Int,
         chunkBytes: Int = defaultChunkBytes, kernels: WinogradKernels = .best) {
        self.tile = tile
        self.kernels = kernels
        self.sourceChannels = sourceChannels
        self.sourceHeight = sourceHeight
        self.sourceWidth = sourceWidth
        self.pad = pad
        self.destinationChannels = destinationChannels
        destinationHeight = sourceHeight + 2 * pad - 2
        destinationWidth = sourceWidth + 2 * pad - 2
        let m = tile.outputSize
        tileRows = (destinationHeight + m - 1) / m
        tileColumns = ((destinationWidth + m - 1) / m + 7) / 8 * 8
        let bytesPerTile = tile.elements * (sourceChannels + destinationChannels) * MemoryLayout<Float>.stride
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
    var filterFloats: Int { tile.elements * filterStride }
    /// Floats from one element ξ to the next in the V of the tile rows `rows` (skewed).
    func sourceStride(_ rows: Range<Int>) -> Int { skewedStride(sourceChannels * rows.count * tileColumns) }
    /// Floats from one element ξ to the next in the M (or dM) of the tile rows `rows` (skewed).
    func productStride(_ rows: Range<Int>) -> Int { skewedStride(destinationChannels * rows.count * tileColumns) }
    /// Where chunk `rows`'s V starts in a V of every chunk, one after the other.
    func keptOffset(_ rows: Range<Int>) -> Int {
        rows.lowerBound / rowsPerChunk * tile.elements * sourceStride(0..<rowsPerChunk)
    }
    /// Floats of a V of every chunk, one after the other.
    var keptFloats: Int {
        let last = chunk(holding: tileRows - 1)
        return keptOffset(last) + tile.elements * sourceStride(last)
    }
    /// Floats of V for the largest chunk.
    var sourceFloats: Int { tile.elements * sourceStride(0..<rowsPerChunk) }
    /// Floats of M for the largest chunk.
    var productFloats: Int { tile.elements * productStride(0..<rowsPerChunk) }

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
    var rowSourceFloats: Int { tile.elements * rowSourceStride }
    /// Floats of M for one tile row.
    var rowProductFloats: Int { tile.elements * rowProductStride }

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
    var sourceStripFloats: Int { tile.inputSize * tile.outputSize * (tileColumns + 1) }

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
        // The n source rows of the tile row, split by column phase (m phases):
        // strip[(r * m + p) * sx + k] is source column mk + p - pad of row r, so column s of
        // tile k is phase s % m at k + s / m, and the tiles k..k+7 load as one contiguous vector.
        let sx = tileColumns + 1, m = tile.outputSize
        for r in 0..<tile.inputSize {
            let y = m * ty + r - pad
            guard y >= 0 && y < sourceHeight else {
                (strip + r * m * sx).update(repeating: 0, count: m * sx)
                continue
            }
            kernels.splitRow(tile, plane + y * sourceWidth, width: sourceWidth, pad: pad, into: strip + r * m * sx,
                             phaseStride: sx)
        }
        for tx in stride(from: 0, to: tileColumns, by: 8) {
            kernels.input(tile, strip: strip + tx, phaseStride: sx, into: v + tx, vStride: vStride, work: work)
        }
    }

    /// Floats of the strip of one tile row's outputs (m² tileColumns).
    var productStripFloats: Int { tile.outputSize * tile.outputSize * tileColumns }

    /// Runs `body` with a strip of `productStripFloats` and the lanes the kernels work in.
    func withProductStrip<R>(_ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<WinogradLanes>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: productStripFloats) { stripBuffer in
            withUnsafeTemporaryAllocation(of: WinogradLanes.self, capacity: WinogradKernels.workLanes) { lanes in
                body(stripBuffer.baseAddress!, lanes.baseAddress!)
            }
        }
    }

    /// Tile row `ty` of one destination channel from its products (element ξ of tile k at
    /// `m[ξ * mStride + k]`): Aᵀ m A + `bias`, written to `plane` (that channel) where it lies
    /// inside the destination. `strip` holds `productStripFloats`.
    func transformProductsRow(_ m: UnsafePointer<Float>, mStride: Int, row ty: Int, bias: Float,
                              strip: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<WinogradLanes>,
                              into plane: UnsafeMutablePointer<Float>) {
        // strip[(a * m + b) * tileColumns + k] is output (a, b) of tile k: the inverse of the
        // phase split in transformSourceRow.
        for tx in stride(from: 0, to: tileColumns, by: 8) {
            kernels.output(tile, m + tx, mStride: mStride, bias: bias, into: strip + tx, stripStride: tileColumns, work: work)
        }
        let size = tile.outputSize
        for a in 0..<size {
            let yy = size * ty + a
            guard yy < destinationHeight else { break }
            kernels.mergeRow(tile, strip + a * size * tileColumns, phaseStride: tileColumns,
                             into: plane + yy * destinationWidth, width: destinationWidth)
        }
    }

    /// dM[ξ][o][t] = (A dY Aᵀ)[ξ] for destination channel `o` of the tile rows `rows`, from
    /// `plane`, that channel of the destination's gradient. Outputs past the destination's
    /// edge were dropped, so their gradient is zero.
    func transformGradient(_ plane: UnsafePointer<Float>, channel o: Int, rows: Range<Int>,
                           into dm: UnsafeMutablePointer<Float>) {
        let n = rows.count * tileColumns
        let size = tile.outputSize
        withProductStrip { strip, work in
            // Zeros once, as in transformSource: only rows past the destination's edge (in
            // its last tile row) need clearing again.
            strip.update(repeating: 0, count: productStripFloats)
            for ty in rows {
                for a in 0..<size {
                    let yy = size * ty + a
                    guard yy < destinationHeight else {
                        (strip + a * size * tileColumns).update(repeating: 0, count: size * tileColumns)
                        continue
                    }
                    kernels.splitRow(tile, plane + yy * destinationWidth, width: destinationWidth, pad: 0,
                                     into: strip + a * size * tileColumns, phaseStride: tileColumns)
                }
                let base = dm + o * n + (ty - rows.lowerBound) * tileColumns
                for tx in stride(from: 0, to: tileColumns, by: 8) {
                    kernels.outputGradient(tile, strip: strip + tx, stripStride: tileColumns, into: base + tx,
                                           dmStride: productStride(rows), work: work)
                }
            }
        }
    }
}

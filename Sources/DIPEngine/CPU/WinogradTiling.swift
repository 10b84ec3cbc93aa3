/// How one Winograd F(4x4, 3x3) valid convolution is cut into tiles and chunks, where its
/// scratch goes, and the three transform sweeps over a chunk (source tiles in, products out,
/// output gradient in).
///
/// A "source" of `sourceChannels` planes of `sourceHeight x sourceWidth`, read as if padded by
/// `pad` zeros on every side, is convolved into a "destination" of `destinationChannels` planes
/// of `destinationHeight x destinationWidth` (= source + 2 pad - 2). The destination is covered
/// by 4x4 tiles, `tileRows x tileColumns`; tiles that reach past its bottom or right edge read
/// zeros beyond the source and their extra outputs are dropped. The forward pass is pad 0; the
/// backward-data pass is the "full" convolution of the output gradient, pad 2.
///
/// Layouts (Float elements; t = tile index within the chunk, row-major over the chunk's tile
/// rows, `tileColumns` per row):
/// - filter U: [36][destinationChannels][sourceChannels],
/// - source tiles V: [36][sourceChannels][chunkTiles],
/// - products M: [36][destinationChannels][chunkTiles], so M[ξ] = U[ξ] · V[ξ].
/// With tiles last, the transforms vectorise over 8 neighbouring tiles of a row, and every
/// transformed element is written as 8 contiguous floats.
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

    /// Floats of U (or of its gradient).
    var filterFloats: Int { WinogradF43.elements * destinationChannels * sourceChannels }
    /// Where chunk `rows`'s V starts in a V of every chunk, one after the other.
    func keptOffset(_ rows: Range<Int>) -> Int { WinogradF43.elements * sourceChannels * rows.lowerBound * tileColumns }
    /// Floats of V for the largest chunk.
    var sourceFloats: Int { WinogradF43.elements * sourceChannels * chunkTiles }
    /// Floats of M for the largest chunk.
    var productFloats: Int { WinogradF43.elements * destinationChannels * chunkTiles }

    /// Byte offsets of U, V and M in the scratch arena, each 4 KiB aligned, and the total.
    var scratchLayout: (filter: Int, source: Int, products: Int, bytes: Int) {
        func pages(_ floats: Int) -> Int { (floats * MemoryLayout<Float>.stride + 4095) / 4096 * 4096 }
        let source = pages(filterFloats), products = source + pages(sourceFloats)
        return (0, source, products, products + pages(productFloats))
    }

    // MARK: Sweeps over one chunk; each call handles one channel, so channels run in parallel.

    /// V[ξ][c][t] for source channel `c` and the tile rows `rows`, from `plane` (that channel).
    func transformSource(_ plane: UnsafePointer<Float>, channel c: Int, rows: Range<Int>, into v: UnsafeMutablePointer<Float>) {
        let n = rows.count * tileColumns
        // The six source rows of a tile row, split by column phase: strip[(r * 4 + m) * sx + k]
        // is source column 4k + m - pad of row r, so column s of tile k is phase s % 4 at
        // k + s / 4, and the tiles k..k+7 load as one contiguous vector.
        let sx = tileColumns + 1
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 24 * sx) { stripBuffer in
            withUnsafeTemporaryAllocation(of: WinogradLanes.self, capacity: WinogradKernels.workLanes) { lanes in
                let strip = stripBuffer.baseAddress!, work = lanes.baseAddress!
                // Zeros once: a source row writes the same columns of its strip row at every
                // tile row, so only a strip row with no source row (above or below the source)
                // needs clearing again.
                strip.update(repeating: 0, count: 24 * sx)
                for ty in rows {
                    for r in 0..<6 {
                        let y = 4 * ty + r - pad
                        guard y >= 0 && y < sourceHeight else {
                            (strip + r * 4 * sx).update(repeating: 0, count: 4 * sx)
                            continue
                        }
                        kernels.splitRow(plane + y * sourceWidth, width: sourceWidth, pad: pad, into: strip + r * 4 * sx,
                                         phaseStride: sx)
                    }
                    let base = v + c * n + (ty - rows.lowerBound) * tileColumns
                    for tx in stride(from: 0, to: tileColumns, by: 8) {
                        kernels.input(strip: strip + tx, phaseStride: sx, into: base + tx, vStride: sourceChannels * n, work: work)
                    }
                }
            }
        }
    }

    /// Destination channel `o` of the tile rows `rows` from M[ξ][o][t]: Aᵀ m A + `bias`,
    /// written to `plane` (that channel) where it lies inside the destination.
    func transformProducts(_ m: UnsafePointer<Float>, channel o: Int, rows: Range<Int>, bias: Float,
                           into plane: UnsafeMutablePointer<Float>) {
        let n = rows.count * tileColumns
        // strip[(a * 4 + b) * tileColumns + k] is output (a, b) of tile k: the inverse of the
        // phase split in transformSource.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 * tileColumns) { stripBuffer in
            withUnsafeTemporaryAllocation(of: WinogradLanes.self, capacity: WinogradKernels.workLanes) { lanes in
                let strip = stripBuffer.baseAddress!, work = lanes.baseAddress!
                for ty in rows {
                    let base = m + o * n + (ty - rows.lowerBound) * tileColumns
                    for tx in stride(from: 0, to: tileColumns, by: 8) {
                        kernels.output(base + tx, mStride: destinationChannels * n, bias: bias, into: strip + tx,
                                       stripStride: tileColumns, work: work)
                    }
                    for a in 0..<4 {
                        let yy = 4 * ty + a
                        guard yy < destinationHeight else { break }
                        kernels.mergeRow(strip + a * 4 * tileColumns, phaseStride: tileColumns, into: plane + yy * destinationWidth,
                                         width: destinationWidth)
                    }
                }
            }
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
                                               dmStride: destinationChannels * n, work: work)
                    }
                }
            }
        }
    }
}

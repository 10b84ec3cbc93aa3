import DIPCore

/// Which Winograd algorithm: F(m x m, r x r) computes an m x m output tile of an r x r valid
/// convolution from an (m + r - 1) x (m + r - 1) input tile with (m + r - 1)² multiplications.
enum WinogradTile: Sendable, CaseIterable, CustomStringConvertible {
    /// F(4x4, 3x3): 36 multiplications per 16 outputs (WinogradF43).
    case f43
    /// F(6x6, 3x3): 64 multiplications per 36 outputs (WinogradF63), 21 % fewer per output.
    case f63
    /// F(6x6, 2x2): 49 multiplications per 36 outputs (WinogradF62), for the stride-2 3x3
    /// convolutions over their input's phases (StrideTwoWinograd).
    case f62
    /// F(8x8, 3x3): 100 multiplications per 64 outputs (WinogradF83), 12 % fewer per output than
    /// F(6x6, 3x3), with about five times its rounding.
    case f83

    /// Outputs per tile side (m).
    var outputSize: Int {
        switch self {
        case .f43: 4
        case .f63, .f62: 6
        case .f83: 8
        }
    }
    /// Filter taps per side (r).
    var filterSize: Int { self == .f62 ? 2 : 3 }
    /// Filter taps (r²).
    var taps: Int { filterSize * filterSize }
    /// Inputs per tile side (m + r - 1).
    var inputSize: Int { outputSize + filterSize - 1 }
    /// Transformed elements per tile: the number of batched products.
    var elements: Int { inputSize * inputSize }

    /// The tile for the 3x3 stride-1 convolution `g`: `large` on destinations of 128x128 or
    /// more, F(4x4, 3x3) on smaller ones. Measured per layer (both passes and the weights'
    /// gradient, AVX2 cap on an AVX-512 Zen, BENCHMARKS.md, eighth part): F(6x6, 3x3) took 3-11 %
    /// less time than F(4x4, 3x3) from 128x128 up (the 21 % fewer products, less the dearer
    /// output transform and the tile columns past the edge), F(4x4, 3x3) less below, where the
    /// rounding and the transforms outweighed the products (up to twice the time at 8x8); at
    /// 64x64 both larger tiles stay slower than F(4x4, 3x3) on a Zen 3 (thirty-first part). 2x2
    /// convolutions have only F(6x6, 2x2).
    static func preferred(for g: ConvGeometry, large: WinogradTile = .large) -> WinogradTile {
        if g.kernel == 2 { return .f62 }
        return min(g.outputHeight, g.outputWidth) >= 128 ? large : .f43
    }

    /// The large tile here: `largeTile(kernels: .best)`.
    static var large: WinogradTile { largeTile(kernels: .best) }

    /// F(8x8, 3x3) where its transforms run fused on AVX2 (every x86-64 CPU with AVX2 and FMA,
    /// whichever runs the products), where it was measured faster than F(6x6, 3x3); F(6x6, 3x3)
    /// elsewhere: the portable transforms would fuse by a library call per lane. `bench --layers`,
    /// the 3x3 steps: on a Zen 3 with sgemm's products (thirty-first part) the forward 7-14 % less
    /// time, the backward 1-6 % less, a table1 512 iteration on one thread (the paper profile's
    /// own mode) about 2.5 % less; on an Intel Xeon with AVX-512 and our products kernel
    /// (thirty-second part) the 256x256 layer's forward 11-12 % less, its backward 14-21 % less,
    /// whole table1 and text 256 iterations 8-10 % less.
    static func largeTile(kernels: WinogradKernels) -> WinogradTile {
        kernels == .avx2 ? .f83 : .f63
    }

    /// "F(4x4,3x3)", "F(6x6,3x3)", "F(6x6,2x2)" or "F(8x8,3x3)".
    var description: String { "F(\(outputSize)x\(outputSize),\(filterSize)x\(filterSize))" }
}

/// How one Winograd F(m x m, r x r) valid convolution is cut into tiles, bands of tile rows and
/// chunks, where its scratch goes, and the transform steps (source tiles in, products out,
/// output gradient in).
///
/// A "source" of `sourceChannels` planes of `sourceHeight x sourceWidth`, read as if padded by
/// `pad` zeros on every side, is convolved into a "destination" of `destinationChannels` planes
/// of `destinationHeight x destinationWidth` (= source + 2 pad - (r - 1)). The destination is
/// covered by m x m tiles (m = `tile.outputSize`, read from n x n inputs, n = m + r - 1), `gridRows` rows
/// of `tilesPerRow`; tiles that reach past its bottom or right edge read zeros beyond the
/// source and their extra outputs are dropped. The forward pass is pad 0; the backward-data
/// pass is the "full" convolution of the output gradient, pad r - 1.
///
/// The passes do not take one tile row at a time but a band of tile rows laid side by side,
/// `rowSlot` positions apart, in `tileColumns` positions (rounded up to the 8 lanes). The
/// `bands` bands split the grid as evenly as whole rows allow (band b holds tile rows b G / B
/// up to (b + 1) G / B, rounded down, of G rows in B bands), so bands differ by a row at most
/// and the threads that take them in turn get like shares; `rowsPerBand` is the tallest
/// band's. A lone row rounds up badly where its tile count is not a multiple of 8 (F(6x6, 3x3)
/// at 256 columns: 43 tiles in 48 positions, 10 % of the transforms spent on nothing and the
/// products 43 wide); two such rows fill 86 of 88. Each row's split writes only its own
/// positions. Where the last tile's r - 1 rightmost inputs feed a kept output (it overhangs the
/// destination by less than r - 1 columns), `rowSlot` leaves one more position for them; elsewhere
/// that tile reads them from the next row's first position, and they feed only outputs that
/// are dropped (in exact arithmetic; in Float32 the tile's rounding is that of any inner tile).
///
/// Layouts (Float elements; t = position within a band, `tileColumns` of them, or within a
/// chunk, its bands one after the other `chunkBandStride` apart):
/// - filter U: [n²][destinationChannels][sourceChannels],
/// - source tiles V: [n²][sourceChannels][tiles],
/// - products M: [n²][destinationChannels][tiles], so M[ξ] = U[ξ] · V[ξ];
/// - the backward-weights pass's V: [n²][tiles][sourceChannels] (`transposedStride`; the
///   forward keeps it so), so dU[ξ] = dM[ξ] · V[ξ]ᵀ reads both operands as they lie.
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
    let gridRows: Int
    /// Tiles per tile row (the last may reach past the destination's right edge).
    let tilesPerRow: Int
    /// Tile rows of the tallest band (the others hold as many or one fewer).
    let rowsPerBand: Int
    /// Positions from one tile row of a band to the next: `tilesPerRow`, or one more where the
    /// last tile overhangs the destination by less than r - 1 columns.
    let rowSlot: Int
    /// Bands covering the destination.
    let bands: Int
    /// Positions per band, rounded up to a multiple of 8 (the vector width); the positions
    /// that hold no tile read zeros (or, between rows, neighbours' columns), and their outputs
    /// are never written out.
    let tileColumns: Int
    /// Positions of the tallest band up to its last tile.
    var usedTileColumns: Int { usedTileColumns(rows: rowsPerBand) }
    /// Positions of band `b` up to its last tile: the products of the band-at-a-time passes
    /// cover only these.
    func usedTileColumns(ofBand b: Int) -> Int { usedTileColumns(rows: tileRows(ofBand: b).count) }
    /// Positions of the shortest band up to its last tile: past these, a band-at-a-time pass's
    /// M may hold no product of the band at hand.
    var fewestUsedTileColumns: Int { usedTileColumns(rows: gridRows / bands) }
    private func usedTileColumns(rows: Int) -> Int { (rows - 1) * rowSlot + tilesPerRow }
    /// Bands per chunk: the products are done chunk by chunk so the scratch stays small.
    let rowsPerChunk: Int
    /// The code that runs the eight-tile steps of the sweeps (the same bits either way).
    let kernels: WinogradKernels

    /// The default scratch per chunk: V and M of one chunk together stay near this many bytes
    /// (at least one band). Larger chunks mean fewer passes of the backward-weights products
    /// over dU, each a longer sum: at text's 256->128 at 258x258 (2 chunks instead of 11) that
    /// pass took 69-83 ms an iteration instead of 96-100 at 24 MiB on a Zen 3 (BENCHMARKS.md,
    /// fourteenth part). Where the forward kept V, the pass holds only dM, a third of it there.
    static let defaultChunkBytes = 96 << 20

    /// The grid is cut into as many bands as bands of `rowsPerBand` rows take (clamped to
    /// 1...gridRows; by default `preferredRowsPerBand`), split evenly.
    init(tile: WinogradTile, sourceChannels: Int, sourceHeight: Int, sourceWidth: Int, pad: Int, destinationChannels: Int,
         rowsPerBand: Int? = nil, chunkBytes: Int = defaultChunkBytes, kernels: WinogradKernels = .best) {
        self.tile = tile
        self.kernels = kernels
        self.sourceChannels = sourceChannels
        self.sourceHeight = sourceHeight
        self.sourceWidth = sourceWidth
        self.pad = pad
        self.destinationChannels = destinationChannels
        let overlap = tile.filterSize - 1
        destinationHeight = sourceHeight + 2 * pad - overlap
        destinationWidth = sourceWidth + 2 * pad - overlap
        let m = tile.outputSize
        gridRows = (destinationHeight + m - 1) / m
        tilesPerRow = (destinationWidth + m - 1) / m
        rowSlot = tilesPerRow + (m * tilesPerRow - destinationWidth < overlap ? 1 : 0)
        let bytesPerPosition = tile.elements * (sourceChannels + destinationChannels) * MemoryLayout<Float>.stride
        let r = min(max(rowsPerBand ?? Self.preferredRowsPerBand(gridRows: gridRows, tilesPerRow: tilesPerRow, rowSlot: rowSlot,
                                                                  bytesPerPosition: bytesPerPosition), 1),
                    gridRows)
        let count = Self.bands(gridRows: gridRows, rowsPerBand: r)
        self.bands = count
        self.rowsPerBand = (gridRows + count - 1) / count
        tileColumns = Self.positions(rowsPerBand: self.rowsPerBand, tilesPerRow: tilesPerRow, rowSlot: rowSlot)
        rowsPerChunk = min(count, max(1, chunkBytes / (bytesPerPosition * tileColumns)))
    }

    /// The most a band's V and M may take where `preferredRowsPerBand` picks a taller band for
    /// its products' sake alone. On the Zen 3 (BENCHMARKS.md, fourteenth part), text's 130x130
    /// layers in bands of 4 rows (8.3 MiB) took less time than in single rows; its 258x258
    /// layer in bands of 4 rows (16.5 MiB) took no less than in bands of 2 (8.3 MiB).
    static let tallBandBytes = 12 << 20

    /// The rows per band that transform the fewest positions in all (bands times positions per
    /// band), at most 4; among equals, where one row's V and M (`bytesPerPosition` a position)
    /// fit in `level2Bytes` (`HostCPU.assumedLevel2Bytes` where unknown), the fewest rows, else
    /// the most that make an even number of bands (two threads take half each) within
    /// `tallBandBytes`.
    ///
    /// Measured per layer (text 256, AVX2), time followed the count: F(6x6, 3x3) at 256 columns
    /// takes 2 (88 positions for 86 tiles, not 48 for 43), 6-7 % less time; F(4x4, 3x3)'s
    /// backward-data at 66, 34 and 18 columns takes 3 (17, 9 and 5 tiles a row), 10-20 % less
    /// (a Zen 5, 1 MiB of L2, capped to AVX2; BENCHMARKS.md, ninth part). Where the count stays
    /// the same, the taller band cost up to 24 % more time on that Zen 5 at 64 columns, where
    /// one row's V and M fit its L2; on a Zen 3 (512 KiB), where those of one row of text's
    /// 256->128 layer at 130x130 (2.4 MiB) fit no L2, bands of 3-4 rows (88 positions) took
    /// 11-29 % less time than single rows (24), the products having wider matrices to work on
    /// (fourteenth part).
    /// It depends on the machine, not on the thread count, so neither do the bits.
    static func preferredRowsPerBand(gridRows: Int, tilesPerRow: Int, rowSlot: Int, bytesPerPosition: Int,
                                     level2Bytes: Int? = HostCPU.level2Bytes) -> Int {
        func count(_ r: Int) -> Int {
            let b = bands(gridRows: gridRows, rowsPerBand: r)
            return b * positions(rowsPerBand: (gridRows + b - 1) / b, tilesPerRow: tilesPerRow, rowSlot: rowSlot)
        }
        func bytes(_ r: Int) -> Int { positions(rowsPerBand: r, tilesPerRow: tilesPerRow, rowSlot: rowSlot) * bytesPerPosition }
        let rowFits = bytes(1) <= level2Bytes ?? HostCPU.assumedLevel2Bytes
        var (best, bestCount) = (1, count(1))
        for r in stride(from: 2, through: min(4, gridRows), by: 1) {
            let c = count(r)
            // An odd number of taller bands would leave one thread a band more than the other.
            let taller = !rowFits && bands(gridRows: gridRows, rowsPerBand: r) % 2 == 0 && bytes(r) <= tallBandBytes
            if c < bestCount || (c == bestCount && taller) { (best, bestCount) = (r, c) }
        }
        return best
    }

    private static func bands(gridRows: Int, rowsPerBand r: Int) -> Int { (gridRows + r - 1) / r }

    /// Positions per band: up to the last tile of its last row, rounded up to the 8 lanes.
    private static func positions(rowsPerBand r: Int, tilesPerRow: Int, rowSlot: Int) -> Int {
        ((r - 1) * rowSlot + tilesPerRow + 7) / 8 * 8
    }

    /// The tile rows of band `b`, and where each starts: its row j at position `j * rowSlot`.
    func tileRows(ofBand b: Int) -> Range<Int> {
        b * gridRows / bands..<(b + 1) * gridRows / bands
    }

    /// The source rows band `b` reads (its tiles' rows that lie inside the source).
    func sourceRows(ofBand b: Int) -> Range<Int> {
        let rows = tileRows(ofBand: b), m = tile.outputSize
        let first = min(max(0, m * rows.lowerBound - pad), sourceHeight)
        return first..<max(first, min(sourceHeight, m * rows.upperBound + tile.filterSize - 1 - pad))
    }

    /// The destination rows band `b` writes.
    func destinationRows(ofBand b: Int) -> Range<Int> {
        let rows = tileRows(ofBand: b), m = tile.outputSize
        return m * rows.lowerBound..<min(m * rows.upperBound, destinationHeight)
    }

    /// Floats of one channel's source rows of the tallest band (`sourceRows(ofBand:)`), one row
    /// after the other.
    var bandSourceRowFloats: Int { (rowsPerBand * tile.outputSize + tile.filterSize - 1) * sourceWidth }

    /// Floats of one channel's rows of the tallest band, as `transformProductsRow` writes them
    /// into a block (`firstRow` the band's first).
    var bandBlockFloats: Int { rowsPerBand * tile.outputSize * destinationWidth }

    /// The band ranges of the chunks, in order.
    var chunks: [Range<Int>] {
        stride(from: 0, to: bands, by: rowsPerChunk).map { $0..<min($0 + rowsPerChunk, bands) }
    }

    /// Floats from one element ξ to the next in U (or in its gradient; skewed).
    var filterStride: Int { skewedStride(destinationChannels * sourceChannels) }
    /// Floats of U (or of its gradient).
    var filterFloats: Int { tile.elements * filterStride }
    /// Floats from one element ξ to the next in U packed for our AVX-512 products
    /// (`WinogradProducts.packed`; skewed).
    var packedFilterStride: Int {
        skewedStride(WinogradProducts.packedFloats(rows: destinationChannels, inner: sourceChannels))
    }
    /// Floats from one element ξ to the next in U as `products` reads it.
    func filterStride(for products: WinogradProducts) -> Int { products == .packed ? packedFilterStride : filterStride }
    /// Positions from one band to the next in a chunk's V and dM: the tallest band's up to its
    /// last tile, not its `tileColumns`, so the backward-weights products, whose inner
    /// dimension is the chunk's positions, multiply no position past a band's last tile (at
    /// 258x258 with F(6x6, 3x3), 43 tiles in 48 positions: a tenth of the work, on zeros).
    var chunkBandStride: Int { usedTileColumns }
    /// Positions of the bands `rows` in a chunk's V and dM: the backward-weights products'
    /// inner dimension.
    func chunkPositions(_ rows: Range<Int>) -> Int { rows.count * chunkBandStride }
    /// Floats from one channel to the next in the V and dM of the bands `rows`: their positions,
    /// and room for the last band's eight-position steps past its last tile. A band's transform
    /// writes all its `tileColumns` positions; past its last tile they fall on the next band's
    /// first, which that band (transformed after it, by the same thread) writes over, and past
    /// the last band into this room rather than into the next channel (another thread's). One
    /// band's: `tileColumns`.
    func chunkChannelStride(_ rows: Range<Int>) -> Int { chunkPositions(rows) + tileColumns - chunkBandStride }
    /// Floats from one element ξ to the next in the V of the bands `rows` (skewed).
    func sourceStride(_ rows: Range<Int>) -> Int { skewedStride(sourceChannels * chunkChannelStride(rows)) }
    /// Floats from one element ξ to the next in the M (or dM) of the bands `rows` (skewed).
    func productStride(_ rows: Range<Int>) -> Int { skewedStride(destinationChannels * chunkChannelStride(rows)) }
    /// Floats from one element ξ to the next in the position-major V of the bands `rows`
    /// ([ξ][position][channel], `chunkPositions(rows)` positions of `sourceChannels` floats;
    /// skewed), the one the backward-weights products read: with V[ξ] as positions x channels,
    /// dU[ξ] = dM[ξ] · V[ξ]ᵀ is sgemm's `N N`, which oneDNN 2.6 runs the nets' shapes 4-17 %
    /// faster than its `N T` on the channel-major V with AVX-512, and from 3 % slower to 16 %
    /// faster capped to AVX2 (BENCHMARKS.md, twenty-fourth part).
    func transposedStride(_ rows: Range<Int>) -> Int { skewedStride(sourceChannels * chunkPositions(rows)) }
    /// Where chunk `rows`'s position-major V starts in a V of every chunk, one after the other.
    func keptOffset(_ rows: Range<Int>) -> Int {
        rows.lowerBound / rowsPerChunk * transposedFloats
    }
    /// Floats of a position-major V of every chunk, one after the other (the forward's kept V).
    var keptFloats: Int {
        let last = chunk(holding: bands - 1)
        return keptOffset(last) + tile.elements * transposedStride(last)
    }
    /// Floats of V for the largest chunk.
    var sourceFloats: Int { tile.elements * sourceStride(0..<rowsPerChunk) }
    /// Floats of the position-major V for the largest chunk.
    var transposedFloats: Int { tile.elements * transposedStride(0..<rowsPerChunk) }
    /// Floats of M for the largest chunk.
    var productFloats: Int { tile.elements * productStride(0..<rowsPerChunk) }

    /// Byte offsets of the backward-weights pass's dU, V (as transformed, channel-major), V
    /// position-major and dM in the scratch arena, each 4 KiB aligned, and the total; neither V
    /// takes room where the forward `kept` the position-major one.
    func scratchLayout(kept: Bool) -> (filter: Int, source: Int, transposed: Int, products: Int, bytes: Int) {
        let source = Self.pages(filterFloats), transposed = source + (kept ? 0 : Self.pages(sourceFloats))
        let products = transposed + (kept ? 0 : Self.pages(transposedFloats))
        return (0, source, transposed, products, products + Self.pages(productFloats))
    }

    /// Floats from one element ξ to the next in one band's V.
    var rowSourceStride: Int { sourceStride(0..<1) }
    /// Floats from one element ξ to the next in one band's M.
    var rowProductStride: Int { productStride(0..<1) }
    /// Floats of V for one band.
    var rowSourceFloats: Int { tile.elements * rowSourceStride }
    /// Floats of M for one band.
    var rowProductFloats: Int { tile.elements * rowProductStride }

    /// Byte offsets in the scratch arena for a sweep that takes one band at a time on each of
    /// `parts` threads: U as `products` reads it, then per part its V and M of one band (part
    /// p's at `p * part` bytes further), each 4 KiB aligned, and the total.
    func rowScratchLayout(parts: Int, products: WinogradProducts) -> (filter: Int, source: Int, products: Int, part: Int, bytes: Int) {
        let source = Self.pages(tile.elements * filterStride(for: products)), products = source + Self.pages(rowSourceFloats)
        let part = Self.pages(rowSourceFloats) + Self.pages(rowProductFloats)
        return (0, source, products, part, source + parts * part)
    }

    /// The chunk that holds band `b`.
    func chunk(holding b: Int) -> Range<Int> {
        let first = b / rowsPerChunk * rowsPerChunk
        return first..<min(first + rowsPerChunk, bands)
    }

    /// `floats` floats in bytes, rounded up to whole 4 KiB pages (the scratch layouts' alignment).
    static func pages(_ floats: Int) -> Int { (floats * MemoryLayout<Float>.stride + 4095) / 4096 * 4096 }

    // MARK: The transform steps: of one channel over a chunk (channels run in parallel), or of one
    // channel over one band (the band-at-a-time passes run bands in parallel).

    /// V[ξ][c][t] for source channel `c` and the bands `rows`, from `plane` (that channel), in
    /// the chunk layout (`chunkChannelStride`). The bands go in order: each writes over the
    /// previous one's positions past its last tile.
    func transformSource(_ plane: UnsafePointer<Float>, channel c: Int, rows: Range<Int>, into v: UnsafeMutablePointer<Float>) {
        let n = chunkChannelStride(rows)
        withSourceStrip { strip, work in
            for b in rows {
                transformSourceRow(plane, band: b, strip: strip, work: work,
                                   into: v + c * n + (b - rows.lowerBound) * chunkBandStride, vStride: sourceStride(rows))
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

    /// The tiles of band `b` of one source channel, from `plane` (that channel's rows from
    /// `firstRow` on, which must hold every row of `sourceRows(ofBand: b)`): element ξ of the
    /// tile at position k goes to `v[ξ * vStride + k]`. `strip` (`sourceStripFloats`) must
    /// be all zeros before the first call and then be passed to every later one unchanged: a
    /// source row writes the same columns of its tile row's part of the strip row at every band
    /// and in every channel, so only a part with no source row (above or below the source, or
    /// past the last tile row) needs clearing again.
    func transformSourceRow(_ plane: UnsafePointer<Float>, firstRow: Int = 0, band b: Int, strip: UnsafeMutablePointer<Float>,
                            work: UnsafeMutablePointer<WinogradLanes>, into v: UnsafeMutablePointer<Float>, vStride: Int) {
        // The n source rows of each tile row, split by column phase (m phases):
        // strip[(r * m + p) * sx + j * rowSlot + k] is source column mk + p - pad of row r of
        // the band's tile row j, so column s of its tile k is phase s % m at j * rowSlot + k + s / m,
        // and the tiles at positions k..k+7 load as one contiguous vector. A tile row's split
        // writes at most rowSlot positions (tilesPerRow + 1 where its last tile's r - 1 rightmost
        // inputs are source columns), so the parts never overlap.
        let sx = tileColumns + 1, m = tile.outputSize, rows = tileRows(ofBand: b)
        for r in 0..<tile.inputSize {
            for j in 0..<rowsPerBand {
                let y = m * (rows.lowerBound + j) + r - pad, part = strip + r * m * sx + j * rowSlot
                guard j < rows.count && y >= 0 && y < sourceHeight else {
                    for p in 0..<m { (part + p * sx).update(repeating: 0, count: rowSlot) }
                    continue
                }
                kernels.splitRow(tile, plane + (y - firstRow) * sourceWidth, width: sourceWidth, pad: pad, into: part,
                                 phaseStride: sx)
            }
        }
        for tx in stride(from: 0, to: tileColumns, by: 8) {
            kernels.input(tile, strip: strip + tx, phaseStride: sx, into: v + tx, vStride: vStride, work: work)
        }
    }

    /// Floats of the strip of one band's outputs (m² tileColumns).
    var productStripFloats: Int { tile.outputSize * tile.outputSize * tileColumns }

    /// Runs `body` with a strip of `productStripFloats` and the lanes the kernels work in.
    func withProductStrip<R>(_ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<WinogradLanes>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: productStripFloats) { stripBuffer in
            withUnsafeTemporaryAllocation(of: WinogradLanes.self, capacity: WinogradKernels.workLanes) { lanes in
                body(stripBuffer.baseAddress!, lanes.baseAddress!)
            }
        }
    }

    /// Band `b` of one destination channel from its products (element ξ of the tile at
    /// position k at `m[ξ * mStride + k]`): Aᵀ m A + `bias`, written to `plane` (that channel)
    /// where it lies inside the destination, destination row y at `plane + (y - firstRow) *
    /// destinationWidth` (with `firstRow` the band's first row, a block of the band's rows
    /// only). `strip` holds `productStripFloats`.
    func transformProductsRow(_ m: UnsafePointer<Float>, mStride: Int, band b: Int, bias: Float,
                              strip: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<WinogradLanes>,
                              into plane: UnsafeMutablePointer<Float>, firstRow: Int = 0) {
        // strip[(a * m + c) * tileColumns + k] is output (a, c) of the tile at position k: the
        // inverse of the phase split in transformSourceRow.
        for tx in stride(from: 0, to: tileColumns, by: 8) {
            kernels.output(tile, m + tx, mStride: mStride, bias: bias, into: strip + tx, stripStride: tileColumns, work: work)
        }
        let size = tile.outputSize
        for (j, ty) in tileRows(ofBand: b).enumerated() {
            for a in 0..<size {
                let yy = size * ty + a
                guard yy < destinationHeight else { break }
                kernels.mergeRow(tile, strip + a * size * tileColumns + j * rowSlot, phaseStride: tileColumns,
                                 into: plane + (yy - firstRow) * destinationWidth, width: destinationWidth)
            }
        }
    }

    /// dM[ξ][o][t] = (A dY Aᵀ)[ξ] for destination channel `o` of the bands `rows`, from
    /// `plane`, that channel of the destination's gradient. Outputs past the destination's
    /// edge were dropped, so their gradient is zero; so is the dM of every position that holds
    /// no tile (its split columns are never written), whatever V holds there. The chunk layout
    /// and the order of the bands are `transformSource`'s.
    func transformGradient(_ plane: UnsafePointer<Float>, channel o: Int, rows: Range<Int>,
                           into dm: UnsafeMutablePointer<Float>) {
        let n = chunkChannelStride(rows)
        let size = tile.outputSize
        withProductStrip { strip, work in
            // Zeros once, as in transformSource: only the parts of rows past the destination's
            // edge (in its last tile row, or past the last tile row) need clearing again. A tile
            // row's split writes tilesPerRow positions per phase.
            strip.update(repeating: 0, count: productStripFloats)
            for b in rows {
                let band = tileRows(ofBand: b)
                for j in 0..<rowsPerBand {
                    let ty = band.lowerBound + j
                    for a in 0..<size {
                        let yy = size * ty + a, part = strip + a * size * tileColumns + j * rowSlot
                        guard j < band.count && yy < destinationHeight else {
                            for p in 0..<size { (part + p * tileColumns).update(repeating: 0, count: tilesPerRow) }
                            continue
                        }
                        kernels.splitRow(tile, plane + yy * destinationWidth, width: destinationWidth, pad: 0,
                                         into: part, phaseStride: tileColumns)
                    }
                }
                let base = dm + o * n + (b - rows.lowerBound) * chunkBandStride
                for tx in stride(from: 0, to: tileColumns, by: 8) {
                    kernels.outputGradient(tile, strip: strip + tx, stripStride: tileColumns, into: base + tx,
                                           dmStride: productStride(rows), work: work)
                }
            }
        }
    }
}

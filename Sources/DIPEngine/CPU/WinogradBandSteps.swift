import CDNNL
import CWinograd

/// The steps one thread runs for each band of a forward or backward-data Winograd pass
/// (WinogradConvolution.convolve): the band's V from the source, its products M = U · V, the
/// output transform of M into the destination (folding a reflection pad's gradient where
/// asked), and the kept copy of V. The pass's constants live here so each step reads as what it
/// does; every band runs the same steps whichever thread takes it.
struct WinogradBandSteps {
    /// A reflection pad whose gradient the pass folds: its size, and the unpadded destination's.
    typealias Fold = (pad: Int, height: Int, width: Int)

    /// The pass's tiling.
    let tiling: WinogradTiling
    /// The source planes, `sourcePlane` floats apart; or, with `normalized`, no planes: each
    /// band's rows are built from it (the forward of a `NormalizesItsInput` call).
    let source: UnsafePointer<Float>
    let sourcePlane: Int
    let normalized: NormalizedPaddedInput?
    /// What runs the products, and U as it reads it: every element ξ `filterStride` apart
    /// (`tiling.filterStride(for: products)`).
    let products: WinogradProducts
    let filter: UnsafePointer<Float>
    let filterStride: Int
    /// The destination planes, `destinationPlane` floats apart (the unpadded ones with a fold).
    let destination: UnsafeMutablePointer<Float>
    let destinationPlane: Int
    /// With a fold: the reflection pad and the unpadded destination's size.
    let fold: Fold?
    /// Where the forward keeps every chunk's V (`tiling.keptOffset`), or nil.
    let keep: UnsafeMutablePointer<Float>?

    /// The band's V (one band's scratch): element ξ of position k of channel c at
    /// `v + ξ * tiling.rowSourceStride + c * tiling.tileColumns + k`. With `normalized`, each
    /// channel's rows of the band are first built in `rows` (`tiling.bandSourceRowFloats`).
    func transformSource(band: Int, into v: UnsafeMutablePointer<Float>, strip: UnsafeMutablePointer<Float>,
                         work: UnsafeMutablePointer<WinogradLanes>, rows: UnsafeMutablePointer<Float>) {
        let t = tiling
        // The next channel's rows are asked for while this one's are transformed: each
        // channel's few rows are a short stream that the hardware prefetchers find late. At
        // text's 256->128 at 258x258 the source transform of a forward took 9.6-11.3 ms a
        // thread instead of 13-14 on AVX-512 (BENCHMARKS.md, eleventh part).
        let read = t.sourceRows(ofBand: band), readBytes = read.count * t.sourceWidth * MemoryLayout<Float>.stride
        if let normalized {
            // The rows in the L1, straight from the BatchNorm's input: its output is never
            // written to memory and read back.
            let from = normalized.sourceRows(ofPaddedRows: read), plane = normalized.shape.plane
            let fromBytes = from.count * normalized.shape.width * MemoryLayout<Float>.stride
            for c in 0..<t.sourceChannels {
                if c + 1 < t.sourceChannels {
                    dip_prefetch_runs(normalized.source + (c + 1) * plane + from.lowerBound * normalized.shape.width, 1, 0,
                                      fromBytes, 0)
                }
                for y in read { normalized.row(channel: c, paddedRow: y, into: rows + (y - read.lowerBound) * t.sourceWidth) }
                t.transformSourceRow(rows, firstRow: read.lowerBound, band: band, strip: strip, work: work,
                                     into: v + c * t.tileColumns, vStride: t.rowSourceStride)
            }
            return
        }
        for c in 0..<t.sourceChannels {
            if c + 1 < t.sourceChannels {
                dip_prefetch_runs(source + (c + 1) * sourcePlane + read.lowerBound * t.sourceWidth, 1, 0, readBytes, 0)
            }
            t.transformSourceRow(source + c * sourcePlane, band: band, strip: strip, work: work,
                                 into: v + c * t.tileColumns, vStride: t.rowSourceStride)
        }
    }

    /// M[ξ] (co x used) = U[ξ] (co x ci) · V[ξ] (ci x used) for every ξ of band `band`, one
    /// single-threaded product each (`products`); the first failing status, or `dnnl_success`.
    /// The products skip the positions past the band's last tile (`usedTileColumns(ofBand:)`):
    /// their M holds zeros (`clearUnusedProducts`) or an earlier band's products, which the
    /// output transform drops.
    func products(band: Int, of v: UnsafePointer<Float>, into m: UnsafeMutablePointer<Float>) -> dnnl_status_t {
        let t = tiling, (ci, co, tc) = (t.sourceChannels, t.destinationChannels, t.tileColumns)
        let used = t.usedTileColumns(ofBand: band), elements = t.tile.elements
        for e in 0..<elements {
            let u = filter + e * filterStride, ve = v + e * t.rowSourceStride, me = m + e * t.rowProductStride
            switch products {
            case .packed:
                // The next element's U (after the last, the first: the next band's) is asked
                // for while this one's products run: the 64 U[ξ] of a 132 -> 128 pass (4.3 MiB)
                // leave the L2 between bands.
                dip_winograd_products(u, co, ci, ve, tc, used, me, tc, filter + (e + 1) % elements * filterStride)
            case .sgemm:
                let status = dnnl_sgemm(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "N")),
                                        Int64(co), Int64(used), Int64(ci), 1, u, Int64(ci), ve, Int64(tc), 0, me, Int64(tc))
                guard status == dnnl_success else { return status }
            }
        }
        return dnnl_success
    }

    /// Zeros M's columns past the shortest band's last tile once per thread: the products of a
    /// band never write its columns past its last tile, and the output transform, which runs
    /// eight positions at a time, reads them (defined values) and drops them.
    func clearUnusedProducts(_ m: UnsafeMutablePointer<Float>) {
        let t = tiling, used = t.fewestUsedTileColumns, tc = t.tileColumns
        guard used < tc else { return }
        for e in 0..<t.tile.elements {
            for o in 0..<t.destinationChannels { (m + e * t.rowProductStride + o * tc + used).update(repeating: 0, count: tc - used) }
        }
    }

    /// The band's rows of every destination channel from its M, plus `bias(o)`; with a fold,
    /// through `block` (this thread's, `tiling.bandBlockFloats`) into the unpadded destination,
    /// its bottom border rows set aside in `bottom` for `ReflectionPad.foldBottomBorder`.
    func transformProducts(band: Int, of m: UnsafePointer<Float>, bias: (Int) -> Float, strip: UnsafeMutablePointer<Float>,
                           work: UnsafeMutablePointer<WinogradLanes>, block: UnsafeMutablePointer<Float>,
                           bottom: UnsafeMutablePointer<Float>) {
        let t = tiling, co = t.destinationChannels, tc = t.tileColumns, mStride = t.rowProductStride
        // Likewise, the next channel's destination rows (for writing) and its products: 64 (or
        // 36) short runs of M, one per element, a row of the band apart. The products' prefetch
        // took the forward's output transform from about 4.4 to 3.7 ms a thread at text's
        // 258x258 layer on AVX-512 (BENCHMARKS.md, eleventh part).
        let written = t.destinationRows(ofBand: band), rowFloats = fold?.width ?? t.destinationWidth
        let writtenRows = fold.map { ReflectionPad.interiorRows(ofPaddedRows: written, pad: $0.pad, height: $0.height) } ?? written
        let floatBytes = MemoryLayout<Float>.stride
        func prefetchNextChannel(_ o: Int) {
            guard o + 1 < co else { return }
            dip_prefetch_runs(destination + (o + 1) * destinationPlane + writtenRows.lowerBound * rowFloats, 1, 0,
                              writtenRows.count * rowFloats * floatBytes, 1)
            dip_prefetch_runs(m + (o + 1) * tc, t.tile.elements, mStride * floatBytes, tc * floatBytes, 0)
        }
        if let fold {
            for o in 0..<co {
                prefetchNextChannel(o)
                t.transformProductsRow(m + o * tc, mStride: mStride, band: band, bias: bias(o), strip: strip,
                                       work: work, into: block, firstRow: written.lowerBound)
                ReflectionPad.foldBlock(block, rows: written, pad: fold.pad, height: fold.height, width: fold.width,
                                        into: destination + o * destinationPlane,
                                        bottomBorder: bottom + o * fold.pad * t.destinationWidth)
            }
        } else {
            for o in 0..<co {
                prefetchNextChannel(o)
                t.transformProductsRow(m + o * tc, mStride: mStride, band: band, bias: bias(o),
                                       strip: strip, work: work, into: destination + o * destinationPlane)
            }
        }
    }

    /// The kept copy of the band's V, position-major in the chunk layout (the chunk's bands one
    /// after the other, `tiling.chunkBandStride` positions of every channel each;
    /// `tiling.transposedStride`), streamed past the caches; nothing without `keep`. Bands run
    /// on any thread in any order here, so each copies exactly its own positions.
    func keepSource(band: Int, of v: UnsafePointer<Float>) {
        guard let keep else { return }
        let t = tiling, positions = t.chunkBandStride
        let chunk = t.chunk(holding: band), keptStride = t.transposedStride(chunk)
        let run = keep + t.keptOffset(chunk) + (band - chunk.lowerBound) * positions * t.sourceChannels
        for e in 0..<t.tile.elements {
            dip_stream_transposed(v + e * t.rowSourceStride, t.tileColumns, t.sourceChannels, positions, run + e * keptStride)
        }
    }
}

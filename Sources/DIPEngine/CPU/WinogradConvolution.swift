import CDNNL
import CWinograd
import DIPCore

/// Winograd F(4x4, 3x3), F(6x6, 3x3) and F(8x8, 3x3) for 3x3 stride-1 convolutions, written
/// here: Debian's oneDNN 2.6 has Winograd only for AVX-512, and on AVX2 its direct convolution
/// already runs near the FMA peak, so only fewer multiplications make those machines faster
/// (issue 13). Which one a layer gets is `WinogradTile.preferred(for:)`. The same machinery runs
/// F(6x6, 2x2) for the 2x2 stride-1 convolutions StrideTwoWinograd makes of stride-2 ones (below,
/// 3x3 and 9 taps stand for r x r and r²; the backward-data pad is r - 1).
///
/// Each pass transforms tiles eight at a time (WinogradF43, WinogradF63 or WinogradF83,
/// WinogradTiling; on AVX2 CPUs the same operations in 256-bit C, WinogradKernels, with the same
/// bits), does the 36, 64 or 100 products of the transformed domain with oneDNN's `dnnl_sgemm`,
/// and transforms back:
/// - forward: V = Bᵀ d B per input tile, U = G g Gᵀ per filter (every call: the weights change
///   every iteration), M[ξ] = U[ξ] · V[ξ], output = Aᵀ m A + bias;
/// - backward-data: the "full" convolution of the output gradient (padded by 2 zeros) with the
///   filter rotated by 180 degrees and its channels swapped, through the same forward
///   machinery. (The alternative, the transposed transforms with overlapping tiles added
///   together, would need a scatter-add between neighbouring tiles; this way every input
///   pixel is written exactly once.)
/// - backward-weights: dM = A dY Aᵀ per output-gradient tile, dU[ξ] = Σ over chunks of
///   dM[ξ] · V[ξ]ᵀ, dW = Gᵀ dU G; the bias gradient is the plain sum of the output gradient.
///
/// Determinism: forward and backward-data compute each band of tile rows (WinogradTiling) on
/// one thread (its transforms and its single-threaded GEMMs); backward-weights splits its
/// transforms by channel and runs each GEMM ξ on one thread, chunks in order. So no sum depends
/// on the schedule, and the bits are the same for every thread count.
///
/// Memory: forward and backward-data hold one band's V and M per thread (each about 1.2 MiB at
/// 128 channels and 256 columns with F(4x4, 3x3), 2.9 MiB with F(6x6, 3x3)'s two-row bands,
/// at most `WinogradTiling.tallBandBytes` where a taller band is chosen for a small L2);
/// backward-weights processes a chunk of bands at a time (WinogradTiling), so the output
/// gradient's transformed tiles take at most about 96 MiB of the backend's shared scratch arena
/// (32 MiB at text's 256->128 layer, whose V the forward kept), not the whole image's 2-2.25x
/// blow-up. The forward's transformed input V is the exception: it is kept whole (2.25x the
/// input, about 2x with F(6x6, 3x3)) until the backward-weights pass of the same input, which
/// then skips transforming that input again (the source's row split and transform took about
/// 12 % of a table1 256 iteration on AVX2, half of it in this pass). Each band's V is computed
/// in the band's scratch and copied there, position-major, with non-temporal stores once its
/// products are done (`dip_stream_transposed`): written straight from the transform, the kept
/// V cost the forward's input transform twice its time (table1's 132->128 at 258x258 on
/// AVX-512: 10-12 ms per thread and iteration, 5 ms with the copy, which itself takes about 2).
final class WinogradConvolution: FoldsReflectionPadGradient, PlaneSumBiasGradient, NormalizesItsInput {
    /// The geometry this kernel was made for.
    let geometry: ConvGeometry
    /// Always Winograd.
    let algorithm = ConvAlgorithm.winograd
    /// What runs, for `bench` and the records.
    let implementation: String
    private let backend: CPUBackend
    /// The code that runs the tile transforms: the tilings' choice, made once in init.
    private var kernels: WinogradKernels { forwardTiling.kernels }
    /// What runs the products of the forward and backward-data passes.
    let products: WinogradProducts
    /// input -> output (pad 0).
    private let forwardTiling: WinogradTiling
    /// output gradient -> input gradient (pad 2, or r - 1).
    private let backwardDataTiling: WinogradTiling
    /// The last forward's V, every chunk in order.
    private let keptSource = KeptForwardInput()

    /// Whether this kernel can run `g`: 3x3, stride 1.
    static func fits(_ g: ConvGeometry) -> Bool { g.kernel == 3 && g.stride == 1 }

    /// Whether this kernel beats oneDNN 2.6's AVX-512 Winograd on `g` (which must fit): on
    /// destinations of 32x32 or more. On an AVX-512 Zen (BENCHMARKS.md, seventh part), before
    /// our AVX-512 products kernel, ours took up to a third less time per layer from 128x128 up
    /// (whole table1 iterations about 10 % less at 256 and 512, text's about 5 % less at 256)
    /// and oneDNN's was as fast or faster below. With that kernel, on an AVX-512 Intel Xeon
    /// (twenty-seventh part, `bench --layers`, three rounds each), ours was also the faster at
    /// 64x64 and 32x32: a layer's forward 0.05-0.35 ms slower, its backward with the BatchNorm
    /// after it 0.3-2.4 ms faster, about 3 ms less an iteration at text's 64x64 layers and 1 at
    /// its 32x32 ones (table1: 2 and 1).
    static func outrunsOneDNNWinograd(_ g: ConvGeometry) -> Bool {
        min(g.outputHeight, g.outputWidth) >= 32
    }

    /// Tile rows per band unless told: nil (`WinogradTiling.preferredRowsPerBand`) on AVX2; one
    /// where oneDNN's sgemm runs AVX-512, where (when our kernel ran only on destinations of
    /// 128x128 or more) the one taller band it would take there, F(6x6, 3x3)'s two rows at 256
    /// columns, took 3-7 % more time per layer instead of 6-7 % less (BENCHMARKS.md, ninth
    /// part): its products run fast enough there that the band's larger V and M cost more than
    /// the positions saved.
    static var defaultRowsPerBand: Int? { CPUBackend.effectiveISA.hasPrefix("avx512") ? 1 : nil }

    /// A Winograd kernel for `geometry`, which must be 3x3 stride 1 (else `EngineError.shape`);
    /// `tile` is the algorithm (by default the faster one for the geometry; tests run both);
    /// `rowsPerBand` the tile rows each step takes side by side (by default
    /// `defaultRowsPerBand`; tests force several); `chunkBytes` bounds the transformed tiles of
    /// one chunk (tests make it small); `kernels` runs the tile transforms (tests compare the
    /// two; the result is the same bits); `products` what runs the forward and backward-data
    /// products (by default `WinogradProducts.best`; tests run both, again the same bits).
    init(geometry g: ConvGeometry, backend: CPUBackend, tile: WinogradTile? = nil, rowsPerBand: Int? = nil,
         chunkBytes: Int = WinogradTiling.defaultChunkBytes, kernels: WinogradKernels = .best,
         products: WinogradProducts = .best) throws {
        let tile = tile ?? WinogradTile.preferred(for: g)
        let rowsPerBand = rowsPerBand ?? Self.defaultRowsPerBand
        try g.validate()
        guard g.stride == 1, g.kernel == tile.filterSize else {
            throw EngineError.shape("convolution \(g): Winograd \(tile) needs a \(tile.filterSize)x\(tile.filterSize) stride-1 convolution; use --conv direct or auto")
        }
        guard kernels.runs(on: HostCPU.flags) else {
            throw EngineError.backend("convolution \(g): this CPU cannot run the \(kernels) Winograd tile transforms (it lacks the instructions); use WinogradKernels.best")
        }
        guard products.runs else {
            throw EngineError.backend("convolution \(g): this CPU cannot run the \(products) (it lacks the instructions); use WinogradProducts.best")
        }
        geometry = g
        self.backend = backend
        self.products = products
        forwardTiling = WinogradTiling(tile: tile, sourceChannels: g.inChannels, sourceHeight: g.inputHeight, sourceWidth: g.inputWidth,
                                       pad: 0, destinationChannels: g.outChannels, rowsPerBand: rowsPerBand, chunkBytes: chunkBytes,
                                       kernels: kernels)
        backwardDataTiling = WinogradTiling(tile: tile, sourceChannels: g.outChannels, sourceHeight: g.outputHeight,
                                            sourceWidth: g.outputWidth, pad: tile.filterSize - 1, destinationChannels: g.inChannels,
                                            rowsPerBand: rowsPerBand, chunkBytes: chunkBytes, kernels: kernels)
        implementation = "winograd \(tile) (dip-report; \(products), \(kernels) tile transforms)"
            + " for forward, backward-data and backward-weights"
    }

    /// Every forward keeps its transformed input for the backward-weights pass.
    var keepsForwardInput: Bool { true }

    /// output = conv(input, weight) + bias. Keeps the transformed input for `backwardWeights`.
    func forward(input: Tensor, weight: Tensor, bias: Tensor, output: Tensor) throws {
        try geometry.checkForward(input: input, weight: weight, bias: bias, output: output)
        let t = forwardTiling, b = bias.pointer
        let floats = t.keptFloats
        let kept = keptSource.buffer(bytes: floats * MemoryLayout<Float>.stride).bindMemory(to: Float.self, capacity: floats)
        try convolve(t, source: input.pointer, weight: weight.pointer, rotated: false, destination: output.pointer,
                     keep: kept) { b[$0] }
        keptSource.kept(from: input)
    }

    /// Where the destination is 128x128 or more: on smaller layers the BatchNorm's output
    /// stays in the caches between its pass and ours, and building each band's rows cost more
    /// than it saved (text 256 capped to AVX2, an Intel Xeon: 0.1-0.3 ms more at each of the
    /// 64x64 and smaller levels, 3 ms less at 256x256; BENCHMARKS.md, twenty-seventh part).
    /// Only 3x3 kernels build rows (the nets' layers; the 2x2 ones of StrideTwoWinograd read
    /// their phases as they lie, and the row building was tested for 3x3 only).
    var normalizingPays: Bool { geometry.kernel == 3 && min(geometry.outputHeight, geometry.outputWidth) >= 128 }

    /// The forward of the padded input that `input` describes, each band's rows built from it
    /// in the thread's L1 as the source transform reads them (the same bits as `forward` of the
    /// padded tensor); the transformed tiles are kept as from `padded`, which is not touched.
    func forward(normalizing input: NormalizedPaddedInput, standingFor padded: Tensor, weight: Tensor, bias: Tensor,
                 output: Tensor) throws {
        try geometry.checkForward(input: padded, weight: weight, bias: bias, output: output)
        guard input.paddedShape.dims == geometry.inputDims else {
            throw EngineError.shape("convolution \(geometry) got a normalized input of \(input.paddedShape) padded")
        }
        let t = forwardTiling, b = bias.pointer
        let floats = t.keptFloats
        let kept = keptSource.buffer(bytes: floats * MemoryLayout<Float>.stride).bindMemory(to: Float.self, capacity: floats)
        try convolve(t, source: input.source, normalized: input, weight: weight.pointer, rotated: false,
                     destination: output.pointer, keep: kept) { b[$0] }
        keptSource.kept(from: padded)
    }

    /// Forgets the last forward's transformed input: its tensor now holds other data under the
    /// same address, so the next backward-weights pass must transform it again.
    func discardKeptInput() { keptSource.discard() }

    /// gradInput = d loss / d input, given d loss / d output.
    func backwardData(gradOutput: Tensor, weight: Tensor, gradInput: Tensor) throws {
        try geometry.checkBackwardData(gradOutput: gradOutput, weight: weight, gradInput: gradInput)
        try convolve(backwardDataTiling, source: gradOutput.pointer, weight: weight.pointer, rotated: true,
                     destination: gradInput.pointer) { _ in 0 }
    }

    /// gradInput = the reflection pad's backward of d loss / d (padded) input: each band's rows
    /// of the padded gradient are folded into the unpadded one as the output transform writes
    /// them (ReflectionPad.foldBlock), the same bits as `backwardData` followed by
    /// `ReflectionPad.backward`, without writing the padded gradient and reading it back (that
    /// pass took 4.6-4.9 ms of a text 256 iteration on AVX2 at 258x258, BENCHMARKS.md, tenth part).
    func backwardData(gradOutput: Tensor, weight: Tensor, foldingReflectionPad pad: Int, into gradInput: Tensor) throws {
        try geometry.checkBackwardData(gradOutput: gradOutput, weight: weight, foldingReflectionPad: pad, gradInput: gradInput)
        let t = backwardDataTiling
        guard geometry.kernel == 3 else {
            throw EngineError.shape("convolution \(geometry): only 3x3 kernels fold a reflection pad; fold it after the pass")
        }
        guard bandFolds(pad) else {
            throw EngineError.shape("convolution \(geometry): the first band's \(t.destinationRows(ofBand: 0).count) rows cannot fold a reflection pad of \(pad); fold it after the pass")
        }
        try convolve(t, source: gradOutput.pointer, weight: weight.pointer, rotated: true, destination: gradInput.pointer,
                     foldingReflectionPad: pad) { _ in 0 }
    }

    /// A 3x3 kernel (the fold was tested for 3x3 only; StrideTwoWinograd's 2x2 ones write the
    /// phases' gradient), the geometry leaves room to fold, and the first band of the
    /// backward-data pass holds more than 2 pad rows (its block must reach row 2 pad to fold the
    /// top border rows).
    func foldsReflectionPad(_ pad: Int) -> Bool { geometry.kernel == 3 && geometry.leavesRoomToFold(pad) && bandFolds(pad) }

    private func bandFolds(_ pad: Int) -> Bool { backwardDataTiling.destinationRows(ofBand: 0).count > 2 * pad }

    /// gradWeight, gradBias = d loss / d weight, d loss / d bias. When `input` is the tensor the
    /// last forward read, that forward's transformed tiles are used instead of transforming it
    /// again (so Conv2d may reuse the tensor's memory in between).
    func backwardWeights(input: Tensor, gradOutput: Tensor, gradWeight: Tensor, gradBias: Tensor) throws {
        try backwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias, summingBias: true)
    }

    /// `backwardWeights`, the bias gradient left to the caller.
    func backwardWeights(input: Tensor, gradOutput: Tensor, gradWeight: Tensor, keepingSummedBias gradBias: Tensor) throws {
        try backwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias, summingBias: false)
    }

    private func backwardWeights(input: Tensor, gradOutput: Tensor, gradWeight: Tensor, gradBias: Tensor, summingBias: Bool) throws {
        let g = geometry
        try g.checkBackwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
        let t = forwardTiling
        let (x, dy, dw, db) = (input.pointer, gradOutput.pointer, gradWeight.pointer, gradBias.pointer)
        let outPlane = g.outputHeight * g.outputWidth, inPlane = g.inputHeight * g.inputWidth
        let kept = keptSource.take(for: input).map { $0.assumingMemoryBound(to: Float.self) }
        try backend.withRuntime {
            let parallel = ChannelParallel(threads: backend.threads)
            let (du, scratchSource, scratchTransposed, dm) = scratch(t, kept: kept != nil)
            for (index, rows) in t.chunks.enumerated() {
                let n = t.chunkPositions(rows), ld = t.chunkChannelStride(rows)
                let v: UnsafeMutablePointer<Float>
                if let kept {
                    v = kept + t.keptOffset(rows)
                } else {
                    // As the forward would have kept it: transformed, then position-major.
                    v = scratchTransposed
                    parallel.run(g.inChannels) { c in
                        t.transformSource(x + c * inPlane, channel: c, rows: rows, into: scratchSource)
                    }
                    parallel.run(t.tile.elements) { e in
                        dip_stream_transposed(scratchSource + e * t.sourceStride(rows), ld, g.inChannels, n,
                                              v + e * t.transposedStride(rows))
                    }
                }
                parallel.run(g.outChannels) { o in t.transformGradient(dy + o * outPlane, channel: o, rows: rows, into: dm) }
                // dU[ξ] (Cout x Cin) += dM[ξ] (Cout x n) · V[ξ] (n x Cin, position-major), chunk
                // after chunk; n counts the chunk's positions up to each band's last tile
                // (chunkBandStride).
                try products(t.tile.elements) { e in
                    dnnl_sgemm(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "N")),
                               Int64(g.outChannels), Int64(g.inChannels), Int64(n), 1,
                               dm + e * t.productStride(rows), Int64(ld), v + e * t.transposedStride(rows), Int64(g.inChannels),
                               index == 0 ? 0 : 1, du + e * t.filterStride, Int64(g.inChannels))
                }
            }
            parallel.run(g.outChannels) { o in
                kernels.filterGradientRow(t.tile, du + o * g.inChannels, stride: t.filterStride, columns: g.inChannels,
                                          into: dw + o * g.inChannels * t.tile.taps)
                if summingBias { db[o] = planeSum(dy + o * outPlane, count: outPlane) }
            }
        }
    }

    // MARK: The shared machinery

    /// destination = conv(source, filter) + bias(channel), the filter being `weight` as it is
    /// (forward) or rotated by 180 degrees with its channels swapped (backward-data). With
    /// `keep`, the transformed source is also copied there (every chunk's V at `keptOffset`, as
    /// the backward-weights pass reads it). With `foldingReflectionPad`, the destination is the
    /// unpadded input's gradient: each band's rows of each channel go to a block of the thread's
    /// scratch and are folded from there (ReflectionPad.foldBlock), and the bottom border rows,
    /// set aside, once every band is done.
    ///
    /// After the filter transform, each thread takes the next band no thread has taken yet
    /// (`singleThreadedClaims`, so a thread slowed by another process takes fewer) and runs it
    /// from source to destination (WinogradBandSteps): the band's V (all source channels),
    /// its products and its output transform (all destination channels). A band's V and M
    /// (about 1.2 MiB at 132 -> 128 channels and 64 tiles) stay near that core between the
    /// three steps, where a sweep per step over a 24 MiB chunk of many rows went through memory,
    /// and no thread waits for another between steps. (Measured together with the skewed
    /// strides, which did most of it: BENCHMARKS.md, sixth part.) Every band is computed the
    /// same way whichever thread takes it, so the bits do not depend on the thread count.
    private func convolve(_ t: WinogradTiling, source: UnsafePointer<Float>, normalized: NormalizedPaddedInput? = nil,
                          weight: UnsafePointer<Float>, rotated: Bool,
                          destination: UnsafeMutablePointer<Float>, keep: UnsafeMutablePointer<Float>? = nil,
                          foldingReflectionPad: Int? = nil, bias: (Int) -> Float) throws {
        let (ci, co) = (t.sourceChannels, t.destinationChannels)
        let fold = foldingReflectionPad.map {
            WinogradBandSteps.Fold(pad: $0, height: t.destinationHeight - 2 * $0, width: t.destinationWidth - 2 * $0)
        }
        let sourcePlane = t.sourceHeight * t.sourceWidth
        let destinationPlane = fold.map { $0.height * $0.width } ?? t.destinationHeight * t.destinationWidth
        try backend.withRuntime {
            let parallel = ChannelParallel(threads: backend.threads)
            let layout = t.rowScratchLayout(parts: parallel.threads, products: products)
            // With a fold: the bottom border rows of every channel, then each thread's block.
            let bottomFloats = co * (fold?.pad ?? 0) * t.destinationWidth
            let bottomOffset = layout.bytes, blockOffset = bottomOffset + WinogradTiling.pages(bottomFloats)
            let blockBytes = fold == nil ? 0 : WinogradTiling.pages(t.bandBlockFloats)
            // With a normalized source: each thread's rows of a band, built there (a few KiB).
            let rowsOffset = blockOffset + parallel.threads * blockBytes
            let rowsBytes = normalized == nil ? 0 : WinogradTiling.pages(t.bandSourceRowFloats)
            let arena = backend.scratch(bytes: rowsOffset + parallel.threads * rowsBytes)
            func floats(_ offset: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
                (arena + offset).bindMemory(to: Float.self, capacity: count)
            }
            let filterStride = t.filterStride(for: products)
            let u = floats(layout.filter, t.tile.elements * filterStride)
            // Forward: filter (p = o, q = i) is weight[o, i]; backward-data: filter (p = i, q = o)
            // is weight[o, i] rotated, where the kernel's input channels are the destination.
            let taps = t.tile.taps
            let (pStride, qStride) = rotated ? (taps, co * taps) : (ci * taps, taps)
            switch products {
            case .sgemm:
                parallel.run(co) { p in
                    kernels.filterRow(t.tile, weight + p * pStride, qStride: qStride, columns: ci, rotated: rotated,
                                      into: u + p * ci, stride: filterStride)
                }
            case .packed:
                packFilter(t, weight: weight, pStride: pStride, qStride: qStride, rotated: rotated, into: u, stride: filterStride,
                           parallel: parallel)
            }
            let steps = WinogradBandSteps(tiling: t, source: source, sourcePlane: sourcePlane, normalized: normalized,
                                          products: products, filter: u,
                                          filterStride: filterStride, destination: destination,
                                          destinationPlane: destinationPlane, fold: fold, keep: keep)
            try backend.singleThreadedClaims(t.bands, what: "the Winograd products of \(geometry)") { part, next in
                let m = floats(layout.products + part * layout.part, t.rowProductFloats)
                let v = floats(layout.source + part * layout.part, t.rowSourceFloats)
                // With a fold: this thread's block and every channel's bottom border rows.
                let block = floats(blockOffset + part * blockBytes, fold == nil ? 0 : t.bandBlockFloats)
                let rows = floats(rowsOffset + part * rowsBytes, normalized == nil ? 0 : t.bandSourceRowFloats)
                let bottom = floats(bottomOffset, bottomFloats)
                steps.clearUnusedProducts(m)
                return t.withSourceStrip { sourceStrip, work in
                    t.withProductStrip { productStrip, _ in
                        while let band = next() {
                            steps.transformSource(band: band, into: v, strip: sourceStrip, work: work, rows: rows)
                            let status = steps.products(band: band, of: v, into: m)
                            guard status == dnnl_success else { return status }
                            steps.transformProducts(band: band, of: m, bias: bias, strip: productStrip, work: work, block: block,
                                                    bottom: bottom)
                            steps.keepSource(band: band, of: v)
                        }
                        return dnnl_success
                    }
                }
            }
            if let fold {
                let bottom = floats(bottomOffset, bottomFloats)
                parallel.run(co) { o in
                    ReflectionPad.foldBottomBorder(bottom + o * fold.pad * t.destinationWidth, pad: fold.pad, height: fold.height,
                                                   width: fold.width, into: destination + o * destinationPlane)
                }
            }
        }
    }

    /// U in the layout of `dip_winograd_products` (CWinograd's winograd_products.h), straight
    /// from the filter transform: for each source channel q, the filters of a block's
    /// destination channels are the transform's columns (their taps `pStride` apart), so each
    /// element ξ of the block's row q comes out as the contiguous run the kernel loads; the rows
    /// that pad the last block to 16 are zeros.
    private func packFilter(_ t: WinogradTiling, weight: UnsafePointer<Float>, pStride: Int, qStride: Int, rotated: Bool,
                            into u: UnsafeMutablePointer<Float>, stride: Int, parallel: ChannelParallel) {
        let (ci, co, block) = (t.sourceChannels, t.destinationChannels, WinogradProducts.packedBlockRows)
        parallel.run(ci) { q in
            for first in Swift.stride(from: 0, to: co, by: block) {
                let width = min(block, co - first), padded = (width + 15) / 16 * 16
                let row = u + first * ci + q * padded
                kernels.filterRow(t.tile, weight + q * qStride + first * pStride, qStride: pStride, columns: width,
                                  rotated: rotated, into: row, stride: stride)
                guard padded > width else { continue }
                for e in 0..<t.tile.elements { (row + e * stride + width).update(repeating: 0, count: padded - width) }
            }
        }
    }

    /// dU, V (channel-major and position-major) and dM of `t` in the backend's scratch arena;
    /// with `kept`, neither V has room there (the pass reads the kept one).
    private func scratch(_ t: WinogradTiling, kept: Bool) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                                                            UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        let layout = t.scratchLayout(kept: kept)
        let arena = backend.scratch(bytes: layout.bytes)
        func floats(_ offset: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
            (arena + offset).bindMemory(to: Float.self, capacity: count)
        }
        return (floats(layout.filter, t.filterFloats), floats(layout.source, kept ? 0 : t.sourceFloats),
                floats(layout.transposed, kept ? 0 : t.transposedFloats), floats(layout.products, t.productFloats))
    }

    /// Runs the `count` products, `gemm(ξ)`, each on one thread.
    private func products(_ count: Int, _ gemm: (Int) -> dnnl_status_t) throws {
        try backend.singleThreadedGEMMs(count, what: "the Winograd products of \(geometry)", gemm)
    }
}

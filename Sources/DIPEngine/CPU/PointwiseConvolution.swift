import CDNNL
import CPointwise

/// A 1x1 stride-1 convolution as the matrix product it is, on the plain [C, H, W] tensors the
/// layers hold: with the P = H x W pixels as columns, output (Cout x P) = weight (Cout x Cin)
/// · input (Cin x P) + bias, input gradient = weightᵀ · output gradient, weight gradient =
/// output gradient · inputᵀ. A direct convolution (each output the plain sum of its Cin
/// products; only the order of that sum is the GEMM's), so records call it direct.
///
/// Why not oneDNN's convolution: that one works in channel-blocked layouts, so every call
/// reorders its input and output (four activation reorders per layer and iteration), and it
/// pads channels to blocks of 8 or 16, so the skip branches' 4-channel and the last layer's
/// 3-channel outputs cost 4-5x their work. The skip network has a 1x1 layer at every level
/// (issue 13). Measured, 128->128 at 256x256, 2 threads, AMD EPYC (BENCHMARKS.md, sixth
/// part), forward and backward (data and weights) ms: AVX-512 8 and 14 here against 11 and 23
/// for oneDNN's convolution; capped to AVX2 13 and 23 against 16-18 and 28-32 (before the
/// block copy, below, the products were the slower ones on AVX2).
///
/// Determinism: the pixels are cut into fixed blocks whatever the thread count, each block's
/// GEMM runs on one thread, and the weight gradient's per-block partial products are added in
/// block order, so the bits are the same on any number of threads.
final class PointwiseConvolution: PlaneSumBiasGradient {
    /// The geometry this kernel was made for.
    let geometry: ConvGeometry
    /// A direct convolution.
    let algorithm = ConvAlgorithm.direct
    /// What runs, for `bench` and the records.
    let implementation: String
    private let backend: CPUBackend
    /// Pixels per GEMM of the forward and backward-data passes: a 32x32 level is one block, a
    /// 64x64 one already four, so two or more threads have work from there up; and the copy of
    /// a block's rows (below) stays in the core's L2 (132 rows: 0.5 MiB).
    static let columnBlock = 1024
    /// Floats from one row of a copied block to the next (`skewedStride`).
    ///
    /// Why copy: in the tensors, a block's rows (one per channel) lie a plane apart, and the
    /// planes of the nets' levels (64x64 up) are multiples of 4 KiB, so the GEMM's packing
    /// reads all rows at the same cache-set offset and the L1 evicts them as it goes.
    /// `bench/sgemm_plane_stride.c` (128 -> 128 channels, 65536 pixels, blocks of 1024, 1
    /// thread, AMD EPYC), forward / backward-data GFLOP/s: AVX2 54 / 57 with the plane stride,
    /// 92 / 103 with 16 floats more; AVX-512 174 / 175 against 220 / 212. The copy reads each
    /// row once in order, which the prefetchers follow.
    static let copiedRowStride = skewedStride(columnBlock)
    /// What runs a forward or backward-data product: our FMA kernels (CPointwise) or oneDNN's
    /// sgemm.
    enum Product: Equatable, CustomStringConvertible {
        case sgemm
        case fma(isa: Int32)

        /// The best for a product of `rows` output rows over `inner` channels here, for the
        /// forward (`forward`; the 512-bit kernel streams its output there) or the
        /// backward-data pass: on AVX2 (no AVX-512, or oneDNN capped to AVX2, which caps ours
        /// too) the 256-bit kernel from 4 rows up; where oneDNN runs AVX-512, the 512-bit kernel
        /// from 4 rows up for the forward, and for the backward-data pass where the inner
        /// dimension is below 64 or the rows fewer than 16; sgemm otherwise. Measured per layer,
        /// 2 threads, AMD EPYC (BENCHMARKS.md, tenth part): AVX2, 128 -> 128 at 256x256 forward
        /// 11.9 against 13.0 ms and 32 -> 128 3.4 against 5.4, but 128 -> 3 and 128 -> 1 (6-row
        /// steps of mostly padding) 0.25 ms slower; AVX-512, 32 -> 4 at 256x256 0.5 against
        /// 1.7-2.0 ms, 128 -> 128 level (8.2 against 8.3 ms forward, 15.9 against 15.0
        /// backward), and 128 -> 1 0.25 ms slower. On an AVX-512 Intel Xeon (twenty-seventh
        /// part) table1's 128 -> 4 skip layer at 128x128 took 0.44-0.49 ms against sgemm's 1.7
        /// (which packs the 128 x 1024 block for a 4-row product); there (thirty-fifth part)
        /// the 128 -> 128 forward at 256x256 took 15.7-16.7 ms against sgemm's 19.0-22.3 in a
        /// net, whose output rows are cold (sgemm reads each line before writing it), and with
        /// non-temporal stores 12.6-14.0 against 14.9-16.1, while its backward-data stayed
        /// level (41.4-46.2 against 39.9-45.6 with the BatchNorm and the weight gradient).
        static func best(rows: Int, inner: Int, forward: Bool) -> Product {
            let available = dip_pointwise_available()
            if CPUBackend.effectiveISA.hasPrefix("avx512") {
                let ours = rows >= 4 && (forward || inner < 64 || rows < 16) && available & Int32(DIP_POINTWISE_AVX512) != 0
                return ours ? .fma(isa: Int32(DIP_POINTWISE_AVX512)) : .sgemm
            }
            return rows >= 4 && available & Int32(DIP_POINTWISE_AVX2) != 0 ? .fma(isa: Int32(DIP_POINTWISE_AVX2)) : .sgemm
        }

        /// Whether this CPU runs it.
        var runs: Bool {
            guard case .fma(let isa) = self else { return true }
            return dip_pointwise_available() & isa != 0
        }

        var description: String {
            switch self {
            case .sgemm: "oneDNN \(CPUBackend.oneDNNVersion) sgemm"
            case .fma(let isa): isa == Int32(DIP_POINTWISE_AVX512) ? "dip-report avx512 FMA kernel" : "dip-report avx2 FMA kernel"
            }
        }
    }
    /// The forward's product (inner dimension: the input channels).
    let forwardProduct: Product
    /// The backward-data pass's product (inner dimension: the output channels).
    let backwardDataProduct: Product

    /// Pixels per partial product of the weight gradient (64 partials at 512x512, 4 MiB of
    /// scratch for a 128->128 layer).
    static let reductionBlock = 4096

    /// Whether this kernel can run `g`: 1x1, stride 1.
    static func fits(_ g: ConvGeometry) -> Bool { g.kernel == 1 && g.stride == 1 }

    /// A kernel for `geometry`, which must be 1x1 stride 1 (else `EngineError.shape`);
    /// `product` runs the forward and backward-data products (by default each pass's best here,
    /// `Product.best`; tests run each).
    init(geometry g: ConvGeometry, backend: CPUBackend, product: Product? = nil) throws {
        try g.validate()
        guard Self.fits(g) else {
            throw EngineError.shape("convolution \(g): the pointwise kernel needs a 1x1 stride-1 convolution")
        }
        if let product, !product.runs {
            throw EngineError.backend("convolution \(g): this CPU cannot run the \(product) (it lacks the instructions); leave the product to the default")
        }
        geometry = g
        self.backend = backend
        forwardProduct = product ?? .best(rows: g.outChannels, inner: g.inChannels, forward: true)
        backwardDataProduct = product ?? .best(rows: g.inChannels, inner: g.outChannels, forward: false)
        implementation = "direct 1x1 as a matrix product (dip-report; \(forwardProduct) for forward, \(backwardDataProduct)"
            + " for backward-data, oneDNN \(CPUBackend.oneDNNVersion) sgemm for backward-weights)"
    }

    private var pixels: Int { geometry.inputHeight * geometry.inputWidth }

    /// The column range of block `j` of `size` pixels.
    private func block(_ j: Int, of size: Int) -> (start: Int, count: Int) {
        (j * size, min(size, pixels - j * size))
    }

    private func blocks(of size: Int) -> Int { (pixels + size - 1) / size }

    /// output = weight · input + bias.
    func forward(input: Tensor, weight: Tensor, bias: Tensor, output: Tensor) throws {
        let g = geometry
        try g.checkForward(input: input, weight: weight, bias: bias, output: output)
        let (x, w, b, y, p) = (input.pointer, weight.pointer, bias.pointer, output.pointer, pixels)
        try backend.withRuntime {
            try copiedBlockProducts(of: x, rows: g.inChannels, what: "the forward 1x1 convolution \(g)", product: forwardProduct,
                                    packing: (UnsafePointer(w), g.outChannels, g.inChannels, g.inChannels, 1)) { lo, n, block, ld, packed in
                if case .fma(let isa) = forwardProduct {
                    // Streamed (the AVX-512 kernel): the output was last touched an iteration
                    // ago, and its next reader (the BatchNorm behind) comes after the layer.
                    dip_pointwise_product(isa, packed, g.outChannels, g.inChannels, block, ld, n, y + lo, p, b, 1)
                    return dnnl_success
                }
                // The bias goes in first and the product is added to it (beta 1): one pass over
                // the output instead of two.
                for o in 0..<g.outChannels { (y + o * p + lo).update(repeating: b[o], count: n) }
                return dnnl_sgemm(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "N")), Int64(g.outChannels), Int64(n),
                                  Int64(g.inChannels), 1, w, Int64(g.inChannels), block, Int64(ld), 1, y + lo, Int64(p))
            }
        }
    }

    /// gradInput = weightᵀ · gradOutput.
    func backwardData(gradOutput: Tensor, weight: Tensor, gradInput: Tensor) throws {
        let g = geometry
        try g.checkBackwardData(gradOutput: gradOutput, weight: weight, gradInput: gradInput)
        let (dy, w, dx, p) = (gradOutput.pointer, weight.pointer, gradInput.pointer, pixels)
        try backend.withRuntime {
            // The product's matrix is weightᵀ: element (i, o) is weight[o, i].
            try copiedBlockProducts(of: dy, rows: g.outChannels, what: "the backward-data 1x1 convolution \(g)",
                                    product: backwardDataProduct,
                                    packing: (UnsafePointer(w), g.inChannels, g.outChannels, 1, g.inChannels)) { lo, n, block, ld, packed in
                if case .fma(let isa) = backwardDataProduct {
                    // Not streamed: dx is written over the input, which the weight gradient
                    // has just read into the caches.
                    dip_pointwise_product(isa, packed, g.inChannels, g.outChannels, block, ld, n, dx + lo, p, nil, 0)
                    return dnnl_success
                }
                return dnnl_sgemm(CChar(UInt8(ascii: "T")), CChar(UInt8(ascii: "N")), Int64(g.inChannels), Int64(n),
                                  Int64(g.outChannels), 1, w, Int64(g.inChannels), block, Int64(ld), 0, dx + lo, Int64(p))
            }
        }
    }

    /// The matrix a product multiplies the blocks by: `rows` x `columns`, element (r, c) at
    /// `weight + r * rowStride + c * columnStride`.
    private typealias Packing = (weight: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int, columnStride: Int)

    /// Calls `gemm(lo, n, block, ld, packed)` for every block of `columnBlock` pixels, each on
    /// one thread with single-threaded oneDNN: `block` holds pixels lo..<lo+n of the `rows`
    /// planes of `source`, copied by `dip_pointwise_copy` as `product` reads them (for sgemm,
    /// isa 0: one row every `ld` floats, see `copiedRowStride`), and `packed` the `packing`
    /// matrix as `product` reads it (packed once, before the blocks; not for sgemm, which packs
    /// its own).
    private func copiedBlockProducts(of source: UnsafePointer<Float>, rows: Int, what: @autoclosure () -> String,
                                     product: Product, packing m: Packing,
                                     _ gemm: (_ lo: Int, _ n: Int, _ block: UnsafePointer<Float>, _ ld: Int,
                                              _ packed: UnsafePointer<Float>) -> dnnl_status_t) throws {
        let p = pixels, ld = Self.copiedRowStride, perPart = rows * ld
        let isa: Int32 = if case .fma(let isa) = product { isa } else { 0 }
        let packedFloats = isa == 0 ? 0 : dip_pointwise_packed_floats(isa, m.rows, m.columns)
        // The packed matrix first, then each thread's copy, each 64-byte aligned.
        let packedSpan = (packedFloats + 15) / 16 * 16
        let arena = backend.scratch(bytes: (packedSpan + backend.threads * perPart) * MemoryLayout<Float>.stride)
            .bindMemory(to: Float.self, capacity: packedSpan + backend.threads * perPart)
        let packed = arena, copies = arena + packedSpan
        if isa != 0 { dip_pointwise_pack(isa, m.weight, m.rows, m.columns, m.rowStride, m.columnStride, packed) }
        try backend.singleThreadedClaims(blocks(of: Self.columnBlock), what: what()) { part, next in
            let copy = copies + part * perPart
            while let j = next() {
                let (lo, n) = block(j, of: Self.columnBlock)
                dip_pointwise_copy(isa, source + lo, p, rows, n, copy, ld)
                let status = gemm(lo, n, copy, ld, packed)
                guard status == dnnl_success else { return status }
            }
            return dnnl_success
        }
    }

    /// gradWeight = gradOutput · inputᵀ, gradBias = the pixel sums of gradOutput.
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
        let (x, dy, dw, db, p) = (input.pointer, gradOutput.pointer, gradWeight.pointer, gradBias.pointer, pixels)
        let parts = blocks(of: Self.reductionBlock), count = g.outChannels * g.inChannels
        try backend.withRuntime {
            // One partial product per block (the first straight into gradWeight), added in order.
            let scratch = parts > 1
                ? backend.scratch(bytes: (parts - 1) * count * MemoryLayout<Float>.stride).bindMemory(to: Float.self, capacity: (parts - 1) * count)
                : dw
            func partial(_ j: Int) -> UnsafeMutablePointer<Float> { j == 0 ? dw : scratch + (j - 1) * count }
            try backend.singleThreadedGEMMs(parts, what: "the backward-weights 1x1 convolution \(g)") { j in
                let (lo, n) = block(j, of: Self.reductionBlock)
                return dnnl_sgemm(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "T")), Int64(g.outChannels), Int64(g.inChannels),
                                  Int64(n), 1, dy + lo, Int64(p), x + lo, Int64(p), 0, partial(j), Int64(g.inChannels))
            }
            let parallel = ChannelParallel(threads: backend.threads)
            parallel.run(g.outChannels) { o in
                let row = dw + o * g.inChannels
                for j in 1..<parts {
                    let other = partial(j) + o * g.inChannels
                    for i in 0..<g.inChannels { row[i] += other[i] }
                }
                if summingBias { db[o] = planeSum(dy + o * p, count: p) }
            }
        }
    }
}

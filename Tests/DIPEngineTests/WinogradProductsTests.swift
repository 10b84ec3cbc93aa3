import CWinograd
import DIPCore
import Testing
@testable import DIPEngine

/// The AVX-512 products of the Winograd band passes (CWinograd's winograd_products.c): each
/// output the in-order sum of fused multiply-adds from zero, as oneDNN's AVX-512 sgemm computes
/// it, so switching between the two leaves every bit of a fit as it was.
@Suite("Winograd AVX-512 products")
struct WinogradProductsTests {
    @Test("the kernel where oneDNN runs AVX-512 on a CPU with AVX-512F, VL and DQ; sgemm elsewhere, also under an AVX2 cap")
    func choice() {
        let zen3: Set = ["sse4_2", "avx", "avx2", "fma"]
        let xeon = zen3.union(["avx512f", "avx512vl", "avx512dq", "avx512bw", "avx512_bf16"])
        #expect(WinogradProducts.matching(oneDNNISA: "avx512_core", cpuFlags: xeon) == .packed)
        #expect(WinogradProducts.matching(oneDNNISA: "avx512_core_bf16", cpuFlags: xeon) == .packed)
        // oneDNN capped to AVX2 stands for an AVX2 machine: sgemm, as there.
        #expect(WinogradProducts.matching(oneDNNISA: "avx2", cpuFlags: xeon) == .sgemm)
        #expect(WinogradProducts.matching(oneDNNISA: "avx2", cpuFlags: zen3) == .sgemm)
        // AVX-512F without VL (the first Xeon Phi): the kernel's masked 256-bit stores need it.
        #expect(WinogradProducts.matching(oneDNNISA: "avx512_mic", cpuFlags: zen3.union(["avx512f"])) == .sgemm)
        #expect(WinogradProducts.best.runs && WinogradProducts.sgemm.runs)
    }

    /// U (rows x inner, row-major) packed as winograd_products.h describes, written out here
    /// from that description rather than by the convolution's filter transform.
    static func pack(_ u: [Float], rows: Int, inner: Int) -> [Float] {
        var packed = [Float](repeating: .nan, count: WinogradProducts.packedFloats(rows: rows, inner: inner))
        let block = WinogradProducts.packedBlockRows
        for first in stride(from: 0, to: rows, by: block) {
            let width = min(block, rows - first), padded = (width + 15) / 16 * 16
            for k in 0..<inner {
                for r in 0..<padded { packed[first * inner + k * padded + r] = r < width ? u[(first + r) * inner + k] : 0 }
            }
        }
        return packed
    }

    @Test("each output is the in-order fused multiply-add sum, bit for bit; nothing outside the rows and columns is written",
          .enabled(if: WinogradProducts.packed.runs, "this CPU has no AVX-512F, VL and DQ"),
          arguments: [(1, 1, 1), (5, 3, 7), (16, 9, 8), (17, 4, 9), (48, 20, 22), (49, 33, 43), (100, 7, 15),
                      (128, 132, 43), (132, 128, 22), (40, 64, 50), (128, 256, 32)])
    func matchesFusedSums(_ rows: Int, _ inner: Int, _ columns: Int) {
        var rng = RandomStream(seed: UInt64(rows * 10_000 + inner * 100 + columns), purpose: .auxiliary, substream: 0)
        let vStride = columns + 5, mStride = columns + 3
        let u = (0..<(rows * inner)).map { _ in 2 * rng.uniform() - 1 }
        let v = (0..<(inner * vStride)).map { _ in 2 * rng.uniform() - 1 }
        let packed = Self.pack(u, rows: rows, inner: inner)
        // The next U to prefetch: any readable memory of the packed size.
        let next = Self.pack(u.reversed(), rows: rows, inner: inner)
        for prefetching in [false, true] {
            var m = [Float](repeating: 12345, count: rows * mStride)
            packed.withUnsafeBufferPointer { p in
                v.withUnsafeBufferPointer { vb in
                    next.withUnsafeBufferPointer { nb in
                        m.withUnsafeMutableBufferPointer { mb in
                            dip_winograd_products(p.baseAddress, rows, inner, vb.baseAddress, vStride, columns, mb.baseAddress, mStride,
                                                  prefetching ? nb.baseAddress : nil)
                        }
                    }
                }
            }
            var wrong = 0, touched = 0
            for r in 0..<rows {
                for j in 0..<mStride {
                    let got = m[r * mStride + j]
                    guard j < columns else {
                        if got != 12345 { touched += 1 }
                        continue
                    }
                    var sum: Float = 0
                    for k in 0..<inner { sum = sum.addingProduct(u[r * inner + k], v[k * vStride + j]) }
                    if got.bitPattern != sum.bitPattern { wrong += 1 }
                }
            }
            #expect(wrong == 0, "\(rows)x\(inner) by \(inner)x\(columns), prefetching \(prefetching): \(wrong) outputs differ")
            #expect(touched == 0, "\(rows)x\(inner) by \(inner)x\(columns): \(touched) values past the columns were written")
        }
    }

    /// The suite's geometries and one per tile with several blocks of destination rows, the last
    /// partial, in both passes (132 -> 100 and back), as the nets' 132 -> 128 layers have; but
    /// not those where a band can hold a single tile (one tile a row): oneDNN's sgemm of one
    /// column is a matrix-vector product that sums in another order, where the kernel keeps
    /// its own (where the kernel runs, from 32x32 destinations, a row holds 8 tiles or more).
    static let cases: [(WinogradTile, ConvGeometry)] = (WinogradTests.cases + WinogradTile.allCases.map {
        ($0, ConvGeometry(inChannels: 132, outChannels: 100, kernel: $0.filterSize, stride: 1, inputHeight: 14, inputWidth: 27))
    }).filter { tile, g in g.outputWidth > tile.outputSize }

    /// Only where oneDNN runs AVX-512: its AVX2 sgemm (an AVX2 machine, or `DNNL_MAX_CPU_ISA=AVX2`)
    /// sums in another order, as its AVX2 convolutions always did.
    @Test("a Winograd convolution gives the same bits with them as with oneDNN's AVX-512 sgemm, in all three passes and folding a pad",
          .enabled(if: WinogradProducts.best == .packed, "oneDNN does not run AVX-512 here"),
          arguments: cases)
    func sameBitsAsSgemm(_ tile: WinogradTile, _ g: ConvGeometry) throws {
        let cpu = try CPUBackend(threads: 2)
        for rows in [1, 2] {
            let sgemm = try WinogradConvolution(geometry: g, backend: cpu, tile: tile, rowsPerBand: rows, products: .sgemm)
            let packed = try WinogradConvolution(geometry: g, backend: cpu, tile: tile, rowsPerBand: rows, products: .packed)
            #expect(sgemm.implementation.contains("sgemm products") && packed.implementation.contains("avx512 products"))
            let d = WinogradTests.Data(g, seed: 5)
            var want = try WinogradTests.run(sgemm, d), got = try WinogradTests.run(packed, d)
            if packed.foldsReflectionPad(1) {
                let unpadded = [g.inChannels, g.inputHeight - 2, g.inputWidth - 2]
                let (a, b) = (Tensor(unpadded), Tensor(unpadded))
                try sgemm.backwardData(gradOutput: d.dy, weight: d.w, foldingReflectionPad: 1, into: a)
                try packed.backwardData(gradOutput: d.dy, weight: d.w, foldingReflectionPad: 1, into: b)
                want.append(a.array)
                got.append(b.array)
            }
            for (k, name) in ["forward", "backward-data", "backward-weights", "bias gradient", "folded backward-data"]
                .prefix(want.count).enumerated() {
                let differing = zip(got[k], want[k]).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differing == 0, "\(tile) \(name) \(g), \(rows) rows a band: \(differing) of \(want[k].count) values differ")
            }
        }
    }
}

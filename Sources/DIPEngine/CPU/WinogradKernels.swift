import CWinograd
import DIPCore

/// Which code runs the inner steps of the Winograd sweeps: the eight-tile steps (load eight tiles,
/// one 2-D transform of WinogradF43, WinogradF63, WinogradF62 or WinogradF83, store), the phase split and merge of a row,
/// and the filter transforms of a row of U or dU.
/// Either the Swift SIMD8 transforms and scalar loops, which the baseline x86-64 build turns into
/// 4-lane SSE and one float at a time, or the same operations on 8-lane AVX registers in C
/// (CWinograd).
///
/// Both do the same multiplies and adds in the same order, fusing a multiply and an add exactly
/// where the other does (only F(8x8, 3x3)'s transforms do), and move the same floats to the
/// same places, so they give the same bits: which one runs changes the speed, never a result.
enum WinogradKernels: Sendable, CaseIterable, CustomStringConvertible {
    /// Swift SIMD8<Float>: every CPU.
    case portable
    /// CWinograd's 256-bit kernels: x86-64 CPUs with AVX2 and FMA (F(8x8, 3x3)'s fuse
    /// multiply and add; every CPU with AVX2 the nets meet has FMA too).
    case avx2

    /// The fastest kernels this CPU runs.
    static let best: WinogradKernels = avx2.runs(on: HostCPU.flags) ? .avx2 : .portable

    /// Whether a CPU with these /proc/cpuinfo flags runs the kernels (the C ones exist only in
    /// an x86-64 build).
    func runs(on flags: Set<String>) -> Bool {
        switch self {
        case .portable: true
        case .avx2: dip_winograd_avx2_available() != 0 && flags.contains("avx2") && flags.contains("fma")
        }
    }

    /// "portable" or "avx2", for the convolution's implementation string.
    var description: String {
        switch self {
        case .portable: "portable"
        case .avx2: "avx2"
        }
    }

    /// Lanes of the `work` buffer each step below needs (the portable steps' tiles in flight:
    /// three of F(8x8, 3x3)'s 100 elements).
    static let workLanes = 300

    // MARK: The phase split and merge of one row (data movement only).

    /// For x in 0..<min(width, m phaseStride - pad), m the tile's output size, with xx = x + pad:
    /// row[x] goes to `phases[(xx % m) * phaseStride + xx / m]`; nothing else is written.
    @inline(__always)
    func splitRow(_ tile: WinogradTile, _ row: UnsafePointer<Float>, width: Int, pad: Int,
                  into phases: UnsafeMutablePointer<Float>, phaseStride: Int) {
        switch (self, tile) {
        case (.avx2, .f43):
            dip_winograd_split_row_avx2(row, width, pad, phases, phaseStride)
        case (.avx2, .f63), (.avx2, .f62):
            dip_winograd_split6_row_avx2(row, width, pad, phases, phaseStride)
        case (.avx2, .f83):
            dip_winograd_split8_row_avx2(row, width, pad, phases, phaseStride)
        case (.portable, _):
            let count = tile.outputSize
            for x in 0..<min(width, count * phaseStride - pad) {
                let xx = x + pad
                phases[(xx % count) * phaseStride + xx / count] = row[x]
            }
        }
    }

    /// For x in 0..<width (at most m phaseStride, m the tile's output size):
    /// row[x] = phases[(x % m) * phaseStride + x / m].
    @inline(__always)
    func mergeRow(_ tile: WinogradTile, _ phases: UnsafePointer<Float>, phaseStride: Int, into row: UnsafeMutablePointer<Float>,
                  width: Int) {
        switch (self, tile) {
        case (.avx2, .f43):
            dip_winograd_merge_row_avx2(phases, phaseStride, row, width)
        case (.avx2, .f63), (.avx2, .f62):
            dip_winograd_merge6_row_avx2(phases, phaseStride, row, width)
        case (.avx2, .f83):
            dip_winograd_merge8_row_avx2(phases, phaseStride, row, width)
        case (.portable, _):
            let count = tile.outputSize
            for x in 0..<width { row[x] = phases[(x % count) * phaseStride + x / count] }
        }
    }

    // MARK: The eight-tile steps; `work` holds `workLanes` lanes (only the portable steps use it).
    // m is the tile's output size, n = m + r - 1 its input size.

    /// V = Bᵀ d B for the eight tiles whose element (r, s) is the eight floats at
    /// `strip + (m r + s % m) * phaseStride + s / m`; element ξ goes to `v + ξ * vStride`.
    @inline(__always)
    func input(_ tile: WinogradTile, strip: UnsafePointer<Float>, phaseStride: Int, into v: UnsafeMutablePointer<Float>,
               vStride: Int, work: UnsafeMutablePointer<WinogradLanes>) {
        switch (self, tile) {
        case (.avx2, .f43):
            dip_winograd_input_avx2(strip, phaseStride, v, vStride)
        case (.avx2, .f63):
            dip_winograd63_input_avx2(strip, phaseStride, v, vStride)
        case (.avx2, .f62):
            dip_winograd62_input_avx2(strip, phaseStride, v, vStride)
        case (.avx2, .f83):
            dip_winograd83_input_avx2(strip, phaseStride, v, vStride)
        case (.portable, _):
            let (m, n, elements) = (tile.outputSize, tile.inputSize, tile.elements)
            let d = work, out = work + elements, scratch = work + 2 * elements
            for r in 0..<n {
                for s in 0..<n { d[r * n + s] = loadLanes(strip + (r * m + s % m) * phaseStride + s / m) }
            }
            switch tile {
            case .f43: WinogradF43.input(d, out, work: scratch)
            case .f63: WinogradF63.input(d, out, work: scratch)
            case .f62: WinogradF62.input(d, out, work: scratch)
            case .f83: WinogradF83.input(d, out, work: scratch)
            }
            for e in 0..<elements { storeLanes(out[e], v + e * vStride) }
        }
    }

    /// Aᵀ m A + bias for the eight tiles whose element ξ is the eight floats at `m + ξ * mStride`;
    /// output (a, b) goes to `strip + (m a + b) * stripStride`.
    @inline(__always)
    func output(_ tile: WinogradTile, _ m: UnsafePointer<Float>, mStride: Int, bias: Float,
                into strip: UnsafeMutablePointer<Float>, stripStride: Int, work: UnsafeMutablePointer<WinogradLanes>) {
        switch (self, tile) {
        case (.avx2, .f43):
            dip_winograd_output_avx2(m, mStride, bias, strip, stripStride)
        case (.avx2, .f63):
            dip_winograd63_output_avx2(m, mStride, bias, strip, stripStride)
        case (.avx2, .f62):
            dip_winograd62_output_avx2(m, mStride, bias, strip, stripStride)
        case (.avx2, .f83):
            dip_winograd83_output_avx2(m, mStride, bias, strip, stripStride)
        case (.portable, _):
            let (outputs, elements) = (tile.outputSize * tile.outputSize, tile.elements)
            let mt = work, y = work + elements, scratch = work + 2 * elements
            for e in 0..<elements { mt[e] = loadLanes(m + e * mStride) }
            switch tile {
            case .f43: WinogradF43.output(mt, y, work: scratch)
            case .f63: WinogradF63.output(mt, y, work: scratch)
            case .f62: WinogradF62.output(mt, y, work: scratch)
            case .f83: WinogradF83.output(mt, y, work: scratch)
            }
            for e in 0..<outputs { storeLanes(y[e] + bias, strip + e * stripStride) }
        }
    }

    /// A dY Aᵀ for the eight tiles whose output gradient (a, b) is the eight floats at
    /// `strip + (m a + b) * stripStride`; element ξ goes to `dm + ξ * dmStride`.
    @inline(__always)
    func outputGradient(_ tile: WinogradTile, strip: UnsafePointer<Float>, stripStride: Int,
                        into dm: UnsafeMutablePointer<Float>, dmStride: Int, work: UnsafeMutablePointer<WinogradLanes>) {
        switch (self, tile) {
        case (.avx2, .f43):
            dip_winograd_output_gradient_avx2(strip, stripStride, dm, dmStride)
        case (.avx2, .f63):
            dip_winograd63_output_gradient_avx2(strip, stripStride, dm, dmStride)
        case (.avx2, .f62):
            dip_winograd62_output_gradient_avx2(strip, stripStride, dm, dmStride)
        case (.avx2, .f83):
            dip_winograd83_output_gradient_avx2(strip, stripStride, dm, dmStride)
        case (.portable, _):
            let (outputs, elements) = (tile.outputSize * tile.outputSize, tile.elements)
            let dy = work, out = work + elements, scratch = work + 2 * elements
            for e in 0..<outputs { dy[e] = loadLanes(strip + e * stripStride) }
            switch tile {
            case .f43: WinogradF43.outputGradient(dy, out, work: scratch)
            case .f63: WinogradF63.outputGradient(dy, out, work: scratch)
            case .f62: WinogradF62.outputGradient(dy, out, work: scratch)
            case .f83: WinogradF83.outputGradient(dy, out, work: scratch)
            }
            for e in 0..<elements { storeLanes(out[e], dm + e * dmStride) }
        }
    }

    // MARK: One row of the filter transforms, eight filters at a time.

    /// U = G g Gᵀ for the `columns` filters of one row of U: filter q's r² taps start at
    /// `taps + q * qStride` (row-major; read back to front when `rotated`), and its element ξ
    /// goes to `u + ξ * stride + q`.
    func filterRow(_ tile: WinogradTile, _ taps: UnsafePointer<Float>, qStride: Int, columns: Int, rotated: Bool,
                   into u: UnsafeMutablePointer<Float>, stride: Int) {
        switch (self, tile) {
        case (.avx2, .f43):
            dip_winograd_filter_row_avx2(taps, qStride, columns, rotated ? 1 : 0, u, stride)
        case (.avx2, .f63):
            dip_winograd63_filter_row_avx2(taps, qStride, columns, rotated ? 1 : 0, u, stride)
        case (.avx2, .f62):
            dip_winograd62_filter_row_avx2(taps, qStride, columns, rotated ? 1 : 0, u, stride)
        case (.avx2, .f83):
            dip_winograd83_filter_row_avx2(taps, qStride, columns, rotated ? 1 : 0, u, stride)
        case (.portable, _):
            let elements = tile.elements
            let tapCount = tile.taps
            withUnsafeTemporaryAllocation(of: WinogradLanes.self, capacity: tapCount + 2 * elements) { lanes in
                let g = lanes.baseAddress!, out = g + tapCount, work = out + elements
                for q in Swift.stride(from: 0, to: columns, by: 8) {
                    let width = min(8, columns - q)
                    for tap in 0..<tapCount {
                        let from = rotated ? tapCount - 1 - tap : tap
                        var value = WinogradLanes()
                        for l in 0..<width { value[l] = taps[(q + l) * qStride + from] }
                        g[tap] = value
                    }
                    switch tile {
                    case .f43: WinogradF43.filter(g, out, work: work)
                    case .f63: WinogradF63.filter(g, out, work: work)
                    case .f62: WinogradF62.filter(g, out, work: work)
                    case .f83: WinogradF83.filter(g, out, work: work)
                    }
                    for e in 0..<elements {
                        let dst = u + e * stride + q
                        if width == 8 { storeLanes(out[e], dst) } else { for l in 0..<width { dst[l] = out[e][l] } }
                    }
                }
            }
        }
    }

    /// dg = Gᵀ dU G for the `columns` filters of one row of dU: filter q's element ξ is at
    /// `du + ξ * stride + q`; its r² taps go to `dg + r² q`.
    func filterGradientRow(_ tile: WinogradTile, _ du: UnsafePointer<Float>, stride: Int, columns: Int,
                           into dg: UnsafeMutablePointer<Float>) {
        switch (self, tile) {
        case (.avx2, .f43):
            dip_winograd_filter_gradient_row_avx2(du, stride, columns, dg)
        case (.avx2, .f63):
            dip_winograd63_filter_gradient_row_avx2(du, stride, columns, dg)
        case (.avx2, .f62):
            dip_winograd62_filter_gradient_row_avx2(du, stride, columns, dg)
        case (.avx2, .f83):
            dip_winograd83_filter_gradient_row_avx2(du, stride, columns, dg)
        case (.portable, _):
            let elements = tile.elements
            let tapCount = tile.taps
            withUnsafeTemporaryAllocation(of: WinogradLanes.self, capacity: tapCount + 2 * elements) { lanes in
                let dU = lanes.baseAddress!, out = dU + elements, work = out + tapCount
                for q in Swift.stride(from: 0, to: columns, by: 8) {
                    let width = min(8, columns - q)
                    for e in 0..<elements {
                        let src = du + e * stride + q
                        if width == 8 {
                            dU[e] = loadLanes(src)
                        } else {
                            var value = WinogradLanes()
                            for l in 0..<width { value[l] = src[l] }
                            dU[e] = value
                        }
                    }
                    switch tile {
                    case .f43: WinogradF43.filterGradient(dU, out, work: work)
                    case .f63: WinogradF63.filterGradient(dU, out, work: work)
                    case .f62: WinogradF62.filterGradient(dU, out, work: work)
                    case .f83: WinogradF83.filterGradient(dU, out, work: work)
                    }
                    for l in 0..<width {
                        for tap in 0..<tapCount { dg[(q + l) * tapCount + tap] = out[tap][l] }
                    }
                }
            }
        }
    }
}

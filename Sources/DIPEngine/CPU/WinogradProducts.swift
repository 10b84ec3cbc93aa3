import CWinograd
import DIPCore

/// What runs the batched products M[ξ] = U[ξ] · V[ξ] of a Winograd forward or backward-data
/// band (WinogradBandSteps.products): oneDNN's sgemm on U as the filter transform lays it out,
/// or our AVX-512 kernel (CWinograd's winograd_products.c) on U packed once per pass for it.
/// Both sum each product over the source channels in order, one fused multiply-add at a time,
/// so they give the same bits where the kernel runs (WinogradProductsTests: with oneDNN's
/// AVX-512 sgemm; its AVX2 one sums in another order); the backward-weights products, long
/// sums over a chunk's tiles that sgemm runs near its peak, stay sgemm's.
enum WinogradProducts: Sendable, Equatable, CustomStringConvertible {
    case sgemm
    case packed

    /// The kernel where oneDNN runs AVX-512 and the CPU has AVX-512F, VL and DQ, else sgemm (an
    /// AVX2 machine, or oneDNN capped to AVX2, which stands for one). Measured on an Intel Xeon
    /// with AVX-512 (BENCHMARKS.md, twenty-second part), one thread: a band's 64 products of 128
    /// x 132 by 132 x 22 (130x130 layers) at 140 GFLOP/s against sgemm's 98; at 43 columns
    /// (258x258) about as fast as sgemm (133 against 131; 116 against 131 with 132 rows, padded
    /// to 144); whole table1 and text iterations at 256 took 5-10 % less time.
    static var best: WinogradProducts { matching(oneDNNISA: CPUBackend.effectiveISA, cpuFlags: HostCPU.flags) }

    /// The rule of `best` for oneDNN's instruction set `oneDNNISA` (`CPUBackend.effectiveISA`)
    /// on a CPU with `cpuFlags` (/proc/cpuinfo's).
    static func matching(oneDNNISA: String, cpuFlags: Set<String>) -> WinogradProducts {
        oneDNNISA.hasPrefix("avx512") && packedInstructions.isSubset(of: cpuFlags) ? .packed : .sgemm
    }

    /// What the kernel needs of the CPU, as /proc/cpuinfo names it.
    static let packedInstructions: Set = ["avx512f", "avx512vl", "avx512dq"]

    /// Whether this CPU (and build) runs it.
    var runs: Bool { self == .sgemm || dip_winograd_products_available() != 0 }

    /// Destination rows per block of a packed U (the kernel's block of three 16-float vectors).
    static let packedBlockRows = Int(DIP_WINOGRAD_PRODUCT_BLOCK)

    /// Floats of one element's packed U for `rows` destination by `inner` source channels.
    static func packedFloats(rows: Int, inner: Int) -> Int { dip_winograd_packed_floats(rows, inner) }

    var description: String {
        switch self {
        case .sgemm: "oneDNN \(CPUBackend.oneDNNVersion) sgemm products"
        case .packed: "avx512 products for forward and backward-data, oneDNN \(CPUBackend.oneDNNVersion) sgemm for backward-weights"
        }
    }
}

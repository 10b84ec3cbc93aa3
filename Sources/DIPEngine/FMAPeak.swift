import CFMAKernel
import DIPCore
import Foundation

/// The single-precision FMA throughput of this machine for one vector width, against which
/// `dip-report bench` reads its effective GFLOP/s: a direct convolution is multiply-adds, so it
/// cannot run faster (Winograd does fewer multiplications than the MACs counted, so its
/// effective figure can pass the peak).
public struct FMAPeak: Sendable, Codable, Equatable {
    /// The kernel's instruction set: "avx2" (256-bit FMA) or "avx512" (512-bit).
    public var isa: String
    /// Threads of the `gflops` figure.
    public var threads: Int
    /// GFLOP/s with `threads` threads (2 flops per FMA lane).
    public var gflops: Double
    /// GFLOP/s on one thread.
    public var singleThreadGFLOPs: Double

    /// Measures the peak of the widest FMA that both this CPU and oneDNN use (oneDNN capped to
    /// AVX2 is measured with the AVX2 kernel), on 1 and `threads` threads; nil when oneDNN runs
    /// without FMA (below AVX2) or the machine is not x86-64. Takes about 0.1-0.2 s.
    static func measure(threads: Int) -> FMAPeak? {
        guard let kernel = FMAKernel.matching(oneDNNISA: CPUBackend.effectiveISA, cpuFlags: HostCPU.flags) else { return nil }
        return measure(kernel, threads: threads)
    }

    /// Measures `kernel` on 1 and `threads` threads. The kernel must run on this CPU.
    static func measure(_ kernel: FMAKernel, threads: Int) -> FMAPeak {
        let rounds = kernel.rounds(forSeconds: 0.015)
        let single = kernel.gflops(threads: 1, rounds: rounds)
        let all = threads > 1 ? kernel.gflops(threads: threads, rounds: rounds) : single
        return FMAPeak(isa: kernel.rawValue, threads: threads, gflops: all, singleThreadGFLOPs: single)
    }
}

/// One of the FMA throughput kernels of CFMAKernel.
enum FMAKernel: String, CaseIterable, Sendable {
    /// 256-bit vfmadd (AVX2 with FMA3).
    case avx2
    /// 512-bit vfmadd (AVX-512F).
    case avx512

    /// The kernel oneDNN's instruction set corresponds to, if this CPU runs it: AVX-512 when
    /// oneDNN uses an avx512 ISA and the CPU (and its kernel) has avx512f; AVX2 when oneDNN uses
    /// AVX2 or better (an AVX-512 machine capped with DNNL_MAX_CPU_ISA=AVX2 included) and the
    /// CPU has avx2 and fma; nil below that, where oneDNN's kernels use no FMA.
    static func matching(oneDNNISA: String, cpuFlags: Set<String>) -> FMAKernel? {
        if oneDNNISA.hasPrefix("avx512"), avx512.runs(on: cpuFlags) { return .avx512 }
        if oneDNNISA.hasPrefix("avx2") || oneDNNISA.hasPrefix("avx512"), avx2.runs(on: cpuFlags) { return .avx2 }
        return nil
    }

    /// Whether a CPU with these /proc/cpuinfo flags executes the kernel.
    func runs(on flags: Set<String>) -> Bool {
        switch self {
        case .avx2: flags.contains("avx2") && flags.contains("fma")
        case .avx512: flags.contains("avx512f")
        }
    }

    /// Floats in the accumulator array the kernel works on.
    var floats: Int {
        switch self {
        case .avx2: Int(DIP_FMA_AVX2_FLOATS)
        case .avx512: Int(DIP_FMA_AVX512_FLOATS)
        }
    }

    /// Runs `rounds` rounds (acc = acc * m + a1, then acc = acc * m + a2 on every lane) on
    /// `accumulators` (`floats` values); returns the flops done. Stops the program if this CPU
    /// lacks the instructions, rather than letting it die of an illegal instruction.
    @discardableResult
    func run(_ accumulators: inout [Float], m: Float, a1: Float, a2: Float, rounds: Int) -> Int {
        precondition(accumulators.count == floats, "FMAKernel.\(self): \(accumulators.count) accumulators, needs \(floats)")
        precondition(runs(on: HostCPU.flags) && dip_fma_kernels_available() != 0,
                     "FMAKernel.\(self): this CPU lacks the instructions (see FMAKernel.matching)")
        let flops = accumulators.withUnsafeMutableBufferPointer { acc in
            switch self {
            case .avx2: dip_fma_avx2(acc.baseAddress, m, a1, a2, UInt64(rounds))
            case .avx512: dip_fma_avx512(acc.baseAddress, m, a1, a2, UInt64(rounds))
            }
        }
        return Int(flops)
    }

    /// Rounds that take about `seconds` on one thread (measured, so also a warm-up of the
    /// vector unit: some CPUs lower their clock for wide vectors a few microseconds in).
    func rounds(forSeconds seconds: Double) -> Int {
        var acc = [Float](repeating: 0, count: floats)
        var rounds = 1 << 12
        while true {
            let start = ContinuousClock.now
            run(&acc, m: 1, a1: 1, a2: -1, rounds: rounds)
            let took = (ContinuousClock.now - start).seconds
            if took >= seconds / 4 || rounds >= 1 << 30 {
                return max(1, Int(Double(rounds) * seconds / max(took, 1e-9)))
            }
            rounds *= 4
        }
    }

    /// GFLOP/s of `threads` threads each running `rounds` rounds at once: all their flops over
    /// the time from the first start to the last end; the best of three tries.
    func gflops(threads: Int, rounds: Int) -> Double {
        let kernel = self
        var best = 0.0
        for _ in 0..<3 {
            var spans = [(start: ContinuousClock.Instant, end: ContinuousClock.Instant, flops: Int)](
                repeating: (.now, .now, 0), count: threads)
            spans.withUnsafeMutableBufferPointer { buffer in
                let out = UncheckedBox(buffer)
                DispatchQueue.concurrentPerform(iterations: threads) { t in
                    // m = 1, +1 then -1: the values stay where they started, whatever the rounds.
                    var acc = [Float](repeating: Float(t), count: kernel.floats)
                    let start = ContinuousClock.now
                    let flops = kernel.run(&acc, m: 1, a1: 1, a2: -1, rounds: rounds)
                    out.value[t] = (start, .now, flops)
                }
            }
            let wall = (spans.map(\.end).max()! - spans.map(\.start).min()!).seconds
            best = max(best, Double(spans.reduce(0) { $0 + $1.flops }) / wall / 1e9)
        }
        return best
    }
}

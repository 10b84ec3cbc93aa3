import DIPCore
import Testing
@testable import DIPEngine

@Suite("FMA peak")
struct FMAPeakTests {
    /// The kernels this machine can execute (none is ever called on a CPU without it).
    private var runnable: [FMAKernel] { FMAKernel.allCases.filter { $0.runs(on: HostCPU.flags) } }

    @Test("the kernel follows oneDNN's instruction set, never beyond what the CPU has")
    func choice() {
        let zen3: Set = ["sse4_2", "avx", "avx2", "fma"]
        let xeon = zen3.union(["avx512f", "avx512bw", "avx512_bf16"])
        #expect(FMAKernel.matching(oneDNNISA: "avx512_core", cpuFlags: xeon) == .avx512)
        #expect(FMAKernel.matching(oneDNNISA: "avx512_core_bf16", cpuFlags: xeon) == .avx512)
        // An AVX-512 machine with oneDNN capped to AVX2 (DNNL_MAX_CPU_ISA=AVX2) runs 256-bit FMA.
        #expect(FMAKernel.matching(oneDNNISA: "avx2", cpuFlags: xeon) == .avx2)
        #expect(FMAKernel.matching(oneDNNISA: "avx2", cpuFlags: zen3) == .avx2)
        #expect(FMAKernel.matching(oneDNNISA: "avx2_vnni", cpuFlags: zen3) == .avx2)
        // Whatever oneDNN claims, no 512-bit instruction on a CPU whose flags lack avx512f.
        #expect(FMAKernel.matching(oneDNNISA: "avx512_core", cpuFlags: zen3) == .avx2)
        // Below AVX2 oneDNN's kernels use no FMA: no peak to compare with.
        #expect(FMAKernel.matching(oneDNNISA: "avx", cpuFlags: zen3) == nil)
        #expect(FMAKernel.matching(oneDNNISA: "sse41", cpuFlags: zen3) == nil)
        #expect(FMAKernel.matching(oneDNNISA: "avx2", cpuFlags: ["avx", "avx2"]) == nil)
        #expect(FMAKernel.matching(oneDNNISA: "avx2", cpuFlags: []) == nil)
    }

    @Test("every accumulator holds the value its fused multiply-adds give")
    func arithmetic() throws {
        try #require(!runnable.isEmpty || !HostCPU.flags.contains("avx2"), "an AVX2 CPU runs the AVX2 kernel")
        for kernel in runnable {
            // acc + 1 + 0.5 per round, exact in Float32 at these sizes.
            var acc = (0..<kernel.floats).map(Float.init)
            let flops = kernel.run(&acc, m: 1, a1: 1, a2: 0.5, rounds: 1000)
            #expect(acc == (0..<kernel.floats).map { Float($0) + 1500 }, "\(kernel)")
            #expect(flops == 1000 * 2 * 2 * kernel.floats, "\(kernel)")
            // The multiplier is applied too: (x * 2 + 0) * 2 + 1 per round.
            var scaled = (0..<kernel.floats).map { Float($0 % 7) }
            kernel.run(&scaled, m: 2, a1: 0, a2: 1, rounds: 3)
            #expect(scaled == (0..<kernel.floats).map { Float($0 % 7) * 64 + 21 }, "\(kernel)")
            // The values the peak measurement uses stay where they start.
            var steady = [Float](repeating: 3, count: kernel.floats)
            kernel.run(&steady, m: 1, a1: 1, a2: -1, rounds: 100_000)
            #expect(steady.allSatisfy { $0 == 3 }, "\(kernel)")
        }
    }

    @Test("the measured peak names its kernel and threads and is positive")
    func measure() throws {
        guard let kernel = runnable.last else { return }
        let peak = FMAPeak.measure(kernel, threads: 2)
        #expect(peak.isa == kernel.rawValue)
        #expect(peak.threads == 2)
        #expect(peak.gflops > 0 && peak.singleThreadGFLOPs > 0)
    }
}

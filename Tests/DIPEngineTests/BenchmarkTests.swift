import Testing
@testable import DIPEngine

@Suite("Benchmark")
struct BenchmarkTests {
    @Test("the phase times are those of the timed iterations: none negative, together no more than an iteration")
    func phases() throws {
        let r = try Benchmark.run(net: "table1", size: 64, threads: 2, iterations: 3, psnrEvery: 2)
        #expect(r.forwardSeconds > 0 && r.backwardSeconds > 0 && r.optimizerSeconds > 0, "\(r)")
        // The phases leave out only the loop's own bookkeeping, never add to the iteration.
        let phases = r.forwardSeconds + r.backwardSeconds + r.optimizerSeconds
        #expect(phases <= r.iterationSeconds * 1.001 && phases > 0.5 * r.iterationSeconds, "\(r)")
    }
}

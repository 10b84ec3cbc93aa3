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

    @Test("bench --rounds: each round's ratio pairs ours with the peer's run beside it; ranges and medians")
    func rounds() {
        let r = BenchmarkRounds(ours: [0.30, 0.28, 0.29, 0.40], peer: [1.2, 1.0, 1.16, 1.6])
        #expect(r.ratios == [0.30 / 1.2, 0.28 / 1.0, 0.29 / 1.16, 0.40 / 1.6])
        // An even count's median is the mean of the middle two; an odd count's the middle one.
        #expect(BenchmarkRounds.median([0.30, 0.28, 0.29, 0.40]) == (0.29 + 0.30) / 2)
        #expect(BenchmarkRounds.median([3, 1, 2]) == 2 && BenchmarkRounds.median([]) == nil)
        #expect(r.summary(peerName: "pytorch")
                == "ours 0.280-0.400 s (median 0.295), pytorch 1.000-1.600 s (median 1.180), ratio 0.250-0.280 (median 0.250)")
        #expect(BenchmarkRounds(ours: [0.5, 0.25]).summary() == "ours 0.250-0.500 s (median 0.375)")
    }
}

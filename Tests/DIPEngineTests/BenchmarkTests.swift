import Testing
@testable import DIPEngine

@Suite("Benchmark")
struct BenchmarkTests {
    @Test("the phase times are those of the timed iterations: none negative, together no more than an iteration")
    func phases() throws {
        let r = try Benchmark.run(net: "table1", size: 64, threads: 2, iterations: 8, psnrEvery: 2)
        #expect(r.forwardSeconds > 0 && r.backwardSeconds > 0 && r.optimizerSeconds > 0, "\(r)")
        // The phases leave out only the loop's own bookkeeping, never add to the iteration.
        let phases = r.forwardSeconds + r.backwardSeconds + r.optimizerSeconds
        #expect(phases <= r.iterationSeconds * 1.001 && phases > 0.5 * r.iterationSeconds, "\(r)")
    }

    @Test("bench --layers: every step of both passes at every level, timed over the timed iterations only")
    func layers() throws {
        let r = try Benchmark.run(net: "table1", size: 64, threads: 2, iterations: 8, psnrEvery: 2, layers: true)
        let steps = try #require(r.layers)
        // Each step once per pass, in the order it ran: the forward's from the perturbation down
        // the encoder and up the decoder, then the backward's from the loss.
        let names = steps.map { "\($0.pass.rawValue) \($0.step)" }
        #expect(Set(names).count == names.count, "\(names)")
        #expect(names.first == "forward perturbation" && names.contains("backward loss"), "\(names)")
        for level in 0..<5 {
            for step in ["forward L\(level) down BN + conv 2", "forward L\(level) concat BN + up conv", "backward L\(level) up BN + conv",
                         "backward L\(level) down BN + conv"] {
                #expect(names.contains(step), "\(step) in \(names)")
            }
        }
        #expect(names.firstIndex(of: "forward L0 down conv")! < names.firstIndex(of: "forward L1 down conv")!)
        #expect(names.firstIndex(of: "forward L1 concat BN + up conv")! < names.firstIndex(of: "forward L0 concat BN + up conv")!)
        #expect(steps.allSatisfy { $0.seconds >= 0 })
        // Per timed iteration: the steps are the forward and backward phases cut finer, so
        // together they are within those phases and nearly all of them (the warm-up's first
        // touch of every buffer, or the final render, would push them past).
        let total = steps.reduce(0) { $0 + $1.seconds }, phases = r.forwardSeconds + r.backwardSeconds
        #expect(total <= phases * 1.001 && total > 0.8 * phases, "\(total) of \(phases)")
        // Asked for nothing, nothing: the clock is off.
        #expect(try Benchmark.run(net: "table1", size: 64, threads: 1, iterations: 1).layers == nil)
    }

    @Test("bench --layers on a backend that runs its own kernels: refused with the reason, not a table of zeros")
    func layersOnDevice() throws {
        let device = BackendFactory(name: "device-only", libraryVersions: [:], device: "test", runsLBFGS: false) { _ in
            DeviceTrainerBackend(ReferenceBackend())
        }
        #expect(throws: EngineError.self) {
            try Benchmark.run(net: "table1", size: 64, threads: 1, iterations: 1, backends: device, layers: true)
        }
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

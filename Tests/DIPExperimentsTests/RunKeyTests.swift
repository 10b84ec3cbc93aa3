import DIPEngine
import Testing
@testable import DIPExperiments

@Suite("Run keys")
struct RunKeyTests {
    @Test("the configuration hash is stable and changes when a numeric knob changes")
    func hash() throws {
        let base = FitConfig(network: try SkipConfig.preset("table1", outputChannels: 1))
        var other = base
        other.optimizer = .adam(learningRate: 0.001)
        #expect(try ConfigHash.of(base) == ConfigHash.of(base))
        #expect(try ConfigHash.of(base) != ConfigHash.of(other))
        #expect(try ConfigHash.of(base).count == 12)
    }

    @Test("every profile keeps each built-in configuration itself: no sweep point merges with another, no net loses a level",
          arguments: Profile.all.map(\.name))
    func profilesKeepConfigurations(_ name: String) throws {
        let profile = try Profile.named(name)
        for experiment in Catalog.experiments {
            let reduced = experiment.runs.map { run in
                var r = profile.apply(run)
                r.label = ""
                return r
            }
            #expect(Set(reduced).count == experiment.runs.count, "\(experiment.id) under \(name)")
            for (original, run) in zip(experiment.runs, reduced) {
                guard case let .dip(a) = original.method, case let .dip(b) = run.method else { continue }
                #expect(a.network.depth == b.network.depth, "\(experiment.id) \(original.label) under \(name)")
            }
        }
    }
}

@Suite("Default parallelism")
struct ParallelismTests {
    @Test("one single-thread job per core while 6 GiB each fits; leftover cores become threads")
    func defaults() {
        let gib: UInt64 = 1 << 30
        #expect(RunnerOptions.defaultParallelism(cores: 2, memoryBytes: 24 * gib) == (2, 1))
        #expect(RunnerOptions.defaultParallelism(cores: 2, memoryBytes: 8 * gib) == (1, 2))
        #expect(RunnerOptions.defaultParallelism(cores: 8, memoryBytes: 16 * gib) == (2, 4))
        #expect(RunnerOptions.defaultParallelism(cores: 64, memoryBytes: 256 * gib) == (42, 1))
        #expect(RunnerOptions.defaultParallelism(cores: 1, memoryBytes: 1 * gib) == (1, 1))
    }
}

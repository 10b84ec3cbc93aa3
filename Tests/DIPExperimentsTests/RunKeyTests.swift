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
}

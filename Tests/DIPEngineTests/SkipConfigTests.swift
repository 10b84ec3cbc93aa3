import Testing
@testable import DIPEngine

@Suite("Network configurations")
struct SkipConfigTests {
    @Test("every preset is valid and an unknown name is refused with the list of names")
    func presets() throws {
        for name in SkipConfig.presetNames {
            try SkipConfig.preset(name, outputChannels: 3).validate()
        }
        #expect(throws: EngineError.self) { try SkipConfig.preset("resnet", outputChannels: 3) }
    }

    @Test("inconsistent channel lists are refused")
    func inconsistent() {
        let c = SkipConfig(inputChannels: 32, outputChannels: 3, down: [8, 8], up: [8], skip: [0, 0])
        #expect(throws: EngineError.self) { try c.validate() }
    }
}

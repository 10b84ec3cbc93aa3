import Testing
@testable import DIPEngine

/// The summary's costs come from the layer types (each layer's own test file checks those by
/// hand); NetworkSummaryTests pins the parameter and MAC totals of every preset.
@Suite("Layer costs in the network summary")
struct LayerCostTests {
    @Test("bytes are 4 per value, and two costs add up field by field")
    func arithmetic() {
        let a = LayerCost(parameters: 3, macs: 5, forwardValues: 7, backwardValues: 11)
        #expect(a.forwardBytes == 28 && a.backwardBytes == 44)
        let b = LayerCost(parameters: 1, macs: 2, forwardValues: 1, backwardValues: 2)
        #expect(a + b == LayerCost(parameters: 4, macs: 7, forwardValues: 8, backwardValues: 13))
        #expect(a + .zero == a)
    }

    @Test("every summary layer carries its layer type's cost; only level 0's code-reading convolutions skip the data pass",
          arguments: ["table1", "library-depth2", "vase"])
    func summaryLayers(preset: String) throws {
        let config = try SkipConfig.preset(preset, outputChannels: 3)
        // 66 is not a multiple of 2^depth for the deep presets: the concats crop.
        for side in [64, 66] where NetworkSummary.fits(config, side: side) {
            let s = try NetworkSummary(config: config, height: side, width: side)
            let geometries = s.convolutions
            var codeReaders = 0, convolutionIndex = 0
            for layer in s.layers {
                let shape = FeatureShape(channels: layer.inChannels, height: layer.inputSize.height,
                                         width: layer.inputSize.width)
                let expected: LayerCost
                switch layer.operation {
                case .convolution:
                    let g = geometries[convolutionIndex]
                    convolutionIndex += 1
                    let readsCode = layer.level == 0 && layer.inputSize == s.inputSize
                        && layer.inChannels == config.inputChannels && layer.part != .up
                    codeReaders += readsCode ? 1 : 0
                    expected = Conv2d.cost(g, needsInputGradient: !readsCode)
                case .batchNorm: expected = BatchNorm.cost(inputShape: shape)
                case .leakyReLU: expected = BatchNorm.fusedActivationCost
                case .averagePool: expected = AvgPool2x2.cost(inputShape: shape)
                case let .upsample(mode): expected = Upsample2x.cost(inputShape: shape, mode: mode)
                case let .concat(skipChannels, deeperChannels, skipSize):
                    expected = Concat.cost(
                        skip: FeatureShape(channels: skipChannels, height: skipSize.height, width: skipSize.width),
                        deeper: FeatureShape(channels: deeperChannels, height: layer.inputSize.height,
                                             width: layer.inputSize.width))
                    #expect((layer.backwardBytes > 0) == layer.crops, "a concat moves gradient bytes only when it crops")
                case .sigmoid: expected = Sigmoid.cost(inputShape: shape)
                }
                #expect(layer.parameters == expected.parameters && layer.macs == expected.macs, "\(layer.operation)")
                #expect(layer.forwardBytes == expected.forwardBytes && layer.backwardBytes == expected.backwardBytes,
                        "\(preset) \(side) \(layer.operation) level \(layer.level.map(String.init) ?? "out")")
            }
            // SkipNetwork's rule: level 0's skip conv (if any) and first encoder conv read z.
            #expect(codeReaders == (config.skip[0] > 0 ? 2 : 1))
        }
    }
}

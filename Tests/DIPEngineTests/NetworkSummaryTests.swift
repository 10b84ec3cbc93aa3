import Testing
@testable import DIPEngine

/// Expected figures are docs/semantics.md §4.3 / §4.4; the parameter counts also equal
/// `sum(p.numel() for p in net.parameters())` of a PyTorch port of upstream's skip()
/// (torch 2.13.0+cpu), whose state_dict matches shared/docs/upstream-keys/*.tsv exactly.
@Suite("Network summary")
struct NetworkSummaryTests {
    func summary(_ preset: String, _ channels: Int, _ h: Int, _ w: Int) throws -> NetworkSummary {
        try NetworkSummary(config: SkipConfig.preset(preset, outputChannels: channels), height: h, width: w)
    }

    /// MACs rounded to 0.01 G, as the spec quotes them.
    func giga(_ macs: Int) -> Double { (Double(macs) / 1e7).rounded() / 100 }

    @Test("parameters and MACs of every preset match the spec's table")
    func specTable() throws {
        let cases: [(String, Int, Int, Int, Int, Double)] = [
            ("table1", 1, 512, 512, 2_217_573, 77.43),
            ("table1", 1, 514, 514, 2_217_573, 78.17),
            ("table1", 1, 256, 256, 2_217_573, 19.36),
            ("table1", 3, 512, 512, 2_217_831, 77.50),
            ("text", 3, 512, 512, 3_002_627, 129.80),
            ("text", 3, 256, 256, 3_002_627, 32.45),
            ("vase", 3, 512, 512, 2_157_955, 73.54),
            ("vase", 3, 320, 320, 2_157_955, 28.73),
            ("library-depth6", 3, 448, 704, 2_996_467, 8.45),
            ("library-depth4", 3, 448, 704, 1_060_339, 7.91),
            ("library-depth2", 3, 448, 704, 59_635, 3.49),
            ("restoration-kate", 3, 512, 512, 1_027_379, 7.58),
        ]
        for (preset, ch, h, w, params, gmacs) in cases {
            let s = try summary(preset, ch, h, w)
            #expect(s.parameters == params, "\(preset) \(h)x\(w) parameters")
            #expect(giga(s.macs) == gmacs, "\(preset) \(h)x\(w) MACs \(s.macs)")
            #expect(s.outputSize == NetworkSummary.Size(height: h, width: w))
        }
    }

    @Test("the text network's levels add up as the spec's hand check says")
    func textLevels() throws {
        let s = try summary("text", 3, 512, 512)
        #expect(s.subtotals.map(\.parameters) == [502_144, 625_024, 625_024, 625_024, 625_024, 387])
        #expect(s.subtotals.map(\.level) == [0, 1, 2, 3, 4, nil])
        // The level-0 decoder 3x3 conv (256->128 at 512^2) is 77.3 G, 60 % of the cost.
        let decoder = s.layers.first { $0.level == 0 && $0.part == .up && $0.operation == .convolution(kernel: 3, stride: 1, padding: 1) }
        #expect(decoder.map { giga($0.macs) } == 77.31)
        #expect(decoder?.inChannels == 256)
    }

    @Test("layers come in forward order: skip, encoder, deeper level, upsample, concat, BN, decoder")
    func forwardOrder() throws {
        let s = try summary("text", 3, 64, 64)
        let level4 = s.layers.filter { $0.level == 4 }.map(\.operation.description)
        #expect(level4 == ["conv 1x1", "batchnorm", "leaky relu",
                           "conv 3x3/s2", "batchnorm", "leaky relu", "conv 3x3", "batchnorm", "leaky relu",
                           "upsample x2 nearest", "concat [128 | 128]", "batchnorm",
                           "conv 3x3", "batchnorm", "leaky relu", "conv 1x1", "batchnorm", "leaky relu"])
        // Level 0's encoder comes before all of level 1, its decoder after.
        let firstL1 = s.layers.firstIndex { $0.level == 1 }!
        let lastL1 = s.layers.lastIndex { $0.level == 1 }!
        #expect(s.layers[..<firstL1].allSatisfy { $0.level == 0 })
        #expect(s.layers[(lastL1 + 1)...].allSatisfy { $0.level == 0 || $0.level == nil })
        #expect(s.layers.suffix(2).map(\.operation.description) == ["conv 1x1", "sigmoid"])
        #expect(s.layers.allSatisfy { $0.parameters >= 0 })
    }

    @Test("a 514x514 input goes 514, 257, 129, 65, 33, 17 and the concats crop 34->33 ... 258->257")
    func barbaraSizes() throws {
        let s = try summary("table1", 1, 514, 514)
        let strided = s.layers.filter { if case .convolution(_, 2, _) = $0.operation { return true }; return false }
        #expect(strided.map(\.inputSize.height) == [514, 257, 129, 65, 33])
        #expect(strided.map(\.outputSize.height) == [257, 129, 65, 33, 17])
        let concats = s.layers.filter { if case .concat = $0.operation { return true }; return false }
        #expect(concats.map(\.level) == [4, 3, 2, 1, 0])
        #expect(concats.map(\.inputSize.height) == [34, 66, 130, 258, 514])
        #expect(concats.map(\.outputSize.height) == [33, 65, 129, 257, 514])
        #expect(concats.map(\.crops) == [true, true, true, true, false])
        #expect(s.layers.last?.outputSize == NetworkSummary.Size(height: 514, width: 514))
    }

    @Test("avg downsampling runs a stride-1 conv at full size, then pools with floor")
    func averagePool() throws {
        let s = try summary("restoration-kate", 3, 512, 512)
        let l0 = s.layers.filter { $0.level == 0 && $0.part == .down }
        #expect(l0[0].operation == .convolution(kernel: 3, stride: 1, padding: 1))
        #expect(l0[0].outputSize.height == 512)
        #expect(l0[1].operation == .averagePool)
        #expect(l0[1].outputSize.height == 256)
        #expect(giga(l0[0].macs) == 1.21)
    }

    @Test("without skip branches a size that does not halve cleanly is refused, naming sizes that work")
    func skipFreeSizes() throws {
        let vase = try SkipConfig.preset("vase", outputChannels: 3)
        do {
            _ = try NetworkSummary(config: vase, height: 510, width: 512)
            Issue.record("510 rows should not fit a 5-level skip-free network")
        } catch let EngineError.shape(message) {
            #expect(message.contains("512x510"))
            #expect(message.contains("height 480 or 512 would work"))
            #expect(message.contains("multiples of 32 (2^depth) from 64 up always work"))
        }
        #expect(NetworkSummary.fits(vase, side: 320))
        #expect(!NetworkSummary.fits(vase, side: 330))
        #expect(NetworkSummary.nearestFittingSides(vase, to: 330) == (320, 352))
        // Skip branches crop, so the Table-1 net takes any size big enough to reflection-pad.
        let table1 = try SkipConfig.preset("table1", outputChannels: 1)
        #expect(NetworkSummary.fits(table1, side: 333))
        #expect(!NetworkSummary.fits(table1, side: 16))
        #expect(throws: EngineError.self) { try NetworkSummary(config: table1, height: 0, width: 64) }
        // The deepest 3x3 conv needs more than one pixel to reflection-pad (upstream issue #57).
        #expect(NetworkSummary.smallestFittingMultiple(table1) == 64)
        do {
            _ = try NetworkSummary(config: table1, height: 8, width: 8)
            Issue.record("8x8 should be too small")
        } catch let EngineError.shape(message) {
            #expect(message.contains("too small to reflection-pad by 1"))
            #expect(message.contains("height and width 33 would work"))
            #expect(message.contains("from 64 up"))
        }
    }

    @Test("the summary's convolutions are the prepared network's, and both refuse the same sizes, for every preset")
    func geometryEqualsPreparedNetwork() throws {
        for name in SkipConfig.presetNames {
            let config = try SkipConfig.preset(name, outputChannels: 3)
            let smallest = NetworkSummary.smallestFittingMultiple(config)
            // The smallest multiple that fits, odd sizes that crop, a non-square and a refused size.
            for (h, w) in [(smallest, smallest), (smallest + 1, smallest + 3), (smallest + 5, 2 * smallest - 1),
                           (smallest, smallest + config.sizeDivisor), (smallest - 1, smallest)] {
                let net = try SkipNetwork(config: config, backend: ReferenceBackend(), seed: 0)
                guard let summary = try? NetworkSummary(config: config, height: h, width: w) else {
                    #expect(throws: EngineError.self, "\(name) \(w)x\(h)") { try net.prepare(height: h, width: w) }
                    continue
                }
                try net.prepare(height: h, width: w)
                #expect(net.convolutions.map(\.geometry) == summary.convolutions, "\(name) \(w)x\(h)")
                #expect(net.macsPerForward == summary.macs, "\(name) \(w)x\(h)")
            }
        }
    }

    @Test("the parameter count equals the upstream state_dict's parameters for every preset")
    func agreesWithUpstreamKeys() throws {
        for name in SkipConfig.presetNames {
            for ch in [1, 3] {
                let config = try SkipConfig.preset(name, outputChannels: ch)
                let keys = try config.upstreamStateDictKeys()
                let fromKeys = keys.filter(\.isParameter).reduce(0) { $0 + $1.elementCount }
                let s = try NetworkSummary(config: config, height: 448, width: 704)
                #expect(fromKeys == s.parameters, "\(name) \(ch)")
            }
        }
    }

    @Test("the printed table has aligned columns, level subtotals and totals")
    func table() throws {
        let text = try summary("text", 3, 512, 512).formattedTable()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.contains { $0.hasPrefix("total") && $0.hasSuffix("3,002,627  129.80 G") })
        #expect(lines.contains { $0.contains("L0 subtotal") && $0.hasSuffix("502,144   94.76 G") })
        #expect(lines.contains { $0.contains("conv 3x3/s2 + BN + LReLU") })
        // Every MACs cell ends in the same column.
        let macRows = lines.filter { $0.hasSuffix(" G") }
        #expect(Set(macRows.map(\.count)).count == 1)
        let all = try summary("text", 3, 512, 512).formattedTable(allLayers: true)
        #expect(all.split(separator: "\n").count > lines.count)
        #expect(NetworkSummary.thousands(2_217_573) == "2,217,573")
        #expect(NetworkSummary.thousands(387) == "387")
        #expect(NetworkSummary.thousands(1000) == "1,000")
    }
}

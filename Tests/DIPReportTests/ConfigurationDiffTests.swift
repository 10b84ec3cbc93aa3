import DIPCore
import DIPEngine
import DIPExperiments
import Foundation
import Testing
@testable import DIPReport

@Suite("diff --within: configurations inside one result set")
struct ConfigurationDiffTests {
    @Test("the knobs two configurations differ in are named by their catalog path")
    func knobs() throws {
        let a = RunConfiguration(imageFile: "bm3d/barbara.png", preprocessing: Catalog.paperPreprocessing, mask: Catalog.half,
                                 method: .dip(Catalog.paperFit()))
        var b = a
        b.method = .dip(Catalog.paperFit(gammaInit: .one, alignCorners: false))
        #expect(ResultDiff.knobDifferences(a, b) == ["gammaInit: uniform → one", "network.upsampling.bilinear.alignCorners: true → false"])
        b.method = .dip(Catalog.paperFit(gammaInit: .uniform, alignCorners: true))
        #expect(ResultDiff.knobDifferences(a, b).isEmpty)
        b.preprocessing.centreCrop = ImageSize(width: 64, height: 64)
        #expect(ResultDiff.knobDifferences(a, b) == ["preprocessing.centreCrop.height: absent → 64", "preprocessing.centreCrop.width: absent → 64"])
    }

    @Test("diff --within era: each combination against table1-paper's runs, pair by pair, with the known differences")
    func withinEra() throws {
        let runs = try ResultDiff.outcomes(resultsFolder: try SyntheticResults.era("within")).runs
        let c = try ResultDiff.within(runs, experiment: "era")
        #expect(c.map(\.label) == SyntheticResults.eraLabels)
        #expect(c.allSatisfy { $0.referenceLabel == "DIP (paper protocol)" && $0.pairs.count == 12 })
        #expect(c.allSatisfy { $0.pairs.allSatisfy { $0.referenceExperiment == "table1-paper" } })
        let gamma = c[0], align = c[1], both = c[2]
        #expect(gamma.knobs == ["gammaInit: uniform → one"])
        #expect(align.knobs == ["network.upsampling.bilinear.alignCorners: true → false"])
        #expect(both.knobs.count == 2)
        #expect(abs(gamma.meanFinalDelta! + 0.95) < 1e-9)
        let perSeed = try #require(gamma.perSeedFinalDelta)
        #expect(perSeed.count == 3 && abs(perSeed.min + 1.05) < 1e-9 && abs(perSeed.max + 0.85) < 1e-9)
        #expect(gamma.imagesBeyondSpread == ["barbara", "boat"] && gamma.imagesWithSpread == eraImages.sorted())
        #expect(abs(align.meanFinalDelta! - 0.05) < 1e-9 && align.imagesBeyondSpread.isEmpty)
        #expect(abs(both.meanFinalDelta! + 0.9) < 1e-9 && both.imagesBeyondSpread.isEmpty)
        let barbara0 = try #require(gamma.pairs.first { $0.image == "barbara" && $0.seed == 0 })
        #expect(abs(barbara0.finalDelta! + 2.0) < 1e-9 && abs(barbara0.finalReference! - 31.22) < 1e-9)

        let csv = ResultDiff.table(c).csv()
        #expect(csv.hasPrefix("configuration,reference,image,seed,final ref,final,final diff,"))
        #expect(csv.contains("\"gamma 1, align_corners true\",DIP (paper protocol),barbara,0,31.22,29.22,-2.00,"))
        #expect(ResultDiff.summaryLine(gamma) == "gamma 1, align_corners true vs DIP (paper protocol): final -0.95 dB on average over 12 paired runs (4 images, 3 seeds), per-seed means -1.05 to -0.85, beyond the seed spread on 2 of 4 images [gammaInit: uniform → one]")
        let decoded = try JSONDecoder().decode([ConfigurationComparison].self, from: Data(try ResultDiff.json(c).utf8))
        #expect(decoded == c)
    }

    @Test("diff --within takes another reference by label, and refuses unknown labels and experiments")
    func withinReference() throws {
        let runs = try ResultDiff.outcomes(resultsFolder: try SyntheticResults.era("reference")).runs
        let c = try ResultDiff.within(runs, experiment: "era", referenceLabel: "gamma 1, align_corners true")
        #expect(c.map(\.label) == ["DIP (paper protocol)", "gamma U(0,1), align_corners false", "gamma 1, align_corners false (today's PyTorch)"])
        #expect(c[0].knobs == ["gammaInit: one → uniform"] && abs(c[0].meanFinalDelta! - 0.95) < 1e-9)
        #expect { try ResultDiff.within(runs, experiment: "era", referenceLabel: "nope") } throws: { "\($0)".contains("gamma 1, align_corners true") }
        #expect { try ResultDiff.within(runs, experiment: "width") } throws: { "\($0)".contains("no runs of this experiment; they hold era, table1-paper") }
        // One configuration alone: nothing to compare, said (it was an empty table, exit 0).
        let one = runs.filter { $0.experiment == "table1-paper" }
        #expect { try ResultDiff.within(one, experiment: "table1-paper") } throws: { "\($0)".contains("of one configuration ('DIP (paper protocol)')") }
    }
}

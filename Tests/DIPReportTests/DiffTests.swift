import DIPExperiments
import Foundation
import Testing
@testable import DIPReport

@Suite("Diffs")
struct DiffTests {
    /// Two seeds of barbara (final = paper - 1 + {0, 0.5}) and of kate, shifted by `offset`.
    static func results(_ name: String, offset: Double, barbaraSeeds: [UInt64] = [0, 1]) throws -> String {
        let folder = SyntheticResults.temporaryFolder(name)
        let store = try ResultStore(root: folder)
        for seed in barbaraSeeds {
            try SyntheticResults.save(store, experiment: "table1-paper", group: "experiment1", label: "DIP (paper protocol)",
                                      image: "barbara", seed: seed, offset: offset)
        }
        for seed: UInt64 in [0, 1] {
            try SyntheticResults.save(store, experiment: "width", group: "experiment2", label: "width 4", image: "kate", seed: seed, offset: offset * 0.2)
        }
        return folder
    }

    @Test("across seeds: mean, range, standard deviation and whether the paper lies inside")
    func acrossSeeds() throws {
        let runs = try ResultDiff.outcomes(resultsFolder: try Self.results("seeds", offset: 1.2)).runs
        let groups = ResultDiff.acrossSeeds(runs)
        let barbara = try #require(groups.first { $0.image == "barbara" })
        #expect(barbara.seeds == [0, 1])
        let final = try #require(barbara.final)
        #expect(abs(final.mean - 32.67) < 1e-9 && abs(final.min - 32.42) < 1e-9 && abs(final.max - 32.92) < 1e-9)
        #expect(abs(final.std! - 0.5 / 2.0.squareRoot()) < 1e-9)
        #expect(barbara.paper == 32.22 && barbara.paperInsideFinal == false)
        let kate = try #require(groups.first { $0.image == "kate" })
        #expect(kate.paper == nil && kate.paperInsideFinal == nil)
        let text = ResultDiff.table(groups).aligned()
        #expect(text.contains("32.67") && text.contains("32.22"))
        // Columns line up: every line of the table is as long as the rule or shorter.
        let lines = text.split(separator: "\n")
        #expect(lines.allSatisfy { $0.count <= lines[1].count })
    }

    @Test("between two result sets: B - A per run, flagged beyond the seeds' spread")
    func between() throws {
        let a = try ResultDiff.outcomes(resultsFolder: try Self.results("A", offset: 0)).runs
        let b = try ResultDiff.outcomes(resultsFolder: try Self.results("B", offset: 1.0, barbaraSeeds: [0, 1, 2])).runs
        let d = ResultDiff.between(a, b)
        #expect(d.differences.count == 4)
        #expect(d.onlyA.isEmpty && d.onlyB.count == 1 && d.onlyB[0].seed == 2)
        let barbara = d.differences.filter { $0.image == "barbara" }
        // Barbara moved by 1.0 dB; its seeds span 0.5 dB in A and 1.0 in B: the larger range is 1.0, not exceeded.
        #expect(barbara.allSatisfy { abs($0.finalDelta! - 1.0) < 1e-9 && abs($0.seedRange! - 1.0) < 1e-9 && $0.beyondSpread == false })
        let kate = d.differences.filter { $0.image == "kate" }
        // Kate moved by 0.2 dB within a 0.5 dB spread.
        #expect(kate.allSatisfy { abs($0.finalDelta! - 0.2) < 1e-9 && $0.beyondSpread == false })

        let c = try ResultDiff.outcomes(resultsFolder: try Self.results("C", offset: 2.0)).runs
        let far = ResultDiff.between(a, c)
        #expect(far.differences.filter { $0.image == "barbara" }.allSatisfy { $0.beyondSpread == true })
        let csv = ResultDiff.table(far.differences).csv()
        #expect(csv.hasPrefix("experiment,configuration,image,seed,"))
        #expect(csv.contains("table1-paper,DIP (paper protocol),barbara,0,31.22,33.22,+2.00"))
        let json = try ResultDiff.json(far.differences)
        let decoded = try JSONDecoder().decode([RunDifference].self, from: Data(json.utf8))
        #expect(decoded == far.differences)
    }

    @Test("CSV quotes cells with commas and quotes")
    func csvQuoting() {
        let t = TextTable(header: ["a", "b"], rows: [["x,y", "say \"hi\""]])
        #expect(t.csv() == "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n")
    }
}

import DIPEngine
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
        #expect(barbara.reference == 32.22 && barbara.referenceSource == "paper" && barbara.referenceInsideFinal == false)
        let kate = try #require(groups.first { $0.image == "kate" })
        #expect(kate.reference == nil && kate.referenceInsideFinal == nil)
        // The seed protocol is compared with the seed report's numbers, TV with none.
        #expect(ResultDiff.reference(experiment: "table1-seed", image: "barbara")! == (33.28, "seed report"))
        #expect(ResultDiff.reference(experiment: "table1-seed", image: "peppers256")! == (41.64, "seed report"), "the seed protocol's file name")
        #expect(ResultDiff.reference(experiment: "table1-tv", image: "barbara") == nil)
        #expect(barbara.unfinishedSeeds.isEmpty)
        let text = ResultDiff.table(groups).aligned()
        #expect(text.contains("32.67") && text.contains("32.22"))
        // A seed whose run diverged is named: its final is missing from the spread.
        let folder = try Self.results("seeds-diverged", offset: 1.2, barbaraSeeds: [0])
        try SyntheticResults.save(try ResultStore(root: folder), experiment: "table1-paper", group: "experiment1", label: "DIP (paper protocol)",
                                  image: "barbara", seed: 1, status: .diverged)
        let mixed = ResultDiff.acrossSeeds(try ResultDiff.outcomes(resultsFolder: folder).runs)
        #expect(mixed.first { $0.image == "barbara" }?.unfinishedSeeds == [1])
        #expect(ResultDiff.table(mixed).csv().contains("barbara,2 (1 not done),"), "\(ResultDiff.table(mixed).csv())")
        // Columns line up: every line of the table is as long as the rule or shorter.
        let lines = text.split(separator: "\n")
        #expect(lines.allSatisfy { $0.count <= lines[1].count })
    }

    @Test("each folder says which profile its runs were taken from (diff names them when two folders' differ)")
    func profileOfEachSide() throws {
        let folder = try Self.results("profiles", offset: 0)
        #expect(try ResultDiff.outcomes(resultsFolder: folder).profile == "smoke")
        try SyntheticResults.save(try ResultStore(root: folder), experiment: "width", group: "experiment2", label: "width 4",
                                  image: "kate", seed: 7, profile: "quick")
        let thorough = try ResultDiff.outcomes(resultsFolder: folder)
        #expect(thorough.profile == "quick" && thorough.runs.count == 1)
        #expect(try ResultDiff.outcomes(resultsFolder: folder, profile: "smoke").profile == "smoke")
        // status adds the profiles up, and says by how much each.
        let status = try StoreStatus.read(results: folder)
        #expect(status.storedByProfile["quick"] == 1 && (status.storedByProfile["smoke"] ?? 0) > 1 && status.storedByProfile.count == 2)
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
        // A run that diverged in B is said to have, not counted as within the spread.
        let d2 = SyntheticResults.temporaryFolder("D")
        try SyntheticResults.save(try ResultStore(root: d2), experiment: "table1-paper", group: "experiment1", label: "DIP (paper protocol)",
                                  image: "barbara", seed: 0, status: .diverged)
        let diverged = ResultDiff.between(a, try ResultDiff.outcomes(resultsFolder: d2).runs).differences
        #expect(diverged.count == 1 && diverged[0].beyondSpread == nil && !diverged[0].bothDone)
        #expect(ResultDiff.table(diverged).csv().contains(",DIVERGED in B,"), "\(ResultDiff.table(diverged).csv())")
        let json = try ResultDiff.json(far.differences)
        let decoded = try JSONDecoder().decode([RunDifference].self, from: Data(json.utf8))
        #expect(decoded == far.differences)
    }

    @Test("two result sets with no run in common are said to be so, and why")
    func nothingInCommon() throws {
        let a = try ResultDiff.outcomes(resultsFolder: try Self.results("A0", offset: 0)).runs
        #expect(ResultDiff.nothingInCommon(a, a) == nil)
        let seeds = a.map { r -> RunOutcome in var o = r; o.seed += 2; return o }
        #expect(ResultDiff.nothingInCommon(a, seeds) == "they hold different seeds (0, 1 against 2, 3)")
        let others = a.map { r -> RunOutcome in var o = r; o.experiment = "mine"; return o }
        #expect(ResultDiff.nothingInCommon(a, others)?.hasPrefix("they hold different experiments (table1-paper, width against mine)") == true)
        let labels = a.map { r -> RunOutcome in var o = r; o.label += " (edited)"; return o }
        #expect(ResultDiff.nothingInCommon(a, labels)?.contains("other configurations or images") == true)
        #expect(ResultDiff.nothingInCommon(a, []) == nil)
    }

    @Test("runs of another profile, and of an older configuration under the same label, are left off and named, not pooled")
    func selection() throws {
        let folder = SyntheticResults.temporaryFolder("selection")
        let store = try ResultStore(root: folder)
        for seed: UInt64 in [0, 1] {
            try SyntheticResults.save(store, experiment: "table1-paper", group: "experiment1", label: "DIP (paper protocol)",
                                      image: "barbara", seed: seed, profile: "smoke")
            try SyntheticResults.save(store, experiment: "width", group: "experiment2", label: "width 4", image: "kate", seed: seed,
                                      profile: "smoke", finishedAt: "2026-02-01T00:00:00Z")
        }
        // The same label and seed 0 again: under the quick profile, and under an older smoke configuration.
        try SyntheticResults.save(store, experiment: "table1-paper", group: "experiment1", label: "DIP (paper protocol)",
                                  image: "barbara", seed: 0, profile: "quick", offset: 5, gammaInit: .one)
        try SyntheticResults.save(store, experiment: "width", group: "experiment2", label: "width 4", image: "kate", seed: 0,
                                  profile: "smoke", offset: 9, gammaInit: .one, finishedAt: "2025-12-01T00:00:00Z")

        // By default the fullest profile stored (quick), alone: its one seed, not a mean with smoke's.
        let quick = try ResultDiff.outcomes(resultsFolder: folder)
        #expect(quick.runs.count == 1 && quick.runs[0].finalPSNR == SyntheticResults.finalPSNR(image: "barbara", seed: 0, offset: 5))
        #expect(quick.leftOff == ["5 runs of the smoke profile left off (give --profile smoke to see them)"], "\(quick.leftOff)")
        // Smoke: its own four runs; the older width configuration is named, not counted.
        let smoke = try ResultDiff.outcomes(resultsFolder: folder, profile: "smoke")
        #expect(smoke.runs.count == 4 && smoke.runs.allSatisfy { $0.finalPSNR == SyntheticResults.finalPSNR(image: $0.image, seed: $0.seed, offset: 0) })
        #expect(smoke.leftOff.count == 2 && smoke.leftOff[0].hasPrefix("1 run of the quick profile left off")
                && smoke.leftOff[1].hasPrefix("1 run of width left off: an older configuration under the same label"), "\(smoke.leftOff)")
        let kate = try #require(ResultDiff.acrossSeeds(smoke.runs).first { $0.image == "kate" })
        #expect(kate.seeds == [0, 1])
        // The page counts what the diff counts, and says what it left off.
        let out = SyntheticResults.temporaryFolder("selection-page")
        let summary = try ReportRenderer.render(resultsFolder: folder, outFolder: out, commandLine: "test", profile: "smoke")
        #expect(summary.records == 4 && summary.notes.contains { $0.hasPrefix("1 run of width left off") })
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        #expect(html.contains("Stored runs not counted on this page") && html.contains("1 run of the quick profile left off"))
        // A profile with no runs here is an error, and the page stays (its empty page replaced it).
        #expect {
            try ReportRenderer.render(resultsFolder: folder, outFolder: out, commandLine: "test", profile: "paper")
        } throws: { error in
            "\(error)".contains("--profile 'paper': no runs of that profile are stored in \(folder) (it holds 1 run of quick, 5 runs of smoke)")
                && "\(error)".contains("the page in \(out) is left as it was")
        }
        #expect(try String(contentsOfFile: out + "/index.html", encoding: .utf8) == html)
    }

    @Test("with the user's catalog, the page shows their experiment's title and description and keeps their order of configurations")
    func userCatalogOnThePage() throws {
        let folder = SyntheticResults.temporaryFolder("user-catalog")
        let store = try ResultStore(root: folder)
        for (label, gamma) in [("zeta first", GammaInit.uniform), ("alpha second", GammaInit.one)] {
            try SyntheticResults.save(store, experiment: "mine", group: "experiment2", label: label, image: "kate", seed: 0, gammaInit: gamma)
        }
        var mine = Catalog.experiments.first { $0.id == "width" }!
        mine.id = "mine"
        mine.title = "My own sweep"
        mine.description = "Two settings of mine."
        mine.runs = [mine.runs[0], mine.runs[1]]
        mine.runs[0].label = "zeta first"
        mine.runs[1].label = "alpha second"
        let out = SyntheticResults.temporaryFolder("user-catalog-page")
        let plain = try ReportRenderer.render(resultsFolder: folder, outFolder: out, commandLine: "test")
        #expect(!(try String(contentsOfFile: plain.pagePath, encoding: .utf8)).contains("My own sweep"))
        let summary = try ReportRenderer.render(resultsFolder: folder, outFolder: out, commandLine: "test", catalog: Catalog.experiments + [mine])
        let html = try String(contentsOfFile: summary.pagePath, encoding: .utf8)
        #expect(html.contains("My own sweep") && html.contains("Two settings of mine."))
        // The synthetic runs used a 2-level network where the catalog writes 5: the rows say so.
        let zeta = try #require(html.range(of: ">zeta first (ran with 2 levels of 5 under this profile)<"))
        let alpha = try #require(html.range(of: ">alpha second (ran with 2 levels of 5 under this profile)<"))
        #expect(zeta.lowerBound < alpha.lowerBound, "the catalog's order, not the hashes'")
        // diff lists them in that order too, given the catalog: across seeds and between two
        // folders (before, both sorted labels as text, alpha first).
        let runs = try ResultDiff.outcomes(resultsFolder: folder).runs
        let order = CatalogOrder(Catalog.experiments + [mine])
        #expect(ResultDiff.acrossSeeds(runs, order: order).map(\.label) == ["zeta first", "alpha second"])
        #expect(ResultDiff.between(runs, runs, order: order).differences.map(\.label) == ["zeta first", "alpha second"])
        #expect(ResultDiff.acrossSeeds(runs).map(\.label) == ["alpha second", "zeta first"], "without it, the labels' text order")
    }

    @Test("CSV quotes cells with commas and quotes")
    func csvQuoting() {
        let t = TextTable(header: ["a", "b"], rows: [["x,y", "say \"hi\""]])
        #expect(t.csv() == "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n")
    }
}

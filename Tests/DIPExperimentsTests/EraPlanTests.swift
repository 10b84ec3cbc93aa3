import DIPCore
import DIPEngine
import DIPTestSupport
import Foundation
import Testing
@testable import DIPExperiments

private func tempDir() -> String {
    let p = TestFolder.path("dip-era")
    try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

/// The two era knobs of a planned DIP run: (gamma init, align_corners).
private func knobs(_ run: PlannedRun) -> (GammaInit, Bool)? {
    guard case let .dip(c) = run.configuration.method, case let .bilinear(ac) = c.network.upsampling else { return nil }
    return (c.gammaInit, ac)
}

/// A planned DIP run's configuration with the era knobs set to the paper era's.
private func paperEra(_ run: PlannedRun) -> RunConfiguration {
    var conf = run.configuration
    if case var .dip(c) = conf.method {
        c.gammaInit = .uniform
        c.network.upsampling = .bilinear(alignCorners: true)
        conf.method = .dip(c)
    }
    return conf
}

@Suite("The era experiment")
struct EraPlanTests {
    private var era: Experiment { Catalog.experiments.first { $0.id == "era" }! }

    @Test("table1-paper's configuration is what it was before the era knobs existed: its run keys stay")
    func paperConfigurationUnchanged() throws {
        // paperFit() as written before it took the era knobs.
        let before = FitConfig(network: try SkipConfig.preset("table1", outputChannels: 1), perturbation: 0.03,
                               optimizer: .adam(learningRate: 0.001), iterations: 11000, backtracking: Backtracking(),
                               finalRender: .lastPerturbed, psnrEvery: 10)
        #expect(Catalog.paperFit() == before)
        #expect(try ConfigHash.of(Catalog.paperFit()) == ConfigHash.of(before))
        let table1 = Catalog.experiments.first { $0.id == "table1-paper" }!
        #expect(table1.runs.count == 1 && table1.runs[0].method == .dip(before))
    }

    @Test("era holds the three other combinations of gamma and align_corners on table1-paper's protocol, with table1-paper as its baseline")
    func catalogEntry() throws {
        #expect(era.baseline == "table1-paper")
        #expect(era.group == "experiment4")
        let table1 = Catalog.experiments.first { $0.id == "table1-paper" }!.runs[0]
        var combos: [String] = []
        for run in era.runs {
            #expect(run.images == table1.images && run.preprocessing == table1.preprocessing && run.mask == table1.mask)
            guard case let .dip(c) = run.method, case let .bilinear(ac) = c.network.upsampling else {
                Issue.record("\(run.label) is not a bilinear DIP fit"); continue
            }
            combos.append("\(c.gammaInit.rawValue) \(ac)")
            // Apart from the two knobs, the very configuration of table1-paper.
            var same = c
            same.gammaInit = .uniform
            same.network.upsampling = .bilinear(alignCorners: true)
            #expect(RunSpec(label: table1.label, images: run.images, preprocessing: run.preprocessing, mask: run.mask,
                            method: .dip(same)) == table1)
        }
        #expect(combos.sorted() == ["one false", "one true", "uniform false"])
    }

    @Test("selecting era plans table1-paper before it, once; the printed catalog keeps the baseline")
    func baselinesSelected() throws {
        let all = Catalog.experiments
        #expect(Catalog.withBaselines(try Catalog.select(["era"], from: all), from: all).map(\.id) == ["table1-paper", "era"])
        #expect(Catalog.withBaselines(try Catalog.select(["era", "table1-paper"], from: all), from: all).map(\.id) == ["table1-paper", "era"])
        #expect(Catalog.withBaselines(all, from: all).map(\.id) == all.map(\.id))
        let json = try Catalog.json([era])
        #expect(json.contains("\"baseline\" : \"table1-paper\""))
        #expect(try JSONDecoder().decode([Experiment].self, from: Data(json.utf8)) == [era])
        // Experiments without a baseline print as before: no "baseline" key at all.
        #expect(!(try Catalog.json(all.filter { $0.id != "era" })).contains("\"baseline\""))
    }

    @Test("a user's experiment may name a baseline of the catalog, not an unknown one")
    func userBaseline() throws {
        var mine = era
        mine.id = "my-era"
        let path = TestFolder.path("era-catalog", suffix: ".json")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Catalog.json([mine]).write(toFile: path, atomically: true, encoding: .utf8)
        let all = try Catalog.all(userFile: path)
        #expect(Catalog.withBaselines(try Catalog.select(["my-era"], from: all), from: all).map(\.id) == ["table1-paper", "my-era"])
        mine.baseline = "nope"
        try Catalog.json([mine]).write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try Catalog.all(userFile: path) } throws: { "\($0)".contains("baseline 'nope'") }
        // Two that name each other: refused, where the plan listed them five times.
        var other = mine
        other.id = "my-era-2"
        other.baseline = "my-era"
        mine.baseline = "my-era-2"
        try Catalog.json([mine, other]).write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try Catalog.all(userFile: path) } throws: {
            "\($0)".contains("the baselines 'my-era' -> 'my-era-2' -> 'my-era' go round in a circle")
        }
    }

    @Test("every profile plans era as it plans Table 1: four combinations on the same images, table1-paper's runs reused, no run key twice",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"), arguments: Profile.all.map(\.name))
    func plan(_ name: String) throws {
        let profile = try Profile.named(name)
        let runner = Runner(store: try ResultStore(root: tempDir()),
                            options: RunnerOptions(dataDirectory: experimentData!, profile: profile))
        let all = Catalog.experiments
        let plan = try runner.plan(Catalog.withBaselines(try Catalog.select(["era"], from: all), from: all))
        let table1Alone = try runner.plan(try Catalog.select(["table1-paper"], from: all))
        let seeds = profile.defaultSeeds

        #expect(Set(plan.runs.map(\.key)).count == plan.runs.count, "a run key planned twice")
        let table1 = plan.runs.filter { $0.key.experiment == "table1-paper" }
        let eraRuns = plan.runs.filter { $0.key.experiment == "era" }
        #expect(table1.count + eraRuns.count == plan.runs.count)
        // The paper-era combination is table1-paper's own runs, keys and hashes unchanged.
        #expect(table1.map(\.key) == table1Alone.runs.map(\.key))
        #expect(table1.count == 13 * seeds.count)
        #expect(eraRuns.count == 3 * 13 * seeds.count)
        #expect(Set(eraRuns.map(\.key.seed)) == Set(seeds))

        // Each (image, seed) has the four combinations, and they differ in nothing else: the
        // profile reduced them alike (crop, widths, iterations, PSNR and backtracking intervals).
        for ref in table1 {
            let partners = eraRuns.filter { $0.key.image == ref.key.image && $0.key.seed == ref.key.seed }
            let combos = ([ref] + partners).compactMap(knobs).map { "\($0.0.rawValue) \($0.1)" }
            #expect(combos.sorted() == ["one false", "one true", "uniform false", "uniform true"], "\(ref.key)")
            for p in partners {
                #expect(paperEra(p) == ref.configuration, "\(p.key)")
                #expect(p.size == ref.size && p.iterations == ref.iterations && p.macsPerForward == ref.macsPerForward)
            }
        }
        let sides = Set(table1.map(\.size.width))
        switch name {
        case "paper": #expect(sides.contains(514) && sides.contains(258), "native sizes, padded by 1")
        case "quick": #expect(sides == [130], "128x128 crops, padded by 1")
        default: #expect(sides == [66], "64x64 crops, padded by 1")
        }
    }

    @Test("table1-paper's stored runs count as era's paper-era row: planning era after them runs only the other three combinations",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func reusesStoredRecords() throws {
        var all = Catalog.experiments
        for i in all.indices where ["table1-paper", "era"].contains(all[i].id) {
            for j in all[i].runs.indices { all[i].runs[j].images = [Catalog.bm3d.first { $0.name == "house" }!] }
        }
        let store = try ResultStore(root: tempDir())
        let runner = Runner(store: store, options: RunnerOptions(dataDirectory: experimentData!, profile: .smoke, seeds: [0],
                                                                 jobs: 1, threadsPerJob: 1))
        let first = runner.execute(try runner.plan(try Catalog.select(["table1-paper"], from: all)), events: { _ in })
        #expect(first.done + first.diverged == 1)
        let plan = try runner.plan(Catalog.withBaselines(try Catalog.select(["era"], from: all), from: all))
        #expect(plan.runs.count == 4)
        #expect(plan.runs.filter { $0.state == .stored }.map(\.key.experiment) == ["table1-paper"])
        #expect(plan.pending.map(\.key.experiment) == ["era", "era", "era"])
    }
}

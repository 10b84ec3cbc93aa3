import DIPCore
import Foundation

/// The numbers of one stored run that the diffs compare: a flat view of a `RunRecord`, so the
/// statistics do not depend on how records are stored.
public struct RunOutcome: Sendable, Hashable, Codable {
    /// Experiment identifier ("table1-paper").
    public var experiment: String
    /// The configuration's label within the experiment ("width 16").
    public var label: String
    /// Image name.
    public var image: String
    /// Configuration hash of the run key.
    public var configHash: String
    /// The seed.
    public var seed: UInt64
    /// PSNR of the final picture (nil when the run diverged).
    public var finalPSNR: Double?
    /// PSNR of the best sampled iterate.
    public var bestPSNR: Double?
    /// The hashed configuration, so two configurations can be told apart by knob (nil when
    /// the outcome was not read from a record).
    public var configuration: RunConfiguration?
    /// How the run ended (done when not said).
    public var status: RunStatus

    /// Creates an outcome.
    public init(experiment: String, label: String, image: String, configHash: String, seed: UInt64,
                finalPSNR: Double?, bestPSNR: Double?, configuration: RunConfiguration? = nil, status: RunStatus = .done) {
        self.status = status
        self.experiment = experiment
        self.label = label
        self.image = image
        self.configHash = configHash
        self.seed = seed
        self.finalPSNR = finalPSNR
        self.bestPSNR = bestPSNR
        self.configuration = configuration
    }

    /// What groups seeds together: the same experiment, configuration and image.
    public var groupKey: String { "\(experiment)\u{1F}\(label)\u{1F}\(image)" }
}

/// Mean, range and standard deviation of a set of values.
public struct Spread: Sendable, Hashable, Codable {
    /// How many values.
    public var count: Int
    /// Their mean.
    public var mean: Double
    /// The smallest.
    public var min: Double
    /// The largest.
    public var max: Double
    /// Sample standard deviation (n - 1 in the denominator); nil for a single value.
    public var std: Double?

    /// The statistics of the finite `values`; nil when there are none.
    public init?(_ values: [Double]) {
        let v = values.filter(\.isFinite)
        guard !v.isEmpty else { return nil }
        count = v.count
        mean = v.reduce(0, +) / Double(v.count)
        min = v.min()!
        max = v.max()!
        if v.count > 1 {
            let m = mean
            std = (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
        } else {
            std = nil
        }
    }

    /// max - min.
    public var range: Double { max - min }

    /// Whether `value` lies within [min, max].
    public func contains(_ value: Double) -> Bool { value >= min && value <= max }

    /// "32.10 +/- 0.21 (31.80-32.40)", or just the mean for one seed.
    public var text: String {
        guard count > 1 else { return String(format: "%.2f", mean) }
        return String(format: "%.2f ± %.2f (%.2f–%.2f)", mean, std ?? 0, min, max)
    }
}

/// Diff (a): one experiment, configuration and image across its seeds.
public struct SeedGroup: Sendable, Hashable, Codable {
    /// Experiment identifier.
    public var experiment: String
    /// Configuration label.
    public var label: String
    /// Image name.
    public var image: String
    /// The seeds present, ascending.
    public var seeds: [UInt64]
    /// The seeds whose run diverged or was cancelled, ascending: a diverged run has no final
    /// PSNR, so the final spread is over fewer seeds.
    public var unfinishedSeeds: [UInt64] = []
    /// Final PSNR over seeds.
    public var final: Spread?
    /// Best PSNR over seeds.
    public var best: Spread?
    /// The published value this experiment's image is compared with, when there is one
    /// (`ResultDiff.reference`).
    public var reference: Double?
    /// Where it was published: "paper" or "seed report".
    public var referenceSource: String?
    /// Whether the reference lies inside the seeds' final-PSNR range.
    public var referenceInsideFinal: Bool?
    /// Whether it lies inside the seeds' best-PSNR range.
    public var referenceInsideBest: Bool?
}

/// Diff (b): one run present in two result sets.
public struct RunDifference: Sendable, Hashable, Codable {
    /// Experiment identifier.
    public var experiment: String
    /// Configuration label.
    public var label: String
    /// Image name.
    public var image: String
    /// The seed.
    public var seed: UInt64
    /// Configuration hash in A.
    public var hashA: String
    /// Configuration hash in B (differs from A when the two sets used different profiles).
    public var hashB: String
    /// Final PSNR in A and B.
    public var finalA: Double?, finalB: Double?
    /// Best PSNR in A and B.
    public var bestA: Double?, bestB: Double?
    /// B - A, final PSNR.
    public var finalDelta: Double?
    /// B - A, best PSNR.
    public var bestDelta: Double?
    /// The larger of the two sets' seed ranges (max - min of final PSNR) for this configuration
    /// and image; nil when neither set has two seeds of it.
    public var seedRange: Double?
    /// Whether |final or best difference| exceeds that range; nil when the range is unknown
    /// or a side did not finish.
    public var beyondSpread: Bool?
    /// How the run ended in A and in B: a run that diverged on one side is a difference no
    /// PSNR delta shows (its final PSNR is missing), so the table says so instead.
    public var statusA: RunStatus, statusB: RunStatus

    /// Whether both sides ran every iteration.
    public var bothDone: Bool { statusA == .done && statusB == .done }
}

/// The two diffs of `dip-report diff`, over flat run outcomes.
public enum ResultDiff {
    /// The published value an experiment's image is compared with, and where it was published:
    /// the paper's DIP row for the paper protocol's runs, the seed report's Table 1 for the seed
    /// protocol's (whose numbers it reproduces), none for TV (the paper's Table 1 has no TV
    /// row; comparing TV with DIP's value said "paper in range: no" as if TV were DIP).
    public static func reference(experiment: String, image: String) -> (value: Double, source: String)? {
        switch experiment {
        case "table1-paper":
            return ReferenceNumbers.paperDIP[ReferenceNumbers.table1Column(forImage: image)].map { ($0, "paper") }
        case "table1-seed":
            return ReferenceNumbers.seedReport[ReferenceNumbers.table1Column(forImage: image)].map { ($0, "seed report") }
        default:
            return nil
        }
    }

    /// Diff (a): every (experiment, label, image) with its seeds' statistics, in `order`'s order.
    public static func acrossSeeds(_ runs: [RunOutcome], order: CatalogOrder = CatalogOrder()) -> [SeedGroup] {
        let groups = Dictionary(grouping: runs, by: \.groupKey)
        return groups.values.map { members -> SeedGroup in
            let first = members[0]
            let final = Spread(members.compactMap(\.finalPSNR)), best = Spread(members.compactMap(\.bestPSNR))
            let ref = reference(experiment: first.experiment, image: first.image)
            return SeedGroup(experiment: first.experiment, label: first.label, image: first.image,
                             seeds: members.map(\.seed).sorted(), unfinishedSeeds: members.filter { $0.status != .done }.map(\.seed).sorted(),
                             final: final, best: best,
                             reference: ref?.value, referenceSource: ref?.source,
                             // The seed report published best PSNRs: a final range says nothing of them.
                             referenceInsideFinal: ref.flatMap { r in r.source == "seed report" ? nil : final.map { $0.contains(r.value) } },
                             referenceInsideBest: ref.flatMap { r in best.map { $0.contains(r.value) } })
        }.sorted { order.precedes(($0.experiment, $0.label, $0.image), ($1.experiment, $1.label, $1.image)) }
    }

    /// Diff (b): runs of `b` matched to runs of `a` by (experiment, label, image, seed), which
    /// holds across commits, machines and profiles (profiles change the configuration hash).
    /// Returns the differences and the runs found on one side only.
    public static func between(_ a: [RunOutcome], _ b: [RunOutcome],
                               order: CatalogOrder = CatalogOrder()) -> (differences: [RunDifference], onlyA: [RunOutcome], onlyB: [RunOutcome]) {
        func key(_ r: RunOutcome) -> String { "\(r.groupKey)\u{1F}\(r.seed)" }
        let indexA = Dictionary(a.map { (key($0), $0) }, uniquingKeysWith: { x, _ in x })
        let indexB = Dictionary(b.map { (key($0), $0) }, uniquingKeysWith: { x, _ in x })
        let rangesA = Dictionary(grouping: a, by: \.groupKey).mapValues { Spread($0.compactMap(\.finalPSNR)) }
        let rangesB = Dictionary(grouping: b, by: \.groupKey).mapValues { Spread($0.compactMap(\.finalPSNR)) }
        var out: [RunDifference] = []
        for (k, ra) in indexA {
            guard let rb = indexB[k] else { continue }
            let spreads = [rangesA[ra.groupKey] ?? nil, rangesB[rb.groupKey] ?? nil].compactMap { $0 }.filter { $0.count > 1 }
            let range = spreads.map(\.range).max()
            let fd = delta(ra.finalPSNR, rb.finalPSNR), bd = delta(ra.bestPSNR, rb.bestPSNR)
            let largest = [fd, bd].compactMap { $0 }.map(abs).max()
            var beyond: Bool? = nil
            if let range, let largest, ra.status == .done, rb.status == .done { beyond = largest > range }
            out.append(RunDifference(experiment: ra.experiment, label: ra.label, image: ra.image, seed: ra.seed,
                                     hashA: ra.configHash, hashB: rb.configHash, finalA: ra.finalPSNR, finalB: rb.finalPSNR,
                                     bestA: ra.bestPSNR, bestB: rb.bestPSNR, finalDelta: fd, bestDelta: bd,
                                     seedRange: range, beyondSpread: beyond, statusA: ra.status, statusB: rb.status))
        }
        // In the catalog's order, as the seed table and the page list them (labels as text read
        // "width 128, width 16, ...").
        out.sort { x, y in
            if (x.experiment, x.label, x.image) == (y.experiment, y.label, y.image) { return x.seed < y.seed }
            return order.precedes((x.experiment, x.label, x.image), (y.experiment, y.label, y.image))
        }
        let onlyA = a.filter { indexB[key($0)] == nil }, onlyB = b.filter { indexA[key($0)] == nil }
        return (out, onlyA, onlyB)
    }

    /// Why two folders' runs, `a` and `b`, have none in common (nil when they do, or one is
    /// empty): different seeds, different experiments, or other configurations or images in them.
    public static func nothingInCommon(_ a: [RunOutcome], _ b: [RunOutcome]) -> String? {
        guard !a.isEmpty, !b.isEmpty, between(a, b).differences.isEmpty else { return nil }
        func list<T: Comparable & CustomStringConvertible>(_ values: Set<T>) -> String { values.sorted().map(\.description).joined(separator: ", ") }
        let seedsA = Set(a.map(\.seed)), seedsB = Set(b.map(\.seed))
        if seedsA.isDisjoint(with: seedsB) { return "they hold different seeds (\(list(seedsA)) against \(list(seedsB)))" }
        let experimentsA = Set(a.map(\.experiment)), experimentsB = Set(b.map(\.experiment))
        if experimentsA.isDisjoint(with: experimentsB) {
            return "they hold different experiments (\(list(experimentsA)) against \(list(experimentsB)))"
        }
        return "their runs of the same experiments and seeds are of other configurations or images (an edited catalog?)"
    }

    private static func delta(_ a: Double?, _ b: Double?) -> Double? {
        guard let a, let b, a.isFinite, b.isFinite else { return nil }
        return b - a
    }

    /// JSON of any diff result: sorted keys, pretty-printed, non-finite numbers as strings.
    public static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// The flat outcome of a record, for the diffs.
    public static func outcome(_ r: RunRecord) -> RunOutcome {
        RunOutcome(experiment: r.key.experiment, label: r.label, image: r.key.image, configHash: r.key.configHash,
                   seed: r.key.seed, finalPSNR: r.final?.psnr, bestPSNR: r.best?.psnr, configuration: r.configuration,
                   status: r.status)
    }

    /// The outcomes of the runs a results folder's report counts (`RecordSelection`: one
    /// profile, `profile` or the most thorough stored, and one configuration per label and image),
    /// with the files that were skipped, what was left off and how many runs are stored in all.
    public static func outcomes(resultsFolder: String, profile: String? = nil)
        throws -> (runs: [RunOutcome], problems: [String], leftOff: [String], stored: Int, profile: String?) {
        let scan = try ResultStore(root: resultsFolder, create: false).scan()
        let selection = RecordSelection(scan.records, profile: profile)
        return (selection.records.map(outcome), scan.problems.map(\.description), selection.notes, scan.records.count, selection.profile)
    }
}

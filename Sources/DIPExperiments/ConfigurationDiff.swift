import DIPCore
import Foundation

/// Diff (c): one configuration against a reference configuration inside one result set, run by
/// run: the same image and seed (hence the same mask and input code) under two settings.
public struct PairedRun: Sendable, Hashable, Codable {
    /// Experiment of the compared configuration.
    public var experiment: String
    /// Its label.
    public var label: String
    /// Experiment of the reference run (another one when the reference is a baseline's).
    public var referenceExperiment: String
    /// The reference configuration's label.
    public var referenceLabel: String
    /// Image name.
    public var image: String
    /// The seed.
    public var seed: UInt64
    /// The knobs whose values differ, "gammaInit: uniform → one" (empty when unknown).
    public var knobs: [String]
    /// Final PSNR of the reference and of this configuration.
    public var finalReference: Double?, final: Double?
    /// Best PSNR of the reference and of this configuration.
    public var bestReference: Double?, best: Double?
    /// This configuration minus the reference, final PSNR.
    public var finalDelta: Double?
    /// This configuration minus the reference, best PSNR.
    public var bestDelta: Double?
}

/// One configuration against the reference, summed up over images and seeds: the numbers of a
/// row of the era section's table and of `diff --within`'s summary lines.
public struct ConfigurationComparison: Sendable, Hashable, Codable {
    /// The configuration's label.
    public var label: String
    /// The reference configuration's label.
    public var referenceLabel: String
    /// Every knob that differs in some pair (usually the same for all).
    public var knobs: [String]
    /// The pairs, sorted by image and seed.
    public var pairs: [PairedRun]
    /// Mean of the final-PSNR differences over all pairs.
    public var meanFinalDelta: Double?
    /// Per seed, the mean final-PSNR difference over the images: its spread over seeds.
    public var perSeedFinalDelta: Spread?
    /// Images with at least one pair.
    public var images: [String]
    /// Seeds with at least one pair.
    public var seeds: [UInt64]
    /// Images whose difference (mean over seeds) exceeds their seed spread: the larger of the
    /// two configurations' final-PSNR ranges over seeds for that image.
    public var imagesBeyondSpread: [String]
    /// Images where that spread is known (two seeds or more on both sides).
    public var imagesWithSpread: [String]

    /// The pairs with a final PSNR on both sides: those `meanFinalDelta` averages.
    public var pairsWithFinals: Int { pairs.filter { $0.finalDelta != nil }.count }

    /// "23 paired runs", and where some pairs lack a final on one side (a run diverged or was
    /// cancelled) "23 paired runs (1 more without a final on both sides)": what a mean is over.
    public var pairedRunsAveraged: String {
        let left = pairs.count - pairsWithFinals
        return "\(pairsWithFinals) paired run\(pairsWithFinals == 1 ? "" : "s")"
            + (left > 0 ? " (\(left) more without a final on both sides)" : "")
    }
}

extension ResultDiff {
    /// The knobs on which two configurations differ, as "path: A → B" with the path in the
    /// catalog's JSON (a DIP method's fields without the "method.dip" prefix), sorted by path.
    public static func knobDifferences(_ a: RunConfiguration, _ b: RunConfiguration) -> [String] {
        guard let fa = try? flatten(a), let fb = try? flatten(b) else { return [] }
        return Set(fa.keys).union(fb.keys).sorted().compactMap { path in
            let va = fa[path], vb = fb[path]
            guard va != vb else { return nil }
            return "\(path): \(va ?? "absent") → \(vb ?? "absent")"
        }
    }

    /// Diff (c): every run of `label` paired with the `reference` run of the same image and seed
    /// (of all such reference runs, the one whose configuration differs in the fewest knobs, so
    /// a folder holding two profiles still pairs like with like). Runs without a partner are
    /// left out.
    public static func compare(_ runs: [RunOutcome], label: (experiment: String, label: String),
                               reference: (experiment: String, label: String)) -> ConfigurationComparison {
        let mine = runs.filter { $0.experiment == label.experiment && $0.label == label.label }
        let references = runs.filter { $0.experiment == reference.experiment && $0.label == reference.label }
        var pairs: [PairedRun] = []
        for r in mine {
            let candidates = references.filter { $0.image == r.image && $0.seed == r.seed }
            let scored = candidates.map { c -> (RunOutcome, [String]) in
                guard let x = c.configuration, let y = r.configuration else { return (c, []) }
                return (c, knobDifferences(x, y))
            }
            guard let (ref, knobs) = scored.min(by: { ($0.1.count, $0.0.configHash) < ($1.1.count, $1.0.configHash) }) else { continue }
            pairs.append(PairedRun(experiment: r.experiment, label: r.label, referenceExperiment: ref.experiment,
                                   referenceLabel: ref.label, image: r.image, seed: r.seed, knobs: knobs,
                                   finalReference: ref.finalPSNR, final: r.finalPSNR, bestReference: ref.bestPSNR, best: r.bestPSNR,
                                   finalDelta: delta(ref.finalPSNR, r.finalPSNR), bestDelta: delta(ref.bestPSNR, r.bestPSNR)))
        }
        pairs.sort { ($0.image, $0.seed) < ($1.image, $1.seed) }
        let deltas = pairs.compactMap(\.finalDelta)
        let seeds = Array(Set(pairs.map(\.seed))).sorted()
        let perSeed = seeds.compactMap { s -> Double? in
            let d = pairs.filter { $0.seed == s }.compactMap(\.finalDelta)
            return d.isEmpty ? nil : d.reduce(0, +) / Double(d.count)
        }
        let images = Array(Set(pairs.map(\.image))).sorted()
        var beyond: [String] = [], withSpread: [String] = []
        for image in images {
            let p = pairs.filter { $0.image == image }
            // Each side's range over the seeds that were paired, so both sides cover the same seeds.
            let ranges = [Spread(p.compactMap(\.finalReference)), Spread(p.compactMap(\.final))]
            guard ranges.allSatisfy({ ($0?.count ?? 0) > 1 }), let d = Spread(p.compactMap(\.finalDelta)) else { continue }
            withSpread.append(image)
            let spread = ranges.map { $0!.range }.max()!
            if abs(d.mean) > spread { beyond.append(image) }
        }
        return ConfigurationComparison(
            label: label.label, referenceLabel: reference.label,
            knobs: Array(Set(pairs.flatMap(\.knobs))).sorted(), pairs: pairs,
            meanFinalDelta: deltas.isEmpty ? nil : deltas.reduce(0, +) / Double(deltas.count),
            perSeedFinalDelta: Spread(perSeed), images: images, seeds: seeds,
            imagesBeyondSpread: beyond, imagesWithSpread: withSpread)
    }

    /// Diff (c) for every configuration of `experiment` against `referenceLabel` (default: its
    /// baseline experiment's configuration when it has one, else its first configuration in
    /// catalog order). Labels are taken from `runs`, in catalog order where the catalog knows
    /// them; throws when the experiment or the reference has no runs.
    public static func within(_ runs: [RunOutcome], experiment: String, referenceLabel: String? = nil,
                              catalog: [Experiment] = Catalog.experiments) throws -> [ConfigurationComparison] {
        let entry = catalog.first { $0.id == experiment }
        func labels(_ id: String) -> [String] {
            let present = Set(runs.filter { $0.experiment == id }.map(\.label))
            var ordered = (catalog.first { $0.id == id }?.runs.map(\.label) ?? []).filter(present.contains)
            ordered += present.subtracting(ordered).sorted()
            return ordered
        }
        let own = labels(experiment)
        guard !own.isEmpty else {
            let stored = Set(runs.map(\.experiment)).sorted()
            throw DIPError.invalidValue(name: "--within", value: experiment, reason: "the results hold no runs of this experiment"
                                        + (stored.isEmpty ? "" : "; they hold \(stored.joined(separator: ", "))"))
        }
        let baseline = entry?.baseline.map { id in labels(id).map { (experiment: id, label: $0) } } ?? []
        let candidates = baseline + own.map { (experiment: experiment, label: $0) }
        let reference: (experiment: String, label: String)
        if let referenceLabel {
            guard let r = candidates.first(where: { $0.label == referenceLabel }) else {
                throw DIPError.invalidValue(name: "--reference", value: referenceLabel,
                                            reason: "no runs with this label; choose from \(candidates.map(\.label).joined(separator: ", "))")
            }
            reference = r
        } else {
            reference = candidates[0]
        }
        let others = candidates.filter { $0 != reference }
        guard !others.isEmpty else {
            // An empty table and exit 0 said nothing; there is nothing to compare with.
            throw DIPError.invalidValue(name: "--within", value: experiment,
                                        reason: "its runs here are of one configuration ('\(reference.label)'), so there is nothing to compare it with")
        }
        return others.map { compare(runs, label: $0, reference: reference) }
    }

    /// One line per configuration: the mean difference, its spread over seeds and the images
    /// beyond the seed spread.
    public static func summaryLine(_ c: ConfigurationComparison) -> String {
        guard let mean = c.meanFinalDelta else {
            // Paired runs whose finals are missing on one side (diverged, cancelled) are still pairs.
            return "\(c.label) vs \(c.referenceLabel): " + (c.pairs.isEmpty ? "no runs of both"
                : "\(counted(c.pairs.count, "paired run")), none with a final PSNR on both sides (a run diverged or was cancelled)")
        }
        var line = "\(c.label) vs \(c.referenceLabel): final " + String(format: "%+.2f dB", mean)
            + " on average over \(c.pairedRunsAveraged) (\(c.images.count) images, \(c.seeds.count) seed\(c.seeds.count == 1 ? "" : "s"))"
        if let s = c.perSeedFinalDelta, s.count > 1 { line += String(format: ", per-seed means %+.2f to %+.2f", s.min, s.max) }
        line += c.imagesWithSpread.isEmpty ? ", seed spread unknown (one seed)"
            : ", beyond the seed spread on \(c.imagesBeyondSpread.count) of \(c.imagesWithSpread.count) images"
        if !c.knobs.isEmpty { line += " [\(c.knobs.joined(separator: "; "))]" }
        return line
    }

    private static func delta(_ a: Double?, _ b: Double?) -> Double? {
        guard let a, let b, a.isFinite, b.isFinite else { return nil }
        return b - a
    }

    /// A configuration as path -> scalar text, through its JSON (so every knob the hash sees).
    private static func flatten(_ c: RunConfiguration) throws -> [String: String] {
        let data = try JSONEncoder().encode(c)
        var out: [String: String] = [:]
        func walk(_ v: JSONValue, _ path: [String]) {
            switch v {
            case let .object(o):
                if o.isEmpty { out[name(path)] = "{}" }
                for (k, x) in o { walk(x, path + [k]) }
            case let .array(a):
                if a.isEmpty { out[name(path)] = "[]" }
                for (i, x) in a.enumerated() { walk(x, path + ["\(i)"]) }
            case let .scalar(s): out[name(path)] = s
            }
        }
        walk(try JSONDecoder().decode(JSONValue.self, from: data), [])
        return out
    }

    /// "method.dip._0.network.upsampling.bilinear.alignCorners" -> "network.upsampling.bilinear.alignCorners":
    /// the enum payload marker goes, and a DIP method's knobs read as they do in FitConfig.
    private static func name(_ path: [String]) -> String {
        var p = path.filter { $0 != "_0" }
        if p.starts(with: ["method", "dip"]) { p.removeFirst(2) }
        return p.joined(separator: ".")
    }
}

/// Any JSON value, decoded for flattening (JSONDecoder keeps booleans and numbers apart).
private enum JSONValue: Decodable {
    case object([String: JSONValue])
    case array([JSONValue])
    case scalar(String)

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .scalar("null")
        } else if let b = try? c.decode(Bool.self) {
            self = .scalar(b ? "true" : "false")
        } else if let d = try? c.decode(Double.self) {
            self = .scalar(d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : "\(d)")
        } else if let s = try? c.decode(String.self) {
            self = .scalar(s)
        } else if let o = try? c.decode([String: JSONValue].self) {
            self = .object(o)
        } else {
            self = .array(try c.decode([JSONValue].self))
        }
    }
}

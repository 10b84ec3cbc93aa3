import DIPExperiments
import Foundation

/// The diffs of `dip-report diff` as text tables (the analysis itself is DIPExperiments').
extension ResultDiff {
    /// Diff (a) as a table.
    public static func table(_ groups: [SeedGroup]) -> TextTable {
        TextTable(header: ["experiment", "configuration", "image", "seeds", "final mean", "final min", "final max", "final std",
                           "best mean", "best min", "best max", "best std", "reference", "from", "in final range", "in best range"],
                  rows: groups.map { g in
                      [g.experiment, g.label, g.image,
                       "\(g.seeds.count)" + (g.unfinishedSeeds.isEmpty ? "" : " (\(g.unfinishedSeeds.map(String.init).joined(separator: ", ")) not done)"),
                       f(g.final?.mean), f(g.final?.min), f(g.final?.max), f(g.final?.std),
                       f(g.best?.mean), f(g.best?.min), f(g.best?.max), f(g.best?.std),
                       f(g.reference), g.referenceSource ?? "", yesNo(g.referenceInsideFinal), yesNo(g.referenceInsideBest)]
                  }, numericColumns: Set(3...12))
    }

    /// Diff (b) as a table.
    public static func table(_ differences: [RunDifference]) -> TextTable {
        TextTable(header: ["experiment", "configuration", "image", "seed", "final A", "final B", "final B-A",
                           "best A", "best B", "best B-A", "seed range", "beyond spread", "same config"],
                  rows: differences.map { d in
                      [d.experiment, d.label, d.image, "\(d.seed)", f(d.finalA), f(d.finalB), signed(d.finalDelta),
                       f(d.bestA), f(d.bestB), signed(d.bestDelta), f(d.seedRange),
                       spreadCell(d), d.hashA == d.hashB ? "yes" : "no"]
                  }, numericColumns: Set(3...10))
    }

    /// "YES", "no" or "unknown" (one seed); a run that did not finish on a side says so.
    private static func spreadCell(_ d: RunDifference) -> String {
        let ended = [("A", d.statusA), ("B", d.statusB)].filter { $0.1 != .done }.map { "\($0.1.rawValue.uppercased()) in \($0.0)" }
        if !ended.isEmpty { return ended.joined(separator: ", ") }
        return d.beyondSpread.map { $0 ? "YES" : "no" } ?? "unknown"
    }

    /// Diff (c) as a table, run by run.
    public static func table(_ comparisons: [ConfigurationComparison]) -> TextTable {
        TextTable(header: ["configuration", "reference", "image", "seed", "final ref", "final", "final diff",
                           "best ref", "best", "best diff", "knobs that differ"],
                  rows: comparisons.flatMap(\.pairs).map { p in
                      [p.label, p.referenceLabel, p.image, "\(p.seed)", f(p.finalReference), f(p.final), signed(p.finalDelta),
                       f(p.bestReference), f(p.best), signed(p.bestDelta), p.knobs.joined(separator: "; ")]
                  }, numericColumns: Set(3...9))
    }

    private static func f(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "" }
    private static func signed(_ v: Double?) -> String { v.map { String(format: "%+.2f", $0) } ?? "" }
    private static func yesNo(_ v: Bool?) -> String { v.map { $0 ? "yes" : "no" } ?? "" }
}

import DIPExperiments
import Foundation

/// The page's era appendix (experiment 4): the Table-1 paper protocol under the four
/// combinations of BatchNorm gamma init and bilinear align_corners, the paper-era one being
/// table1-paper's runs.
struct EraView: Sendable {
    /// What was run.
    var description: String
    /// One row per combination: mean final and best PSNR, the difference from the paper era.
    var table: TableView
    /// The measured effect of each knob alone, generated from the numbers.
    var sentences: [String]
    /// PSNR curves of two images, the four combinations overlaid.
    var plots: [FigureView]
}

/// The era section's generated text: what the numbers say, and nothing they do not.
enum EraText {
    /// A knob's value in words ("γ = 1", "align_corners false"); the raw "path = value" for
    /// knobs the text does not know.
    static func describe(knob path: String, value: String) -> String {
        switch (path, value) {
        case ("gammaInit", "uniform"): return "γ ~ U(0,1)"
        case ("gammaInit", "one"): return "γ = 1"
        case let (p, v) where p.hasSuffix("alignCorners"): return "align_corners \(v)"
        default: return "\(path) = \(value)"
        }
    }

    /// One sentence for a configuration that differs from the reference in exactly one knob
    /// ("gammaInit: uniform → one"); nil when it differs in more or none, or nothing was paired.
    ///
    /// "γ = 1 ended 0.40 dB below γ ~ U(0,1) in final PSNR on average over 13 images × 3 seeds
    /// (everything else as in the paper era; per-seed means −0.55 to −0.31 dB), beyond the seed
    /// spread on 9 of 13 images." A single seed gives no spread, and the sentence says so
    /// instead of counting images.
    static func sentence(_ c: ConfigurationComparison) -> String? {
        guard c.knobs.count == 1, let mean = c.meanFinalDelta,
              let m = c.knobs[0].wholeMatch(of: /(.+): (.+) → (.+)/) else { return nil }
        let path = String(m.1), from = describe(knob: path, value: String(m.2)), to = describe(knob: path, value: String(m.3))
        let amount = String(format: "%.2f", abs(mean))
        let direction = amount == "0.00" ? "within 0.01 dB of" : "\(amount) dB \(mean < 0 ? "below" : "above")"
        let complete = c.pairsWithFinals == c.images.count * c.seeds.count
        let over = complete
            ? "\(c.images.count) image\(c.images.count == 1 ? "" : "s") × \(c.seeds.count) seed\(c.seeds.count == 1 ? "" : "s")"
            : "\(c.pairedRunsAveraged) on \(c.images.count) image\(c.images.count == 1 ? "" : "s")"
        var text = "\(to) ended \(direction) \(from) in final PSNR on average over \(over) (everything else as in the paper era"
        if let s = c.perSeedFinalDelta, s.count > 1 {
            text += String(format: "; per-seed means %@ to %@ dB)", signed(s.min), signed(s.max))
        } else {
            text += ")"
        }
        if c.imagesWithSpread.isEmpty {
            text += c.seeds.count < 2 ? "; with one seed there is no seed spread to set it against." : "; no image has two seeds of both, so the seed spread is unknown."
        } else {
            text += ", beyond the seed spread on \(c.imagesBeyondSpread.count) of \(c.imagesWithSpread.count) images."
        }
        return text
    }

    /// "+0.05", "−1.05" (a real minus sign, as the page writes differences).
    static func signed(_ v: Double) -> String {
        String(format: "%+.2f", v).replacingOccurrences(of: "-", with: "−")
    }
}

extension PageBuilder {
    /// The era appendix, or nil when neither era nor its baseline has runs of the era
    /// experiment to compare.
    func era() throws -> EraView? {
        let id = "era"
        guard !of(id).isEmpty, let experiment = Catalog.experiments.first(where: { $0.id == id }),
              let baseline = experiment.baseline else { return nil }
        // The baseline's configuration (table1-paper has one); before its runs exist, the rows
        // of era still show, without differences.
        let referenceLabel = labels(baseline).first ?? Catalog.experiments.first { $0.id == baseline }?.runs.first?.label ?? ""
        let referenceRuns = of(baseline).filter { $0.label == referenceLabel }
        let outcomes = records.map(ResultDiff.outcome)
        let comparisons = labels(id).map {
            ResultDiff.compare(outcomes, label: (id, $0), reference: (baseline, referenceLabel))
        }
        var rows: [RowView] = []
        func meanCell(_ runs: [RunRecord], _ value: (RunRecord) -> Double?) -> CellView {
            guard let s = Spread(runs.compactMap(value)) else { return CellView("–", cls: "na") }
            return CellView(String(format: "%.2f", s.mean), title: String(format: "range %.2f–%.2f over %d runs\n", s.min, s.max, s.count) + keys(runs))
        }
        // "13 × 2"; where fewer runs than that are stored, or fewer have a final (the means are
        // over those), also how many: "13 × 2, 25 stored, 24 with a final".
        func count(_ runs: [RunRecord]) -> String {
            let images = Set(runs.map(\.key.image)).count, seeds = Set(runs.map(\.key.seed)).count
            let finals = runs.filter { $0.final != nil }.count
            return "\(images) × \(seeds)" + (runs.count < images * seeds ? ", \(runs.count) stored" : "")
                + (finals < runs.count ? ", \(finals) with a final" : "")
        }
        rows.append(RowView(cells: [CellView("gamma U(0,1), align_corners true (paper era: \(baseline)'s runs)", head: true),
                                    CellView(count(referenceRuns)), meanCell(referenceRuns) { $0.final?.psnr },
                                    meanCell(referenceRuns) { $0.best?.psnr }, CellView("reference", cls: "na"), CellView("–", cls: "na")],
                            cls: "ours"))
        for c in comparisons {
            let runs = of(id).filter { $0.label == c.label }
            var delta = CellView("–", cls: "na")
            if let mean = c.meanFinalDelta {
                var text = EraText.signed(mean)
                if let s = c.perSeedFinalDelta, s.count > 1 {
                    text += " (seeds \(EraText.signed(s.min)) to \(EraText.signed(s.max)))"
                } else {
                    text += " (one seed)"
                }
                let perRun = c.pairs.map { p in "\(p.image) s\(p.seed): " + (p.finalDelta.map(EraText.signed) ?? "n/a") }
                delta = CellView(text, title: "knobs: \(c.knobs.joined(separator: "; "))\n" + perRun.joined(separator: "\n"),
                                 cls: mean >= 0 ? "pos" : "neg")
            }
            let beyond = c.imagesWithSpread.isEmpty
                ? CellView(c.pairs.isEmpty ? "–" : "– (one seed)", cls: "na")
                : CellView("\(c.imagesBeyondSpread.count) of \(c.imagesWithSpread.count)",
                           title: c.imagesBeyondSpread.isEmpty ? "none" : c.imagesBeyondSpread.joined(separator: ", "))
            rows.append(RowView(cells: [CellView(c.label, head: true), CellView(count(runs)), meanCell(runs) { $0.final?.psnr },
                                        meanCell(runs) { $0.best?.psnr }, delta, beyond], cls: "ours"))
        }
        let table = TableView(id: "era-table", caption: "\(experiment.title): PSNR (dB), mean over images and seeds",
                              header: ["combination", "images × seeds", "final", "best", "final − paper era", "images beyond the seed spread"],
                              rows: rows,
                              note: "Differences are taken run by run against the paper-era run of the same image and seed (the same mask and input code), "
                                  + "then averaged; in brackets, the lowest and highest of the per-seed means over the images. "
                                  + "An image counts as beyond the seed spread when its difference, averaged over seeds, exceeds the larger of the two "
                                  + "combinations' final-PSNR ranges over those seeds. dip-report diff RESULTS --within era prints every pair.")
        return EraView(description: experiment.description + ".", table: table,
                       sentences: comparisons.compactMap(EraText.sentence), plots: try eraPlots(reference: referenceRuns, era: of(id), comparisons: comparisons))
    }

    /// Curves of the first two images (catalog order) that have every combination: each
    /// combination in its own colour, its seeds in shades of it.
    private func eraPlots(reference: [RunRecord], era: [RunRecord], comparisons: [ConfigurationComparison]) throws -> [FigureView] {
        let groups = [("gamma U(0,1), align_corners true (paper era)", reference)] + comparisons.map { c in (c.label, era.filter { $0.label == c.label }) }
        let order = Catalog.bm3d.map(\.name) + Array(Set(era.map(\.key.image))).sorted()
        var chosen: [String] = []
        for image in order where !chosen.contains(image) && chosen.count < 2 {
            if groups.allSatisfy({ g in g.1.contains { $0.key.image == image } }) { chosen.append(image) }
        }
        return try chosen.map { image in
            var series: [LineSeries] = []
            for (hue, (name, runs)) in groups.enumerated() {
                let mine = runs.filter { $0.key.image == image }.sorted { $0.key.seed < $1.key.seed }
                for (i, r) in mine.enumerated() {
                    let marker = r.bestIteration.flatMap { it in r.best.map { PlotPoint(x: Double(it), y: $0.psnr) } }
                    series.append(LineSeries(name: "\(name), s\(r.key.seed)", points: curve(r),
                                             colour: Self.shade(hue, i, of: mine.count), marker: marker))
                }
            }
            let plot = LinePlot(title: "\(image): PSNR over iterations, four framework defaults", xLabel: "iteration", yLabel: "PSNR (dB)",
                                series: series, width: 620, height: 320 + Double((series.count + 2) / 3) * 4)
            return figure(try plot.dataURI(scale: plotScale, fontPath: fontPath), alt: "PSNR curves of \(image) under the four combinations",
                          caption: "\(image): every seed of each combination; a dot marks the best iterate.", width: plot.width)
        }
    }
}

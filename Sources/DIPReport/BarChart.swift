import Foundation

/// One bar: a category and a signed value, with an optional error bar (the seeds' spread).
struct Bar: Sendable, Hashable {
    /// The category label under the bar (an image name).
    var label: String
    /// The value; nil leaves a gap labelled "n/a" (no runs for this category).
    var value: Double?
    /// The lower and upper ends of the whisker, when there is a spread to show.
    var whisker: ClosedRange<Double>?

    /// Creates a bar.
    init(label: String, value: Double?, whisker: ClosedRange<Double>? = nil) {
        self.label = label
        self.value = value
        self.whisker = whisker
    }
}

/// A bar chart of signed differences (ours minus the paper's, per image): bars above zero are
/// green, below are red, each labelled with its value.
struct BarChart: Sendable {
    /// The title.
    var title: String
    /// The y axis title.
    var yLabel: String
    /// The bars, left to right.
    var bars: [Bar]
    /// Width in drawing units.
    var width: Double
    /// Height in drawing units.
    var height: Double

    /// Creates a chart.
    init(title: String, yLabel: String, bars: [Bar], width: Double = 560, height: Double = 300) {
        self.title = title
        self.yLabel = yLabel
        self.bars = bars
        self.width = width
        self.height = height
    }

    /// Draws the chart; `fontPath` nil uses fonts/DejaVuSans.ttf.
    func draw(scale: Double = 2, fontPath: String? = nil) throws -> Canvas {
        let c = try Canvas(width: width, height: height, scale: scale, fontPath: fontPath)
        let top = 28.0, left = 52.0, right = 12.0, bottom = 62.0
        let pw = width - left - right, ph = height - top - bottom
        var ends = [0.0]
        for b in bars {
            if let v = b.value, v.isFinite { ends.append(v) }
            if let w = b.whisker, w.lowerBound.isFinite, w.upperBound.isFinite { ends += [w.lowerBound, w.upperBound] }
        }
        // Room for the value labels beyond the bar ends.
        let pad = max(0.1, (ends.max()! - ends.min()!) * 0.14)
        let lo = ends.min()! < 0 ? ends.min()! - pad : 0, hi = ends.max()! > 0 ? ends.max()! + pad : 0
        let t = Ticks.nice(lo, hi == lo ? lo + 1 : hi, count: 5)
        func py(_ y: Double) -> Double { top + ph - (y - t.range.lowerBound) / (t.range.upperBound - t.range.lowerBound) * ph }

        c.text(title, x: width / 2, y: 17, size: 12.5, align: .centre)
        for v in t.values {
            c.line(left, py(v), left + pw, py(v), colour: .grid, width: 0.6)
            c.text(Ticks.label(v, step: t.step), x: left - 5, y: py(v) + 3.5, size: 9.5, align: .right)
        }
        c.text(yLabel, x: 13, y: top + ph / 2, size: 10.5, align: .centre, angle: -Double.pi / 2)
        let slot = pw / Double(max(bars.count, 1))
        let barWidth = min(36, slot * 0.62)
        for (i, b) in bars.enumerated() {
            let cx = left + slot * (Double(i) + 0.5)
            if let v = b.value, v.isFinite {
                let y0 = py(0), y1 = py(v)
                c.rect(cx - barWidth / 2, min(y0, y1), barWidth, max(abs(y1 - y0), 0.5),
                       fill: v >= 0 ? .positive : .negative)
                // Beyond the whisker's end too, where it reaches past the bar: on it, the
                // whisker struck through the figures.
                let w = b.whisker.flatMap { $0.lowerBound.isFinite && $0.upperBound.isFinite ? $0 : nil }
                let tip = v >= 0 ? max(v, w?.upperBound ?? v) : min(v, w?.lowerBound ?? v)
                let labelY = v >= 0 ? py(tip) - 3 : py(tip) + 11
                c.text(String(format: "%+.2f", v), x: cx, y: labelY, size: 8.5, align: .centre)
            } else {
                c.text("n/a", x: cx, y: py(0) - 3, size: 8.5, colour: .reference, align: .centre)
            }
            if let w = b.whisker, w.lowerBound.isFinite, w.upperBound.isFinite {
                c.line(cx, py(w.lowerBound), cx, py(w.upperBound), colour: .ink, width: 1)
                c.line(cx - 4, py(w.lowerBound), cx + 4, py(w.lowerBound), colour: .ink, width: 1)
                c.line(cx - 4, py(w.upperBound), cx + 4, py(w.upperBound), colour: .ink, width: 1)
            }
            // Slanted labels: thirteen image names do not fit side by side on a phone-sized figure.
            c.text(b.label, x: cx + 3, y: top + ph + 10, size: 9.5, align: .right, angle: -Double.pi / 4)
        }
        c.line(left, py(0), left + pw, py(0), colour: .ink, width: 1)
        c.rect(left, top, pw, ph, fill: nil, stroke: .ink, lineWidth: 0.8)
        return c
    }

    /// The chart as a PNG data URI.
    func dataURI(scale: Double = 2, fontPath: String? = nil) throws -> String {
        try draw(scale: scale, fontPath: fontPath).dataURI()
    }
}

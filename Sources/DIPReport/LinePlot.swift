import Foundation

/// One point of a plotted series.
struct PlotPoint: Sendable, Hashable {
    /// Horizontal value (an iteration).
    var x: Double
    /// Vertical value (PSNR in dB); a non-finite value breaks the line.
    var y: Double

    /// Creates a point.
    init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// A named line of a plot.
struct LineSeries: Sendable {
    /// The legend entry.
    var name: String
    /// The samples, in x order.
    var points: [PlotPoint]
    /// Its colour; nil takes the palette colour of its position.
    var colour: Colour?
    /// A point to mark with a dot (the best iterate).
    var marker: PlotPoint?

    /// Creates a series.
    init(name: String, points: [PlotPoint], colour: Colour? = nil, marker: PlotPoint? = nil) {
        self.name = name
        self.points = points
        self.colour = colour
        self.marker = marker
    }
}

/// A horizontal dashed line with a label, e.g. the paper's PSNR.
struct ReferenceLine: Sendable {
    /// Where it lies on the y axis.
    var value: Double
    /// Its label, drawn at the right end.
    var label: String

    /// Creates a reference line.
    init(value: Double, label: String) {
        self.value = value
        self.label = label
    }
}

/// A line plot: several series over a shared x axis, with axes, ticks, a grid, a legend and a
/// title. Every sample is drawn (no smoothing), so seeds stay apart and sudden drops show.
struct LinePlot: Sendable {
    /// The title above the plot.
    var title: String
    /// The x axis title.
    var xLabel: String
    /// The y axis title.
    var yLabel: String
    /// The lines.
    var series: [LineSeries]
    /// Horizontal reference lines.
    var references: [ReferenceLine]
    /// Width in drawing units.
    var width: Double
    /// Height in drawing units.
    var height: Double

    /// Creates a plot.
    init(title: String, xLabel: String, yLabel: String, series: [LineSeries],
                references: [ReferenceLine] = [], width: Double = 560, height: Double = 300) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.references = references
        self.width = width
        self.height = height
    }

    /// The data range covered by the axes: every finite sample and reference, padded to ticks.
    func axisRanges() -> (x: ClosedRange<Double>, y: ClosedRange<Double>) {
        let pts = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let xs = pts.map(\.x), ys = pts.map(\.y) + references.map(\.value).filter(\.isFinite)
        let x0 = xs.min() ?? 0, x1 = xs.max() ?? 1
        let y0 = ys.min() ?? 0, y1 = ys.max() ?? 1
        let xr = Ticks.nice(x0, x1 == x0 ? x0 + 1 : x1, count: 6)
        let yr = Ticks.nice(y0, y1 == y0 ? y0 + 1 : y1, count: 6)
        return (xr.range, yr.range)
    }

    /// Draws the plot; `fontPath` nil uses fonts/DejaVuSans.ttf.
    func draw(scale: Double = 2, fontPath: String? = nil) throws -> Canvas {
        let c = try Canvas(width: width, height: height, scale: scale, fontPath: fontPath)
        let legendRows = series.count > 1 ? Int(ceil(Double(series.count) / Double(legendColumns(c)))) : 0
        let top = 28.0, left = 52.0, right = 14.0
        let bottom = 40.0 + Double(legendRows) * 15
        let pw = width - left - right, ph = height - top - bottom
        let (xr, yr) = axisRanges()
        let xt = Ticks.nice(xr.lowerBound, xr.upperBound, count: 6)
        let yt = Ticks.nice(yr.lowerBound, yr.upperBound, count: 6)
        func px(_ x: Double) -> Double { left + (x - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * pw }
        func py(_ y: Double) -> Double { top + ph - (y - yr.lowerBound) / (yr.upperBound - yr.lowerBound) * ph }

        c.text(title, x: width / 2, y: 17, size: 12.5, align: .centre)
        for v in yt.values {
            c.line(left, py(v), left + pw, py(v), colour: .grid, width: 0.6)
            c.text(Ticks.label(v, step: yt.step), x: left - 5, y: py(v) + 3.5, size: 9.5, align: .right)
        }
        for v in xt.values {
            c.line(px(v), top, px(v), top + ph, colour: .grid, width: 0.6)
            c.text(Ticks.label(v, step: xt.step), x: px(v), y: top + ph + 13, size: 9.5, align: .centre)
        }
        c.rect(left, top, pw, ph, fill: nil, stroke: .ink, lineWidth: 0.8)
        c.text(xLabel, x: left + pw / 2, y: top + ph + 28, size: 10.5, align: .centre)
        c.text(yLabel, x: 13, y: top + ph / 2, size: 10.5, align: .centre, angle: -Double.pi / 2)

        c.beginClip(left, top, pw, ph)
        for ref in references where ref.value.isFinite {
            c.line(left, py(ref.value), left + pw, py(ref.value), colour: .reference, width: 1, dash: [5, 3])
        }
        let lineWidth = series.count > 4 ? 1.0 : 1.4
        for (i, s) in series.enumerated() {
            let colour = s.colour ?? Colour.series(i)
            let pts: [(Double, Double)?] = s.points.map { p in
                p.x.isFinite && p.y.isFinite ? (px(p.x), py(p.y)) : nil
            }
            c.polyline(pts, colour: colour, width: lineWidth, alpha: 0.9)
            if let m = s.marker, m.x.isFinite, m.y.isFinite {
                c.dot(px(m.x), py(m.y), radius: 2.6, colour: colour)
            }
        }
        c.endClip()
        for ref in references where ref.value.isFinite {
            // Below the line when it runs along the top of the axes, above it otherwise.
            let y = py(ref.value) - top < 12 ? py(ref.value) + 11 : py(ref.value) - 3
            c.text(ref.label, x: left + pw - 4, y: y, size: 9, colour: .reference, align: .right)
        }

        if legendRows > 0 {
            let columns = legendColumns(c)
            let colWidth = pw / Double(columns)
            for (i, s) in series.enumerated() {
                let x = left + Double(i % columns) * colWidth
                let y = top + ph + 44 + Double(i / columns) * 15
                c.line(x, y - 3.5, x + 16, y - 3.5, colour: s.colour ?? Colour.series(i), width: 2.2)
                c.text(s.name, x: x + 20, y: y, size: 9.5)
            }
        }
        return c
    }

    /// Legend columns that fit the longest name.
    private func legendColumns(_ c: Canvas) -> Int {
        let longest = series.map { c.textWidth($0.name, size: 9.5) }.max() ?? 0
        return max(1, min(series.count, Int((width - 66) / (longest + 34))))
    }

    /// The plot as a PNG data URI.
    func dataURI(scale: Double = 2, fontPath: String? = nil) throws -> String {
        try draw(scale: scale, fontPath: fontPath).dataURI()
    }
}

/// Round tick positions for an axis.
enum Ticks {
    /// Ticks covering lo...hi with about `count` intervals of 1, 2, 2.5 or 5 x 10^k.
    static func nice(_ lo: Double, _ hi: Double, count: Int) -> (range: ClosedRange<Double>, step: Double, values: [Double]) {
        let span = max(hi - lo, 1e-9)
        let raw = span / Double(max(count, 1))
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let start = floor(lo / step) * step, end = ceil(hi / step) * step
        var values: [Double] = []
        var v = start
        while v <= end + step * 1e-6 {
            values.append(abs(v) < step * 1e-9 ? 0 : v)
            v += step
        }
        return (start...max(end, start + step), step, values)
    }

    /// A tick label with as many decimals as the step needs; thousands as "2k" for big steps.
    static func label(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        if step >= 1000, v.truncatingRemainder(dividingBy: 1000) == 0 { return "\(Int(v / 1000))k" }
        let decimals = (0...4).first { d in
            let scaled = step * pow(10, Double(d))
            return abs(scaled - scaled.rounded()) < 1e-6 * max(1, scaled)
        } ?? 4
        return String(format: "%.\(decimals)f", v)
    }
}

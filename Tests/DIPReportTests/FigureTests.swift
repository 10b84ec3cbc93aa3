import DIPCore
import DIPEngine
import Foundation
import Testing
@testable import DIPReport

/// Decodes a figure's PNG data URI back into pixels.
func decodeDataURI(_ uri: String) throws -> Image {
    let prefix = "data:image/png;base64,"
    #expect(uri.hasPrefix(prefix))
    let data = try #require(Data(base64Encoded: String(uri.dropFirst(prefix.count))))
    return try PNGCodec.decode(Array(data), name: "figure").image
}

/// Fraction of pixels that are not white: a drawn figure has axes, text and lines.
func inkedFraction(_ image: Image) -> Double {
    let plane = image.planeSize
    var inked = 0
    for p in 0..<plane where (0..<image.channels).contains(where: { image.pixels[$0 * plane + p] < 0.9 }) { inked += 1 }
    return Double(inked) / Double(plane)
}

/// Where figures go for a person to look at (`swift test` leaves them in the temp folder;
/// `make test` removes its temp folder afterwards).
let figureFolder = FileManager.default.temporaryDirectory.appendingPathComponent("dip-report-figures").path

@Suite("Figures")
struct FigureTests {
    @Test("a line plot is drawn at the requested size, with ink, and keeps every series")
    func linePlot() throws {
        let series = (0..<3).map { s in
            LineSeries(name: "seed \(s)", points: (0...50).map { i in
                // A drop at iteration 30 on seed 1 only.
                PlotPoint(x: Double(i * 100), y: 20 + 10 * (1 - exp(-Double(i) / 10)) - (s == 1 && i == 30 ? 6 : 0) + Double(s) * 0.3)
            }, marker: PlotPoint(x: 4000, y: 29.5))
        }
        let plot = LinePlot(title: "barbara: PSNR over iterations", xLabel: "iteration", yLabel: "PSNR (dB)",
                            series: series, references: [ReferenceLine(value: 32.22, label: "paper 32.22")])
        let canvas = try plot.draw(scale: 2)
        let image = try decodeDataURI(try canvas.dataURI())
        #expect(image.width == 1120 && image.height == 600)
        #expect(inkedFraction(image) > 0.02)
        // The reference and the data both lie inside the axes.
        let r = plot.axisRanges()
        #expect(r.y.contains(32.22) && r.y.contains(20) && r.x.contains(5000))
        try AtomicFile.write(try canvas.pngBytes(), to: figureFolder + "/line.png")
    }

    @Test("tick steps are round and labels carry the decimals the step needs")
    func ticks() {
        let t = Ticks.nice(17.3, 33.9, count: 6)
        #expect(t.step == 2.5 || t.step == 5 || t.step == 2)
        #expect(t.range.lowerBound <= 17.3 && t.range.upperBound >= 33.9)
        #expect(Ticks.label(2.5, step: 2.5) == "2.5")
        #expect(Ticks.label(4000, step: 2000) == "4k")
        #expect(Ticks.label(30, step: 5) == "30")
    }

    @Test("a bar chart colours gains green and losses red")
    func barChart() throws {
        let chart = BarChart(title: "ours - paper", yLabel: "dB",
                             bars: [Bar(label: "barbara", value: 1.5, whisker: 1.2...1.9),
                                    Bar(label: "boat", value: -2), Bar(label: "lenacolor", value: nil)])
        let canvas = try chart.draw(scale: 1)
        let image = try decodeDataURI(try canvas.dataURI())
        #expect(image.width == 560 && image.height == 300)
        var green = 0, red = 0
        let plane = image.planeSize
        for p in 0..<plane {
            let r = image.pixels[p], g = image.pixels[plane + p], b = image.pixels[2 * plane + p]
            if abs(r - Float(Colour.positive.r)) < 0.02, abs(g - Float(Colour.positive.g)) < 0.02, abs(b - Float(Colour.positive.b)) < 0.02 { green += 1 }
            if abs(r - Float(Colour.negative.r)) < 0.02, abs(g - Float(Colour.negative.g)) < 0.02, abs(b - Float(Colour.negative.b)) < 0.02 { red += 1 }
        }
        #expect(green > 100 && red > 100)
        try AtomicFile.write(try canvas.pngBytes(), to: figureFolder + "/bars.png")
    }

    @Test("the architecture diagram reads levels, channels, sizes and skips off the network")
    func architecture() throws {
        let config = try SkipConfig.preset("table1", outputChannels: 1)
        let summary = try NetworkSummary(config: config, height: 512, width: 512)
        let levels = LevelSketch.levels(of: summary)
        #expect(levels.count == 5)
        #expect(levels.map(\.downSize.height) == [256, 128, 64, 32, 16])
        #expect(levels.map(\.skipChannels) == [4, 4, 4, 4, 4])
        #expect(levels.map(\.upSize.height) == [512, 256, 128, 64, 32])
        #expect(levels.reduce(0) { $0 + $1.parameters } + (summary.subtotals.last?.parameters ?? 0) == summary.parameters)
        let noSkip = try NetworkSummary(config: SkipConfig.preset("vase", outputChannels: 3), height: 512, width: 512)
        #expect(LevelSketch.levels(of: noSkip).allSatisfy { $0.skipChannels == 0 })

        let diagram = ArchitectureDiagram(summary: summary, title: "Table-1 network")
        let canvas = try diagram.draw(scale: 2)
        let image = try decodeDataURI(try canvas.dataURI())
        #expect(Double(image.height) == 2 * diagram.height)
        #expect(inkedFraction(image) > 0.05)
        try AtomicFile.write(try canvas.pngBytes(), to: figureFolder + "/architecture.png")
    }

    @Test("gallery pictures get a small thumbnail and keep the full size for the click")
    func thumbnails() throws {
        var image = Image(channels: 1, height: 300, width: 200)
        for i in image.pixels.indices { image.pixels[i] = Float(i % 200) / 200 }
        let embedded = try EmbeddedImage(image, caption: "ramp")
        let thumb = try decodeDataURI(embedded.thumbnail)
        #expect(thumb.height == EmbeddedImage.thumbnailSide && thumb.width == 85)
        let full = try decodeDataURI(try #require(embedded.full))
        #expect(full.width == 200 && full.height == 300)
        let small = try EmbeddedImage(Image(channels: 3, height: 64, width: 64, value: 0.5), caption: "small")
        #expect(small.full == nil)
        let map = try EmbeddedImage.errorMap(Image(channels: 1, height: 2, width: 2, value: 0.5),
                                             Image(channels: 1, height: 2, width: 2, pixels: [0.5, 0.5, 0.75, 0.25]))
        #expect(map.channels == 3 && map[0, 0, 0] == 0 && map[0, 1, 0] == 1 && map[2, 1, 0] == 1)
    }

    @Test("a missing label font is an error that names the file and the way out")
    func missingFont() {
        #expect {
            _ = try Canvas(width: 10, height: 10, fontPath: "/nonexistent/DejaVuSans.ttf")
        } throws: { error in
            "\(error)".contains("/nonexistent/DejaVuSans.ttf") && "\(error)".contains("DIP_FONTS")
        }
    }
}

@Suite("Figure labels the figures' font cannot draw")
struct FigureGlyphTests {
    @Test("a label with a character DejaVu Sans lacks gets one note naming the label and the character; others none")
    func missingGlyphs() {
        let notes = FigureGlyphs.notes(labels: ["Adam, lr 0.01", "β = 0.9", "Adam 🚀", "Adam 🚀", "SGD 🚀🚀 深"], fontPath: nil)
        #expect(notes.count == 2, "\(notes)")
        #expect(notes.first?.contains("'Adam 🚀' holds 🚀 (U+1F680)") == true && notes.first?.contains("DejaVuSans.ttf") == true,
                "\(notes)")
        #expect(notes.last?.contains("🚀 (U+1F680), 深 (U+6DF1)") == true, "\(notes)")
    }
}

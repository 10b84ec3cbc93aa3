import DIPEngine
import Foundation

/// What the diagram shows of one level, read off a `NetworkSummary`.
struct LevelSketch: Sendable, Hashable {
    /// The level, 0 at full resolution.
    var level: Int
    /// Size and channels entering the level.
    var inputSize: NetworkSummary.Size
    /// Channels entering the level.
    var inputChannels: Int
    /// Encoder channels.
    var downChannels: Int
    /// Size after the encoder's halving.
    var downSize: NetworkSummary.Size
    /// The encoder's operations in words ("conv 3x3/s2, conv 3x3").
    var downOps: String
    /// Skip-branch channels (0 = none).
    var skipChannels: Int
    /// The skip conv's kernel.
    var skipKernel: Int
    /// Decoder channels.
    var upChannels: Int
    /// Size the decoder works at.
    var upSize: NetworkSummary.Size
    /// The decoder's operations in words.
    var upOps: String
    /// The upsampling that ends the deeper branch.
    var upsampling: String
    /// Parameters of the level's own layers.
    var parameters: Int

    /// The levels of `summary`, in order.
    static func levels(of summary: NetworkSummary) -> [LevelSketch] {
        let config = summary.config
        let subtotals = summary.subtotals
        return (0..<config.depth).map { i in
            let layers = summary.layers.filter { $0.level == i }
            let downConvs = layers.filter { if case .convolution = $0.operation { return $0.part == .down }; return false }
            let upConvs = layers.filter { if case .convolution = $0.operation { return $0.part == .up }; return false }
            let down = layers.filter { $0.part == .down }
            let downEnd = down.last { if case .upsample = $0.operation { return false }; return true }
            var downOps = downConvs.map(\.operation.description)
            if down.contains(where: { $0.operation == .averagePool }) { downOps.insert("avgpool", at: 1) }
            return LevelSketch(
                level: i,
                inputSize: downConvs.first?.inputSize ?? summary.inputSize,
                inputChannels: downConvs.first?.inChannels ?? config.inputChannels,
                downChannels: config.down[i],
                downSize: downEnd?.outputSize ?? summary.inputSize,
                downOps: downOps.joined(separator: ", "),
                skipChannels: config.skip[i],
                skipKernel: config.kernelSkip,
                upChannels: config.up[i],
                upSize: upConvs.last?.outputSize ?? summary.inputSize,
                upOps: (["BN"] + upConvs.map(\.operation.description)).joined(separator: ", "),
                upsampling: config.upsampling.description,
                parameters: subtotals.first { $0.level == i }?.parameters ?? 0)
        }
    }
}

/// A drawing of a skip network made from its `NetworkSummary`: encoder levels down the left,
/// decoder levels up the right, skip branches across, with channels, sizes and parameters.
/// Drawn from the object the engine builds, so it cannot drift from the code.
struct ArchitectureDiagram: Sendable {
    /// The network at one input size.
    var summary: NetworkSummary
    /// The title.
    var title: String
    /// Width in drawing units.
    var width: Double = 720

    /// Creates a diagram.
    init(summary: NetworkSummary, title: String) {
        self.summary = summary
        self.title = title
    }

    /// Height in drawing units: a row per level plus the input, output and totals.
    var height: Double { 118 + Double(summary.config.depth) * rowHeight + 40 }

    private var rowHeight: Double { 62 }

    /// Draws it; `fontPath` nil uses fonts/DejaVuSans.ttf.
    func draw(scale: Double = 2, fontPath: String? = nil) throws -> Canvas {
        let c = try Canvas(width: width, height: height, scale: scale, fontPath: fontPath)
        let levels = LevelSketch.levels(of: summary)
        let config = summary.config
        let encX = 24.0, boxW = 208.0, boxH = 42.0
        let skipX = 276.0, skipW = 136.0
        let decX = 452.0
        let firstRow = 92.0
        let encFill = Colour(hex: 0xDCE8F5), decFill = Colour(hex: 0xFBE3CF), skipFill = Colour(hex: 0xDFF0D8)
        let ioFill = Colour(hex: 0xF0F0F0)
        func rowY(_ i: Int) -> Double { firstRow + Double(i) * rowHeight }

        c.text(title, x: width / 2, y: 18, size: 13, align: .centre)
        // Input code z and output image.
        c.rect(encX, 32, boxW, 30, fill: ioFill, stroke: .ink, lineWidth: 0.8, radius: 4)
        c.text("input z: \(config.inputChannels) ch, \(summary.inputSize)", x: encX + boxW / 2, y: 51, size: 10.5, align: .centre)
        c.rect(decX, 32, boxW, 30, fill: ioFill, stroke: .ink, lineWidth: 0.8, radius: 4)
        c.text("output x: \(config.outputChannels) ch, \(summary.outputSize)", x: decX + boxW / 2, y: 45, size: 10.5, align: .centre)
        c.text("conv 1x1 + sigmoid", x: decX + boxW / 2, y: 57, size: 9, colour: .reference, align: .centre)
        c.arrow(decX + boxW / 2, rowY(0), decX + boxW / 2, 62, colour: .ink)

        for sketch in levels {
            let i = sketch.level, y = rowY(i)
            // The level's input arrives from above; the skip branch taps it there.
            let tapY = y - (i == 0 ? 15 : 10)
            c.arrow(encX + boxW / 2, i == 0 ? 62 : rowY(i - 1) + boxH, encX + boxW / 2, y, colour: .ink)
            c.rect(encX, y, boxW, boxH, fill: encFill, stroke: .ink, lineWidth: 0.8, radius: 4)
            c.text("L\(i) encoder: \(sketch.downChannels) ch, \(sketch.downSize)", x: encX + 8, y: y + 17, size: 10.5)
            c.text(sketch.downOps + " (BN, LReLU)", x: encX + 8, y: y + 32, size: 9, colour: .reference)

            c.rect(decX, y, boxW, boxH, fill: decFill, stroke: .ink, lineWidth: 0.8, radius: 4)
            c.text("L\(i) decoder: \(sketch.upChannels) ch, \(sketch.upSize)", x: decX + 8, y: y + 17, size: 10.5)
            c.text(sketch.upOps, x: decX + 8, y: y + 32, size: 9, colour: .reference)
            c.text(NetworkSummary.thousands(sketch.parameters), x: width - 6, y: y + 17, size: 9, colour: .reference, align: .right)

            if sketch.skipChannels > 0 {
                let sy = y + 2
                c.dot(encX + boxW / 2, tapY, radius: 2.5, colour: Colour.positive)
                c.line(encX + boxW / 2, tapY, skipX + skipW / 2, tapY, colour: Colour.positive, width: 1.2)
                c.arrow(skipX + skipW / 2, tapY, skipX + skipW / 2, sy, colour: Colour.positive, head: 5)
                c.rect(skipX, sy, skipW, boxH - 4, fill: skipFill, stroke: Colour.positive, lineWidth: 0.8, radius: 4)
                c.text("skip: \(sketch.skipChannels) ch", x: skipX + skipW / 2, y: sy + 15, size: 10.5, align: .centre)
                c.text("conv \(sketch.skipKernel)x\(sketch.skipKernel), BN, LReLU", x: skipX + skipW / 2, y: sy + 29, size: 9, colour: .reference, align: .centre)
                c.arrow(skipX + skipW, sy + (boxH - 4) / 2, decX, sy + (boxH - 4) / 2, colour: Colour.positive)
                c.text("concat", x: (skipX + skipW + decX) / 2, y: sy + (boxH - 4) / 2 - 4, size: 8.5, colour: Colour.positive, align: .centre)
            } else {
                c.text("no skip", x: skipX + skipW / 2, y: y + 25, size: 9.5, colour: .reference, align: .centre)
            }
            // The deeper branch comes back up into this decoder through the upsample.
            let upLabel = "up x2 (\(sketch.upsampling))"
            if i < levels.count - 1 {
                c.arrow(decX + boxW / 2, rowY(i + 1), decX + boxW / 2, y + boxH, colour: .ink)
                c.text(upLabel, x: decX + boxW / 2 + 5, y: y + boxH + 13, size: 8.5, colour: .reference)
            } else {
                let by = y + boxH + 16
                c.line(encX + boxW / 2, y + boxH, encX + boxW / 2, by, colour: .ink, width: 1.2)
                c.line(encX + boxW / 2, by, decX + boxW / 2, by, colour: .ink, width: 1.2)
                c.arrow(decX + boxW / 2, by, decX + boxW / 2, y + boxH, colour: .ink)
                c.text(upLabel, x: (encX + decX + boxW) / 2, y: by - 4, size: 8.5, colour: .reference, align: .centre)
            }
        }
        c.text("params", x: width - 6, y: firstRow - 8, size: 9, colour: .reference, align: .right)
        let head = summary.subtotals.last?.parameters ?? 0
        let footY = rowY(levels.count) + 22
        c.text("\(config.depth) levels, \(NetworkSummary.thousands(summary.parameters)) parameters "
               + "(output head \(NetworkSummary.thousands(head))), \(NetworkSummary.gigaMACs(summary.macs))MACs per forward pass at \(summary.inputSize)",
               x: width / 2, y: footY, size: 10.5, align: .centre)
        return c
    }

    /// The diagram as a PNG data URI.
    func dataURI(scale: Double = 2, fontPath: String? = nil) throws -> String {
        try draw(scale: scale, fontPath: fontPath).dataURI()
    }
}

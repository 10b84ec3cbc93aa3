import ArgumentParser
import DIPCore

/// The text-mask flags that `mask` and `inpaint` share: strings drawn as holes, each with a
/// size and a position, in one font.
struct TextMaskOptions: ParsableArguments {
    @Option(name: .customLong("text"), help: ArgumentHelp("A string to draw as holes, one line; repeat for several (each line its own), paired in order with --font-size and --at.", valueName: "STRING"))
    var texts: [String] = []

    @Option(name: .customLong("font-size"), parsing: .unconditionalSingleValue, help: ArgumentHelp("Em size in pixels of each --text (once for all, or once per --text), 1 to 2000.", valueName: "PX"))
    var fontSizes: [Double] = []

    @Option(name: .customLong("at"), parsing: .unconditionalSingleValue, help: ArgumentHelp("Top-left of each --text, as PIL's draw.text((X, Y)) places it (y is the ascender line).", valueName: "X,Y"))
    var positions: [TextPoint] = []

    @Option(help: ArgumentHelp("TrueType/OpenType font for --text (default: FreeSansBold.ttf from the fonts folder).", valueName: "PATH"))
    var font: String?

    /// True when `--text` was given.
    var isChosen: Bool { !texts.isEmpty }

    func validate() throws {
        if texts.isEmpty {
            if !fontSizes.isEmpty || !positions.isEmpty { throw ValidationError("--font-size and --at need --text") }
            if font != nil { throw ValidationError("--font applies to --text only (the seed-report preset is always FreeSansBold, as the seed report drew it)") }
            return
        }
        if fontSizes.count != 1 && fontSizes.count != texts.count {
            throw ValidationError("give --font-size PX once for all strings or once per --text (got \(texts.count) --text, \(fontSizes.count) --font-size)")
        }
        if positions.count != texts.count {
            throw ValidationError("give one --at X,Y per --text (got \(texts.count) --text, \(positions.count) --at)")
        }
        // The stamp's own rules (TextStamp), named by flag here: usage errors, exit 64.
        for t in texts {
            if let problem = TextStamp.textProblem(t) { throw ValidationError("--text \(String(reflecting: t)): \(problem)") }
        }
        for size in fontSizes {
            if let problem = TextStamp.fontSizeProblem(size) { throw ValidationError("--font-size \(size): \(problem)") }
        }
        for p in positions {
            if let problem = TextStamp.positionProblem(x: p.x, y: p.y) { throw ValidationError("--at \(p.x),\(p.y): \(problem)") }
        }
    }

    /// The mask these options describe (call only when `isChosen`).
    var spec: MaskSpec {
        .text(texts.indices.map { i in
            TextStamp(text: texts[i], fontSize: fontSizes.count == 1 ? fontSizes[0] : fontSizes[i],
                      x: positions[i].x, y: positions[i].y)
        }, fontPath: font)
    }
}

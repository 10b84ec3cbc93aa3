import ArgumentParser
import DIPCore
import DIPEngine
import Foundation

/// `dip-report net`: prints a network preset's layer table with parameters and MACs.
struct NetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net",
        abstract: "Show a network preset layer by layer: sizes, parameters and multiply-accumulates.",
        discussion: """
            Walks upstream's skip() network (reflection padding, stride-2 or avg-pool encoder, \
            centre crop at each concat) over an input of the given size and prints every layer in \
            forward order with per-level subtotals and totals. MACs count one forward pass \
            (a training iteration costs about 3x). Presets: \(SkipConfig.presetNames.joined(separator: ", ")).

            Examples:
              dip-report net text
              dip-report net table1 --size 514x514 --channels 1
              dip-report net library-depth6 --size 704x448 --all-layers
            """)

    @Argument(help: ArgumentHelp("The network preset.", valueName: "PRESET"))
    var preset: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Input size as WIDTHxHEIGHT, like every size in dip-report (default 512x512; each side 1 to \(Image.maxSide)).", valueName: "WxH"), transform: ImageSize.parse)
    var size: ImageSize?

    @Option(parsing: .unconditional, help: ArgumentHelp("Output channels: 1 (gray) or 3 (RGB).", valueName: "1|3"))
    var channels: Int = 3

    @Flag(help: "One row per layer (BN, LeakyReLU, pooling and sigmoid get rows of their own).")
    var allLayers = false

    func run() throws {
        do {
            guard channels == 1 || channels == 3 else {
                throw EngineError.invalidConfig("--channels \(channels): use 1 (gray) or 3 (RGB)")
            }
            let h = size?.height ?? 512, w = size?.width ?? 512
            let config = try SkipConfig.preset(preset, outputChannels: channels)
            let summary = try NetworkSummary(config: config, height: h, width: w)
            print("\(preset), \(channels == 1 ? "gray" : "RGB") output, input \(summary.inputSize) "
                + "(\(config.inputChannels) input channels)")
            print(summary.formattedTable(allLayers: allLayers), terminator: "")
        } catch let error as EngineError {
            // An unknown preset or a size the network cannot take: a bad value, so a usage error.
            printError("\(error)")
            throw ExitCode.validationFailure
        }
    }
}

import ArgumentParser
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
              dip-report net library-depth6 --size 448x704 --all-layers
            """)

    @Argument(help: ArgumentHelp("The network preset.", valueName: "PRESET"))
    var preset: String

    @Option(help: ArgumentHelp("Input size as HEIGHTxWIDTH (rows first).", valueName: "HxW"))
    var size: String = "512x512"

    @Option(help: ArgumentHelp("Output channels: 1 (gray) or 3 (RGB).", valueName: "1|3"))
    var channels: Int = 3

    @Flag(help: "One row per layer (BN, LeakyReLU, pooling and sigmoid get rows of their own).")
    var allLayers = false

    func run() throws {
        do {
            guard channels == 1 || channels == 3 else {
                throw EngineError.invalidConfig("--channels \(channels): use 1 (gray) or 3 (RGB)")
            }
            let parts = size.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            guard parts.count == 2, let h = Int(parts[0]), let w = Int(parts[1]), h >= 1, w >= 1, h <= 65_536, w <= 65_536 else {
                throw EngineError.shape("--size '\(size)': write HEIGHTxWIDTH with sides from 1 to 65536, e.g. 512x512")
            }
            let config = try SkipConfig.preset(preset, outputChannels: channels)
            let summary = try NetworkSummary(config: config, height: h, width: w)
            print("\(preset), \(channels == 1 ? "gray" : "RGB") output, input \(summary.inputSize) "
                + "(\(config.inputChannels) input channels)")
            print(summary.formattedTable(allLayers: allLayers), terminator: "")
        } catch let error as EngineError {
            FileHandle.standardError.write(Data("dip-report net: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

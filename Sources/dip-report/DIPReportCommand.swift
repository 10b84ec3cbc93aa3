import ArgumentParser
import DIPEngine
import DIPExperiments

/// The `dip-report` command: parses arguments and hands the work to the library targets.
@main
struct DIPReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dip-report",
        abstract: "Reproduce the inpainting results of Deep Image Prior and write a reproducibility report.",
        version: ToolVersion.withCommit,
        subcommands: [BuildCommand.self, RunCommand.self, SubmitCommand.self, StatusCommand.self, RenderCommand.self, DiffCommand.self,
                      InpaintCommand.self, NetCommand.self, BenchCommand.self, MaskCommand.self,
                      PSNRCommand.self, DataCommand.self, GPUSelfTestCommand.self])

    /// Restarts with dip-report's OpenMP settings first (see `OpenMPLaunch`), routes the signals
    /// to a thread of their own while this is the only thread (`SignalRouter`), then parses and
    /// runs.
    static func main() {
        OpenMPLaunch.relaunchIfNeeded()
        SignalRouter.start()
        main(nil)
    }
}

import ArgumentParser
import DIPReport
import Foundation

/// `dip-report build`: runs whatever of the catalog is missing (the `run` command), then renders.
struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Run what is missing of the experiment catalog, then render report/index.html.",
        discussion: """
            The whole replication in one command: `dip-report run` with the same profile, seeds \
            and jobs (it first prints what it will run and how long that will take here, and \
            skips every run already stored), then `dip-report render`. The default profile is \
            `paper`, the full replication (hours per image on a CPU); `quick` gives a complete \
            report in about 35 minutes on 2 cores, `smoke` checks the plumbing in a minute. \
            Interrupted builds resume where they stopped.

            Examples:
              dip-report build --profile quick
              dip-report build --seeds 0,1,2 --jobs 2
            """)

    @Option(help: "Profile: paper (the default: the full replication), quick or smoke.")
    var profile = "paper"

    @Option(help: ArgumentHelp("Comma-separated seeds (default: the profile's; paper: 0,1,2).", valueName: "0,1,2"))
    var seeds: String?

    @Option(help: "Runs at once (default: one per core, one per 6 GiB of memory at most).")
    var jobs: Int?

    @Option(help: "Threads per run (default: cores / jobs).")
    var threads: Int?

    @Option(help: ArgumentHelp("The results folder.", valueName: "DIR"))
    var results = "results"

    @Option(help: ArgumentHelp("The folder to write index.html into.", valueName: "DIR"))
    var out = "report"

    @OptionGroup var dataOptions: DataCommand.DataOptions

    @Option(help: ArgumentHelp("Also run the experiments of this catalog file (see `dip-report run --print-catalog`); the page shows them with the rest.", valueName: "FILE"))
    var catalog: String?

    func run() throws {
        var arguments = ["--profile", profile, "--results", results]
        if let seeds { arguments += ["--seeds", seeds] }
        if let jobs { arguments += ["--jobs", String(jobs)] }
        if let threads { arguments += ["--threads", String(threads)] }
        if let data = dataOptions.data { arguments += ["--data", data] }
        // `run` without names runs the whole catalog, the file's experiments included.
        if let catalog { arguments += ["--catalog", catalog] }
        // Through the command list, so `build` runs exactly what `dip-report run` would.
        guard DIPReportCommand.configuration.subcommands.contains(where: { $0.configuration.commandName == "run" }) else {
            throw ValidationError("this dip-report has no `run` command (the replication runner); render stored results with `dip-report render`")
        }
        var run = try DIPReportCommand.parseAsRoot(["run"] + arguments)
        // A run that failed or diverged still leaves the others stored: render them, then report
        // the failure. Ctrl-C (130) stops at once.
        var failure: ExitCode? = nil
        do { try run.run() } catch let code as ExitCode where code.rawValue != 130 { failure = code }
        let summary = try ReportRenderer.render(resultsFolder: results, outFolder: out,
                                                commandLine: CommandLine.arguments.joined(separator: " "))
        RenderCommand.print(summary)
        if let failure { throw failure }
    }
}

import ArgumentParser
import DIPExperiments
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
            report in \(Profile.quickDuration), `smoke` checks the plumbing in under 2 minutes. \
            Interrupted builds resume where they stopped.

            Examples:
              dip-report build --profile quick
              dip-report build --seeds 0,1,2 --jobs 2
            """)

    @OptionGroup var selection: SelectionOptions

    @OptionGroup var execution: ExecutionOptions

    @Option(help: ArgumentHelp("The folder to write index.html into.", valueName: "DIR"))
    var out = "report"

    func validate() throws {
        try OutputFiles.checkFolder(selection.results, flag: "--results")
        try OutputFiles.checkReportFolder(out, results: selection.results)
    }

    func run() throws {
        // A run that failed or diverged still leaves the others stored: render them, then report
        // the failure. A signal (130, 143) stops at once.
        var failure: ExitCode? = nil
        var elsewhere = 0
        do {
            elsewhere = try LocalRun.perform(selection: selection, experimentIDs: [], execution: execution)
        } catch let code as ExitCode where code.rawValue == 1 { failure = code }
        let summary = try ReportRenderer.render(resultsFolder: selection.results, outFolder: out,
                                                commandLine: CommandLine.arguments.joined(separator: " "), profile: selection.profile,
                                                catalog: try Catalog.all(userFile: selection.catalog), onWait: { RenderCommand.waiting(out) })
        RenderCommand.print(summary)
        if elsewhere > 0 {
            // Another runner on this results folder (a second build, Slurm tasks) still holds
            // them: this page lacks them. Renders take turns (ReportRenderer), so another
            // build's render, once its runs are stored, replaces this page with a whole one.
            printNote("\(elsewhere) run\(elsewhere == 1 ? " was" : "s were") in flight on other runners, so this page lacks \(elsewhere == 1 ? "it" : "them"); "
                      + "once they are stored (`dip-report status --results \(selection.results)`), `dip-report render` makes the whole page")
        }
        if let failure { throw failure }
    }
}

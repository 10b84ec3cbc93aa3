import DIPCore
import ArgumentParser
import DIPExperiments
import DIPReport
import Foundation

/// `dip-report render`: writes the report from stored results, never fitting anything.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render report/index.html from stored results only (never fits anything).",
        discussion: """
            Reads every run record under --results (written by `dip-report run` or `build`), \
            draws the tables, plots, architecture diagrams and galleries, and writes one \
            self-contained page, OUT/index.html, that works offline: open it in any browser. \
            Sections 8 and 9 come from OUT/discussion.md and OUT/conclusion.md, created with \
            placeholder text the first time and never overwritten: edit them and render again. \
            Damaged or foreign JSON files in the results folder are listed and skipped. The page \
            counts one profile's runs (--profile; by default the most thorough stored) and, per \
            experiment, label and image, the newest configuration's; it names what it left off.

            Examples:
              dip-report render
              dip-report render --results results-h100 --out report-h100
            """)

    @Option(help: ArgumentHelp("The results folder to read.", valueName: "DIR"))
    var results = "results"

    @Option(help: ArgumentHelp("The folder to write index.html into (and keep discussion.md, conclusion.md in).", valueName: "DIR"))
    var out = "report"

    @Option(help: ArgumentHelp("The profile whose runs the page shows (default: the most thorough stored: paper, else quick, else smoke).", valueName: "NAME"))
    var profile: String?

    @Option(help: ArgumentHelp("The catalog file of your own experiments (as given to run or build): the page shows their titles, descriptions and order of configurations.", valueName: "FILE"))
    var catalog: String?

    func validate() throws {
        if let profile { try SelectionOptions.checkProfile(profile) }
        if let problem = OutputFiles.resultsToReadProblem(results) { throw ValidationError("--results '\(results)': \(problem)") }
        try OutputFiles.checkReportFolder(out, results: results)
    }

    func run() throws {
        let summary = try ReportRenderer.render(resultsFolder: results, outFolder: out,
                                                commandLine: CommandLine.arguments.joined(separator: " "), profile: profile,
                                                catalog: try Catalog.all(userFile: catalog), onWait: { RenderCommand.waiting(out) })
        RenderCommand.print(summary)
    }

    /// What both `render` and `build` say while another render of `out` holds it.
    static func waiting(_ out: String) {
        StandardStreams.error("waiting for another render of \(out) to finish (it holds \(out)/\(ReportRenderer.lockName); "
                              + "at most \(Int(ReportRenderer.lockWaitSeconds)) s)\n")
    }

    /// The lines both `render` and `build` print after rendering.
    static func print(_ summary: RenderSummary) {
        for problem in summary.problems { StandardStreams.error("skipped \(problem)\n") }
        for note in summary.notes { printNote(note) }
        for file in summary.createdFiles { Swift.print("created \(file) with placeholder text: edit it and render again") }
        Swift.print(String(format: "wrote %@ (%.1f MB, %d run%@) in %.1f s", summary.pagePath,
                           Double(summary.bytes) / 1_000_000, summary.records, summary.records == 1 ? "" : "s", summary.seconds))
        // Quoted for the shell: a path with a space, pasted as it was, opened two files.
        let shown = BatchScript.quote(summary.pagePath)
        Swift.print("open it in a browser, e.g. xdg-open \(shown) (macOS: open \(shown))")
    }
}

import DIPCore
import ArgumentParser
import DIPExperiments
import DIPReport
import Foundation

/// `dip-report diff [A] [B]`: seed spread within one result set, or run-by-run differences
/// between two.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare results: across seeds in one result set, or run by run between two.",
        discussion: """
            Each folder counts the runs its report page counts: one profile's (--profile; by \
            default the most thorough stored) and, per experiment, label and image, the newest \
            configuration's; what is left off is named on standard error.

            With one results folder: per experiment, configuration and image, the mean, range \
            (min-max) and standard deviation of the final and best PSNR over seeds, and whether \
            the published value lies inside the seeds' range (the paper's Table 1 for \
            table1-paper, the seed report's for table1-seed, none for TV). The report's \
            Appendix A is this table.

            With two folders A and B (two commits, two machines, two profiles): every run present \
            in both, matched by experiment, configuration label, image and seed, with B - A for \
            the final and best PSNR, flagged when the difference exceeds the seeds' spread (the \
            larger of A's and B's final-PSNR range for that configuration; "unknown" with a single \
            seed). Runs found on one side only are counted on standard error.

            With --within EXPERIMENT (one folder): two configurations of the same experiment \
            inside one result set, run by run: each configuration against the reference \
            (--reference LABEL; default the experiment's baseline, e.g. table1-paper's runs for \
            era, else its first configuration), matched by image and seed, with the knobs that \
            differ. Standard error gets one line per configuration: the mean final-PSNR \
            difference, its spread over seeds and the number of images where it exceeds the \
            seeds' spread (the report's era section).

            Examples:
              dip-report diff
              dip-report diff results --within era
              dip-report diff results --within width --reference "width 128" --csv
              dip-report diff results-commit1 results-commit2 --csv > diff.csv
              dip-report diff results results-h100 --json
            """)

    @Argument(help: ArgumentHelp("The results folder (A), or the first of two.", valueName: "A"))
    var first = "results"

    @Argument(help: ArgumentHelp("A second results folder to compare A with.", valueName: "B"))
    var second: String?

    @Flag(help: "Print CSV instead of an aligned table.")
    var csv = false

    @Flag(help: "Print JSON instead of an aligned table.")
    var json = false

    @Option(help: ArgumentHelp("Compare the configurations of this experiment with each other inside folder A.", valueName: "EXPERIMENT"))
    var within: String?

    @Option(help: ArgumentHelp("With --within: the configuration label the others are compared with.", valueName: "LABEL"))
    var reference: String?

    @Option(help: ArgumentHelp("The catalog file of your own experiments (as given to run): rows take their experiments' and configurations' order from it, and --within their baselines and first configuration.", valueName: "FILE"))
    var catalog: String?

    @Option(help: ArgumentHelp("The profile whose runs are compared, in each folder (default: each folder's most thorough stored: paper, else quick, else smoke).", valueName: "NAME"))
    var profile: String?

    func validate() throws {
        if csv && json { throw ValidationError("choose one of --csv and --json") }
        if within != nil && second != nil { throw ValidationError("--within compares configurations inside one results folder; give only A") }
        if reference != nil && within == nil { throw ValidationError("--reference needs --within EXPERIMENT") }
        if let profile { try SelectionOptions.checkProfile(profile) }
        // Checked here so that the message names diff's own arguments (the store's own message
        // suggests run's --results, which diff does not have).
        for (name, folder) in [("A", first), ("B", second)] {
            if let folder, let problem = OutputFiles.resultsToReadProblem(folder) { throw ValidationError("\(name) '\(folder)': \(problem)") }
        }
    }

    func run() throws {
        let a = try ResultDiff.outcomes(resultsFolder: first, profile: profile)
        for p in a.problems { StandardStreams.error("skipped \(p)\n") }
        for n in a.leftOff { printNote("\(first): \(n)") }
        if a.stored == 0 { printNote("\(first) holds no stored runs (is it the results folder a `run` or `build` wrote?)") }
        let experiments = try Catalog.all(userFile: catalog)
        let order = CatalogOrder(experiments)
        // Experiments the catalog does not hold (a catalog of one's own not given) have no order
        // of configurations to follow, nor a first one: said, since --within then takes the
        // labels' text order and its reference from it.
        let known = Set(experiments.map(\.id))
        let unknown = Set(a.runs.map(\.experiment)).subtracting(known).filter { within == nil || $0 == within }.sorted()
        if !unknown.isEmpty {
            printNote("\(unknown.joined(separator: ", ")) \(unknown.count == 1 ? "is" : "are") not in the catalog\(catalog == nil ? " (your own? give its file with --catalog, as to run)" : ""): "
                      + "configurations are taken in the text order of their labels" + (within != nil && reference == nil ? ", and the first of them is the reference" : ""))
        }
        if let within {
            let comparisons = try ResultDiff.within(a.runs, experiment: within, referenceLabel: reference, catalog: experiments)
            if json { print(try ResultDiff.json(comparisons), terminator: "") } else {
                let table = ResultDiff.table(comparisons)
                print(csv ? table.csv() : table.aligned(), terminator: "")
            }
            for c in comparisons { StandardStreams.error(ResultDiff.summaryLine(c) + "\n") }
        } else if let second {
            // Spelled apart (`r` and `./r/`) or alike, one folder against itself: read and said
            // once, and the count line names the sides A and B instead of the one folder twice.
            let oneFolder = OutputFiles.same(first, second)
            let b = oneFolder ? a : try ResultDiff.outcomes(resultsFolder: second, profile: profile)
            if oneFolder {
                printNote("A and B are the same folder ('\(first)'): every run is compared with itself")
            } else {
                for p in b.problems { StandardStreams.error("skipped \(p)\n") }
                for n in b.leftOff { printNote("\(second): \(n)") }
                if b.stored == 0 { printNote("\(second) holds no stored runs (is it the results folder a `run` or `build` wrote?)") }
            }
            let (nameA, nameB) = oneFolder ? ("A", "B") : (first, second)
            let d = ResultDiff.between(a.runs, b.runs, order: order)
            if json { print(try ResultDiff.json(d.differences), terminator: "") } else {
                let table = ResultDiff.table(d.differences)
                print(csv ? table.csv() : table.aligned(), terminator: "")
            }
            let beyond = d.differences.filter { $0.beyondSpread == true }.count
            let unfinished = d.differences.filter { !$0.bothDone }.count
            StandardStreams.error("\(d.differences.count) runs in both, \(beyond) beyond the seeds' spread"
                                  + (unfinished > 0 ? ", \(unfinished) that did not finish on one side (diverged or cancelled)" : "")
                                  + "; \(d.onlyA.count) only in \(nameA), \(d.onlyB.count) only in \(nameB)\n")
            if let why = ResultDiff.nothingInCommon(a.runs, b.runs) { printNote("\(first) and \(second) have no run in common: \(why)") }
            // Each side took its most thorough profile: said when they differ, as every row then
            // compares two protocols (all "beyond the spread" by design).
            if profile == nil, let pa = a.profile, let pb = b.profile, pa != pb {
                printNote("\(first) is compared by its \(pa) runs and \(second) by its \(pb) runs (each folder's most thorough profile); "
                          + "give --profile \(pa) or --profile \(pb) to compare one profile's runs in both")
            }
        } else {
            let groups = ResultDiff.acrossSeeds(a.runs, order: order)
            if json { print(try ResultDiff.json(groups), terminator: "") } else {
                let table = ResultDiff.table(groups)
                print(csv ? table.csv() : table.aligned(), terminator: "")
            }
        }
    }
}

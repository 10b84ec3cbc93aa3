import ArgumentParser
import DIPCore
import DIPEngine
import DIPExperiments
import Foundation

/// `dip-report run`: runs the experiments of the report that are not stored yet.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the report's experiments; what is stored already is skipped.",
        discussion: """
            Every run is keyed by (experiment, image, configuration hash, seed) and stored as \
            RESULTS/<experiment>/<image>/<hash>-s<seed>.json with its pictures beside it. Ctrl-C \
            or SIGTERM stops cleanly: finished runs stay, a fit keeps a checkpoint (also written \
            every few minutes), and the next `run` carries on from it to the same result bit for \
            bit. Runners sharing a results folder claim each run first, so none is fitted twice at \
            once. `run --plan FILE --task I` runs one task of a plan made by `dip-report submit`.

            Experiments: table1-paper, table1-seed, table1-tv, width, depth, library, optimizers, \
            era (it compares with table1-paper's runs, so `run era` plans those too; stored ones \
            are reused) (and those of --catalog FILE, a JSON array of experiments: `run optimizers \
            --print-catalog` prints one to start from).
            Profiles: paper (the protocols as written), quick (\(Profile.quickDuration)), \
            smoke (under 2 minutes; checks the plumbing).

            Examples:
              dip-report run --profile smoke
              dip-report run table1-paper --profile paper --seeds 0,1,2 --results results
              dip-report run width depth --profile quick --jobs 1 --threads 2
            """)

    @Argument(help: ArgumentHelp("Experiments to run (default: all).", valueName: "EXPERIMENT"))
    var experiments: [String] = []

    @OptionGroup var selection: SelectionOptions

    @OptionGroup var execution: ExecutionOptions

    @Flag(name: .customLong("print-catalog"), help: "Print the selected experiments as catalog JSON (a template for --catalog) and stop.")
    var printCatalog = false

    @Flag(help: "Run again what is stored (replaces the records); an interrupted refit carries on from its checkpoint at the next --force.")
    var force = false

    @Flag(name: .customLong("dry-run"), help: "Print the plan and the estimate, run nothing.")
    var dryRun = false

    @Flag(name: .customLong("no-estimate"), help: "Skip the short speed measurement before a long build.")
    var noEstimate = false

    @Option(help: ArgumentHelp("Run one task of a plan made by `dip-report submit` (what each Slurm array task does); the plan fixes the runs, profile, seeds, threads and folders.", valueName: "FILE"))
    var plan: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The task of --plan to run (default: $SLURM_ARRAY_TASK_ID).", valueName: "I"))
    var task: Int?

    func validate() throws {
        if plan == nil, task != nil { throw ValidationError("--task needs --plan FILE") }
        if plan != nil {
            _ = try PlanTask.index(task)
            // The plan fixes these; running its task with other values silently would not be
            // what the user asked for, and running with them would break the plan's bookkeeping.
            let given = (experiments.isEmpty ? [] : ["experiment names (\(experiments.joined(separator: " ")))"])
                + selection.givenFlags + execution.givenFlags
                + flagsGiven([("--print-catalog", printCatalog), ("--force", force), ("--dry-run", dryRun), ("--no-estimate", noEstimate)])
            if !given.isEmpty {
                throw ValidationError("--plan fixes the runs, profile, seeds, threads, checkpoints, device and folders, so \(given.joined(separator: ", ")) cannot go with it; leave \(given.count == 1 ? "it" : "them") out (`dip-report submit` makes a new plan)")
            }
        }
        if plan == nil, !printCatalog { try OutputFiles.checkFolder(selection.results, flag: "--results") }
        // Unknown names are a usage error, said with this command's usage.
        if !experiments.isEmpty { _ = try selection.experiments(experiments, baselines: false) }
    }

    func run() throws {
        if let plan {
            try PlanTask.perform(planFile: plan, task: task)
            return
        }
        if printCatalog { print(try Catalog.json(try selection.experiments(experiments, baselines: false))); return }
        try LocalRun.perform(selection: selection, experimentIDs: experiments, execution: execution,
                             force: force, dryRun: dryRun, estimate: !noEstimate)
    }
}

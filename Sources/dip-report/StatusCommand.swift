import ArgumentParser
import DIPCore
import DIPExperiments
import Foundation

/// `dip-report status`: where a results folder stands, from the folder (and squeue).
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Per experiment: runs stored, running (with job and progress), failed, missing; iterations left and an ETA.",
        discussion: """
            Reads the results folder only: records, the claims of runs in flight (holder, job id, \
            progress at the last heartbeat), checkpoints, the plans `submit` froze and their Slurm \
            logs (a run a task reported FAILED is shown with the log's last lines). Where squeue \
            exists it adds the queue states of the plans' jobs. Missing runs and iterations left are \
            known from such a plan only: `run` and `build` freeze none, and of the plans `submit` queued \
            nothing of (dry runs) only the newest counts, and only while no plan was queued. Damaged files are listed. \
            --watch redraws every 10 seconds.
            """)

    @Option(help: ArgumentHelp("The results folder.", valueName: "DIR"))
    var results = "results"

    @Flag(help: "Redraw every 10 seconds until Ctrl-C.")
    var watch = false

    func validate() throws {
        // As render and diff: a folder that is not there is a usage error (exit 64).
        if let problem = OutputFiles.resultsToReadProblem(results) { throw ValidationError("--results '\(results)': \(problem)") }
    }

    func run() throws {
        repeat {
            let status = try StoreStatus.read(results: results)
            let text = Self.format(status)
            if watch, isatty(STDOUT_FILENO) != 0 { print("\u{1B}[H\u{1B}[J", terminator: "") }
            print(text)
            fflush(nil)
            if watch { sleep(10) }
        } while watch
    }

    static func format(_ s: StoreStatus) -> String {
        // A plan `submit` did not queue (a dry run, or sbatch refused it) has no jobs on record:
        // say so, and how to see jobs of it submitted by hand (the script names them dip-<id>).
        // On a line of its own: the header below it is the table's, not the plan's.
        let plan = s.plan.map { id in
            "plan \(id)" + (s.planSubmitted ? "" : " (not submitted by `dip-report submit`: a --dry-run, or sbatch refused it; jobs of it submitted by hand are not followed here: `squeue -n dip-\(id)`)")
        }
        var lines = (plan.map { [$0] } ?? []) + ["experiment: stored / running / failed / checkpointed / missing"]
        for e in s.experiments {
            lines.append("  \(e.id): \(e.stored) / \(e.running.count) / \(e.failed.count) / \(e.checkpointed) / \(e.missing)")
            if e.diverged > 0 {
                lines.append("    \(e.diverged) of the stored diverged (the loss became NaN or infinite; the page marks their cells †)")
            }
            for r in e.running {
                let progress = r.claim.iteration.map { i in r.claim.iterations.map { "\(i)/\($0)" } ?? "\(i)" } ?? "?"
                lines.append("    running \(r.key): \(progress) on \(r.claim.describe())")
            }
            for f in e.failed {
                lines.append("    failed \(r: f.key): see \(f.log)")
                lines += f.lastLines.map { "      | \($0)" }
            }
        }
        if s.plan == nil {
            // `run` and `build` freeze no plan, so nothing here says which runs are still to do.
            let damaged = s.unreadable.contains { $0.contains("an unreadable plan") }
            lines.append("no \(damaged ? "readable " : "")plan from `submit` in this folder: runs not yet started are not counted as missing, nor their iterations as left, "
                         + "and a run that failed (its error was in that `run`'s output; failures are read from the logs of `submit`'s jobs) is not counted as failed; "
                         + "`dip-report run --dry-run` with the same profile, experiments and seeds counts what is left")
        } else {
            let eta = s.iterationsLeft == 0 ? ""
                : s.stalled ? "; no job is queued or running to do them: `dip-report submit` with the same options queues what is left"
                : s.etaSeconds.map { ", ETA \(ProgressPrinter.duration($0)) at the throughput so far" } ?? ""
            lines.append("iterations: \(s.iterationsDone.formatted()) done, \(s.iterationsLeft.formatted()) left\(eta)")
        }
        // The page and diff count one profile at a time; these counts add the profiles up.
        if s.storedByProfile.count > 1 {
            lines.append("stored runs of \(s.storedByProfile.count) profiles, added up above: "
                         + s.storedByProfile.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !s.uncountedPlans.isEmpty {
            lines.append("not counted: \(counted(s.uncountedPlans.count, "plan")) `submit` queued nothing of (a --dry-run, or sbatch refused it): "
                         + s.uncountedPlans.joined(separator: ", "))
        }
        if !s.unreadable.isEmpty {
            lines.append("\(s.unreadable.count) unreadable file\(s.unreadable.count == 1 ? "" : "s") (not counted above as what \(s.unreadable.count == 1 ? "it claims" : "they claim") to be):")
            lines += s.unreadable.map { "  \($0)" }
        }
        if let problem = s.queueProblem { lines.append("queue: not known: \(problem)") }
        if let q = s.queue {
            lines.append("queue: " + (q.isEmpty ? "no job of the plans is queued or running" : q.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")))
        }
        return lines.joined(separator: "\n")
    }
}

private extension String.StringInterpolation {
    mutating func appendInterpolation(r key: RunKey) { appendLiteral(key.description) }
}

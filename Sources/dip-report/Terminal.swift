import DIPCore
import DIPEngine
import Foundation

/// A progress line for long fits: redrawn in place on a terminal, a plain line every 5 % when
/// the output is a file or pipe (so logs stay readable).
final class ProgressPrinter {
    private let total: Int
    private let isTerminal = isatty(STDOUT_FILENO) != 0
    private var lastPrinted = -1
    private var lastDraw = Date.distantPast

    init(total: Int) { self.total = total }

    /// Shows one progress report.
    func update(_ p: FitProgress) {
        let rate = p.elapsed > 0 ? Double(p.iteration) / p.elapsed : 0
        let eta = rate > 0 ? Double(p.iterations - p.iteration) / rate : 0
        // PSNR is sampled every --psnr-every evaluations, so it says which one it belongs to
        // (the curve's 0-based index), instead of seeming to lag the loss (issue 11.17).
        let psnr = p.psnr.map { value in
            String(format: "  PSNR %6.2f dB", value) + (p.psnrIteration.map { " (iter \($0))" } ?? "")
        } ?? ""
        let text = String(format: "iter %6d/%d  loss %.3e", p.iteration, p.iterations, p.loss) + psnr
            + String(format: "  %.2f it/s  ETA %@", rate, Self.duration(eta))
        if isTerminal {
            guard Date().timeIntervalSince(lastDraw) > 0.1 || p.iteration == p.iterations else { return }
            lastDraw = Date()
            let width = 24, filled = total > 0 ? width * p.iteration / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            StandardStreams.output("\r[\(bar)] \(text)\u{1B}[K")
        } else {
            let step = max(1, total / 20)
            if p.iteration % step == 0 || p.iteration == p.iterations, p.iteration != lastPrinted {
                lastPrinted = p.iteration
                print(text)
                // stdout is block-buffered into files and pipes; flush so logs show progress now.
                fflush(nil)
            }
        }
    }

    /// Ends the in-place line.
    func finish() {
        if isTerminal { print("") }
    }

    /// "1h02m", "3m05s", "12s".
    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        if t >= 3600 { return String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) }
        if t >= 60 { return String(format: "%dm%02ds", t / 60, t % 60) }
        return "\(t)s"
    }
}

/// The `run` command's display: an overall bar (runs done / total, ETA from the work done so
/// far) and one bar per running job, redrawn in place on a terminal; on a file or pipe, one line
/// per finished run and a progress line every 30 seconds.
final class RunsProgressDisplay: @unchecked Sendable {
    private struct Active { var label: String; var done: Int; var total: Int; var psnr: Double?; var work: Double }
    private let lock = NSLock()
    private let isTerminal = isatty(STDOUT_FILENO) != 0
    private let totalRuns: Int
    private let totalWork: Double
    private var finishedRuns = 0
    private var finishedWork = 0.0
    /// Work of resumed runs done before this process (their checkpoints'): counted as done, but
    /// not in the rate, or a resumed run's ETA came out as if those iterations took no time.
    private var restoredWork = 0.0
    private var active: [String: Active] = [:]
    private var drawnLines = 0
    private var lastDraw = Date.distantPast
    private var lastPlain = Date()
    private let start = Date()

    /// `work` is each run's cost in arbitrary units (multiply-accumulates x iterations).
    init(runs: Int, totalWork: Double) {
        totalRuns = runs
        self.totalWork = max(1, totalWork)
    }

    /// Prints a line above the bars.
    func line(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        clear()
        print(text)
        fflush(nil)  // block-buffered into files and pipes otherwise
        draw(force: true)
    }

    /// A run started.
    func started(key: String, label: String, total: Int, work: Double, resumedAt: Int?) {
        lock.lock(); defer { lock.unlock() }
        active[key] = Active(label: label, done: resumedAt ?? 0, total: total, psnr: nil, work: work)
        restoredWork += work * Double(resumedAt ?? 0) / Double(max(1, total))
        draw(force: true)
    }

    /// A run progressed.
    func progress(key: String, done: Int, total: Int, psnr: Double?) {
        lock.lock(); defer { lock.unlock() }
        active[key]?.done = done
        active[key]?.psnr = psnr
        draw(force: false)
    }

    /// A run ended (stored, interrupted or failed): `line` goes above the bars. `copied`: it was
    /// stored as a copy of a twin, without starting.
    func ended(key: String, line text: String, countsAsDone: Bool, copied: Bool = false) {
        lock.lock(); defer { lock.unlock() }
        if let a = active.removeValue(forKey: key), countsAsDone {
            finishedRuns += 1
            finishedWork += a.work
        } else if copied {
            finishedRuns += 1  // a copy of a twin: never started, no work of the total
        }
        clear()
        print(text)
        fflush(nil)  // block-buffered into files and pipes otherwise
        draw(force: true)
    }

    /// Leaves the bars on screen.
    func finish() {
        lock.lock(); defer { lock.unlock() }
        drawnLines = 0
    }

    private var doneWork: Double {
        finishedWork + active.values.reduce(0) { $0 + $1.work * Double($1.done) / Double(max(1, $1.total)) }
    }

    private func overall() -> String {
        let elapsed = Date().timeIntervalSince(start)
        let w = doneWork, here = w - restoredWork
        let eta = here > 0 ? elapsed * (totalWork - w) / here : .infinity
        return "runs \(finishedRuns)/\(totalRuns)  elapsed \(ProgressPrinter.duration(elapsed))  ETA \(ProgressPrinter.duration(eta))"
    }

    private static func bar(_ fraction: Double, width: Int = 24) -> String {
        let filled = min(width, max(0, Int(fraction * Double(width))))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    private func clear() {
        guard isTerminal, drawnLines > 0 else { return }
        StandardStreams.output("\u{1B}[\(drawnLines)A\r\u{1B}[J")
        drawnLines = 0
    }

    private func draw(force: Bool) {
        if !isTerminal {
            if Date().timeIntervalSince(lastPlain) >= 30 {
                lastPlain = Date()
                let runs = active.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.done)/\($0.value.total)" }
                print(([overall()] + runs).joined(separator: "; "))
                fflush(nil)
            }
            return
        }
        guard force || Date().timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = Date()
        clear()
        var lines = [Self.bar(doneWork / totalWork) + " " + overall()]
        for (key, a) in active.sorted(by: { $0.key < $1.key }) {
            let psnr = a.psnr.map { String(format: "  %.2f dB", $0) } ?? ""
            lines.append("  " + Self.bar(Double(a.done) / Double(max(1, a.total)), width: 16)
                         + " \(a.done)/\(a.total) \(key) (\(a.label))\(psnr)")
        }
        StandardStreams.output(lines.joined(separator: "\n") + "\n")
        drawnLines = lines.count
    }
}

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
        let psnr = p.psnr.map { String(format: "  PSNR %6.2f dB", $0) } ?? ""
        let text = String(format: "iter %6d/%d  loss %.3e", p.iteration, p.iterations, p.loss) + psnr
            + String(format: "  %.2f it/s  ETA %@", rate, Self.duration(eta))
        if isTerminal {
            guard Date().timeIntervalSince(lastDraw) > 0.1 || p.iteration == p.iterations else { return }
            lastDraw = Date()
            let width = 24, filled = total > 0 ? width * p.iteration / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardOutput.write(Data("\r[\(bar)] \(text)\u{1B}[K".utf8))
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

/// Turns Ctrl-C into a flag the fit polls, so an interrupted fit still writes what it has.
/// A second Ctrl-C exits at once.
final class InterruptFlag: @unchecked Sendable {
    private let source: DispatchSourceSignal
    private let lock = NSLock()
    private var count = 0

    private init() {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    }

    /// Installs the handler.
    static func install() -> InterruptFlag {
        let flag = InterruptFlag()
        flag.source.setEventHandler { [flag] in
            flag.lock.lock()
            flag.count += 1
            let n = flag.count
            flag.lock.unlock()
            if n > 1 { exit(130) }
            FileHandle.standardError.write(Data("\ninterrupted: finishing the current iteration and writing what we have (Ctrl-C again to quit at once)\n".utf8))
        }
        flag.source.resume()
        return flag
    }

    /// Whether Ctrl-C was pressed.
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return count > 0
    }
}

import DIPCore
import Foundation

/// The child processes `bench` waits on (its own runs and the PyTorch peer), ended with it: a
/// stop signal is passed on to each, which gets `grace` seconds to exit before SIGKILL, and then
/// `bench` exits with 128 + the signal. Before, `kill` of `bench` (or SIGINT sent to its pid
/// rather than from the terminal, which signals the whole process group) left the peer running
/// on, an orphan holding both cores (a review: a peer that hung was never ended).
final class RunningChildren: @unchecked Sendable {
    static let shared = RunningChildren()
    /// Seconds a child has to exit after the signal is passed on.
    static let grace = 5.0
    private let lock = NSLock()
    private var children: [ObjectIdentifier: Process] = [:]
    private var stopping: Int32?

    /// Takes the process's stop signals from here on, to end the children and then exit.
    static func endWithStopSignals() {
        SignalRouter.listen { signal, _ in shared.stop(signal) }
    }

    /// Starts `process` (`ChildProcess.run`) as one of the children; give it back with `finished`.
    func start(_ process: Process) throws {
        lock.lock()
        defer { lock.unlock() }
        // A stop already under way ends the process instead of starting a child it would miss.
        if let stopping { fflush(nil); _exit(128 + stopping) }
        try ChildProcess.run(process)
        children[ObjectIdentifier(process)] = process
    }

    /// Forgets a child that has exited.
    func finished(_ process: Process) {
        lock.lock()
        children[ObjectIdentifier(process)] = nil
        lock.unlock()
    }

    private func stop(_ signal: Int32) {
        lock.lock()
        if stopping != nil { lock.unlock(); return }
        stopping = signal
        let running = Array(children.values)
        lock.unlock()
        for p in running where p.isRunning { kill(p.processIdentifier, signal) }
        let deadline = Date().addingTimeInterval(Self.grace)
        while running.contains(where: \.isRunning), Date() < deadline { usleep(20_000) }
        for p in running where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        fflush(nil)
        _exit(128 + signal)
    }
}

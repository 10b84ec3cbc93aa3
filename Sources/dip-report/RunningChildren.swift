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

    /// Stops `process` if it still runs `seconds` from now: SIGTERM, then SIGKILL after
    /// `grace` (a hung child may ignore the first). The deadline says whether it passed.
    func stop(_ process: Process, after seconds: Double) -> Deadline {
        let deadline = Deadline()
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
            guard process.isRunning, deadline.pass() else { return }
            kill(process.processIdentifier, SIGTERM)
            let end = Date().addingTimeInterval(Self.grace)
            while process.isRunning, Date() < end { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        return deadline
    }

    /// A child's time limit: passed, or cancelled first because the child ended in time.
    final class Deadline: @unchecked Sendable {
        private let lock = NSLock()
        private var state: Bool?  // nil: pending; true: passed; false: cancelled

        /// Cancels it; false when it passed first.
        @discardableResult
        func cancel() -> Bool { lock.withLock { if state == nil { state = false }; return state == false } }

        /// Marks it passed unless it was cancelled; false then.
        fileprivate func pass() -> Bool { lock.withLock { if state == nil { state = true }; return state == true } }

        /// Whether the limit passed before the child ended.
        var passed: Bool { lock.withLock { state == true } }
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

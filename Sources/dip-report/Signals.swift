import DIPCore
import Foundation

/// Where SIGINT, SIGTERM, SIGUSR1 and SIGHUP go (`InterruptSignals.all`): a handler that only
/// writes the signal's number and the time it came into a pipe (clock_gettime and write are
/// async-signal-safe; the time is taken there, not when the thread reads it, so that a thread
/// scheduled late does not part two signals sent together), and a thread of their own that
/// reads it and tells the listener (`InterruptFlag`), or ends the process as the signal's
/// default action would when nobody listens (so `render`, `bench` and the rest stop on Ctrl-C
/// as they always did).
///
/// `start()` blocks them in the main thread first (`InterruptSignals`): no computing thread
/// takes them, and whichever other thread does (Dispatch's, this one) only writes a byte. Before,
/// libdispatch's signal sources took them, whose handler ran on the computing main thread and
/// corrupted the heap (`InterruptSignals` says how). Child processes start with an empty mask
/// (`ChildProcess`).
///
/// SIGPIPE gets a handler that does nothing: a write to a pipe whose reader is gone (`| tee`,
/// `| less` quit) then fails with EPIPE, which `StandardStreams` and stdio drop, instead of
/// ending a fit. A handler rather than SIG_IGN, because an ignored signal stays ignored in the
/// programs dip-report starts (Foundation's `Process` does not reset it), and a handled one does
/// not. SIGPIPE comes to the thread that wrote, never to one inside oneDNN.
final class SignalRouter: @unchecked Sendable {
    private static let shared = SignalRouter()
    private let lock = NSLock()
    private var listener: (@Sendable (_ signal: Int32, _ at: Double) -> Void)?

    /// Blocks the signals in the calling thread, installs the handler and starts the thread that
    /// reads the pipe; call it first in `main`.
    static func start() {
        InterruptSignals.blockInThisThread()
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            // No pipe, no routing: the signals keep their default action (the process ends).
            var set = InterruptSignals.set
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            return
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }  // not a child's to inherit
        // A handler must never block: with the pipe full (64 KiB of signals unread) a record is dropped.
        _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
        signalPipeWrite = ends[1]
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { sig in
            let saved = errno
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            // One write of SignalRecord's 16 bytes: under PIPE_BUF, so it is never split.
            var record = SignalRecord(signal: Int64(sig), nanoseconds: Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec))
            _ = write(signalPipeWrite, &record, MemoryLayout<SignalRecord>.size)
            errno = saved
        }
        action.sa_flags = SA_RESTART
        sigemptyset(&action.sa_mask)
        for sig in InterruptSignals.all {
            // SIGHUP ignored at the start stays ignored: `nohup` ignores it so that a build
            // outlives its terminal. (SIGINT, which a non-interactive shell ignores for its
            // background jobs, is taken as it always was: scripts, CI and the tests start runs
            // that way and send it to stop them.)
            var inherited = sigaction()
            sigaction(sig, nil, &inherited)
            let ignore = unsafeBitCast(SIG_IGN, to: Int.self)
            if sig == SIGHUP, let handler = inherited.__sigaction_handler.sa_handler,
               unsafeBitCast(handler, to: Int.self) == ignore { continue }
            sigaction(sig, &action, nil)
        }
        var nothing = sigaction()
        nothing.__sigaction_handler.sa_handler = { _ in }
        nothing.sa_flags = SA_RESTART
        sigemptyset(&nothing.sa_mask)
        sigaction(SIGPIPE, &nothing, nil)
        let readEnd = ends[0]
        let reader = Thread {
            // Its name in ps and /proc (pthread_setname_np is not imported into Swift here).
            try? "dip-signals".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            // The one thread made to take them (it inherited the main thread's block): were
            // every thread to block them, they would wait, pending, for ever.
            var set = InterruptSignals.set
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            while true {
                var record = SignalRecord(signal: 0, nanoseconds: 0)
                let n = read(readEnd, &record, MemoryLayout<SignalRecord>.size)
                if n == MemoryLayout<SignalRecord>.size {
                    shared.deliver(Int32(truncatingIfNeeded: record.signal), at: Double(record.nanoseconds) / 1e9)
                } else if n < 0, errno == EINTR { continue } else { return }
            }
        }
        reader.start()
    }

    /// Hands every later signal to `listener` (on the signal thread), with when it came in
    /// seconds (CLOCK_MONOTONIC), instead of ending the process.
    static func listen(_ listener: @escaping @Sendable (_ signal: Int32, _ at: Double) -> Void) {
        shared.lock.lock()
        shared.listener = listener
        shared.lock.unlock()
    }

    private func deliver(_ sig: Int32, at seconds: Double) {
        lock.lock()
        let listener = listener
        lock.unlock()
        if let listener { listener(sig, seconds); return }
        // Nobody listens: the signal's default action, which ends the process with it.
        signal(sig, SIG_DFL)
        var one = sigset_t()
        sigemptyset(&one)
        sigaddset(&one, sig)
        pthread_sigmask(SIG_UNBLOCK, &one, nil)
        raise(sig)
    }
}

/// What the handler writes for each signal.
private struct SignalRecord {
    var signal: Int64
    /// CLOCK_MONOTONIC when it came.
    var nanoseconds: Int64
}

/// The pipe's write end, for the handler: set before the handler is installed, never changed.
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1

/// Turns Ctrl-C (SIGINT), SIGTERM (what `kill`, `timeout` and Slurm's time limit send), SIGUSR1
/// (Slurm's warning before a time limit, `sbatch --signal=B:USR1@N`) and SIGHUP (the terminal or
/// SSH session closed; what is written to it from then on is dropped, `StandardStreams`) into a
/// flag the fit polls, so a stopped fit still checkpoints and writes what it has. A second request
/// exits at once, after `onQuit` (which removes half-written files): another signal, or the first
/// one again after `StopRequests.repeatWindow` (what counts as one request is `StopRequests`'s
/// rule). The exit status is 128 + the first signal's number: 130 interrupted, 143 terminated,
/// 138 warned of the time limit, 129 hung up.
///
/// The signals come from `SignalRouter`'s thread.
final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var requests = StopRequests()
    private let onQuit: @Sendable () -> Void

    private init(onQuit: @escaping @Sendable () -> Void) { self.onQuit = onQuit }

    /// Takes the process's signals from here on; `onQuit` runs before a second request exits.
    static func install(onQuit: @escaping @Sendable () -> Void = {}) -> InterruptFlag {
        let flag = InterruptFlag(onQuit: onQuit)
        SignalRouter.listen { [flag] in flag.received($0, at: $1) }
        return flag
    }

    private func received(_ sig: Int32, at seconds: Double) {
        lock.lock()
        let decision = requests.receive(sig, at: seconds)
        let code = requests.exitStatus ?? 128 + sig
        lock.unlock()
        if decision == .repeated { return }
        if decision == .quit {
            onQuit()
            // _exit, not exit: exit runs the atexit handlers and static destructors, which must
            // not run twice at once or under threads still inside oneDNN and OpenMP. Seen in
            // `make test` (SignalTests.secondSignal): onQuit removed the checkpoint being written,
            // the main thread failed on it and was exiting too, and the two exits crashed in
            // __run_exit_handlers (signal 11 instead of status 130). Only buffered output is
            // worth saving.
            fflush(nil)
            _exit(code)
        }
        let what = switch sig {
        case SIGINT: "interrupted"
        case SIGUSR1: "time limit near (SIGUSR1)"
        case SIGHUP: "hung up (SIGHUP)"
        default: "terminated (SIGTERM)"
        }
        StandardStreams.error("\n\(what): finishing the current iteration and writing what we have (a second Ctrl-C or signal quits at once)\n")
    }

    /// Whether a signal arrived.
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requests.first != nil
    }

    /// The exit status for the signal that arrived first (128 + its number), nil when none did.
    var exitStatus: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return requests.exitStatus
    }
}


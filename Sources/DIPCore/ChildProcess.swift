import Foundation

/// Starts child processes with no signal blocked, as a new process expects.
public enum ChildProcess {
    /// Starts `process` (`Process.run()`) with an empty signal mask in the child. dip-report
    /// blocks SIGINT, SIGTERM, SIGUSR1 and SIGHUP in every thread and takes them on a thread of its own
    /// (the executable's `SignalRouter`); a child inherits the mask of the thread that starts it,
    /// and Foundation's `Process` passes it on as it is, so `bench`'s PyTorch peer would ignore
    /// Ctrl-C and `kill`. The calling thread's mask is cleared only around the spawn (a signal
    /// arriving just then does its default action, ending the process as it would have before).
    public static func run(_ process: Process) throws {
        var none = sigset_t(), previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }
}

import Foundation

/// The signals that ask dip-report to stop (Ctrl-C's SIGINT, SIGTERM from `kill`, `timeout` and
/// Slurm, Slurm's SIGUSR1 warning before a time limit, SIGHUP when the terminal or SSH session
/// that started it closes), and keeping them off the threads that compute.
///
/// A handler runs on whichever thread the kernel picks, on that thread's stack. Picked while in
/// oneDNN's JIT code, a handler's frame landed outside any stack, below a heap block
/// (AddressSanitizer: a 128-byte write 1680 bytes before one), and the fit aborted with
/// "corrupted size vs. prev_size" (6 of about 25 `inpaint`s stopped by two signals 20 ms
/// apart, release and ASan builds). So
/// every thread that computes blocks them: the main thread from the start (the threads it
/// starts inherit the block), Dispatch's workers (which set a mask of their own) before they
/// compute, and the runner's threads again in case they were started from one. The executable
/// takes them on a thread of its own.
public enum InterruptSignals {
    /// SIGINT, SIGTERM, SIGUSR1 and SIGHUP.
    public static let all: [Int32] = [SIGINT, SIGTERM, SIGUSR1, SIGHUP]

    /// The four as a signal set.
    public static var set: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for sig in all { sigaddset(&set, sig) }
        return set
    }

    /// Blocks the four in the calling thread (and in the threads it starts from now on).
    public static func blockInThisThread() {
        var set = Self.set
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }
}

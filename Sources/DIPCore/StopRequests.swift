import Foundation

/// How the stop signals a process receives (`InterruptSignals.all`) become requests: the first
/// asks to stop after the current iteration, a second to quit at once. A repeat of the first
/// signal within `repeatWindow` of it is the same request: `timeout` sends SIGTERM to the process
/// and at once to its whole process group, and Slurm may signal every process of a step, so the
/// two arrive within milliseconds, and a fit stopped that way used to quit before writing
/// anything. A person pressing Ctrl-C twice is slower than the window: with a window of a second,
/// a double Ctrl-C 0.2 and 0.7 s apart still waited out a 4-second iteration while the message
/// said another signal quits at once (a review).
public struct StopRequests: Sendable {
    /// What a received signal asks for.
    public enum Decision: Sendable, Equatable {
        /// The first request: stop after the current iteration and write what there is.
        case stop
        /// A repeat of the first signal inside the window: nothing more.
        case repeated
        /// A second request: quit at once.
        case quit
    }

    /// How long, in seconds, a repeat of the first signal counts as the same request.
    public static let repeatWindow = 0.1

    /// The first signal, and when it came (seconds on any monotonic clock).
    public private(set) var first: (signal: Int32, at: Double)?

    /// No signal yet.
    public init() {}

    /// The decision for `signal` received at `seconds` (the clock of the earlier calls).
    public mutating func receive(_ signal: Int32, at seconds: Double) -> Decision {
        guard let first else {
            self.first = (signal, seconds)
            return .stop
        }
        return first.signal == signal && seconds - first.at < Self.repeatWindow ? .repeated : .quit
    }

    /// The exit status for the first signal, 128 + its number (130 SIGINT, 143 SIGTERM); nil
    /// before any.
    public var exitStatus: Int32? { first.map { 128 + $0.signal } }
}

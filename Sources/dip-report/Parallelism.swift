import ArgumentParser
import DIPCore
import DIPEngine
import Foundation

/// How many threads (or concurrent runs) a flag may ask for. More than the cores only slows a
/// fit down (every layer waits for its slowest thread), and a few thousand threads stall the
/// whole machine for minutes, so up to `oversubscription` x the cores is allowed with a warning
/// and more is refused.
enum Parallelism {
    /// The most threads per core a flag may ask for.
    static let oversubscription = 4

    /// The cores this process may use (`HostCPU.usableCores`: a Slurm allocation, `taskset` or a
    /// container's CPU quota narrows it).
    static var cores: Int { HostCPU.usableCores }

    /// The largest value allowed (never more than a CPU backend runs on).
    static var limit: Int { min(oversubscription * cores, CPUBackend.maxThreads) }

    /// A fit's threads when none are asked for: one per core, up to what a backend runs on.
    static var defaultThreads: Int { min(cores, CPUBackend.maxThreads) }

    /// Refuses a value below 1 or above `limit`, naming `flag` and the limit.
    static func check(_ value: Int?, flag: String) throws {
        guard let value else { return }
        if value < 1 { throw ValidationError("\(flag) \(value): at least 1") }
        if value > limit {
            if limit == CPUBackend.maxThreads {
                throw ValidationError("\(flag) \(value): at most \(limit), the most a fit runs on")
            }
            throw ValidationError("\(flag) \(value): at most \(limit) (\(oversubscription) per core; this process may use \(cores) core\(cores == 1 ? "" : "s")); more threads than cores only slow the work down")
        }
    }

    /// A warning when `value` exceeds the cores (allowed, but slower than the cores would be).
    static func warning(_ value: Int?, flag: String) -> String? {
        guard let value else { return nil }
        return warning(total: value, what: "\(flag) \(value) is")
    }

    /// A warning when `jobs` runs at once of `threads` threads each exceed the cores.
    static func warning(jobs: Int, threads: Int) -> String? {
        warning(total: jobs * threads, what: "\(jobs) job\(jobs == 1 ? "" : "s") x \(threads) thread\(threads == 1 ? "" : "s") (--jobs, --threads) are")
    }

    private static func warning(total: Int, what: String) -> String? {
        guard total > cores else { return nil }
        return "warning: \(what) more than the \(cores) core\(cores == 1 ? "" : "s") this process may use; the work will run slower, not faster"
    }
}

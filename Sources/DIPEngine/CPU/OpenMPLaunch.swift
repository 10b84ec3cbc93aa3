import DIPCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The OpenMP settings dip-report runs with, which libgomp reads once, before `main`: the
/// process restarts itself once with them where the user's environment would give others
/// (a long spin, `OpenMPWaitPolicy`; thread binding, `OpenMPBinding`; teams smaller than
/// asked for, `OpenMPTeams`), saying on standard error which of the user's settings it
/// overrode.
public enum OpenMPLaunch {
    /// Re-executes this program (same arguments) with the adjusted environment where any of
    /// the policies asks for it; returns only when none does or when the re-execution fails
    /// (then the program goes on as the user's settings make libgomp run it). Call it first in
    /// `main`, before any thread starts.
    public static func relaunchIfNeeded() {
        #if os(Linux)
        let environment = ProcessInfo.processInfo.environment
        var wanted = environment
        var notes: [String] = []
        if !restarted(environment) {
            if OpenMPWaitPolicy.applies(environment) {
                wanted = overriding("GOMP_SPINCOUNT", with: String(OpenMPWaitPolicy.spinCount), in: wanted)
            }
            // Binding only where it narrows this thread: a single place holding every CPU the
            // user gave OpenMP (`GOMP_CPU_AFFINITY=3`) binds nothing away. The restarted
            // program inherits this thread's mask: widen it from the place libgomp bound it to.
            if let all = OpenMPBinding.places(), let bound = CPUAffinity.current(), bound.count < all.count, CPUAffinity.set(all) {
                wanted = overriding("OMP_PROC_BIND", with: "false", in: wanted)
                notes.append(OpenMPBinding.note(environment, bound: bound, all: all))
            }
            let teams = OpenMPTeams.shrinking()
            if teams.dynamic { wanted = overriding("OMP_DYNAMIC", with: "false", in: wanted) }
            if teams.threadLimit != nil { wanted = overriding("OMP_THREAD_LIMIT", with: nil, in: wanted) }
            notes += OpenMPTeams.notes(environment, dynamic: teams.dynamic, threadLimit: teams.threadLimit)
        }
        guard wanted != environment else { return }
        for note in notes { StandardStreams.error(note + "\n") }
        let changed = Set(wanted.keys).union(environment.keys).filter { wanted[$0] != environment[$0] }
        for name in changed { apply(name, wanted[name]) }
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Still here: execv failed. Leave the environment as it was, and say that the notes
        // above did not take effect.
        let reason = String(cString: strerror(errno))
        for name in changed { apply(name, environment[name]) }
        if !notes.isEmpty {
            StandardStreams.error("dip-report: could not restart (\(reason)); running with those settings as they are\n")
        }
        #endif
    }

    /// The environment for a program that should run as the user would run it (the PyTorch
    /// peer of `bench`): without what the restart changed.
    public static func userEnvironment(_ environment: [String: String]) -> [String: String] {
        var e = environment
        for (key, original) in environment where key.hasPrefix(savedPrefix) {
            e[key] = nil
            e[String(key.dropFirst(savedPrefix.count))] = original.isEmpty ? nil : original
        }
        return e
    }

    /// Where the restarted process keeps each user's value it overrode ("" where the user set
    /// none), so children get it back: the prefix, then the variable's name.
    static let savedPrefix = "DIP_REPORT_USER_"

    /// `environment` with `name` set to `value` (nil: unset), the user's value saved.
    static func overriding(_ name: String, with value: String?, in environment: [String: String]) -> [String: String] {
        var e = environment
        e[savedPrefix + name] = environment[name] ?? ""
        e[name] = value
        return e
    }

    /// Whether this process is a restart that overrode some of the user's settings (then it
    /// overrides nothing again, so it never loops).
    static func restarted(_ environment: [String: String]) -> Bool {
        environment.keys.contains { $0.hasPrefix(savedPrefix) }
    }

    private static func apply(_ name: String, _ value: String?) {
        if let value { setenv(name, value, 1) } else { unsetenv(name) }
    }
}

import DIPCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The OpenMP settings dip-report runs with, which libgomp reads once, before `main`: the
/// process restarts itself once with them where the user's environment would give others
/// (a long spin, `OpenMPWaitPolicy`; thread binding, `OpenMPBinding`).
public enum OpenMPLaunch {
    /// Re-executes this program (same arguments) with the adjusted environment where either
    /// policy asks for it; returns only when neither does or when the re-execution fails (then
    /// the program goes on as the user's settings make libgomp run it: slower, but correct).
    /// Call it first in `main`, before any thread starts.
    public static func relaunchIfNeeded() {
        #if os(Linux)
        let environment = ProcessInfo.processInfo.environment
        var wanted = environment
        if OpenMPWaitPolicy.needsRelaunch(environment) { wanted = OpenMPWaitPolicy.adjusted(wanted) }
        // Only where binding narrows this thread: a single place holding every CPU the user
        // gave OpenMP (`GOMP_CPU_AFFINITY=3`) binds nothing away.
        if let all = OpenMPBinding.places(), let bound = CPUAffinity.current(), bound.count < all.count,
           let unbound = OpenMPBinding.unbound(wanted) {
            // The restarted program inherits this thread's mask: widen it from the place
            // libgomp bound it to before executing.
            if CPUAffinity.set(all) {
                wanted = unbound
                FileHandle.standardError.write(Data((OpenMPBinding.note(environment, bound: bound, all: all) + "\n").utf8))
            }
        }
        guard wanted != environment else { return }
        let changed = Set(wanted.keys).union(environment.keys).filter { wanted[$0] != environment[$0] }
        for name in changed { apply(name, wanted[name]) }
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Still here: execv failed. Leave the environment as it was.
        for name in changed { apply(name, environment[name]) }
        #endif
    }

    /// The environment for a program that should run as the user would run it (the PyTorch
    /// peer of `bench`): without what the restart changed.
    public static func userEnvironment(_ environment: [String: String]) -> [String: String] {
        OpenMPBinding.userEnvironment(OpenMPWaitPolicy.userEnvironment(environment))
    }

    private static func apply(_ name: String, _ value: String?) {
        if let value { setenv(name, value, 1) } else { unsetenv(name) }
    }
}

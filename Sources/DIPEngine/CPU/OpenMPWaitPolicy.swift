import Foundation

/// How long oneDNN's OpenMP threads (libgomp) spin before they sleep, chosen before the
/// process starts.
///
/// libgomp's default lets an idle thread spin 300,000 times at each barrier. On a quiet machine
/// that costs nothing, but when the cores are shared (two runs at once, a build, a second
/// `dip-report`) a spinning thread holds the core that the thread it waits for needs: two
/// concurrent 2-thread fits on 2 cores took 310 s instead of 34 s (BENCHMARKS.md). A spin count of
/// 1,000 removes that and, measured alone, is no slower (the text net at 256x256: 0.60 s per
/// iteration against 0.66-0.68 s).
///
/// libgomp reads `GOMP_SPINCOUNT` and `OMP_WAIT_POLICY` once, when it is loaded, which for a
/// program linked with oneDNN is before `main`; hence the re-execution (`OpenMPLaunch`).
enum OpenMPWaitPolicy {
    /// The spin count `dip-report` runs with unless the user chose a policy.
    static let spinCount = 1000

    /// Set in the re-executed process, so that child programs (the PyTorch peer) can be given
    /// the user's own settings back.
    static let marker = "DIP_REPORT_SET_GOMP_SPINCOUNT"

    /// Whether a process with this environment should restart with `spinCount`: not when the
    /// user set `GOMP_SPINCOUNT` or `OMP_WAIT_POLICY` (theirs wins), nor after a restart.
    static func needsRelaunch(_ environment: [String: String]) -> Bool {
        environment["GOMP_SPINCOUNT"] == nil && environment["OMP_WAIT_POLICY"] == nil && environment[marker] == nil
    }

    /// The environment to restart with: `spinCount` and the marker added.
    static func adjusted(_ environment: [String: String]) -> [String: String] {
        var e = environment
        e["GOMP_SPINCOUNT"] = String(spinCount)
        e[marker] = "1"
        return e
    }

    /// The environment for a program that should run as the user would run it (the PyTorch
    /// peer of `bench`): without the spin count this process added.
    static func userEnvironment(_ environment: [String: String]) -> [String: String] {
        guard environment[marker] != nil else { return environment }
        var e = environment
        e[marker] = nil
        e["GOMP_SPINCOUNT"] = nil
        return e
    }
}

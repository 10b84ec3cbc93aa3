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

    /// Whether a process with this environment should run with `spinCount`: not when the user
    /// set `GOMP_SPINCOUNT` or `OMP_WAIT_POLICY` (theirs wins). The restart saves and gives
    /// children back the user's environment as for every setting it overrides (`OpenMPLaunch`).
    static func applies(_ environment: [String: String]) -> Bool {
        environment["GOMP_SPINCOUNT"] == nil && environment["OMP_WAIT_POLICY"] == nil
    }
}

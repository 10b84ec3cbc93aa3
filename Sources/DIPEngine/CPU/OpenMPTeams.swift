import Foundation

/// OpenMP teams of the size asked for: `OMP_DYNAMIC` and `OMP_THREAD_LIMIT` switched off for
/// dip-report's own process (`OpenMPLaunch`).
///
/// oneDNN plans a primitive's work for `omp_get_max_threads()` threads and some of its kernels
/// (the direct convolutions' backward-weights among them) wait at a barrier for every one of
/// them; a team the runtime makes smaller never gets past it. A 3-iteration `inpaint --threads
/// 2` that takes 2-7 s spun on one core until killed (100 s with `OMP_DYNAMIC=true`, 762 s with
/// `OMP_THREAD_LIMIT=1`; BENCHMARKS.md, twenty-first part), and being inside an iteration it
/// could not stop at a signal either. A team sized by the machine's load would also make the
/// bits depend on it. dip-report bounds its threads itself (`--threads`, `--jobs`).
enum OpenMPTeams {
    /// What shrinks teams in this process's runtime: dynamic adjustment on, and the thread
    /// limit where one is set; (false, nil) where libgomp is not loaded.
    static func shrinking() -> (dynamic: Bool, threadLimit: Int?) {
        typealias Query = @convention(c) () -> Int32
        guard let dynamic = OpenMPRuntime.function("omp_get_dynamic", as: Query.self),
              let limit = OpenMPRuntime.function("omp_get_thread_limit", as: Query.self)?() else { return (false, nil) }
        return (dynamic() != 0, limit == Int32.max ? nil : Int(limit))
    }

    /// The line standard error gets for each setting the restart turns off.
    static func notes(_ environment: [String: String], dynamic: Bool, threadLimit: Int?) -> [String] {
        var notes: [String] = []
        if dynamic {
            notes.append("dip-report: OMP_DYNAMIC=\(environment["OMP_DYNAMIC"] ?? "true") ignored: oneDNN waits for every thread it planned for, so teams stay the size asked for")
        }
        if let threadLimit {
            notes.append("dip-report: OMP_THREAD_LIMIT=\(environment["OMP_THREAD_LIMIT"] ?? "\(threadLimit)") ignored: oneDNN waits for every thread it planned for; bound the threads with --threads and --jobs")
        }
        return notes
    }
}

import DIPCore
import Foundation

/// OpenMP's thread binding (`OMP_PROC_BIND`, `OMP_PLACES`, `GOMP_CPU_AFFINITY`), switched off
/// for dip-report's own process (`OpenMPLaunch`).
///
/// Where any of them asks for binding, libgomp binds the program's first thread to the first
/// place before `main` runs, and every thread the program starts afterwards inherits that one
/// place: dip-report's worker pool, its jobs (threads of one process) and Dispatch's threads
/// are its own, not OpenMP's, so all of them would share one core. Measured on 2 cores
/// (BENCHMARKS.md, twenty-first part): table1 at 256x256 took 0.62-0.73 s an iteration with
/// `OMP_PROC_BIND=true` against 0.37-0.44 without; `--jobs 32` on a 64-core node would run on
/// one. Such variables are common on clusters (sites export them for OpenMP programs), so the
/// program restarts once with `OMP_PROC_BIND=false` (the user's other variables kept, and
/// ignored by libgomp then) from the CPUs of all the places, and says so on standard error.
/// The CPU set the process was given (Slurm's, `taskset`'s) still holds.
enum OpenMPBinding {
    /// The line standard error gets when the program restarts unbound: what the user set, the
    /// CPUs binding left this thread (`bound`), and those it runs on instead (`all`).
    static func note(_ environment: [String: String], bound: [Int], all: [Int]) -> String {
        let asked = ["OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY"].compactMap { name in environment[name].map { "\(name)=\($0)" } }
        return "dip-report: \(asked.joined(separator: " ")) ignored: OpenMP's thread binding would put all of dip-report's "
            + "own threads on CPU \(CPUAffinity.list(bound)); they run unbound on CPUs \(CPUAffinity.list(all))"
    }

    /// The CPUs of all of libgomp's places, in increasing order, where it binds threads; nil
    /// where it does not (or is not loaded).
    static func places() -> [Int]? {
        typealias Query = @convention(c) () -> Int32
        guard let bind = OpenMPRuntime.function("omp_get_proc_bind", as: Query.self),
              let count = OpenMPRuntime.function("omp_get_num_places", as: Query.self),
              let size = OpenMPRuntime.function("omp_get_place_num_procs", as: (@convention(c) (Int32) -> Int32).self),
              let ids = OpenMPRuntime.function("omp_get_place_proc_ids", as: (@convention(c) (Int32, UnsafeMutablePointer<Int32>) -> Void).self)
        else { return nil }
        // omp_proc_bind_false is 0.
        guard bind() != 0, count() > 0 else { return nil }
        var all = Set<Int>()
        for place in 0..<count() {
            var cpus = [Int32](repeating: 0, count: Int(max(0, size(place))))
            if !cpus.isEmpty { cpus.withUnsafeMutableBufferPointer { ids(place, $0.baseAddress!) } }
            all.formUnion(cpus.map(Int.init))
        }
        return all.isEmpty ? nil : all.sorted()
    }
}

import DIPCore
import Foundation

/// OpenMP's thread binding (`OMP_PROC_BIND`, `OMP_PLACES`, `GOMP_CPU_AFFINITY`), switched off
/// for dip-report's own process.
///
/// Where any of them asks for binding, libgomp binds the program's first thread to the first
/// place before `main` runs, and every thread the program starts afterwards inherits that one
/// place: dip-report's worker pool, its jobs (threads of one process) and Dispatch's threads
/// are its own, not OpenMP's, so all of them would share one core. Measured on 2 cores
/// (BENCHMARKS.md, twenty-first part): table1 at 256x256 took 0.59-0.64 s an iteration with
/// `OMP_PROC_BIND=true` against 0.33-0.36 without; `--jobs 32` on a 64-core node would run on
/// one. Such variables are common on clusters (sites export them for OpenMP programs), so the
/// program restarts once with `OMP_PROC_BIND=false` (the user's other variables kept, and
/// ignored by libgomp then) from the CPUs of all the places, and says so on standard error.
/// The CPU set the process was given (Slurm's, `taskset`'s) still holds.
public enum OpenMPBinding {
    /// Set in the restarted process: the user's `OMP_PROC_BIND`, or "" where they set none
    /// (binding came from `OMP_PLACES` or `GOMP_CPU_AFFINITY`), so children that should run as
    /// the user would (the PyTorch peer) get it back.
    static let saved = "DIP_REPORT_USER_OMP_PROC_BIND"

    /// The environment to restart with: binding off, the user's setting saved; nil where it
    /// already was restarted (`saved` present), so the program never loops.
    static func unbound(_ environment: [String: String]) -> [String: String]? {
        guard environment[saved] == nil else { return nil }
        var e = environment
        e[saved] = environment["OMP_PROC_BIND"] ?? ""
        e["OMP_PROC_BIND"] = "false"
        return e
    }

    /// `environment` with the user's `OMP_PROC_BIND` back (unset where they had none).
    static func userEnvironment(_ environment: [String: String]) -> [String: String] {
        guard let original = environment[saved] else { return environment }
        var e = environment
        e[saved] = nil
        e["OMP_PROC_BIND"] = original.isEmpty ? nil : original
        return e
    }

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
        guard let handle = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD),
              let bindSymbol = dlsym(handle, "omp_get_proc_bind"), let countSymbol = dlsym(handle, "omp_get_num_places"),
              let sizeSymbol = dlsym(handle, "omp_get_place_num_procs"), let idsSymbol = dlsym(handle, "omp_get_place_proc_ids") else {
            return nil
        }
        typealias Query = @convention(c) () -> Int32
        let bind = unsafeBitCast(bindSymbol, to: Query.self), count = unsafeBitCast(countSymbol, to: Query.self)
        let size = unsafeBitCast(sizeSymbol, to: (@convention(c) (Int32) -> Int32).self)
        let ids = unsafeBitCast(idsSymbol, to: (@convention(c) (Int32, UnsafeMutablePointer<Int32>) -> Void).self)
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

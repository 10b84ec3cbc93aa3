/// Makes compute backends of one kind: how everything above DIPEngine gets a backend without
/// naming its type (the runner makes one per job, each with its own threads, so a new backend
/// is a new factory, not a change to the runner or the records).
public struct BackendFactory: Sendable {
    /// The backend's own name, as records and the page's provenance carry it ("cpu-onednn").
    public let name: String
    /// The libraries doing its arithmetic and their versions (e.g. oneDNN 2.6.3).
    public let libraryVersions: [String: String]
    /// Where its backends compute, e.g. "AMD EPYC 9B14 (family 25, model 17, L2 1024K), oneDNN
    /// ISA avx512_core" (`HostCPU.summary`).
    public let device: String
    /// Whether its backends run L-BFGS fits (which need the parameters on the host); a GPU
    /// backend's fits with L-BFGS go to the CPU instead (`forFit`).
    public let runsLBFGS: Bool
    /// Whether the backends of all jobs compute on one device (a GPU), so fits running at once
    /// slow each other by an amount only measuring tells (the runner's estimate does); on the CPU
    /// each job has threads of its own.
    public let jobsShareDevice: Bool
    /// Whether its backends compute on this machine's CPU cores, so the CPU's FMA peak is their
    /// ceiling (`bench` measures it only then) and the runner's estimate may time crops.
    public let computesOnHostCPU: Bool
    /// The most memory its fits have held so far in this process, in MiB, where they compute:
    /// the process's peak resident set for the CPU, the device allocations' peak for a GPU.
    let peakMemoryMiB: @Sendable () -> Double
    private let body: @Sendable (_ threads: Int) throws -> any ComputeBackend

    /// A factory named `name` whose backends come from `make`; by default they compute on the
    /// host CPU, in host memory.
    public init(name: String, libraryVersions: [String: String], device: String, runsLBFGS: Bool = true,
         jobsShareDevice: Bool = false, computesOnHostCPU: Bool = true,
         peakMemoryMiB: @escaping @Sendable () -> Double = Benchmark.peakResidentMiB,
         make: @escaping @Sendable (_ threads: Int) throws -> any ComputeBackend) {
        self.name = name
        self.libraryVersions = libraryVersions
        self.device = device
        self.runsLBFGS = runsLBFGS
        self.jobsShareDevice = jobsShareDevice
        self.computesOnHostCPU = computesOnHostCPU
        self.peakMemoryMiB = peakMemoryMiB
        self.body = make
    }

    /// The factory that runs a fit of `config`: this one, or the CPU's for an L-BFGS fit this
    /// one cannot run (the rule that sends L-BFGS to the CPU lives here alone).
    public func forFit(_ config: FitConfig) -> BackendFactory {
        if case .lbfgs = config.optimizer, !runsLBFGS { return .cpu }
        return self
    }

    /// A new backend running on `threads` host threads.
    public func make(threads: Int) throws -> any ComputeBackend { try body(threads) }

    /// "oneDNN 2.6.3": every library and its version, sorted by name ("" for none).
    public var librarySummary: String {
        libraryVersions.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// "cpu-onednn (oneDNN 2.6.3)", for logs and the benchmark table.
    public var description: String {
        librarySummary.isEmpty ? name : "\(name) (\(librarySummary))"
    }
}

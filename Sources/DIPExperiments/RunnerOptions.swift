import DIPCore
import DIPEngine
import Foundation

/// What `dip-report run` was asked to do.
public struct RunnerOptions: Sendable {
    /// The data folder (DataDirectory.resolve).
    public var dataDirectory: String
    /// The profile.
    public var profile: Profile
    /// Seeds; one run per (experiment, image, configuration, seed).
    public var seeds: [UInt64]
    /// Runs at once.
    public var jobs: Int
    /// Threads per run.
    public var threadsPerJob: Int
    /// Run again what is stored (the record is replaced).
    public var force: Bool
    /// When long runs write a checkpoint.
    public var checkpoints: CheckpointSchedule
    /// Makes each job's compute backend (and the estimate's).
    public var backend: BackendFactory
    /// The scheduler's job id ("1234_7"), written into the claims this runner takes.
    public var schedulerJob: String?
    /// Which attempt of that job this is (Slurm's SLURM_RESTART_COUNT; 0 for the first): a
    /// requeued task takes back the runs an earlier attempt claimed (`RunClaim.isEarlierAttempt`).
    public var schedulerAttempt = 0
    /// Seconds without a heartbeat after which another runner's claim is stale.
    public var claimStaleSeconds = RunClaim.defaultStaleSeconds

    /// Creates options; `jobs`/`threads` default from the cores and memory (see `defaultParallelism`).
    public init(dataDirectory: String, profile: Profile, seeds: [UInt64]? = nil, jobs: Int? = nil,
                threadsPerJob: Int? = nil, force: Bool = false,
                checkpoints: CheckpointSchedule = CheckpointSchedule(seconds: 300), backend: BackendFactory = .cpu,
                schedulerJob: String? = nil) {
        let cores = HostCPU.usableCores
        let d = RunnerOptions.defaultParallelism(cores: cores, memoryBytes: ProcessInfo.processInfo.physicalMemory)
        self.dataDirectory = dataDirectory
        self.profile = profile
        self.seeds = seeds ?? profile.defaultSeeds
        self.jobs = max(1, jobs ?? (threadsPerJob.map { max(1, cores / $0) } ?? d.jobs))
        // At most what a backend runs on, on a host of more cores than that.
        self.threadsPerJob = min(CPUBackend.maxThreads, max(1, threadsPerJob ?? (jobs.map { max(1, cores / $0) } ?? d.threads)))
        self.force = force
        self.checkpoints = checkpoints
        self.backend = backend
        self.schedulerJob = schedulerJob
    }

    /// Memory one run may need at the paper's sizes: the heaviest catalog runs (depth 8 with
    /// skips and the text net at 512x512) peak at 3.7-3.8 GB, plus headroom.
    public static let memoryPerJob: UInt64 = 6 << 30

    /// As many jobs as cores, one thread each, while `memoryPerJob` fits in memory for each;
    /// the cores left over are shared out as threads. Independent fits use the cores better
    /// than threads inside one fit: on 2 cores the quick profile (1/20 of the iterations)
    /// took 11m59s as 2 jobs x 1 thread against 20m17s as 1 job x 2 threads, and the paper's table1 net at 512x512 did
    /// 18 % more iterations per second (BENCHMARKS.md).
    public static func defaultParallelism(cores: Int, memoryBytes: UInt64) -> (jobs: Int, threads: Int) {
        let cores = max(1, cores)
        let jobs = max(1, min(cores, Int(min(memoryBytes / memoryPerJob, UInt64(Int.max)))))
        return (jobs, max(1, cores / jobs))
    }
}

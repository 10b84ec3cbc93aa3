import DIPCore
import DIPEngine
import Foundation

/// What happens while the runner works; the CLI turns these into bars and lines.
public enum RunnerEvent: Sendable {
    /// A run started on job `job` (resuming at iteration `resumedAt` when it had a checkpoint).
    case started(PlannedRun, job: Int, resumedAt: Int?)
    /// A run progressed.
    case progress(key: RunKey, done: Int, total: Int, psnr: Double?)
    /// A long run wrote its checkpoint.
    case checkpointed(key: RunKey, iteration: Int)
    /// A run finished and was stored.
    case finished(PlannedRun, RunRecord)
    /// A run was interrupted: its state is checkpointed, or discarded (TV, an L-BFGS warm-up).
    case interrupted(PlannedRun, checkpointedAt: Int?)
    /// A run failed; the message says why and what to do.
    case failed(PlannedRun, String)
    /// A run was left alone: another live runner holds its claim (or stored it meanwhile).
    case claimedElsewhere(PlannedRun, by: RunClaim?)
    /// Something the user should know (a damaged checkpoint, a stale claim taken over, ...).
    case note(String)
}

/// How an execution ended.
public struct RunSummary: Sendable {
    /// Runs stored with status done.
    public var done = 0
    /// Runs stored with status diverged.
    public var diverged = 0
    /// Runs that failed.
    public var failed = 0
    /// Runs interrupted (checkpointed or discarded).
    public var interrupted = 0
    /// Runs skipped because they were stored (or blocked).
    public var skipped = 0
    /// Runs left to another live runner that holds their claim, or that stored them meanwhile.
    public var claimedElsewhere = 0
    /// Whether the execution stopped early (Ctrl-C or a write failure).
    public var stoppedEarly = false
    /// Why, when it did.
    public var stopReason: String?

    /// Creates an empty summary.
    public init() {}
}

/// Plans and executes runs against a result store.
public final class Runner: @unchecked Sendable {
    /// The results folder.
    public let store: ResultStore
    /// The options.
    public let options: RunnerOptions
    let lock = NSLock()
    var prepared: [String: Preparation.PreparedImage] = [:]
    /// The mask notes said so far (under `lock`): each once a runner, not once a run.
    private var notedMask: Set<String> = []
    private let machineThreads: Int
    /// What records say ran them: the runner's factory, and the CPU's for what goes there (TV,
    /// and L-BFGS fits of a GPU factory).
    private let software: SoftwareInfo
    private let cpuSoftware: SoftwareInfo

    /// A runner for `store` with `options`.
    public init(store: ResultStore, options: RunnerOptions) {
        self.store = store
        self.options = options
        machineThreads = options.threadsPerJob
        software = SoftwareInfo.current(backend: options.backend)
        cpuSoftware = options.backend.name == BackendFactory.cpu.name ? software : SoftwareInfo.current(backend: .cpu)
    }

    /// A job's backends: the runner's factory's, and a CPU one made on first need for the
    /// L-BFGS fits a GPU backend leaves to the CPU (`BackendFactory.forFit`).
    private final class JobBackends {
        let factory: BackendFactory
        let threads: Int
        let main: any ComputeBackend
        private var cpu: (any ComputeBackend)?

        init(_ factory: BackendFactory, threads: Int) throws {
            self.factory = factory
            self.threads = threads
            main = try factory.make(threads: threads)
        }

        /// The backend for a fit of `config`, and whether it is the CPU standing in.
        func backend(for config: FitConfig) throws -> (any ComputeBackend, onCPU: Bool) {
            let chosen = factory.forFit(config)
            guard chosen.name != factory.name else { return (main, false) }
            if cpu == nil { cpu = try chosen.make(threads: threads) }
            return (cpu!, true)
        }
    }

    // MARK: execution

    /// Runs every pending run of `plan`, `options.jobs` at a time, each job with its own backend.
    /// `shouldCancel` is polled between iterations: on true, running fits write their checkpoint
    /// (a TV run, or an L-BFGS fit still in its warm-up, is discarded), and no new run starts.
    public func execute(_ plan: RunPlan, events: @escaping @Sendable (RunnerEvent) -> Void,
                        shouldCancel: @escaping @Sendable () -> Bool = { false }) -> RunSummary {
        let queue = WorkQueue(Self.dropKeepersFirst(plan.pending))
        let summary = SummaryBox()
        summary.update { $0.skipped = plan.runs.count - plan.pending.count }
        let workers = min(options.jobs, plan.pending.count)
        let group = DispatchGroup()
        for job in 0..<workers {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                // This thread, and the OpenMP and pool threads it starts, compute: they must not
                // take the stop signals. Inherited from the main thread already; said again for
                // a runner started from any other thread (a Dispatch worker sets its own mask).
                InterruptSignals.blockInThisThread()
                let backend: JobBackends
                do { backend = try JobBackends(options.backend, threads: options.threadsPerJob) } catch {
                    summary.update { $0.stoppedEarly = true; $0.stopReason = "\(error)" }
                    return
                }
                while !shouldCancel(), !summary.stopped, let (run, again) = self.nextRun(queue, events: events) {
                    let outcome = self.claimAndPerform(run, job: job, backend: backend, events: events, shouldCancel: shouldCancel)
                    // A run taken up again was counted as left to another runner the first time.
                    if again { summary.update { $0.claimedElsewhere -= 1 } }
                    if case .held = outcome, !again { queue.leaveToOther(run) }
                    summary.update { s in
                        switch outcome {
                        case .stored(.done): s.done += 1
                        case .stored: s.diverged += 1
                        case .interrupted: s.interrupted += 1
                        case .failed: s.failed += 1
                        case .elsewhere, .held: s.claimedElsewhere += 1
                        case let .fatal(why): s.failed += 1; s.stoppedEarly = true; s.stopReason = why
                        }
                    }
                }
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        group.wait()
        if shouldCancel() { summary.update { $0.stoppedEarly = true; $0.stopReason = $0.stopReason ?? "interrupted" } }
        return summary.value
    }

    /// How one run ended here: `held` when another live runner's claim kept it from starting
    /// (`nextRun` may take it up later), `elsewhere` when another runner stored it or took it over.
    private enum Outcome { case stored(RunStatus), interrupted, failed, elsewhere, held, fatal(String) }

    /// The queue's next run; once it is empty, a run left to another runner whose claim has since
    /// gone stale or been given back with nothing stored (its runner was killed: on this host,
    /// its process is gone), with `again` true. Without this second look, a runner that found a
    /// claim live at its start ended with that run "left to other runners" while its holder had
    /// died minutes before, and the run waited for the next `run`. Each run is looked at again
    /// once, when a job runs out of work; a holder still alive keeps it.
    private func nextRun(_ queue: WorkQueue, events: @Sendable (RunnerEvent) -> Void) -> (PlannedRun, again: Bool)? {
        if let run = queue.next() { return (run, false) }
        guard let (run, freed) = queue.nextLeftToOther(where: { run -> FreedClaim? in
            guard !store.hasRecordFile(run.key) else { return nil }
            guard let claim = store.currentClaim(run.key) else { return .givenBack }
            return claim.isStale(staleAfter: options.claimStaleSeconds) ? .stale(claim) : nil
        }) else { return nil }
        switch freed {
        case .givenBack: events(.note("\(run.key): its claim was given back with nothing stored; this runner takes the run up"))
        case let .stale(holder): events(.note("\(run.key): the runner that held it is gone (\(holder.describe())); this runner takes the run up"))
        }
        return (run, true)
    }

    /// Takes the run's claim (a live claim of another runner, or a record stored meanwhile,
    /// leaves the run to it), performs the run and gives the claim back.
    private func claimAndPerform(_ run: PlannedRun, job: Int, backend: JobBackends,
                                 events: @Sendable (RunnerEvent) -> Void, shouldCancel: () -> Bool) -> Outcome {
        let handle: ClaimHandle
        do {
            switch try store.claim(run.key, job: options.schedulerJob, attempt: options.schedulerAttempt, iterations: run.iterations,
                                   staleAfter: options.claimStaleSeconds) {
            case let .held(other):
                events(.claimedElsewhere(run, by: other))
                return .held
            case let .acquired(h, tookOver):
                if let old = tookOver {
                    let whose = old.isEarlierAttempt(ofJob: options.schedulerJob, attempt: options.schedulerAttempt)
                        ? "the claim of an earlier attempt of this job" : "the stale claim"
                    events(.note("\(run.key): took over \(whose): \(old.describe())"))
                }
                handle = h
            }
        } catch {
            // Only writing can fail here (the folder, the claim): as for a record, say so.
            let why = "cannot claim \(run.key): \(error); is the disk full? Finished runs are safe"
            events(.failed(run, why))
            return .fatal(why)
        }
        defer { handle.release() }
        // Another runner may have stored it between our plan and our claim.
        if !options.force, store.hasRecordFile(run.key) {
            events(.claimedElsewhere(run, by: nil))
            return .elsewhere
        }
        if !options.force, let copied = storeCopy(run, events: events) { return copied }
        return perform(run, job: job, backend: backend, claim: handle, events: events, shouldCancel: shouldCancel)
    }

    /// Stores `run` as a copy of a stored twin where one can stand for it (`copyTwin`); nil when
    /// none can, and the run is to be fitted. The `.finished` event's record names the twin
    /// (`copiedFrom`).
    private func storeCopy(_ run: PlannedRun, events: @Sendable (RunnerEvent) -> Void) -> Outcome? {
        do {
            guard let copy = try copyTwin(run) else { return nil }
            events(.finished(run, copy))
            return .stored(copy.status)
        } catch {
            let why = "cannot store \(run.key): \(error); is the disk full? Finished runs are safe"
            events(.failed(run, why))
            return .fatal(why)
        }
    }

    /// Writes the catalog's current labels and groups into the stored records of `plan` that
    /// carry older ones (`RunPlan.relabelled`; the record alone, atomically, pictures untouched).
    /// Returns how many were written.
    @discardableResult
    public func relabel(_ plan: RunPlan) throws -> Int {
        for record in plan.relabelled { try store.save(record, images: [:], force: true) }
        return plan.relabelled.count
    }

    /// Removes the temporary files this process is writing (a checkpoint half-written when the
    /// user insists on quitting at once), and no one else's: names carry the pid, which another
    /// process on another node sharing the folder may have too. Call it just before exiting
    /// without waiting for the jobs.
    public func removeOwnTemporaries() {
        AtomicFile.removeUnfinished()
    }

    /// The runner's own part of a checkpoint: what the engine's checkpoint does not hold.
    /// The checkpoint attachment holding SideState (JSON), and the one holding the drop picture.
    static let sideStateAttachment = "runner", dropAttachment = "drop"

    private struct SideState: Codable {
        var wallSeconds: Double
        var resumes: Int
        var dropIteration: Int?
        /// Where the iterations so far were computed (nil in checkpoints written by older builds,
        /// which did not say).
        var stretches: [ComputeStretch]?
    }

    private func perform(_ run: PlannedRun, job: Int, backend: JobBackends, claim: ClaimHandle,
                         events: @Sendable (RunnerEvent) -> Void, shouldCancel: () -> Bool) -> Outcome {
        let started = Date()
        do {
            let img = try preparedImage(run.image, spec: run.spec)
            let mask = try Preparation.mask(run.spec.mask, for: img, seed: run.key.seed,
                                            dataDirectory: options.dataDirectory, preprocessing: run.spec.preprocessing)
            let fresh = lock.withLock { mask.notes.filter { notedMask.insert($0).inserted } }
            for note in fresh { events(.note(note)) }
            switch run.configuration.method {
            case let .tv(tv):
                return try performTV(run, tv: tv, img: img, mask: mask, job: job, claim: claim, started: started, events: events,
                                     shouldCancel: shouldCancel)
            case let .dip(config):
                let (fitBackend, onCPU) = try backend.backend(for: config)
                return try performDIP(run, config: config, img: img, mask: mask, job: job, backend: fitBackend,
                                      software: onCPU ? cpuSoftware : software, claim: claim,
                                      started: started, events: events, shouldCancel: shouldCancel)
            }
        } catch let e as StoreWriteError {
            events(.failed(run, e.message))
            return .fatal(e.message)
        } catch is LostClaim {
            return leftToTakeOver(run, events: events)
        } catch {
            events(.failed(run, "\(error)"))
            return .failed
        }
    }

    private struct StoreWriteError: Error { let message: String }
    /// Another runner took the run's claim over while this one stalled: the run is its now.
    private struct LostClaim: Error {}

    /// Says that the run went to the runner that took its claim over, which carries it on.
    private func leftToTakeOver(_ run: PlannedRun, events: @Sendable (RunnerEvent) -> Void) -> Outcome {
        let holder = store.currentClaim(run.key)
        let what = holder.map { "\($0.describe()) took its claim over (this runner went \(Int(options.claimStaleSeconds))s or more without "
            + "a heartbeat, or it is a requeued attempt of this job)" } ?? "its claim was removed by another runner"
        events(.note("\(run.key): \(what); this one stops the run and leaves it to the other runner"))
        events(.claimedElsewhere(run, by: holder))
        return .elsewhere
    }

    private func performTV(_ run: PlannedRun, tv: TVConfig, img: Preparation.PreparedImage, mask: Preparation.PreparedMask,
                           job: Int, claim: ClaimHandle, started: Date, events: @Sendable (RunnerEvent) -> Void,
                           shouldCancel: () -> Bool) throws -> Outcome {
        events(.started(run, job: job, resumedAt: nil))
        let total = tv.iterations * img.image.channels
        let t0 = Date()
        let restored: Image
        do {
            restored = try TVInpainting.inpaint(img.image, mask: mask.mask, config: tv) { i in
                if i % max(1, total / 50) == 0 { events(.progress(key: run.key, done: i, total: total, psnr: nil)) }
                return !shouldCancel()
            }
        } catch is CancellationError {
            events(.interrupted(run, checkpointedAt: nil))
            return .interrupted
        }
        var timings = FitTimings()
        timings.total = Date().timeIntervalSince(t0)
        timings.iterations = tv.iterations
        let scores = try self.scores(restored, img.image, mask.mask)
        let record = try makeRecord(run, software: cpuSoftware, img: img, mask: mask, status: .done, stoppedAt: nil, iterations: tv.iterations,
                                    curve: [], losses: [], backtracks: [], final: scores, best: scores,
                                    bestIteration: tv.iterations - 1, drop: nil, timings: timings,
                                    wall: Date().timeIntervalSince(started), resumes: 0, hasBest: true, hasDrop: false)
        try save(record, [.final: restored, .best: restored, .mask: mask.mask, .corrupted: img.image.masked(by: mask.mask),
                          .clean: img.image], claim: claim)
        events(.finished(run, record))
        return .stored(.done)
    }

    private func performDIP(_ run: PlannedRun, config: FitConfig, img: Preparation.PreparedImage,
                            mask: Preparation.PreparedMask, job: Int, backend: any ComputeBackend, software: SoftwareInfo,
                            claim: ClaimHandle, started: Date,
                            events: @Sendable (RunnerEvent) -> Void, shouldCancel: () -> Bool) throws -> Outcome {
        let problem = try FitProblem(image: img.image, mask: mask.mask)
        let fitter = try Fitter(problem: problem, config: config, seed: run.key.seed, backend: backend)
        let ckPath = store.checkpointPath(for: run.key)
        var checkpoint: FitCheckpoint?
        let here = ComputeStretch(fromIteration: 0, cpu: HostCPU.summary, threads: machineThreads,
                                  backend: software.backend, device: software.device)
        var side = SideState(wallSeconds: 0, resumes: 0, dropIteration: nil, stretches: [here])
        var dropImage: Image?
        // With --force too: a checkpoint newer than the stored record is the refit's own.
        if store.hasResumableCheckpoint(run.key) {
            do {
                let ck = try FitCheckpoint.read(from: ckPath)
                // A checkpoint of another run (copied or renamed by hand), or of this run's image
                // or mask file before it was edited, is no more use than a damaged one.
                if let why = ck.mismatch(config: config, seed: run.key.seed, problemDigest: problem.digest) {
                    throw DIPError.badFile(path: ckPath, reason: why)
                }
                guard let json = ck.attachments[Self.sideStateAttachment] else {
                    throw DIPError.badFile(path: ckPath, reason: "holds no runner state (written by an older dip-report)")
                }
                let s = try JSONDecoder().decode(SideState.self, from: Data(json.utf8))
                // Absent when the fit never caught the picture, as an uninterrupted run would be.
                if s.dropIteration != nil { dropImage = ck.attachedImages[Self.dropAttachment] }
                checkpoint = ck
                side = s
                side.resumes += 1
                // Same seed, same setup, same bits: a resume in another setup (more threads,
                // another node's CPU) is kept, but said, here and in the record.
                if let last = s.stretches?.last, !last.sameSetup(as: here) {
                    var next = here
                    next.fromIteration = ck.step
                    side.stretches = s.stretches! + [next]
                    events(.note("\(run.key) resumes at iteration \(ck.step) on \(here.setupSummary); it ran on \(last.setupSummary) "
                                 + "before, so its numbers will match an uninterrupted run on neither (its record lists both; "
                                 + "delete \(ckPath) to fit it afresh in one setup)"))
                }
            } catch {
                events(.note("\(ckPath): unusable checkpoint (\(error)); starting \(run.key) afresh"))
            }
        }
        let writer: FitCheckpointWriter
        do { writer = try FitCheckpointWriter(path: ckPath, resumed: checkpoint) } catch {
            throw StoreWriteError(message: "\(error)")
        }
        // Where the run stands, before it is said to have resumed: the claim said iteration 0
        // until the first heartbeat (up to half a minute), and status showed it started over.
        if let ck = checkpoint { claim.heartbeat(iteration: ck.step, of: Fitter.plannedEvaluations(config), force: true) }
        events(.started(run, job: job, resumedAt: checkpoint?.step))

        // The worst drop: the largest PSNR fall between consecutive samples; its bottom is kept.
        var previous: CurvePoint? = checkpoint?.curve.last
        var worstFall = 0.0
        if let ck = checkpoint, let d = Self.worstDrop(ck.curve) { worstFall = d.fall }
        let total = Fitter.plannedEvaluations(config)
        var lastEvent = Date.distantPast
        let result = try fitter.run(
            resumingFrom: checkpoint,
            checkpoints: options.checkpoints,
            onCheckpoint: { fitState in
                // The runner's state rides in the same file, so the two can never disagree.
                var ck = fitState
                var s = side
                s.wallSeconds += Date().timeIntervalSince(started)
                s.dropIteration = run.spec.keepWorstDrop ? Self.worstDrop(ck.curve)?.iteration : nil
                // A claim taken over is the other runner's run: its checkpoint is not ours to write.
                guard claim.stillHeld() else { throw LostClaim() }
                do {
                    ck.attachments[Self.sideStateAttachment] = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
                    if s.dropIteration != nil, let dropImage { ck.attachedImages[Self.dropAttachment] = dropImage }
                    try writer.write(ck)
                } catch {
                    throw StoreWriteError(message: "cannot write the checkpoint: \(error); is the disk full? Finished runs are safe")
                }
                claim.heartbeat(iteration: ck.step, of: total, force: true)
                events(.checkpointed(key: run.key, iteration: ck.step))
            },
            onSample: { point, image in
                guard run.spec.keepWorstDrop, let p = point.psnr else { previous = point; return }
                if let prev = previous?.psnr, prev - p > worstFall {
                    worstFall = prev - p
                    dropImage = image
                }
                previous = point
            },
            progress: { p in
                claim.heartbeat(iteration: p.iteration, of: total)
                if p.iteration == p.iterations || Date().timeIntervalSince(lastEvent) > 0.2 {
                    lastEvent = Date()
                    events(.progress(key: run.key, done: p.iteration, total: total, psnr: p.psnr))
                }
            },
            shouldCancel: { shouldCancel() || claim.isLost })

        if claim.isLost { throw LostClaim() }
        let status: RunStatus
        var stoppedAt: Int?
        switch result.status {
        case .done: status = .done
        case let .diverged(i): status = .diverged; stoppedAt = i
        case .cancelled:
            // Cancelled before the first checkpoint could be taken (an L-BFGS warm-up): nothing kept.
            let kept = FileManager.default.fileExists(atPath: ckPath)
            events(.interrupted(run, checkpointedAt: kept ? result.timings.iterations : nil))
            return .interrupted
        }
        var final: Scores?
        if result.finalImage.pixels.allSatisfy({ $0.isFinite }) { final = try scores(result.finalImage, img.image, mask.mask) }
        var best: Scores?
        if let b = result.best { best = try scores(b.image, img.image, mask.mask) }
        let drop = run.spec.keepWorstDrop ? Self.worstDrop(result.curve) : nil
        // A diverged fit's final picture may hold NaN: no PNG can show it, the record says why.
        let finalIsFinite = result.finalImage.pixels.allSatisfy { $0.isFinite }
        var images: [RunImage: Image] = [.mask: mask.mask, .corrupted: img.image.masked(by: mask.mask), .clean: img.image]
        if finalIsFinite { images[.final] = result.finalImage }
        if let b = result.best { images[.best] = b.image }
        if drop != nil, let dropImage { images[.drop] = dropImage }
        let record = try makeRecord(run, software: software, img: img, mask: mask, status: status, stoppedAt: stoppedAt,
                                    iterations: result.timings.iterations, curve: result.curve, losses: result.losses,
                                    backtracks: result.backtracks, final: final, best: best,
                                    bestIteration: result.best?.iteration, drop: drop, timings: result.timings,
                                    wall: side.wallSeconds + Date().timeIntervalSince(started), resumes: side.resumes,
                                    hasBest: result.best != nil, hasDrop: images[.drop] != nil, hasFinal: finalIsFinite,
                                    stretches: side.stretches.flatMap { $0.count > 1 ? $0 : nil })
        try save(record, images, claim: claim)
        try? FitCheckpointWriter.remove(at: ckPath)
        events(.finished(run, record))
        return .stored(status)
    }

    /// The largest fall of PSNR between consecutive curve samples (nil when PSNR never falls).
    public static func worstDrop(_ curve: [CurvePoint]) -> WorstDrop? {
        var worst: WorstDrop?
        for (a, b) in zip(curve, curve.dropFirst()) {
            guard let pa = a.psnr, let pb = b.psnr, pa > pb, pa.isFinite else { continue }
            if worst == nil || pa - pb > worst!.fall {
                worst = WorstDrop(fromIteration: a.iteration, fromPSNR: pa, iteration: b.iteration, psnr: pb)
            }
        }
        return worst
    }

    func scores(_ out: Image, _ clean: Image, _ mask: Image) throws -> Scores {
        Scores(psnr: try Metrics.psnr(out, clean),
               psnrHoles: try? Metrics.psnr(out, clean, mask: mask, region: .holes),
               ssim: try? Metrics.ssim(out, clean))
    }

    private func makeRecord(_ run: PlannedRun, software: SoftwareInfo, img: Preparation.PreparedImage, mask: Preparation.PreparedMask,
                            status: RunStatus, stoppedAt: Int?, iterations: Int, curve: [CurvePoint], losses: [Double],
                            backtracks: [Int], final: Scores?, best: Scores?, bestIteration: Int?, drop: WorstDrop?,
                            timings: FitTimings, wall: Double, resumes: Int, hasBest: Bool, hasDrop: Bool,
                            hasFinal: Bool = true, stretches: [ComputeStretch]? = nil) throws -> RunRecord {
        var names: [RunImage: String] = [:]
        var roles: [RunImage] = [.mask, .corrupted, .clean]
        if hasFinal { roles.insert(.final, at: 0) }
        if hasBest { roles.append(.best) }
        if hasDrop { roles.append(.drop) }
        for r in roles { names[r] = ResultStore.imageFileName(run.key, r) }
        let holes = MaskStatistics(mask.mask).holeFraction
        return RunRecord(key: run.key, group: run.group, label: run.label, profile: options.profile.name,
                         configuration: run.configuration, imageSHA256: img.sha256, maskSHA256: mask.fileSHA256,
                         size: run.size, channels: run.channels,
                         maskSummary: mask.summary, holeFraction: holes,
                         corruptedPSNR: try Metrics.psnr(img.image.masked(by: mask.mask), img.image),
                         status: status, stoppedAt: stoppedAt, iterations: iterations, curve: curve, losses: losses,
                         backtracks: backtracks, final: final, best: best, bestIteration: bestIteration, worstDrop: drop,
                         timings: timings, wallSeconds: wall, resumes: resumes,
                         finishedAt: ISO8601DateFormatter().string(from: Date()),
                         machine: MachineInfo.current(threads: machineThreads), software: software, images: names,
                         computeStretches: stretches)
    }

    /// Stores a finished run while `claim` is still this runner's (else `LostClaim`).
    private func save(_ record: RunRecord, _ images: [RunImage: Image], claim: ClaimHandle) throws {
        guard claim.stillHeld() else { throw LostClaim() }
        // Only a failed write stops the whole execution; a picture that cannot be encoded (NaN)
        // fails this run alone, and is no reason to suspect the disk.
        do { try store.save(record, images: images, force: options.force) } catch let error as DIPError {
            guard case .io = error else { throw error }
            throw StoreWriteError(message: "cannot store \(record.key): \(error); is the disk full? Finished runs are safe")
        }
    }
}

/// The pending runs, handed out one at a time to the jobs.
private final class WorkQueue: @unchecked Sendable {
    private var runs: [PlannedRun]
    private var index = 0
    /// Runs another runner's live claim kept from starting, in the order they were met.
    private var leftToOther: [PlannedRun] = []
    let lock = NSLock()

    init(_ runs: [PlannedRun]) { self.runs = runs }

    func next() -> PlannedRun? {
        lock.lock()
        defer { lock.unlock() }
        guard index < runs.count else { return nil }
        index += 1
        return runs[index - 1]
    }

    /// Keeps `run` to be looked at again (`nextLeftToOther`).
    func leaveToOther(_ run: PlannedRun) {
        lock.lock()
        leftToOther.append(run)
        lock.unlock()
    }

    /// Removes and returns the first kept run whose claim `free` finds freed, with how; runs it
    /// gives nil for (still held, or stored meanwhile) stay kept.
    func nextLeftToOther(where free: (PlannedRun) -> FreedClaim?) -> (PlannedRun, FreedClaim)? {
        lock.lock()
        defer { lock.unlock() }
        for (i, run) in leftToOther.enumerated() {
            if let holder = free(run) {
                leftToOther.remove(at: i)
                return (run, holder)
            }
        }
        return nil
    }
}

/// How a claim that kept a run from starting has let it go since.
private enum FreedClaim {
    /// The claim is gone and nothing was stored (its holder stopped the run and gave it back).
    case givenBack
    /// The claim is still there but stale (`RunClaim.isStale`): its holder is gone.
    case stale(RunClaim)
}

/// The summary, updated by every job.
private final class SummaryBox: @unchecked Sendable {
    private var summary = RunSummary()
    let lock = NSLock()

    func update(_ f: (inout RunSummary) -> Void) {
        lock.lock()
        f(&summary)
        lock.unlock()
    }

    var value: RunSummary {
        lock.lock()
        defer { lock.unlock() }
        return summary
    }

    var stopped: Bool { value.stoppedEarly }
}

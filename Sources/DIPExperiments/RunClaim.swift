import DIPCore
import Foundation

/// Who is fitting a run key right now: the content of `<stem>.claim` beside the run's record.
///
/// Every runner (a local `run`, a Slurm array task, a second `run` on the same folder) takes
/// the claim before it starts a run and gives it back once the run is stored or checkpointed,
/// so two runners never fit one key at once, on one machine or on many sharing the folder.
public struct RunClaim: Codable, Sendable, Equatable {
    /// Host name of the holder.
    public var host: String
    /// Process id of the holder on `host`.
    public var pid: Int32
    /// The scheduler's job id ("1234_7" for a Slurm array task), when there is one.
    public var job: String?
    /// Which attempt of `job` took it: Slurm's SLURM_RESTART_COUNT, 0 (or absent) for the first.
    public var attempt: Int? = nil
    /// The holder's pid namespace ("pid:[4026531836]", /proc/self/ns/pid): containers that share
    /// the host's name (`--network host`) each number their processes afresh, so `pid` says
    /// whether the holder lives only within the same namespace.
    public var pidNamespace: String? = nil
    /// When the claim was taken.
    public var started: Date
    /// When the holder last said it is alive (at every checkpoint and every `heartbeatSeconds`).
    public var heartbeat: Date
    /// Iterations done at the last heartbeat, and planned.
    public var iteration: Int?
    /// Iterations the run does in all.
    public var iterations: Int?
    /// Random per claim: tells a holder's own claim from its successor's after a takeover.
    public var token: String

    /// How often a running fit refreshes its heartbeat.
    public static let heartbeatSeconds = 30.0
    /// A claim whose heartbeat is older than this is stale (20 missed heartbeats: a run is never
    /// that long without an iteration, but a machine under swap may be slow).
    public static let defaultStaleSeconds = 600.0

    /// Whether the holder is gone: on this host and in this pid namespace (a claim that names
    /// none was written by a build that did not record it), its process no longer exists;
    /// anywhere, its heartbeat is older than `staleAfter` seconds.
    public func isStale(now: Date = Date(), staleAfter: Double = RunClaim.defaultStaleSeconds) -> Bool {
        if host == RunClaim.localHost, pidNamespace == nil || pidNamespace == RunClaim.localPidNamespace,
           kill(pid, 0) != 0, errno == ESRCH { return true }
        return now.timeIntervalSince(heartbeat) > staleAfter
    }

    /// This process's pid namespace; nil where /proc does not say.
    public static let localPidNamespace: String? = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")

    /// Whether this claim was taken by an earlier attempt of scheduler job `job` ("1234_7") than
    /// `attempt`: Slurm runs one attempt of a task at a time, so a requeued task (after a node
    /// failure, or a kill before its checkpoint was written) finds its predecessor's claim with
    /// a heartbeat minutes young on another host. Left to go stale, the task skipped its own
    /// interrupted run and ended without it. Two processes of one attempt (two runs started by
    /// hand in one allocation) never count as each other's predecessor.
    public func isEarlierAttempt(ofJob job: String?, attempt: Int) -> Bool {
        guard let job, self.job == job else { return false }
        return (self.attempt ?? 0) < attempt
    }

    /// "host pid 123 (job 45_6), heartbeat 12s ago" ("(job 45_6, attempt 1)" for a requeued
    /// task's); a heartbeat ahead of this clock (another node's clock runs ahead) is "heartbeat
    /// 30s ahead of this machine's clock", not "-30s ago".
    public func describe(now: Date = Date()) -> String {
        let age = Int(now.timeIntervalSince(heartbeat).rounded())
        let when = age < 0 ? "\(-age)s ahead of this machine's clock" : "\(age)s ago"
        if isUnreadable { return "an unreadable claim file, last changed \(when)" }
        let again = attempt.map { $0 > 0 ? ", attempt \($0)" : "" } ?? ""
        return "\(host) pid \(pid)\(job.map { " (job \($0)\(again))" } ?? ""), heartbeat \(when)"
    }

    /// This machine's host name.
    public static let localHost = ProcessInfo.processInfo.hostName

    /// The token of a claim file that is not a claim: it counts as held, its heartbeat its
    /// modification time, so it goes stale like a claim whose holder died.
    static let unreadableToken = "unreadable"

    /// Whether this stands for a claim file that could not be read as a claim (`unreadableToken`).
    public var isUnreadable: Bool { token == Self.unreadableToken }

    static func decode(_ data: Data) throws -> RunClaim {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return try d.decode(RunClaim.self, from: data)
    }

    func encoded() throws -> Data {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys]
        return try e.encode(self)
    }
}

/// A claim this process holds: refresh it while the run goes on, release it at the end.
public final class ClaimHandle: @unchecked Sendable {
    /// The claim file.
    public let path: String
    private var claim: RunClaim
    private var lastBeat = Date()
    private let lock = NSLock()

    init(path: String, claim: RunClaim) {
        self.path = path
        self.claim = claim
    }

    /// Whether another runner has taken the claim over (this process stalled past
    /// `RunClaim.defaultStaleSeconds`: suspended, swapping, a paused VM), as the last heartbeat
    /// or `stillHeld` found: the run is that runner's now, and this one must stop writing it.
    public var isLost: Bool {
        lock.lock(); defer { lock.unlock() }
        return lost
    }
    private var lost = false

    /// Whether the claim is still this process's, read from the file now (before a checkpoint
    /// or the record is written); false from the first time it is not.
    public func stillHeld() -> Bool {
        lock.lock(); defer { lock.unlock() }
        if !lost, !isStillOurs() { lost = true }
        return !lost
    }

    /// Refreshes the heartbeat (and the progress `status` shows) when `force` or when
    /// `RunClaim.heartbeatSeconds` have passed. A claim taken over meanwhile is left alone, and
    /// marked lost (`isLost`).
    public func heartbeat(iteration: Int?, of iterations: Int?, force: Bool = false) {
        lock.lock(); defer { lock.unlock() }
        guard force || Date().timeIntervalSince(lastBeat) >= RunClaim.heartbeatSeconds else { return }
        lastBeat = Date()
        guard !lost, isStillOurs() else { lost = true; return }
        claim.heartbeat = lastBeat
        claim.iteration = iteration
        claim.iterations = iterations
        if let data = try? claim.encoded() { try? AtomicFile.write(data, to: path) }
    }

    /// Gives the claim back (only when it is still ours).
    public func release() {
        lock.lock(); defer { lock.unlock() }
        if isStillOurs() { unlink(path) }
    }

    /// False when the claim file is gone or holds another runner's claim. A file that cannot be
    /// read or decoded just now (a network file system's passing error) counts as still ours:
    /// losing the claim stops the run, which only another holder's claim justifies. A file that
    /// is gone is lost too, not written again: while this process stalled, another runner may
    /// have taken the claim over, stored or checkpointed the run and given the claim back.
    private func isStillOurs() -> Bool {
        guard let data = FileManager.default.contents(atPath: path) else { return !(access(path, F_OK) != 0 && errno == ENOENT) }
        guard let c = try? RunClaim.decode(data) else { return true }
        return c.token == claim.token
    }
}

/// What `ResultStore.claim` found.
public enum ClaimOutcome: Sendable {
    /// The claim is ours; `tookOver` is the stale claim it replaced, if any.
    case acquired(ClaimHandle, tookOver: RunClaim?)
    /// A live runner holds it.
    case held(RunClaim)
}

extension ResultStore {
    /// The claim file of a key.
    public func claimPath(for key: RunKey) -> String {
        (folder(for: key) as NSString).appendingPathComponent(Self.stem(key) + ".claim")
    }

    /// The claim on a key, nil when there is none. An unreadable claim reads as a live one held
    /// by nobody known while it is young (it may be half-visible on a network file system),
    /// else as stale.
    public func currentClaim(_ key: RunKey) -> RunClaim? {
        Self.readClaim(at: claimPath(for: key))
    }

    static func readClaim(at path: String) -> RunClaim? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        if let c = try? RunClaim.decode(data) { return c }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
        return RunClaim(host: "?", pid: 0, job: nil, started: modified, heartbeat: modified, token: RunClaim.unreadableToken)
    }

    /// Takes the claim on `key` for this process, or says who holds it. A stale claim (dead
    /// process on this host, or a heartbeat older than `staleAfter`) is taken over, and so is
    /// one of an earlier attempt of this scheduler job (`RunClaim.isEarlierAttempt`).
    ///
    /// The claim is written whole to a temporary file and then hard-linked to its name: link(2)
    /// fails when the name exists, atomically, on local and network file systems alike (the
    /// classic NFS-safe form of O_EXCL), and no reader ever sees a half-written claim.
    public func claim(_ key: RunKey, job: String?, attempt: Int = 0, iterations: Int?,
                      staleAfter: Double = RunClaim.defaultStaleSeconds) throws -> ClaimOutcome {
        try claim(key, job: job, attempt: attempt, iterations: iterations, staleAfter: staleAfter, token: UUID().uuidString)
    }

    /// The claim above with its token given (tests plant a file with it, as a lost link reply leaves one).
    func claim(_ key: RunKey, job: String?, attempt: Int, iterations: Int?, staleAfter: Double,
               token: String) throws -> ClaimOutcome {
        let path = claimPath(for: key)
        do { try FileManager.default.createDirectory(atPath: folder(for: key), withIntermediateDirectories: true) } catch {
            throw DIPError.io(path: folder(for: key), reason: "cannot create the folder (\(FileErrorText.describe(error, makingFolder: folder(for: key))))")
        }
        let now = Date()
        let mine = RunClaim(host: RunClaim.localHost, pid: getpid(), job: job, attempt: job == nil ? nil : attempt,
                            pidNamespace: RunClaim.localPidNamespace, started: now, heartbeat: now,
                            iteration: 0, iterations: iterations, token: token)
        let data = try mine.encoded()
        for _ in 0..<3 {
            if try Self.linkNew(data, at: path) { return .acquired(ClaimHandle(path: path, claim: mine), tookOver: nil) }
            guard let other = Self.readClaim(at: path) else { continue }  // released meanwhile: try again
            // Ours after all: on a network file system, a link(2) whose reply was lost is sent
            // again and fails with EEXIST, on the file the first one made. Read as another's,
            // the run was skipped and its claim left to go stale.
            if other.token == mine.token { return .acquired(ClaimHandle(path: path, claim: mine), tookOver: nil) }
            guard other.isStale(now: now, staleAfter: staleAfter) || other.isEarlierAttempt(ofJob: job, attempt: attempt) else {
                return .held(other)
            }
            if try takeOver(path: path, stale: other, with: data) {
                return .acquired(ClaimHandle(path: path, claim: mine), tookOver: other)
            }
        }
        if let other = Self.readClaim(at: path) { return .held(other) }
        throw DIPError.io(path: path, reason: "cannot take the claim (it keeps changing); is another runner starting the same runs?")
    }

    /// Removes the stale claim and links ours, under the claim's takeover lock
    /// (`withTakeoverLock`) so that two runners taking over at once cannot both win. False when
    /// the claim changed meanwhile or another runner holds the lock.
    /// (Where two runners clear a lock left by a dead one at the same moment, both may hold it;
    /// the one whose claim the other replaced finds out at its first heartbeat, at most
    /// `RunClaim.heartbeatSeconds` in, and stops that run without writing: `ClaimHandle.isLost`.)
    private func takeOver(path: String, stale: RunClaim, with data: Data) throws -> Bool {
        try Self.withTakeoverLock(claim: path) {
            guard Self.readClaim(at: path) == stale else { return false }
            unlink(path)
            return try Self.linkNew(data, at: path)
        } ?? false
    }

    /// Removes the claim file at `path` if it still holds `stale`, under the takeover lock: a
    /// runner that takes the claim over between a reader's look and this removal (`sweep`)
    /// keeps its new claim, where a plain unlink removed it and stopped that runner's run. False
    /// when the claim changed, is gone, or another runner is taking it over right now.
    static func removeClaim(at path: String, ifStill stale: RunClaim) -> Bool {
        (try? withTakeoverLock(claim: path) { readClaim(at: path) == stale && unlink(path) == 0 }) == true
    }

    /// `body`'s result, run while holding the short-lived `<claim>.takeover` lock file (made by
    /// `linkNew`, so one holder at a time on network file systems too); nil when another holds
    /// it. A lock left by a runner that died while holding it (held for milliseconds, so one
    /// older than a minute) is cleared first.
    private static func withTakeoverLock<T>(claim path: String, _ body: () throws -> T) throws -> T? {
        let lockPath = path + ".takeover"
        if let m = try? FileManager.default.attributesOfItem(atPath: lockPath)[.modificationDate] as? Date,
           Date().timeIntervalSince(m) > 60 { unlink(lockPath) }
        guard try linkNew(Data(), at: lockPath) else { return nil }
        defer { unlink(lockPath) }
        return try body()
    }

    /// Creates `path` holding `data` if it does not exist; false when it does.
    static func linkNew(_ data: Data, at path: String) throws -> Bool {
        let tmp = try AtomicFile.temporaryPath(beside: path)
        defer { AtomicFile.discard(temporary: tmp) }
        do { try AtomicFile.writeTemporary(data, to: tmp) } catch {
            throw DIPError.io(path: path, reason: "cannot write the claim (\(error))")
        }
        if link(tmp, path) == 0 { return true }
        if errno == EEXIST { return false }
        throw DIPError.io(path: path, reason: "cannot create the claim (\(String(cString: strerror(errno))))")
    }
}

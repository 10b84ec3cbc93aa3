import Foundation
import Synchronization

/// Turns between the fits that share one device (`--jobs N` on one GPU): any number of fits may
/// run their iterations at once (shared turns), while a fit's set-up (allocating, loading
/// kernels, recording graphs: `exclusive` turns) waits for the iterations in flight and keeps
/// new ones out until it is done.
///
/// Why: on an H200 with 8 or 16 fits in one process, fits that were setting up waited minutes
/// while the others iterated (16 jobs: 13 of them at iteration 0 for two minutes, one for over
/// five), and moved on when the running fits paused for a checkpoint. cuMemAlloc and cuMemFree
/// serialise against every stream of the context, and lazily loaded kernels (cuDNN's, graph
/// instantiation) need the context synchronised; with other fits enqueueing batch after batch,
/// such a call kept waiting. A turn of its own gives it a quiet device within one batch.
///
/// Exclusive turns are preferred: once one waits, no new shared turn starts, so a set-up cannot
/// starve (a plain reader-writer lock prefers readers). Turns nest on one thread: a thread
/// already holding a turn runs nested ones at once, whatever their kind (so an allocation inside
/// a batch never deadlocks; it just gets no quiet device).
final class DeviceGate: @unchecked Sendable {
    private let condition = NSCondition()
    private var sharers = 0
    private var exclusiveHeld = false
    private var exclusiveWaiting = 0
    private var exclusiveTurns = 0, sharedTurns = 0
    /// The thread-dictionary key marking a thread that holds a turn of this gate.
    private let holderKey: String

    init() {
        holderKey = "dip-report.DeviceGate.\(Self.nextSerial())"
    }

    /// Turns taken so far, by kind (what the tests check the trainer's choices by).
    var turns: (exclusive: Int, shared: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (exclusiveTurns, sharedTurns)
    }

    /// Runs `body` in a shared turn: at once unless a set-up holds or waits for the device.
    func shared<T>(_ body: () throws -> T) rethrows -> T {
        if holdsTurn { return try body() }
        condition.lock()
        while exclusiveHeld || exclusiveWaiting > 0 { condition.wait() }
        sharers += 1
        sharedTurns += 1
        condition.unlock()
        return try holding(body) {
            condition.lock()
            sharers -= 1
            if sharers == 0 { condition.broadcast() }
            condition.unlock()
        }
    }

    /// Runs `body` in an exclusive turn: after the shared turns in flight end, with no other
    /// turn until it returns.
    func exclusive<T>(_ body: () throws -> T) rethrows -> T {
        if holdsTurn { return try body() }
        condition.lock()
        exclusiveWaiting += 1
        while exclusiveHeld || sharers > 0 { condition.wait() }
        exclusiveWaiting -= 1
        exclusiveHeld = true
        exclusiveTurns += 1
        condition.unlock()
        return try holding(body) {
            condition.lock()
            exclusiveHeld = false
            condition.broadcast()
            condition.unlock()
        }
    }

    private var holdsTurn: Bool { Thread.current.threadDictionary[holderKey] != nil }

    private func holding<T>(_ body: () throws -> T, release: () -> Void) rethrows -> T {
        Thread.current.threadDictionary[holderKey] = true
        defer {
            Thread.current.threadDictionary.removeObject(forKey: holderKey)
            release()
        }
        return try body()
    }

    private static let serial = Mutex(0)
    private static func nextSerial() -> Int { serial.withLock { $0 += 1; return $0 } }
}

import Dispatch
import Foundation
import Testing
@testable import DIPEngine

/// The pool behind every parallel region of the CPU backend (WorkerPool, CWorkerPool): a lost
/// wake-up would hang a fit, a part run twice or not at all would corrupt it. Serialized: the
/// pool takes one region at a time, and these tests' own long regions (eight parts on two cores)
/// running side by side would leave each other few regions on the pool.
@Suite("Worker pool", .serialized)
struct WorkerPoolTests {
    /// Per part: how often it ran and the thread it last ran on (each part writes only its own
    /// slots, so the parts do not race).
    final class Record: @unchecked Sendable {
        let runs: UnsafeMutableBufferPointer<Int>
        let threads: UnsafeMutableBufferPointer<pthread_t>
        init(parts: Int) {
            runs = .allocate(capacity: parts)
            runs.initialize(repeating: 0)
            threads = .allocate(capacity: parts)
            threads.initialize(repeating: pthread_self())
        }
        deinit {
            runs.deallocate()
            threads.deallocate()
        }
        func ran(_ part: Int) {
            runs[part] += 1
            threads[part] = pthread_self()
        }
    }

    @Test("every part of every region runs exactly once; on the pool, part 0 on the caller and each on its own thread",
          arguments: [2, 3, 8])
    func partsRunOnce(parts: Int) {
        let record = Record(parts: parts)
        var regions = 0, onPool = 0
        // Other suites' regions run at the same time and may hold the pool for long stretches
        // (then a region goes to Dispatch), so this runs regions until some have landed on the
        // pool, within a generous deadline.
        let deadline = Date().addingTimeInterval(60)
        while regions < 3000 || (onPool < 10 && Date() < deadline) {
            let pooled = WorkerPool.run(parts: parts) { record.ran($0) }
            regions += 1
            guard pooled else { continue }
            onPool += 1
            #expect(pthread_equal(record.threads[0], pthread_self()) != 0)
            #expect(Set(record.threads.map { UInt($0) }).count == parts)
        }
        #expect(Array(record.runs) == Array(repeating: regions, count: parts))
        #expect(onPool >= 10)
    }

    @Test("regions further apart than the workers stay awake: the sleeping workers are woken every time")
    func sleepingWorkersWake() {
        let record = Record(parts: 2)
        for gap in [0.0002, 0.003] {
            for _ in 0..<40 {
                Thread.sleep(forTimeInterval: gap)
                WorkerPool.run(parts: 2) { record.ran($0) }
            }
        }
        #expect(Array(record.runs) == [80, 80])
    }

    @Test("a region inside a region, and regions from several threads at once, run every part (on Dispatch where the pool is busy)")
    func nestedAndConcurrent() {
        let callers = 4, regions = 300
        let outer = Record(parts: callers)
        let inner = (0..<callers).map { _ in Record(parts: 3) }
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            for _ in 0..<regions {
                WorkerPool.run(parts: 3) { part in
                    inner[caller].runs[part] += 1
                    if part == 0 { WorkerPool.run(parts: 2) { if $0 == 1 { outer.runs[caller] += 1 } } }
                }
            }
        }
        for caller in 0..<callers { #expect(Array(inner[caller].runs) == [regions, regions, regions]) }
        #expect(Array(outer.runs) == Array(repeating: regions, count: callers))
    }

    @Test("ChannelParallel covers 0..<count once in contiguous blocks, one per thread")
    func channelBlocks() {
        for (threads, count) in [(2, 5), (3, 3), (4, 2), (8, 1000)] {
            let parts = min(threads, count)
            let seen = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
            seen.initialize(repeating: 0)
            defer { seen.deallocate() }
            let box = UncheckedBox(seen)
            ChannelParallel(threads: threads).runBlocks(count) { part, block in
                for c in block { box.value[c] += 1 }
                #expect(block == count * part / parts ..< count * (part + 1) / parts)
            }
            #expect(Array(seen) == Array(repeating: 1, count: count))
        }
    }

    @Test("claimed indices: each runs exactly once, on one of the parts, whatever the thread and index counts",
          arguments: [1, 2, 3, 8])
    func claimedIndicesRunOnce(threads: Int) {
        for count in [0, 1, 2, 7, 100] {
            // Per index: how often it ran and the part that ran it (each index's slots are
            // written by the one part that claimed it).
            let runs = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
            let parts = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
            runs.initialize(repeating: 0)
            parts.initialize(repeating: -1)
            defer {
                runs.deallocate()
                parts.deallocate()
            }
            ChannelParallel(threads: threads).runClaiming(count) { part, next in
                var last = -1
                while let index = next() {
                    #expect(index > last, "a part gets its indices in increasing order")
                    last = index
                    runs[index] += 1
                    parts[index] = part
                }
            }
            #expect(Array(runs.prefix(count)) == Array(repeating: 1, count: count))
            #expect(parts.prefix(count).allSatisfy { (0..<max(1, min(threads, count))).contains($0) })
        }
    }
}

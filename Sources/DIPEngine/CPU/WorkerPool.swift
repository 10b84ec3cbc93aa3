import CWorkerPool
import DIPCore
import Dispatch

/// Runs the parts of a parallel region on the pool of CWorkerPool (part 0 on the calling
/// thread, part p on worker p), whose workers spin briefly between regions instead of going to
/// sleep at once; where the pool cannot take a region (a nested region, another thread's region
/// already running, more than `DIP_POOL_MAX_PARTS` parts), on Dispatch's threads. Either way
/// every part runs exactly once and the call returns when all have returned, so which thread
/// ran a part never changes a result.
enum WorkerPool {
    /// Calls `body(p)` for every p in 0..<parts, in parallel. Returns true where the pool ran
    /// them (part 0 on this thread, part p on worker p), false where Dispatch did.
    @discardableResult
    static func run(parts: Int, _ body: (Int) -> Void) -> Bool {
        withoutActuallyEscaping(body) { body in
            var task = body
            let status = withUnsafeMutablePointer(to: &task) { pointer in
                dip_pool_run(parts, { context, part in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(part)
                }, pointer)
            }
            guard status != 0 else { return true }
            let box = UncheckedBox(body)
            // Dispatch's workers set their own signal mask; they compute here, so they block
            // the stop signals first (InterruptSignals).
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                InterruptSignals.blockInThisThread()
                box.value(part)
            }
            return false
        }
    }
}

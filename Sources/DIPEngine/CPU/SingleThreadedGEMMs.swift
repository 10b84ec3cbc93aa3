import CDNNL

extension CPUBackend {
    /// Runs `count` independent GEMMs, `gemm(j)`, on the backend's threads, each `dnnl_sgemm`
    /// on one OpenMP thread (`singleThreadedClaims`): nested OpenMP teams inside our threads
    /// would oversubscribe the cores, and a single-threaded GEMM's sums do not depend on the
    /// thread count, so the kernels that cut their work into fixed pieces this way give the same
    /// bits on any number of threads. Call it inside `withRuntime`; `what` names the work in the
    /// error when a GEMM fails.
    func singleThreadedGEMMs(_ count: Int, what: @autoclosure () -> String, _ gemm: (Int) -> dnnl_status_t) throws {
        try singleThreadedClaims(count, what: what()) { _, next in
            while let j = next() {
                let status = gemm(j)
                guard status == dnnl_success else { return status }
            }
            return dnnl_success
        }
    }

    /// Runs `body(part, next)` on each of the backend's threads (`ChannelParallel.runClaiming`:
    /// `next()` hands out 0..<count, each index once, to whichever thread asks first) with
    /// oneDNN single-threaded on that thread, for the same reasons as `singleThreadedGEMMs`;
    /// `body` takes indices until `next()` is nil and returns the first failing status of its
    /// oneDNN calls, or `dnnl_success`. What an index computes must not depend on the part
    /// that runs it (the part picks its scratch). Call it inside `withRuntime`.
    func singleThreadedClaims(_ count: Int, what: @autoclosure () -> String,
                              _ body: (_ part: Int, _ next: () -> Int?) -> dnnl_status_t) throws {
        let parallel = ChannelParallel(threads: threads)
        var status = [dnnl_status_t](repeating: dnnl_success, count: max(1, threads))
        status.withUnsafeMutableBufferPointer { status in
            parallel.runClaiming(count) { part, next in
                openMP.setNumThreads(1)
                status[part] = body(part, next)
            }
        }
        openMP.setNumThreads(Int32(threads))
        if let bad = status.first(where: { $0 != dnnl_success }) {
            try dnnlCheck(bad, "dnnl_sgemm for \(what())")
        }
    }
}

import CDNNL

extension CPUBackend {
    /// Runs `count` independent GEMMs, `gemm(j)`, split over the backend's threads with each
    /// `dnnl_sgemm` on one OpenMP thread: nested OpenMP teams inside our threads would
    /// oversubscribe the cores, and a single-threaded GEMM's sums do not depend on the thread
    /// count, so the kernels that cut their work into fixed pieces this way give the same bits
    /// on any number of threads. Call it inside `withRuntime`; `what` names the work in the
    /// error when a GEMM fails.
    func singleThreadedGEMMs(_ count: Int, what: @autoclosure () -> String, _ gemm: (Int) -> dnnl_status_t) throws {
        try singleThreadedBlocks(count, what: what()) { _, block in
            for j in block {
                let status = gemm(j)
                guard status == dnnl_success else { return status }
            }
            return dnnl_success
        }
    }

    /// Cuts 0..<count into one contiguous block per thread (`ChannelParallel.runBlocks`) and
    /// runs `body(part, block)` with oneDNN single-threaded on that thread, for the same reasons
    /// as `singleThreadedGEMMs`; `body` returns the first failing status of its oneDNN calls,
    /// or `dnnl_success`. Call it inside `withRuntime`.
    func singleThreadedBlocks(_ count: Int, what: @autoclosure () -> String,
                              _ body: (_ part: Int, _ block: Range<Int>) -> dnnl_status_t) throws {
        let parallel = ChannelParallel(threads: threads)
        var status = [dnnl_status_t](repeating: dnnl_success, count: max(1, threads))
        status.withUnsafeMutableBufferPointer { status in
            parallel.runBlocks(count) { part, block in
                openMP.setNumThreads(1)
                status[part] = body(part, block)
            }
        }
        openMP.setNumThreads(Int32(threads))
        if let bad = status.first(where: { $0 != dnnl_success }) {
            try dnnlCheck(bad, "dnnl_sgemm for \(what())")
        }
    }
}

import CDNNL

extension CPUBackend {
    /// Runs `count` independent GEMMs, `gemm(j)`, split over the backend's threads with each
    /// `dnnl_sgemm` on one OpenMP thread: nested OpenMP teams inside our threads would
    /// oversubscribe the cores, and a single-threaded GEMM's sums do not depend on the thread
    /// count, so the kernels that cut their work into fixed pieces this way give the same bits
    /// on any number of threads. Call it inside `withRuntime`; `what` names the work in the
    /// error when a GEMM fails.
    func singleThreadedGEMMs(_ count: Int, what: @autoclosure () -> String, _ gemm: (Int) -> dnnl_status_t) throws {
        let parallel = ChannelParallel(threads: threads)
        var status = [dnnl_status_t](repeating: dnnl_success, count: count)
        status.withUnsafeMutableBufferPointer { status in
            parallel.run(count) { j in
                openMP.setNumThreads(1)
                status[j] = gemm(j)
            }
        }
        openMP.setNumThreads(Int32(threads))
        if let bad = status.first(where: { $0 != dnnl_success }) {
            try dnnlCheck(bad, "dnnl_sgemm for \(what())")
        }
    }
}

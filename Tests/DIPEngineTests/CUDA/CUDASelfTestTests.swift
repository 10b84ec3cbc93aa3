import Testing
@testable import DIPEngine

/// The on-GPU checks, run as a test where there is a GPU (never here or in CI: the GPU machine
/// runs the same checks through `dip-report gpu-selftest`).
@Suite("CUDA self-test on a GPU")
struct CUDASelfTestTests {
    @Test("every driver, PTX, graph and cuDNN check passes",
          .enabled(if: CUDATestEnvironment.gpu != nil, "needs an NVIDIA driver (libcuda.so.1) and a CUDA device"))
    func allPass() {
        for check in CUDASelfTest.run() {
            #expect(check.passed, "\(check.name): \(check.detail)")
        }
    }

    @Test("the self-test PTX declares an ISA every CUDA 11+ driver accepts")
    func ptxHeader() {
        let lines = CUDASelfTest.axpyPTX.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.prefix(3) == [".version 7.0", ".target sm_70", ".address_size 64"])
        #expect(CUDASelfTest.axpyPTX.contains(".visible .entry dip_selftest_axpy("))
    }

    @Test("NHWC and NCHW conversions are inverse and put channels innermost")
    func layouts() {
        let v: [Float] = (0..<24).map(Float.init)  // [C=2][H=3][W=4]
        let nhwc = CUDASelfTest.toNHWC(v, 2, 3, 4)
        #expect(Array(nhwc.prefix(4)) == [0, 12, 1, 13])
        #expect(CUDASelfTest.toNCHW(nhwc, 2, 3, 4) == v)
        #expect(CUDASelfTest.expectedAxpy([1, 2], [3, 4], 0.5) == [2.5, 4])
    }
}

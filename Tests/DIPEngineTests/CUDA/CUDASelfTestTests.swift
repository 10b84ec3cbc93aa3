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

    @Test("NHWC and NCHW conversions are inverse and put channels innermost; filters go to KRSC")
    func layouts() {
        let v: [Float] = (0..<24).map(Float.init)  // [C=2][H=3][W=4]
        let nhwc = Layout.hwc(fromCHW: v, channels: 2, height: 3, width: 4)
        #expect(Array(nhwc.prefix(4)) == [0, 12, 1, 13])
        #expect(Layout.chw(fromHWC: nhwc, channels: 2, height: 3, width: 4) == v)
        // Two [O=2][I=3][1][2] filters: each output channel is its own block.
        let w: [Float] = (0..<12).map(Float.init)
        let krsc = Layout.hwc(fromCHW: w, channels: 3, height: 1, width: 2, items: 2)
        #expect(krsc == [0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11])
        #expect(Layout.chw(fromHWC: krsc, channels: 3, height: 1, width: 2, items: 2) == w)
        #expect(CUDASelfTest.expectedAxpy([1, 2], [3, 4], 0.5) == [2.5, 4])
    }
}

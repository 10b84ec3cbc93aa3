import CLayerKernels
import Foundation

/// One test at a time may force CLayerKernels' version (`dip_layer_kernels_force`, which is
/// process-wide): Swift Testing runs tests in parallel, and a test that forced the baseline
/// version while another forced AVX2 could leave either one's turn on the other's version, a
/// version untested without a failure to show it. Tests that do not force any version may run
/// meanwhile on whichever is forced: every version gives the same bits.
enum LayerKernelVersions {
    private static let lock = NSLock()

    /// Waits for the other forcing tests; the caller forces versions until `end()`.
    static func begin() { lock.lock() }

    /// The best version again, and the next forcing test's turn.
    static func end() {
        dip_layer_kernels_force(-1)
        lock.unlock()
    }
}

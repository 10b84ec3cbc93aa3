/// Eight floats from `p`, any alignment: the vector loads of the host kernels written in Swift
/// (Adam, upsampling, the Winograd transforms, the plane sums).
@inline(__always)
func loadLanes(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

/// Eight floats to `p`, any alignment.
@inline(__always)
func storeLanes(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

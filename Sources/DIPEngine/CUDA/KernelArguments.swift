import CCUDA

/// One argument of a kernel launch. Our kernels are `extern "C"` functions taking raw device
/// pointers and scalars; the case must be the C parameter's exact type (`int` is int32,
/// `long long` and `size_t` int64, `float` float, `T *` pointer), since the driver copies
/// each argument's bytes as the kernel's parameter layout says and cannot check them.
public enum KernelArgument: Sendable, Equatable {
    /// A device address (`T *`).
    case pointer(CUdeviceptr)
    /// `int`.
    case int32(Int32)
    /// `unsigned int`.
    case uint32(UInt32)
    /// `long long`, `int64_t`, `size_t`.
    case int64(Int64)
    /// `float`.
    case float(Float)
    /// `double`.
    case double(Double)

    /// The start of a device buffer.
    public static func buffer(_ buffer: DeviceBuffer) -> KernelArgument { .pointer(buffer.address) }

    /// A device address of the device trainer's bookkeeping.
    static func address(_ p: DevicePointer) -> KernelArgument { .pointer(p.address) }

    /// An `int` from a Swift size (the kernels index with 32 bits; sizes stay below 2^31).
    static func int(_ value: Int) -> KernelArgument { .int32(Int32(value)) }
}

/// The `kernelParams` array cuLaunchKernel takes: one pointer per argument, each pointing at
/// that argument's value. The values live in one 8-byte-aligned block, each in its own 8-byte
/// slot so every type is naturally aligned. The driver copies the values at launch (and into
/// the graph node when capturing), so the block only has to outlive the call, which the
/// closure scope guarantees (a value whose last use is reading a pointer out of it could be
/// freed before the call that uses the pointer).
enum KernelParameters {
    /// Calls `body` with the kernelParams array for `arguments` (nil when there are none).
    static func with<R>(_ arguments: [KernelArgument],
                        _ body: (UnsafeMutablePointer<UnsafeMutableRawPointer?>?) throws -> R) rethrows -> R {
        guard !arguments.isEmpty else { return try body(nil) }
        let values = UnsafeMutableRawPointer.allocate(byteCount: arguments.count * 8, alignment: 8)
        let pointers = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: arguments.count)
        defer {
            values.deallocate()
            pointers.deallocate()
        }
        values.initializeMemory(as: UInt8.self, repeating: 0, count: arguments.count * 8)
        for (index, argument) in arguments.enumerated() {
            let slot = values + index * 8
            switch argument {
            case let .pointer(value): slot.storeBytes(of: value, as: CUdeviceptr.self)
            case let .int32(value): slot.storeBytes(of: value, as: Int32.self)
            case let .uint32(value): slot.storeBytes(of: value, as: UInt32.self)
            case let .int64(value): slot.storeBytes(of: value, as: Int64.self)
            case let .float(value): slot.storeBytes(of: value, as: Float.self)
            case let .double(value): slot.storeBytes(of: value, as: Double.self)
            }
            (pointers + index).initialize(to: slot)
        }
        return try body(pointers)
    }
}

/// Grid or block extent of a launch.
public struct LaunchExtent: Sendable, Equatable, CustomStringConvertible {
    /// Extent along x, y and z; each at least 1.
    public var x: Int, y: Int, z: Int

    /// An extent of x by y by z.
    public init(_ x: Int, _ y: Int = 1, _ z: Int = 1) {
        self.x = x
        self.y = y
        self.z = z
    }

    /// The number of blocks needed to cover `count` items with `perBlock` each.
    public static func covering(_ count: Int, perBlock: Int) -> LaunchExtent {
        LaunchExtent(max(1, (count + perBlock - 1) / perBlock))
    }

    /// Blocks or threads in all.
    public var total: Int { x * y * z }
    /// "x×y×z".
    public var description: String { "\(x)x\(y)x\(z)" }
}

/// The driver's launch limits, checked before the call so a wrong launch names its numbers
/// instead of coming back as CUDA_ERROR_INVALID_VALUE. The same on every GPU since Kepler.
enum LaunchLimits {
    static let threadsPerBlock = 1024
    static let blockZ = 64
    static let gridX = Int(Int32.max)
    static let gridYZ = 65535

    static func check(grid: LaunchExtent, block: LaunchExtent, kernel: String) throws {
        let where_ = "launch of \(kernel) (grid \(grid), block \(block))"
        guard min(grid.x, grid.y, grid.z, block.x, block.y, block.z) >= 1 else {
            throw CUDAError.invalidArgument("\(where_): every extent must be at least 1")
        }
        guard block.total <= threadsPerBlock, block.z <= blockZ else {
            throw CUDAError.invalidArgument("\(where_): at most \(threadsPerBlock) threads per block and \(blockZ) along z")
        }
        guard grid.x <= gridX, grid.y <= gridYZ, grid.z <= gridYZ else {
            throw CUDAError.invalidArgument("\(where_): grid at most \(gridX) x \(gridYZ) x \(gridYZ)")
        }
    }
}

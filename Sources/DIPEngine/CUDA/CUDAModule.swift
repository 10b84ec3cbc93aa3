import CCUDA

/// A module loaded from PTX text: the driver JIT-compiles it for the current device.
public final class CUDAModule: @unchecked Sendable {
    /// The context the module is loaded in.
    public let context: CUDAContext
    /// A name for messages (the PTX file's name, say).
    public let name: String
    let handle: CUmodule
    /// What the JIT said while compiling (warnings, register use), possibly empty.
    public let infoLog: String

    /// The JIT log buffers' size: ptxas messages for a whole file of kernels fit easily.
    static let logBytes = 16 * 1024

    /// Loads `ptx` (NUL-terminated here). A PTX the driver refuses (a syntax error, or a PTX
    /// ISA newer than the driver: CUDA_ERROR_UNSUPPORTED_PTX_VERSION) throws
    /// `CUDAError.moduleLoad` carrying the JIT's error log.
    public init(context: CUDAContext, ptx: String, name: String) throws {
        self.context = context
        self.name = name
        try context.bind()
        var errorLog = [CChar](repeating: 0, count: Self.logBytes)
        var infoLog = [CChar](repeating: 0, count: Self.logBytes)
        var module: CUmodule?
        let result: CUresult = errorLog.withUnsafeMutableBufferPointer { errorBuffer in
            infoLog.withUnsafeMutableBufferPointer { infoBuffer in
                var options: [CUjit_option] = [CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                                               CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES]
                // Size options are passed by value in the pointer slot (the driver's convention).
                var values: [UnsafeMutableRawPointer?] = [
                    UnsafeMutableRawPointer(errorBuffer.baseAddress), UnsafeMutableRawPointer(bitPattern: Self.logBytes),
                    UnsafeMutableRawPointer(infoBuffer.baseAddress), UnsafeMutableRawPointer(bitPattern: Self.logBytes),
                ]
                return ptx.withCString { text in
                    context.api.cuModuleLoadDataEx(&module, text, UInt32(options.count), &options, &values)
                }
            }
        }
        self.infoLog = String(cBuffer: infoLog)
        guard result == CUDA_SUCCESS, let module else {
            let (errorName, text) = CUDADriver.describe(context.api, result)
            throw CUDAError.moduleLoad(module: name, code: result, name: errorName, text: text, log: String(cBuffer: errorLog))
        }
        handle = module
        entryNames = Self.entries(in: ptx)
    }

    /// The kernels the PTX defines (its `.entry` directives), in file order.
    public let entryNames: [String]

    /// The names of a PTX text's `.entry` directives.
    static func entries(in ptx: String) -> [String] {
        ptx.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: ".entry ") else { return nil }
            let name = line[range.upperBound...].prefix { $0 != "(" && $0 != " " }
            return name.isEmpty ? nil : String(name)
        }
    }

    deinit {
        try? context.bind()
        _ = context.api.cuModuleUnload(handle)
    }

    /// The kernel `name` (its extern "C" name).
    public func function(_ name: String) throws -> CUDAFunction {
        try context.bind()
        var function: CUfunction?
        try context.check(context.api.cuModuleGetFunction(&function, handle, name), "cuModuleGetFunction(\(name) in \(self.name))")
        guard let function else { throw CUDAError.invalidArgument("cuModuleGetFunction(\(name)) returned no function") }
        return CUDAFunction(module: self, name: name, handle: function)
    }
}

/// A kernel of a loaded module (keeps the module alive).
public final class CUDAFunction: @unchecked Sendable {
    /// The module it lives in.
    public let module: CUDAModule
    /// Its extern "C" name.
    public let name: String
    let handle: CUfunction

    init(module: CUDAModule, name: String, handle: CUfunction) {
        self.module = module
        self.name = name
        self.handle = handle
    }

    /// Enqueues the kernel on `stream` (capturable in a graph). Extents are checked against
    /// the driver's limits first; errors of the kernel itself surface at the next synchronize.
    public func launch(grid: LaunchExtent, block: LaunchExtent, sharedBytes: Int = 0, on stream: CUDAStream,
                       _ arguments: [KernelArgument]) throws {
        try LaunchLimits.check(grid: grid, block: block, kernel: name)
        let context = module.context
        try context.bind()
        let result = KernelParameters.with(arguments) { parameters in
            context.api.cuLaunchKernel(handle, UInt32(grid.x), UInt32(grid.y), UInt32(grid.z),
                                       UInt32(block.x), UInt32(block.y), UInt32(block.z),
                                       UInt32(sharedBytes), stream.handle, parameters, nil)
        }
        try context.check(result,
                          "cuLaunchKernel(\(name), grid \(grid), block \(block), \(arguments.count) arguments)")
    }
}

import DIPTestSupport
import Foundation
import Testing
@testable import DIPEngine

@Suite("CUDA driver loading")
struct CUDADriverTests {
    @Test("without libcuda.so.1 the driver reports no NVIDIA driver with dlerror's reason",
          .enabled(if: !CUDATestEnvironment.driverPresent, "this machine has libcuda.so.1"))
    func noDriver() throws {
        let error = try #require(throws: CUDAError.self) { try CUDADriver.load(CUDADriver.libraryName) }
        guard case let .driverNotFound(reason) = error else {
            Issue.record("expected driverNotFound, got \(error)")
            return
        }
        #expect(reason.hasPrefix("libcuda.so.1: "))
        #expect(error.description.hasPrefix("no NVIDIA driver (libcuda.so.1: "))
        #expect(error.description.contains("cannot open shared object file"))
        // The process-wide copy says the same, every time it is asked.
        #expect(throws: error) { try CUDADriver.shared() }
        #expect(throws: error) { try CUDADriver.shared() }
    }

    @Test("a file that is no library is reported with the loader's reason")
    func notALibrary() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("not-libcuda-\(getpid()).so").path
        try Data("not an ELF file".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let error = try #require(throws: CUDAError.self) { try CUDADriver.load(file) }
        #expect(error.description.hasPrefix("no NVIDIA driver (\(file): "))
    }

    @Test("a library without cuGetProcAddress_v2 is a driver too old, named")
    func tooOld() throws {
        let error = try #require(throws: CUDAError.self) { try CUDADriver.load("libz.so.1") }
        #expect(error == .driverTooOld("libz.so.1 has no cuGetProcAddress_v2"))
        #expect(error.description.contains("CUDA 12.0 or later"))
    }

    /// The version each driver function is resolved at must be the one whose PFN typedef
    /// scripts/check-ccuda-header.sh compares the signature with; both lists are checked here
    /// against each other, so neither can drift alone.
    @Test("each driver symbol is resolved at the CUDA version its signature was checked against")
    func versionsMatchHeaderCheck() throws {
        let check = try String(contentsOf: SharedTestData.packageRoot.appendingPathComponent("scripts/ccuda-check/check.c"), encoding: .utf8)
        var checked: [String: Int32] = [:]
        let pattern = /SAME\(CCUDA_PFN_(cu[A-Za-z0-9_]+), PFN_\1_v([0-9]+)\)/
        for match in check.matches(of: pattern) {
            checked[String(match.1)] = Int32(match.2)
        }
        checked["cuGetProcAddress"] = nil  // found with dlsym, not through itself
        let resolved = Dictionary(uniqueKeysWithValues: CUDADriverAPI.symbols.map { ($0.name, $0.version) })
        #expect(resolved == checked)
        #expect(resolved.count == 43)
    }

    @Test("the probe says what is missing without throwing", .enabled(if: !CUDATestEnvironment.driverPresent, "this machine has libcuda.so.1"))
    func probeWithoutDriver() {
        let probe = CUDAProbe.run()
        #expect(!probe.driver.found)
        #expect(probe.devices.isEmpty)
        #expect(!probe.usable)
        #expect(probe.lines.first?.hasPrefix("CUDA driver: none: no NVIDIA driver (libcuda.so.1: ") == true)
        let encoded = try? JSONEncoder().encode(probe)
        #expect(encoded.flatMap { try? JSONDecoder().decode(CUDAProbe.self, from: $0) } == probe)
    }

    @Test("launch extents are checked before the driver sees them")
    func launchLimits() throws {
        try LaunchLimits.check(grid: LaunchExtent(100_000), block: LaunchExtent(256), kernel: "k")
        try LaunchLimits.check(grid: LaunchExtent(4, 65535, 2), block: LaunchExtent(32, 32), kernel: "k")
        #expect(throws: CUDAError.invalidArgument("launch of pad (grid 1x1x1, block 1025x1x1): at most 1024 threads per block and 64 along z")) {
            try LaunchLimits.check(grid: LaunchExtent(1), block: LaunchExtent(1025), kernel: "pad")
        }
        #expect(throws: CUDAError.self) { try LaunchLimits.check(grid: LaunchExtent(0), block: LaunchExtent(32), kernel: "k") }
        #expect(throws: CUDAError.self) { try LaunchLimits.check(grid: LaunchExtent(1, 65536), block: LaunchExtent(32), kernel: "k") }
        #expect(throws: CUDAError.self) { try LaunchLimits.check(grid: LaunchExtent(1), block: LaunchExtent(1, 1, 65), kernel: "k") }
        #expect(LaunchExtent.covering(1000, perBlock: 256) == LaunchExtent(4))
        #expect(LaunchExtent.covering(0, perBlock: 256) == LaunchExtent(1))
    }

    @Test("kernel arguments are packed as the C parameters' bytes, one aligned slot each")
    func argumentPacking() {
        let arguments: [KernelArgument] = [.pointer(0x7f00_1234_5678), .int32(-2), .int64(1 << 40), .float(1.5), .double(-0.25)]
        func bytes(_ pointer: UnsafeMutableRawPointer?, _ count: Int) -> [UInt8] {
            (0..<count).map { pointer!.load(fromByteOffset: $0, as: UInt8.self) }
        }
        KernelParameters.with(arguments) { parameters in
            guard let parameters else {
                Issue.record("no kernelParams for five arguments")
                return
            }
            #expect(bytes(parameters[0], 8) == withUnsafeBytes(of: UInt64(0x7f00_1234_5678)) { Array($0) })
            #expect(bytes(parameters[1], 4) == withUnsafeBytes(of: Int32(-2)) { Array($0) })
            #expect(bytes(parameters[2], 8) == withUnsafeBytes(of: Int64(1 << 40)) { Array($0) })
            #expect(bytes(parameters[3], 4) == withUnsafeBytes(of: Float(1.5).bitPattern) { Array($0) })
            #expect(bytes(parameters[4], 8) == withUnsafeBytes(of: Double(-0.25).bitPattern) { Array($0) })
            for index in arguments.indices {
                #expect(UInt(bitPattern: parameters[index]) % 8 == 0)
            }
        }
        KernelParameters.with([]) { #expect($0 == nil) }
    }
}

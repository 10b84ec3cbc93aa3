import DIPCore
import DIPTestSupport
import Foundation

/// Runs the built `dip-report` executable, as a user would, and collects what it printed.
///
/// The executable is found beside the test bundle (`swift build --build-tests` puts both in
/// `.build/<triple>/debug`), or at `$DIP_REPORT_BIN`.
enum DIPReportTool {
    /// What one run printed and returned.
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The executable's path.
    static let executable: String = {
        if let env = ProcessInfo.processInfo.environment["DIP_REPORT_BIN"], !env.isEmpty { return env }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("dip-report").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let fallback = SharedTestData.packageRoot.appendingPathComponent(".build/debug/dip-report").path
        return fallback
    }()

    /// Longest a run may take before it is killed: a hung tool then fails its test (status 9,
    /// SIGKILL) instead of stalling the whole test run, which Swift Testing's time limits cannot
    /// interrupt while this waits for the process.
    static let deadline: TimeInterval = 15 * 60

    /// Runs `dip-report arguments...` in `directory` and waits for it (at most `killedAfter`
    /// seconds, `deadline` unless said); with `launcher` (a program and its arguments, e.g.
    /// `taskset -c 0`), through it; `extra` added to the environment.
    static func run(_ arguments: [String], in directory: String, launcher: [String] = [],
                    environment extra: [String: String] = [:], killedAfter: TimeInterval = deadline) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launcher.first ?? executable)
        process.arguments = launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [executable] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var environment = ProcessInfo.processInfo.environment
        // Set, so the tool does not restart itself with it (OpenMPLaunch).
        environment["GOMP_SPINCOUNT"] = environment["GOMP_SPINCOUNT"] ?? "1000"
        environment["DIP_FONTS"] = SharedTestData.packageRoot.appendingPathComponent("fonts").path
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + killedAfter, execute: watchdog)
        defer { watchdog.cancel() }
        // Read both pipes while it runs: a full pipe would block the tool.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        DispatchQueue.global().async(group: group) { outData = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        group.wait()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// A scratch folder with a small gray test image (16x16, `image.png`) and a Bernoulli mask
/// (`mask.png`), removed when the test ends.
final class Scratch {
    let path: String

    init() throws {
        path = TestFolder.path("dip-cli")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var image = Image(channels: 1, height: 16, width: 16)
        for y in 0..<16 { for x in 0..<16 { image.pixels[y * 16 + x] = Float((x * 10 + y * 3) % 256) / 255 } }
        try PNGCodec.write(image, to: file("image.png"))
        try PNGCodec.write(try BernoulliMask.make(channels: 1, height: 16, width: 16, keepFraction: 0.5, seed: 1),
                           to: file("mask.png"))
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The path of `name` in the scratch folder.
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Whether `name` exists (a dangling link counts).
    func exists(_ name: String) -> Bool {
        var info = stat()
        return lstat(file(name), &info) == 0
    }

    /// Runs the tool in this folder (killed after `killedAfter` seconds; `DIPReportTool.deadline`
    /// unless said).
    func run(_ arguments: [String], launcher: [String] = [], environment: [String: String] = [:],
             killedAfter: TimeInterval = DIPReportTool.deadline) throws -> DIPReportTool.Result {
        try DIPReportTool.run(arguments, in: path, launcher: launcher, environment: environment, killedAfter: killedAfter)
    }

    /// Runs `inpaint` on the small image with the smallest network, a few iterations and one
    /// thread, plus `extra`.
    func inpaint(_ extra: [String], iterations: Int = 3) throws -> DIPReportTool.Result {
        try run(["inpaint", "image.png", "--net", "library-depth2", "--iterations", "\(iterations)", "--threads", "1"] + extra)
    }
}

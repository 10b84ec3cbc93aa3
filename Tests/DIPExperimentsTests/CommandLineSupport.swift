import DIPCore
import DIPEngine
import DIPExperiments
import DIPTestSupport
import Foundation

/// Runs the built `dip-report` executable (tests of what a user sees: signals, exit codes,
/// concurrent processes, Slurm).
enum CLI {
    /// The executable beside the test bundle (`swift build --build-tests` builds both), else in
    /// .build/debug; nil when neither exists.
    static let executable: String? = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("dip-report").path
        let debug = SharedTestData.packageRoot.appendingPathComponent(".build/debug/dip-report").path
        return [beside, debug].first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// A started process whose output goes to a file (read it with `output`).
    final class Running: @unchecked Sendable {
        let process = Process()
        let log: String

        /// Starts dip-report with `arguments`, or with `wrapper` first (a command such as
        /// `timeout 5` that runs dip-report, given as its last word).
        init(_ arguments: [String], environment extra: [String: String] = [:], log: String, wrapper: [String] = []) throws {
            self.log = log
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.executableURL = URL(fileURLWithPath: wrapper.first ?? CLI.executable!)
            process.arguments = wrapper.isEmpty ? arguments : Array(wrapper.dropFirst()) + [CLI.executable!] + arguments
            var env = ProcessInfo.processInfo.environment
            env["GOMP_SPINCOUNT"] = env["GOMP_SPINCOUNT"] ?? "1000"
            for (k, v) in extra { env[k] = v }
            process.environment = env
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        /// Sends a signal.
        func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

        /// Waits for the end (at most `timeout` seconds, then kills it) and returns the status.
        @discardableResult
        func wait(timeout: Double = 300) -> Int32 {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning, Date() < deadline { usleep(50_000) }
            if process.isRunning { process.terminate(); process.waitUntilExit(); return -1 }
            process.waitUntilExit()
            return process.terminationStatus
        }

        /// What it printed so far.
        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    }

    /// Runs to the end; (status, output).
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 300) throws -> (Int32, String) {
        let p = try Running(arguments, environment: environment, log: TestFolder.path("dip-cli", suffix: ".log"))
        let status = p.wait(timeout: timeout)
        defer { try? FileManager.default.removeItem(atPath: p.log) }
        return (status, p.output)
    }

    /// Polls `condition` every `interval` microseconds for at most `timeout` seconds.
    @discardableResult
    static func waitUntil(timeout: Double, interval: UInt32 = 50_000, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(interval)
        }
        return condition()
    }

    /// Files under `folder` whose name has `part`.
    static func files(under folder: String, containing part: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var found: [String] = []
        while let rel = walker.nextObject() as? String {
            if (rel as NSString).lastPathComponent.contains(part) { found.append(rel) }
        }
        return found
    }

    /// A user catalog with one DIP experiment `id` on a 64x64 crop of kate: a depth-3 net
    /// (8 channels unless told) running `iterations` Adam steps under the paper profile (which keeps them), so a
    /// test can choose how long a fit lasts.
    static func slowCatalog(id: String, iterations: Int, channels: Int = 8, in folder: String) throws -> String {
        var config = FitConfig(network: SkipConfig.uniform(depth: 3, channels: channels, skip: 4))
        config.iterations = iterations
        config.psnrEvery = 10
        config.optimizer = .adam(learningRate: 0.01)
        var pre = Preprocessing()
        pre.centreCrop = ImageSize(width: 64, height: 64)
        let e = Experiment(id: id, group: "test", title: "a fit of chosen length", description: "tests",
                           runs: [RunSpec(label: "\(iterations) iterations", images: [ImageRef(name: "kate", file: "dip-inpainting/kate.png")],
                                          preprocessing: pre, mask: .seedReportText, method: .dip(config))])
        let path = folder + "/\(id).json"
        try Data(try Catalog.json([e]).utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}

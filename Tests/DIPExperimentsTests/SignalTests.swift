import DIPCore
import DIPEngine
import Foundation
import Testing
@testable import DIPExperiments

private func tempFolder() -> String {
    let p = NSTemporaryDirectory() + "dip-cli-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

private let canRunCLI = CLI.executable != nil && experimentData != nil

/// What `timeout`, `kill`, Slurm and a user's Ctrl-C do to a running dip-report.
@Suite("Signals and concurrent runs, through the executable", .serialized)
struct SignalTests {
    /// Starts `run` of a long fit and waits until the fit is under way (its claim exists and a
    /// second has passed).
    private func startLongRun(_ folder: String, channels: Int = 8, extra: [String] = []) throws -> (CLI.Running, ResultStore) {
        let catalog = try CLI.slowCatalog(id: "long", iterations: 100_000, channels: channels, in: folder)
        let results = folder + "/results"
        let p = try CLI.Running(["run", "long", "--catalog", catalog, "--profile", "paper", "--seeds", "0", "--results", results,
                                 "--threads", "1", "--no-estimate", "--data", experimentData!] + extra, log: folder + "/log")
        let store = try ResultStore(root: results)
        let started = CLI.waitUntil(timeout: 120) { !CLI.files(under: results, containing: ".claim").isEmpty }
        #expect(started, "the run never started: \(p.output)")
        usleep(1_500_000)
        return (p, store)
    }

    @Test("SIGTERM stops `run` after the current iteration: the fit is checkpointed, the claim released, exit 143",
          .enabled(if: canRunCLI, "needs the built dip-report and ../shared/data"))
    func runTerminated() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (p, store) = try startLongRun(folder)
        p.signal(SIGTERM)
        #expect(p.wait(timeout: 60) == 143, "\(p.output)")
        #expect(p.output.contains("checkpointed at iteration"), "\(p.output)")
        #expect(CLI.files(under: store.root, containing: ".checkpoint").count == 1)
        #expect(CLI.files(under: store.root, containing: ".claim").isEmpty, "the claim is given back")
        #expect(store.scan().records.isEmpty)
    }

    @Test("SIGTERM stops `inpaint` after the current iteration and it still writes the picture and the curve (exit 143)",
          .enabled(if: CLI.executable != nil, "needs the built dip-report"))
    func inpaintTerminated() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var img = Image(channels: 1, height: 48, width: 48)
        img.pixels.withUnsafeMutableBufferPointer { RandomStream(seed: 3, purpose: .auxiliary).fillUniform($0, low: 0, high: 1) }
        try PNGCodec.write(img, to: folder + "/in.png")
        let p = try CLI.Running(["inpaint", folder + "/in.png", "--bernoulli", "0.5", "--net", "text", "--iterations", "1000000",
                                 "--threads", "1", "--out", folder + "/out.png", "--curve", folder + "/curve.json"], log: folder + "/log")
        usleep(4_000_000)
        p.signal(SIGTERM)
        #expect(p.wait(timeout: 60) == 143, "\(p.output)")
        #expect(FileManager.default.fileExists(atPath: folder + "/out.png"), "\(p.output)")
        #expect(FileManager.default.fileExists(atPath: folder + "/curve.json"))
        #expect(p.output.contains("status: cancelled"), "\(p.output)")
    }

    @Test("a second signal quits at once and leaves no temporary file behind, even while a checkpoint is being written",
          .enabled(if: canRunCLI, "needs the built dip-report and ../shared/data"))
    func secondSignal() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A wide net (a checkpoint of about 10 MB); the second signal is sent as soon as the
        // checkpoint the first one asks for is being written.
        let (p, store) = try startLongRun(folder, channels: 128)
        p.signal(SIGINT)
        let caught = CLI.waitUntil(timeout: 30, interval: 1_000) { !CLI.files(under: store.root, containing: ".tmp-").isEmpty }
        p.signal(SIGINT)
        #expect(caught, "no checkpoint write was seen")
        #expect(p.wait(timeout: 60) == 130, "\(p.output)")
        #expect(CLI.files(under: store.root, containing: ".tmp-").isEmpty)
    }

    @Test("two `run`s on one results folder: each run is fitted once, both exit 0, nothing is left over",
          .enabled(if: canRunCLI, "needs the built dip-report and ../shared/data"))
    func twoRunners() throws {
        let folder = tempFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let catalog = try CLI.slowCatalog(id: "pair", iterations: 60, in: folder)
        let results = folder + "/results"
        let args = ["run", "pair", "--catalog", catalog, "--profile", "paper", "--seeds", "0,1,2", "--results", results,
                    "--jobs", "1", "--threads", "1", "--no-estimate", "--data", experimentData!]
        let a = try CLI.Running(args, log: folder + "/a.log"), b = try CLI.Running(args, log: folder + "/b.log")
        #expect(a.wait() == 0, "\(a.output)")
        #expect(b.wait() == 0, "\(b.output)")
        let lines = (a.output + b.output).split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("done ") }.count == 3, "\(a.output)\n\(b.output)")
        let store = try ResultStore(root: results)
        #expect(store.scan().records.count == 3 && store.scan().problems.isEmpty)
        #expect(store.sweep(remove: false).isEmpty)
        #expect(CLI.files(under: results, containing: ".checkpoint").isEmpty && CLI.files(under: results, containing: ".claim").isEmpty)
    }
}

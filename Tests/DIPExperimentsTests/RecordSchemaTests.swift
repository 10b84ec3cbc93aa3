import DIPCore
import DIPEngine
import DIPTestSupport
import Foundation
import Testing
@testable import DIPExperiments

@Suite("Record schema and result store")
struct RecordSchemaTests {
    static func tempDir() -> String {
        let p = TestFolder.path("dip-store")
        try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    @Test("a record's commit is the one the tool was built from, fixed at build time: a commit of this checkout, whatever the working folder",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/git"), "needs git"))
    func commitOfTheBuild() throws {
        // Read at run time it named whatever the checkout (or, before, the working folder's
        // repository) held when the run ended, not the code that ran.
        let commit = SoftwareInfo.current(backend: try ComputeDevice.cpu.factory(math: .tf32)).commit
        #expect(commit == buildCommit)
        let sha = String(commit.prefix(40))
        #expect(sha.count == 40 && sha.allSatisfy(\.isHexDigit) && (commit.count == 40 || commit.dropFirst(40) == "+dirty"), "\(commit)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        p.arguments = ["-C", SharedTestData.packageRoot.path, "cat-file", "-e", sha + "^{commit}"]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(sha) is no commit of \(SharedTestData.packageRoot.path)")
    }

    static func sampleRecord(seed: UInt64 = 0) throws -> RunRecord {
        let spec = Catalog.experiments[0].runs[0]
        let conf = RunConfiguration(imageFile: "bm3d/house.png", preprocessing: spec.preprocessing, mask: spec.mask, method: spec.method)
        let key = RunKey(experiment: "table1-paper", image: "house", configHash: try conf.hash(), seed: seed)
        return RunRecord(key: key, group: "experiment1", label: spec.label, profile: "smoke", configuration: conf,
                         imageSHA256: "00", size: ImageSize(width: 4, height: 4), channels: 1, maskSummary: "m",
                         holeFraction: 0.5, corruptedPSNR: 6, status: .done, stoppedAt: nil, iterations: 2,
                         curve: [CurvePoint(iteration: 0, loss: 0.1, psnr: .infinity, psnrHoles: 20, psnrKnown: 30)],
                         losses: [0.1, 0.05], backtracks: [], final: Scores(psnr: 21, psnrHoles: 18, ssim: 0.5),
                         best: Scores(psnr: 22), bestIteration: 0, worstDrop: nil, timings: FitTimings(),
                         wallSeconds: 1, resumes: 0, finishedAt: "2025-01-01T00:00:00Z",
                         machine: MachineInfo(host: "h", os: "o", cpu: "c", cores: 2, threads: 2),
                         software: SoftwareInfo(tool: "0", commit: "x", oneDNN: "2.6.3", backend: "cpu"),
                         images: [.final: ResultStore.imageFileName(key, .final)])
    }

    @Test("a saved record loads back equal, with its pictures, and a scan finds it")
    func roundTrip() throws {
        let store = try ResultStore(root: Self.tempDir())
        let record = try Self.sampleRecord()
        let img = Image(channels: 1, height: 4, width: 4, value: Float(51) / 255)  // exact in 8-bit PNG
        try store.save(record, images: [.final: img])
        let loaded = try #require(try store.load(record.key))
        #expect(loaded.key == record.key)
        #expect(loaded.curve == record.curve)
        #expect(loaded.final == record.final)
        #expect(loaded.configuration == record.configuration)
        #expect(try store.loadImage(.final, of: loaded) == img)
        let scan = store.scan()
        #expect(scan.records.count == 1 && scan.problems.isEmpty)
        #expect(throws: DIPError.self) { try store.save(record, images: [:]) }
    }

    @Test("foreign and damaged JSON files are reported and left untouched")
    func problems() throws {
        let root = Self.tempDir()
        let store = try ResultStore(root: root)
        try store.save(try Self.sampleRecord(), images: [:])
        let foreign = root + "/table1-paper/house/notes.json"
        try Data("{\"hello\": 1}".utf8).write(to: URL(fileURLWithPath: foreign))
        let damaged = store.recordPath(for: try Self.sampleRecord(seed: 1).key)
        try Data("{\"schema\": \"dip-report/run\", \"version\": 1}".utf8).write(to: URL(fileURLWithPath: damaged))
        // A pipe and a link loop named like records: said why they cannot be read (and no hang).
        let pipe = root + "/table1-paper/house/pipe.json", loop = root + "/table1-paper/house/loop.json"
        #expect(mkfifo(pipe, 0o644) == 0)
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: "loop.json")
        let scan = store.scan()
        #expect(scan.records.count == 1)
        #expect(scan.problems.count == 4)
        #expect(scan.problems.contains { $0.path == foreign && $0.reason.contains("not a dip-report run record") })
        #expect(scan.problems.contains { $0.path == damaged && $0.reason.contains("damaged") })
        #expect(scan.problems.contains { $0.path == pipe && $0.reason.contains("cannot be read (not a regular file") }, "\(scan.problems)")
        #expect(scan.problems.contains { $0.path == loop && $0.reason.contains("cannot be read (Too many levels of symbolic links)") },
                "\(scan.problems)")
        #expect(String(decoding: FileManager.default.contents(atPath: foreign)!, as: UTF8.self) == "{\"hello\": 1}")
    }

    @Test("valid JSON with values no run can write (10^9 pixels or channels, 1e308 seconds, a hole fraction of 2) is a damaged record, named, never rendered",
          arguments: ["size", "channels", "holeFraction", "wallSeconds", "bestIteration", "network", "final", "best", "nan", "ssim"])
    func impossibleValues(field: String) throws {
        let root = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ResultStore(root: root)
        var record = try Self.sampleRecord()
        switch field {
        case "size": record.size = ImageSize(width: 1_000_000_000, height: 1_000_000_000)
        case "channels": record.channels = 0
        case "holeFraction": record.holeFraction = 2
        case "wallSeconds": record.wallSeconds = 1e308
        case "bestIteration": record.bestIteration = -5
        // PSNR: pictures in [0, 1] score from 0 to under 1000 dB (or exactly +inf).
        case "final": record.final = Scores(psnr: 1e308)
        case "best": record.best = Scores(psnr: -5)
        case "nan": record.final = Scores(psnr: .nan)
        case "ssim": record.final = Scores(psnr: 30, ssim: 3)
        default:
            guard case var .dip(config) = record.configuration.method else { Issue.record("a DIP run expected"); return }
            config.network.down[0] = 1_000_000_000
            record.configuration.method = .dip(config)
        }
        let path = store.recordPath(for: record.key)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try record.encoded().write(to: URL(fileURLWithPath: path))
        let scan = store.scan()
        #expect(scan.records.isEmpty)
        #expect(scan.problems.count == 1 && scan.problems[0].path == path && scan.problems[0].reason.contains("damaged run record"),
                "\(scan.problems)")
        // The unaltered record is fine.
        try Self.sampleRecord().encoded().write(to: URL(fileURLWithPath: path))
        #expect(store.scan().records.count == 1, "\(store.scan().problems)")
    }

    @Test("a record that names a picture outside its folder is reported and never read (11.7)")
    func pictureEscape() throws {
        let root = Self.tempDir()
        let store = try ResultStore(root: root)
        var record = try Self.sampleRecord()
        record.images[.final] = "../../../../etc/passwd"
        let data = try record.encoded()
        let path = store.recordPath(for: record.key)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
        let scan = store.scan()
        #expect(scan.records.isEmpty)
        #expect(scan.problems.count == 1 && scan.problems[0].reason.contains("outside its own folder"), "\(scan.problems)")
        #expect(ResultStore.isPlainFileName("x-s0-final.png") && !ResultStore.isPlainFileName("a/b.png") && !ResultStore.isPlainFileName(".."))
    }
}

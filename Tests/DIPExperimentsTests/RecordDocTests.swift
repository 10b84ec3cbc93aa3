import DIPCore
import DIPEngine
import DIPTestSupport
import Foundation
import Testing
@testable import DIPExperiments

/// docs/results.md documents every field of the run record. These tests encode real records
/// (every optional field set, every kind of configuration the catalog has, and the variants it
/// does not use) and compare the JSON's key paths with the field tables of the document, both
/// ways, so a field added to the record without a line in the document (or a line left behind
/// after a field went) fails here.
@Suite("docs/results.md describes the run record")
struct RecordDocTests {
    static let docPath = SharedTestData.packageRoot.appendingPathComponent("docs/results.md").path

    /// The document's text.
    static func document() throws -> String {
        let data = try #require(FileManager.default.contents(atPath: docPath), "\(docPath) is missing")
        return String(decoding: data, as: UTF8.self)
    }

    /// The key paths the field tables document. Only the part between the two markers counts.
    /// A `###` heading's first `code span` is the prefix of the rows below it (no code span: the
    /// record's top level); a row whose first cell is a code span names one key, relative to it.
    /// Array elements are written `name[]`, so `curve[]` + `iteration` is `curve[].iteration`.
    static func documentedPaths(_ text: String) throws -> [String] {
        let begin = try #require(text.range(of: "<!-- record-fields:begin -->"), "the begin marker is missing")
        let end = try #require(text.range(of: "<!-- record-fields:end -->"), "the end marker is missing")
        var prefix = ""
        var paths: [String] = []
        for line in text[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("### ") {
                prefix = firstCodeSpan(line) ?? ""
            } else if line.hasPrefix("| `"), let name = firstCodeSpan(line) {
                paths.append(prefix.isEmpty ? name : "\(prefix).\(name)")
            }
        }
        return paths
    }

    private static func firstCodeSpan(_ line: Substring) -> String? {
        let parts = line.split(separator: "`", omittingEmptySubsequences: false)
        return parts.count >= 3 ? String(parts[1]) : nil
    }

    /// Every key path of a JSON value: objects add `.key`, arrays `[]`.
    static func keyPaths(_ value: Any, prefix: String = "", into paths: inout Set<String>) {
        if let object = value as? [String: Any] {
            for (key, child) in object {
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                paths.insert(path)
                keyPaths(child, prefix: path, into: &paths)
            }
        } else if let array = value as? [Any] {
            for element in array { keyPaths(element, prefix: prefix + "[]", into: &paths) }
        }
    }

    /// A record as the runner makes it, with every optional field present.
    static func record(_ configuration: RunConfiguration, experiment: String = "table1-paper") throws -> RunRecord {
        let key = RunKey(experiment: experiment, image: "house", configHash: try configuration.hash(), seed: 1)
        var names: [RunImage: String] = [:]
        for role in RunImage.allCases { names[role] = ResultStore.imageFileName(key, role) }
        var timings = FitTimings()
        timings.forward = 0.5
        timings.backward = 1
        timings.optimizer = 0.25
        timings.batched = 0.125
        timings.total = 2
        timings.iterations = 8
        return RunRecord(key: key, group: "experiment1", label: "DIP (paper protocol)", profile: "smoke",
                         configuration: configuration, imageSHA256: String(repeating: "ab", count: 32),
                         maskSHA256: String(repeating: "cd", count: 32), size: ImageSize(width: 66, height: 66), channels: 1, maskSummary: "Bernoulli keep 0.5, seed 1",
                         holeFraction: 0.5, corruptedPSNR: 6.2, status: .diverged, stoppedAt: 7, iterations: 8,
                         curve: [CurvePoint(iteration: 0, loss: 0.1, psnr: 12, psnrHoles: 10, psnrKnown: 15),
                                 CurvePoint(iteration: 3, loss: 0.05, psnr: 11, psnrHoles: 9, psnrKnown: 16)],
                         losses: [0.1, 0.08, 0.07, 0.05], backtracks: [4],
                         final: Scores(psnr: 12.5, psnrHoles: 10.5, ssim: 0.4), best: Scores(psnr: 12, psnrHoles: 10, ssim: 0.38),
                         bestIteration: 0, worstDrop: WorstDrop(fromIteration: 0, fromPSNR: 12, iteration: 3, psnr: 11),
                         timings: timings, wallSeconds: 2.5, resumes: 1, finishedAt: "2025-01-01T00:00:00Z",
                         machine: MachineInfo(host: "h", os: "Linux 6.1", cpu: "c", cores: 2, threads: 1),
                         software: SoftwareInfo(tool: ToolVersion.current, commit: "abc", oneDNN: "2.6.3", backend: "cpu-onednn",
                                                device: "AMD EPYC 9B14, oneDNN ISA avx512_core", libraries: "oneDNN 2.6.3"),
                         images: names,
                         computeStretches: [ComputeStretch(fromIteration: 0, cpu: "c", threads: 2, backend: "cpu-onednn", device: "d"),
                                            ComputeStretch(fromIteration: 3, cpu: "c", threads: 1, backend: "cpu-onednn", device: "d")],
                         copiedFrom: RunKey(experiment: "era", image: "house", configHash: key.configHash, seed: 1))
    }

    /// The catalog's configurations (as written and as the smoke profile runs them), plus the
    /// variants of every type that the catalog does not use.
    static func configurations() throws -> [RunConfiguration] {
        var all: [RunConfiguration] = []
        for experiment in Catalog.experiments {
            for spec in experiment.runs {
                for s in [spec, Profile.smoke.apply(spec)] {
                    all.append(RunConfiguration(imageFile: s.images[0].file, preprocessing: s.preprocessing, mask: s.mask, method: s.method))
                }
            }
        }
        let every = Preprocessing(colour: "gray", resize: ImageSize(width: 512, height: 512), cropToMultipleOf: 64,
                                  centreCrop: ImageSize(width: 64, height: 64), reflectionPad: 1)
        var vase = FitConfig(network: try SkipConfig.preset("vase", outputChannels: 3), inputCode: .meshgrid)
        vase.backtracking = Backtracking()
        all.append(RunConfiguration(imageFile: "x.png", preprocessing: every, mask: .seedReportText, method: .dip(vase)))
        all.append(RunConfiguration(imageFile: "x.png", preprocessing: every, mask: .file("m.png"),
                                    method: .tv(TVConfig(iterations: 10, dataWeight: 2)), window: WindowOrigin(top: 8, left: 16)))
        return all
    }

    /// Every key path of every test record.
    static func encodedPaths() throws -> Set<String> {
        var paths = Set<String>()
        for configuration in try configurations() {
            let json = try JSONSerialization.jsonObject(with: try record(configuration).encoded())
            keyPaths(json, into: &paths)
        }
        return paths
    }

    @Test("every key of an encoded record is documented, and every documented key exists")
    func fieldsMatch() throws {
        let documented = try Self.documentedPaths(try Self.document())
        let encoded = try Self.encodedPaths()
        #expect(encoded.count > 50, "the walk found too few keys: \(encoded.sorted())")
        let duplicates = Dictionary(grouping: documented, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        #expect(duplicates.isEmpty, "documented twice: \(duplicates)")
        let undocumented = encoded.subtracting(documented).sorted()
        let stale = Set(documented).subtracting(encoded).sorted()
        #expect(undocumented.isEmpty, "docs/results.md lacks a row for: \(undocumented.joined(separator: ", "))")
        #expect(stale.isEmpty, "docs/results.md documents keys no record has: \(stale.joined(separator: ", "))")
    }

    @Test("the document names the schema, its version, every status and the checkpoint files")
    func namesMatch() throws {
        let text = try Self.document()
        #expect(text.contains("`\(RunRecord.schemaName)`"))
        #expect(text.contains("version \(RunRecord.currentVersion)"))
        for status in [RunStatus.done, .diverged, .cancelled] {
            #expect(text.contains("`\"\(status.rawValue)\"`"), "status \(status.rawValue) is not described")
        }
        let key = RunKey(experiment: "e", image: "i", configHash: "0123456789ab", seed: 0)
        let store = try ResultStore(root: TestFolder.path("dip-doc"))
        let stem = ResultStore.stem(key)
        let checkpoint = (store.checkpointPath(for: key) as NSString).lastPathComponent
        for name in [stem + ".json", ResultStore.imageFileName(key, .final), checkpoint,
                     stem + ResultStore.checkpointStateSuffix, checkpoint + "-drop.png",
                     (FitCheckpointWriter.historyDirectory(for: checkpoint) as NSString).lastPathComponent] {
            let pattern = name.replacingOccurrences(of: "0123456789ab-s0", with: "<hash>-s<seed>")
            #expect(text.contains(pattern), "the layout does not show \(pattern)")
        }
        try? FileManager.default.removeItem(atPath: store.root)
    }
}

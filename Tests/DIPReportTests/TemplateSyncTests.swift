import DIPTestSupport
import Foundation
import Testing
@testable import DIPReport

@Suite("Templates")
struct TemplateSyncTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let generatedFile = repository.appendingPathComponent("Sources/DIPReport/EmbeddedTemplates.swift").path

    @Test("the templates compiled into the binary are those in Templates/")
    func inSync() throws {
        let files = try ReportTemplates.read(folder: Self.repository.appendingPathComponent("Templates").path)
        let source = ReportTemplates.generatedSource(files: files)
        if ProcessInfo.processInfo.environment["DIP_UPDATE_TEMPLATES"] == "1" {
            try source.write(toFile: Self.generatedFile, atomically: true, encoding: .utf8)
        }
        let current = try String(contentsOfFile: Self.generatedFile, encoding: .utf8) == source
        #expect(current,
                "Sources/DIPReport/EmbeddedTemplates.swift is stale: run DIP_UPDATE_TEMPLATES=1 swift test --filter TemplateSyncTests")
        let compiledIn = EmbeddedTemplates.files == files
        #expect(compiledIn, "rebuild after regenerating EmbeddedTemplates.swift")
        #expect(Set(files.keys).isSuperset(of: ["report.mustache", "table.mustache", "figure.mustache", "gallery.mustache",
                                                "sweep.mustache", "style.mustache", "discussion.md", "conclusion.md"]))
    }

    @Test("a DIP_TEMPLATES folder without report.mustache is refused naming the folder and the variable")
    func emptyTemplatesFolder() throws {
        let folder = TestFolder.path("templates")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect { try ReportTemplates.files(environment: ["DIP_TEMPLATES": folder]) } throws: {
            "\($0)".contains(folder) && "\($0)".contains("holds no report.mustache (DIP_TEMPLATES names this folder)")
        }
    }

    @Test("every template parses")
    func parse() throws {
        _ = try ReportTemplates.library(files: EmbeddedTemplates.files)
    }
}

@Suite("Provenance")
struct ProvenanceTests {
    @Test("the library versions the page names are the ones Package.swift pins exactly")
    func pinnedVersions() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let pins = manifest.matches(of: /github\.com\/[^\/"]+\/([^"]+)", exact: "([^"]+)"/).map { "\($0.1) \($0.2)" }
        #expect(pins.joined(separator: ", ") == ReportRenderer.libraryVersions)
    }
}

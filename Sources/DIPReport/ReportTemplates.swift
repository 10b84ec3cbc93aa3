import DIPCore
import Foundation
import Mustache

/// The page's templates and the default texts of sections 8 and 9.
///
/// The sources live in the repository's `Templates/` folder; they are compiled into the binary
/// as `EmbeddedTemplates.swift`, generated from that folder, so an installed or copied binary
/// renders the same page with no files beside it. A test (TemplateSyncTests) fails when the two
/// differ; `DIP_UPDATE_TEMPLATES=1 swift test --filter TemplateSyncTests` regenerates the Swift
/// file. While editing templates, `DIP_TEMPLATES=<folder>` makes the tool read them from that
/// folder instead, with no rebuild.
enum ReportTemplates {
    /// The environment variable naming a templates folder to use instead of the embedded ones.
    static let environmentVariable = "DIP_TEMPLATES"

    /// The template files: name (with extension) -> text, from `DIP_TEMPLATES` when set, else
    /// the embedded copies.
    static func files(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String: String] {
        guard let folder = environment[environmentVariable], !folder.isEmpty else { return EmbeddedTemplates.files }
        return try read(folder: folder)
    }

    /// Every `.mustache` and `.md` file of `folder`.
    static func read(folder: String) throws -> [String: String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw DIPError.io(path: folder, reason: "cannot list the templates folder (\(environmentVariable) names it; unset it to use the built-in templates)")
        }
        var files: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".mustache") || name.hasSuffix(".md") {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw DIPError.io(path: path, reason: "cannot read the template as UTF-8 text")
            }
            files[name] = text
        }
        guard files["report.mustache"] != nil else {
            throw DIPError.io(path: folder, reason: "holds no report.mustache (\(environmentVariable) names this folder): point it at a copy of the repository's Templates/, or unset it to use the built-in templates")
        }
        return files
    }

    /// The Mustache library of the `.mustache` files, each registered under its name without
    /// the extension (so `report.mustache` can include `{{> table}}`).
    static func library(files: [String: String]) throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in files.sorted(by: { $0.key < $1.key }) where name.hasSuffix(".mustache") {
            do {
                try library.register(text, named: String(name.dropLast(".mustache".count)))
            } catch {
                throw DIPError.badFile(path: "Templates/\(name)", reason: "is not a valid Mustache template (\(error))")
            }
        }
        return library
    }

    /// The Swift source of `EmbeddedTemplates.swift` for the given files.
    static func generatedSource(files: [String: String]) -> String {
        var out = """
        // Generated from Templates/ by TemplateSyncTests; do not edit by hand. To regenerate:
        //   DIP_UPDATE_TEMPLATES=1 swift test --filter TemplateSyncTests

        /// The contents of Templates/, compiled in so the binary needs no files beside it.
        enum EmbeddedTemplates {
            /// File name -> text.
            static let files: [String: String] = [

        """
        for (name, text) in files.sorted(by: { $0.key < $1.key }) {
            // Enough #s that no "-then-#s sequence in the text can end the raw string early.
            var hashes = "#"
            while text.contains("\"" + hashes) || text.contains("\\" + hashes) { hashes += "#" }
            out += "        \"\(name)\": \(hashes)\"\"\"\n\(text)\n\"\"\"\(hashes),\n"
        }
        out += "    ]\n}\n"
        return out
    }
}

import ArgumentParser
import DIPCore
import Foundation

/// `dip-report data verify|fetch`: checks the test images against the manifest, or downloads them.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Check or download the test images (the project ships a manifest, not the images).",
        discussion: """
            The data folder is --data DIR, else the DIP_DATA environment variable, else ./data. \
            Files are checked by size and sha256 against the manifest (see PROVENANCE.md).
            """,
        subcommands: [Verify.self, Fetch.self])

    /// The data folder option shared by both subcommands.
    struct DataOptions: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("The data folder (default: $DIP_DATA, else ./data).", valueName: "DIR"))
        var data: String?

        /// The folder after applying the environment and the default.
        var directory: String { DataDirectory.resolve(data) }

        func validate() throws {
            // Empty reads as "not given" in DataDirectory.resolve ($DIP_DATA, else ./data): a
            // script's unset variable (`--data "$DIR"`) would quietly use another folder.
            if data == "" { throw ValidationError("--data '': give the folder that holds bm3d/, seed-report/ and dip-inpainting/, or leave --data out for $DIP_DATA, else ./data") }
            // A file given as the folder would otherwise read as "every image missing".
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), !isFolder.boolValue {
                throw ValidationError("data folder '\(directory)' is a file; give the folder that holds bm3d/, seed-report/ and dip-inpainting/ (--data DIR or DIP_DATA)")
            }
        }
    }

    /// `dip-report data verify`.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every test image's size and sha256; exit 1 if any is missing or wrong.")

        @OptionGroup var options: DataOptions

        func run() throws {
            let dir = options.directory
            guard FileManager.default.fileExists(atPath: dir) else {
                // Not 32 lines of "missing": the folder itself is (a typo, or not fetched yet).
                printError("data folder '\(dir)' does not exist; run `dip-report data fetch --data \(dir)` to download the test images into it, or give the folder that holds them (--data DIR or DIP_DATA)")
                throw ExitCode(1)
            }
            let statuses = DatasetManifest.standard.verify(dataDirectory: dir)
            var rows = [["set", "file", "size", "status"]]
            for s in statuses {
                let e = s.entry
                rows.append([e.set, e.fileName, "\(e.width)x\(e.height) \(e.mode.rawValue)", s.state.label])
            }
            print(alignedTable(rows))
            let bad = statuses.filter { $0.state != .present }
            print("\n\(statuses.count - bad.count) of \(statuses.count) files ok in \(dir)", terminator: "")
            if bad.isEmpty { print("."); return }
            let missing = bad.filter { $0.state == .missing }.count
            print("; \(missing) missing, \(bad.count - missing) wrong.")
            printError("some test images are missing or differ from the manifest; run `dip-report data fetch --data \(dir)` to download them")
            throw ExitCode(1)
        }
    }

    /// `dip-report data fetch`.
    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download missing or wrong test images from their repositories at pinned commits.",
            discussion: """
                Each file comes from https://raw.githubusercontent.com/OWNER/NAME/COMMIT/PATH and is \
                written only after its sha256 matches. --mirror (or DIP_DATA_MIRROR) replaces \
                https://raw.githubusercontent.com and keeps /OWNER/NAME/COMMIT/PATH; it may be an \
                http(s) or file:// URL or a local folder.
                """)

        @OptionGroup var options: DataOptions

        @Option(name: .long, help: ArgumentHelp("Base URL or folder replacing https://raw.githubusercontent.com (default: $DIP_DATA_MIRROR).", valueName: "URL"))
        var mirror: String?

        func validate() throws {
            if let mirror, let problem = DatasetManifest.mirrorProblem(mirror) { throw ValidationError("--mirror '\(mirror)': \(problem)") }
            if mirror == nil, let env = ProcessInfo.processInfo.environment["DIP_DATA_MIRROR"], !env.isEmpty,
               let problem = DatasetManifest.mirrorProblem(env) {
                throw ValidationError("DIP_DATA_MIRROR '\(env)': \(problem)")
            }
        }

        func run() throws {
            let dir = options.directory
            // A folder that cannot be written fails every file alike; say so instead of
            // blaming the mirror for each of them.
            if let problem = FileErrorText.folderProblem(writingIn: dir) {
                printError("cannot store the test images in \(dir): \(problem)")
                throw ExitCode.failure
            }
            let base = DatasetManifest.base(mirror: mirror)
            let outcomes = DatasetManifest.standard.fetch(dataDirectory: dir, using: URLSessionDownloader(), base: base) { o in
                switch o.result {
                case .alreadyPresent: print("ok          \(o.entry.relativePath)")
                case .downloaded: print("downloaded  \(o.entry.relativePath)")
                case let .failed(error): print("FAILED      \(o.entry.relativePath): \(error)")
                }
            }
            let failed = outcomes.filter { if case .failed = $0.result { return true } else { return false } }
            let fetched = outcomes.filter { if case .downloaded = $0.result { return true } else { return false } }
            print("\n\(fetched.count) downloaded, \(outcomes.count - fetched.count - failed.count) already present, \(failed.count) failed; data folder \(dir).")
            if failed.isEmpty { return }
            // Files in the way here are no download problem: no word of being offline.
            let inTheWay = failed.filter { o in
                if case let .failed(error) = o.result, case let .io(path, _) = error { return path == o.path || o.path.hasPrefix(path + "/") }
                return false
            }
            if inTheWay.count == failed.count {
                printError("\(failed.count) file(s) could not be stored in \(dir) (each reason above); clear that and run `dip-report data fetch` again.")
                throw ExitCode(1)
            }
            printError("""
                \(failed.count) file(s) could not be fetched from \(base) (each failing URL is printed above). \
                If this machine is offline and the images are in a folder here already, point --data (or \
                DIP_DATA; `make report DATA=FOLDER`) at that folder; otherwise copy the files into \(dir) \
                by hand (PROVENANCE.md lists their URLs and sha256), or point --mirror / DIP_DATA_MIRROR at a \
                reachable copy (a folder or file:// URL laid out as OWNER/NAME/COMMIT/PATH works). Then run \
                `dip-report data verify --data \(dir)`.
                """)
            throw ExitCode(1)
        }
    }
}

/// Left-aligned columns separated by two spaces, with a rule under the header row.
private func alignedTable(_ rows: [[String]]) -> String {
    guard let header = rows.first else { return "" }
    let widths = header.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
    func line(_ row: [String]) -> String {
        row.enumerated().map { c, cell in
            c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
    let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
    return ([line(header), rule] + rows.dropFirst().map(line)).joined(separator: "\n")
}

import ArgumentParser
import DIPCore
import Foundation

/// A file named on the command line, with the flag that named it (messages say which flag).
struct NamedPath {
    /// "--out", "--curve", "IMAGE", ...
    let flag: String
    /// The path as typed.
    let path: String
}

/// The files a command writes, checked before any work starts so that a typo never costs a
/// finished fit, and written at the end so that a write that still fails keeps the work under
/// another name.
enum OutputFiles {
    /// Refuses, naming the flag and the path, an output that is empty, too long a name or path,
    /// a folder, a device, FIFO or socket, a link to nothing, in a folder that cannot be created or written (a file on
    /// the way, /proc, a removed working folder), the same file as another output, or one of the
    /// inputs (which the write would destroy).
    static func check(_ outputs: [NamedPath], inputs: [NamedPath]) throws {
        var seen: [(NamedPath, FileIdentity)] = []
        for input in inputs {
            seen.append((input, FileIdentity(input.path)))
        }
        for output in outputs {
            if output.path == "-" {
                throw ValidationError("\(output.flag) '-': dip-report writes files, not standard output; give a file name (./- for a file named -)")
            }
            if let problem = FileErrorText.lengthProblem(output.path) {
                let shown = output.path.count > 80 ? output.path.prefix(80) + "…" : output.path
                throw ValidationError("\(output.flag) '\(shown)': \(problem)")
            }
            let destination: String
            do { destination = try AtomicFile.destination(for: output.path) } catch {
                throw ValidationError("\(output.flag) '\(output.path)': \(reason(error))")
            }
            if !destination.hasPrefix("/"), getcwd(nil, 0).map({ free($0); return false }) ?? true {
                throw ValidationError("\(output.flag) '\(output.path)': the current folder no longer exists (was it removed?); cd to an existing folder or give an absolute path")
            }
            if let problem = folderProblem(for: destination) {
                throw ValidationError("\(output.flag) '\(output.path)': \(problem)")
            }
            let identity = FileIdentity(destination)
            if let (other, _) = seen.first(where: { $0.1 == identity }) {
                let isInput = inputs.contains { $0.flag == other.flag }
                throw ValidationError(isInput
                    ? "\(output.flag) '\(output.path)' is the \(other.flag) file; writing there would destroy it, so write the result elsewhere"
                    : "\(output.flag) and \(other.flag) name the same file ('\(output.path)'); give each output its own name")
            }
            seen.append((output, identity))
        }
    }

    /// Refuses, naming the flag, a folder a command will write into that cannot be made or
    /// written (a file in its place or on its path, no permission): checked before any fit, so
    /// that a typo never costs finished runs.
    static func checkFolder(_ path: String, flag: String) throws {
        if path.isEmpty { throw ValidationError("\(flag) '': give a folder (write . for the current one)") }
        if let problem = FileErrorText.folderProblem(writingIn: path) { throw ValidationError("\(flag) '\(path)': \(problem)") }
    }

    /// Suffixes of picture formats dip-report does not write: an output named so would hold PNG
    /// data under a name that every viewer reads as another format.
    private static let otherPictureSuffixes: Set<String> = ["jpg", "jpeg", "tif", "tiff", "bmp", "gif", "webp", "ppm", "pgm", "exr", "heic"]

    /// Refuses a PNG output named with another picture format's suffix.
    static func checkPNGName(_ target: NamedPath) throws {
        let suffix = (target.path as NSString).pathExtension.lowercased()
        if otherPictureSuffixes.contains(suffix) {
            throw ValidationError("\(target.flag) \(target.path): dip-report writes PNG only (lossless, so the PSNR of what it wrote is the PSNR it reported); name it \(((target.path as NSString).deletingPathExtension as NSString).appendingPathExtension("png") ?? "out.png")")
        }
    }

    /// What is wrong with `folder` as a results folder to read (render, diff, status), nil when nothing.
    static func resultsToReadProblem(_ folder: String) -> String? {
        var isFolder: ObjCBool = false
        if !FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) {
            return "no such results folder; give the folder that `dip-report run --results` wrote (default ./results)"
        }
        return isFolder.boolValue ? nil : "is a file, not a results folder; give the folder that `dip-report run --results` wrote"
    }

    /// Checks the folder a page is written to (`--out`) against the results folder it is read
    /// from, before anything runs: writable (`checkFolder`), not the results folder or inside
    /// it (the page and the user's discussion.md would sit among the runs), and with no folder
    /// where index.html goes (the render failed only after creating discussion.md).
    static func checkReportFolder(_ out: String, results: String) throws {
        try checkFolder(out, flag: "--out")
        // Through links, also under a folder not made yet: resolvingSymlinksInPath leaves a path
        // that does not exist as it is, so `link-to-results/report` passed.
        func resolved(_ path: String) -> String {
            var head = URL(fileURLWithPath: path).standardizedFileURL
            var tail: [String] = []
            while !FileManager.default.fileExists(atPath: head.path), head.path != "/" {
                tail.insert(head.lastPathComponent, at: 0)
                head.deleteLastPathComponent()
            }
            return tail.reduce(head.resolvingSymlinksInPath()) { $0.appendingPathComponent($1) }.standardizedFileURL.path
        }
        let o = resolved(out), r = resolved(results)
        if o == r || o.hasPrefix(r.hasSuffix("/") ? r : r + "/") {
            throw ValidationError("--out '\(out)' is \(o == r ? "" : "inside ")the results folder '\(results)': the page and your discussion.md would sit among the runs; choose another folder (default ./report)")
        }
        var isFolder: ObjCBool = false
        let page = (out as NSString).appendingPathComponent("index.html")
        if FileManager.default.fileExists(atPath: page, isDirectory: &isFolder), isFolder.boolValue {
            throw ValidationError("--out '\(out)': \(page) is a folder, where the page goes; move it away or choose another --out")
        }
    }

    /// Runs `body`, which may create `folder`; when it throws and the folder was not there
    /// before, removes it again while it is still empty: a command refused while planning (data
    /// missing, fonts missing) leaves nothing behind.
    static func removingCreatedFolder<T>(_ folder: String, _ body: () throws -> T) rethrows -> T {
        let missing = missingFolders(folder)
        do { return try body() } catch {
            removeEmpty(missing)
            throw error
        }
    }

    /// `folder` and each of its parents up to the first that exists, deepest first: what making
    /// `folder` creates (`--results new/a/b` makes three).
    static func missingFolders(_ folder: String) -> [String] {
        var chain: [String] = [], path = (folder as NSString).standardizingPath
        while !path.isEmpty, path != "/", path != ".", !FileManager.default.fileExists(atPath: path) {
            chain.append(path)
            path = (path as NSString).deletingLastPathComponent
        }
        return chain
    }

    /// Removes `folders` (deepest first, as `missingFolders` gives them) while they are empty:
    /// rmdir removes only an empty folder, so nothing stored meanwhile goes; the first that is
    /// not empty stops it (only the parent left empty for the last leaf was removed before).
    static func removeEmpty(_ folders: [String]) {
        for f in folders where rmdir(f) != 0 { return }
    }

    /// Where a write of `target` landed.
    enum Outcome {
        /// Where asked.
        case wrote(String)
        /// Under another name, because the asked-for path failed with this message.
        case fallback(String, because: String)
        /// Nowhere: every attempt failed; the message of the first.
        case failed(String)
    }

    /// Writes with `write` (which writes a whole file, atomically) to `target`; when that fails,
    /// to `<stem>.unsaved-<pid>.<ext>` beside it, in the working folder or in the temporary
    /// folder, whichever works first.
    static func write(_ target: NamedPath, with write: (String) throws -> Void) -> Outcome {
        let first: String
        do {
            try write(target.path)
            return .wrote(target.path)
        } catch {
            first = reason(error)
        }
        let url = URL(fileURLWithPath: target.path)
        let ext = url.pathExtension
        let stem = url.deletingPathExtension().lastPathComponent
        let name = AtomicFile.name(stem.isEmpty ? "output" : stem, suffix: ".unsaved-\(getpid())\(ext.isEmpty ? "" : ".\(ext)")")
        let folders = [url.deletingLastPathComponent().path, FileManager.default.currentDirectoryPath, NSTemporaryDirectory()]
        for folder in folders where !folder.isEmpty {
            let candidate = (folder as NSString).appendingPathComponent(name)
            if (try? write(candidate)) != nil { return .fallback(candidate, because: first) }
        }
        return .failed(first)
    }

    /// The message of an error without a repeated "Error:".
    private static func reason(_ error: Error) -> String {
        if let e = error as? DIPError {
            if case let .io(_, why) = e { return why }
            if case let .invalidValue(_, _, why) = e { return why }
        }
        return "\(error)"
    }

    /// Whether `a` and `b` name the same file or folder (links and `./` spellings included).
    static func same(_ a: String, _ b: String) -> Bool { FileIdentity(a) == FileIdentity(b) }

    /// Why files cannot be made in the folder of `path`, or nil when a probe file could be made
    /// in its nearest existing ancestor (the write creates the missing folders).
    private static func folderProblem(for path: String) -> String? {
        FileErrorText.folderProblem(writingIn: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }
}

/// What makes two paths the same file: device and inode when it exists (hard links and
/// symbolic links included), else its absolute path with the folder's links resolved.
private struct FileIdentity: Equatable {
    private let device: UInt64?
    private let inode: UInt64?
    private let path: String

    init(_ path: String) {
        var info = stat()
        if stat(path, &info) == 0 {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        } else {
            device = nil
            inode = nil
        }
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let folder = url.deletingLastPathComponent().path
        if let resolved = realpath(folder, nil) {
            self.path = (String(cString: resolved) as NSString).appendingPathComponent(url.lastPathComponent)
            free(resolved)
        } else {
            self.path = url.path
        }
    }

    static func == (a: FileIdentity, b: FileIdentity) -> Bool {
        if let da = a.device, let db = b.device { return da == db && a.inode == b.inode }
        return a.path == b.path
    }
}

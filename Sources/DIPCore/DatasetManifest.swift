import Foundation

/// The test images the project reads, as a table of where each came from and what its bytes
/// must hash to (the rows of the data folder's PROVENANCE.md).
///
/// The project ships no copy of the images (their copyright is unclear); it ships this
/// manifest, checks a data folder against it and can fetch the files from their public
/// repositories at pinned commits.
public struct DatasetManifest: Sendable {
    /// A public repository at a pinned commit.
    public struct Source: Sendable, Equatable {
        /// GitHub owner.
        public let owner: String
        /// GitHub repository name.
        public let name: String
        /// The 40-digit commit every path refers to.
        public let commit: String
        /// "owner/name".
        public var repository: String { "\(owner)/\(name)" }

        /// A source; `commit` should be a full 40-digit hash so the bytes cannot move.
        public init(owner: String, name: String, commit: String) {
            self.owner = owner
            self.name = name
            self.commit = commit
        }

        /// The Table-1 test set and the colour BM3D images.
        public static let gpDIP = Source(owner: "ZezhouCheng", name: "GP-DIP",
                                         commit: "7e9026777dbc1a31ba71b0ed0565b740125bc407")
        /// The reproduction report that seeded this project.
        public static let seedReport = Source(owner: "yyunon", name: "reproducibility-project-group-71",
                                              commit: "1d111ee36296bc536b17d75be47c8df1686c6db0")
        /// The Deep Image Prior repository itself (inpainting images and masks).
        public static let dip = Source(owner: "DmitryUlyanov", name: "deep-image-prior",
                                       commit: "042e0d4c1e93f4b1eb0932781de55b8cff5e0f40")
    }

    /// How a PNG stores its pixels, as PIL names the modes.
    public enum Mode: String, Sendable {
        /// 8-bit grayscale ("L").
        case gray = "L"
        /// 8-bit RGB.
        case rgb = "RGB"
        /// Palette ("P"): indices into a colour table.
        case palette = "P"
    }

    /// One file of the data folder.
    public struct Entry: Sendable, Equatable {
        /// The subfolder: "bm3d", "seed-report" or "dip-inpainting".
        public let set: String
        /// The file name inside the set's folder.
        public let fileName: String
        /// Width in pixels.
        public let width: Int
        /// Height in pixels.
        public let height: Int
        /// Pixel storage mode.
        public let mode: Mode
        /// File size in bytes.
        public let bytes: Int
        /// Lowercase hex SHA-256 of the file.
        public let sha256: String
        /// Where the file is published.
        public let source: Source
        /// The file's path inside `source` at its commit.
        public let path: String

        /// An entry; positional so that the table below reads like PROVENANCE.md.
        public init(_ set: String, _ fileName: String, _ width: Int, _ height: Int, _ mode: Mode,
                    _ bytes: Int, _ sha256: String, _ source: Source, _ path: String) {
            self.set = set
            self.fileName = fileName
            self.width = width
            self.height = height
            self.mode = mode
            self.bytes = bytes
            self.sha256 = sha256
            self.source = source
            self.path = path
        }

        /// "set/file", the path inside the data folder.
        public var relativePath: String { "\(set)/\(fileName)" }

        /// The download address under `base` (default `https://raw.githubusercontent.com`):
        /// `base/OWNER/NAME/COMMIT/PATH`.
        public func url(base: String = DatasetManifest.defaultBase) -> String {
            let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
            return "\(trimmed)/\(source.owner)/\(source.name)/\(source.commit)/\(path)"
        }
    }

    /// What `verify` found for one entry.
    public enum State: Sendable, Equatable {
        /// The file is there with the right size and hash.
        case present
        /// No file at that path.
        case missing
        /// The file has `actual` bytes instead of the manifest's count (hash not computed).
        case wrongSize(actual: Int)
        /// The size is right but the SHA-256 is `actual`.
        case wrongHash(actual: String)
        /// Something is there but cannot be read as the file: `reason` says what ("a folder, not
        /// the image file", "unreadable (Permission denied)", ...).
        case unreadable(reason: String)

        /// A short word or phrase for tables.
        public var label: String {
            switch self {
            case .present: return "ok"
            case .missing: return "missing"
            case let .wrongSize(actual): return "wrong size (\(actual) bytes)"
            case .wrongHash: return "wrong sha256"
            case let .unreadable(reason): return reason
            }
        }
    }

    /// One entry and what was found at its place in the data folder.
    public struct EntryStatus: Sendable, Equatable {
        /// The manifest row.
        public let entry: Entry
        /// The file's full path in the data folder.
        public let path: String
        /// What was found.
        public let state: State
    }

    /// What `fetch` did for one entry.
    public enum FetchResult: Sendable, Equatable {
        /// The file was already right; nothing was downloaded.
        case alreadyPresent
        /// The file was downloaded, checked and written.
        case downloaded(url: String)
        /// Download or check failed; no file was written (an old wrong file stays as it was).
        case failed(DIPError)
    }

    /// One entry and what `fetch` did for it.
    public struct FetchOutcome: Sendable, Equatable {
        /// The manifest row.
        public let entry: Entry
        /// The file's full path in the data folder.
        public let path: String
        /// What happened.
        public let result: FetchResult
    }

    /// The files, in PROVENANCE.md's order.
    public let entries: [Entry]

    /// A manifest over `entries` (tests use small made-up ones).
    public init(entries: [Entry]) { self.entries = entries }

    /// Where files are published unless a mirror is given.
    public static let defaultBase = "https://raw.githubusercontent.com"

    /// What is wrong with `mirror` as a place to fetch from, nil when nothing: an http(s) or
    /// file URL, or a folder that exists. (Anything else failed file by file, each blaming the
    /// mirror; an empty one fell back to GitHub silently.)
    public static func mirrorProblem(_ mirror: String) -> String? {
        if mirror.isEmpty { return "is empty; give a URL or a folder (or leave it out for GitHub)" }
        if let scheme = mirror.range(of: "://").map({ mirror[..<$0.lowerBound].lowercased() }) {
            return ["http", "https", "file"].contains(scheme) ? nil : "fetches over \(scheme)://, which dip-report does not; give an http(s):// or file:// URL or a folder"
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: mirror, isDirectory: &isFolder) else { return "is no URL, and no such folder exists" }
        return isFolder.boolValue ? nil : "is a file; give the folder laid out as OWNER/NAME/COMMIT/PATH"
    }

    /// The base URL to download from: `mirror` (the `--mirror` option), else the
    /// `DIP_DATA_MIRROR` environment variable, else `defaultBase`. A bare path (no scheme)
    /// becomes a file URL, so `--mirror /srv/mirror` works.
    public static func base(mirror: String?,
                            environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let chosen: String
        if let mirror, !mirror.isEmpty { chosen = mirror }
        else if let env = environment["DIP_DATA_MIRROR"], !env.isEmpty { chosen = env }
        else { return defaultBase }
        if chosen.contains("://") { return chosen }
        return URL(fileURLWithPath: chosen).absoluteString
    }

    /// Checks every entry under `dataDirectory`: size first (cheap), then SHA-256.
    public func verify(dataDirectory: String) -> [EntryStatus] {
        entries.map { entry in
            let path = (dataDirectory as NSString).appendingPathComponent(entry.relativePath)
            return EntryStatus(entry: entry, path: path, state: DatasetManifest.check(entry, at: path))
        }
    }

    /// Downloads every entry that is missing or wrong from `base` + "/OWNER/NAME/COMMIT/PATH",
    /// checks size and SHA-256 in memory, and only then writes the file atomically. A failure
    /// for one file does not stop the others, except that a host which gave no answer at all
    /// (`NoAnswer`) is not asked for the files after it; `progress` sees each outcome as it
    /// happens.
    public func fetch(dataDirectory: String, using downloader: some Downloader,
                      base: String = DatasetManifest.defaultBase,
                      progress: (FetchOutcome) -> Void = { _ in }) -> [FetchOutcome] {
        var outcomes: [FetchOutcome] = []
        // Hosts that gave no answer, with the file that found it out: their other files are
        // not asked for.
        var silent: [String: String] = [:]
        for status in verify(dataDirectory: dataDirectory) {
            let entry = status.entry
            let result: FetchResult
            if status.state == .present {
                result = .alreadyPresent
            } else {
                let address = entry.url(base: base)
                do {
                    // What is in the way here is said as such, before any download: the
                    // generic "give the path of a file" was advice for an output flag.
                    if let problem = Self.inTheWay(status.path) { throw problem }
                    guard let url = URL(string: address) else {
                        throw DIPError.invalidValue(name: "mirror URL", value: address, reason: "is not a valid URL")
                    }
                    if let host = url.host, let first = silent[host] {
                        throw DIPError.io(path: address, reason: "not asked for: \(host) gave no answer for \(first)")
                    }
                    let data = try downloader.download(from: url, maxBytes: entry.bytes)
                    let digest = SHA256.hex(of: data)
                    guard data.count == entry.bytes, digest == entry.sha256 else {
                        throw DIPError.badFile(path: address, reason:
                            "downloaded \(data.count) bytes with sha256 \(digest), expected \(entry.bytes) bytes with sha256 \(entry.sha256); "
                            + "this source holds a different file, so nothing was written (check the mirror)")
                    }
                    try AtomicFile.write(data, to: status.path)
                    result = .downloaded(url: address)
                } catch let error as DIPError {
                    result = .failed(error)
                } catch let error as NoAnswer {
                    silent[error.host] = entry.relativePath
                    result = .failed(error.failure)
                } catch {
                    result = .failed(.io(path: address, reason: "\(error)"))
                }
            }
            let outcome = FetchOutcome(entry: entry, path: status.path, result: result)
            progress(outcome)
            outcomes.append(outcome)
        }
        return outcomes
    }

    /// Why an image cannot be written at `path` for what is there (a folder in its place, a file
    /// in its folder's place), nil when nothing is in the way.
    static func inTheWay(_ path: String) -> DIPError? {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            return .io(path: path, reason: "is a folder where this image belongs; move it away and fetch again")
        }
        let folder = (path as NSString).deletingLastPathComponent
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), !isFolder.boolValue {
            return .io(path: folder, reason: "is a file where the images' folder belongs; move it away and fetch again")
        }
        return nil
    }

    /// The state of the file at `path` against `entry`.
    /// A symbolic link is followed (a data folder may link its images from a shared store).
    static func check(_ entry: Entry, at path: String) -> State {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let error = errno
            var link = stat()
            if lstat(path, &link) == 0, link.st_mode & S_IFMT == S_IFLNK {
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map { " (\($0))" } ?? ""
                return .unreadable(reason: "a symbolic link to nothing\(target)")
            }
            return error == ENOENT ? .missing : .unreadable(reason: "unreadable (\(String(cString: strerror(error))))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return .unreadable(reason: "a folder, not the image file")
        default: return .unreadable(reason: "not a regular file")
        }
        let size = Int(info.st_size)
        if size != entry.bytes { return .wrongSize(actual: size) }
        do {
            let digest = try SHA256.hex(ofFileAt: path)
            return digest == entry.sha256 ? .present : .wrongHash(actual: digest)
        } catch {
            return .unreadable(reason: "unreadable (\(error))")
        }
    }

    /// The project's three image sets (PROVENANCE.md): 13 of the BM3D set, 13 of the seed
    /// report, and the DIP repository's 3 inpainting images with their masks.
    public static let standard = DatasetManifest(entries: [
        Entry("bm3d", "barbara.png", 512, 512, .gray, 185727,
              "764b8a2748cc7ad381cccc047c5e512cb528c197ba86adb83aa339e8932e66c0",
              .gpDIP, "data/inpainting/Dataset_Bernoulli/barbara.png"),
        Entry("bm3d", "boat.png", 512, 512, .gray, 177762,
              "18bea4de1634456f5791d16301863fc974401d144cd6afb86f09a6be4620fe54",
              .gpDIP, "data/inpainting/Dataset_Bernoulli/boat.png"),
        Entry("bm3d", "cameraman.png", 256, 256, .gray, 37559,
              "0da05a64c5090d4f49a021e884451788a5ae0b7ecf3b565be8afd5bf1cc1c2e2",
              .gpDIP, "data/inpainting/Dataset_Bernoulli/Cameraman256.png"),
        Entry("bm3d", "couple.png", 512, 512, .gray, 193637,
              "f6acd12953db8c1f5a0dda53fef4233be37a61702cd22d5be742cf7c039021f2",
              .gpDIP, "data/inpainting/Dataset_Bernoulli/couple.png"),
        Entry("bm3d", "fingerprint.png", 512, 512, .gray, 184561,
              "da7daa343256aa187cf36161e3113b382eb7bb37f3ba23d3dfc99e15697619ab",
              .gpDIP, "data/inpainting/Dataset_Bernoulli/fingerprint.png"),
        Entry("bm3d", "hill.png", 512, 512, .gray, 210129,
              "f181874584ca31e209ee4e78ed836f742bd6692fb268fa3de1b3c861ed56c3b3",
              .gpDIP, "data/inpainting/Dataset_Bernoulli/hill.png"),
        Entry("bm3d", "house.png", 256, 256, .gray, 34985,
              "576b2b3b6ff4d7e6c8ddccb0df645774f9b986c81219c28e16ba1935990a0b29",
              .gpDIP, "data/inpainting/Dataset_Bernoulli/house.png"),
        Entry("bm3d", "lena.png", 512, 512, .gray, 153785,
              "614176830c78cf7ef2c6119f9750877abe96736358492d6d299e2589feac2524",
              .gpDIP, "data/inpainting/Dataset_Bernoulli/Lena512.png"),
        Entry("bm3d", "lenacolor.png", 512, 512, .rgb, 476195,
              "ab0642b305fe54290a0db041b2c007e78bb94584e367520b98eec0799f45c975",
              .gpDIP, "data/denoising/Dataset/image_Lena512rgb.png"),
        Entry("bm3d", "man.png", 512, 512, .gray, 209817,
              "a8791afbd2af4f977f30c3a9a72a50204264440c27b1f4bb282a085eb680abe1",
              .gpDIP, "data/inpainting/Dataset_Bernoulli/man.png"),
        Entry("bm3d", "montage.png", 256, 256, .gray, 33216,
              "9315f18ec482a6678586f795be04beda3e3680e9facbcaadd6e547d83c65218e",
              .gpDIP, "data/inpainting/Dataset_Bernoulli/montage.png"),
        Entry("bm3d", "peppers.png", 256, 256, .gray, 40181,
              "92de94d7b8ef9e645546821150eff5c765d0d29666f9bc7d20b61063f35c3305",
              .gpDIP, "data/inpainting/Dataset_Bernoulli/peppers256.png"),
        Entry("bm3d", "pepperscolor.png", 512, 512, .rgb, 507563,
              "d7b926dff30cdbe2760f0f72d0850aac7d9b4bf2ad83a77370cef1e1ded52f9f",
              .gpDIP, "data/denoising/Dataset/image_Peppers512rgb.png"),
        Entry("dip-inpainting", "kate.png", 512, 512, .rgb, 314477,
              "8516aecf3628fd97ba12ab480d7b9c64d1c8e06be2ef603256087a40cae4971a",
              .dip, "data/inpainting/kate.png"),
        Entry("dip-inpainting", "kate_mask.png", 512, 512, .gray, 4298,
              "631ffd05b0fc43a72dc06c54331977173d5b4e6706bb4fa5191d822b90ea8f1b",
              .dip, "data/inpainting/kate_mask.png"),
        Entry("dip-inpainting", "library.png", 704, 448, .rgb, 638506,
              "4795d1f90c0c5310456057a8ea219e2bcf9ff2f6abcd9a192abfe0c2d472a647",
              .dip, "data/inpainting/library.png"),
        Entry("dip-inpainting", "library_mask.png", 704, 448, .gray, 3459,
              "6908be662bf67becc5495422f242eac7e4701a91d5c814112d804d22b37fcc55",
              .dip, "data/inpainting/library_mask.png"),
        Entry("dip-inpainting", "vase.png", 320, 320, .rgb, 203331,
              "1c25862a0a914bdb29ee793d182533b9e64c2c2da40d56623ee33f9dcfd38424",
              .dip, "data/inpainting/vase.png"),
        Entry("dip-inpainting", "vase_mask.png", 320, 320, .gray, 930,
              "9f7a689863d21c920b00c771df45c65c76c32b924ed3dfc11e81d1fc6ecd350a",
              .dip, "data/inpainting/vase_mask.png"),
        Entry("seed-report", "Lenacolor.png", 512, 512, .rgb, 473831,
              "7e497501a28bcf9a353ccadf6eb9216bf098ac32888fb542fb9bfe71d486761f",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/Lenacolor.png"),
        Entry("seed-report", "barbara.png", 512, 512, .gray, 185727,
              "764b8a2748cc7ad381cccc047c5e512cb528c197ba86adb83aa339e8932e66c0",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/barbara.png"),
        Entry("seed-report", "boat.png", 512, 512, .gray, 177762,
              "18bea4de1634456f5791d16301863fc974401d144cd6afb86f09a6be4620fe54",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/boat.png"),
        Entry("seed-report", "cameraman.png", 512, 512, .palette, 139590,
              "62b6ba3fc9738db678a5281ef0ba14e0c240e1c946356a1d6042817f73c98a4c",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/cameraman.png"),
        Entry("seed-report", "couple.png", 512, 512, .palette, 163019,
              "e3186f2e7e7cdae0f7d1e25804554706ffba9c55a74ffee2ade0910243900903",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/couple.png"),
        Entry("seed-report", "fingerprint.png", 512, 512, .gray, 184561,
              "da7daa343256aa187cf36161e3113b382eb7bb37f3ba23d3dfc99e15697619ab",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/fingerprint.png"),
        Entry("seed-report", "hill.png", 512, 512, .gray, 173024,
              "5abf85207ef06adcea2e836afbf9aef51271a149571f0e3264f98575f16f58b7",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/hill.png"),
        Entry("seed-report", "house.png", 256, 256, .gray, 34985,
              "576b2b3b6ff4d7e6c8ddccb0df645774f9b986c81219c28e16ba1935990a0b29",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/house.png"),
        Entry("seed-report", "lena.png", 512, 512, .gray, 151199,
              "9cbb1d0874d97d38f8da91ec3f7aef5612ac7eb10eea7cf22c5dbd6eb6f8c255",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/lena.png"),
        Entry("seed-report", "man.png", 512, 512, .rgb, 318631,
              "6edcfdd72732309406393190542c8c8fc742746bd2c72b9bd429796125172bd4",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/man.png"),
        Entry("seed-report", "montage.png", 512, 512, .rgb, 338098,
              "39706a8634606aa79d81ac9c12c62c07ca07fc33f759fcf1be7e69ca7fd32d48",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/montage.png"),
        Entry("seed-report", "peppers256.png", 256, 256, .gray, 40181,
              "92de94d7b8ef9e645546821150eff5c765d0d29666f9bc7d20b61063f35c3305",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/peppers256.png"),
        Entry("seed-report", "pepperscolor.png", 512, 512, .rgb, 538749,
              "46d363d6bd5406bf6f68d16a5c6c803f5efb72802e505130444ead02533f0d5b",
              .seedReport, "src/TableGeneration-MultipleImages-Report/Datasetfortable/pepperscolor.png"),
    ])
}

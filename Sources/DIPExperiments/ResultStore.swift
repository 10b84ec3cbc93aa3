import DIPCore
import Foundation

/// The results folder: one JSON record per finished run with its PNGs beside it.
///
/// Layout: `<root>/<experiment>/<image>/<hash>-s<seed>.json`, `...-s<seed>-<role>.png` for each
/// `RunImage`, and `...-s<seed>.checkpoint` (with `.checkpoint.json`, `.checkpoint-drop.png` and
/// `.checkpoint.lbfgs/`) while a long run is in flight; docs/results.md describes every file and
/// field. The record is written last and atomically, so its presence means the run is complete;
/// PNGs without a record are leftovers of an interrupted run and are overwritten by the next one.
/// Files the store did not write (foreign JSON, damaged records, newer schema versions) are
/// reported by `scan()` and never touched.
public struct ResultStore: Sendable {
    /// The results folder.
    public let root: String

    /// Opens (and creates, when `create`) a results folder.
    public init(root: String, create: Bool = true) throws {
        self.root = root
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: root, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw DIPError.io(path: root, reason: "is a file, not a results folder; give another --results")
            }
        } else if create {
            do { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) } catch {
                throw DIPError.io(path: root, reason: "cannot create the results folder (\(error.localizedDescription))")
            }
        } else {
            throw DIPError.io(path: root, reason: "no such results folder; run `dip-report run` first or give --results")
        }
    }

    /// The folder holding a key's files.
    public func folder(for key: RunKey) -> String {
        (root as NSString).appendingPathComponent("\(key.experiment)/\(key.image)")
    }

    /// The common stem of a key's files: "<hash>-s<seed>".
    public static func stem(_ key: RunKey) -> String { "\(key.configHash)-s\(key.seed)" }

    /// The record's path.
    public func recordPath(for key: RunKey) -> String {
        (folder(for: key) as NSString).appendingPathComponent(Self.stem(key) + ".json")
    }

    /// The file name (within the record's folder) of one of its pictures.
    public static func imageFileName(_ key: RunKey, _ role: RunImage) -> String {
        "\(stem(key))-\(role.rawValue).png"
    }

    /// The path of one of a key's pictures.
    public func imagePath(for key: RunKey, _ role: RunImage) -> String {
        (folder(for: key) as NSString).appendingPathComponent(Self.imageFileName(key, role))
    }

    /// Where a long run's checkpoint lives while it is in flight.
    public func checkpointPath(for key: RunKey) -> String {
        (folder(for: key) as NSString).appendingPathComponent(Self.stem(key) + ".checkpoint")
    }

    /// The ending of an older dip-report's checkpoint side state (`<stem>.checkpoint.json`; the
    /// runner's state now lives inside the checkpoint). It is JSON but no record, so `scan()`
    /// passes over one left in a results folder.
    public static let checkpointStateSuffix = ".checkpoint.json"

    /// Whether a record file exists for the key (valid or not: a damaged one is not run over).
    public func hasRecordFile(_ key: RunKey) -> Bool {
        FileManager.default.fileExists(atPath: recordPath(for: key))
    }

    /// The stored record of a key, nil when there is none; throws for a damaged or foreign file.
    public func load(_ key: RunKey) throws -> RunRecord? {
        let path = recordPath(for: key)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try RunRecord.decode(data, path: path)
    }

    /// Stores a finished run: the pictures first, then the record (atomically), so a crash in
    /// between leaves no record and the run is simply redone. `force` replaces an existing record.
    /// Every failure to write is a `DIPError.io` naming the file; a picture that cannot be encoded
    /// (NaN samples) is a `DIPError.invalidValue`, so callers can tell a full disk from bad data.
    /// When a new run cannot be stored, the pictures this call wrote are removed again: on a full
    /// disk they would hold on to the space, and without a record nothing reads them.
    public func save(_ record: RunRecord, images: [RunImage: Image], force: Bool = false) throws {
        let key = record.key
        let path = recordPath(for: key)
        let replacing = FileManager.default.fileExists(atPath: path)
        if !force, replacing {
            throw DIPError.io(path: path, reason: "a record already exists; use --force to run it again")
        }
        // Encoded before anything is written: bad data then leaves the folder as it was. Written
        // in the roles' order, so a failure always strikes at the same point.
        let pictures = try RunImage.allCases.compactMap { role in
            try images[role].map { (imagePath(for: key, role), try PNGCodec.encode($0)) }
        }
        let json = try record.encoded()
        try createFolder(folder(for: key))
        var written: [String] = []
        do {
            for (picture, bytes) in pictures {
                try AtomicFile.write(bytes, to: picture)
                written.append(picture)
            }
            try AtomicFile.write(json, to: path)
        } catch {
            // A replaced record's old pictures are overwritten already; removing the new ones
            // would only leave the old record without its pictures.
            if !replacing { for p in written { try? FileManager.default.removeItem(atPath: p) } }
            throw error
        }
    }

    /// Reads one of a record's pictures.
    public func loadImage(_ role: RunImage, of record: RunRecord) throws -> Image {
        guard let name = record.images[role] else {
            throw DIPError.io(path: recordPath(for: record.key), reason: "the record has no \(role.rawValue) picture")
        }
        let path = (folder(for: record.key) as NSString).appendingPathComponent(name)
        return try PNGCodec.read(path).image
    }

    /// A file in the results folder that is not a readable record of this schema.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The file.
        public var path: String
        /// What is wrong and what to do.
        public var reason: String

        /// "path: reason".
        public var description: String { "\(path): \(reason)" }
    }

    /// What `scan()` found.
    public struct Scan: Sendable {
        /// Every readable record, sorted by key description.
        public var records: [RunRecord]
        /// Every JSON file that is not one.
        public var problems: [Problem]
    }

    /// Reads every record under the root; damaged or foreign JSON files become problems (and stay
    /// where they are). PNGs, checkpoints (their `.checkpoint.json` side state included) and
    /// other files are ignored.
    public func scan() -> Scan {
        var records: [RunRecord] = []
        var problems: [Problem] = []
        guard let walker = FileManager.default.enumerator(atPath: root) else { return Scan(records: [], problems: []) }
        var paths: [String] = []
        while let rel = walker.nextObject() as? String {
            if rel.hasSuffix(".json"), !rel.hasSuffix(Self.checkpointStateSuffix) { paths.append(rel) }
        }
        for rel in paths.sorted() {
            let path = (root as NSString).appendingPathComponent(rel)
            guard let data = FileManager.default.contents(atPath: path) else {
                problems.append(Problem(path: path, reason: "cannot be read"))
                continue
            }
            do {
                let record = try RunRecord.decode(data, path: path)
                // A record must live where its key says, or two files could claim one run.
                if recordPath(for: record.key) != path {
                    problems.append(Problem(path: path, reason: "holds the record of \(record.key) but is not at its place \(recordPath(for: record.key)); it was left untouched"))
                } else {
                    records.append(record)
                }
            } catch let DIPError.badFile(_, reason) {
                problems.append(Problem(path: path, reason: reason))
            } catch {
                problems.append(Problem(path: path, reason: "\(error)"))
            }
        }
        records.sort { $0.key.description < $1.key.description }
        return Scan(records: records, problems: problems)
    }

    /// Every readable record of one experiment.
    public func records(experiment: String) -> [RunRecord] {
        scan().records.filter { $0.key.experiment == experiment }
    }

    /// Creates a run's folder; the error says what failed, and the runner adds what to do.
    private func createFolder(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw DIPError.io(path: path, reason: "cannot create the folder (\(error.localizedDescription))")
        }
    }
}

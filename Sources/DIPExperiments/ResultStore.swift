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
                throw DIPError.io(path: root, reason: "cannot create the results folder (\(FileErrorText.describe(error, makingFolder: root)))")
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

    /// The key of `experiment`/`image` whose `stem` is `stem` exactly; nil for other names.
    static func key(experiment: String, image: String, stem: String) -> RunKey? {
        guard stemPrefix(stem) == stem, let dash = stem.range(of: "-s", options: .backwards),
              let seed = UInt64(stem[dash.upperBound...]) else { return nil }
        return RunKey(experiment: experiment, image: image, configHash: String(stem[..<dash.lowerBound]), seed: seed)
    }

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

    /// The readable stored records of `key`'s twins, each with its file's bytes as read (to tell
    /// a record replaced since): the same image, configuration hash and seed under the other
    /// experiments of this folder, in the experiments' name order. The hash covers every knob
    /// that changes the numbers, so a twin's numbers are `key`'s own.
    func twins(of key: RunKey) -> [(record: RunRecord, bytes: Data)] {
        let experiments = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return experiments.filter { !$0.hasPrefix(".") && $0 != key.experiment }.sorted().compactMap { experiment in
            var twin = key
            twin.experiment = experiment
            let path = recordPath(for: twin)
            // As `scan()` takes records: at their place, and no picture outside their folder.
            guard let bytes = FileManager.default.contents(atPath: path), let record = try? RunRecord.decode(bytes, path: path),
                  record.key == twin, record.images.values.allSatisfy(Self.isPlainFileName) else { return nil }
            return (record, bytes)
        }
    }

    /// Whether the run has a checkpoint to resume: one that is not older than the run's stored
    /// record. An older one was left by a runner that another beat to the record, and describes
    /// no fit in progress; a newer one is an interrupted `run --force` refit's, which the next
    /// `run --force` carries on.
    func hasResumableCheckpoint(_ key: RunKey) -> Bool {
        FileManager.default.fileExists(atPath: checkpointPath(for: key))
            && !Self.checkpoint(checkpointPath(for: key), predates: recordPath(for: key))
    }

    /// Whether the checkpoint at `checkpoint` was last written before the record at `record`
    /// finished (its `finishedAt`, which a relabel's rewrite of the record keeps; the file's
    /// own time where that is unreadable); false without a record. A copy that gave the
    /// checkpoint a new time keeps it (not deleted, resumed by --force).
    static func checkpoint(_ checkpoint: String, predates record: String) -> Bool {
        struct Finished: Decodable { var finishedAt: String }
        let fm = FileManager.default
        guard fm.fileExists(atPath: record) else { return false }
        let finished = fm.contents(atPath: record).flatMap { try? JSONDecoder().decode(Finished.self, from: $0) }
            .flatMap { ISO8601DateFormatter().date(from: $0.finishedAt) }
        guard let r = finished ?? (try? fm.attributesOfItem(atPath: record))?[.modificationDate] as? Date else { return false }
        let c = (try? fm.attributesOfItem(atPath: checkpoint))?[.modificationDate] as? Date
        return c.map { $0 < r } ?? true
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
    /// When a run cannot be stored, the pictures this call wrote are removed again: on a full
    /// disk they would hold on to the space, and without a record nothing reads them. A record
    /// whose pictures are being replaced (`force`, a refit) goes first, so a refit killed or
    /// failing mid-save leaves the run not stored (the next run fits it), never the old record
    /// over the new fit's pictures; a record rewritten alone is renamed over the old one.
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
        // A record rewritten alone (a relabel: no pictures) is replaced atomically as it is.
        if replacing, !pictures.isEmpty, unlink(path) != 0, errno != ENOENT {
            throw DIPError.io(path: path, reason: "cannot replace the stored record (\(String(cString: strerror(errno))))")
        }
        var written: [String] = []
        do {
            for (picture, bytes) in pictures {
                try AtomicFile.write(bytes, to: picture)
                written.append(picture)
            }
            try AtomicFile.write(json, to: path)
        } catch {
            for p in written { try? FileManager.default.removeItem(atPath: p) }
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
            // Dot folders hold the store's own bookkeeping (.plans, .logs), never records.
            if rel.hasPrefix(".") { walker.skipDescendants(); continue }
            if rel.hasSuffix(".json"), !rel.hasSuffix(Self.checkpointStateSuffix) { paths.append(rel) }
        }
        for rel in paths.sorted() {
            let path = (root as NSString).appendingPathComponent(rel)
            guard let data = FileManager.default.contents(atPath: path) else {
                problems.append(Problem(path: path, reason: "cannot be read (\(FileErrorText.readProblem(path))); fix it or move it out of the results folder"))
                continue
            }
            do {
                let record = try RunRecord.decode(data, path: path)
                // A record must live where its key says, or two files could claim one run.
                if recordPath(for: record.key) != path {
                    problems.append(Problem(path: path, reason: "holds the record of \(record.key) but is not at its place \(recordPath(for: record.key)); it was left untouched"))
                } else if let bad = record.images.values.first(where: { !Self.isPlainFileName($0) }) {
                    // Picture names are read beside the record: none may lead out of its folder.
                    problems.append(Problem(path: path, reason: "names a picture '\(bad)' outside its own folder; it was left untouched"))
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

    /// Whether `name` is a file name in the record's own folder: no separator, not "." or "..".
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("/") && name != "." && name != ".." && !name.contains("\0")
    }

    /// A file that an interrupted or concurrent runner left behind.
    public struct Leftover: Sendable, CustomStringConvertible {
        /// The file or folder.
        public var path: String
        /// What it is.
        public var what: String
        /// Whether `sweep` removed it.
        public var removed: Bool

        /// "path: what (removed)".
        public var description: String { "\(path): \(what)\(removed ? " (removed)" : " (left in place)")" }
    }

    /// Finds what runners left behind and, with `remove`, deletes what is safe to delete:
    /// temporary files of unfinished writes (`.NAME.tmp-PID-N`, from a process killed mid-write),
    /// L-BFGS pair folders without their checkpoint, and checkpoints older than their run's
    /// record (a second runner finished the run first), but only where no live claim covers the
    /// run, since its holder may be writing them right now.
    /// A stale claim is reported and removed when its run is stored; otherwise the next runner
    /// takes it over. Checkpoints of unfinished runs are no leftovers: the next run resumes them.
    public func sweep(remove: Bool, staleAfter: Double = RunClaim.defaultStaleSeconds) -> [Leftover] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var found: [Leftover] = []
        let fm = FileManager.default
        func liveClaim(folder: String, stem: String) -> Bool {
            guard let c = Self.readClaim(at: (folder as NSString).appendingPathComponent(stem + ".claim")) else { return false }
            return !c.isStale(staleAfter: staleAfter)
        }
        func take(_ path: String, _ what: String, _ removable: Bool) {
            let removed = remove && removable && (try? fm.removeItem(atPath: path)) != nil
            found.append(Leftover(path: path, what: what, removed: removed))
        }
        var paths: [String] = []
        while let rel = walker.nextObject() as? String {
            if rel.hasPrefix(".") { walker.skipDescendants(); continue }
            paths.append((root as NSString).appendingPathComponent(rel))
        }
        // Temporary files first: removing a checkpoint removes its pair folder with theirs.
        let temporaries = paths.filter { Self.temporaryTarget(($0 as NSString).lastPathComponent) != nil }
        for path in temporaries + paths.filter({ Self.temporaryTarget(($0 as NSString).lastPathComponent) == nil }) {
            var folder = (path as NSString).deletingLastPathComponent
            let name = (path as NSString).lastPathComponent
            if let inner = Self.temporaryTarget(name) {
                // An L-BFGS pair's temporary file lives in `<stem>.checkpoint.lbfgs/`.
                var target = inner
                if folder.hasSuffix(".checkpoint.lbfgs") {
                    target = (folder as NSString).lastPathComponent
                    folder = (folder as NSString).deletingLastPathComponent
                }
                guard let stem = Self.stemPrefix(target), !liveClaim(folder: folder, stem: stem) else { continue }
                // A claim is written to a temporary file and then linked: a young one is a
                // claim being taken right now.
                if target.hasSuffix(".claim"),
                   let m = try? fm.attributesOfItem(atPath: path)[.modificationDate] as? Date, Date().timeIntervalSince(m) < 60 { continue }
                take(path, "temporary file of an interrupted write", true)
            } else if name.hasSuffix(".checkpoint"), let stem = Self.stemPrefix(name),
                      fm.fileExists(atPath: (folder as NSString).appendingPathComponent(stem + ".json")),
                      !liveClaim(folder: folder, stem: stem) {
                if Self.checkpoint(path, predates: (folder as NSString).appendingPathComponent(stem + ".json")) {
                    take(path, "checkpoint of a run that is stored already", true)
                    if found.last?.removed == true { try? fm.removeItem(atPath: path + ".lbfgs") }
                } else {
                    take(path, "checkpoint of an interrupted `run --force` refit of a stored run; `run --force` carries it on", false)
                }
            } else if name.hasSuffix(".checkpoint.lbfgs"), let stem = Self.stemPrefix(name), fm.fileExists(atPath: path),
                      !fm.fileExists(atPath: String(path.dropLast(".lbfgs".count))), !liveClaim(folder: folder, stem: stem) {
                // A first L-BFGS checkpoint writes its pairs before its main file, under a live
                // claim; without one, a folder of pairs no checkpoint names is a process's that
                // was killed between the two (up to gigabytes). (One still there: a checkpoint
                // swept above took its pairs along.)
                take(path, "L-BFGS pairs of a checkpoint that is gone", true)
            } else if name.hasSuffix(".claim"), let stem = Self.stemPrefix(name),
                      let c = Self.readClaim(at: path), c.isStale(staleAfter: staleAfter) {
                let stored = fm.fileExists(atPath: (folder as NSString).appendingPathComponent(stem + ".json"))
                // Removed only if still the claim read here (a runner may take it over meanwhile).
                found.append(Leftover(path: path, what: "stale claim of \(c.describe())\(stored ? " on a stored run" : "; the next runner takes it over")",
                                      removed: remove && stored && Self.removeClaim(at: path, ifStill: c)))
            } else if name.hasSuffix(".claim.takeover"),
                      let m = try? fm.attributesOfItem(atPath: path)[.modificationDate] as? Date, Date().timeIntervalSince(m) > 60 {
                take(path, "lock of a claim takeover that never finished", true)
            }
        }
        return found.sorted { $0.path < $1.path }
    }

    /// The file a temporary file was going to become: "x.json" for ".x.json.tmp-12-34".
    static func temporaryTarget(_ name: String) -> String? {
        guard name.hasPrefix("."), let r = name.range(of: ".tmp-", options: .backwards) else { return nil }
        let tail = name[r.upperBound...].split(separator: "-")
        guard tail.count == 2, tail.allSatisfy({ $0.allSatisfy(\.isNumber) }) else { return nil }
        return String(name[name.index(after: name.startIndex)..<r.lowerBound])
    }

    /// The "<hash>-s<seed>" a store file name starts with, nil for other names.
    static func stemPrefix(_ name: String) -> String? {
        guard let dash = name.range(of: "-s") else { return nil }
        let hash = name[..<dash.lowerBound]
        let digits = name[dash.upperBound...].prefix { $0.isNumber }
        guard !hash.isEmpty, hash.allSatisfy(\.isHexDigit), !digits.isEmpty else { return nil }
        return String(name[..<digits.endIndex])
    }

    /// Every readable record of one experiment.
    public func records(experiment: String) -> [RunRecord] {
        scan().records.filter { $0.key.experiment == experiment }
    }

    /// Creates a run's folder; the error says what failed, and the runner adds what to do.
    private func createFolder(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw DIPError.io(path: path, reason: "cannot create the folder (\(FileErrorText.describe(error, makingFolder: path)))")
        }
    }
}

import DIPCore
import DIPEngine
import Foundation

extension FitCheckpoint {
    /// Writes the checkpoint to `path` (atomically), replacing whatever checkpoint was there. An
    /// L-BFGS checkpoint's pairs go beside it (see FitCheckpointWriter, which writes a series of
    /// checkpoints without rewriting the pairs saved already).
    public func write(to path: String) throws {
        try FitCheckpointWriter(path: path, resumed: nil).write(self)
    }

    /// Reads a checkpoint written by `write(to:)` or a FitCheckpointWriter, with its L-BFGS
    /// pairs; problems name the file.
    public static func read(from path: String) throws -> FitCheckpoint {
        try FitCheckpoint(mainFile: try SafetensorsFile.read(from: path), path: path) { serial in
            try FitCheckpointWriter.readPair(serial, checkpoint: path)
        }
    }

    /// The iterations the checkpoint at `path` completed, from its header alone; nil when it is
    /// no readable checkpoint.
    static func completedSteps(at path: String) -> Int? {
        (try? SafetensorsFile.readMetadata(from: path)).flatMap { FitCheckpoint.stepsCompleted(metadata: $0) }
    }
}

/// Writes a fit's checkpoints to one path, one after another. An L-BFGS checkpoint holds up to
/// 100 curvature pairs, two parameter-sized vectors each (2.4 GB for the 3M-parameter text
/// net), so the pairs live beside the main file in `<path>.lbfgs/pair-<serial>.safetensors`,
/// each written once: a new checkpoint writes only the pairs made since the last one, then the
/// main file (atomically; it names its pairs), then deletes the pairs no longer named. A crash
/// at any point leaves the previous or the new checkpoint whole. Disk: the history plus the
/// pairs made between two checkpoints (at most twice the history).
public final class FitCheckpointWriter {
    /// The main file.
    public let path: String
    private var pairsOnDisk: Set<Int>

    /// A writer for `path`. `resumed` is the checkpoint read from `path` that the fit resumed
    /// from: its pairs are on disk already. Without one, any checkpoint at `path` is stale and
    /// is removed now, so no pair of an earlier fit is ever taken for one of this fit.
    public init(path: String, resumed: FitCheckpoint?) throws {
        self.path = path
        if let resumed {
            pairsOnDisk = Set(resumed.lbfgs?.history.map(\.serial) ?? [])
        } else {
            pairsOnDisk = []
            try Self.remove(at: path)
        }
    }

    /// The folder of an L-BFGS checkpoint's pairs.
    public static func historyDirectory(for path: String) -> String { path + ".lbfgs" }

    /// Removes the checkpoint at `path` with its pairs (nothing there is fine): the pairs first,
    /// so a process killed in between leaves a main file that fails to resume (and is started
    /// afresh) rather than gigabytes of pairs that no checkpoint names.
    public static func remove(at path: String) throws {
        let fm = FileManager.default
        for p in [historyDirectory(for: path), path] where fm.fileExists(atPath: p) {
            do { try fm.removeItem(atPath: p) } catch {
                throw EngineError.weights("\(p): cannot remove the old checkpoint (\(FileErrorText.describe(error)))")
            }
        }
    }

    /// Writes `checkpoint`: new pairs, then the main file, then the pairs it no longer needs go.
    public func write(_ checkpoint: FitCheckpoint) throws {
        let main = try checkpoint.mainFile()
        let directory = Self.historyDirectory(for: path)
        let history = checkpoint.lbfgs?.history ?? []
        if !history.isEmpty {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw EngineError.weights("\(directory): cannot create the checkpoint's pair folder (\(FileErrorText.describe(error, makingFolder: directory)))")
            }
        }
        for pair in history where !pairsOnDisk.contains(pair.serial) {
            var file = SafetensorsFile(metadata: ["serial": String(pair.serial)])
            file.tensors["y"] = try .init(float32: pair.y)
            file.tensors["s"] = try .init(float32: pair.s)
            try file.write(to: Self.pairPath(pair.serial, directory: directory))
            pairsOnDisk.insert(pair.serial)
        }
        try main.write(to: path)
        let keep = Set(history.map(\.serial))
        for serial in pairsOnDisk.subtracting(keep) {
            try? FileManager.default.removeItem(atPath: Self.pairPath(serial, directory: directory))
        }
        pairsOnDisk = keep
        if history.isEmpty { try? FileManager.default.removeItem(atPath: directory) }
    }

    static func pairPath(_ serial: Int, directory: String) -> String {
        (directory as NSString).appendingPathComponent("pair-\(serial).safetensors")
    }

    /// Reads pair `serial` of the checkpoint at `path`; a missing or foreign pair names the file.
    static func readPair(_ serial: Int, checkpoint path: String) throws -> (y: [Float], s: [Float]) {
        let file = pairPath(serial, directory: historyDirectory(for: path))
        let pair = try SafetensorsFile.read(from: file)
        guard pair.metadata["serial"] == String(serial), let y = pair.tensors["y"], let s = pair.tensors["s"] else {
            throw EngineError.weights("\(file): not pair \(serial) of the checkpoint \(path)")
        }
        return (try y.float32Values(), try s.float32Values())
    }
}

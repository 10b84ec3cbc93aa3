import Foundation

/// Writes files so that a reader never sees a half-written one: the bytes go to a temporary
/// file in the same directory, which is then renamed over the destination (rename is atomic
/// within a file system). An interrupted write leaves the old file, or none, never a fragment.
public enum AtomicFile {
    /// Writes `bytes` to `path` atomically, creating parent directories as needed.
    public static func write(_ bytes: some Collection<UInt8>, to path: String) throws {
        try write(Data(bytes), to: path)
    }

    /// Writes `data` to `path` atomically, creating parent directories as needed.
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw DIPError.io(path: dir.path, reason: "cannot create directory (\(error.localizedDescription))")
        }
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        guard FileManager.default.createFile(atPath: tmp.path, contents: data) else {
            throw DIPError.io(path: path, reason: "cannot write (check the directory exists, is writable and the disk is not full)")
        }
        if rename(tmp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(tmp.path)
            throw DIPError.io(path: path, reason: "cannot move the finished file into place (\(reason))")
        }
    }

    /// A temporary path beside `path` for writers that need a file name (libpng, cairo); pair
    /// with `commit(temporary:to:)`.
    public static func temporaryPath(beside path: String) throws -> String {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw DIPError.io(path: dir.path, reason: "cannot create directory (\(error.localizedDescription))")
        }
        return dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    }

    /// Renames a finished temporary file over `path`; removes the temporary on failure.
    public static func commit(temporary: String, to path: String) throws {
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw DIPError.io(path: path, reason: "cannot move the finished file into place (\(reason))")
        }
    }
}

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
        // Plain POSIX calls rather than FileManager.createFile: that one only answers true or
        // false, and "No space left on device" is the one thing a user needs to read here.
        if let failure = writeNew(data, to: tmp.path) {
            throw DIPError.io(path: path, reason: "cannot write (\(failure))")
        }
        if rename(tmp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(tmp.path)
            throw DIPError.io(path: path, reason: "cannot move the finished file into place (\(reason))")
        }
    }

    /// Creates `path` (which must not exist) holding `data`; nil on success, else what failed in
    /// words (strerror: "No space left on device", "Disk quota exceeded", ...). A failed
    /// write removes its fragment: it would only hold on to the space that ran out.
    private static func writeNew(_ data: Data, to path: String) -> String? {
        func failure(_ code: Int32) -> String { String(cString: strerror(code)) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { return failure(errno) }
        var error: Int32 = 0
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    error = errno
                    return
                }
                offset += n
            }
        }
        // close reports deferred write errors (ENOSPC on network file systems among them).
        if close(fd) != 0, error == 0 { error = errno }
        guard error == 0 else {
            unlink(path)
            return failure(error)
        }
        return nil
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

/// write(2); a free function because inside `AtomicFile` the name `write` means its own methods.
private func posixWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, bytes, count)
}

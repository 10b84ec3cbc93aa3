import Foundation

/// Writes files so that a reader never sees a half-written one: the bytes go to a temporary
/// file in the same directory, which is then renamed over the destination (rename is atomic
/// within a file system). An interrupted write leaves the old file, or none, never a fragment.
/// The file's bytes reach the disk before the rename and the rename before the call returns
/// (fsync of the file, then of its folder): without that, a node that crashed soon after
/// storing a run could come back with a zero-length record under its final name (ext4 orders
/// the data of a rename over an existing file, not over a new name), which every later run and
/// render would read as damaged.
///
/// A symbolic link is written through (its target is replaced, the link stays); a folder, device,
/// FIFO or socket is refused, since the rename would replace it with a regular file.
public enum AtomicFile {
    /// Where a write to `path` lands: `path` itself (a regular file or nothing yet) or, for a
    /// symbolic link, the file it points to. Throws, naming `path`, for an empty path, a folder,
    /// a link to nothing, or anything that is not a regular file (`/dev/null`, a FIFO, ...).
    public static func destination(for path: String) throws -> String {
        guard !path.isEmpty else {
            throw DIPError.invalidValue(name: "output path", value: "", reason: "is empty; give a file name")
        }
        if namesAStream(path) {
            throw DIPError.io(path: path, reason: "names one of this process's open streams, not a file: files are written whole and renamed into place, which would replace whatever the stream goes to; give a file path (and `cat` it)")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return path }  // nothing there yet: the write makes it
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            return path
        case S_IFLNK:
            guard let resolved = realpath(path, nil) else {
                // A link to a file not made yet: write it, if the link's target folder exists.
                if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                    let base = URL(fileURLWithPath: path).deletingLastPathComponent()
                    let absolute = target.hasPrefix("/") ? URL(fileURLWithPath: target) : base.appendingPathComponent(target)
                    var folder = stat()
                    if stat(absolute.deletingLastPathComponent().path, &folder) == 0, folder.st_mode & S_IFMT == S_IFDIR,
                       lstat(absolute.path, &folder) != 0 {
                        return absolute.standardizedFileURL.path
                    }
                }
                throw DIPError.io(path: path, reason: "is a symbolic link to a file or folder that does not exist; fix or remove the link, or write elsewhere")
            }
            defer { free(resolved) }
            let target = String(cString: resolved)
            var targetInfo = stat()
            if stat(target, &targetInfo) == 0, targetInfo.st_mode & S_IFMT != S_IFREG {
                return try destination(for: target)  // names the target's kind
            }
            return target
        case S_IFDIR:
            // No example name: one suffix does not fit every output (PNG, JSON, safetensors).
            throw DIPError.io(path: path, reason: "is a folder; give the path of a file (in it or elsewhere)")
        default:
            throw DIPError.io(path: path, reason: "is \(kind(of: info.st_mode)), not a regular file; files are written whole and renamed into place, which would replace it, so write to a regular file (and copy it there if you need to)")
        }
    }

    /// True for /dev/stdout, /dev/fd/N, /proc/self/fd/N and the like: links to whatever the
    /// stream is (a terminal, a pipe, the file a shell redirected it to), which a rename would
    /// replace (`--curve /dev/stdout > log` lost the log) or could not reach (a pipe).
    static func namesAStream(_ path: String) -> Bool {
        let p = URL(fileURLWithPath: path).standardizedFileURL.path
        if ["/dev/stdin", "/dev/stdout", "/dev/stderr"].contains(p) || p.hasPrefix("/dev/fd/") { return true }
        let parts = p.split(separator: "/")
        return parts.count >= 4 && parts[0] == "proc" && (parts[1] == "self" || parts[1].allSatisfy(\.isNumber))
            && parts[2] == "fd"
    }

    /// "a character device", "a FIFO", ... for messages.
    private static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFSOCK: return "a socket"
        default: return "a special file"
        }
    }

    /// The most bytes a file name may have (NAME_MAX on Linux's file systems).
    public static let nameLimit = 255

    /// `stem + suffix`, the stem cut short at a character boundary where the whole would pass
    /// `nameLimit` bytes: names made from a user's file name stay names the system accepts.
    public static func name(_ stem: String, suffix: String) -> String {
        var kept = Substring(stem)
        while kept.utf8.count + suffix.utf8.count > nameLimit, !kept.isEmpty { kept = kept.dropLast() }
        return kept + suffix
    }

    /// `.NAME.tmp-PID-N`, the temporary file for `name`: hidden, unique to this process and
    /// write, and no longer than a name may be (a 250-byte output name was valid, its temporary's
    /// was not, and the write failed after the whole fit).
    static func temporaryName(for name: String) -> String {
        Self.name("." + name, suffix: ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    /// Writes `bytes` to `path` atomically, creating parent directories as needed.
    public static func write(_ bytes: some Collection<UInt8>, to path: String) throws {
        try write(Data(bytes), to: path)
    }

    /// Writes `data` to `path` atomically, creating parent directories as needed.
    public static func write(_ data: Data, to path: String) throws {
        let path = try destination(for: path)
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw DIPError.io(path: dir.path, reason: "cannot create directory (\(FileErrorText.describe(error, makingFolder: dir.path)))")
        }
        let tmp = dir.appendingPathComponent(temporaryName(for: url.lastPathComponent))
        unfinished.insert(tmp.path)
        defer { unfinished.remove(tmp.path) }
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
        syncFolder(of: url.path)
    }

    /// fsync(2) of `fd`; nil on success, else the error. A file system that cannot sync (EINVAL,
    /// EROFS: a special or read-only one) counts as success: there is nothing more to do there.
    private static func sync(_ fd: Int32) -> Int32? {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            return errno == EINVAL || errno == EROFS ? nil : errno
        }
        return nil
    }

    /// Makes the rename into `path`'s folder durable, as far as the file system allows (a
    /// folder's fsync fails on some; the file itself is on disk already either way).
    private static func syncFolder(of path: String) {
        let fd = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = sync(fd)
        close(fd)
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
        if error == 0, let failed = sync(fd) { error = failed }
        // close reports deferred write errors (ENOSPC on network file systems among them).
        if close(fd) != 0, error == 0 { error = errno }
        guard error == 0 else {
            unlink(path)
            return failure(error)
        }
        return nil
    }

    /// A temporary path beside `path` for a writer that needs its own file (a claim is linked
    /// into place, not renamed); give it back with `discard(temporary:)`.
    public static func temporaryPath(beside path: String) throws -> String {
        let url = URL(fileURLWithPath: try destination(for: path))
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw DIPError.io(path: dir.path, reason: "cannot create directory (\(FileErrorText.describe(error, makingFolder: dir.path)))")
        }
        let tmp = dir.appendingPathComponent(temporaryName(for: url.lastPathComponent)).path
        unfinished.insert(tmp)
        return tmp
    }

    /// Writes `data` into `temporary` (from `temporaryPath(beside:)`, not yet existing) and
    /// syncs it, by the plain calls `write(_:to:)` uses: FileManager's `createFile` writes
    /// through a hidden file of its own (`.dat.nosync…`), which a process killed meanwhile left
    /// beside the destination, where no cleanup knows its name. The error says what failed
    /// ("No space left on device").
    public static func writeTemporary(_ data: Data, to temporary: String) throws {
        if let failure = writeNew(data, to: temporary) {
            throw DIPError.io(path: temporary, reason: "cannot write (\(failure)); is the disk full?")
        }
    }

    /// Removes a temporary file of `temporaryPath(beside:)`.
    public static func discard(temporary: String) {
        unlink(temporary)
        unfinished.remove(temporary)
    }

    /// The temporary files this process is writing now.
    private static let unfinished = PathSet()

    /// Removes the temporary files this process is writing right now (and only those: another
    /// process's, on this host or another sharing the folder, may carry the same pid in its
    /// names), for a process about to exit at once (a second Ctrl-C) with writes under way;
    /// with `folder`, only those in it or below it.
    public static func removeUnfinished(under folder: String? = nil) {
        let prefix = folder.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        for path in unfinished.all where prefix.map({ path.hasPrefix($0) }) ?? true { unlink(path) }
    }
}

/// write(2); a free function because inside `AtomicFile` the name `write` means its own methods.
private func posixWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, bytes, count)
}

/// A set of paths several threads add to and take from.
private final class PathSet: @unchecked Sendable {
    private let lock = NSLock()
    private var paths = Set<String>()

    func insert(_ path: String) { lock.lock(); paths.insert(path); lock.unlock() }
    func remove(_ path: String) { lock.lock(); paths.remove(path); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return Array(paths) }
}

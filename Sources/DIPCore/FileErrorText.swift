import Foundation

/// Foundation's file errors in words. On Linux their `localizedDescription` reads "The operation
/// could not be completed. (NSCocoaErrorDomain error 512.)", which tells a user nothing; the
/// POSIX error under it ("Not a directory", "Permission denied") says what went wrong, and where
/// Foundation keeps none, the folder's path does.
public enum FileErrorText {
    /// The POSIX reason under `error` when it has one; else, for a failure to make the folder
    /// `folder`, what on its path stops it; else the error's description.
    public static func describe(_ error: Error, makingFolder folder: String? = nil) -> String {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if let folder, let reason = folderProblem(writingIn: folder) { return reason }
        return ns.localizedDescription
    }

    /// Why the file at `path` could not be read, in a few words: "no such file", "a folder, not
    /// a file", "not a regular file" (FileManager reads none: a pipe, a socket, a device), or the
    /// system's reason ("Permission denied", "Too many levels of symbolic links").
    public static func readProblem(_ path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let error = errno
            return error == ENOENT ? "no such file" : String(cString: strerror(error))
        }
        if info.st_mode & S_IFMT == S_IFDIR { return "a folder, not a file" }
        if info.st_mode & S_IFMT != S_IFREG { return "not a regular file (a pipe, socket or device)" }
        return access(path, R_OK) == 0 ? "it could not be read" : String(cString: strerror(errno))
    }

    /// The most bytes a path may have, its terminating zero included (Linux's PATH_MAX).
    static let pathLimit = 4096

    /// Why the system would refuse `path` for its length, nil when it would not: a name (a part
    /// between slashes) over `AtomicFile.nameLimit` bytes, or the whole (made absolute) reaching
    /// `pathLimit`. Checked before any work, where a fit would otherwise end in "File name too
    /// long" with its outputs under fallback names.
    public static func lengthProblem(_ path: String) -> String? {
        if let long = path.split(separator: "/").first(where: { $0.utf8.count > AtomicFile.nameLimit }) {
            return "the name '\(long.prefix(24))…' is \(long.utf8.count) bytes long, more than the \(AtomicFile.nameLimit) a file or folder name may have; choose a shorter name"
        }
        let absolute = URL(fileURLWithPath: path).path
        if absolute.utf8.count >= pathLimit {
            return "the path is \(absolute.utf8.count) bytes long (made absolute), more than the \(pathLimit - 1) a path may have; choose a shorter one"
        }
        return nil
    }

    /// Why files cannot be made in `folder` (created if missing), or nil when a probe file could
    /// be made in it or its nearest existing ancestor: a file where a folder on its path should
    /// be, a link on its path to nothing, no folder on its path at all, or a folder that cannot
    /// be written (permissions, a read-only file system). Commands check their output folders
    /// with it before any work.
    public static func folderProblem(writingIn folder: String) -> String? {
        var folder = URL(fileURLWithPath: folder).path
        if let problem = lengthProblem(folder) { return problem }
        var info = stat()
        while stat(folder, &info) != 0 {
            // A link whose target is missing: making the folder would fail on the link itself.
            if lstat(folder, &info) == 0, let target = try? FileManager.default.destinationOfSymbolicLink(atPath: folder) {
                return "\(folder) is a link to \(target), which does not exist; make that folder or remove the link"
            }
            let parent = (folder as NSString).deletingLastPathComponent
            if parent == folder || parent.isEmpty { return "no folder on its path exists" }
            folder = parent
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            return "\(folder) is a file, not a folder, so nothing can be written under it"
        }
        let probe = (folder as NSString).appendingPathComponent(".dip-report-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            return "cannot create files in \(folder) (\(String(cString: strerror(errno)))); choose a folder you can write to"
        }
        close(fd)
        unlink(probe)
        return nil
    }
}

import Foundation

/// An exclusive advisory lock (`flock`) on a file, for work that processes must take in turns.
///
/// The lock goes with the open file: it is released when `body` returns or throws, and by the
/// kernel when the process dies, so a killed holder never leaves it taken. On NFS, Linux maps
/// `flock` to the server's byte-range locks, so processes on different machines take turns too.
public enum FileLock {
    /// How a call took the lock.
    public enum Outcome: Sendable, Equatable {
        /// At once.
        case free
        /// After another process held it for about this many seconds.
        case waited(Double)
        /// Not at all: the file could not be opened or locked (a read-only folder, a file system
        /// without locks); `body` ran without it.
        case unavailable(String)
    }

    /// Runs `body` holding an exclusive lock on `path` (created, with its folder, when missing),
    /// waiting for any other holder first: `onWait` is called once when it has to, and after
    /// `waitingAtMost` seconds `body` runs without the lock. Where no lock can be had, `body` runs
    /// anyway: what the lock orders must also be right, if less tidy, without it.
    ///
    /// Why a limit: on NFS v3 a lock of a client that died stays taken until that machine comes
    /// back, and every later holder would wait for it without a word.
    public static func withExclusive<T>(_ path: String, waitingAtMost limit: Double = .infinity, onWait: () -> Void = {},
                                        _ body: (Outcome) throws -> T) rethrows -> T {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return try body(.unavailable(String(cString: strerror(errno)))) }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return try body(.free) }
        guard errno == EWOULDBLOCK else { return try body(.unavailable(String(cString: strerror(errno)))) }
        onWait()
        let start = Date()
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { return try body(.unavailable(String(cString: strerror(errno)))) }
            if Date().timeIntervalSince(start) >= limit {
                return try body(.unavailable("another process has held it for over \(Int(limit)) s"))
            }
            usleep(100_000)
        }
        return try body(.waited(Date().timeIntervalSince(start)))
    }
}

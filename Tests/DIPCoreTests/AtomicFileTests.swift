import DIPTestSupport
import Foundation
import Testing
@testable import DIPCore

@Suite("Atomic writes")
struct AtomicFileTests {
    static func folder() throws -> String {
        let path = TestFolder.path("dip-atomic")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a write leaves the file whole under its name and no temporary beside it")
    func wholeFile() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write(Data("first".utf8), to: dir + "/record.json")
        try AtomicFile.write(Data("second, longer".utf8), to: dir + "/record.json")
        #expect(FileManager.default.contents(atPath: dir + "/record.json") == Data("second, longer".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["record.json"])
    }

    @Test("a temporary for a linked file (a claim) is written under its own name, which cleanups know, and only once")
    func temporaryWrite() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tmp = try AtomicFile.temporaryPath(beside: dir + "/a.claim")
        defer { AtomicFile.discard(temporary: tmp) }
        try AtomicFile.writeTemporary(Data("claim".utf8), to: tmp)
        #expect(FileManager.default.contents(atPath: tmp) == Data("claim".utf8))
        // Nothing else was made beside it (FileManager's createFile went through a hidden file
        // of its own, which a kill left behind under a name no cleanup knows).
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == [(tmp as NSString).lastPathComponent])
        #expect((tmp as NSString).lastPathComponent.hasPrefix(".a.claim.tmp-\(getpid())-"))
        // A temporary is new or an error that names it: never written over.
        #expect { try AtomicFile.writeTemporary(Data("again".utf8), to: tmp) } throws: { "\($0)".contains(tmp) && "\($0)".contains("File exists") }
        #expect(FileManager.default.contents(atPath: tmp) == Data("claim".utf8))
    }

    @Test("quitting at once removes the temporaries this process is writing, not another process's that carry the same pid (a node sharing the folder)")
    func removeOnlyOwn() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Another host's process with this pid, mid-write of its checkpoint.
        let foreign = dir + "/.a.checkpoint.tmp-\(getpid())-12345"
        #expect(FileManager.default.createFile(atPath: foreign, contents: Data([1])))
        let mine = try AtomicFile.temporaryPath(beside: dir + "/b.claim")
        #expect(FileManager.default.createFile(atPath: mine, contents: Data([2])))
        AtomicFile.removeUnfinished(under: dir)
        #expect(FileManager.default.fileExists(atPath: foreign))
        #expect(!FileManager.default.fileExists(atPath: mine))
        // (Scoped to this test's folder: other tests are writing files meanwhile.)
        // Given back, a temporary is no longer this process's to remove.
        let done = try AtomicFile.temporaryPath(beside: dir + "/c.claim")
        AtomicFile.discard(temporary: done)
        #expect(FileManager.default.createFile(atPath: done, contents: Data([3])))
        AtomicFile.removeUnfinished(under: dir)
        #expect(FileManager.default.fileExists(atPath: done))
    }
}

@Suite("File locks")
struct FileLockTests {
    @Test("a lock held elsewhere is waited for with one word to the caller, and after the limit the work goes on without it (a dead NFS client's lock is never given back)")
    func boundedWait() throws {
        let dir = try AtomicFileTests.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/.render.lock"
        // Another holder: a lock on a file description of its own, as another process's would be.
        let other = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        #expect(other >= 0 && flock(other, LOCK_EX) == 0)
        var waits = 0
        let start = Date()
        let outcome = FileLock.withExclusive(path, waitingAtMost: 1, onWait: { waits += 1 }) { $0 }
        #expect(waits == 1 && Date().timeIntervalSince(start) >= 1)
        #expect(outcome == .unavailable("another process has held it for over 1 s"))
        close(other)
        #expect(FileLock.withExclusive(path, waitingAtMost: 0.5, onWait: { waits += 1 }) { $0 } == .free && waits == 1)
    }
}

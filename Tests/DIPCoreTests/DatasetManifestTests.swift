import DIPTestSupport
import Foundation
import Testing
@testable import DIPCore
#if canImport(Glibc)
import Glibc
#endif

/// The shared test images; the tests that read them run when PROVENANCE.md is there.
private let sharedData = SharedTestData.folder
private let haveSharedData = SharedTestData.file("PROVENANCE.md") != nil

/// A fresh empty directory under the system temporary folder.
private func temporaryDirectory() throws -> String {
    let path = TestFolder.path("dip-manifest")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Files in `directory` and below, as relative paths (dot files included, to catch temporaries).
private func listing(_ directory: String) -> [String] {
    (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? [])
        .filter { !(((directory as NSString).appendingPathComponent($0) as NSString).isDirectory) }
        .sorted()
}

private extension NSString {
    var isDirectory: Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: self as String, isDirectory: &dir) && dir.boolValue
    }
}

/// A small made-up manifest (so the fetch tests run without the real images) and its files.
private struct ToyData {
    let manifest: DatasetManifest
    let contents: [String: [UInt8]]      // relativePath -> bytes

    init() {
        let source = DatasetManifest.Source(owner: "someone", name: "images", commit: String(repeating: "ab", count: 20))
        var entries: [DatasetManifest.Entry] = []
        var contents: [String: [UInt8]] = [:]
        let files: [(set: String, name: String, count: Int)] = [("one", "a.png", 300), ("one", "b.png", 4097), ("two", "c.png", 70)]
        for (set, name, n) in files {
            let salt = Int(name.utf8.first!)
            let bytes: [UInt8] = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ salt) }
            entries.append(.init(set, name, 1, 1, .gray, n, SHA256.hex(of: bytes), source, "data/\(set)/\(name)"))
            contents["\(set)/\(name)"] = bytes
        }
        manifest = DatasetManifest(entries: entries)
        self.contents = contents
    }

    /// Writes each entry at OWNER/NAME/COMMIT/PATH under `root`, the layout of a mirror.
    func writeMirror(at root: String, corrupt: String? = nil, omit: String? = nil) throws {
        for e in manifest.entries where e.relativePath != omit {
            var bytes = contents[e.relativePath]!
            if e.relativePath == corrupt { bytes[bytes.count / 2] ^= 0xFF }
            try AtomicFile.write(bytes, to: "\(root)/\(e.source.owner)/\(e.source.name)/\(e.source.commit)/\(e.path)")
        }
    }
}

@Suite("Dataset manifest")
struct DatasetManifestTests {
    @Test("The manifest lists PROVENANCE.md's 32 files with well-formed fields")
    func table() {
        let entries = DatasetManifest.standard.entries
        #expect(entries.count == 32)
        #expect(Set(entries.map(\.relativePath)).count == 32)
        #expect(entries.filter { $0.set == "bm3d" }.count == 13)
        #expect(entries.filter { $0.set == "seed-report" }.count == 13)
        #expect(entries.filter { $0.set == "dip-inpainting" }.count == 6)
        for e in entries {
            #expect(e.sha256.count == 64 && e.sha256.allSatisfy { $0.isHexDigit && !$0.isUppercase })
            #expect(e.source.commit.count == 40)
        }
        let cam = entries.first { $0.relativePath == "seed-report/cameraman.png" }
        #expect(cam?.mode == .palette && cam?.width == 512 && cam?.bytes == 139590)
    }

    @Test("Download URLs are base/OWNER/NAME/COMMIT/PATH; a mirror replaces only the base")
    func urls() {
        let kate = DatasetManifest.standard.entries.first { $0.relativePath == "dip-inpainting/kate.png" }!
        #expect(kate.url() == "https://raw.githubusercontent.com/DmitryUlyanov/deep-image-prior/042e0d4c1e93f4b1eb0932781de55b8cff5e0f40/data/inpainting/kate.png")
        #expect(kate.url(base: "http://127.0.0.1:8000/") == "http://127.0.0.1:8000/DmitryUlyanov/deep-image-prior/042e0d4c1e93f4b1eb0932781de55b8cff5e0f40/data/inpainting/kate.png")
        #expect(DatasetManifest.base(mirror: nil, environment: [:]) == "https://raw.githubusercontent.com")
        #expect(DatasetManifest.base(mirror: nil, environment: ["DIP_DATA_MIRROR": "http://m/x"]) == "http://m/x")
        #expect(DatasetManifest.base(mirror: "file:///srv", environment: ["DIP_DATA_MIRROR": "http://m/x"]) == "file:///srv")
        #expect(DatasetManifest.base(mirror: "/srv/mirror", environment: [:]).hasPrefix("file:///srv/mirror"))
    }

    @Test("Every shared test image has the manifest's size and sha256", .enabled(if: haveSharedData, "no shared data folder"))
    func sharedImagesMatch() {
        let statuses = DatasetManifest.standard.verify(dataDirectory: sharedData)
        for s in statuses { #expect(s.state == .present, "\(s.entry.relativePath): \(s.state)") }
    }

    @Test("verify reports a missing, a truncated and a corrupted file in a copy of the data")
    func verifyFindsDamage() throws {
        let toy = ToyData()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (path, bytes) in toy.contents { try AtomicFile.write(bytes, to: "\(dir)/\(path)") }
        #expect(toy.manifest.verify(dataDirectory: dir).allSatisfy { $0.state == .present })

        try FileManager.default.removeItem(atPath: "\(dir)/one/a.png")
        var b = toy.contents["one/b.png"]!
        b[100] ^= 1
        try AtomicFile.write(b, to: "\(dir)/one/b.png")
        try AtomicFile.write(toy.contents["two/c.png"]!.dropLast(), to: "\(dir)/two/c.png")
        let states = toy.manifest.verify(dataDirectory: dir).map(\.state)
        #expect(states[0] == .missing)
        #expect(states[1] == .wrongHash(actual: SHA256.hex(of: b)))
        #expect(states[2] == .wrongSize(actual: 69))
    }

    @Test("verify follows a symbolic link to a good file (fetch leaves it and its target alone) and names a folder or a link to nothing")
    func verifyLinks() throws {
        let toy = ToyData()
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = "\(root)/store", dir = "\(root)/data"
        for (path, bytes) in toy.contents { try AtomicFile.write(bytes, to: "\(store)/\(path)") }
        try FileManager.default.createDirectory(atPath: "\(dir)/one", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(dir)/two", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/one/a.png", withDestinationPath: "\(store)/one/a.png")
        try FileManager.default.createDirectory(atPath: "\(dir)/one/b.png", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/two/c.png", withDestinationPath: "\(store)/gone.png")
        let states = toy.manifest.verify(dataDirectory: dir).map(\.state)
        #expect(states[0] == .present)
        #expect(states[1] == .unreadable(reason: "a folder, not the image file"))
        #expect(states[2] == .unreadable(reason: "a symbolic link to nothing (\(store)/gone.png)"))

        // A fetch with no mirror at all touches nothing that is present.
        let inode = try FileManager.default.attributesOfItem(atPath: "\(store)/one/a.png")[.systemFileNumber] as? Int
        let outcomes = toy.manifest.fetch(dataDirectory: dir, using: URLSessionDownloader(),
                                          base: URL(fileURLWithPath: "\(root)/no-mirror").absoluteString)
        #expect(outcomes[0].result == .alreadyPresent)
        #expect((try FileManager.default.attributesOfItem(atPath: "\(store)/one/a.png")[.systemFileNumber] as? Int) == inode)
        #expect((try FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/one/a.png")) == "\(store)/one/a.png")
    }

    @Test("verify on a copy of real images flags a corrupted one", .enabled(if: haveSharedData, "no shared data folder"))
    func verifyRealCopy() throws {
        let small = DatasetManifest(entries: DatasetManifest.standard.entries.filter { $0.fileName.hasSuffix("_mask.png") })
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for e in small.entries {
            try AtomicFile.write(try Data(contentsOf: URL(fileURLWithPath: "\(sharedData)/\(e.relativePath)")), to: "\(dir)/\(e.relativePath)")
        }
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(dir)/dip-inpainting/vase_mask.png")))
        bytes[bytes.count - 20] ^= 0x40
        try AtomicFile.write(bytes, to: "\(dir)/dip-inpainting/vase_mask.png")
        try FileManager.default.removeItem(atPath: "\(dir)/dip-inpainting/kate_mask.png")
        let byName = Dictionary(uniqueKeysWithValues: small.verify(dataDirectory: dir).map { ($0.entry.fileName, $0.state) })
        #expect(byName["library_mask.png"] == .present)
        #expect(byName["kate_mask.png"] == .missing)
        if case .wrongHash = byName["vase_mask.png"] {} else { Issue.record("vase_mask.png: \(String(describing: byName["vase_mask.png"]))") }
    }

    @Test("fetch from a file:// mirror writes good files and refuses a wrong one, leaving no file")
    func fetchFromFileMirror() throws {
        let toy = ToyData()
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let mirror = "\(root)/mirror", data = "\(root)/data"
        try toy.writeMirror(at: mirror, corrupt: "one/b.png", omit: "two/c.png")
        var seen: [String] = []
        let outcomes = toy.manifest.fetch(dataDirectory: data, using: URLSessionDownloader(),
                                          base: URL(fileURLWithPath: mirror).absoluteString) { seen.append($0.entry.relativePath) }
        #expect(seen == ["one/a.png", "one/b.png", "two/c.png"])
        guard case .downloaded = outcomes[0].result else { Issue.record("a.png: \(outcomes[0].result)"); return }
        guard case let .failed(hashError) = outcomes[1].result else { Issue.record("b.png: \(outcomes[1].result)"); return }
        #expect(hashError.description.contains("sha256"))
        #expect(hashError.description.contains("someone/images"))
        guard case let .failed(missing) = outcomes[2].result else { Issue.record("c.png: \(outcomes[2].result)"); return }
        #expect(missing.description.contains("data/two/c.png"))
        // Only the good file landed: no wrong file, no temporary left behind.
        #expect(listing(data) == ["one/a.png"])

        // Repair the mirror; a second fetch downloads just what is still missing.
        try toy.writeMirror(at: mirror)
        let again = toy.manifest.fetch(dataDirectory: data, using: URLSessionDownloader(),
                                       base: URL(fileURLWithPath: mirror).absoluteString)
        #expect(again[0].result == .alreadyPresent)
        if case .downloaded = again[1].result {} else { Issue.record("b.png: \(again[1].result)") }
        #expect(toy.manifest.verify(dataDirectory: data).allSatisfy { $0.state == .present })

        // A folder where an image belongs, a file where its folder belongs: said as such (the
        // advice was an output flag's, "give the path of a file").
        let blocked = "\(root)/blocked"
        try FileManager.default.createDirectory(atPath: blocked + "/one/a.png", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: blocked + "/two", contents: Data()))
        let stuck = toy.manifest.fetch(dataDirectory: blocked, using: URLSessionDownloader(),
                                       base: URL(fileURLWithPath: mirror).absoluteString)
        #expect(stuck[0].result == .failed(.io(path: blocked + "/one/a.png", reason: "is a folder where this image belongs; move it away and fetch again")))
        #expect(stuck[2].result == .failed(.io(path: blocked + "/two", reason: "is a file where the images' folder belongs; move it away and fetch again")))
    }

    @Test("fetch over HTTP from a loopback server, including a 404 and a wrong body")
    func fetchOverHTTP() throws {
        let toy = ToyData()
        var served: [String: [UInt8]] = [:]
        for e in toy.manifest.entries {
            var bytes = toy.contents[e.relativePath]!
            if e.fileName == "b.png" { bytes.removeLast() }          // wrong body
            if e.fileName != "c.png" { served["/\(e.source.owner)/\(e.source.name)/\(e.source.commit)/\(e.path)"] = bytes }
        }
        let server = try LoopbackServer(files: served)
        defer { server.stop() }
        let data = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let outcomes = toy.manifest.fetch(dataDirectory: data, using: URLSessionDownloader(timeout: 10),
                                          base: "http://127.0.0.1:\(server.port)")
        if case .downloaded = outcomes[0].result {} else { Issue.record("a.png: \(outcomes[0].result)") }
        if case let .failed(e) = outcomes[1].result { #expect(e.description.contains("expected 4097 bytes")) }
        else { Issue.record("b.png: \(outcomes[1].result)") }
        if case let .failed(e) = outcomes[2].result { #expect(e.description.contains("HTTP 404")) }
        else { Issue.record("c.png: \(outcomes[2].result)") }
        #expect(listing(data) == ["one/a.png"])
    }

    @Test("a body longer than the manifest's byte count is stopped there, whether or not the server says its length; nothing is written")
    func fetchOversizedBody() throws {
        let toy = ToyData()
        let a = toy.manifest.entries[0]
        // The right image followed by 64 MiB: before, all of it was read into memory first.
        let served = ["/\(a.source.owner)/\(a.source.name)/\(a.source.commit)/\(a.path)": toy.contents[a.relativePath]! + [UInt8](repeating: 0, count: 64 << 20)]
        for announcing in [true, false] {
            let server = try LoopbackServer(files: served, announcingLength: announcing)
            defer { server.stop() }
            let data = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: data) }
            let one = DatasetManifest(entries: [a])
            let outcomes = one.fetch(dataDirectory: data, using: URLSessionDownloader(timeout: 10), base: "http://127.0.0.1:\(server.port)")
            if case let .failed(e) = outcomes[0].result {
                #expect(e.description.contains("is larger than the \(a.bytes) bytes expected; stopped there"), "\(e)")
            } else { Issue.record("announcing \(announcing): \(outcomes[0].result)") }
            #expect(listing(data).isEmpty)
        }
        // A 404 page longer than the file is a 404, not a file too large.
        let missing = try LoopbackServer(files: [:], notFound: [UInt8](repeating: 32, count: 1 << 20))
        defer { missing.stop() }
        let none = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: none) }
        let notFound = DatasetManifest(entries: [a]).fetch(dataDirectory: none, using: URLSessionDownloader(timeout: 10), base: "http://127.0.0.1:\(missing.port)")
        if case let .failed(e) = notFound[0].result { #expect(e.description.contains("HTTP 404"), "\(e)") } else { Issue.record("\(notFound[0].result)") }
        // A file:// mirror's file is looked at before it is read.
        let mirror = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: mirror) }
        let big = "\(mirror)/big.png"
        try Data(count: a.bytes + 1).write(to: URL(fileURLWithPath: big))
        #expect { _ = try URLSessionDownloader().download(from: URL(fileURLWithPath: big), maxBytes: a.bytes) }
            throws: { "\($0)".contains("is larger than the \(a.bytes) bytes expected") }
    }

    @Test("a mirror that takes connections and never answers fails its first file after the timeout and is not asked for the rest")
    func fetchFromSilentHost() throws {
        let toy = ToyData()
        let listener = try SilentListener()
        defer { listener.stop() }
        let data = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let started = Date()
        let outcomes = toy.manifest.fetch(dataDirectory: data, using: URLSessionDownloader(timeout: 2),
                                          base: "http://127.0.0.1:\(listener.port)")
        // One timeout, not one a file (with 60 s, 32 files of the real manifest took 32 minutes).
        #expect(Date().timeIntervalSince(started) < 10)
        let reasons = outcomes.map { o -> String in if case let .failed(e) = o.result { return e.description } else { return "not failed" } }
        #expect(reasons.count == 3 && reasons[0].contains("download failed (no answer within 2 s)"), "\(reasons)")
        for reason in reasons.dropFirst() {
            #expect(reason.contains("not asked for: 127.0.0.1 gave no answer for one/a.png"), "\(reason)")
        }
        #expect(listing(data).isEmpty)
    }

    @Test("fetch end to end with real images from a file:// mirror", .enabled(if: haveSharedData, "no shared data folder"))
    func fetchRealImages() throws {
        let small = DatasetManifest(entries: DatasetManifest.standard.entries.filter { $0.set == "dip-inpainting" && $0.bytes < 10_000 })
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for e in small.entries {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(sharedData)/\(e.relativePath)"))
            try AtomicFile.write(bytes, to: "\(root)/mirror/\(e.source.owner)/\(e.source.name)/\(e.source.commit)/\(e.path)")
        }
        let outcomes = small.fetch(dataDirectory: "\(root)/data", using: URLSessionDownloader(),
                                   base: DatasetManifest.base(mirror: "\(root)/mirror", environment: [:]))
        #expect(outcomes.count == 3)
        #expect(small.verify(dataDirectory: "\(root)/data").allSatisfy { $0.state == .present })
    }
}

/// A TCP socket listening on 127.0.0.1 at a port the kernel picks: the socket and the port.
private func listenOnLoopback() throws -> (Int32, UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw DIPError.io(path: "socket", reason: String(cString: strerror(errno))) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
            bind(fd, sp, len) == 0 && listen(fd, 8) == 0 && getsockname(fd, sp, &len) == 0
        }
    }
    guard bound else { close(fd); throw DIPError.io(path: "127.0.0.1", reason: "cannot listen") }
    return (fd, UInt16(bigEndian: addr.sin_port))
}

/// A socket on 127.0.0.1 that listens and never accepts: the kernel completes each connection
/// (within the backlog) and no answer ever comes, as from a server that hangs.
private final class SilentListener: Sendable {
    let port: UInt16
    private let listener: Int32

    init() throws { (listener, port) = try listenOnLoopback() }

    func stop() { close(listener) }
}

/// A one-thread HTTP/1.0 file server on 127.0.0.1 (loopback only) for the fetch test: answers
/// GET with the bytes registered for the path, or 404; without `announcingLength`, the body's
/// length is not sent (it ends when the connection closes, as HTTP/1.0 allows).
private final class LoopbackServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let finished = DispatchSemaphore(value: 0)
    // Guarded by `lock`: the connection being answered, so that `stop` can cut it short.
    private let lock = NSLock()
    private var answering: Int32 = -1

    init(files: [String: [UInt8]], announcingLength: Bool = true, notFound: [UInt8] = Array("not here\n".utf8)) throws {
        let (fd, port) = try listenOnLoopback()
        self.port = port
        listener = fd
        let thread = Thread { [self] in
            defer { finished.signal() }
            while true {
                let conn = accept(fd, nil, nil)
                if conn < 0 { return }             // listener shut down: stop
                lock.withLock { answering = conn }
                LoopbackServer.answer(conn, files: files, announcingLength: announcingLength, notFound: notFound)
                lock.withLock { answering = -1 }
                close(conn)
            }
        }
        thread.start()
    }

    /// Reads one request head and writes one response.
    private static func answer(_ conn: Int32, files: [String: [UInt8]], announcingLength: Bool, notFound: [UInt8]) {
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.suffix(4).elementsEqual([13, 10, 13, 10]) {
            let n = recv(conn, &buffer, buffer.count, 0)
            if n <= 0 { return }
            request.append(contentsOf: buffer[0..<n])
        }
        let line = String(decoding: request.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        let path = line.count >= 2 ? String(line[1]) : ""
        let body = files[path]
        let status = body == nil ? "404 Not Found" : "200 OK"
        let payload = body ?? notFound
        let length = announcingLength ? "Content-Length: \(payload.count)\r\n" : ""
        var response = Array("HTTP/1.0 \(status)\r\n\(length)Connection: close\r\n\r\n".utf8)
        response += payload
        var sent = 0
        while sent < response.count {
            let n = response[sent...].withUnsafeBytes { send(conn, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Ends the accept loop and any answer under way, waits for the server's thread to end,
    /// then closes the listening socket. Closed while the thread still ran, its descriptor went
    /// to the next server the tests made, and the old thread took that server's connections and
    /// answered them with its own files (a 64 MiB 200 where a 404 was due).
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        lock.withLock { if answering >= 0 { shutdown(answering, Int32(SHUT_RDWR)) } }
        finished.wait()
        close(listener)
    }
}

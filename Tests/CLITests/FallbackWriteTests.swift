import DIPCore
import Foundation
import Testing
@testable import dip_report

/// A write that fails after the fit keeps the work under another name (issue 11.2): the
/// command-line module's own helper, since a disk that fills up during a fit cannot be staged
/// from outside.
@Suite("outputs: fallback when a late write fails")
struct FallbackWriteTests {
    @Test("the file goes beside the asked-for path under a name that says it, and the reason is kept")
    func fallbackBeside() throws {
        let s = try Scratch()
        let target = NamedPath(flag: "--out", path: s.file("restored.png"))
        let outcome = OutputFiles.write(target) { path in
            if path == target.path { throw DIPError.io(path: path, reason: "No space left on device") }
            try AtomicFile.write([1, 2, 3], to: path)
        }
        guard case let .fallback(path, why) = outcome else {
            Issue.record("expected a fallback, got \(outcome)")
            return
        }
        #expect(path == s.file("restored.unsaved-\(getpid()).png"))
        #expect(why.contains("No space left on device"))
        #expect(FileManager.default.contents(atPath: path) == Data([1, 2, 3]))
        #expect(!s.exists("restored.png"))
    }

    @Test("a write that works lands where asked; one that fails everywhere says so")
    func directAndFailed() throws {
        let s = try Scratch()
        let target = NamedPath(flag: "--curve", path: s.file("c.json"))
        guard case .wrote(s.file("c.json")) = OutputFiles.write(target, with: { try AtomicFile.write([7], to: $0) }) else {
            Issue.record("expected a direct write")
            return
        }
        let failing = OutputFiles.write(target) { _ in throw DIPError.io(path: "x", reason: "broken") }
        guard case let .failed(why) = failing else {
            Issue.record("expected a failure, got \(failing)")
            return
        }
        #expect(why == "broken")
    }
}

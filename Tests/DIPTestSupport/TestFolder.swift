import Foundation

/// Paths for the files and folders a test writes, all below one folder of this test process that
/// is removed when the process exits: `swift test` run without `make test` (which gives the tests
/// a TMPDIR of their own and removes it) left some 30 MB of them in the temporary folder a run.
///
/// This module belongs to the test targets only; nothing shipped depends on it.
public enum TestFolder {
    /// `<temporary folder>/dip-report-tests-<pid>`, made on first use, removed at exit.
    public static let root: String = {
        let path = NSTemporaryDirectory() + "dip-report-tests-\(getpid())"
        try? FileManager.default.removeItem(atPath: path)  // a folder left by a crashed run of a reused pid
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TestFolder.root) }
        return path
    }()

    /// A new path below `root`, not created: `<name>-<UUID><suffix>` ("claims" gives
    /// ".../claims-3F2A...", with suffix ".json" a file's name).
    public static func path(_ name: String, suffix: String = "") -> String {
        root + "/\(name)-\(UUID().uuidString)\(suffix)"
    }
}

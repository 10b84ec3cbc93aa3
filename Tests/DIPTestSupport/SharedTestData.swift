import Foundation

/// Where the tests find the shared test images (the 32 files of `PROVENANCE.md`): the
/// `DIP_DATA` environment variable when set and not empty, else `../shared/data` beside the
/// package root. Tests that need an image skip (`.enabled(if:)`) when it is absent, so a
/// checkout without the data still passes; set `DIP_DATA` to run them.
///
/// This module belongs to the test targets only; nothing shipped depends on it.
public enum SharedTestData {
    /// The package root: this file lives in `<root>/Tests/DIPTestSupport/`.
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The data folder, whether or not it exists. An empty `DIP_DATA` counts as unset, as it
    /// does for `dip-report --data` (`DataDirectory`).
    public static let folder: String = {
        if let env = ProcessInfo.processInfo.environment["DIP_DATA"], !env.isEmpty { return env }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data").path
    }()

    /// The path of `relativePath` (e.g. "bm3d/barbara.png") in the data folder, or nil when
    /// the folder lacks it.
    public static func file(_ relativePath: String) -> String? {
        let path = folder + "/" + relativePath
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// The data folder when it holds `relativePath`, else nil: the gate for tests that read
    /// several images but check for one.
    public static func folder(holding relativePath: String) -> String? {
        file(relativePath) == nil ? nil : folder
    }
}

import Foundation

/// Finds the project's `fonts/` folder (FreeSansBold for text masks, DejaVuSans for plot
/// labels), so that a checkout, a `swift run` and an installed binary all draw with the very
/// same font files and never with whatever fontconfig would pick.
///
/// Search order, first folder that holds the requested file wins:
/// 1. `$DIP_FONTS` when set: it is authoritative, nothing else is searched;
/// 2. `./fonts` (running from the repository root);
/// 3. from the executable's folder: `<exe dir>/../share/dip-report/fonts` (an install under a
///    prefix such as /usr/local), then `fonts/` in the executable's folder and in each of its
///    ancestors up to five levels up (`.build/<triple>/debug/dip-report` finds `<repo>/fonts`).
public enum FontDirectory {
    /// The environment variable that names the fonts folder explicitly.
    public static let environmentVariable = "DIP_FONTS"

    /// The folders searched, in order, for the given environment, working directory and
    /// executable path.
    public static func candidates(environment: [String: String] = ProcessInfo.processInfo.environment,
                                  currentDirectory: String = FileManager.default.currentDirectoryPath,
                                  executablePath: String? = Bundle.main.executablePath) -> [String] {
        if let explicit = environment[environmentVariable], !explicit.isEmpty { return [explicit] }
        var folders = [URL(fileURLWithPath: currentDirectory).appendingPathComponent("fonts").path]
        if let executablePath {
            // Both the path as invoked and with symlinks resolved: `.build/debug` is a link.
            let exe = URL(fileURLWithPath: executablePath)
            for start in [exe, exe.resolvingSymlinksInPath()] {
                var dir = start.deletingLastPathComponent().standardizedFileURL
                folders.append(dir.appendingPathComponent("../share/dip-report/fonts").standardizedFileURL.path)
                for _ in 0...5 {
                    folders.append(dir.appendingPathComponent("fonts").path)
                    let parent = dir.deletingLastPathComponent().standardizedFileURL
                    if parent.path == dir.path { break }
                    dir = parent
                }
            }
        }
        var seen = Set<String>()
        return folders.filter { seen.insert($0).inserted }
    }

    /// The full path of `fileName` (e.g. "FreeSansBold.ttf") in the first candidate folder that
    /// holds it; the error lists every folder searched.
    public static func locate(_ fileName: String,
                              environment: [String: String] = ProcessInfo.processInfo.environment,
                              currentDirectory: String = FileManager.default.currentDirectoryPath,
                              executablePath: String? = Bundle.main.executablePath) throws -> String {
        let folders = candidates(environment: environment, currentDirectory: currentDirectory,
                                 executablePath: executablePath)
        for folder in folders {
            let path = URL(fileURLWithPath: folder).appendingPathComponent(fileName).path
            if FileManager.default.isReadableFile(atPath: path) { return path }
        }
        let explicit = !(environment[environmentVariable] ?? "").isEmpty
        let hint = explicit ? "\(environmentVariable) is set, so only it was searched; " : ""
        throw DIPError.io(path: fileName,
                          reason: "font not found in \(folders.joined(separator: ", ")); \(hint)set \(environmentVariable) to the folder holding the project's fonts/ or give the font's path")
    }
}

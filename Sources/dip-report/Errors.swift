import Foundation

/// Writes one line to standard error, prefixed like ArgumentParser's own errors.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
}

/// Writes a note (something the user should know but that stops nothing) to standard error, so
/// that standard output stays the command's result.
func printNote(_ message: String) {
    let line = message.hasPrefix("warning: ") ? message : "note: \(message)"
    FileHandle.standardError.write(Data("\(line)\n".utf8))
}

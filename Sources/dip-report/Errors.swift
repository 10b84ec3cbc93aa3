import DIPCore
import Foundation

/// Writes one line to standard error, prefixed like ArgumentParser's own errors.
func printError(_ message: String) {
    StandardStreams.error("Error: \(message)\n")
}

/// Writes a note (something the user should know but that stops nothing) to standard error, so
/// that standard output stays the command's result.
func printNote(_ message: String) {
    let line = message.hasPrefix("warning: ") ? message : "note: \(message)"
    StandardStreams.error("\(line)\n")
}

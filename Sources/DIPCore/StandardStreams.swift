import Foundation

/// Writes to standard output and standard error that never stop the process.
///
/// `FileHandle.write(_:)` traps on any write error, and a long fit meets them: after the
/// terminal or SSH session that started it closes (the tty answers EIO), or when the reader of
/// its pipe (`| tee log`, `| less`) is gone (EPIPE). A message that cannot be shown is not
/// worth a fit: these drop the text then and go on, as stdio's `print` does.
public enum StandardStreams {
    /// Writes `text` to standard output as it is (no newline added, nothing buffered).
    public static func output(_ text: String) { write(text, to: STDOUT_FILENO) }

    /// Writes `text` to standard error as it is (no newline added).
    public static func error(_ text: String) { write(text, to: STDERR_FILENO) }

    private static func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = Foundation.write(descriptor, buffer.baseAddress! + done, buffer.count - done)
                if n > 0 { done += n } else if n < 0, errno == EINTR { continue } else { return }
            }
        }
    }
}

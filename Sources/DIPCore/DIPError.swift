/// Errors a user can act on. Each message names the file or value at fault and what to do.
public enum DIPError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A file could not be read or written.
    case io(path: String, reason: String)
    /// A file exists but its contents are not what we expected (corrupt, truncated, wrong format).
    case badFile(path: String, reason: String)
    /// A value given by the user is out of range or inconsistent.
    case invalidValue(name: String, value: String, reason: String)
    /// Two inputs that must agree (an image and its mask, say) do not.
    case mismatch(String)

    /// One line that a person can act on.
    public var description: String {
        switch self {
        case let .io(path, reason): return "\(Self.shown(path)): \(reason)"
        case let .badFile(path, reason): return "\(Self.shown(path)): \(reason)"
        case let .invalidValue(name, value, reason): return "\(name) '\(value)': \(reason)"
        case let .mismatch(text): return text
        }
    }

    /// A path as a message names it: an empty one (`psnr ""`) said ": no such file".
    private static func shown(_ path: String) -> String { path.isEmpty ? "'' (an empty path)" : path }
}

import DIPCore
import Foundation

/// Identifies one run: (experiment, image, configuration hash, seed). Two runs with the same
/// key produce the same numbers on the same machine and thread count, so a stored run is never
/// run again.
public struct RunKey: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Experiment identifier, e.g. "table1-paper".
    public var experiment: String
    /// Image name, e.g. "barbara".
    public var image: String
    /// `ConfigHash` of everything that changes the numbers.
    public var configHash: String
    /// The seed.
    public var seed: UInt64

    /// Creates a key.
    public init(experiment: String, image: String, configHash: String, seed: UInt64) {
        self.experiment = experiment
        self.image = image
        self.configHash = configHash
        self.seed = seed
    }

    /// "table1-paper/barbara/3f2a9c1d0e4b-s0".
    public var description: String { "\(experiment)/\(image)/\(configHash)-s\(seed)" }
}

/// A short, stable digest of a configuration: SHA-256 of its JSON with sorted keys, first 12
/// hex digits. Whatever is encoded is hashed, so a configuration type must encode exactly the
/// knobs that change the numbers (not thread counts, not output paths).
public enum ConfigHash {
    /// The digest of `value`.
    public static func of<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return String(SHA256.hex(of: Array(data)).prefix(12))
    }
}

import Crypto
import Foundation

/// SHA-256 for the dataset manifest, image provenance and configuration hashes: a thin,
/// streaming wrapper over swift-crypto's (BoringSSL's on Linux), so that call sites read as
/// hashing and the hash itself is a well-kept library's, not ours. The NIST vectors in the
/// tests check the wiring.
public struct SHA256 {
    private var hasher = Crypto.SHA256()

    /// A fresh hash of the empty message.
    public init() {}

    /// Appends `bytes` to the message.
    public mutating func update(_ bytes: some Collection<UInt8>) {
        if let done = bytes.withContiguousStorageIfAvailable({ hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }) {
            return done
        }
        hasher.update(data: Array(bytes))
    }

    /// The 32-byte digest; the hash should not be updated after.
    public mutating func finalize() -> [UInt8] {
        Array(hasher.finalize())
    }

    /// The digest of `bytes` as 64 lowercase hex digits.
    public static func hex(of bytes: some Collection<UInt8>) -> String {
        var h = SHA256()
        h.update(bytes)
        return hexString(h.finalize())
    }

    /// The digest of the file at `path`, read in 1 MiB chunks, as 64 lowercase hex digits.
    public static func hex(ofFileAt path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DIPError.io(path: path, reason: "cannot open for reading (check it exists and is readable)")
        }
        defer { try? handle.close() }
        var h = SHA256()
        while true {
            let chunk: Data?
            do { chunk = try handle.read(upToCount: 1 << 20) } catch {
                throw DIPError.io(path: path, reason: "read failed (\(FileErrorText.describe(error)))")
            }
            guard let chunk, !chunk.isEmpty else { break }
            h.update(chunk)
        }
        return hexString(h.finalize())
    }

    /// Lowercase hex of `bytes`.
    public static func hexString(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        s.reserveCapacity(bytes.count * 2)
        for b in bytes { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
        return s
    }
}

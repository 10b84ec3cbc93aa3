import DIPTestSupport
import Foundation
import Testing
@testable import DIPCore

@Suite("SHA-256")
struct SHA256Tests {
    // Expected digests: the FIPS 180-2 / NIST CSRC example vectors.
    @Test("NIST vectors: \"abc\", empty, the 448-bit message")
    func shortVectors() {
        #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(of: [UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("NIST vector: one million 'a', fed in uneven pieces")
    func millionA() {
        var h = SHA256()
        let piece = [UInt8](repeating: 0x61, count: 997)    // not a multiple of 64: exercises buffering
        var left = 1_000_000
        while left > 0 {
            let n = min(left, piece.count)
            h.update(piece.prefix(n))
            left -= n
        }
        #expect(SHA256.hexString(h.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("Hashing a file in chunks equals hashing its bytes")
    func file() throws {
        let bytes = (0..<(1 << 20) + 4099).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let path = TestFolder.path("sha")
        try AtomicFile.write(bytes, to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try SHA256.hex(ofFileAt: path) == SHA256.hex(of: bytes))
        #expect(throws: DIPError.self) { try SHA256.hex(ofFileAt: path + ".absent") }
    }
}

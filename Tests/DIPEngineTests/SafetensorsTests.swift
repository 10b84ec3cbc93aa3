import DIPCore
import Foundation
import Testing
@testable import DIPEngine

@Suite("Safetensors files")
struct SafetensorsTests {
    /// A file written by the reference implementation (safetensors 0.8.0, numpy 1.x, Python 3.11):
    ///   from safetensors.numpy import save
    ///   save({"conv.weight": np.array([0.5, -1.25, 3.0e-5, -0.0], np.float32).reshape(2, 1, 1, 2),
    ///         "conv.bias": np.array([0.1, -7.0], np.float32),
    ///         "bn.num_batches_tracked": np.array(1234567890123, np.int64),
    ///         "steps": np.array([-1, 0, 2**62], np.int64)}, metadata={"format": "pt"})
    /// then base64-encoded. Embedded rather than a loose file: the test target has no resources.
    static let reference = [UInt8](Data(base64Encoded: """
        MAEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCJ9LCJibi5udW1fYmF0Y2hlc190cmFja2VkIjp7\
        ImR0eXBlIjoiSTY0Iiwic2hhcGUiOltdLCJkYXRhX29mZnNldHMiOlswLDhdfSwic3RlcHMiOnsiZHR5cGUiOiJJ\
        NjQiLCJzaGFwZSI6WzNdLCJkYXRhX29mZnNldHMiOls4LDMyXX0sImNvbnYuYmlhcyI6eyJkdHlwZSI6IkYzMiIs\
        InNoYXBlIjpbMl0sImRhdGFfb2Zmc2V0cyI6WzMyLDQwXX0sImNvbnYud2VpZ2h0Ijp7ImR0eXBlIjoiRjMyIiwi\
        c2hhcGUiOlsyLDEsMSwyXSwiZGF0YV9vZmZzZXRzIjpbNDAsNTZdfX0gICAgICAgywT7cR8BAAD//////////wAA\
        AAAAAAAAAAAAAAAAAEDNzMw9AADgwAAAAD8AAKC/gqj7NwAAAIA=
        """)!)

    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("dip-safetensors-\(getpid())-\(name)").path
    }

    func expectWeightsError(_ bytes: [UInt8], mentioning fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try SafetensorsFile(bytes: bytes, source: "bad.safetensors")
            Issue.record("expected an error mentioning '\(fragment)'", sourceLocation: sourceLocation)
        } catch let EngineError.weights(message) {
            #expect(message.hasPrefix("bad.safetensors: "), sourceLocation: sourceLocation)
            #expect(message.contains(fragment), "\(message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("a file from the reference implementation reads with the right names, shapes and values")
    func readsReference() throws {
        let file = try SafetensorsFile(bytes: Self.reference, source: "reference")
        #expect(file.metadata == ["format": "pt"])
        #expect(Set(file.tensors.keys) == ["conv.weight", "conv.bias", "bn.num_batches_tracked", "steps"])
        let w = try #require(file.tensors["conv.weight"])
        #expect(w.dtype == .float32 && w.shape == [2, 1, 1, 2])
        let values = try w.float32Values()
        #expect(values[0] == 0.5 && values[1] == -1.25 && values[2] == Float(3.0e-5))
        #expect(values[3] == 0 && values[3].sign == .minus)
        #expect(try file.tensors["conv.bias"]?.float32Values() == [0.1, -7.0])
        let scalar = try #require(file.tensors["bn.num_batches_tracked"])
        #expect(scalar.dtype == .int64 && scalar.shape == [])
        #expect(try scalar.int64Values() == [1_234_567_890_123])
        #expect(try file.tensors["steps"]?.int64Values() == [-1, 0, 1 << 62])
        #expect(throws: EngineError.self) { try scalar.float32Values() }
    }

    @Test("we write the same bytes as the reference implementation")
    func writesReferenceBytes() throws {
        let file = SafetensorsFile(tensors: [
            "conv.weight": try .init(float32: [0.5, -1.25, 3.0e-5, -0.0], shape: [2, 1, 1, 2]),
            "conv.bias": try .init(float32: [0.1, -7.0]),
            "bn.num_batches_tracked": try .init(int64: [1_234_567_890_123], shape: []),
            "steps": try .init(int64: [-1, 0, 1 << 62]),
        ], metadata: ["format": "pt"])
        #expect(file.serialized() == Self.reference)
    }

    @Test("write then read gives back every tensor, the metadata, and escaped strings intact")
    func roundTrip() throws {
        let weight = Tensor([3, 2, 3, 3], values: (0..<54).map { Float($0) * 0.37 - 9 })
        let file = SafetensorsFile(tensors: [
            "1.1.7.3.1.weight": try .init(weight),
            "empty": try .init(float32: [], shape: [0, 4]),
            "bytes": try .init(dtype: .uint8, shape: [3], bytes: [1, 2, 255]),
            "quote\"and\\slash\nnewline é": try .init(int64: [42], shape: []),
        ], metadata: ["note": "tab\there \"quoted\" \u{01} ünïcode", "a": ""])
        let path = Self.temporaryPath("roundtrip.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try file.write(to: path)
        let back = try SafetensorsFile.read(from: path)
        #expect(back == file)
        let restored = Tensor([3, 2, 3, 3])
        try back.tensors["1.1.7.3.1.weight"]!.copy(into: restored)
        #expect(restored.array == weight.array)
        #expect(throws: EngineError.self) { try back.tensors["1.1.7.3.1.weight"]!.copy(into: Tensor([3, 2, 9])) }
        // The header length keeps the data 8-byte aligned, as the reference does.
        let bytes = file.serialized()
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(n % 8 == 0)
    }

    @Test("a missing file is an error naming it")
    func missing() {
        let path = Self.temporaryPath("does-not-exist.safetensors")
        do {
            _ = try SafetensorsFile.read(from: path)
            Issue.record("reading a missing file succeeded")
        } catch let EngineError.weights(message) {
            #expect(message.contains(path))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("truncated, garbage and inconsistent files are refused with the reason")
    func malformed() throws {
        let good = Self.reference
        expectWeightsError([], mentioning: "too short")
        expectWeightsError(Array(good.prefix(5)), mentioning: "too short")
        expectWeightsError(Array(good.prefix(100)), mentioning: "runs past the end")
        expectWeightsError(Array(good.dropLast()), mentioning: "truncated")
        expectWeightsError(good + [0], mentioning: "cover 56 of the 57 data bytes")
        expectWeightsError([UInt8](repeating: 0xFF, count: 64), mentioning: "exceeds")
        expectWeightsError(Array("garbage!garbage!garbage!".utf8), mentioning: "exceeds")

        func file(header: String, data: [UInt8]) -> [UInt8] {
            var h = Array(header.utf8)
            h += Array(repeating: 0x20, count: (8 - h.count % 8) % 8)
            return withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) } + h + data
        }
        let four = [UInt8](repeating: 0, count: 4)
        expectWeightsError(file(header: "[1,2]", data: []), mentioning: "not a JSON object")
        expectWeightsError(file(header: "{\"a\":", data: []), mentioning: "not valid JSON")
        expectWeightsError(file(header: #"{"a":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}"#, data: four),
                           mentioning: "F8_E4M3, which is not supported")
        expectWeightsError(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: four),
                           mentioning: "needs 8 bytes")
        expectWeightsError(file(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: four),
                           mentioning: "no valid shape")
        // A shape too large for a whole number here says what it is, not "non-negative".
        expectWeightsError(file(header: #"{"a":{"dtype":"F32","shape":[9223372036854775807],"data_offsets":[0,4]}}"#, data: four),
                           mentioning: "from 0 to 2^53")
        expectWeightsError(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}"#, data: four),
                           mentioning: "no valid data_offsets")
        expectWeightsError(file(header: #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#, data: four),
                           mentioning: "gap of 2 bytes")
        expectWeightsError(file(header: #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#,
                                data: four), mentioning: "overlaps")
        expectWeightsError(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: four),
                           mentioning: "ends at byte 8")
        expectWeightsError(file(header: #"{"__metadata__":{"k":1}}"#, data: []), mentioning: "not a string")
        // A well-formed file built the same way passes, so the helper is not what fails above.
        let ok = try SafetensorsFile(bytes: file(header: #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#, data: four),
                                     source: "ok")
        #expect(ok.tensors["a"]?.bytes == four)
    }

    @Test("a failed write leaves no file behind and says where")
    func unwritable() throws {
        let file = SafetensorsFile(tensors: ["__metadata__": try .init(float32: [1])])
        let path = Self.temporaryPath("reserved.safetensors")
        #expect(throws: EngineError.self) { try file.write(to: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
        let blocked = SafetensorsFile(tensors: ["a": try .init(float32: [1])])
        #expect(throws: (any Error).self) { try blocked.write(to: "/proc/dip-no-such-dir/x.safetensors") }
    }
}

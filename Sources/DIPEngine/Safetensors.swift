import DIPCore
import Foundation

/// A safetensors file (the format of huggingface/safetensors, which PyTorch users load with
/// `safetensors.torch.load_file`): an 8-byte little-endian header length, a JSON header mapping
/// each tensor name to {dtype, shape, data_offsets} plus an optional "__metadata__" string map,
/// then the raw little-endian tensor bytes.
///
/// Why this format: it holds nothing but data (no pickled code to execute), it is trivial to
/// validate, and a checkpoint written here loads straight into a PyTorch `state_dict`.
/// The writer reproduces the reference implementation's bytes exactly (same tensor order,
/// compact JSON, space padding to 8 bytes), so a file round-trips byte for byte.
public struct SafetensorsFile: Sendable, Equatable {
    /// Element types this reader and writer handle (the reference's names).
    public enum DType: String, Sendable, CaseIterable {
        /// 1-byte boolean.
        case bool = "BOOL"
        /// Unsigned 8-bit integer.
        case uint8 = "U8"
        /// Signed 8-bit integer.
        case int8 = "I8"
        /// Signed 16-bit integer.
        case int16 = "I16"
        /// Unsigned 16-bit integer.
        case uint16 = "U16"
        /// IEEE half precision.
        case float16 = "F16"
        /// bfloat16.
        case bfloat16 = "BF16"
        /// Signed 32-bit integer.
        case int32 = "I32"
        /// Unsigned 32-bit integer.
        case uint32 = "U32"
        /// IEEE single precision: network weights.
        case float32 = "F32"
        /// IEEE double precision.
        case float64 = "F64"
        /// Signed 64-bit integer: BatchNorm's num_batches_tracked.
        case int64 = "I64"
        /// Unsigned 64-bit integer.
        case uint64 = "U64"

        /// Bytes per element.
        public var byteSize: Int {
            switch self {
            case .bool, .uint8, .int8: return 1
            case .int16, .uint16, .float16, .bfloat16: return 2
            case .int32, .uint32, .float32: return 4
            case .float64, .int64, .uint64: return 8
            }
        }

        /// Position in the reference's Dtype enum; it writes larger ones first (alignment).
        var rank: Int { Self.allCases.firstIndex(of: self)! }
    }

    /// One tensor: element type, shape ([] = scalar) and its little-endian bytes.
    public struct Entry: Sendable, Equatable {
        /// Element type.
        public var dtype: DType
        /// Dimensions, outermost first; [] for a scalar.
        public var shape: [Int]
        /// The raw little-endian elements, row-major.
        public var bytes: [UInt8]

        /// Creates an entry from raw bytes; `bytes.count` must equal the shape's element count
        /// times the dtype's size.
        public init(dtype: DType, shape: [Int], bytes: [UInt8]) throws {
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw EngineError.weights("tensor shape \(shape) has a negative dimension")
            }
            let expected = shape.reduce(1, *) * dtype.byteSize
            guard bytes.count == expected else {
                throw EngineError.weights("tensor of \(dtype.rawValue) \(shape) needs \(expected) bytes, got \(bytes.count)")
            }
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        /// An F32 entry holding `values` with `shape` (default: a vector).
        public init(float32 values: [Float], shape: [Int]? = nil) throws {
            // The format is little-endian; on a little-endian host the floats' memory is the
            // file's bytes, so one copy does (a checkpoint's history is gigabytes).
            var bytes: [UInt8]
            if UInt32(1).littleEndian == 1 {
                bytes = values.withUnsafeBytes { Array($0) }
            } else {
                bytes = []
                bytes.reserveCapacity(values.count * 4)
                for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            }
            try self.init(dtype: .float32, shape: shape ?? [values.count], bytes: bytes)
        }

        /// An I64 entry holding `values` with `shape` ([] with one value = a scalar, as PyTorch
        /// stores num_batches_tracked).
        public init(int64 values: [Int64], shape: [Int]? = nil) throws {
            var bytes = [UInt8]()
            bytes.reserveCapacity(values.count * 8)
            for v in values { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
            try self.init(dtype: .int64, shape: shape ?? [values.count], bytes: bytes)
        }

        /// An F32 entry with a copy of `tensor` (same shape).
        public init(_ tensor: Tensor) throws {
            try self.init(float32: tensor.array, shape: tensor.dims)
        }

        /// Number of elements.
        public var elementCount: Int { shape.reduce(1, *) }

        /// The elements of an F32 entry.
        public func float32Values() throws -> [Float] {
            guard dtype == .float32 else { throw EngineError.weights("tensor is \(dtype.rawValue), expected F32") }
            let count = elementCount
            guard bytes.count == 4 * count else { throw EngineError.weights("F32 tensor \(shape) holds \(bytes.count) bytes, not \(4 * count)") }
            if UInt32(1).littleEndian == 1 {
                return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    bytes.withUnsafeBytes { raw in
                        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<(4 * count)]))
                    }
                    initialized = count
                }
            }
            return bytes.withUnsafeBytes { raw in
                (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            }
        }

        /// The elements of an I64 entry.
        public func int64Values() throws -> [Int64] {
            guard dtype == .int64 else { throw EngineError.weights("tensor is \(dtype.rawValue), expected I64") }
            return bytes.withUnsafeBytes { raw in
                (0..<elementCount).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
            }
        }

        /// Copies an F32 entry into `tensor`, whose dimensions must equal the entry's shape.
        public func copy(into tensor: Tensor) throws {
            guard shape == tensor.dims else {
                throw EngineError.weights("has shape \(shape), the network expects \(tensor.dims)")
            }
            let values = try float32Values()
            values.withUnsafeBufferPointer { tensor.pointer.update(from: $0.baseAddress!, count: values.count) }
        }
    }

    /// Tensors by name.
    public var tensors: [String: Entry]
    /// The "__metadata__" string map (empty = none written).
    public var metadata: [String: String]

    /// Largest header accepted, the reference's limit: a bigger one is a corrupt length field.
    public static let maximumHeaderSize = 100_000_000

    /// Creates a file in memory.
    public init(tensors: [String: Entry] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    // MARK: Writing

    /// The file's bytes, laid out as the reference writes them: tensors sorted by dtype (wider
    /// first) then by name (bytewise), compact JSON, header padded with spaces to 8 bytes.
    public func serialized() -> [UInt8] {
        let order = tensors.keys.sorted { a, b in
            let ra = tensors[a]!.dtype.rank, rb = tensors[b]!.dtype.rank
            if ra != rb { return ra > rb }
            return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
        }
        var json = "{"
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                .map { "\(Self.jsonString($0)):\(Self.jsonString(metadata[$0]!))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for name in order {
            let e = tensors[name]!
            let end = offset + e.bytes.count
            fields.append("\(Self.jsonString(name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":["
                + e.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        json += fields.joined(separator: ",") + "}"
        var header = Array(json.utf8)
        header += Array(repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
        var out = [UInt8]()
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out += header
        for name in order { out += tensors[name]!.bytes }
        return out
    }

    /// Writes the file atomically (a reader never sees half a checkpoint).
    public func write(to path: String) throws {
        for name in tensors.keys where name == "__metadata__" {
            throw EngineError.weights("\(path): a tensor may not be called '\(name)' (the format reserves it)")
        }
        try AtomicFile.write(serialized(), to: path)
    }

    /// serde_json's string escaping, which the reference uses: short escapes for the usual
    /// control characters, \u00XX for the rest below 0x20, everything else verbatim UTF-8.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    // MARK: Reading

    /// Reads and validates the file at `path`; every problem is an EngineError.weights naming
    /// the file.
    public static func read(from path: String) throws -> SafetensorsFile {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw EngineError.weights("\(path): is a folder; give the .safetensors file (as --save-weights wrote it)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw EngineError.weights("\(path): cannot read the file (\(FileErrorText.describe(error))); check the path")
        }
        return try SafetensorsFile(bytes: [UInt8](data), source: path)
    }

    /// The string map under a header's "__metadata__" (empty when it has none).
    private static func metadata(of header: [String: Any], fail: (String) -> EngineError) throws -> [String: String] {
        var metadata: [String: String] = [:]
        if let meta = header["__metadata__"] {
            guard let map = meta as? [String: Any] else { throw fail("__metadata__ is not an object") }
            for (k, v) in map {
                guard let s = v as? String else { throw fail("__metadata__ value for '\(k)' is not a string") }
                metadata[k] = s
            }
        }
        return metadata
    }

    /// The metadata of the file at `path`, read from its header alone: a checkpoint's tensors
    /// are hundreds of megabytes, its state a few kilobytes.
    public static func readMetadata(from path: String) throws -> [String: String] {
        func fail(_ why: String) -> EngineError { EngineError.weights("\(path): not a valid safetensors file: \(why)") }
        guard let handle = FileHandle(forReadingAtPath: path),
              let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue else {
            throw EngineError.weights("\(path): cannot open the file")
        }
        defer { try? handle.close() }
        let (header, length) = try header(size: size, next: { [UInt8]((try? handle.read(upToCount: $0)) ?? Data()) }, fail: fail)
        // The tensors themselves are not read, but a file cut short (a copy that stopped, a full
        // disk) must not pass for whole: its data section must reach as far as they say.
        let claimed = header.compactMap { name, value -> Int? in
            guard name != "__metadata__", let fields = value as? [String: Any] else { return nil }
            return integers(fields["data_offsets"])?.last
        }.max() ?? 0
        guard 8 + length + claimed <= size else {
            throw fail("its tensors need \(claimed) bytes of data but the file holds \(size - 8 - length) (truncated?)")
        }
        return try metadata(of: header, fail: fail)
    }

    /// The header of a safetensors file of `size` bytes whose bytes `next(count)` hands out in
    /// order (fewer at the end): its JSON object and its length. One reading for a whole file in
    /// memory and for a header read alone from disk.
    private static func header(size: Int, next: (Int) -> [UInt8],
                               fail: (String) -> EngineError) throws -> (object: [String: Any], length: Int) {
        let lengthBytes = next(8)
        guard lengthBytes.count == 8 else { throw fail("\(size) bytes, too short for the 8-byte header length") }
        let headerLength = lengthBytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(maximumHeaderSize) else {
            throw fail("header length \(headerLength) exceeds the \(maximumHeaderSize)-byte limit (corrupt or not safetensors)")
        }
        let n = Int(headerLength)
        guard 8 + n <= size else {
            throw fail("header length \(n) runs past the end of the \(size)-byte file (truncated?)")
        }
        let text = next(n)
        guard n >= 2, text.count == n, text[0] == UInt8(ascii: "{") else { throw fail("the header is not a JSON object") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(text), options: [])
        } catch {
            throw fail("the header is not valid JSON")
        }
        guard let header = object as? [String: Any] else { throw fail("the header is not a JSON object") }
        return (header, n)
    }

    /// Parses and validates `bytes`; `source` names the file in error messages.
    public init(bytes: [UInt8], source: String) throws {
        func fail(_ why: String) -> EngineError {
            EngineError.weights("\(source): not a valid safetensors file: \(why)")
        }
        var at = 0
        let (header, n) = try Self.header(size: bytes.count, next: { count in
            defer { at = min(bytes.count, at + count) }
            return Array(bytes[at..<min(bytes.count, at + count)])
        }, fail: fail)

        let metadata = try Self.metadata(of: header, fail: fail)

        struct Info { var name: String; var dtype: DType; var shape: [Int]; var begin: Int; var end: Int }
        var infos: [Info] = []
        for (name, value) in header where name != "__metadata__" {
            guard let fields = value as? [String: Any] else { throw fail("entry '\(name)' is not an object") }
            guard let dtypeName = fields["dtype"] as? String else { throw fail("tensor '\(name)' has no dtype") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("tensor '\(name)' has dtype \(dtypeName), which is not supported (supported: "
                    + DType.allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
            guard let shape = Self.integers(fields["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                let given = fields["shape"].map { "\($0)" } ?? "none"
                throw fail("tensor '\(name)' has no valid shape (\(given.prefix(80))): a list of whole numbers from 0 to 2^53")
            }
            guard let offsets = Self.integers(fields["data_offsets"]), offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1] else {
                let given = fields["data_offsets"].map { "\($0)" } ?? "none"
                throw fail("tensor '\(name)' has no valid data_offsets (\(given.prefix(80))): they are [begin, end], "
                           + "whole numbers with 0 <= begin <= end, byte offsets within the data section")
            }
            var elements = 1
            for d in shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("tensor '\(name)' shape \(shape) is too large") }
                elements = p
            }
            let (size, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, size == offsets[1] - offsets[0] else {
                throw fail("tensor '\(name)' (\(dtypeName) \(shape)) needs \(overflow ? "too many" : String(size)) bytes "
                    + "but data_offsets \(offsets) span \(offsets[1] - offsets[0])")
            }
            infos.append(Info(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1]))
        }

        // The data must be covered exactly, without gaps or overlaps, as the reference requires.
        let dataStart = 8 + n
        let dataLength = bytes.count - dataStart
        infos.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expected = 0
        for info in infos {
            guard info.begin == expected else {
                throw fail(info.begin < expected
                    ? "tensor '\(info.name)' overlaps the previous tensor's bytes"
                    : "a gap of \(info.begin - expected) bytes before tensor '\(info.name)'")
            }
            guard info.end <= dataLength else {
                throw fail("tensor '\(info.name)' ends at byte \(info.end) of a \(dataLength)-byte data section (truncated?)")
            }
            expected = info.end
        }
        guard expected == dataLength else {
            throw fail("the tensors cover \(expected) of the \(dataLength) data bytes (trailing garbage or a bad offset)")
        }

        var tensors: [String: Entry] = [:]
        for info in infos {
            tensors[info.name] = try Entry(dtype: info.dtype, shape: info.shape,
                                           bytes: Array(bytes[dataStart + info.begin ..< dataStart + info.end]))
        }
        self.init(tensors: tensors, metadata: metadata)
    }

    /// A JSON array of exact integers, or nil.
    private static func integers(_ value: Any?) -> [Int]? {
        guard let list = value as? [Any] else { return nil }
        var out: [Int] = []
        for item in list {
            // JSONSerialization hands back NSNumber; refuse fractions and values a Double cannot
            // hold exactly (no real file has an offset near 2^53).
            guard let number = item as? NSNumber else { return nil }
            let d = number.doubleValue
            guard d == d.rounded(), abs(d) < 9.0e15, let i = Int(exactly: d) else { return nil }
            out.append(i)
        }
        return out
    }
}

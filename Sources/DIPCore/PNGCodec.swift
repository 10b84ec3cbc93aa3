import CPNG
import Foundation

/// A PNG file decoded into an `Image`, with what was lost on the way.
public struct DecodedPNG: Sendable {
    /// The pixels: 1 channel for gray and gray+alpha files, 3 for RGB, RGBA and palette files.
    public var image: Image
    /// The file's pixel format in words, e.g. "8-bit palette", "16-bit gray+alpha", "8-bit RGBA".
    public var sourceFormat: String
    /// True when the file had an alpha channel or tRNS transparency that was ignored; callers
    /// tell the user, because the visible picture may differ from what we fit.
    public var droppedAlpha: Bool
    /// Precision of the file's samples: 16 for 16-bit files, 8 for everything else (1 to 8 bits).
    public var bitDepth: Int
    /// The dropped alpha channel (0 transparent ... 1 opaque), one value a pixel, row-major; nil
    /// when the file had none, or only a 16-bit tRNS colour key. Masks read it where the colours
    /// say nothing (`MaskSpec`): a mask painted as transparency in an image editor.
    public var alpha: [Float]?
}

/// Reads and writes PNG files through libpng.
///
/// Samples are stored values over the maximum (v/255 or v/65535), exactly as PIL followed by
/// `/ 255.` gives them upstream: no gamma or colour management is applied, gAMA, cHRM, sRGB and
/// iCCP chunks are ignored, and alpha is dropped (never composited or premultiplied).
/// Files of 8 bits or fewer go through libpng's simplified API; 16-bit files go through the
/// classic API (C in the CPNG shim), because the simplified API only returns premultiplied,
/// gamma-converted 16-bit samples.
public enum PNGCodec {
    /// The 8-byte signature every PNG file starts with.
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Reads the PNG file at `path`.
    public static func read(_ path: String) throws -> DecodedPNG {
        try decode(fileBytes(path), name: path)
    }

    /// The bytes of the file at `path`, with `read`'s errors for a missing, directory or
    /// unreadable path: for a caller that also hashes what it decodes (the same bytes, so a file
    /// changed in between cannot pass one version's hash off as another's pixels).
    public static func fileBytes(_ path: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DIPError.io(path: path, reason: "no such file (check the path and the data folder)")
        }
        if isDirectory.boolValue {
            throw DIPError.io(path: path, reason: "is a directory, not a PNG file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DIPError.io(path: path, reason: "cannot read (\(FileErrorText.describe(error)))")
        }
        return [UInt8](data)
    }

    /// The width and height a PNG file's header states, read from its first 24 bytes without
    /// decoding it (a picture that is not the size it should be can be set aside before its
    /// pixels cost memory and time).
    public static func dimensions(_ path: String) throws -> (width: Int, height: Int) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DIPError.io(path: path, reason: "cannot open it (check that it exists and its permissions)")
        }
        defer { try? handle.close() }
        let bytes = [UInt8]((try? handle.read(upToCount: 24)) ?? Data())
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw DIPError.badFile(path: path, reason: notPNG(bytes))
        }
        // The first chunk must be IHDR: its length (13) and type, then width and height.
        guard bytes.count == 24, Array(bytes[12..<16]) == Array("IHDR".utf8) else {
            throw DIPError.badFile(path: path, reason: "not a readable PNG (no IHDR chunk first)")
        }
        func big(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (big(16), big(20))
    }

    /// Why bytes without the PNG signature are refused, naming a JPEG, GIF, WebP, TIFF or BMP
    /// by its own signature, with what to do: dip-report reads PNG only (lossless, as the
    /// paper's images are).
    static func notPNG(_ bytes: [UInt8]) -> String {
        let kinds: [(String, [UInt8])] = [("a JPEG", [0xFF, 0xD8, 0xFF]), ("a GIF", Array("GIF8".utf8)), ("a TIFF", [0x49, 0x49, 0x2A, 0x00]),
                                          ("a TIFF", [0x4D, 0x4D, 0x00, 0x2A]), ("a BMP", Array("BM".utf8))]
        var kind = kinds.first { bytes.starts(with: $0.1) }?.0
        if bytes.count >= 12, bytes.starts(with: Array("RIFF".utf8)), Array(bytes[8..<12]) == Array("WEBP".utf8) { kind = "a WebP" }
        return "not a PNG file (it does not start with the PNG signature\(kind.map { "; it is \($0) image" } ?? ""));"
            + " dip-report reads PNG only: convert it, e.g. `python3 -c \"from PIL import Image; Image.open('IN').save('OUT.png')\"` or ImageMagick's `convert IN OUT.png`"
    }

    /// Decodes PNG bytes; `name` (usually the file's path) is what error messages call them.
    public static func decode(_ bytes: [UInt8], name: String) throws -> DecodedPNG {
        if bytes.isEmpty {
            throw DIPError.badFile(path: name, reason: "file is empty, not a PNG")
        }
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw DIPError.badFile(path: name, reason: notPNG(bytes))
        }
        // Dropping colour-space chunks before libpng sees them is what stops the simplified API
        // from gamma-converting 8-bit samples (PIL, which upstream uses, ignores them too).
        let (stream, complete) = scanChunks(bytes)

        // libpng keeps the memory pointer until finish_read, so the bytes need storage whose
        // lifetime we control (an array's withUnsafeBytes pointer is valid only in its closure;
        // release builds did free it early).
        let streamBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(stream.count, 1), alignment: 16)
        defer { streamBuffer.deallocate() }
        streamBuffer.copyBytes(from: stream)
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        defer { png_image_free(&png) }
        let began = png_image_begin_read_from_memory(&png, streamBuffer.baseAddress, stream.count)
        guard began != 0 else {
            throw DIPError.badFile(path: name, reason: "not a readable PNG (libpng: \(message(of: png)))")
        }
        // begin_read has validated IHDR, so its fields can be taken from the bytes directly;
        // the simplified API does not report the file's bit depth or colour type.
        let header = Header(stream)
        let width = Int(png.width), height = Int(png.height)
        guard width >= 1, height >= 1, width <= Image.maxSide, height <= Image.maxSide else {
            throw DIPError.badFile(path: name, reason: "image is \(width)x\(height); each side must be 1 to \(Image.maxSide) pixels")
        }
        let hasAlpha = png.format & png_uint_32(PNG_FORMAT_FLAG_ALPHA) != 0
        let isColour = png.format & png_uint_32(PNG_FORMAT_FLAG_COLOR) != 0
        let outChannels = isColour ? 3 : 1
        // tRNS counts as alpha for the simplified API but adds no channel to the stored samples.
        let fileChannels = header.bitDepth == 16
            ? [0: 1, 2: 3, 4: 2, 6: 4][header.colourType, default: outChannels]
            : outChannels + (hasAlpha ? 1 : 0)
        let description = header.describe(hasTransparency: hasAlpha)

        // The simplified API stops after the image data; a file cut before its IEND chunk is
        // still truncated, and the classic path (png_read_end) would refuse it.
        guard complete else {
            throw DIPError.badFile(path: name, reason: "corrupt or truncated PNG (the file ends before its IEND chunk)")
        }
        try requireRoom(name: name, width: width, height: height, outChannels: outChannels, fileChannels: fileChannels,
                        sampleBytes: header.bitDepth == 16 ? 2 : 1, keepsAlpha: hasAlpha && fileChannels > outChannels)
        var image = Image(channels: outChannels, height: height, width: width)
        var alpha: [Float]?
        let plane = width * height
        if header.bitDepth == 16 {
            png_image_free(&png)
            let samples = try read16(stream, count: plane * fileChannels, name: name)
            image.pixels.withUnsafeMutableBufferPointer { out in
                for c in 0..<outChannels {
                    for i in 0..<plane {
                        out[c * plane + i] = Float(samples[i * fileChannels + c]) / 65535
                    }
                }
            }
            // Gray+alpha and RGBA store alpha last; a tRNS key adds no channel.
            if fileChannels > outChannels {
                alpha = (0..<plane).map { Float(samples[$0 * fileChannels + outChannels]) / 65535 }
            }
        } else {
            var format = png_uint_32(0)
            if isColour { format |= png_uint_32(PNG_FORMAT_FLAG_COLOR) }
            // Asking for the alpha channel and discarding it ourselves: without it libpng would
            // composite onto a background instead of dropping alpha.
            if hasAlpha { format |= png_uint_32(PNG_FORMAT_FLAG_ALPHA) }
            png.format = format
            var buffer = [UInt8](repeating: 0, count: plane * fileChannels)
            let finished = buffer.withUnsafeMutableBytes { raw in
                png_image_finish_read(&png, nil, raw.baseAddress, 0, nil)
            }
            guard finished != 0 else {
                throw DIPError.badFile(path: name, reason: "corrupt or truncated PNG (libpng: \(message(of: png)))")
            }
            image.pixels.withUnsafeMutableBufferPointer { out in
                for c in 0..<outChannels {
                    for i in 0..<plane {
                        out[c * plane + i] = Float(buffer[i * fileChannels + c]) / 255
                    }
                }
            }
            if hasAlpha { alpha = (0..<plane).map { Float(buffer[$0 * fileChannels + outChannels]) / 255 } }
        }
        return DecodedPNG(image: image, sourceFormat: description, droppedAlpha: hasAlpha,
                          bitDepth: header.bitDepth == 16 ? 16 : 8, alpha: alpha)
    }

    /// Throws, naming the file and the sizes, when decoding a `width` x `height` image needs more
    /// memory than this process can have (`available`, by default `HostMemory.available()`;
    /// nothing is checked where that is unknown, nor below `HostMemory.checkedFrom`): the
    /// image's floats, the file's samples as libpng hands them over (`fileChannels` of
    /// `sampleBytes` a pixel) and, where kept, the alpha channel's floats. Past that, the
    /// allocation trapped with a backtrace under `ulimit -v` (an 8000x8000 RGB file needs about
    /// 1 GiB), and without a limit the machine would swap until the out-of-memory killer ended
    /// the process.
    static func requireRoom(name: String, width: Int, height: Int, outChannels: Int, fileChannels: Int, sampleBytes: Int,
                            keepsAlpha: Bool, available: @autoclosure () -> UInt64? = HostMemory.available()) throws {
        let floatBytes = MemoryLayout<Float>.size
        let perPixel = floatBytes * outChannels + sampleBytes * fileChannels + (keepsAlpha ? floatBytes : 0)
        let needed = Double(width) * Double(height) * Double(perPixel)
        guard HostMemory.worthChecking(needed), let available = available(), needed > Double(available) else { return }
        let gib = ByteSize.gib
        throw DIPError.badFile(path: name, reason: "decoding this \(width)x\(height) image needs about \(gib(needed)) of memory "
            + "and this process can have \(gib(Double(available))) here; use a smaller image or a crop of it, or free memory")
    }

    /// Writes a 1- or 3-channel image to `path` as an 8- or 16-bit PNG, atomically.
    public static func write(_ image: Image, to path: String, bitDepth: Int = 8) throws {
        let bytes: [UInt8]
        do {
            bytes = try encode(image, bitDepth: bitDepth)
        } catch let DIPError.invalidValue(name, value, reason) {
            throw DIPError.invalidValue(name: name, value: value, reason: "\(reason) (writing \(path))")
        }
        try AtomicFile.write(bytes, to: path)
    }

    /// Encodes a 1- or 3-channel image as PNG bytes: samples clamped to [0, 1] and rounded to
    /// the nearest of 255 (8-bit) or 65535 (16-bit) levels.
    public static func encode(_ image: Image, bitDepth: Int = 8) throws -> [UInt8] {
        guard image.channels == 1 || image.channels == 3 else {
            throw DIPError.invalidValue(name: "image channels", value: "\(image.channels)",
                                        reason: "PNG output supports 1 (gray) or 3 (RGB) channels")
        }
        guard bitDepth == 8 || bitDepth == 16 else {
            throw DIPError.invalidValue(name: "PNG bit depth", value: "\(bitDepth)", reason: "use 8 or 16")
        }
        guard image.width <= Image.maxSide, image.height <= Image.maxSide else {
            throw DIPError.invalidValue(name: "image size", value: "\(image.width)x\(image.height)",
                                        reason: "each side must be at most \(Image.maxSide) pixels")
        }
        if image.pixels.contains(where: { $0.isNaN }) {
            throw DIPError.invalidValue(name: "image", value: "NaN",
                                        reason: "the image has NaN samples and cannot be saved as PNG")
        }
        let plane = image.planeSize, channels = image.channels
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        png.width = png_uint_32(image.width)
        png.height = png_uint_32(image.height)
        var format = channels == 3 ? png_uint_32(PNG_FORMAT_FLAG_COLOR) : 0
        if bitDepth == 16 { format |= png_uint_32(PNG_FORMAT_FLAG_LINEAR) }
        png.format = format
        defer { png_image_free(&png) }

        let maxValue = bitDepth == 16 ? 65535.0 : 255.0
        func level(_ v: Float) -> Int { Int((min(max(Double(v), 0), 1) * maxValue).rounded()) }
        let rawSize = plane * channels * (bitDepth / 8)
        var capacity = rawSize + image.height + rawSize / 64 + 4096
        var output: [UInt8] = []
        var written = 0
        let write: (UnsafeRawPointer) -> Bool = { source in
            for _ in 0..<2 {
                output = [UInt8](repeating: 0, count: capacity)
                var size = png_alloc_size_t(capacity)
                let ok = output.withUnsafeMutableBytes { out in
                    png_image_write_to_memory(&png, out.baseAddress, &size, 0, source, 0, nil)
                }
                if ok != 0 { written = Int(size); return true }
                if Int(size) <= capacity { return false }
                capacity = Int(size)
            }
            return false
        }
        let ok: Bool
        if bitDepth == 8 {
            var interleaved = [UInt8](repeating: 0, count: plane * channels)
            for c in 0..<channels {
                for i in 0..<plane { interleaved[i * channels + c] = UInt8(level(image.pixels[c * plane + i])) }
            }
            ok = interleaved.withUnsafeBytes { write($0.baseAddress!) }
        } else {
            var interleaved = [UInt16](repeating: 0, count: plane * channels)
            for c in 0..<channels {
                for i in 0..<plane { interleaved[i * channels + c] = UInt16(level(image.pixels[c * plane + i])) }
            }
            ok = interleaved.withUnsafeBytes { write($0.baseAddress!) }
        }
        guard ok else {
            throw DIPError.invalidValue(name: "image", value: image.sizeDescription,
                                        reason: "libpng could not encode it (\(message(of: png)))")
        }
        output.removeSubrange(written...)
        // The simplified writer tags 16-bit files as linear (gAMA 1.0, cHRM), which viewers would
        // brighten; our samples are the same sRGB-encoded values as in 8-bit files.
        return bitDepth == 16 ? withoutColourSpaceChunks(output) : output
    }

    // MARK: - Helpers

    /// The IHDR fields we report; only valid once libpng has accepted the header.
    struct Header {
        var bitDepth: Int
        var colourType: Int

        init(_ bytes: [UInt8]) {
            // Signature (8), IHDR length (4) and type (4), width (4), height (4), then depth and type.
            bitDepth = bytes.count > 25 ? Int(bytes[24]) : 8
            colourType = bytes.count > 25 ? Int(bytes[25]) : 0
        }

        func describe(hasTransparency: Bool) -> String {
            let kind: String
            switch colourType {
            case 0: kind = "gray"
            case 2: kind = "RGB"
            case 3: kind = "palette"
            case 4: kind = "gray+alpha"
            case 6: kind = "RGBA"
            default: kind = "colour type \(colourType)"
            }
            let ownsAlpha = colourType == 4 || colourType == 6
            return "\(bitDepth)-bit \(kind)" + (hasTransparency && !ownsAlpha ? " with tRNS transparency" : "")
        }
    }

    /// libpng's message from a failed simplified-API call.
    static func message(of png: png_image) -> String {
        var copy = png.message
        let text = withUnsafeBytes(of: &copy) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return text.isEmpty ? "unknown error" : text
    }

    /// The PNG stream with its gAMA, cHRM, sRGB and iCCP chunks removed. Chunks are copied
    /// verbatim (CRCs stay valid); a malformed chunk structure is left for libpng to report.
    static func withoutColourSpaceChunks(_ bytes: [UInt8]) -> [UInt8] {
        scanChunks(bytes).stream
    }

    /// `withoutColourSpaceChunks`, and whether a whole IEND chunk was reached.
    static func scanChunks(_ bytes: [UInt8]) -> (stream: [UInt8], complete: Bool) {
        let dropped: Set<[UInt8]> = [Array("gAMA".utf8), Array("cHRM".utf8), Array("sRGB".utf8), Array("iCCP".utf8)]
        var out = Array(bytes.prefix(8))
        out.reserveCapacity(bytes.count)
        var offset = 8
        var complete = false
        while offset + 12 <= bytes.count {
            let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16
                | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let end = offset + 12 + length
            guard length <= 0x7FFF_FFFF, end <= bytes.count else { break }
            let type = Array(bytes[(offset + 4)..<(offset + 8)])
            if !dropped.contains(type) {
                out.append(contentsOf: bytes[offset..<end])
            }
            offset = end
            if type == Array("IEND".utf8) { complete = true; break }
        }
        out.append(contentsOf: bytes[offset...])
        return (out, complete)
    }

    /// Decodes a 16-bit stream with the classic-API reader in the CPNG shim.
    static func read16(_ bytes: [UInt8], count: Int, name: String) throws -> [UInt16] {
        var raw = [UInt8](repeating: 0, count: count * 2)
        var text = [CChar](repeating: 0, count: 128)
        let status = bytes.withUnsafeBufferPointer { input in
            raw.withUnsafeMutableBufferPointer { out in
                text.withUnsafeMutableBufferPointer { message in
                    dip_png_read16(input.baseAddress, input.count, out.baseAddress, out.count, message.baseAddress)
                }
            }
        }
        guard status == 0 else {
            let reason = String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw DIPError.badFile(path: name, reason: "corrupt or truncated PNG (libpng: \(reason))")
        }
        var samples = [UInt16](repeating: 0, count: count)
        for i in 0..<count { samples[i] = UInt16(raw[2 * i]) << 8 | UInt16(raw[2 * i + 1]) }
        return samples
    }
}

// libFuzzer target: the PNG reader (libpng's simplified API for 8-bit files, the chunk
// scanner and 16-bit path for the rest). Any input must decode or throw a DIPError; a decoded
// image must re-encode and decode back to the same shape.
import DIPCore
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let decoded = try? PNGCodec.decode(bytes, name: "fuzz.png") else { return 0 }
    let image = decoded.image
    guard image.pixels.count == image.channels * image.height * image.width,
          image.pixels.allSatisfy({ $0 >= 0 && $0 <= 1 }) else {
        fatalError("decoded \(image.sizeDescription) with \(image.pixels.count) samples or samples outside 0...1")
    }
    if image.channels == 1 || image.channels == 3 {
        let again = try! PNGCodec.decode(try! PNGCodec.encode(image, bitDepth: decoded.bitDepth), name: "again.png").image
        guard again.channels == image.channels, again.height == image.height, again.width == image.width else {
            fatalError("round trip changed the shape: \(image.sizeDescription) -> \(again.sizeDescription)")
        }
    }
    return 0
}

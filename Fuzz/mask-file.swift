// libFuzzer target: the checks a user's mask file goes through (MaskFile.normalise) on any PNG
// that decodes. The first byte chooses --invert and the image's channel count.
import DIPCore
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMaskFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let flags = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    guard let decoded = try? PNGCodec.decode(bytes, name: "mask.png") else { return 0 }
    let m = decoded.image
    let channels: Int? = [nil, 1, 3, m.channels][Int(flags >> 1) & 3]
    guard let result = try? MaskFile.normalise(m, path: "mask.png", height: m.height, width: m.width,
                                               channels: channels, invert: flags & 1 == 1) else { return 0 }
    let stats = MaskStatistics(result.mask)
    guard result.mask.pixels.allSatisfy({ $0 == 0 || $0 == 1 }), stats.holes > 0, stats.known > 0,
          result.mask.height == m.height, result.mask.width == m.width else {
        fatalError("normalise accepted a mask that is not binary, or has no holes or nothing known")
    }
    return 0
}

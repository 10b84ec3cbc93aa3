// libFuzzer target: the run-record decoder the result store reads every record with. Any
// input must decode or throw; a decoded record must encode and decode again.
import DIPExperiments
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRunRecord(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    guard let record = try? RunRecord.decode(bytes, path: "fuzz.json") else { return 0 }
    do {
        _ = try RunRecord.decode(try record.encoded(), path: "again.json")
    } catch {
        fatalError("a decoded record does not read back after encoding: \(error)")
    }
    return 0
}

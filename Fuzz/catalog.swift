// libFuzzer target: a user's catalog file (`run --catalog`), read as Catalog.all reads it,
// with the id and image-name checks. An accepted experiment's every store folder must be a
// plain name, and the catalog must print and read back.
import DIPExperiments
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCatalog(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    guard let experiments = try? JSONDecoder().decode([Experiment].self, from: bytes) else { return 0 }
    for e in experiments where e.problems.isEmpty {
        let names = [e.id] + e.runs.flatMap { $0.images.map(\.name) }
        if names.contains(where: { $0.contains("/") || $0 == ".." || $0 == "." || $0.hasPrefix(".") }) {
            fatalError("accepted a name that leaves the results folder: \(names)")
        }
        for spec in e.runs {
            for image in spec.images {
                guard case let .dip(config) = spec.method else { continue }
                _ = try? RunConfiguration(imageFile: image.file, preprocessing: spec.preprocessing,
                                          mask: spec.mask, method: .dip(config)).hash()
            }
        }
    }
    do {
        _ = try JSONDecoder().decode([Experiment].self, from: Data(try Catalog.json(experiments).utf8))
    } catch {
        fatalError("a decoded catalog does not read back after printing: \(error)")
    }
    return 0
}

/// A fitted network as a safetensors file with upstream's exact state_dict keys and shapes, so
/// `load_state_dict` works on upstream's `skip()` (and our files load back into our network).
///
/// BatchNorm buffers are included; `num_batches_tracked` is stored as PyTorch stores it, an
/// I64 scalar of shape [].
public enum WeightsFile {
    /// Writes every parameter and buffer of `network` to `path` (atomically).
    public static func save(_ network: SkipNetwork, to path: String, metadata: [String: String] = [:]) throws {
        var file = SafetensorsFile(metadata: metadata.merging(["format": "pt", "producer": "dip-report"]) { a, _ in a })
        for t in network.tensors {
            if t.key.hasSuffix(".num_batches_tracked") {
                file.tensors[t.key] = try .init(int64: [Int64(t.value.pointer[0])], shape: [])
            } else {
                file.tensors[t.key] = try .init(t.value)
            }
        }
        try file.write(to: path)
    }

    /// Loads `path` into `network`; every key must be present with the network's shape, and no
    /// others may be (a file for another configuration is refused, naming the first difference).
    public static func load(_ path: String, into network: SkipNetwork) throws {
        let file = try SafetensorsFile.read(from: path)
        let expected = Set(network.tensors.map(\.key))
        if let extra = file.tensors.keys.sorted().first(where: { !expected.contains($0) }) {
            throw EngineError.weights("\(path): has '\(extra)', which this network does not; it was saved for another configuration (compare with `dip-report net`)")
        }
        for t in network.tensors {
            guard let entry = file.tensors[t.key] else {
                throw EngineError.weights("\(path): '\(t.key)' is missing; the file was saved for another configuration")
            }
            if t.key.hasSuffix(".num_batches_tracked") {
                let v: Float = entry.dtype == .int64 ? Float(try entry.int64Values().first ?? 0) : try entry.float32Values().first ?? 0
                t.value.pointer[0] = v
            } else {
                // Same keys, other sizes: another channel count, or an image of other colours.
                guard entry.shape == t.value.dims else {
                    throw EngineError.weights("\(path): '\(t.key)' has shape \(entry.shape), the network expects \(t.value.dims); it was saved for "
                                              + "another configuration (another --net, or a gray image for a colour one or the reverse: compare with `dip-report net`)")
                }
                do { try entry.copy(into: t.value) } catch let EngineError.weights(reason) {
                    throw EngineError.weights("\(path): '\(t.key)': \(reason)")
                }
                // Else the fit would diverge at its first iteration and blame the learning rate.
                if let i = (0..<t.value.count).first(where: { !t.value.pointer[$0].isFinite }) {
                    throw EngineError.weights("\(path): '\(t.key)' holds \(t.value.pointer[i]) at index \(i); "
                                              + "these weights come from a fit that diverged, or the file is damaged")
                }
            }
        }
    }
}

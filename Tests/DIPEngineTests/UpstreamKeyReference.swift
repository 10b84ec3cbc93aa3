@testable import DIPEngine

// The test oracle for the network's state_dict keys: upstream's skip() recursion written out
// independently of SkipNetwork (whose own traversal, SkipLevel, names the tensors the weights
// files hold). It lives with the tests because nothing but a check needs a second traversal.

/// One entry of the state_dict that upstream's `skip()` (models/skip.py at 042e0d4) builds for a
/// configuration: the name PyTorch gives the tensor, its shape, and whether it is learned.
struct UpstreamKey: Sendable, Hashable, CustomStringConvertible {
    /// The state_dict key, e.g. "1.1.7.3.1.weight".
    var name: String
    /// The shape; [] for the scalar num_batches_tracked.
    var shape: [Int]
    /// True for parameters (conv weight/bias, BN weight/bias), false for BN buffers.
    var isParameter: Bool

    /// Creates a key.
    init(name: String, shape: [Int], isParameter: Bool) {
        self.name = name
        self.shape = shape
        self.isParameter = isParameter
    }

    /// Number of elements (1 for a scalar).
    var elementCount: Int { shape.reduce(1, *) }

    /// "key<TAB>shape<TAB>kind", the line format of shared/docs/upstream-keys/*.tsv.
    var description: String {
        let dims = shape.isEmpty ? "scalar" : shape.map(String.init).joined(separator: "x")
        return "\(name)\t\(dims)\t\(isParameter ? "parameter" : "buffer")"
    }
}

extension SkipConfig {
    /// The state_dict keys upstream's `skip()` would produce for this configuration, in
    /// state_dict order, so weights can be exchanged with PyTorch checkpoints.
    ///
    /// Why the numbers look the way they do: upstream's `Module.add` names children
    /// `str(len(self) + 1)`, so Sequential children count from 1; `Concat` names its children
    /// "0" (skip) and "1" (deeper); every conv is `Sequential(ReflectionPad2d, Conv2d[, AvgPool])`,
    /// hence the trailing ".1.weight". A level lives in its parent's `deeper_main` Sequential,
    /// which is child 7 of `deeper` (after conv, BN, act, conv, BN, act), and a level without a
    /// skip branch puts `deeper` where the Concat would be.
    func upstreamStateDictKeys() throws -> [UpstreamKey] {
        try validate()
        var keys: [UpstreamKey] = []
        func conv(_ path: String, _ cin: Int, _ cout: Int, _ k: Int) {
            keys.append(UpstreamKey(name: "\(path).1.weight", shape: [cout, cin, k, k], isParameter: true))
            keys.append(UpstreamKey(name: "\(path).1.bias", shape: [cout], isParameter: true))
        }
        func bn(_ path: String, _ c: Int) {
            keys.append(UpstreamKey(name: "\(path).weight", shape: [c], isParameter: true))
            keys.append(UpstreamKey(name: "\(path).bias", shape: [c], isParameter: true))
            keys.append(UpstreamKey(name: "\(path).running_mean", shape: [c], isParameter: false))
            keys.append(UpstreamKey(name: "\(path).running_var", shape: [c], isParameter: false))
            keys.append(UpstreamKey(name: "\(path).num_batches_tracked", shape: [], isParameter: false))
        }
        // `prefix` is the Sequential the level is added to ("" for the top model).
        func level(_ i: Int, prefix: String, cin: Int) {
            let ns = skip[i], nd = down[i], nu = up[i]
            let first = prefix + "1"
            let deeperPath: String
            if ns > 0 {
                conv("\(first).0.1", cin, ns, kernelSkip)
                bn("\(first).0.2", ns)
                deeperPath = "\(first).1"
            } else {
                deeperPath = first
            }
            conv("\(deeperPath).1", cin, nd, kernelDown)
            bn("\(deeperPath).2", nd)
            conv("\(deeperPath).4", nd, nd, kernelDown)
            bn("\(deeperPath).5", nd)
            let k: Int
            if i < depth - 1 {
                level(i + 1, prefix: "\(deeperPath).7.", cin: nd)
                k = up[i + 1]
            } else {
                k = nd
            }
            bn(prefix + "2", ns + k)
            conv(prefix + "3", ns + k, nu, kernelUp)
            bn(prefix + "4", nu)
            if need1x1Up {
                conv(prefix + "6", nu, nu, 1)
                bn(prefix + "7", nu)
            }
        }
        level(0, prefix: "", cin: inputChannels)
        conv(need1x1Up ? "9" : "6", up[0], outputChannels, 1)
        return keys
    }
}

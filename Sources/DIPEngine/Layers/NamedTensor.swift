/// One tensor of a network's state under upstream's state_dict key (e.g. "1.1.7.3.1.weight"),
/// with its gradient when it is a trained parameter.
public struct NamedTensor: Sendable {
    /// Upstream's state_dict key.
    public let key: String
    /// The values (weights are [O, I, k, k]; a scalar buffer is stored as one element).
    public let value: Tensor
    /// d loss / d value after `backward`; nil for buffers.
    public let gradient: Tensor?
    /// True for BatchNorm's running_mean, running_var and num_batches_tracked.
    public let isBuffer: Bool

    /// Creates an entry.
    public init(key: String, value: Tensor, gradient: Tensor?, isBuffer: Bool) {
        self.key = key
        self.value = value
        self.gradient = gradient
        self.isBuffer = isBuffer
    }
}

extension Conv2d {
    /// Upstream's conv() is Sequential(ReflectionPad2d, Conv2d[, pool]), so the Conv2d's
    /// parameters sit at `<module>.1`.
    func namedTensors(module: String) -> [NamedTensor] {
        [NamedTensor(key: "\(module).1.weight", value: weight, gradient: gradWeight, isBuffer: false),
         NamedTensor(key: "\(module).1.bias", value: bias, gradient: gradBias, isBuffer: false)]
    }
}

extension BatchNorm {
    /// BatchNorm2d's state_dict entries, in PyTorch's order.
    func namedTensors(module: String) -> [NamedTensor] {
        [NamedTensor(key: "\(module).weight", value: weight, gradient: gradWeight, isBuffer: false),
         NamedTensor(key: "\(module).bias", value: bias, gradient: gradBias, isBuffer: false),
         NamedTensor(key: "\(module).running_mean", value: runningMean, gradient: nil, isBuffer: true),
         NamedTensor(key: "\(module).running_var", value: runningVar, gradient: nil, isBuffer: true),
         NamedTensor(key: "\(module).num_batches_tracked", value: numBatchesTracked, gradient: nil, isBuffer: true)]
    }
}

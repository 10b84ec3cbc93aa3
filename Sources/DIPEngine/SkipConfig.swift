import DIPCore

/// Every knob of upstream's `skip()` network (docs/semantics.md §4.1); the architecture, nothing else.
///
/// Level i has `down[i]` channels in its encoder, `up[i]` in its decoder and `skip[i]` in its
/// skip branch (0 = no skip branch, hence no concat and no crop at that level).
public struct SkipConfig: Sendable, Hashable, Codable {
    /// How the decoder doubles the resolution.
    public enum Upsampling: Sendable, Hashable, Codable, CustomStringConvertible {
        /// out[y, x] = in[y / 2, x / 2].
        case nearest
        /// Bilinear; `alignCorners` true is the paper era's (PyTorch <= 0.3) behaviour,
        /// false today's PyTorch default.
        case bilinear(alignCorners: Bool)

        /// A short name for tables and logs.
        public var description: String {
            switch self {
            case .nearest: return "nearest"
            case let .bilinear(ac): return ac ? "bilinear (align_corners)" : "bilinear"
            }
        }
    }

    /// How the encoder halves the resolution.
    public enum Downsampling: String, Sendable, Hashable, Codable {
        /// Stride 2 in the first encoder convolution (all inpainting configurations).
        case stride
        /// A stride-1 convolution followed by AvgPool2d(2, 2) (restoration-kate only).
        case avgPool
    }

    /// Channels of the input code z.
    public var inputChannels: Int
    /// Channels of the output image (1 gray, 3 RGB).
    public var outputChannels: Int
    /// Encoder channels per level.
    public var down: [Int]
    /// Decoder channels per level.
    public var up: [Int]
    /// Skip-branch channels per level; 0 disables the branch.
    public var skip: [Int]
    /// Encoder kernel size.
    public var kernelDown: Int = 3
    /// Decoder kernel size.
    public var kernelUp: Int = 3
    /// Skip-branch kernel size.
    public var kernelSkip: Int = 1
    /// Decoder upsampling.
    public var upsampling: Upsampling = .nearest
    /// Encoder downsampling.
    public var downsampling: Downsampling = .stride
    /// Whether each decoder level ends with a 1x1 convolution + BN + LeakyReLU.
    public var need1x1Up: Bool = true

    /// Creates a configuration; the three channel lists must have the same, non-zero length.
    public init(inputChannels: Int, outputChannels: Int, down: [Int], up: [Int], skip: [Int],
                kernelDown: Int = 3, kernelUp: Int = 3, kernelSkip: Int = 1,
                upsampling: Upsampling = .nearest, downsampling: Downsampling = .stride,
                need1x1Up: Bool = true) {
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.down = down
        self.up = up
        self.skip = skip
        self.kernelDown = kernelDown
        self.kernelUp = kernelUp
        self.kernelSkip = kernelSkip
        self.upsampling = upsampling
        self.downsampling = downsampling
        self.need1x1Up = need1x1Up
    }

    /// Number of levels.
    public var depth: Int { down.count }

    /// Checks the lists agree and every size is sensible; the message names the bad value.
    public func validate() throws {
        func bad(_ name: String, _ value: Any, _ why: String) -> Error {
            EngineError.invalidConfig("\(name) = \(value): \(why)")
        }
        guard depth >= 1 else { throw bad("depth", depth, "the network needs at least one level") }
        guard depth <= Self.maxDepth else {
            throw bad("depth", depth, "at most \(Self.maxDepth) levels: each halves the image, and images have at most \(Image.maxSide) pixels a side")
        }
        guard up.count == depth, skip.count == depth else {
            throw bad("channel lists", "down \(down.count), up \(up.count), skip \(skip.count)", "all three need one entry per level")
        }
        guard inputChannels >= 1 else { throw bad("input channels", inputChannels, "must be at least 1") }
        guard outputChannels >= 1 else { throw bad("output channels", outputChannels, "must be at least 1") }
        guard down.allSatisfy({ $0 >= 1 }), up.allSatisfy({ $0 >= 1 }) else {
            throw bad("down/up channels", "\(down)/\(up)", "every level needs at least one channel")
        }
        guard skip.allSatisfy({ $0 >= 0 }) else { throw bad("skip channels", skip, "must be 0 (no skip) or more") }
        for (name, k) in [("kernel down", kernelDown), ("kernel up", kernelUp), ("kernel skip", kernelSkip)] {
            guard k >= 1, k % 2 == 1 else { throw bad(name, k, "must be an odd size of at least 1") }
            guard k <= Self.maxKernel else { throw bad(name, k, "at most \(Self.maxKernel)") }
        }
        for (name, counts) in [("input channels", [inputChannels]), ("output channels", [outputChannels]),
                               ("down channels", down), ("up channels", up), ("skip channels", skip)] {
            if let c = counts.first(where: { $0 > Self.maxChannels }) { throw bad(name, c, "at most \(Self.maxChannels) a layer") }
        }
    }

    /// The most levels: each halves the image, whose sides are at most `Image.maxSide` (2^14).
    public static let maxDepth = Image.maxSide.trailingZeroBitCount
    /// The most channels a layer may have (upstream's nets have at most 256), and the largest
    /// kernel (they use 1, 3 and 5). With these bounds and `Image.maxSide` a network's
    /// multiply-accumulates stay far inside Int (each layer under 2^55): a record or catalog that
    /// asked for 10^9 channels or levels overflowed them.
    public static let maxChannels = 1024, maxKernel = 11

    /// The smallest side length the input may have: each level halves it, and reflection padding
    /// needs more pixels than the pad at every level.
    public var sizeDivisor: Int { 1 << depth }
}

extension SkipConfig {
    /// The named configurations of docs/semantics.md §4.2, by the name the CLI accepts.
    public static let presetNames = ["table1", "text", "vase", "library-depth2", "library-depth4",
                                     "library-depth6", "restoration-kate"]

    /// A named configuration with `outputChannels` output channels (1 for gray images, 3 for RGB).
    public static func preset(_ name: String, outputChannels: Int) throws -> SkipConfig {
        switch name {
        case "table1":
            // restoration.ipynb's Table-1 net = get_net's default: ns 4, bilinear.
            return SkipConfig(inputChannels: 32, outputChannels: outputChannels,
                              down: Array(repeating: 128, count: 5), up: Array(repeating: 128, count: 5),
                              skip: Array(repeating: 4, count: 5),
                              upsampling: .bilinear(alignCorners: true))
        case "text":
            return uniform(depth: 5, channels: 128, skip: 128, inputChannels: 32, outputChannels: outputChannels)
        case "vase":
            return uniform(depth: 5, channels: 128, skip: 0, inputChannels: 2, outputChannels: outputChannels)
        case "library-depth2", "library-depth4", "library-depth6":
            let d = Int(String(name.last!))!
            let ch = Array([16, 32, 64, 128, 128, 128].prefix(d))
            return SkipConfig(inputChannels: 1, outputChannels: outputChannels, down: ch, up: ch,
                              skip: Array(repeating: 0, count: d), kernelDown: 5, kernelUp: 3,
                              need1x1Up: false)
        case "restoration-kate":
            return SkipConfig(inputChannels: 32, outputChannels: outputChannels,
                              down: [16, 32, 64, 128, 128], up: [16, 32, 64, 128, 128],
                              skip: Array(repeating: 0, count: 5),
                              upsampling: .bilinear(alignCorners: true), downsampling: .avgPool)
        default:
            throw EngineError.invalidConfig("unknown network preset '\(name)'; choose one of \(presetNames.joined(separator: ", "))")
        }
    }

    /// The sweeps' networks: `depth` levels of `channels` channels, `skip` skip channels each,
    /// nearest upsampling (the text net's family).
    public static func uniform(depth: Int, channels: Int, skip: Int, inputChannels: Int = 32,
                               outputChannels: Int = 3) -> SkipConfig {
        SkipConfig(inputChannels: inputChannels, outputChannels: outputChannels,
                   down: Array(repeating: channels, count: depth), up: Array(repeating: channels, count: depth),
                   skip: Array(repeating: skip, count: depth))
    }
}

/// Errors from building or running a network; messages name the value at fault.
public enum EngineError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A network configuration that cannot be built.
    case invalidConfig(String)
    /// An input whose size or channels do not fit the network.
    case shape(String)
    /// oneDNN refused a primitive or failed while running one.
    case backend(String)
    /// A weights file that does not fit the network or is not a valid file.
    case weights(String)

    /// One line a person can act on.
    public var description: String {
        switch self {
        case let .invalidConfig(s): return "invalid fit configuration: \(s)"
        case let .shape(s): return "shape error: \(s)"
        case let .backend(s): return "compute backend error: \(s)"
        case let .weights(s): return "weights: \(s)"
        }
    }
}

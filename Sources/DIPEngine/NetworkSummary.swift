import Foundation

/// A layer-by-layer account of a skip network (docs/semantics.md §4.1) at one input size: every layer in
/// forward order, the resolution it runs at, its parameters, its multiply-accumulates and the
/// bytes its forward and backward move, each as its layer type states it (`LayerCost`).
///
/// It needs only the configuration, so it can tell a user what a run will cost (and which input
/// sizes work) before any weight is allocated.
public struct NetworkSummary: Sendable {
    /// A spatial size, rows first.
    public struct Size: Hashable, Sendable, CustomStringConvertible {
        /// Rows.
        public var height: Int
        /// Columns.
        public var width: Int

        /// Creates a size.
        public init(height: Int, width: Int) {
            self.height = height
            self.width = width
        }

        /// "WxH", the order every size in dip-report is written in (PROVENANCE, --size).
        public var description: String { "\(width)x\(height)" }
    }

    /// Which branch of a level a layer belongs to.
    public enum Part: String, Sendable, Hashable {
        /// The skip branch (conv ks, BN, LeakyReLU at the level's resolution).
        case skip
        /// The encoder: the downsampling conv, the second conv, and the upsample that ends the
        /// deeper branch.
        case down
        /// The decoder: concat, BN, conv ku, the optional 1x1 conv, at the level's resolution.
        case up
        /// The final 1x1 conv and sigmoid.
        case output
    }

    /// What a layer does.
    public enum Operation: Hashable, Sendable, CustomStringConvertible {
        /// Reflection padding by `padding`, then a valid k x k convolution with bias.
        case convolution(kernel: Int, stride: Int, padding: Int)
        /// BatchNorm2d in training mode (batch statistics), affine.
        case batchNorm
        /// LeakyReLU, slope 0.2.
        case leakyReLU
        /// AvgPool2d(2, 2), floor size ("avg" downsampling).
        case averagePool
        /// Upsample x2.
        case upsample(SkipConfig.Upsampling)
        /// Channel concat [skip | deeper], every input centre-cropped to the smallest size;
        /// `skipSize` is the skip branch's size before the crop.
        case concat(skipChannels: Int, deeperChannels: Int, skipSize: Size)
        /// Sigmoid at the output.
        case sigmoid

        /// A short name for tables, e.g. "conv 3x3/s2".
        public var description: String {
            switch self {
            case let .convolution(k, s, _): return s == 1 ? "conv \(k)x\(k)" : "conv \(k)x\(k)/s\(s)"
            case .batchNorm: return "batchnorm"
            case .leakyReLU: return "leaky relu"
            case .averagePool: return "avgpool 2x2"
            case let .upsample(mode): return "upsample x2 \(mode)"
            case let .concat(s, d, _): return "concat [\(s) | \(d)]"
            case .sigmoid: return "sigmoid"
            }
        }
    }

    /// One layer of the forward pass.
    public struct Layer: Sendable, Hashable {
        /// The level it belongs to; nil for the output head.
        public var level: Int?
        /// The branch it belongs to.
        public var part: Part
        /// What it does.
        public var operation: Operation
        /// Channels in.
        public var inChannels: Int
        /// Channels out.
        public var outChannels: Int
        /// Spatial size of its input (before any padding; for a concat, the deeper branch's size).
        public var inputSize: Size
        /// Spatial size of its output.
        public var outputSize: Size
        /// Learned values: conv weights and biases, BN gamma and beta.
        public var parameters: Int
        /// Multiply-accumulates of one forward pass (convolutions only).
        public var macs: Int
        /// Bytes one forward pass reads and writes (fp32 activations and parameters, the layer
        /// run alone; see `LayerCost` for what counts).
        public var forwardBytes: Int
        /// Bytes one backward pass reads and writes, likewise.
        public var backwardBytes: Int
        /// The values it reads: ids of earlier layers' outputs, 0 being the network's input (a
        /// concat reads [skip, deeper]). With `output`, the walk's dataflow: what a device
        /// trainer executes, forward in order and backward in reverse, summing the gradients of
        /// a value read twice (a level's input feeds its skip branch and its encoder).
        public var inputs: [Int]
        /// The id of the value it writes (every layer writes a new one).
        public var output: Int

        /// True when the concat had to crop an input (docs/semantics.md §3.5).
        public var crops: Bool {
            if case let .concat(_, _, skipSize) = operation { return skipSize != outputSize || inputSize != outputSize }
            return false
        }
    }

    /// Parameters and MACs of one level (nil level = output head).
    public struct Subtotal: Sendable, Hashable {
        /// The level; nil for the output head.
        public var level: Int?
        /// Parameters of the level's own layers (deeper levels not included).
        public var parameters: Int
        /// MACs of the level's own layers.
        public var macs: Int
    }

    /// The network described.
    public let config: SkipConfig
    /// The input size the walk started from.
    public let inputSize: Size
    /// Every layer, in forward order.
    public let layers: [Layer]

    /// Walks `config` over an input of `height` x `width`. Throws EngineError.invalidConfig for a
    /// bad configuration, EngineError.shape (naming sizes that do work) for an input that the
    /// network cannot take.
    public init(config: SkipConfig, height: Int, width: Int) throws {
        try config.validate()
        guard height >= 1, width >= 1 else {
            throw EngineError.shape("input size \(height)x\(width): both sides must be at least 1")
        }
        self.config = config
        self.inputSize = Size(height: height, width: width)
        var walker = Walker(config: config)
        do {
            try walker.walk(input: inputSize)
        } catch let failure as Walker.Failure {
            throw EngineError.shape(Self.explain(failure, config: config, input: inputSize))
        }
        self.layers = walker.layers
    }

    /// Every convolution's geometry (padded input, as the backend runs it), in forward order.
    var convolutions: [ConvGeometry] {
        layers.compactMap { layer in
            guard case let .convolution(k, s, p) = layer.operation else { return nil }
            return ConvGeometry(inChannels: layer.inChannels, outChannels: layer.outChannels, kernel: k, stride: s,
                                inputHeight: layer.inputSize.height + 2 * p, inputWidth: layer.inputSize.width + 2 * p)
        }
    }

    /// Total parameters.
    public var parameters: Int { layers.reduce(0) { $0 + $1.parameters } }
    /// Total forward MACs.
    public var macs: Int { layers.reduce(0) { $0 + $1.macs } }
    /// Size of the network's output (equal to the input: the walk refuses anything else).
    public var outputSize: Size { layers.last?.outputSize ?? inputSize }

    /// Subtotals per level in level order, then the output head.
    public var subtotals: [Subtotal] {
        var result = (0..<config.depth).map { Subtotal(level: $0, parameters: 0, macs: 0) }
        var head = Subtotal(level: nil, parameters: 0, macs: 0)
        for layer in layers {
            if let l = layer.level {
                result[l].parameters += layer.parameters
                result[l].macs += layer.macs
            } else {
                head.parameters += layer.parameters
                head.macs += layer.macs
            }
        }
        return result + [head]
    }

    /// Whether a square input of side `side` fits `config` (the two sides are independent).
    public static func fits(_ config: SkipConfig, side: Int) -> Bool {
        guard side >= 1 else { return false }
        var walker = Walker(config: config)
        return (try? walker.walk(input: Size(height: side, width: side))) != nil
    }

    /// The closest sides to `side` that fit `config`, below and above (either may be missing).
    public static func nearestFittingSides(_ config: SkipConfig, to side: Int) -> (below: Int?, above: Int?) {
        let reach = 4 * config.sizeDivisor
        let below = stride(from: side - 1, through: max(1, side - reach), by: -1).first { fits(config, side: $0) }
        let above = (side + 1...side + reach).first { fits(config, side: $0) }
        return (below, above)
    }

    /// The smallest multiple of 2^depth that fits; every larger multiple fits too (all limits
    /// are lower bounds, and halving a multiple of 2^depth never leaves an odd side).
    public static func smallestFittingMultiple(_ config: SkipConfig) -> Int {
        var side = config.sizeDivisor
        while !fits(config, side: side) { side += config.sizeDivisor }
        return side
    }

    /// Turns a walk failure into one line that names the size at fault and sizes that work.
    private static func explain(_ failure: Walker.Failure, config: SkipConfig, input: Size) -> String {
        // Rows and columns never interact, so find which side fails and suggest for that one.
        let badSides = [("height", input.height), ("width", input.width)].filter { !fits(config, side: $0.1) }
        var hints = badSides.map { name, side -> String in
            let near = nearestFittingSides(config, to: side)
            let options = [near.below, near.above].compactMap { $0 }.map(String.init)
            return options.isEmpty ? "no \(name) near \(side) works"
                                   : "\(name) \(options.joined(separator: " or ")) would work"
        }
        if badSides.count == 2, badSides[0].1 == badSides[1].1 {
            hints = [hints[0].replacingOccurrences(of: "height ", with: "height and width ")]
        }
        let multiple = config.sizeDivisor
        let rule = "multiples of \(multiple) (2^depth) from \(smallestFittingMultiple(config)) up always work"
        return "input \(input) does not fit the network: \(failure.reason); "
            + (hints.isEmpty ? "" : hints.joined(separator: ", ") + "; ") + rule
    }
}

/// The recursion of docs/semantics.md §4.1, recording layers instead of computing them.
private struct Walker {
    /// Why an input size cannot pass; the caller adds the sizes that would.
    struct Failure: Error {
        var reason: String
    }

    let config: SkipConfig
    var layers: [NetworkSummary.Layer] = []
    /// The id the next layer's output gets; 0 is the network's input.
    private var nextValue = 1

    init(config: SkipConfig) { self.config = config }

    typealias Size = NetworkSummary.Size

    mutating func walk(input: Size) throws {
        let (channels, size, value) = try level(0, inChannels: config.inputChannels, input: input, from: 0)
        let (_, logits) = try conv(nil, .output, channels, config.outputChannels, kernel: 1, stride: 1, input: size, from: value)
        add(nil, .output, .sigmoid, config.outputChannels, config.outputChannels, size, size,
            Sigmoid.cost(inputShape: shape(config.outputChannels, size)), from: [logits])
        guard size == input else {
            throw Failure(reason: "the network would return \(size), not \(input) (a concat crop shrank it)")
        }
    }

    /// Level i reading value `x`: returns its output channels, size and value.
    private mutating func level(_ i: Int, inChannels cin: Int, input: Size, from x: Int) throws -> (Int, Size, Int) {
        let c = config
        let ns = c.skip[i], nd = c.down[i], nu = c.up[i]
        var skipSize = input
        var skipValue = x
        if ns > 0 {
            (skipSize, skipValue) = try conv(i, .skip, cin, ns, kernel: c.kernelSkip, stride: 1, input: input,
                                             from: x, readsCode: i == 0)
            skipValue = bnAct(i, .skip, ns, skipSize, from: skipValue)
        }
        var size: Size
        var value: Int
        switch c.downsampling {
        case .stride:
            (size, value) = try conv(i, .down, cin, nd, kernel: c.kernelDown, stride: 2, input: input, from: x, readsCode: i == 0)
        case .avgPool:
            let (full, convolved) = try conv(i, .down, cin, nd, kernel: c.kernelDown, stride: 1, input: input,
                                             from: x, readsCode: i == 0)
            size = Size(height: full.height / 2, width: full.width / 2)
            guard size.height >= 1, size.width >= 1 else {
                throw Failure(reason: "level \(i): average pooling \(full) leaves nothing")
            }
            value = add(i, .down, .averagePool, nd, nd, full, size, AvgPool2x2.cost(inputShape: shape(nd, full)),
                        from: [convolved])
        }
        value = bnAct(i, .down, nd, size, from: value)
        (size, value) = try conv(i, .down, nd, nd, kernel: c.kernelDown, stride: 1, input: size, from: value)
        value = bnAct(i, .down, nd, size, from: value)
        var deeper = nd
        if i < c.depth - 1 {
            (deeper, size, value) = try level(i + 1, inChannels: nd, input: size, from: value)
        }
        let upsampled = Size(height: 2 * size.height, width: 2 * size.width)
        value = add(i, .down, .upsample(c.upsampling), deeper, deeper, size, upsampled,
                    Upsample2x.cost(inputShape: shape(deeper, size), mode: c.upsampling), from: [value])

        var merged = deeper
        var mergedSize = upsampled
        if ns > 0 {
            merged = ns + deeper
            mergedSize = Size(height: min(skipSize.height, upsampled.height), width: min(skipSize.width, upsampled.width))
            value = add(i, .up, .concat(skipChannels: ns, deeperChannels: deeper, skipSize: skipSize),
                        merged, merged, upsampled, mergedSize,
                        Concat.cost(skip: shape(ns, skipSize), deeper: shape(deeper, upsampled)), from: [skipValue, value])
        } else if upsampled != input {
            // No concat, hence no crop: the decoder must land exactly on the level's input size.
            let side = upsampled.height != input.height ? "height" : "width"
            let (n, m) = side == "height" ? (input.height, upsampled.height) : (input.width, upsampled.width)
            throw Failure(reason: "level \(i) has no skip branch, so its \(side) \(n) must come back unchanged, "
                + "but the encoder halves it and the upsample returns \(m)")
        }
        value = add(i, .up, .batchNorm, merged, merged, mergedSize, mergedSize,
                    BatchNorm.cost(inputShape: shape(merged, mergedSize)), from: [value])
        var out: Size
        (out, value) = try conv(i, .up, merged, nu, kernel: c.kernelUp, stride: 1, input: mergedSize, from: value)
        value = bnAct(i, .up, nu, out, from: value)
        if c.need1x1Up {
            (out, value) = try conv(i, .up, nu, nu, kernel: 1, stride: 1, input: out, from: value)
            value = bnAct(i, .up, nu, out, from: value)
        }
        return (nu, out, value)
    }

    /// Adds reflection padding + convolution reading value `x`; returns the output size and
    /// value. A convolution that reads the input code computes no input gradient (SkipNetwork's
    /// rule).
    private mutating func conv(_ level: Int?, _ part: NetworkSummary.Part, _ cin: Int, _ cout: Int,
                               kernel k: Int, stride s: Int, input: Size, from x: Int,
                               readsCode: Bool = false) throws -> (Size, Int) {
        let p = (k - 1) / 2
        // PyTorch's ReflectionPad2d needs pad < side: the mirror must not run off the far edge.
        guard input.height > p, input.width > p else {
            let here = level.map { "level \($0)" } ?? "the output"
            throw Failure(reason: "\(here) reaches \(input), too small to reflection-pad by \(p) for a \(k)x\(k) conv")
        }
        let geometry = ConvGeometry(inChannels: cin, outChannels: cout, kernel: k, stride: s,
                                    inputHeight: input.height + 2 * p, inputWidth: input.width + 2 * p)
        let out = Size(height: geometry.outputHeight, width: geometry.outputWidth)
        let value = add(level, part, .convolution(kernel: k, stride: s, padding: p), cin, cout, input, out,
                        Conv2d.cost(geometry, needsInputGradient: !readsCode), from: [x])
        return (out, value)
    }

    /// BatchNorm then LeakyReLU reading value `x`; returns the activation's value.
    private mutating func bnAct(_ level: Int, _ part: NetworkSummary.Part, _ c: Int, _ size: Size, from x: Int) -> Int {
        let normalised = add(level, part, .batchNorm, c, c, size, size, BatchNorm.cost(inputShape: shape(c, size)), from: [x])
        return add(level, part, .leakyReLU, c, c, size, size, BatchNorm.fusedActivationCost, from: [normalised])
    }

    private func shape(_ channels: Int, _ size: Size) -> FeatureShape {
        FeatureShape(channels: channels, height: size.height, width: size.width)
    }

    /// Appends a layer reading `inputs`; returns the id of the value it writes.
    @discardableResult
    private mutating func add(_ level: Int?, _ part: NetworkSummary.Part, _ op: NetworkSummary.Operation,
                              _ cin: Int, _ cout: Int, _ input: Size, _ output: Size, _ cost: LayerCost,
                              from inputs: [Int]) -> Int {
        let value = nextValue
        nextValue += 1
        layers.append(NetworkSummary.Layer(level: level, part: part, operation: op, inChannels: cin,
                                           outChannels: cout, inputSize: input, outputSize: output,
                                           parameters: cost.parameters, macs: cost.macs,
                                           forwardBytes: cost.forwardBytes, backwardBytes: cost.backwardBytes,
                                           inputs: inputs, output: value))
        return value
    }
}

extension NetworkSummary {
    /// The layer table as aligned text: a subtotal after each level and the totals (parameters
    /// with thousands separators, MACs in G = 1e9). Compact by default: a conv, concat or
    /// upsample row absorbs the BN / LeakyReLU / pooling / sigmoid that follow it in the same
    /// branch; `allLayers` gives one row per layer instead.
    public func formattedTable(allLayers: Bool = false) -> String {
        let header = ["level", "op", "channels", "size in -> out", "params", "MACs"]
        // Group layers into display rows.
        var groups: [[Layer]] = []
        for layer in layers {
            let absorbable: Bool
            switch layer.operation {
            case .batchNorm, .leakyReLU, .averagePool, .sigmoid: absorbable = true
            default: absorbable = false
            }
            if !allLayers, absorbable, let last = groups.last?.last,
               last.level == layer.level, last.part == layer.part {
                groups[groups.count - 1].append(layer)
            } else {
                groups.append([layer])
            }
        }
        // A level's layers are interleaved with its deeper levels' (the recursion), so a
        // subtotal goes after the row where the level's decoder finishes.
        let lastGroup = Dictionary(groups.enumerated().map { ($0.element[0].level ?? -1, $0.offset) },
                                   uniquingKeysWith: max)
        let totals = subtotals
        var rows: [[String]] = []
        var blankAfter: Set<Int> = []
        for (index, group) in groups.enumerated() {
            let first = group[0], last = group[group.count - 1]
            var op = first.operation.description
            for extra in group.dropFirst() { op += " + " + Self.shortName(extra.operation) }
            var size = "\(first.inputSize) -> \(last.outputSize)"
            if case let .concat(_, _, skipSize) = first.operation, first.crops {
                size = "\(skipSize) + \(first.inputSize) -> \(last.outputSize)"
            }
            let channels = first.inChannels == last.outChannels ? "\(first.inChannels)"
                                                                 : "\(first.inChannels)->\(last.outChannels)"
            let params = group.reduce(0) { $0 + $1.parameters }, macs = group.reduce(0) { $0 + $1.macs }
            let where_ = first.level == nil ? "out" : "\(Self.levelName(first.level)) \(first.part.rawValue)"
            rows.append([where_, op, channels, size,
                         params == 0 ? "" : Self.thousands(params), macs == 0 ? "" : Self.gigaMACs(macs)])
            if lastGroup[first.level ?? -1] == index, let t = totals.first(where: { $0.level == first.level }) {
                rows.append(["", "\(first.level == nil ? "output" : Self.levelName(first.level)) subtotal", "", "",
                             Self.thousands(t.parameters), Self.gigaMACs(t.macs)])
                blankAfter.insert(rows.count - 1)
            }
        }
        let totalRow = ["total", "\(config.depth) levels, input \(inputSize)", "", "",
                        Self.thousands(parameters), Self.gigaMACs(macs)]
        let all = [header] + rows + [totalRow]
        let numeric: Set<Int> = [4, 5]
        let widths = (0..<header.count).map { col in all.map { $0[col].count }.max() ?? 0 }
        func render(_ row: [String]) -> String {
            var line = ""
            for (col, cell) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[col] - cell.count)
                line += (col == 0 ? "" : "  ") + (numeric.contains(col) ? pad + cell : cell + pad)
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
        let rule = String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))
        var lines = [render(header), rule]
        for (i, row) in rows.enumerated() {
            lines.append(render(row))
            if blankAfter.contains(i), i != rows.count - 1 { lines.append("") }
        }
        lines += [rule, render(totalRow)]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The name a layer gets when folded into the row of the layer before it.
    static func shortName(_ op: Operation) -> String {
        switch op {
        case .batchNorm: return "BN"
        case .leakyReLU: return "LReLU"
        default: return op.description
        }
    }

    /// "L0".."L4" or "out".
    static func levelName(_ level: Int?) -> String { level.map { "L\($0)" } ?? "out" }

    /// 2217573 -> "2,217,573".
    public static func thousands(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return n < 0 ? "-" + out : out
    }

    /// MACs in units of 1e9 with two decimals, e.g. "77.43 G".
    public static func gigaMACs(_ macs: Int) -> String {
        String(format: "%.2f G", Double(macs) / 1e9)
    }
}

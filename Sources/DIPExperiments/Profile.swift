import DIPCore
import DIPEngine
import Foundation

/// How much of each experiment to run: `paper` runs the protocols as written; `quick` and
/// `smoke` shrink them by the documented rules below, and every record says which profile made
/// it so reduced numbers are never mistaken for the paper's.
///
/// The rules act on each configuration alike, so the comparisons inside an experiment (wider vs
/// narrower, deeper vs shallower, one LR vs another) keep their order of magnitude:
/// iterations are scaled, channel widths divided, images centre-cropped to a window that is
/// raised where a deep network needs more pixels.
public struct Profile: Sendable, Hashable, Codable {
    /// "paper", "quick", "smoke".
    public var name: String
    /// What it reduces, for help texts and the report.
    /// (Not the seeds: the page's banner and `run`'s plan line show this beside the seeds that
    /// actually ran, which `--seeds` changes.)
    public var summary: String
    /// Iterations are multiplied by this (1 = as written) ...
    public var iterationScale: Double
    /// ... then clamped to at least this ...
    public var minIterations: Int
    /// ... and at most this.
    public var maxIterations: Int?
    /// Channel counts c of every level, and of the input code, become round(c^e) (1 = as
    /// written): a power keeps a width sweep's points distinct and in order (4, 16, 32, 64, 128
    /// become 2, 4, 6, 8, 11 at e = 0.5) where a divisor would merge the narrow ones. Skips of 0
    /// stay 0.
    public var channelExponent: Double
    /// Centre-crop side applied after the protocol's own preparation; raised to the smallest size
    /// the network runs at and never above the image.
    public var crop: Int?
    /// Networks whose smallest input side exceeds this lose their deepest levels until they fit
    /// (nil = never): only the smoke profile sets it, at 512, the side the catalog's deepest
    /// network needs (depth 8: 2^8 with a 2-pixel bottom level for reflection padding), so every
    /// built-in configuration runs as itself while a user's deeper net cannot make it slow.
    public var maxSide: Int?
    /// Replaces the PSNR sampling interval (nil keeps the protocol's).
    public var psnrEvery: Int?
    /// Replaces the backtracking interval (nil keeps the protocol's 50).
    public var backtrackingInterval: Int?
    /// Replaces the TV baseline's iteration count (nil keeps it).
    public var tvIterations: Int?
    /// Seeds when `--seeds` is not given.
    public var defaultSeeds: [UInt64]

    /// Creates a profile.
    public init(name: String, summary: String, iterationScale: Double = 1, minIterations: Int = 1,
                maxIterations: Int? = nil, channelExponent: Double = 1, crop: Int? = nil,
                maxSide: Int? = nil, psnrEvery: Int? = nil, backtrackingInterval: Int? = nil, tvIterations: Int? = nil,
                defaultSeeds: [UInt64]) {
        self.name = name
        self.summary = summary
        self.iterationScale = iterationScale
        self.minIterations = minIterations
        self.maxIterations = maxIterations
        self.channelExponent = channelExponent
        self.crop = crop
        self.maxSide = maxSide
        self.psnrEvery = psnrEvery
        self.backtrackingInterval = backtrackingInterval
        self.tvIterations = tvIterations
        self.defaultSeeds = defaultSeeds
    }

    /// The full protocols. Seeds 0, 1, 2: three runs are the fewest that give a spread, and the
    /// paper protocol already costs hours per image on a CPU.
    public static let paper = Profile(
        name: "paper", summary: "the protocols as written (docs/semantics.md §4.2, §6): native sizes, full widths, full iteration counts",
        defaultSeeds: [0, 1, 2])

    /// How long the quick profile takes on 2 cores, as `run` and `build` say it (and README):
    /// `make report` in fresh clones on Zen 3s took 24m16s and 28m17s with its build (stops 46
    /// and 44) and 23m35s with it built (stop 47), about 35 minutes by the estimate on an Intel
    /// Xeon.
    public static let quickDuration = "25-35 minutes on 2 cores"

    /// `quickDuration` for the whole catalog on a 2-core CPU (release build, one seed, two jobs of
    /// one thread). Before the era experiment it took 19m24s (the depth sweep's depth-8 runs were
    /// the largest part; with 1/20 of the iterations 11m59s, the time two jobs saved went into
    /// iterations); era's 39 Table-1 runs add about 14 minutes by the printed estimate, scaled to
    /// that measurement (BENCHMARKS.md).
    public static let quick = Profile(
        name: "quick",
        summary: "1/12 of the iterations (at least 300, at most 1000), channel counts c -> c^0.75 (128 -> 38, 32 input maps -> 13), images cropped to 128x128 (around the holes of text and file masks, else at the centre; larger where a deep net needs it), TV 300 iterations",
        iterationScale: 1.0 / 12, minIterations: 300, maxIterations: 1000, channelExponent: 0.75,
        crop: 128, psnrEvery: 10, backtrackingInterval: 25, tvIterations: 300, defaultSeeds: [0])

    /// The whole catalog in well under 2 minutes (tests and CI): it checks the plumbing, not the numbers.
    public static let smoke = Profile(
        name: "smoke",
        summary: "8 iterations, channel counts c -> c^0.5 (128 -> 11, 32 input maps -> 6), images cropped to 64x64 (around the holes of text and file masks, else at the centre; larger where a deep net needs it; a net needing more than 512x512 loses levels), TV 30 iterations",
        iterationScale: 0, minIterations: 8, maxIterations: 8, channelExponent: 0.5,
        crop: 64, maxSide: 512, psnrEvery: 3, backtrackingInterval: 4, tvIterations: 30, defaultSeeds: [0, 1])

    /// The built-in profiles.
    public static let all = [paper, quick, smoke]

    /// The profile called `name`; the error lists the choices.
    public static func named(_ name: String) throws -> Profile {
        guard let p = all.first(where: { $0.name == name }) else {
            throw DIPError.invalidValue(name: "--profile", value: name, reason: "unknown profile; choose one of \(all.map(\.name).joined(separator: ", "))")
        }
        return p
    }

    /// Whether this profile changes nothing.
    public var isFull: Bool { name == Profile.paper.name }

    /// A configuration as this profile runs it.
    public func apply(_ spec: RunSpec) -> RunSpec {
        var s = spec
        switch spec.method {
        case var .dip(config):
            let scaled = Int((Double(config.iterations) * iterationScale).rounded())
            config.iterations = min(maxIterations ?? Int.max, max(minIterations, scaled))
            config.network = reduced(config.network)
            if let maxSide {
                while config.network.depth > 1, Profile.minimumSide(config.network) > maxSide {
                    config.network.down.removeLast()
                    config.network.up.removeLast()
                    config.network.skip.removeLast()
                }
            }
            if case let .noise(channels, scale) = config.inputCode {
                config.inputCode = .noise(channels: reduced(channels), scale: scale)
                config.network.inputChannels = reduced(channels)
            }
            if let psnrEvery { config.psnrEvery = psnrEvery }
            if let interval = backtrackingInterval, config.backtracking != nil { config.backtracking!.interval = interval }
            s.method = .dip(config)
            if let crop {
                let side = max(crop, Profile.minimumSide(config.network))
                s.preprocessing.centreCrop = ImageSize(width: side, height: side)
            }
        case var .tv(tv):
            if let tvIterations { tv.iterations = tvIterations }
            s.method = .tv(tv)
            if let crop { s.preprocessing.centreCrop = ImageSize(width: crop, height: crop) }
        }
        return s
    }

    /// A channel count under `channelExponent`.
    func reduced(_ c: Int) -> Int {
        guard channelExponent != 1, c > 0 else { return c }
        return max(1, Int(pow(Double(c), channelExponent).rounded()))
    }

    /// The network with its widths reduced.
    func reduced(_ net: SkipConfig) -> SkipConfig {
        guard channelExponent != 1 else { return net }
        var n = net
        n.down = net.down.map(reduced)
        n.up = net.up.map(reduced)
        // Full-width skips (the text net's ns = nd) shrink with the levels; narrow ones (the
        // Table-1 net's 4) are kept, capped at the new level width.
        n.skip = zip(net.skip, net.down).map { s, d in s >= d ? reduced(s) : min(s, reduced(d)) }
        return n
    }

    /// The smallest square side a network runs at (a multiple of 2^depth).
    public static func minimumSide(_ net: SkipConfig) -> Int {
        NetworkSummary.smallestFittingMultiple(net)
    }
}

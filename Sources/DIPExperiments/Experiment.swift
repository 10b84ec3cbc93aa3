import DIPCore
import DIPEngine
import Foundation

/// One test image of an experiment: where it lives in the data folder and the short name runs
/// are stored under.
public struct ImageRef: Sendable, Hashable, Codable {
    /// Short name used in run keys and file names, e.g. "barbara".
    public var name: String
    /// Path relative to the data folder, e.g. "bm3d/barbara.png".
    public var file: String

    /// Creates a reference.
    public init(name: String, file: String) {
        self.name = name
        self.file = file
    }
}

/// How an image is prepared before the fit, applied in this order: convert colour, resize,
/// centre-crop to a multiple, centre-crop to a window, reflection-pad. The mask is drawn at the
/// prepared size and PSNR is measured there (docs/semantics.md §6: Barbara is measured on 514²).
public struct Preprocessing: Sendable, Hashable, Codable {
    /// Convert to one gray channel ("gray") or to three ("rgb"); "auto" makes one gray channel of
    /// gray content stored as colour (three channels equal at every pixel: a gray palette, or RGB
    /// with R = G = B) and keeps colour images as they are; nil keeps the file's channels.
    public var colour: String?
    /// The values `colour` takes.
    static let colours = ["gray", "rgb", "auto"]
    /// Pillow-exact bicubic resize to width x height.
    public var resize: ImageSize?
    /// Centre-crop to the largest multiple of this in each dimension (the notebooks use 64).
    public var cropToMultipleOf: Int?
    /// Centre-crop a window of this size (the quick and smoke profiles' reduction).
    public var centreCrop: ImageSize?
    /// Reflection padding on every side, in pixels.
    public var reflectionPad: Int?

    /// Creates a pipeline; every step is off unless given.
    public init(colour: String? = nil, resize: ImageSize? = nil, cropToMultipleOf: Int? = nil,
                centreCrop: ImageSize? = nil, reflectionPad: Int? = nil) {
        self.colour = colour
        self.resize = resize
        self.cropToMultipleOf = cropToMultipleOf
        self.centreCrop = centreCrop
        self.reflectionPad = reflectionPad
    }
}

extension Preprocessing {
    /// What no preparation can do, one line each, named by field: every size within
    /// `Image.maxSide` (a 100000-pixel resize failed an allocation of 120 GB, even in a dry run).
    var problems: [String] {
        var found: [String] = []
        let sides = 1...Image.maxSide
        if let colour, !Self.colours.contains(colour) {
            found.append("colour '\(colour)' must be \"gray\", \"rgb\" or \"auto\" (or left out)")
        }
        if let r = resize, !sides.contains(r.width) || !sides.contains(r.height) {
            found.append("resize \(r) must have sides from 1 to \(Image.maxSide)")
        }
        if let m = cropToMultipleOf, !sides.contains(m) { found.append("cropToMultipleOf \(m) must be from 1 to \(Image.maxSide)") }
        if let c = centreCrop, !sides.contains(c.width) || !sides.contains(c.height) {
            found.append("centreCrop \(c) must have sides from 1 to \(Image.maxSide)")
        }
        if let p = reflectionPad, !(0...Image.maxSide / 4).contains(p) { found.append("reflectionPad \(p) must be from 0 to \(Image.maxSide / 4)") }
        return found
    }
}

extension MaskRecipe {
    /// What no run can use, nil when nothing.
    var problem: String? {
        switch self {
        case let .bernoulli(keep, _):
            // As inpaint's --bernoulli: at 1 nothing is left to inpaint, at 0 nothing is known.
            return keep > 0 && keep < 1 ? nil : "bernoulli keep \(keep) must be more than 0 and less than 1 (the fraction of pixels kept)"
        case .seedReportText:
            return nil
        case let .file(path):
            return Experiment.dataPathProblem(path).map { "file '\(path)' \($0)" }
        }
    }
}

/// A width and height in pixels.
public struct ImageSize: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Width.
    public var width: Int
    /// Height.
    public var height: Int

    /// Creates a size.
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// "512x512" (W x H, as everywhere on the command line).
    public var description: String { "\(width)x\(height)" }
}

/// The mask of a run, as the catalog describes it; it becomes a `MaskSpec` once the run's seed
/// and the data folder are known.
public enum MaskRecipe: Sendable, Hashable, Codable {
    /// A Bernoulli mask keeping `keep` of the pixels, drawn from the run's seed at the prepared
    /// size; `perChannel` gives colour images one mask per channel (upstream's get_bernoulli_mask).
    case bernoulli(keep: Double, perChannel: Bool)
    /// The seed report's three strings in FreeSansBold, drawn at the resized size and prepared
    /// like the image.
    case seedReportText
    /// A mask file in the data folder (relative path), prepared like the image.
    case file(String)

    /// A short description: "Bernoulli 50 %", "seed-report text", "dip-inpainting/kate_mask.png".
    public var summary: String {
        switch self {
        case let .bernoulli(keep, _): return "Bernoulli \(Int(((1 - keep) * 100).rounded())) % holes"
        case .seedReportText: return "seed-report text"
        case let .file(path): return path
        }
    }
}

/// Total-variation inpainting settings (the classical baseline, see TVInpainting).
public struct TVConfig: Sendable, Hashable, Codable {
    /// Primal-dual iterations.
    public var iterations: Int
    /// Weight of the data term on the known pixels; nil keeps them exactly (a hard constraint).
    public var dataWeight: Double?

    /// Creates settings.
    public init(iterations: Int = 1000, dataWeight: Double? = nil) {
        self.iterations = iterations
        self.dataWeight = dataWeight
    }
}

/// What restores the image: a Deep Image Prior fit or a classical method.
public enum Method: Sendable, Hashable, Codable {
    /// A DIP fit. The network's `outputChannels` is set from the prepared image, so one
    /// configuration serves gray and colour images alike.
    case dip(FitConfig)
    /// Total-variation inpainting (deterministic: the seed only selects the mask).
    case tv(TVConfig)

    /// "DIP adam lr=0.001, 11000 iterations" or "TV, 1000 iterations".
    public var summary: String {
        switch self {
        case let .dip(c): return "DIP \(c.optimizer), \(c.iterations) iterations"
        case let .tv(t): return "TV, \(t.iterations) iterations"
        }
    }
}

/// One configuration of an experiment, applied to each of its images: a row of a table, a point
/// of a sweep, a curve of a plot.
public struct RunSpec: Sendable, Hashable, Codable {
    /// The configuration's name within its experiment ("width 16", "Adam lr 0.01"); shown in
    /// the report, not hashed.
    public var label: String
    /// The images it runs on.
    public var images: [ImageRef]
    /// How each image is prepared.
    public var preprocessing: Preprocessing
    /// The mask.
    public var mask: MaskRecipe
    /// The method and its knobs.
    public var method: Method
    /// Keep the picture at the bottom of the worst sudden PSNR drop (Experiment 3).
    public var keepWorstDrop: Bool
    /// The seed report's sweep point this configuration reproduces (the report puts its
    /// published PSNR beside ours); nil for configurations the seed report did not run.
    public var seedReportPoint: SeedReportPoint?

    /// Creates a specification.
    public init(label: String, images: [ImageRef], preprocessing: Preprocessing = Preprocessing(),
                mask: MaskRecipe, method: Method, keepWorstDrop: Bool = false, seedReportPoint: SeedReportPoint? = nil) {
        self.label = label
        self.images = images
        self.preprocessing = preprocessing
        self.mask = mask
        self.method = method
        self.keepWorstDrop = keepWorstDrop
        self.seedReportPoint = seedReportPoint
    }
}

/// A point of the seed report's architecture sweeps on kate.png with its text mask, typed so
/// that the report never has to read it back out of a label. It names the configuration as
/// the paper-size protocol writes it (a profile may narrow the channels it actually runs).
public enum SeedReportPoint: Sendable, Hashable, Codable {
    /// Width sweep at depth 5: `channels` down, up and skip.
    case width(channels: Int)
    /// Depth sweep at 128 channels, with skip connections (128) or without (0).
    case depth(levels: Int, skip: Bool)

    /// The seed report's published PSNR for this point, if it gave one.
    public var publishedPSNR: Double? {
        switch self {
        case let .width(c): return ReferenceNumbers.seedWidthSweep.first { $0.channels == c }?.psnr
        case let .depth(d, skip):
            let table = skip ? ReferenceNumbers.seedDepthWithSkip : ReferenceNumbers.seedDepthWithoutSkip
            return table.first { $0.depth == d }?.psnr
        }
    }
}

/// An experiment: a named set of configurations that the report shows together.
public struct Experiment: Sendable, Hashable, Codable {
    /// Identifier used on the command line and in run keys, e.g. "table1-paper".
    public var id: String
    /// The report section it belongs to: "experiment1", "experiment2", "experiment3" (or a
    /// user's own).
    public var group: String
    /// A one-line title.
    public var title: String
    /// What it tests and where its settings come from.
    public var description: String
    /// Its configurations.
    public var runs: [RunSpec]
    /// The experiment whose runs are this one's reference configuration, when that
    /// configuration is already run elsewhere (`era` compares against `table1-paper`): `run`
    /// plans that experiment too, so its stored records are reused and never run twice, and
    /// the page and `diff --within` compare this experiment's configurations with them. Nil
    /// (absent from the JSON) for experiments that hold all their configurations.
    public var baseline: String?

    /// Creates an experiment.
    public init(id: String, group: String, title: String, description: String, runs: [RunSpec],
                baseline: String? = nil) {
        self.id = id
        self.group = group
        self.title = title
        self.description = description
        self.runs = runs
        self.baseline = baseline
    }
}

/// The top-left corner of a crop window, in pixels of the image it was cut from.
public struct WindowOrigin: Sendable, Hashable, Codable {
    /// Rows above the window.
    public var top: Int
    /// Columns left of the window.
    public var left: Int

    /// Creates an origin.
    public init(top: Int, left: Int) {
        self.top = top
        self.left = left
    }
}

/// The hashed part of a run: every knob that changes its numbers and nothing else (not the
/// label, the profile's name, thread counts or paths other than the data-relative image file).
public struct RunConfiguration: Sendable, Hashable, Codable {
    /// The image file, relative to the data folder.
    public var imageFile: String
    /// Its preparation.
    public var preprocessing: Preprocessing
    /// The mask.
    public var mask: MaskRecipe
    /// The method, with the network's output channels resolved.
    public var method: Method
    /// Where the crop window was cut when it follows the mask's holes (reduced profiles' crops of
    /// text and file masks, `Preparation.holeWindow`); nil for a centred window or none. In the
    /// hash, so a run keyed by it always means these pixels, whatever rule placed the window.
    public var window: WindowOrigin?

    /// Creates a configuration.
    public init(imageFile: String, preprocessing: Preprocessing, mask: MaskRecipe, method: Method, window: WindowOrigin? = nil) {
        self.imageFile = imageFile
        self.preprocessing = preprocessing
        self.mask = mask
        self.method = method
        self.window = window
    }

    /// The configuration hash of the run key.
    public func hash() throws -> String { try ConfigHash.of(self) }
}

extension Experiment {
    /// Whether `name` may be an experiment id or an image name: both become folder names under
    /// the results folder, so only letters, digits, `.`, `_` and `-`, starting with a letter or
    /// digit (no `/`, no `..`, nothing hidden), at most 64 characters.
    public static func isSafeName(_ name: String) -> Bool {
        name.wholeMatch(of: /[A-Za-z0-9][A-Za-z0-9._-]{0,63}/) != nil
    }

    /// Whether `text` can stand as a label or group on the page (`OneLineText`'s rule).
    static func isShownText(_ text: String) -> Bool { OneLineText.problem(text) == nil }

    /// What is wrong with `path` as a file of the data folder, nil when nothing: relative, and
    /// never leaving the folder (the data folder is where runs read, and what records name).
    static func dataPathProblem(_ path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.hasPrefix("/") { return "is absolute; give it relative to the data folder (--data)" }
        if path.split(separator: "/").contains("..") { return "leaves the data folder ('..'); copy the file into it" }
        return nil
    }

    /// What makes this experiment unusable, one line each (empty when it is fine): an id or image
    /// name that could leave the results folder, a configuration without images, or a method
    /// the engine would refuse (`FitConfig.validate`: fewer than one iteration used to run one
    /// silently, a network too deep or wide overflowed the estimate).
    public var problems: [String] {
        var found: [String] = []
        if !Self.isSafeName(id) {
            found.append("the id '\(id)' may hold only letters, digits, '.', '_' and '-' (starting with a letter or digit, at most 64); it names a folder of the results")
        }
        if !Self.isShownText(group) { found.append("the group '\(group)' must be a non-empty line of text, without line breaks, tabs or other control characters (a report section such as experiment2)") }
        if runs.isEmpty { found.append("it has no configurations (runs is empty), so nothing would run") }
        // The page and diff tell configurations apart by label, and runs of one image by its
        // name: two of either were both fitted, then one was left off as if it were stale.
        var labels = Set<String>()
        for spec in runs {
            if !Self.isShownText(spec.label) { found.append("a configuration's label '\(spec.label)' must be a non-empty line of text, without line breaks, tabs or other control characters") }
            if !labels.insert(spec.label).inserted { found.append("two configurations share the label '\(spec.label)'; give each its own") }
            // Within a configuration (across them, labels tell runs apart: table1-tv's two
            // protocols each have a "boat" of their own).
            var files: [String: String] = [:]
            for image in spec.images {
                if let other = files.updateValue(image.file, forKey: image.name) {
                    found.append("configuration '\(spec.label)': the image name '\(image.name)' is given twice\(other == image.file ? "" : ", for \(other) and \(image.file)"); give each image its own name")
                }
                if let problem = Self.dataPathProblem(image.file) { found.append("configuration '\(spec.label)': image file '\(image.file)' \(problem)") }
            }
            for problem in spec.preprocessing.problems { found.append("configuration '\(spec.label)': preprocessing.\(problem)") }
            if let problem = spec.mask.problem { found.append("configuration '\(spec.label)': mask: \(problem)") }
            // Set from each image when it runs (gray 1, colour 3): any other value was replaced
            // without a word, and the run's hash was that of the catalog's own.
            if case let .dip(config) = spec.method, ![1, 3].contains(config.network.outputChannels) {
                found.append("configuration '\(spec.label)': method.dip.network.outputChannels \(config.network.outputChannels) must be 1 or 3; each run sets it from its image (1 for gray, 3 for colour) anyway")
            }
            if case let .tv(tv) = spec.method, let w = tv.dataWeight, !(w > 0 && w.isFinite) {
                found.append("configuration '\(spec.label)': method.tv.dataWeight \(w) must be positive (or left out, to keep the known pixels exactly)")
            }
            if spec.images.isEmpty { found.append("configuration '\(spec.label)' has no images") }
            for image in spec.images where !Self.isSafeName(image.name) {
                found.append("configuration '\(spec.label)': the image name '\(image.name)' may hold only letters, digits, '.', '_' and '-' (starting with a letter or digit, at most 64); it names a folder of the results")
            }
            let iterations: Int
            switch spec.method {
            case let .dip(config): iterations = config.iterations
            case let .tv(config): iterations = config.iterations
            }
            if let problem = FitConfig.iterationsProblem(iterations) {
                found.append("configuration '\(spec.label)' has \(iterations) iterations; \(problem)")
            } else if case let .dip(config) = spec.method {
                // The whole configuration, network included, before anything is estimated or
                // fitted: a 30-level network overflowed the estimate's multiply-accumulates.
                do { try config.validate() } catch { found.append("configuration '\(spec.label)': \(error)") }
            }
        }
        return found
    }
}

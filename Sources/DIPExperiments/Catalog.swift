import DIPCore
import DIPEngine
import Foundation

/// The experiments of the report, in one place. Each entry reads like a table row: id, section,
/// images, preparation, mask, method. The settings come from docs/semantics.md §11 and §13 and
/// docs/semantics.md §4.2 and §6. Users add their own experiments in a JSON file (`--catalog FILE`, an
/// array of `Experiment`) without touching this file or the runner.
public enum Catalog {
    // MARK: images

    /// The Table-1 set at native sizes (11 gray + colour Lena and Peppers).
    public static let bm3d: [ImageRef] = [
        "barbara", "boat", "house", "lena", "peppers", "cameraman", "couple", "fingerprint", "hill", "man",
        "montage", "lenacolor", "pepperscolor",
    ].map { ImageRef(name: $0, file: "bm3d/\($0).png") }

    /// The seed report's 13 images.
    public static let seedReport: [ImageRef] = [
        "boat", "cameraman", "lena", "montage", "barbara", "Lenacolor", "house", "fingerprint", "man",
        "pepperscolor", "hill", "peppers256", "couple",
    ].map { ImageRef(name: $0.lowercased(), file: "seed-report/\($0).png") }

    /// kate.png of the DIP repository.
    public static let kate = ImageRef(name: "kate", file: "dip-inpainting/kate.png")
    /// library.png of the DIP repository.
    public static let library = ImageRef(name: "library", file: "dip-inpainting/library.png")

    // MARK: protocols

    /// restoration.ipynb's preparation: no resize, centre-crop to multiples of 64, reflection-pad
    /// by 1 (512 -> 514, 256 -> 258); applied to every image, as the notebook does to Barbara.
    public static let paperPreprocessing = Preprocessing(cropToMultipleOf: 64, reflectionPad: 1)
    /// The seed report's preparation: every image resized to 512x512 (Pillow bicubic).
    ///
    /// Gray content stays one channel (`colour` "auto"; docs/semantics.md §7): the seed report's
    /// cameraman and couple are gray-palette files and its man an RGB file with three equal
    /// channels. Read as colour, each channel drew its own 50 % mask, so only 12.5 % of the
    /// pixels were lost in all three: on cameraman's central 128x128 (`inpaint --net table1 --lr
    /// 0.01 --iterations 400 --seed 1`) the final PSNR was 1.4 dB higher as colour, 2.0 in the
    /// holes. Its montage is colour and stays so.
    public static let seedPreprocessing = Preprocessing(colour: "auto", resize: ImageSize(width: 512, height: 512))
    /// 50 % Bernoulli, one mask per channel on colour images (upstream's get_bernoulli_mask).
    public static let half = MaskRecipe.bernoulli(keep: 0.5, perChannel: true)

    /// Table 1, paper protocol: the Table-1 net, LR 0.001, 11000 iterations, sigma_p 0.03,
    /// backtracking, final render on the last perturbed input (restoration.ipynb).
    ///
    /// `gammaInit` and `alignCorners` are the two PyTorch defaults that changed after the paper
    /// (docs/semantics.md §3.7, §4.1); their defaults are the paper era's, which leaves the configuration,
    /// and so table1-paper's run keys, exactly as they were before these knobs were exposed.
    public static func paperFit(gammaInit: GammaInit = .uniform, alignCorners: Bool = true) -> FitConfig {
        var network = try! SkipConfig.preset("table1", outputChannels: 1)
        network.upsampling = .bilinear(alignCorners: alignCorners)
        return FitConfig(network: network, perturbation: 0.03,
                         optimizer: .adam(learningRate: 0.001), iterations: 11000, gammaInit: gammaInit,
                         backtracking: Backtracking(), finalRender: .lastPerturbed, psnrEvery: 10)
    }

    /// The `era` experiment's configurations besides the paper era's (gamma U(0, 1) with
    /// align_corners true, which is table1-paper's): every other combination of the two
    /// defaults, the last being what upstream's unchanged code gets from today's PyTorch.
    public static let eraCombinations: [(label: String, gammaInit: GammaInit, alignCorners: Bool)] = [
        ("gamma 1, align_corners true", .one, true),
        ("gamma U(0,1), align_corners false", .uniform, false),
        ("gamma 1, align_corners false (today's PyTorch)", .one, false),
    ]

    /// The text-inpainting fit (inpainting.ipynb kate): LR 0.01, 6001 iterations, sigma_p 0.03.
    public static func textFit(_ net: SkipConfig = SkipConfig.uniform(depth: 5, channels: 128, skip: 128),
                               optimizer: OptimizerChoice = .adam(learningRate: 0.01)) -> FitConfig {
        FitConfig(network: net, perturbation: 0.03, optimizer: optimizer, iterations: 6001, psnrEvery: 10)
    }

    /// Fig. 8's library fit: skip_depthD, 1 noise channel, LR 0.01, 3001 iterations, no
    /// perturbation (param_noise is a no-op at upstream HEAD, docs/semantics.md §6).
    public static func libraryFit(depth: Int) -> FitConfig {
        FitConfig(network: try! SkipConfig.preset("library-depth\(depth)", outputChannels: 3),
                  inputCode: .noise(channels: 1, scale: 0.1), perturbation: 0,
                  optimizer: .adam(learningRate: 0.01), iterations: 3001, psnrEvery: 10)
    }

    // MARK: the experiments

    /// Every built-in experiment, in report order.
    public static let experiments: [Experiment] = [
        Experiment(id: "table1-paper", group: "experiment1", title: "Table 1, paper protocol",
                   description: "50 % Bernoulli masks on the Table-1 images at native size, restoration.ipynb settings",
                   runs: [RunSpec(label: "DIP (paper protocol)", images: bm3d, preprocessing: paperPreprocessing,
                                  mask: half, method: .dip(paperFit()))]),
        Experiment(id: "table1-seed", group: "experiment1", title: "Table 1, seed-report protocol",
                   description: "the seed report's images resized to 512x512, text net, LR 0.01, 6001 iterations, PSNR every 10",
                   runs: [RunSpec(label: "DIP (seed protocol)", images: seedReport, preprocessing: seedPreprocessing,
                                  mask: half, method: .dip(textFit()))]),
        Experiment(id: "table1-tv", group: "experiment1", title: "Table 1, total-variation baseline",
                   description: "isotropic TV inpainting (Chambolle-Pock, known pixels kept) on the very same masks as the DIP runs",
                   runs: [RunSpec(label: "TV (paper protocol masks)", images: bm3d, preprocessing: paperPreprocessing,
                                  mask: half, method: .tv(TVConfig(iterations: 1000))),
                          RunSpec(label: "TV (seed protocol masks)", images: seedReport, preprocessing: seedPreprocessing,
                                  mask: half, method: .tv(TVConfig(iterations: 1000)))]),
        Experiment(id: "width", group: "experiment2", title: "Width sweep at depth 5",
                   description: "kate.png with the seed report's text mask; channels down/up/skip = 4, 16, 32, 64, 128",
                   runs: [4, 16, 32, 64, 128].map { c in
                       RunSpec(label: "width \(c)", images: [kate], mask: .seedReportText,
                               method: .dip(textFit(SkipConfig.uniform(depth: 5, channels: c, skip: c))),
                               seedReportPoint: .width(channels: c))
                   }),
        Experiment(id: "depth", group: "experiment2", title: "Depth sweep, with and without skip connections",
                   description: "kate.png with the seed report's text mask; 128 channels, depth 1, 2, 5, 6, 8, ns = 128 and ns = 0",
                   runs: [128, 0].flatMap { ns in
                       [1, 2, 5, 6, 8].map { d in
                           RunSpec(label: "depth \(d), \(ns > 0 ? "skip" : "no skip")", images: [kate], mask: .seedReportText,
                                   method: .dip(textFit(SkipConfig.uniform(depth: d, channels: 128, skip: ns))),
                                   seedReportPoint: .depth(levels: d, skip: ns > 0))
                       }
                   }),
        Experiment(id: "library", group: "experiment2", title: "Fig. 8: library, depth without skips",
                   description: "library.png with its mask; skip_depth2, 4, 6 (no skip connections), docs/semantics.md §4.2",
                   runs: [2, 4, 6].map { d in
                       RunSpec(label: "skip_depth\(d)", images: [library], mask: .file("dip-inpainting/library_mask.png"),
                               method: .dip(libraryFit(depth: d)))
                   }),
        Experiment(id: "optimizers", group: "experiment3", title: "Learning rate and optimiser",
                   description: "kate.png with the seed report's text mask, text net; Adam at LR 0.1, 0.01, 0.001 and L-BFGS at LR 0.01; the picture at each curve's worst drop is kept",
                   runs: [OptimizerChoice.adam(learningRate: 0.1), .adam(learningRate: 0.01), .adam(learningRate: 0.001),
                          .lbfgs(learningRate: 0.01)].map { opt in
                       RunSpec(label: opt.description, images: [kate], mask: .seedReportText,
                               method: .dip(textFit(optimizer: opt)), keepWorstDrop: true)
                   }),
        Experiment(id: "era", group: "experiment4", title: "The framework's era (BatchNorm gamma init, bilinear align_corners)",
                   description: "Table 1's paper protocol on the same images, masks and seeds under the two PyTorch defaults that changed after the paper: BatchNorm gamma drawn from U(0,1) (PyTorch before 1.2) or set to 1, and bilinear upsampling with align_corners true (before 0.4) or false; the paper-era combination is table1-paper's runs",
                   runs: eraCombinations.map { c in
                       RunSpec(label: c.label, images: bm3d, preprocessing: paperPreprocessing, mask: half,
                               method: .dip(paperFit(gammaInit: c.gammaInit, alignCorners: c.alignCorners)))
                   },
                   baseline: "table1-paper"),
    ]

    /// Whether `id` is one of the built-in experiments (else a user's, from `--catalog`).
    public static func isBuiltIn(_ id: String) -> Bool { experiments.contains { $0.id == id } }

    /// The built-in experiments plus those of a user's catalog file (a JSON array of Experiment);
    /// a user's id may not repeat a built-in one.
    public static func all(userFile: String? = nil) throws -> [Experiment] {
        guard let userFile else { return experiments }
        guard let data = FileManager.default.contents(atPath: userFile) else {
            throw DIPError.io(path: userFile, reason: "cannot read the catalog file (\(FileErrorText.readProblem(userFile)))")
        }
        let extra = try CatalogFile.decode(data, path: userFile)
        var ids = Set(experiments.map(\.id))
        for e in extra {
            if let problem = e.problems.first {
                throw DIPError.badFile(path: userFile, reason: "experiment '\(e.id)': \(problem)")
            }
            guard ids.insert(e.id).inserted else {
                throw DIPError.badFile(path: userFile, reason: "experiment id '\(e.id)' is already taken; rename it")
            }
        }
        for e in extra {
            if let b = e.baseline, !ids.contains(b) || b == e.id {
                throw DIPError.badFile(path: userFile, reason: "experiment '\(e.id)' names baseline '\(b)', which is not another experiment of the catalog")
            }
        }
        // A chain of baselines must end (a cycle was planned five times over and miscounted).
        let all = experiments + extra
        for e in extra {
            var chain = [e.id]
            while let b = all.first(where: { $0.id == chain.last })?.baseline {
                if chain.contains(b) {
                    throw DIPError.badFile(path: userFile, reason: "the baselines \((chain + [b]).map { "'\($0)'" }.joined(separator: " -> ")) go round in a circle; a baseline's own baseline chain must end")
                }
                chain.append(b)
            }
        }
        return all
    }

    /// `experiments` as the JSON that `--catalog` reads (pretty-printed, keys sorted): the
    /// template for a user's own experiments.
    public static func json(_ experiments: [Experiment]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(experiments), as: UTF8.self)
    }

    /// `selected` with the baseline of each inserted before it (when not selected already), so a
    /// plan holds every run its pages compare with; a baseline's runs keep their own keys, so
    /// what is stored for it is reused.
    public static func withBaselines(_ selected: [Experiment], from all: [Experiment]) -> [Experiment] {
        var out: [Experiment] = []
        func add(_ e: Experiment, depth: Int) {
            guard !out.contains(where: { $0.id == e.id }) else { return }
            // A chain of baselines is followed; reading a catalog refuses a cycle, and the depth bound would cut one.
            if depth < all.count, let b = e.baseline, let base = all.first(where: { $0.id == b }) { add(base, depth: depth + 1) }
            out.append(e)
        }
        for e in selected { add(e, depth: 0) }
        return out
    }

    /// The experiments called `ids` (all when empty); an unknown id names the choices.
    public static func select(_ ids: [String], from all: [Experiment]) throws -> [Experiment] {
        if ids.isEmpty { return all }
        return try ids.map { id in
            guard let e = all.first(where: { $0.id == id }) else {
                throw DIPError.invalidValue(name: "experiment", value: id, reason: "unknown; choose from \(all.map(\.id).joined(separator: ", "))"
                                            + (all.count == experiments.count ? " (an experiment of your own needs --catalog FILE)" : ""))
            }
            return e
        }
    }
}

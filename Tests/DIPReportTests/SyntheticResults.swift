import DIPCore
import DIPEngine
import DIPExperiments
import DIPTestSupport
import Foundation
@testable import DIPReport

/// A results folder written straight through `ResultStore`, with known numbers and no fitting:
/// the page and diff tests need exact values and must stay fast. The records have the schema
/// the runner writes; the smoke-profile end-to-end test covers what the runner really stores.
enum SyntheticResults {
    /// An image name and a label that try to inject markup into the page.
    static let hostileImage = "<img src=x onerror=alert(1)>"
    static let hostileLabel = "width \"<script>alert('label')</script>"

    /// A fresh temporary folder.
    static func temporaryFolder(_ name: String) -> String {
        let path = TestFolder.path("dip-report-tests-\(name)")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// PSNR that a synthetic run reaches: a function of image, seed and an offset, so tests know it.
    static func finalPSNR(image: String, seed: UInt64, offset: Double) -> Double {
        (ReferenceNumbers.paperDIP[ReferenceNumbers.table1Column(forImage: image)] ?? 30) - 1 + Double(seed) * 0.5 + offset
    }

    /// One stored run with a curve that rises, drops once and recovers; without a final
    /// score with `withFinal` false (a diverged run's).
    static func save(_ store: ResultStore, experiment: String, group: String, label: String, image: String,
                     seed: UInt64, profile: String = "smoke", offset: Double = 0, side: Int = 24,
                     network: SkipConfig = SkipConfig.uniform(depth: 2, channels: 4, skip: 4, outputChannels: 1),
                     gammaInit: GammaInit = .uniform, status: RunStatus = .done,
                     finishedAt: String = "2026-01-01T00:00:00Z", computeStretches: [ComputeStretch]? = nil,
                     copiedFrom: RunKey? = nil, withFinal: Bool = true) throws {
        let fit = FitConfig(network: network, iterations: 30, gammaInit: gammaInit, psnrEvery: 3)
        let configuration = RunConfiguration(imageFile: "bm3d/\(image).png", preprocessing: Preprocessing(),
                                             mask: .bernoulli(keep: 0.5, perChannel: true), method: .dip(fit))
        let key = RunKey(experiment: experiment, image: image, configHash: try configuration.hash(), seed: seed)
        let final = finalPSNR(image: image, seed: seed, offset: offset)
        let curve = stride(from: 0, through: 30, by: 3).map { it -> CurvePoint in
            let rise = final * (1 - exp(-Double(it + 3) / 6))
            return CurvePoint(iteration: it, loss: 0.01, psnr: it == 18 ? rise - 5 : rise, psnrHoles: nil, psnrKnown: 30)
        }
        let best = curve.max { ($0.psnr ?? 0) < ($1.psnr ?? 0) }!
        var clean = Image(channels: 1, height: side, width: side)
        for i in clean.pixels.indices { clean.pixels[i] = Float((i * 7 + Int(seed)) % side) / Float(side) }
        let mask = try BernoulliMask.make(channels: 1, height: side, width: side, keepFraction: 0.5, seed: seed)
        var images: [RunImage: Image] = [.final: clean, .best: clean, .mask: mask, .corrupted: clean.masked(by: mask)]
        var worstDrop: WorstDrop? = nil
        if group == "experiment3" {
            images[.drop] = mask
            worstDrop = WorstDrop(fromIteration: 15, fromPSNR: curve[5].psnr!, iteration: 18, psnr: curve[6].psnr!)
        }
        let record = RunRecord(
            key: key, group: group, label: label, profile: profile, configuration: configuration, imageSHA256: "0",
            size: DIPExperiments.ImageSize(width: side, height: side), channels: 1, maskSummary: "Bernoulli 50 % holes",
            holeFraction: 0.5, corruptedPSNR: 8, status: status, stoppedAt: nil, iterations: 30, curve: curve, losses: [],
            backtracks: [], final: withFinal ? Scores(psnr: final) : nil, best: Scores(psnr: best.psnr!), bestIteration: best.iteration,
            worstDrop: worstDrop, timings: FitTimings(), wallSeconds: 1.5, resumes: 0, finishedAt: finishedAt,
            machine: MachineInfo(host: "test-host", os: "Linux", cpu: "test cpu", cores: 2, threads: 2),
            software: SoftwareInfo(tool: "test", commit: "abc1234", oneDNN: "2.6.3", backend: "cpu"),
            images: Dictionary(uniqueKeysWithValues: images.keys.map { ($0, ResultStore.imageFileName(key, $0)) }),
            computeStretches: computeStretches, copiedFrom: copiedFrom)
        try store.save(record, images: images)
        // The clean picture beside the record, where the gallery looks for it.
        try PNGCodec.write(clean, to: (store.folder(for: key) as NSString).appendingPathComponent("\(ResultStore.stem(key))-clean.png"))
    }

    /// Table 1 on all 13 images (two seeds, paper and seed protocol, TV), the sweeps of
    /// experiments 2 and 3, and a run whose image name and label are hostile.
    static func make(in folder: String, offset: Double = 0, seeds: [UInt64] = [0, 1]) throws -> ResultStore {
        let store = try ResultStore(root: folder)
        let seedNames = ["boat", "cameraman", "lena", "montage", "barbara", "lenacolor", "house", "fingerprint", "man",
                         "pepperscolor", "hill", "peppers256", "couple"]
        for seed in seeds {
            for (name, _) in ReferenceNumbers.table1Images {
                try save(store, experiment: "table1-paper", group: "experiment1", label: "DIP (paper protocol)", image: name, seed: seed, offset: offset)
                try save(store, experiment: "table1-tv", group: "experiment1", label: "TV (paper protocol masks)", image: name, seed: seed, offset: offset - 3)
            }
            for name in seedNames {
                try save(store, experiment: "table1-seed", group: "experiment1", label: "DIP (seed protocol)", image: name, seed: seed, offset: offset + 0.2)
            }
            for c in [4, 16] {
                try save(store, experiment: "width", group: "experiment2", label: "width \(c)", image: "kate", seed: seed, offset: offset,
                         network: SkipConfig.uniform(depth: 2, channels: c, skip: c, outputChannels: 1))
            }
            try save(store, experiment: "depth", group: "experiment2", label: "depth 2, no skip", image: "kate", seed: seed, offset: offset,
                     network: SkipConfig.uniform(depth: 2, channels: 4, skip: 0, outputChannels: 1))
            try save(store, experiment: "optimizers", group: "experiment3", label: "Adam lr 0.01", image: "kate", seed: seed, offset: offset)
            try save(store, experiment: "mine", group: "experiment2", label: hostileLabel, image: hostileImage, seed: seed, offset: offset)
            try save(store, experiment: "my-masks", group: "my-study", label: "Adam lr 0.02", image: "kate", seed: seed, offset: offset)
        }
        return store
    }

    /// The era fixture: table1-paper (the paper era) and the era experiment's three other
    /// combinations on `images` x `seeds`, with the Table-1 net's bilinear upsampling so each
    /// pair differs in its knob only. Each combination's final PSNR is the paper era's plus
    /// `eraOffsets[label]!(image, seed)`.
    static let eraLabels = Catalog.eraCombinations.map(\.label)

    /// `diverged`: the paper-era run of that image and seed diverged, with no final score.
    static func makeEra(in folder: String, images: [String], seeds: [UInt64],
                        eraOffsets: [String: @Sendable (String, UInt64) -> Double],
                        diverged: (image: String, seed: UInt64)? = nil) throws -> ResultStore {
        let store = try ResultStore(root: folder)
        func net(_ alignCorners: Bool) -> SkipConfig {
            SkipConfig(inputChannels: 32, outputChannels: 1, down: [4, 4], up: [4, 4], skip: [4, 4],
                       upsampling: .bilinear(alignCorners: alignCorners))
        }
        for image in images {
            for seed in seeds {
                let fails = diverged.map { $0.image == image && $0.seed == seed } ?? false
                try save(store, experiment: "table1-paper", group: "experiment1", label: "DIP (paper protocol)", image: image,
                         seed: seed, profile: "paper", network: net(true), status: fails ? .diverged : .done, withFinal: !fails)
                for c in Catalog.eraCombinations {
                    guard let offset = eraOffsets[c.label] else { continue }
                    try save(store, experiment: "era", group: "experiment4", label: c.label, image: image, seed: seed,
                             profile: "paper", offset: offset(image, seed), network: net(c.alignCorners), gammaInit: c.gammaInit)
                }
            }
        }
        return store
    }
}

/// The era fixture's known differences (`SyntheticResults.era`), on four images and three
/// seeds (the paper era's final PSNR is the paper's value - 1 + 0.5 x seed, so every image
/// spans 1.0 dB over the seeds):
/// - gamma 1: -2.0, -1.5, -0.5, -0.2 dB on barbara, boat, house, lena, plus 0.1 x seed. Means
///   over seeds -1.9, -1.4, -0.4, -0.1 against a spread of 1.2 (its own range): 2 of 4 beyond;
///   mean -0.95, per-seed means -1.05, -0.95, -0.85.
/// - align_corners false: +0.05 everywhere: 0 of 4 beyond.
/// - both: -0.9 everywhere: within the 1.0 spread, 0 of 4.
let eraImages = ["barbara", "boat", "house", "lena"]
let eraGammaBase = ["barbara": -2.0, "boat": -1.5, "house": -0.5, "lena": -0.2]
let eraOffsets: [String: @Sendable (String, UInt64) -> Double] = [
    "gamma 1, align_corners true": { image, seed in eraGammaBase[image]! + 0.1 * Double(seed) },
    "gamma U(0,1), align_corners false": { _, _ in 0.05 },
    "gamma 1, align_corners false (today's PyTorch)": { _, _ in -0.9 },
]

extension SyntheticResults {
    /// The era fixture in a fresh folder, on `seeds`.
    static func era(_ name: String, seeds: [UInt64] = [0, 1, 2]) throws -> String {
        let folder = temporaryFolder(name)
        _ = try makeEra(in: folder, images: eraImages, seeds: seeds, eraOffsets: eraOffsets)
        return folder
    }
}

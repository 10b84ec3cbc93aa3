import DIPCore
import DIPEngine
import Foundation

/// How a stored run ended.
public enum RunStatus: String, Sendable, Hashable, Codable {
    /// Every iteration ran.
    case done
    /// The loss became NaN or infinite; the record holds the curve up to there.
    case diverged
    /// Stopped by the user; stored only when the caller asks (the runner checkpoints instead).
    case cancelled
}

/// Quality of one picture against the clean image.
public struct Scores: Sendable, Hashable, Codable {
    /// PSNR over every pixel and channel of the prepared image, dB.
    public var psnr: Double
    /// PSNR over the hole pixels only, dB.
    public var psnrHoles: Double?
    /// Mean SSIM (Gaussian window, Metrics.ssim).
    public var ssim: Double?

    /// Creates scores.
    public init(psnr: Double, psnrHoles: Double? = nil, ssim: Double? = nil) {
        self.psnr = psnr
        self.psnrHoles = psnrHoles
        self.ssim = ssim
    }
}

/// The largest fall of PSNR between two consecutive curve samples: from `fromIteration`
/// (PSNR `fromPSNR`) to `iteration` (PSNR `psnr`), whose picture is kept as the "drop" image.
public struct WorstDrop: Sendable, Hashable, Codable {
    /// The sample before the fall.
    public var fromIteration: Int
    /// Its PSNR.
    public var fromPSNR: Double
    /// The sample at the bottom of the fall.
    public var iteration: Int
    /// Its PSNR.
    public var psnr: Double

    /// Creates a drop.
    public init(fromIteration: Int, fromPSNR: Double, iteration: Int, psnr: Double) {
        self.fromIteration = fromIteration
        self.fromPSNR = fromPSNR
        self.iteration = iteration
        self.psnr = psnr
    }

    /// The fall in dB (positive).
    public var fall: Double { fromPSNR - psnr }
}

/// The machine a run ran on.
public struct MachineInfo: Sendable, Hashable, Codable {
    /// Host name.
    public var host: String
    /// Operating system, e.g. "Linux 6.1.0".
    public var os: String
    /// CPU model name (from /proc/cpuinfo where available).
    public var cpu: String
    /// Logical cores the run's process could use (`HostCPU.usableCores`: its CPU affinity within
    /// a control group's CPU quota); records written before 2026-12-04 hold the machine's count.
    public var cores: Int
    /// Threads the run used.
    public var threads: Int

    /// Creates a description.
    public init(host: String, os: String, cpu: String, cores: Int, threads: Int) {
        self.host = host
        self.os = os
        self.cpu = cpu
        self.cores = cores
        self.threads = threads
    }
}

/// Where a stretch of a run's iterations was computed: what, besides the seed, sets its bits
/// (the same seed on the same CPU with the same threads and backend gives the same numbers).
public struct ComputeStretch: Sendable, Hashable, Codable {
    /// Loop iterations completed before the stretch began (0 for the first).
    public var fromIteration: Int
    /// CPU model (`MachineInfo.cpu`).
    public var cpu: String
    /// Threads.
    public var threads: Int
    /// The compute backend's name (`SoftwareInfo.backend`).
    public var backend: String
    /// Where it computed (`SoftwareInfo.device`).
    public var device: String?

    /// Creates a stretch.
    public init(fromIteration: Int, cpu: String, threads: Int, backend: String, device: String?) {
        self.fromIteration = fromIteration
        self.cpu = cpu
        self.threads = threads
        self.backend = backend
        self.device = device
    }

    /// True when `other` computes the same bits (everything but where the stretch began agrees).
    func sameSetup(as other: ComputeStretch) -> Bool {
        cpu == other.cpu && threads == other.threads && backend == other.backend && device == other.device
    }

    /// "2 threads, cpu-onednn on <device>".
    public var setupSummary: String {
        "\(threads) thread\(threads == 1 ? "" : "s"), \(backend) on \(device ?? cpu)"
    }
}

/// The software that produced a run.
public struct SoftwareInfo: Sendable, Hashable, Codable {
    /// dip-report's version (`ToolVersion.current`).
    public var tool: String
    /// The git commit of the checkout the binary was built from (with "+dirty"), or "unknown".
    public var commit: String
    /// oneDNN's version, e.g. "2.6.3".
    public var oneDNN: String
    /// The compute backend's own name, e.g. "cpu-onednn" ("cpu" in records before 0.4.1).
    public var backend: String
    /// Where the backend computed, as its factory says: the CPU model and oneDNN's instruction
    /// set, or the card, driver and math mode of a GPU (nil in records before 0.5.0).
    public var device: String?
    /// Every library doing the backend's arithmetic with its version, e.g. "oneDNN 2.6.3" or
    /// "CUDA driver 13.0, cuDNN 9.x" (nil in records before 0.5.0).
    public var libraries: String?

    /// Creates a description.
    public init(tool: String, commit: String, oneDNN: String, backend: String, device: String? = nil,
                libraries: String? = nil) {
        self.tool = tool
        self.commit = commit
        self.oneDNN = oneDNN
        self.backend = backend
        self.device = device
        self.libraries = libraries
    }
}

/// The PNG files stored beside a record, by role. File names are relative to the record's folder.
public enum RunImage: String, Sendable, Hashable, Codable, CodingKeyRepresentable, CaseIterable {
    /// The final render.
    case final
    /// The best sampled iterate.
    case best
    /// The mask (255 = known, 0 = hole).
    case mask
    /// The corrupted input the method saw (holes black).
    case corrupted
    /// The picture at the bottom of the worst drop (Experiment 3).
    case drop
    /// The clean image as prepared for the run (cropped, padded, resized): what PSNR is
    /// measured against, so the report can show it and the error map.
    case clean
}

/// Everything stored about one finished run: `<experiment>/<image>/<hash>-s<seed>.json` in the
/// results folder, with its PNGs beside it. Schema "dip-report/run", version 1; later versions only
/// add optional fields. See docs in ResultStore.
public struct RunRecord: Sendable, Codable {
    /// The schema name every record carries, so foreign JSON files are recognised.
    public static let schemaName = "dip-report/run"
    /// The version this build writes and reads.
    public static let currentVersion = 1

    /// Always `schemaName`.
    public var schema: String
    /// The schema version.
    public var version: Int
    /// (experiment, image, configuration hash, seed).
    public var key: RunKey
    /// The experiment's report section ("experiment1", ...).
    public var group: String
    /// The configuration's label within its experiment ("width 16").
    public var label: String
    /// The profile that ran it ("paper", "quick", "smoke"); numbers from anything but "paper"
    /// must be labelled as such.
    public var profile: String
    /// The hashed configuration: image file, preprocessing, mask, method.
    public var configuration: RunConfiguration
    /// SHA-256 of the image file that was read.
    public var imageSHA256: String
    /// SHA-256 of the mask file that was read, for a file mask; nil for drawn masks and in
    /// records written before it was kept.
    public var maskSHA256: String?
    /// The prepared (fitted and measured) size.
    public var size: ImageSize
    /// Channels of the prepared image.
    public var channels: Int
    /// What the mask was ("Bernoulli keep 0.5, seed 1, per channel").
    public var maskSummary: String
    /// Fraction of hole entries in the mask.
    public var holeFraction: Double
    /// PSNR of the corrupted input (holes set to 0) against the clean image: the floor any method
    /// must beat.
    public var corruptedPSNR: Double
    /// How the run ended.
    public var status: RunStatus
    /// Iteration at which a diverged or cancelled run stopped.
    public var stoppedAt: Int?
    /// Iterations (network evaluations, or TV iterations) actually run.
    public var iterations: Int
    /// Sampled points (every psnrEvery iterations and the last); empty for TV, which has one.
    public var curve: [CurvePoint]
    /// The loss of every iteration (DIP only).
    public var losses: [Double]
    /// Iterations at which backtracking restored its checkpoint.
    public var backtracks: [Int]
    /// The final picture's scores (nil when it is not finite, e.g. diverged).
    public var final: Scores?
    /// The best sampled iterate's scores.
    public var best: Scores?
    /// Its iteration.
    public var bestIteration: Int?
    /// The worst sudden drop, when the experiment keeps it.
    public var worstDrop: WorstDrop?
    /// Seconds by phase, as the engine measured them.
    public var timings: FitTimings
    /// Wall-clock seconds of the whole run, preparation and storage included, summed over resumes.
    public var wallSeconds: Double
    /// How many times it was resumed from a checkpoint.
    public var resumes: Int
    /// ISO 8601 time the run finished.
    public var finishedAt: String
    /// Where it ran.
    public var machine: MachineInfo
    /// What ran it.
    public var software: SoftwareInfo
    /// The PNGs beside the record: role -> file name in the same folder.
    public var images: [RunImage: String]
    /// Where its iterations were computed, stretch by stretch, when a resume changed the setup
    /// (threads, CPU or backend) part way; nil when every iteration ran in the setup `machine`
    /// and `software` name. Such a run's numbers match an uninterrupted run in none of them.
    public var computeStretches: [ComputeStretch]?
    /// The stored run this record copies, when it was not fitted under its own key: a twin, the
    /// same configuration and seed stored under another experiment (the paper's sweeps share
    /// their baseline). Its numbers, pictures, timings, machine and software are the twin's;
    /// `wallSeconds` and `finishedAt` are the copy's own. Nil for a run fitted under its own key.
    public var copiedFrom: RunKey?

    /// Creates a record of the current schema.
    public init(key: RunKey, group: String, label: String, profile: String, configuration: RunConfiguration,
                imageSHA256: String, maskSHA256: String? = nil, size: ImageSize, channels: Int, maskSummary: String, holeFraction: Double,
                corruptedPSNR: Double, status: RunStatus, stoppedAt: Int?, iterations: Int, curve: [CurvePoint],
                losses: [Double], backtracks: [Int], final: Scores?, best: Scores?, bestIteration: Int?,
                worstDrop: WorstDrop?, timings: FitTimings, wallSeconds: Double, resumes: Int, finishedAt: String,
                machine: MachineInfo, software: SoftwareInfo, images: [RunImage: String],
                computeStretches: [ComputeStretch]? = nil, copiedFrom: RunKey? = nil) {
        schema = RunRecord.schemaName
        version = RunRecord.currentVersion
        self.key = key
        self.group = group
        self.label = label
        self.profile = profile
        self.configuration = configuration
        self.imageSHA256 = imageSHA256
        self.maskSHA256 = maskSHA256
        self.size = size
        self.channels = channels
        self.maskSummary = maskSummary
        self.holeFraction = holeFraction
        self.corruptedPSNR = corruptedPSNR
        self.status = status
        self.stoppedAt = stoppedAt
        self.iterations = iterations
        self.curve = curve
        self.losses = losses
        self.backtracks = backtracks
        self.final = final
        self.best = best
        self.bestIteration = bestIteration
        self.worstDrop = worstDrop
        self.timings = timings
        self.wallSeconds = wallSeconds
        self.resumes = resumes
        self.finishedAt = finishedAt
        self.machine = machine
        self.software = software
        self.images = images
        self.computeStretches = computeStretches
        self.copiedFrom = copiedFrom
    }

    /// The record as JSON: sorted keys, pretty-printed, infinities as "inf" strings (a perfect
    /// fit's PSNR) since JSON has none.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    /// Decodes a record, checking schema and version; `path` names the file in errors.
    public static func decode(_ data: Data, path: String) throws -> RunRecord {
        struct Header: Decodable { var schema: String?; var version: Int? }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let header: Header
        do { header = try decoder.decode(Header.self, from: data) } catch {
            throw DIPError.badFile(path: path, reason: "is not valid JSON (\(error.localizedDescription)); move it out of the results folder or delete it")
        }
        guard header.schema == schemaName else {
            throw DIPError.badFile(path: path, reason: "is not a dip-report run record (schema \(header.schema.map { "'\($0)'" } ?? "missing")); it was left untouched")
        }
        guard let v = header.version, v <= currentVersion else {
            throw DIPError.badFile(path: path, reason: "has schema version \(header.version.map(String.init) ?? "missing"), newer than this dip-report reads (\(currentVersion)); update dip-report")
        }
        let record: RunRecord
        do { record = try decoder.decode(RunRecord.self, from: data) } catch {
            throw DIPError.badFile(path: path, reason: "is a damaged run record (\(Self.describe(error))); delete it to run it again")
        }
        if let problem = record.impossibleValue {
            throw DIPError.badFile(path: path, reason: "is a damaged run record (\(problem)); delete it to run it again")
        }
        return record
    }

    /// The longest time a record may say a run took: about 32 years.
    static let maxSeconds = 1e9

    /// The highest finite PSNR a record may hold, dB (see `impossibleValue`).
    static let maxPSNR = 1000.0

    /// The iteration counts a run can reach: twice a fit's most, with room for L-BFGS's
    /// warm-up steps (records' and plans' `impossibleValue`).
    static let possibleIterations = 0...2 * FitConfig.maxIterations

    /// The first value no run can have written, in a few words, nil when there is none. The
    /// report computes from these (a network's layers and multiply-accumulates from its
    /// configuration and size, durations from the timings), so a record edited by hand or
    /// damaged into valid JSON with 10^9 channels or seconds crashed `render` on an overflow.
    var impossibleValue: String? {
        func bad(_ field: String, _ value: Any) -> String { "impossible value \(value) at '\(field)'" }
        let sides = 1...Image.maxSide
        guard sides.contains(size.width), sides.contains(size.height) else { return bad("size", size) }
        guard (1...4).contains(channels) else { return bad("channels", channels) }
        guard (0...1).contains(holeFraction) else { return bad("holeFraction", holeFraction) }
        let counts = Self.possibleIterations
        for (field, value) in [("iterations", iterations), ("stoppedAt", stoppedAt), ("bestIteration", bestIteration),
                               ("timings.iterations", timings.iterations), ("resumes", resumes)] {
            if let value, !counts.contains(value) { return bad(field, value) }
        }
        if let point = curve.first(where: { !counts.contains($0.iteration) }) { return bad("curve.iteration", point.iteration) }
        if let stretch = computeStretches?.first(where: { !counts.contains($0.fromIteration) || $0.threads < 1 }) {
            return bad("computeStretches", "\(stretch.fromIteration) / \(stretch.threads) threads")
        }
        let seconds = 0...Self.maxSeconds
        for (field, value) in [("wallSeconds", wallSeconds), ("timings.forward", timings.forward), ("timings.backward", timings.backward),
                               ("timings.optimizer", timings.optimizer), ("timings.total", timings.total), ("timings.batched", timings.batched)] {
            if let value, !seconds.contains(value) { return bad(field, value) }
        }
        // PSNR of pictures in [0, 1] is at least 0 dB, and a Float32 picture that differs at all
        // stays below 1000 dB; +inf is a perfect match. A hand-edited 1e308 printed as a
        // 300-digit mean, and a "done" run's NaN final was dropped from its mean silently.
        func psnrProblem(_ field: String, _ value: Double?, nanAllowed: Bool = false) -> String? {
            guard let value else { return nil }
            if value.isNaN { return nanAllowed ? nil : bad(field, value) }
            return value == .infinity || (0...Self.maxPSNR).contains(value) ? nil : bad(field, value)
        }
        for (name, scores) in [("final", final), ("best", best)] {
            guard let scores else { continue }
            if let p = psnrProblem("\(name).psnr", scores.psnr) ?? psnrProblem("\(name).psnrHoles", scores.psnrHoles, nanAllowed: true) { return p }
            if let ssim = scores.ssim, !ssim.isNaN, !(-1...1).contains(ssim) { return bad("\(name).ssim", ssim) }
        }
        if let p = psnrProblem("corruptedPSNR", corruptedPSNR) { return p }
        for point in curve {
            if let p = psnrProblem("curve.psnr", point.psnr, nanAllowed: true) ?? psnrProblem("curve.psnrHoles", point.psnrHoles, nanAllowed: true) { return p }
        }
        switch configuration.method {
        case let .dip(config):
            do { try config.validate() } catch { return "its configuration: \(error)" }
        case let .tv(config):
            if let problem = FitConfig.iterationsProblem(config.iterations) { return bad("configuration.method.tv.iterations", "\(config.iterations) (\(problem))") }
        }
        return nil
    }

    /// A decoding error in a few words.
    static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, _): return "missing field '\(key.stringValue)'"
        case let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx),
             let DecodingError.dataCorrupted(ctx):
            return "bad value at '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'"
        default: return "\(error)"
        }
    }
}

import DIPCore
import Foundation

/// When a fit hands its state to `onCheckpoint`: every `iterations` iterations, or when `seconds`
/// have passed since the last checkpoint, whichever comes first.
public struct CheckpointSchedule: Sendable, Hashable {
    /// Iterations between checkpoints (nil = by time only).
    public var iterations: Int?
    /// Seconds between checkpoints (nil = by count only).
    public var seconds: Double?

    /// The longest time between checkpoints a flag or a plan may ask for: a week.
    public static let maxSeconds: Double = 604_800

    /// Whether `seconds` may be a schedule's time between checkpoints: more than 0 and at most
    /// `maxSeconds` (finite: plans and checkpoints store the schedule as JSON, which has no
    /// infinity).
    public static func accepts(seconds: Double) -> Bool { seconds > 0 && seconds <= maxSeconds }

    /// Creates a schedule.
    public init(iterations: Int? = nil, seconds: Double? = nil) {
        self.iterations = iterations
        self.seconds = seconds
    }

    /// Whether a checkpoint is due after `iterations` completed iterations.
    func isDue(iterations done: Int, secondsSinceLast: Double) -> Bool {
        if let n = iterations, n > 0, done % n == 0 { return true }
        if let s = seconds, secondsSinceLast >= s { return true }
        return false
    }
}

/// The state of a fit between two iterations: parameters and BatchNorm buffers, the optimizer's
/// state (Adam's moments and step, or L-BFGS's history and position), backtracking's saved
/// parameters, the curve and losses so far, the best iterate and the counters. The perturbation
/// needs no state: step i's noise is substream i of the seed's stream.
public struct FitCheckpoint: Sendable {
    /// The configuration it belongs to (a checkpoint is refused by any other).
    public var config: FitConfig
    /// The seed.
    public var seed: UInt64
    /// `FitProblem.digest` of the image and mask it was fitted to (nil in checkpoints written
    /// before it was recorded, which are taken as they are).
    public var problemDigest: String?
    /// Loop iterations completed.
    public var step: Int
    /// The notebook's iteration counter (it lags `step` by the backtracking fallbacks).
    public var counter: Int
    /// Every network tensor (parameters and buffers) by key.
    public var tensors: [(key: String, values: [Float])]
    /// Adam's first moments, in parameter order.
    public var adamFirst: [[Float]]
    /// Adam's second moments.
    public var adamSecond: [[Float]]
    /// Adam's step count.
    public var adamSteps: Int
    /// Backtracking's saved parameters (empty before its first check).
    public var backtrackSaved: [[Float]]
    /// Backtracking's PSNR at its checkpoint.
    public var backtrackPSNR: Double?
    /// Curve so far.
    public var curve: [CurvePoint]
    /// Losses so far.
    public var losses: [Double]
    /// Backtracking restores so far.
    public var backtracks: [Int]
    /// The best iterate so far.
    public var best: BestIterate?
    /// The last sampled PSNR.
    public var lastPSNR: Double?
    /// Timings so far (total = seconds spent before this checkpoint).
    public var timings: FitTimings
    /// An L-BFGS fit's optimizer state (nil for Adam, whose state is in the adam fields).
    public var lbfgs: LBFGS.State?
    /// The caller's own state, saved in the same file so that it can never disagree with the
    /// fit's (e.g. the runner's wall time and the picture at the worst drop so far).
    public var attachments: [String: String] = [:]
    /// The caller's pictures, saved in the same file.
    public var attachedImages: [String: Image] = [:]

    /// Creates a checkpoint.
    public init(config: FitConfig, seed: UInt64, problemDigest: String? = nil, step: Int, counter: Int,
                tensors: [(key: String, values: [Float])],
                adamFirst: [[Float]], adamSecond: [[Float]], adamSteps: Int, backtrackSaved: [[Float]],
                backtrackPSNR: Double?, curve: [CurvePoint], losses: [Double], backtracks: [Int],
                best: BestIterate?, lastPSNR: Double?, timings: FitTimings, lbfgs: LBFGS.State? = nil) {
        self.lbfgs = lbfgs
        self.config = config
        self.seed = seed
        self.problemDigest = problemDigest
        self.step = step
        self.counter = counter
        self.tensors = tensors
        self.adamFirst = adamFirst
        self.adamSecond = adamSecond
        self.adamSteps = adamSteps
        self.backtrackSaved = backtrackSaved
        self.backtrackPSNR = backtrackPSNR
        self.curve = curve
        self.losses = losses
        self.backtracks = backtracks
        self.best = best
        self.lastPSNR = lastPSNR
        self.timings = timings
    }

    /// Why this checkpoint cannot resume a fit of `config` and `seed` on the problem of digest
    /// `problemDigest` ("was written for ..."), nil when it can. A checkpoint of another image
    /// (its file edited after the run was interrupted, or a checkpoint copied from another
    /// run of the same configuration) was resumed as if it were the run's own, and its record
    /// stored the other fit's curve under this image's hash.
    public func mismatch(config: FitConfig, seed: UInt64, problemDigest: String) -> String? {
        guard self.config == config, self.seed == seed else { return "was written for another configuration or seed" }
        if let own = self.problemDigest, own != problemDigest {
            return "was written for another image or mask (the file changed since, or the checkpoint is another run's)"
        }
        return nil
    }

    /// Copies the network tensors (parameters and buffers) back.
    func restoreTensors(into network: SkipNetwork) throws {
        let byKey = Dictionary(tensors.map { ($0.key, $0.values) }, uniquingKeysWith: { a, _ in a })
        for t in network.tensors {
            guard let v = byKey[t.key], v.count == t.value.count else {
                throw EngineError.weights("checkpoint: '\(t.key)' is missing or has the wrong size; delete the checkpoint to start afresh")
            }
            v.withUnsafeBufferPointer { t.value.pointer.update(from: $0.baseAddress!, count: v.count) }
        }
    }

    /// The JSON part: everything but the float arrays.
    private struct State: Codable {
        var schema = "dip-report/fit-checkpoint"
        var version = 1
        var config: FitConfig
        var seed: UInt64
        var problem: String?
        var step: Int
        var counter: Int
        var tensorKeys: [String]
        var adamSteps: Int
        var moments: Int
        var backtrackSaved: Int
        var backtrackPSNR: Double?
        var curve: [CurvePoint]
        var losses: [Double]
        var backtracks: [Int]
        var bestPSNR: Double?
        var bestIteration: Int?
        var lastPSNR: Double?
        var timings: FitTimings
        var lbfgs: LBFGSScalars?
    }

    /// L-BFGS's scalars and the serials of its pairs (the vectors are tensors and pair files).
    private struct LBFGSScalars: Codable {
        var totalIterations: Int
        var totalEvaluations: Int
        var pairsStored: Int
        var pairs: [Int]
        var inverseCurvatures: [Double]
        var hessianDiagonal: Double
        var stepLength: Double
        var iteration: Int
        var evaluations: Int
        var initialLoss: Double
        var loss: Double
        var hasPreviousGradient: Bool
    }

    /// The checkpoint as one safetensors file: the float arrays as F32 tensors, the rest as JSON
    /// in the metadata (Doubles print in shortest round-trip form, so they read back to the same
    /// bits). L-BFGS's curvature pairs are not in it, only their serials: they are up to 2.4 GB,
    /// so whoever stores checkpoints keeps them apart and writes each once (DIPExperiments'
    /// FitCheckpointWriter).
    public func mainFile() throws -> SafetensorsFile {
        var scalars: LBFGSScalars?
        if let l = lbfgs {
            scalars = LBFGSScalars(totalIterations: l.totalIterations, totalEvaluations: l.totalEvaluations,
                                   pairsStored: l.pairsStored, pairs: l.history.map(\.serial),
                                   inverseCurvatures: l.history.map(\.inverseCurvature), hessianDiagonal: l.hessianDiagonal,
                                   stepLength: l.stepLength, iteration: l.iteration, evaluations: l.evaluations,
                                   initialLoss: l.initialLoss, loss: l.loss, hasPreviousGradient: l.previousGradient != nil)
        }
        let state = State(config: config, seed: seed, problem: problemDigest, step: step, counter: counter, tensorKeys: tensors.map(\.key),
                          adamSteps: adamSteps, moments: adamFirst.count, backtrackSaved: backtrackSaved.count,
                          backtrackPSNR: backtrackPSNR, curve: curve, losses: losses, backtracks: backtracks,
                          bestPSNR: best?.psnr, bestIteration: best?.iteration, lastPSNR: lastPSNR, timings: timings,
                          lbfgs: scalars)
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var file = SafetensorsFile(metadata: ["state": String(decoding: try encoder.encode(state), as: UTF8.self)])
        for (name, text) in attachments { file.metadata["attachment." + name] = text }
        for (name, image) in attachedImages {
            file.tensors["attached." + name] = try .init(float32: image.pixels, shape: [image.channels, image.height, image.width])
        }
        for (i, t) in tensors.enumerated() { file.tensors["net.\(i)"] = try .init(float32: t.values) }
        for (i, m) in adamFirst.enumerated() { file.tensors["adam.m.\(i)"] = try .init(float32: m) }
        for (i, v) in adamSecond.enumerated() { file.tensors["adam.v.\(i)"] = try .init(float32: v) }
        for (i, b) in backtrackSaved.enumerated() { file.tensors["backtrack.\(i)"] = try .init(float32: b) }
        if let best {
            file.tensors["best.image"] = try .init(float32: best.image.pixels,
                                                   shape: [best.image.channels, best.image.height, best.image.width])
        }
        if let l = lbfgs {
            file.tensors["lbfgs.gradient"] = try .init(float32: l.gradient)
            file.tensors["lbfgs.direction"] = try .init(float32: l.direction)
            if let p = l.previousGradient { file.tensors["lbfgs.previous"] = try .init(float32: p) }
        }
        file.metadata[Self.digestKey] = Self.digest(of: file)
        return file
    }

    /// The metadata key of `digest(of:)`.
    static let digestKey = "sha256"

    /// SHA-256 over everything else in the file, metadata and tensors, in name order: a
    /// checkpoint changed in place (a bit flipped on disk, a float overwritten) was resumed as
    /// if whole and ended in a wrong result; its damage is now found and it is not resumed.
    static func digest(of file: SafetensorsFile) -> String {
        var hash = SHA256()
        func field(_ name: String, _ bytes: some Collection<UInt8>) {
            hash.update(Array(name.utf8) + [0] + Array(String(bytes.count).utf8) + [0])
            hash.update(bytes)
        }
        let bytewise: (String, String) -> Bool = { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        for key in file.metadata.keys.sorted(by: bytewise) where key != digestKey { field("m:" + key, Array(file.metadata[key]!.utf8)) }
        for name in file.tensors.keys.sorted(by: bytewise) {
            let e = file.tensors[name]!
            field("t:" + name + ":" + e.dtype.rawValue + ":" + e.shape.map(String.init).joined(separator: ","), e.bytes)
        }
        return SHA256.hexString(hash.finalize())
    }

    /// The loop iterations completed that a checkpoint's metadata (`mainFile()`'s) states, nil
    /// when it states none: what a progress report needs, without its tensors.
    public static func stepsCompleted(metadata: [String: String]) -> Int? {
        struct Steps: Decodable { var step: Int }
        guard let json = metadata["state"] else { return nil }
        return (try? JSONDecoder().decode(Steps.self, from: Data(json.utf8)))?.step
    }

    /// Decodes a checkpoint from its `mainFile()`, read from `path` (named in errors, which
    /// leave what to do to the caller: the runner starts the run afresh);
    /// `pair(serial)` supplies L-BFGS's curvature pair of that serial.
    public init(mainFile file: SafetensorsFile, path: String,
                pair: (_ serial: Int) throws -> (y: [Float], s: [Float])) throws {
        guard let json = file.metadata["state"] else {
            throw EngineError.weights("\(path): not a fit checkpoint (no state)")
        }
        // Checkpoints written before the digest have none, and are taken as they are.
        if let written = file.metadata[Self.digestKey], written != Self.digest(of: file) {
            throw EngineError.weights("\(path): damaged checkpoint (its contents differ from those it was written with)")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let state: State
        do { state = try decoder.decode(State.self, from: Data(json.utf8)) } catch {
            throw EngineError.weights("\(path): damaged checkpoint state (\(error))")
        }
        func floats(_ name: String) throws -> [Float] {
            guard let e = file.tensors[name] else { throw EngineError.weights("\(path): checkpoint lacks '\(name)'") }
            return try e.float32Values()
        }
        var best: BestIterate?
        if let p = state.bestPSNR, let i = state.bestIteration, let e = file.tensors["best.image"], e.shape.count == 3 {
            best = BestIterate(psnr: p, iteration: i,
                               image: Image(channels: e.shape[0], height: e.shape[1], width: e.shape[2], pixels: try e.float32Values()))
        }
        var lbfgs: LBFGS.State?
        if let l = state.lbfgs {
            guard l.pairs.count == l.inverseCurvatures.count else {
                throw EngineError.weights("\(path): damaged L-BFGS state (\(l.pairs.count) pairs, \(l.inverseCurvatures.count) curvatures)")
            }
            let history = try zip(l.pairs, l.inverseCurvatures).map { serial, rho in
                let (y, s) = try pair(serial)
                return LBFGS.Pair(serial: serial, y: y, s: s, inverseCurvature: rho)
            }
            lbfgs = LBFGS.State(totalIterations: l.totalIterations, totalEvaluations: l.totalEvaluations,
                                pairsStored: l.pairsStored, history: history, hessianDiagonal: l.hessianDiagonal,
                                direction: try floats("lbfgs.direction"), stepLength: l.stepLength,
                                previousGradient: l.hasPreviousGradient ? try floats("lbfgs.previous") : nil,
                                iteration: l.iteration, evaluations: l.evaluations, initialLoss: l.initialLoss,
                                loss: l.loss, gradient: try floats("lbfgs.gradient"))
        }
        self.init(config: state.config, seed: state.seed, problemDigest: state.problem, step: state.step, counter: state.counter,
                  tensors: try state.tensorKeys.enumerated().map { ($0.element, try floats("net.\($0.offset)")) },
                  adamFirst: try (0..<state.moments).map { try floats("adam.m.\($0)") },
                  adamSecond: try (0..<state.moments).map { try floats("adam.v.\($0)") },
                  adamSteps: state.adamSteps,
                  backtrackSaved: try (0..<state.backtrackSaved).map { try floats("backtrack.\($0)") },
                  backtrackPSNR: state.backtrackPSNR, curve: state.curve, losses: state.losses,
                  backtracks: state.backtracks, best: best, lastPSNR: state.lastPSNR, timings: state.timings,
                  lbfgs: lbfgs)
        for (key, text) in file.metadata where key.hasPrefix("attachment.") {
            attachments[String(key.dropFirst("attachment.".count))] = text
        }
        for (key, e) in file.tensors where key.hasPrefix("attached.") {
            guard e.shape.count == 3 else { throw EngineError.weights("\(path): attached picture '\(key)' is not C x H x W") }
            attachedImages[String(key.dropFirst("attached.".count))] =
                Image(channels: e.shape[0], height: e.shape[1], width: e.shape[2], pixels: try e.float32Values())
        }
    }
}

import DIPCore
import Foundation

/// One sampled point of a fit's curve.
public struct CurvePoint: Sendable, Codable, Hashable {
    /// 0-based iteration whose (pre-step) output was measured.
    public var iteration: Int
    /// The masked MSE loss.
    public var loss: Double
    /// PSNR of the output against the clean image, all pixels (nil without ground truth).
    public var psnr: Double?
    /// PSNR over the hole pixels only.
    public var psnrHoles: Double?
    /// PSNR(x0 * m, out * m): what backtracking watches; needs no ground truth.
    public var psnrKnown: Double

    /// Creates a point.
    public init(iteration: Int, loss: Double, psnr: Double?, psnrHoles: Double?, psnrKnown: Double) {
        self.iteration = iteration
        self.loss = loss
        self.psnr = psnr
        self.psnrHoles = psnrHoles
        self.psnrKnown = psnrKnown
    }
}

/// How a fit ended.
public enum FitStatus: Sendable, Codable, Hashable, CustomStringConvertible {
    /// All iterations ran.
    case done
    /// The loss became NaN or infinite at this iteration (or, after the last update, the final
    /// picture: then `iteration` is the number of iterations run); the fit stopped there.
    case diverged(iteration: Int)
    /// The caller cancelled before this iteration.
    case cancelled(iteration: Int)

    /// "done", "diverged at iteration 12", ...
    public var description: String {
        switch self {
        case .done: return "done"
        case let .diverged(i): return "diverged at iteration \(i)"
        case let .cancelled(i): return "cancelled at iteration \(i)"
        }
    }
}

/// Seconds spent in each phase, summed over the fit.
public struct FitTimings: Sendable, Codable, Hashable {
    /// Input perturbation and forward pass.
    public var forward: Double = 0
    /// Loss, metrics and backward pass.
    public var backward: Double = 0
    /// Optimiser steps.
    public var optimizer: Double = 0
    /// Iterations a device ran in batches (perturbation, forward, loss, backward and Adam as one
    /// piece of work, a replayed graph, which it does not time phase by phase); nil where none
    /// were.
    public var batched: Double?
    /// Everything, set-up excluded.
    public var total: Double = 0
    /// Iterations actually run.
    public var iterations: Int = 0

    /// All zero.
    public init() {}
}

/// The best sampled iterate.
public struct BestIterate: Sendable {
    /// Its PSNR against the clean image.
    public var psnr: Double
    /// Its iteration.
    public var iteration: Int
    /// The picture.
    public var image: Image
}

/// What a fit produced.
public struct FitResult: Sendable {
    /// The configuration that ran.
    public var config: FitConfig
    /// The seed.
    public var seed: UInt64
    /// Sampled points (every `psnrEvery` iterations and the last).
    public var curve: [CurvePoint]
    /// The loss of every iteration.
    public var losses: [Double]
    /// The final render (see FinalRender), clamped to [0, 1] by the sigmoid already.
    public var finalImage: Image
    /// PSNR of the final render (nil without ground truth).
    public var finalPSNR: Double?
    /// PSNR of the final render over the hole pixels.
    public var finalPSNRHoles: Double?
    /// The best sampled iterate (nil without ground truth).
    public var best: BestIterate?
    /// Iterations at which backtracking restored the checkpoint.
    public var backtracks: [Int]
    /// How the fit ended.
    public var status: FitStatus
    /// Where the time went.
    public var timings: FitTimings
    /// The size the network ran at: the image's own, or a larger canvas with the image in the
    /// middle and a margin the loss ignores, for networks that need sizes divisible by 2^depth
    /// (see `Fitter.workingSize`).
    public var workingSize: (height: Int, width: Int)
}

/// Progress, reported after every iteration (after every batch where a device runs iterations in batches).
public struct FitProgress: Sendable {
    /// Iterations completed.
    public var iteration: Int
    /// Iterations planned.
    public var iterations: Int
    /// Loss of the last iteration.
    public var loss: Double
    /// Last measured PSNR (whole image), if any.
    public var psnr: Double?
    /// The evaluation `psnr` was measured at (it is sampled every `psnrEvery` evaluations, so
    /// it may be older than `iteration`).
    public var psnrIteration: Int?
    /// Seconds since the loop started.
    public var elapsed: Double
    /// Seconds in each phase so far (`total` not yet set), so a caller can time the phases of
    /// any stretch of iterations.
    public var timings = FitTimings()
}

extension FitResult {
    /// The curve as JSON: every iteration's loss, the sampled PSNR points, the best iterate and
    /// the status, with `inputs` (what the fit ran on, where and with which build) beside them;
    /// the file `dip-report inpaint --curve` writes (docs/results.md).
    public func curveJSON(inputs: some Encodable) throws -> [UInt8] {
        let p = CurvePayload(inputs: inputs, seed: seed, config: config, status: status.description, iterations: timings.iterations,
                             finalPSNR: finalPSNR, finalPSNRHoles: finalPSNRHoles, bestPSNR: best?.psnr,
                             bestIteration: best?.iteration, backtracks: backtracks, seconds: timings.total,
                             samples: curve, losses: losses)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // JSON has no infinity or NaN: a perfect fit's PSNR is "inf", a diverged loss "nan".
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return Array(try encoder.encode(p))
    }
}

/// The curve file's fields, in `curveJSON`'s order of meaning (the encoder sorts the keys).
private struct CurvePayload<Inputs: Encodable>: Encodable {
    var schema = "dip-report/curve"
    // 2: `inputs` added; two curves could not be told apart by what they were fitted to.
    var version = 2
    var inputs: Inputs
    var seed: UInt64
    var config: FitConfig
    var status: String
    var iterations: Int
    var finalPSNR: Double?
    var finalPSNRHoles: Double?
    var bestPSNR: Double?
    var bestIteration: Int?
    var backtracks: [Int]
    var seconds: Double
    var samples: [CurvePoint]
    var losses: [Double]
}

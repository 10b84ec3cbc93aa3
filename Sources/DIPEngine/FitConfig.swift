import DIPCore
import Foundation

/// How BatchNorm's gamma starts: the paper era's PyTorch (<= 1.1) drew it from U(0, 1),
/// today's PyTorch sets it to 1 (docs/semantics.md §3.7).
public enum GammaInit: String, Sendable, Hashable, Codable, CaseIterable {
    /// U(0, 1), paper-era fidelity.
    case uniform
    /// 1.0, modern PyTorch.
    case one
}

/// The input code z (docs/semantics.md §5).
public enum InputCode: Sendable, Hashable, Codable {
    /// `channels` maps of U(0, scale) noise; upstream uses 32 maps and scale 0.1.
    case noise(channels: Int, scale: Float)
    /// Two ramps, x / (W - 1) and y / (H - 1) (the vase configuration).
    case meshgrid

    /// The code upstream feeds `network`: the meshgrid for a 2-channel input (the vase
    /// configuration), else noise of scale 0.1 with the network's input channels.
    public static func upstream(for network: SkipConfig) -> InputCode {
        network.inputChannels == 2 ? .meshgrid : .noise(channels: network.inputChannels, scale: 0.1)
    }

    /// Channels of z.
    public var channels: Int {
        switch self {
        case let .noise(c, _): return c
        case .meshgrid: return 2
        }
    }

    /// Draws z for an H x W fit from the seed's input-code stream.
    public func make(height: Int, width: Int, seed: UInt64) -> Tensor {
        let z = Tensor([channels, height, width])
        switch self {
        case let .noise(_, scale):
            RandomStream(seed: seed, purpose: .inputCode).fillUniform(z.buffer, low: 0, high: scale)
        case .meshgrid:
            let p = z.pointer
            let plane = height * width
            for y in 0..<height {
                for x in 0..<width {
                    p[y * width + x] = width > 1 ? Float(x) / Float(width - 1) : 0
                    p[plane + y * width + x] = height > 1 ? Float(y) / Float(height - 1) : 0
                }
            }
        }
        return z
    }
}

/// Which optimiser runs the fit.
public enum OptimizerChoice: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Adam, betas 0.9 / 0.999, eps 1e-8, constant learning rate.
    case adam(learningRate: Double)
    /// L-BFGS as upstream's optimize() runs it: one step of max_iter = iterations, history 100.
    case lbfgs(learningRate: Double)

    /// The learning rate.
    public var learningRate: Double {
        switch self {
        case let .adam(lr), let .lbfgs(lr): return lr
        }
    }

    /// "adam lr=0.01".
    public var description: String {
        switch self {
        case let .adam(lr): return "adam lr=\(lr)"
        case let .lbfgs(lr): return "lbfgs lr=\(lr)"
        }
    }
}

/// The restoration notebook's guard against sudden collapses (docs/semantics.md §6): every `interval`
/// iterations compare PSNR(x0 * m, out * m) with the last checkpoint; a fall of more than
/// `threshold` dB restores the checkpointed parameters.
public struct Backtracking: Sendable, Hashable, Codable {
    /// Iterations between checks.
    public var interval: Int = 50
    /// Fall in dB that triggers a restore.
    public var threshold: Double = 5

    /// Upstream's settings.
    public init(interval: Int = 50, threshold: Double = 5) {
        self.interval = interval
        self.threshold = threshold
    }
}

/// Which input the final picture is rendered from (docs/semantics.md §6 "Final output").
public enum FinalRender: String, Sendable, Hashable, Codable {
    /// inpainting.ipynb: one more forward pass on the unperturbed z.
    case unperturbed
    /// restoration.ipynb: the last perturbed input (its global `net_input` was overwritten).
    case lastPerturbed
}

/// Everything that determines the numbers of one fit, apart from the image, mask and seed.
///
/// Thread count and output paths are deliberately absent: they do not change results
/// (thread count can change the last bits of reductions in oneDNN, which the determinism
/// contract scopes to "same thread count").
public struct FitConfig: Sendable, Hashable, Codable {
    /// The network.
    public var network: SkipConfig
    /// The input code.
    public var inputCode: InputCode = .noise(channels: 32, scale: 0.1)
    /// sigma_p: std of the fresh N(0, sigma_p^2) noise added to z every iteration (0 = off).
    public var perturbation: Float = 0.03
    /// The optimiser and its learning rate.
    public var optimizer: OptimizerChoice = .adam(learningRate: 0.01)
    /// Iterations (parameter updates for Adam, function evaluations' budget for L-BFGS).
    public var iterations: Int = 3000
    /// BatchNorm gamma initialisation.
    public var gammaInit: GammaInit = .uniform
    /// Backtracking, off unless set.
    public var backtracking: Backtracking? = nil
    /// The final render's input.
    public var finalRender: FinalRender = .unperturbed
    /// PSNR against the clean image is recorded every this many iterations (and at the last).
    public var psnrEvery: Int = 10
    /// The convolution algorithm (Winograd changes rounding, so it is part of the configuration).
    public var convAlgorithm: ConvAlgorithm = .auto

    /// A configuration with upstream's defaults for everything not given.
    public init(network: SkipConfig, inputCode: InputCode = .noise(channels: 32, scale: 0.1),
                perturbation: Float = 0.03, optimizer: OptimizerChoice = .adam(learningRate: 0.01),
                iterations: Int = 3000, gammaInit: GammaInit = .uniform, backtracking: Backtracking? = nil,
                finalRender: FinalRender = .unperturbed, psnrEvery: Int = 10, convAlgorithm: ConvAlgorithm = .auto) {
        self.network = network
        self.inputCode = inputCode
        self.perturbation = perturbation
        self.optimizer = optimizer
        self.iterations = iterations
        self.gammaInit = gammaInit
        self.backtracking = backtracking
        self.finalRender = finalRender
        self.psnrEvery = psnrEvery
        self.convAlgorithm = convAlgorithm
    }

    /// The most iterations a fit may run: far more than any experiment needs (the paper's
    /// longest take 11,000; a million of the smallest net's fastest iterations is hours), and few
    /// enough that what is kept per iteration (the loss curve, reserved up front) and the counts
    /// made from it stay far from overflow. Beyond 2^60 or so the reservation's size wrapped and
    /// corrupted the heap.
    public static let maxIterations = 10_000_000

    /// What is wrong with `iterations` as a fit's (or a TV baseline's) iteration count, nil when
    /// it is usable: the one rule the engine, the catalog and the command line apply.
    public static func iterationsProblem(_ iterations: Int) -> String? {
        (1...maxIterations).contains(iterations) ? nil : "at least 1 and at most \(maxIterations.formatted(.number.grouping(.automatic)))"
    }

    /// What is wrong with `rate` as a learning rate, nil when it is usable: a positive number
    /// that stays one in single precision, where the updates are made (1e-50 became 0 there and
    /// the fit never moved).
    public static func learningRateProblem(_ rate: Double) -> String? {
        (Double(Float.leastNormalMagnitude)...Double(Float.greatestFiniteMagnitude)).contains(rate) ? nil
            : "give a positive learning rate from \(Float.leastNormalMagnitude) to \(Float.greatestFiniteMagnitude) (it is used in single precision)"
    }

    /// Checks the numbers make sense; messages name the value.
    public func validate() throws {
        try network.validate()
        guard network.inputChannels == inputCode.channels else {
            throw EngineError.invalidConfig("the network takes \(network.inputChannels) input channels but the input code has \(inputCode.channels)")
        }
        if let problem = Self.iterationsProblem(iterations) { throw EngineError.invalidConfig("iterations = \(iterations): \(problem)") }
        if let problem = Self.learningRateProblem(optimizer.learningRate) {
            throw EngineError.invalidConfig("learning rate = \(optimizer.learningRate): \(problem)")
        }
        guard perturbation >= 0, perturbation.isFinite else {
            throw EngineError.invalidConfig("sigma_p = \(perturbation): must be 0 or positive")
        }
        guard psnrEvery >= 1 else { throw EngineError.invalidConfig("PSNR interval = \(psnrEvery): must be at least 1") }
        if case let .noise(_, scale) = inputCode, !(scale >= 0 && scale.isFinite) {
            throw EngineError.invalidConfig("input code scale = \(scale): must be 0 or positive")
        }
        if let b = backtracking {
            // The interval divides the iteration counter: 0 trapped in the middle of a fit.
            guard b.interval >= 1 else { throw EngineError.invalidConfig("backtracking interval = \(b.interval): must be at least 1") }
            guard b.threshold >= 0, b.threshold.isFinite else {
                throw EngineError.invalidConfig("backtracking threshold = \(b.threshold): must be 0 dB or more")
            }
        }
    }
}

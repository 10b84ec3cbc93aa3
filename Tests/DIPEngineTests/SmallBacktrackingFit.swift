import DIPCore
@testable import DIPEngine

/// A small RGB fit (a depth-3 net, bilinear upsampling, σ_p 0.03, rendered from the last
/// perturbed input) of `iterations` on a `side`-pixel image, sampling every `every` and checking
/// backtracking every `interval` with a threshold (0.05 dB) that a large step trips.
func smallBacktrackingFit(side: Int, alignCorners: Bool, iterations: Int, every: Int, interval: Int) throws -> (FitProblem, FitConfig) {
    var net = SkipConfig.uniform(depth: 3, channels: 5, skip: 3, inputChannels: 4, outputChannels: 3)
    net.upsampling = .bilinear(alignCorners: alignCorners)
    var config = FitConfig(network: net, inputCode: .noise(channels: 4, scale: 0.1), perturbation: 0.03,
                           optimizer: .adam(learningRate: 0.02), iterations: iterations,
                           backtracking: Backtracking(interval: interval, threshold: 0.05), finalRender: .lastPerturbed)
    config.psnrEvery = every
    var img = Image(channels: 3, height: side, width: side)
    for c in 0..<3 { for y in 0..<side { for x in 0..<side { img[c, y, x] = 0.2 + 0.03 * Float(x % 9) + 0.02 * Float((y + c) % 5) } } }
    let mask = try BernoulliMask.make(channels: 1, height: side, width: side, keepFraction: 0.5, seed: 2)
    return (try FitProblem(image: img, mask: mask), config)
}

import ArgumentParser
import DIPEngine

// The engine's choices parse straight from the command line. The conformances live here, not
// in DIPEngine, because the libraries do not depend on ArgumentParser.

extension ConvAlgorithm: ExpressibleByArgument {}

extension GammaInit: ExpressibleByArgument {}

/// The optimiser named on the command line; `OptimizerChoice` also carries the learning rate,
/// which has a flag of its own.
enum OptimizerName: String, CaseIterable, ExpressibleByArgument {
    case adam
    case lbfgs

    /// The engine's choice with this learning rate.
    func choice(learningRate: Double) -> OptimizerChoice {
        switch self {
        case .adam: return .adam(learningRate: learningRate)
        case .lbfgs: return .lbfgs(learningRate: learningRate)
        }
    }
}

/// Refuses a `--net` that names no preset, as a usage error (exit 64) before any work; the
/// engine would refuse it later with exit 1.
func checkPreset(_ name: String) throws {
    if !SkipConfig.presetNames.contains(name) {
        throw ValidationError("--net \(name): unknown network preset; choose one of \(SkipConfig.presetNames.joined(separator: ", "))")
    }
}

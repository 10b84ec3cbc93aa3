/// Seconds one step of a host fit's iteration took per iteration: `dip-report bench --layers`.
public struct LayerTime: Sendable, Codable, Equatable {
    /// Which pass the step belongs to.
    public enum Pass: String, Sendable, Codable {
        case forward, backward
    }

    /// The pass.
    public var pass: Pass
    /// The level and the layers the step runs, e.g. "L0 concat BN + up conv".
    public var step: String
    /// Seconds per iteration.
    public var seconds: Double
}

/// Wall time of each step of the host network's passes, summed over the iterations since the
/// last `reset`, in the order the steps first ran. A step is what one call runs: a layer, or
/// a BatchNorm with the convolution it feeds (in the forward, the convolution may apply the
/// BatchNorm's statistics itself; in the backward the BatchNorm writes the convolution's bias
/// gradient), so a step's time is the same work however the layers share it. Set on a
/// network (`SkipNetwork.layerClock`), it adds two clock readings per step; unset, nothing.
final class LayerClock {
    private var times: [LayerTime] = []
    private var index: [String: Int] = [:]
    private let clock = ContinuousClock()

    /// Runs `body` and adds its wall time to the step `step` of `pass`.
    func time<T>(_ pass: LayerTime.Pass, _ step: String, _ body: () throws -> T) rethrows -> T {
        let start = clock.now
        defer {
            let elapsed = clock.now - start
            let key = "\(pass.rawValue) \(step)"
            let i = index[key] ?? {
                times.append(LayerTime(pass: pass, step: step, seconds: 0))
                index[key] = times.count - 1
                return times.count - 1
            }()
            times[i].seconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
        return try body()
    }

    /// `body`, timed as `step` of `pass` on `clock` where there is one (the label built only
    /// then); without a clock just `body`. What every layer's step calls.
    static func time<T>(on clock: LayerClock?, _ pass: LayerTime.Pass, _ step: @autoclosure () -> String,
                        _ body: () throws -> T) rethrows -> T {
        guard let clock else { return try body() }
        return try clock.time(pass, step(), body)
    }

    /// Forgets the sums (not the order): the iterations from here on are the ones measured.
    func reset() {
        for i in times.indices { times[i].seconds = 0 }
    }

    /// Each step's seconds over `iterations` iterations, in the order the steps first ran.
    func perIteration(_ iterations: Int) -> [LayerTime] {
        times.map { LayerTime(pass: $0.pass, step: $0.step, seconds: $0.seconds / Double(max(iterations, 1))) }
    }
}

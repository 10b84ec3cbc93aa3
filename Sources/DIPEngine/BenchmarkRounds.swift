import Foundation

/// Several runs of one `bench` configuration, ours and the peer's taken in turns
/// (`dip-report bench --rounds`): on a shared host the speed of both moves by several per cent
/// within minutes (PyTorch's by up to 30 % on the Intel Xeon of BENCHMARKS.md), so one pair of
/// runs gives a ratio of the moment; the median of the rounds' ratios, each of two runs taken
/// back to back, is the figure to quote.
public struct BenchmarkRounds: Sendable {
    /// Our seconds per iteration, round by round.
    let ours: [Double]
    /// The peer's, round by round (empty without a peer).
    let peer: [Double]

    /// `ours` and `peer` round by round; `peer` is empty or as long as `ours`.
    public init(ours: [Double], peer: [Double] = []) {
        precondition(peer.isEmpty || peer.count == ours.count, "a peer run for every round of ours, or none")
        self.ours = ours
        self.peer = peer
    }

    /// Each round's ratio: ours over the peer's of the same round.
    var ratios: [Double] { zip(ours, peer).map { $0 / $1 } }

    /// The middle value, or the mean of the middle two (nil for none).
    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted(), middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// "ours 0.289-0.295 s (median 0.291), pytorch 1.034-1.267 s (median 1.139), ratio 0.230-0.281
    /// (median 0.254)": the range and median of each, `peerName` naming the peer.
    public func summary(peerName: String = "peer") -> String {
        func spread(_ values: [Double], unit: String) -> String {
            guard let lo = values.min(), let hi = values.max(), let m = Self.median(values) else { return "-" }
            return String(format: "%.3f-%.3f%@ (median %.3f)", lo, hi, unit, m)
        }
        var parts = ["ours " + spread(ours, unit: " s")]
        if !peer.isEmpty {
            parts.append("\(peerName) " + spread(peer, unit: " s"))
            parts.append("ratio " + spread(ratios, unit: ""))
        }
        return parts.joined(separator: ", ")
    }
}

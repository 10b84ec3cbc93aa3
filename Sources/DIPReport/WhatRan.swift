import DIPEngine
import DIPExperiments
import Foundation

/// What a section's stored runs actually ran, read from their records, and where that differs
/// from the protocol the section's text names (the catalog's configuration as written, which is
/// what the paper profile runs). A quick- or smoke-profile page must not let the protocol's
/// "11000 iterations at native size" stand above numbers from 917 iterations on crops.
enum WhatRan {
    /// One sentence per configuration of `experiment` that has records, e.g. "DIP (paper
    /// protocol), quick profile: Adam LR 0.001, 917 iterations, 38 channels, sigma_p 0.03,
    /// backtracking, 13 images at 130x130, seed 0. Not the protocol: 917 iterations instead of
    /// 11000, 38 channels instead of 128, images cropped at the centre (130x130 ...)."
    /// `labels` are the experiment's stored configurations in the order the section lists them
    /// (`CatalogOrder`), `written` the experiment as its catalog writes it.
    static func sentences(experiment: String, labels: [String], records: [RunRecord], written: Experiment?) -> [String] {
        let mine = records.filter { $0.key.experiment == experiment }
        return labels.map { label in
            let runs = mine.filter { $0.label == label }
            let protocolSpec = written?.runs.first { $0.label == label }
            return sentence(label: label, runs: runs, protocolSpec: protocolSpec)
        }
    }

    /// The sentence of one configuration's runs.
    static func sentence(label: String, runs: [RunRecord], protocolSpec: RunSpec?) -> String {
        let profiles = Set(runs.map(\.profile)).sorted()
        let sizes = Set(runs.map(\.size.description)).sorted()
        let seeds = Set(runs.map(\.key.seed)).sorted()
        let images = Set(runs.map(\.key.image)).count
        var ran: [String] = []
        var differs: [String] = []
        let protocolFit: FitConfig? = { if case let .dip(c)? = protocolSpec?.method { return c }; return nil }()
        let protocolTV: TVConfig? = { if case let .tv(c)? = protocolSpec?.method { return c }; return nil }()
        switch runs.first?.configuration.method {
        case let .dip(c)?:
            ran.append("\(c.optimizer.name) LR \(format(c.optimizer.learningRate))")
            // L-BFGS runs upstream's Adam warm-up first: its records count those steps too.
            let warmUp = Fitter.plannedEvaluations(c) - c.iterations
            ran.append("\(c.iterations) iterations" + (warmUp > 0 ? " after \(warmUp) Adam steps at LR \(format(Fitter.lbfgsWarmupLearningRate)) (the records count \(c.iterations + warmUp))" : ""))
            ran.append("\(c.network.down.max() ?? 0) channels")
            ran.append("input code \(c.inputCode.channels) map\(c.inputCode.channels == 1 ? "" : "s")")
            ran.append("σp \(format(Double(c.perturbation)))")
            if c.backtracking != nil { ran.append("backtracking") }
            if let p = protocolFit {
                if p.iterations != c.iterations { differs.append("\(c.iterations) iterations instead of \(p.iterations)") }
                let (a, b) = (c.network.down.max() ?? 0, p.network.down.max() ?? 0)
                if a != b { differs.append("\(a) channels instead of \(b)") }
                if p.inputCode.channels != c.inputCode.channels {
                    differs.append("\(c.inputCode.channels) input-code maps instead of \(p.inputCode.channels)")
                }
                if p.optimizer != c.optimizer { differs.append("\(c.optimizer.name) LR \(format(c.optimizer.learningRate)) instead of \(p.optimizer.name) LR \(format(p.optimizer.learningRate))") }
                switch (p.backtracking, c.backtracking) {
                case let (was?, now?) where was.interval != now.interval:
                    differs.append("backtracking checked every \(now.interval) iterations instead of \(was.interval)")
                case (_?, nil): differs.append("no backtracking")
                case (nil, let now?): differs.append("backtracking every \(now.interval) iterations, which the protocol does not use")
                default: break
                }
            }
        case let .tv(t)?:
            ran.append("TV, \(t.iterations) iterations")
            if let p = protocolTV, p.iterations != t.iterations { differs.append("\(t.iterations) TV iterations instead of \(p.iterations)") }
        case nil:
            break
        }
        ran.append("\(images) image\(images == 1 ? "" : "s") at \(sizes.joined(separator: ", "))")
        ran.append("seed\(seeds.count == 1 ? "" : "s") \(seeds.map(String.init).joined(separator: ", "))")
        let reduced = profiles.compactMap { try? Profile.named($0) }.filter { $0.crop != nil }
        if let crop = reduced.first?.crop {
            // Only text and file masks place the window on the holes (`RunConfiguration.window`);
            // a Bernoulli mask's runs are cut from the image's centre.
            let followingHoles = runs.filter { $0.configuration.window != nil }.count
            let whereCut = followingHoles == 0 ? "at the centre" : followingHoles == runs.count ? "around the holes" : "around the holes or at the centre"
            differs.append("images cropped \(whereCut) (\(crop)x\(crop) or larger where a net needs it) instead of the protocol's sizes")
        }
        var text = "\(label), \(profiles.joined(separator: " and ")) profile: " + ran.joined(separator: ", ") + "."
        if !differs.isEmpty { text += " Not the protocol: " + differs.joined(separator: "; ") + "." }
        return text
    }

    private static func format(_ v: Double) -> String {
        var s = String(format: "%g", v)
        if s.hasPrefix("0.") == false, s.contains("e") { s = String(v) }
        return s
    }
}

private extension OptimizerChoice {
    /// "Adam" or "L-BFGS".
    var name: String {
        switch self {
        case .adam: return "Adam"
        case .lbfgs: return "L-BFGS"
        }
    }
}

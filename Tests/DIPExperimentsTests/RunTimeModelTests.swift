import DIPCore
import DIPEngine
import DIPTestSupport
import Foundation
import Testing
@testable import DIPExperiments

@Suite("The run-time model behind the estimate")
struct RunTimeModelTests {
    /// The sampled evaluations counted the slow way: what Fitter's evaluate does.
    private func bruteSamples(_ e: Int, _ p: Int, _ b: Int?) -> Int {
        (0..<e).filter { i in i % p == 0 || i == e - 1 || (b.map { i % $0 == 0 } ?? false) }.count
    }

    @Test("sampled evaluations: multiples of the PSNR and backtracking intervals and the last, each once")
    func samples() {
        #expect(RunTimeModel.sampledEvaluations(300, psnrEvery: 10) == 31)  // 0, 10, ..., 290 and 299
        #expect(RunTimeModel.sampledEvaluations(301, psnrEvery: 10) == 31)  // 300 is both a multiple and the last
        #expect(RunTimeModel.sampledEvaluations(550, psnrEvery: 10, backtrackingInterval: 25) == 55 + 22 - 11 + 1)
        #expect(RunTimeModel.sampledEvaluations(1, psnrEvery: 10) == 1)
        #expect(RunTimeModel.sampledEvaluations(0, psnrEvery: 10) == 0)
        for e in [1, 2, 7, 99, 100, 101, 250, 6001] {
            for p in [1, 3, 10, 15] {
                for b in [nil, 4, 25, 50] as [Int?] {
                    #expect(RunTimeModel.sampledEvaluations(e, psnrEvery: p, backtrackingInterval: b) == bruteSamples(e, p, b),
                            "E=\(e) psnrEvery=\(p) backtracking=\(String(describing: b))")
                }
            }
        }
    }

    @Test("a run's seconds: set-up, evaluations, samples, finishing; TV per value and iteration")
    func arithmetic() {
        var m = RunTimeModel()
        m.secondsPerLayer = 1e-4
        m.secondsPerActivation = 2e-9
        m.secondsPerMAC = 1e-11
        m.secondsPerSampledValue = 1e-8
        m.setupSeconds = 0.01
        m.setupSecondsPerActivation = 1e-9
        m.finishingSeconds = 0.02
        m.finishingSecondsPerValue = 1e-7
        m.tvSecondsPerValueIteration = 2e-8
        let w = EvaluationWork(layers: 100, activations: 1e7, macs: 1e9)
        // 100 * 1e-4 + 1e7 * 2e-9 + 1e9 * 1e-11 = 0.01 + 0.02 + 0.01
        #expect(abs(m.evaluationSeconds(w) - 0.04) < 1e-12)
        let values = 3 * 128 * 128
        let expected = (0.01 + 1e7 * 1e-9) + 300 * 0.04 + Double(31 * values) * 1e-8 + (0.02 + Double(values) * 1e-7)
        #expect(abs(m.dipSeconds(work: w, evaluations: 300, values: values, psnrEvery: 10) - expected) < 1e-9)
        #expect(abs(m.tvSeconds(iterations: 300, values: values) - (2e-8 * Double(values * 300) + 0.02 + Double(values) * 1e-7)) < 1e-9)
        #expect(RunTimeModel().dipSeconds(work: w, evaluations: 300, values: values, psnrEvery: 10) == 0)
    }

    @Test("work of a network: its layers, the values they write, its MACs")
    func work() throws {
        let net = SkipConfig.uniform(depth: 2, channels: 8, skip: 4)
        let s = try NetworkSummary(config: net, height: 32, width: 32)
        let w = EvaluationWork(s)
        #expect(w.layers == Double(s.layers.count))
        #expect(w.macs == Double(s.macs))
        #expect(w.activations == Double(s.layers.reduce(0) { $0 + $1.outChannels * $1.outputSize.width * $1.outputSize.height }))
        // Four times the pixels: the same layers, about four times the rest.
        let big = EvaluationWork(try NetworkSummary(config: net, height: 64, width: 64))
        #expect(big.layers == w.layers && big.activations > 3.5 * w.activations && big.macs > 3.5 * w.macs)
    }

    @Test("non-negative fit: exact coefficients from three independent measurements")
    func fitExact() {
        let c = [5e-5, 2e-9, 1.5e-11]
        let rows: [[Double]] = [[92, 1.1e6, 6.6e6], [92, 1.3e7, 7.2e8], [16, 6.0e6, 3.1e8]]
        let t = rows.map { zip(c, $0).reduce(0) { $0 + $1.0 * $1.1 } }
        let k = RunTimeModel.fitNonNegative(rows, seconds: t)
        for (a, b) in zip(k, c) { #expect(abs(a - b) / b < 1e-6) }
    }

    @Test("non-negative fit: two measurements give a cost per layer and per activation; one, a cost per activation")
    func fitUnderdetermined() {
        let rows: [[Double]] = [[92, 1e6, 7e6], [146, 2e8, 1.2e10]]
        let t = [0.01, 0.6]
        let k = RunTimeModel.fitNonNegative(rows, seconds: t)
        #expect(k[2] == 0 && k[0] > 0 && k[1] > 0)
        for (row, s) in zip(rows, t) { #expect(abs(k[0] * row[0] + k[1] * row[1] - s) / s < 1e-9) }
        let one = RunTimeModel.fitNonNegative([rows[1]], seconds: [0.6])
        #expect(one[0] == 0 && one[2] == 0 && abs(one[1] * 2e8 - 0.6) < 1e-12)
    }

    @Test("non-negative fit: measurements of nearly the same work keep the preferred feature, whatever their noise")
    func fitNearlyDegenerate() {
        // The paper's Table 1 at 514x514 and 258x258, every class timed on a 128x128 crop (an
        // estimate on a 2-core Zen 3): the rows differ by 0.2 % at most, the times by 3 % of
        // noise. Layers alone fitted that noise a little better than activations and, applied
        // to the full-size work (16 times the activations and MACs, the same layers), made the
        // estimate 11h43m instead of 137h.
        let crop: [Double] = [92, 29_800_704, 4_839_243_776], other: [Double] = [92, 29_866_240, 4_843_438_080]
        let k = RunTimeModel.fitNonNegative([crop, other, crop], seconds: [0.19487, 0.18794, 0.18910])
        #expect(k[0] == 0 && k[2] == 0 && k[1] > 0)
        #expect(abs(k[1] * crop[1] / 0.19 - 1) < 0.05)
    }

    @Test("non-negative fit: a coefficient the data would make negative is held at zero")
    func fitNonNegative() {
        // Unconstrained, the second feature's coefficient would be negative (more of it, less time).
        let rows: [[Double]] = [[1, 1], [2, 4], [3, 9]]
        let t = [1.0, 1.9, 2.6]
        let k = RunTimeModel.fitNonNegative(rows, seconds: t, preference: [[0], [1], [0, 1]])
        #expect(k.allSatisfy { $0 >= 0 })
        #expect(k[1] == 0 && k[0] > 0.8 && k[0] < 1)
        // Nothing usable: all zero.
        #expect(RunTimeModel.fitNonNegative([[1, 2]], seconds: [0]) == [0, 0])
        #expect(RunTimeModel.fitNonNegative([], seconds: []) == [])
    }

    @Test("jobs take the runs in order, each next run going to the first free job")
    func makespan() {
        #expect(RunTimeModel.makespan([3, 1, 1, 1], jobs: 2) == 3)
        #expect(RunTimeModel.makespan([1, 1, 1, 3], jobs: 2) == 4)
        #expect(RunTimeModel.makespan([1, 2, 3], jobs: 1) == 6)
        #expect(RunTimeModel.makespan([1, 2], jobs: 8) == 2)
        #expect(RunTimeModel.makespan([], jobs: 2) == 0)
    }

    @Test("a timed network keeps its ratio to the model: the scale multiplies the evaluations only")
    func scale() {
        var m = RunTimeModel()
        m.secondsPerActivation = 1e-9
        m.setupSeconds = 0.5
        m.finishingSeconds = 0.25
        let w = EvaluationWork(layers: 10, activations: 1e7, macs: 0)
        let plain = m.dipSeconds(work: w, evaluations: 100, values: 10, psnrEvery: 10)
        let scaled = m.dipSeconds(work: w, evaluations: 100, values: 10, psnrEvery: 10, evaluationScale: 1.5)
        #expect(abs(plain - (0.5 + 100 * 0.01 + 0.25)) < 1e-12)
        #expect(abs(scaled - plain - 0.5 * 100 * 0.01) < 1e-12)
    }

    @Test("the first class to time is chosen with rough costs: per layer, activation and MAC of a small CPU")
    func prior() {
        let narrow = EvaluationWork(layers: 92, activations: 1.1e6, macs: 6.6e6)
        let deep = EvaluationWork(layers: 146, activations: 2.07e8, macs: 1.16e10)
        #expect(Runner.priorSeconds(narrow) < 0.01 && Runner.priorSeconds(deep) > 0.3)
    }

    @Test("the estimate measures and returns a positive time for a plan of DIP and TV runs, zero for an empty one",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func estimate() throws {
        let root = TestFolder.path("dip-estimate")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let runner = Runner(store: try ResultStore(root: root),
                            options: RunnerOptions(dataDirectory: experimentData!, profile: .smoke, seeds: [0], jobs: 1, threadsPerJob: 1))
        let experiments = try Catalog.select(["width", "table1-tv"], from: Catalog.experiments)
        let plan = try runner.plan(experiments)
        let e = try runner.estimate(plan)
        #expect(e.seconds > 0 && e.seconds.isFinite && e.macsPerSecond > 0)
        var empty = plan
        empty.runs = []
        let none = try runner.estimate(empty)
        #expect(none.seconds == 0 && none.macsPerSecond == 0)
    }

    @Test("where every job computes on one device, the estimate times fits at once and finishes (jobs above the cores too)",
          .enabled(if: experimentData != nil, "needs ../shared/data (or DIP_DATA)"))
    func sharedDeviceEstimate() throws {
        let root = TestFolder.path("dip-estimate")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // The real CPU backend, flagged as a device the jobs share and not the host CPU (as the
        // CUDA factory is): classes timed at their own size, the CPU prior not consulted, fits
        // lined up after their warm-up.
        let shared = BackendFactory(name: "cpu-onednn", libraryVersions: [:], device: "CPU, as one shared device",
                                    jobsShareDevice: true, computesOnHostCPU: false) { try CPUBackend(threads: $0) }
        let runner = Runner(store: try ResultStore(root: root),
                            options: RunnerOptions(dataDirectory: experimentData!, profile: .smoke, seeds: [0], jobs: 3,
                                                   threadsPerJob: 1, backend: shared))
        let plan = try runner.plan(try Catalog.select(["width"], from: Catalog.experiments))
        let e = try runner.estimate(plan)
        #expect(e.seconds > 0 && e.seconds.isFinite && e.macsPerSecond > 0)
    }
}

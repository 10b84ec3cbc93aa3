import Foundation
import Testing
@testable import DIPEngine

/// Reference trajectories come from torch 2.13.0+cpu (Python 3.11), float32 tensors:
///   Adam:  p = tensor([0.5, -1.5]); opt = torch.optim.Adam([p], lr=0.1); 5 x (zero_grad,
///          loss = (p0-1)^2 + 10 (p1+2)^2, backward, step).
///   L-BFGS: opt = torch.optim.LBFGS([x], lr=LR, max_iter=N, history_size=H,
///          tolerance_grad=-1, tolerance_change=-1); opt.step(closure), recording x at each
///          closure call (the k-th call sees the iterate after k-1 steps).
@Suite("Optimizers")
struct OptimizerTests {
    func close(_ a: [Float], _ b: [Float], _ tol: Float) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * max(1, abs($1)) }
    }

    @Test("Adam's first step moves each parameter by lr against the gradient's sign (hand check)")
    func adamFirstStep() throws {
        // After one step m^ = g and v^ = g^2, so the update is lr * g / (|g| + eps) ~ lr * sign(g).
        let p = Tensor([2], values: [0.5, -1.5]), g = Tensor([2], values: [-1, 10])
        let adam = try Adam([(p, g)], learningRate: 0.1)
        adam.step()
        #expect(close(p.array, [0.6, -1.6], 1e-6))
        #expect(close(adam.firstMoments[0].array, [-0.1, 1.0], 1e-7))
        #expect(close(adam.secondMoments[0].array, [0.001, 0.1], 1e-7))
        #expect(adam.stepCount == 1)
        // Second step with g = (-0.8, 8): m = 0.9 m + 0.1 g = (-0.17, 1.7);
        // v = 0.999 v + 0.001 g^2 = (0.001639, 0.1639); m^ = m / 0.19; v^ = v / 0.001999.
        g.copy(from: Tensor([2], values: [-0.8, 8]))
        adam.step()
        let mHat = [-0.17 / 0.19, 1.7 / 0.19]
        let vHat = [0.001639 / 0.001999, 0.1639 / 0.001999]
        let expected = [0.6 - 0.1 * mHat[0] / (vHat[0].squareRoot() + 1e-8),
                        -1.6 - 0.1 * mHat[1] / (vHat[1].squareRoot() + 1e-8)]
        #expect(close(p.array, expected.map(Float.init), 1e-6))
    }

    @Test("Adam follows torch.optim.Adam's trajectory")
    func adamMatchesTorch() throws {
        let p = Tensor([2], values: [0.5, -1.5]), g = Tensor([2])
        let adam = try Adam([(p, g)], learningRate: 0.1)
        let torchParams: [[Float]] = [
            [0.5999999642372131, -1.600000023841858], [0.6988125443458557, -1.6988126039505005],
            [0.7951287031173706, -1.7951288223266602], [0.8870845437049866, -1.887084722518921],
            [0.972185492515564, -1.9721856117248535],
        ]
        for expected in torchParams {
            let x = p.array
            g.copy(from: Tensor([2], values: [2 * (x[0] - 1), 20 * (x[1] + 2)]))
            adam.step()
            #expect(close(p.array, expected, 2e-6), "step \(adam.stepCount): \(p.array) vs \(expected)")
        }
        #expect(close(adam.firstMoments[0].array, [-0.23218229413032532, 2.321822166442871], 1e-5))
        #expect(close(adam.secondMoments[0].array, [0.0022149391006678343, 0.22149384021759033], 1e-5))
    }

    @Test("Adam over several tensors, where eps matters for tiny gradients, matches torch")
    func adamSeveralTensors() throws {
        // torch: a = [1e-3, -2e-3, 0], b = [[3, -4]], Adam([a, b], lr=0.01),
        // loss = 1e-6 * sum(a^2) + sum(b^3), 3 steps.
        let a = Tensor([3], values: [1e-3, -2e-3, 0]), ga = Tensor([3])
        let b = Tensor([1, 2], values: [3, -4]), gb = Tensor([1, 2])
        let adam = try Adam([(a, ga), (b, gb)], learningRate: 0.01)
        for _ in 0..<3 {
            for i in 0..<3 { ga.pointer[i] = 2e-6 * a.pointer[i] }
            for i in 0..<2 { gb.pointer[i] = 3 * b.pointer[i] * b.pointer[i] }
            adam.step()
        }
        #expect(close(a.array, [-0.0004567578143905848, 0.001184677006676793, 0], 1e-5))
        #expect(close(b.array, [2.9700064659118652, -4.030004978179932], 1e-6))
        #expect(throws: EngineError.self) { try Adam([(a, gb)], learningRate: 0.1) }
    }

    @Test("long tensors (the eight-lane path) give the same bits as one-element tensors (the scalar path)")
    func adamVectorPath() throws {
        let n = 21
        let start = (0..<n).map { Float($0) * 0.13 - 1 }
        let long = Tensor([n], values: start), longGrad = Tensor([n])
        let singles = start.map { Tensor([1], values: [$0]) }, singleGrads = start.map { _ in Tensor([1]) }
        let vector = try Adam([(long, longGrad)], learningRate: 0.01)
        let scalar = try Adam(Array(zip(singles, singleGrads)), learningRate: 0.01)
        for step in 0..<4 {
            for j in 0..<n {
                let g = sin(Float(j * 7 + step)) * Float(j + 1)
                longGrad.pointer[j] = g
                singleGrads[j].pointer[0] = g
            }
            vector.step()
            scalar.step()
        }
        #expect(long.array == singles.map { $0.pointer[0] })
        #expect(vector.secondMoments[0].array == scalar.secondMoments.map { $0.pointer[0] })
    }

    @Test("Adam's update split over 1, 2 or 3 threads gives the same bits (tensors over several pieces, odd sizes)")
    func adamThreads() throws {
        let sizes = [3 * Adam.pieceElements + 5, 7, Adam.pieceElements, 1, 2 * Adam.pieceElements - 3]
        func run(threads: Int) throws -> [UInt32] {
            let params = sizes.enumerated().map { randomTensor([$1], seed: UInt64($0)) }
            let grads = sizes.map { Tensor([$0]) }
            let adam = try Adam(Array(zip(params, grads)), learningRate: 0.01)
            for step in 0..<3 {
                for (i, g) in grads.enumerated() {
                    g.copy(from: randomTensor(g.dims, seed: UInt64(100 + 10 * step + i)))
                }
                adam.step(parallel: ChannelParallel(threads: threads))
            }
            return (params + adam.firstMoments + adam.secondMoments).flatMap { $0.array.map(\.bitPattern) }
        }
        let one = try run(threads: 1)
        #expect(try run(threads: 2) == one)
        #expect(try run(threads: 3) == one)
    }

    /// Runs L-BFGS with upstream's settings and returns the iterate seen by each evaluation.
    func lbfgsTrajectory(start: [Float], learningRate: Double, iterations: Int, history: Int = 100,
                         _ f: ([Double]) -> (Double, [Double])) throws -> (points: [[Float]], losses: [Double], opt: LBFGS) {
        let x = Tensor([start.count], values: start)
        let opt = LBFGS(parameters: [x], learningRate: learningRate, maxIterations: iterations,
                        toleranceGrad: -1, toleranceChange: -1, historySize: history)
        var points: [[Float]] = []
        var losses: [Double] = []
        try opt.step(closure: {
            points.append(x.array)
            let (loss, grad) = f(x.array.map(Double.init))
            return (loss, grad.map(Float.init))
        }, onEvaluation: { losses.append($0.loss) })
        return (points, losses, opt)
    }

    static func rosenbrock(_ x: [Double]) -> (Double, [Double]) {
        let a = 1 - x[0], b = x[1] - x[0] * x[0]
        return (a * a + 100 * b * b, [-2 * a - 400 * x[0] * b, 200 * b])
    }

    static let quadA: [[Double]] = [[4, 1, 0, 0], [1, 3, 0.5, 0], [0, 0.5, 2, 0.2], [0, 0, 0.2, 1]]
    static let quadB: [Double] = [1, -2, 0.5, 3]
    static func quadratic(_ x: [Double]) -> (Double, [Double]) {
        let ax = quadA.map { row in zip(row, x).reduce(0) { $0 + $1.0 * $1.1 } }
        let loss = 0.5 * zip(x, ax).reduce(0) { $0 + $1.0 * $1.1 } - zip(quadB, x).reduce(0) { $0 + $1.0 * $1.1 }
        return (loss, zip(ax, quadB).map { $0 - $1 })
    }

    @Test("L-BFGS on Rosenbrock follows torch.optim.LBFGS (lr 0.1 and lr 1)")
    func lbfgsRosenbrock() throws {
        let slow = try lbfgsTrajectory(start: [-1.5, 2], learningRate: 0.1, iterations: 6, Self.rosenbrock)
        let torchSlow: [[Float]] = [
            [-1.5, 2.0], [-1.424390196800232, 2.02439022064209], [-1.424009919166565, 2.024433135986328],
            [-1.4235901832580566, 2.024390459060669], [-1.4231568574905396, 2.0242583751678467],
            [-1.4227045774459839, 2.024033308029175],
        ]
        #expect(slow.points.count == 6)
        for (ours, theirs) in zip(slow.points, torchSlow) { #expect(close(ours, theirs, 1e-5), "\(ours) vs \(theirs)") }
        #expect(close(slow.opt.parameters[0].array, [-1.4222270250320435, 2.023709297180176], 1e-5))

        let fast = try lbfgsTrajectory(start: [-1.5, 2], learningRate: 1, iterations: 6, Self.rosenbrock)
        let torchFast: [[Float]] = [
            [-1.5, 2.0], [-0.7439024448394775, 2.2439024448394775], [-1.3143775463104248, 2.020336151123047],
            [-1.5714972019195557, 1.9910250902175903], [-1.3978610038757324, 2.0067670345306396],
            [-1.4105620384216309, 2.0043678283691406],
        ]
        for (ours, theirs) in zip(fast.points, torchFast) { #expect(close(ours, theirs, 1e-5), "\(ours) vs \(theirs)") }
        #expect(abs(fast.losses[1] - 288.8241271972656) < 1e-3)
    }

    @Test("L-BFGS on a quadratic follows torch, including the history shift when it is full")
    func lbfgsQuadratic() throws {
        let run = try lbfgsTrajectory(start: [0, 0, 0, 0], learningRate: 1, iterations: 6, Self.quadratic)
        let torchPoints: [[Float]] = [
            [0, 0, 0, 0], [0.1538461595773697, -0.3076923191547394, 0.07692307978868484, 0.46153849363327026],
            [0.570583701133728, -0.8486195802688599, 0.4413173198699951, 2.8429360389709473],
            [0.25221043825149536, -1.054726481437683, 0.05203023552894592, 3.020230531692505],
            [0.46389538049697876, -0.8935316205024719, 0.21782322227954865, 2.9253623485565186],
            [0.4685361087322235, -0.8727248311042786, 0.19335216283798218, 2.942326307296753],
        ]
        for (ours, theirs) in zip(run.points, torchPoints) { #expect(close(ours, theirs, 1e-5), "\(ours) vs \(theirs)") }
        #expect(close(run.opt.parameters[0].array, [0.4631023705005646, -0.848659336566925, 0.16566675901412964, 2.966261386871338], 1e-5))

        let short = try lbfgsTrajectory(start: [1, -1, 2, 0.5], learningRate: 0.5, iterations: 10, history: 2, Self.quadratic)
        #expect(short.points.count == 10)
        #expect(close(short.points[9], [0.46557381749153137, -0.8474294543266296, 0.16935575008392334, 2.9594032764434814], 1e-5))
        #expect(close(short.opt.parameters[0].array, [0.4638276994228363, -0.8478569984436035, 0.16739188134670258, 2.9631924629211426], 1e-5))
    }

    @Test("upstream's settings evaluate once per iteration; default tolerances stop early like torch")
    func lbfgsBookkeeping() throws {
        let x = Tensor([4])
        let opt = LBFGS.upstream(parameters: [x], iterations: 7, learningRate: 1)
        #expect(opt.maxEvaluations == 8 && opt.historySize == 100)
        var seen: [LBFGS.Evaluation] = []
        let result = try opt.step(closure: {
            let (l, g) = Self.quadratic(x.array.map(Double.init))
            return (l, g.map(Float.init))
        }, onEvaluation: { seen.append($0) })
        #expect(seen.map(\.index) == Array(1...7))
        #expect(seen.map(\.iteration) == Array(0...6))
        #expect(result.iterations == 7 && result.evaluations == 7 && result.stopReason == .maxIterations)
        #expect(opt.totalIterations == 7 && opt.totalEvaluations == 7)

        // torch: LBFGS([x], lr=1, max_iter=50) with default tolerances stops after 9 evaluations.
        let y = Tensor([4])
        let tolerant = LBFGS(parameters: [y], learningRate: 1, maxIterations: 50)
        let stopped = try tolerant.step { () -> (loss: Double, gradient: [Float]) in
            let (l, g) = Self.quadratic(y.array.map(Double.init))
            return (l, g.map(Float.init))
        }
        #expect(stopped.evaluations == 9)
        #expect(close(y.array, [0.4620622992515564, -0.8482465744018555, 0.16538193821907043, 2.966921329498291], 1e-4))

        // A closure returning the wrong gradient length is an error, not a crash.
        #expect(throws: EngineError.self) { try LBFGS(parameters: [Tensor([2])]).step { (0, [1]) } }
    }

    @Test("L-BFGS stopped before an iteration and resumed from its state takes the same path, bit for bit")
    func lbfgsResume() throws {
        struct Stop: Error {}
        func objective(_ x: Tensor) -> () -> (loss: Double, gradient: [Float]) {
            { let (l, g) = Self.rosenbrock(x.array.map(Double.init)); return (l, g.map(Float.init)) }
        }
        // History 3 so the resumed part also shifts a full history.
        let whole = Tensor([2], values: [-1.5, 2])
        let wholeOpt = LBFGS(parameters: [whole], learningRate: 0.5, maxIterations: 12, toleranceGrad: -1,
                             toleranceChange: -1, historySize: 3)
        var wholeLosses: [Double] = []
        let wholeResult = try wholeOpt.step(closure: objective(whole), onEvaluation: { wholeLosses.append($0.loss) })

        for stopAt in [0, 1, 5, 11] {
            let x = Tensor([2], values: [-1.5, 2])
            let first = LBFGS(parameters: [x], learningRate: 0.5, maxIterations: 12, toleranceGrad: -1,
                              toleranceChange: -1, historySize: 3)
            var losses: [Double] = []
            var saved: LBFGS.State?
            #expect(throws: Stop.self) {
                try first.step(closure: objective(x), onEvaluation: { losses.append($0.loss) }, beforeIteration: { state in
                    if state.iteration == stopAt { saved = state; throw Stop() }
                })
            }
            let state = try #require(saved)
            #expect(state.history.count == min(3, max(0, stopAt - 1)))
            // A fresh optimizer over the same parameters (as restored from a checkpoint).
            let second = LBFGS(parameters: [x], learningRate: 0.5, maxIterations: 12, toleranceGrad: -1,
                               toleranceChange: -1, historySize: 3)
            let rest = try second.step(resumingFrom: state, closure: objective(x), onEvaluation: { losses.append($0.loss) })
            #expect(losses.map(\.bitPattern) == wholeLosses.map(\.bitPattern), "stopped at \(stopAt)")
            #expect(x.array.map(\.bitPattern) == whole.array.map(\.bitPattern))
            #expect(rest.iterations == wholeResult.iterations && rest.evaluations == wholeResult.evaluations)
            #expect(second.totalEvaluations == wholeOpt.totalEvaluations)
        }

        // A state for other parameters is refused with a clear error.
        let x = Tensor([2], values: [-1.5, 2])
        var saved: LBFGS.State?
        _ = try? LBFGS(parameters: [x], maxIterations: 5).step(closure: objective(x), beforeIteration: { s in
            if s.iteration == 2 { saved = s; throw Stop() }
        })
        let other = Tensor([3])
        #expect(throws: EngineError.self) {
            try LBFGS(parameters: [other], maxIterations: 5).step(resumingFrom: saved) { (0, [0, 0, 0]) }
        }
    }
}

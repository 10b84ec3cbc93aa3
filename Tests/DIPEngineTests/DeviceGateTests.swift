import DIPCore
import Foundation
import Synchronization
import Testing
@testable import DIPEngine

@Suite("Turns of the fits sharing a device")
struct DeviceGateTests {
    /// Counters the threads of a test share.
    final class Tally: Sendable {
        let inside = Mutex(0)
        let overlapped = Mutex(false)
        let stop = Mutex(false)
        let exclusiveSawSharers = Mutex(false)
    }

    @Test("a set-up's exclusive turn gets in while four fits keep iterating in overlapping shared turns, and runs alone")
    func exclusiveIsNotStarved() throws {
        let gate = DeviceGate()
        let tally = Tally()
        let group = DispatchGroup()
        for k in 0..<4 {
            group.enter()
            Thread {
                defer { group.leave() }
                usleep(UInt32(300 * k))   // staggered, so some turn is always in flight
                while !tally.stop.withLock({ $0 }) {
                    gate.shared {
                        let n = tally.inside.withLock { $0 += 1; return $0 }
                        if n > 1 { tally.overlapped.withLock { $0 = true } }
                        usleep(1_000)
                        tally.inside.withLock { $0 -= 1 }
                    }
                }
            }.start()
        }
        while !tally.overlapped.withLock({ $0 }) { usleep(1_000) }
        // A reader-preferring lock would never let this in: some shared turn is always held.
        let done = DispatchSemaphore(value: 0)
        Thread {
            gate.exclusive {
                if tally.inside.withLock({ $0 }) != 0 { tally.exclusiveSawSharers.withLock { $0 = true } }
                usleep(5_000)
                if tally.inside.withLock({ $0 }) != 0 { tally.exclusiveSawSharers.withLock { $0 = true } }
            }
            done.signal()
        }.start()
        let inTime = done.wait(timeout: .now() + 20) == .success
        tally.stop.withLock { $0 = true }
        if !inTime { done.wait() }   // the sharers stop, so it gets in now
        group.wait()
        #expect(inTime, "the exclusive turn waited over 20 s behind shared turns")
        #expect(!tally.exclusiveSawSharers.withLock { $0 }, "a shared turn ran during the exclusive one")
        #expect(gate.turns.exclusive == 1)
        #expect(gate.turns.shared > 4)
    }

    @Test("turns nest on one thread: a nested turn of either kind runs at once, without waiting for itself")
    func nesting() {
        let gate = DeviceGate()
        var ran = 0
        gate.exclusive { gate.shared { gate.exclusive { ran += 1 } } }
        gate.shared { gate.exclusive { gate.shared { ran += 1 } } }
        #expect(ran == 2)
        #expect(gate.turns.exclusive == 1 && gate.turns.shared == 1, "\(gate.turns)")
    }

    @Test("an error thrown in a turn gives the turn back")
    func errorsRelease() {
        struct Failure: Error {}
        let gate = DeviceGate()
        #expect(throws: Failure.self) { try gate.exclusive { throw Failure() } }
        #expect(throws: Failure.self) { try gate.shared { throw Failure() } }
        // Both kinds are free again (from another thread: this one holds nothing either way).
        let done = DispatchSemaphore(value: 0)
        Thread {
            gate.exclusive {}
            gate.shared {}
            done.signal()
        }.start()
        #expect(done.wait(timeout: .now() + 20) == .success)
    }

    @Test("three whole fits sharing one device's turns run at once, finish, and each gives the bits it gives alone")
    func fitsShareTurns() throws {
        var net = SkipConfig.uniform(depth: 2, channels: 4, skip: 2, inputChannels: 3, outputChannels: 3)
        net.upsampling = .bilinear(alignCorners: false)
        var settings = FitConfig(network: net, inputCode: .noise(channels: 3, scale: 0.1), perturbation: 0.03,
                                 optimizer: .adam(learningRate: 0.05), iterations: 24,
                                 backtracking: Backtracking(interval: 4, threshold: 0.05), finalRender: .lastPerturbed)
        settings.psnrEvery = 5
        let config = settings
        var img = Image(channels: 3, height: 16, width: 16)
        for c in 0..<3 { for y in 0..<16 { for x in 0..<16 { img[c, y, x] = 0.2 + 0.03 * Float(x % 7) + 0.02 * Float((y + c) % 5) } } }
        let problem = try FitProblem(image: img, mask: try BernoulliMask.make(channels: 1, height: 16, width: 16, keepFraction: 0.5, seed: 2))
        let gate = DeviceGate()
        // Each fit has its own host backend (convolutions) and emulated device, as each job of
        // `run` has its own backend; the gate is the one they share, as fits on one card do.
        @Sendable func fit(seed: UInt64, sharing: DeviceGate?) throws -> [UInt64] {
            let backend = DeviceTrainerBackend(try CPUBackend(threads: 1), name: "cuda-kernels-emulated") {
                let device = EmulatedKernelDevice(convolutions: $0)
                device.gate = sharing
                return KernelDeviceOps(device: device)
            }
            let r = try Fitter(problem: problem, config: config, seed: seed, backend: backend).run()
            return r.losses.map(\.bitPattern) + r.curve.map { ($0.psnr ?? .nan).bitPattern }
        }
        let alone = try (0..<3).map { try fit(seed: UInt64(10 + $0), sharing: nil) }
        let together = Mutex([Int: Result<[UInt64], any Error>]())
        let done = DispatchGroup()
        for k in 0..<3 {
            done.enter()
            Thread {
                let r = Result { try fit(seed: UInt64(10 + k), sharing: gate) }
                together.withLock { $0[k] = r }
                done.leave()
            }.start()
        }
        #expect(done.wait(timeout: .now() + 300) == .success, "three fits sharing a gate did not finish in 5 minutes")
        for k in 0..<3 {
            let r = try #require(together.withLock { $0[k] })
            #expect(try r.get() == alone[k], "fit \(k): other bits when sharing the device")
        }
        // Each fit set up in exclusive turns (its first eager iteration, its recording) and
        // iterated in shared ones.
        #expect(gate.turns.exclusive >= 6 && gate.turns.shared > 6, "\(gate.turns)")
    }

    @Test("a device fit sets up in exclusive turns (first eager iteration, recording, a step-terms refill) and iterates in shared ones")
    func trainerTurns() throws {
        let host = try CPUBackend(threads: 1)
        let skip = SkipConfig.uniform(depth: 2, channels: 4, skip: 2, inputChannels: 3, outputChannels: 3)
        let problem = try CUDASelfTest.syntheticProblem(skip, channels: 3, side: 16)
        let device = EmulatedKernelDevice(convolutions: host)
        let gate = DeviceGate()
        device.gate = gate
        let network = try SkipNetwork(config: skip, backend: host, seed: 2)
        let trainer = try DeviceTrainer(network: network, problem: problem, ops: KernelDeviceOps(device: device), stepTermsReserve: 8)
        try trainer.startAdam(learningRate: 0.01)
        func turns(_ body: () throws -> Void) rethrows -> (exclusive: Int, shared: Int) {
            let before = gate.turns
            try body()
            return (gate.turns.exclusive - before.exclusive, gate.turns.shared - before.shared)
        }
        let first = try turns {
            _ = try trainer.evaluate(iteration: 0, keepOutput: true)
            try trainer.adamStep()
        }
        #expect(first == (2, 0), "iteration 0 (eager, then recorded): \(first)")
        #expect(device.captures == 3)
        let replayed = try turns {
            _ = try trainer.train(from: 1, count: 4)
            _ = try trainer.evaluate(iteration: 5, keepOutput: true)
            try trainer.adamStep()
            _ = try trainer.render(perturbedBy: nil)
        }
        #expect(replayed == (0, 4), "replayed iterations: \(replayed)")
        // Steps 1...6 done; the 8-step table must grow for a batch to step 10.
        let refill = try turns { _ = try trainer.train(from: 6, count: 4) }
        #expect(refill == (1, 0), "a batch that refills the step-terms table: \(refill)")
        #expect(device.captures == 6, "recorded again after the refill: \(device.captures) captures")
    }
}

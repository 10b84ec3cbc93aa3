import DIPCore
import Foundation
import Testing
@testable import DIPEngine

/// `FitMemory`: a fit on the host refuses, before it allocates, an image its machine cannot hold.
struct FitMemoryTests {
    let table1 = try! SkipConfig.preset("table1", outputChannels: 1)

    @Test("the room check names the size, what the fit needs and what the machine has")
    func refusal() throws {
        let needed = try FitMemory.peakBytes(network: table1, height: 512, width: 512, optimizer: .adam(learningRate: 0.01))
        #expect(needed > 2e9 && needed < 4e9)  // 2.8 GiB measured by bench (the model's doc)
        do {
            try FitMemory.requireRoom(network: table1, height: 512, width: 512, optimizer: .adam(learningRate: 0.01),
                                      available: 1 << 30, resident: 1 << 29)
            Issue.record("a 512x512 table1 fit was let into 1.5 GiB")
        } catch let error as DIPError {
            let text = "\(error)"
            #expect(text.contains("image size '512x512'") && text.contains("needs about 2.") && text.contains("can have 1.5 GiB"), "\(text)")
        }
        try FitMemory.requireRoom(network: table1, height: 512, width: 512, optimizer: .adam(learningRate: 0.01),
                                  available: 4 << 30, resident: 0)
        // What the process holds already counts: a run after another reuses its freed memory.
        try FitMemory.requireRoom(network: table1, height: 512, width: 512, optimizer: .adam(learningRate: 0.01),
                                  available: 1 << 30, resident: 3 << 30)
        try FitMemory.requireRoom(network: table1, height: 512, width: 512, optimizer: .adam(learningRate: 0.01),
                                  available: nil, resident: 0)
        // L-BFGS's history counts too.
        let lbfgs = try FitMemory.peakBytes(network: table1, height: 512, width: 512, optimizer: .lbfgs(learningRate: 0.01))
        #expect(lbfgs > needed)
    }

    static let side = 6144
    static let tooLarge: Bool = {
        let net = try! SkipConfig.preset("table1", outputChannels: 1)
        let needed = try! FitMemory.peakBytes(network: net, height: side, width: side, optimizer: .adam(learningRate: 0.01))
        return HostMemory.available().map { Double($0) + Double(HostMemory.resident() ?? 0) < needed } ?? false
    }()

    @Test("a fit at a size beyond the machine's memory is refused before the network is built",
          .enabled(if: tooLarge, "this machine could hold a 6144x6144 table1 fit"))
    func fitterRefuses() throws {
        let side = Self.side
        let image = Image(channels: 1, height: side, width: side)
        var mask = Image(channels: 1, height: side, width: side, value: 1)
        mask.pixels[0] = 0
        var config = FitConfig(network: table1)
        config.iterations = 1
        let start = ContinuousClock.now
        #expect(throws: DIPError.self) {
            _ = try Fitter(problem: try FitProblem(image: image, mask: mask), config: config, seed: 0,
                           backend: try CPUBackend(threads: 1))
        }
        // Refused at once: nothing of the network's hundreds of GiB was touched.
        #expect(ContinuousClock.now - start < .seconds(10))
    }
}

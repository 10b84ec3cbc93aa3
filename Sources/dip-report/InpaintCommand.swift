import ArgumentParser
import DIPCore
import DIPEngine
import Foundation

/// `dip-report inpaint`: fits a Deep Image Prior network to one image and writes the result.
struct InpaintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inpaint",
        abstract: "Inpaint one image with a Deep Image Prior network.",
        discussion: """
            The mask says which pixels are known (255) and which are holes (0): give a mask file, \
            or make one on the fly with --bernoulli or --text. When the image is clean everywhere \
            (a benchmark image with a synthetic mask), PSNR against it is reported as the fit runs; \
            for a photo whose holes are real damage, add --no-ground-truth.

            Examples:
              dip-report inpaint kate.png --mask kate_mask.png --net text --iterations 3000 --out kate-restored.png
              dip-report inpaint barbara.png --bernoulli 0.5 --net table1 --lr 0.001 --seed 1 \\
                --out barbara-restored.png --curve barbara-curve.json
            """)

    @Argument(help: ArgumentHelp("The image to inpaint (PNG: gray, RGB, RGBA or palette).", valueName: "IMAGE.png"))
    var image: String

    @Option(help: ArgumentHelp("Mask PNG: 255 = known pixel, 0 = hole.", valueName: "FILE"))
    var mask: String?

    @Flag(help: "With --mask: the file marks holes in white; swap it.")
    var invert = false

    @Option(help: ArgumentHelp("Make a Bernoulli mask keeping this fraction of pixels.", valueName: "P"))
    var bernoulli: Double?

    @Option(name: .customLong("mask-seed"), help: "Seed of the --bernoulli mask (default: --seed).")
    var maskSeed: UInt64?

    @Flag(help: "With --bernoulli on an RGB image: one mask per channel, as upstream draws it.")
    var perChannel = false

    @Option(name: .customLong("text"), help: ArgumentHelp("Draw this string as holes (repeatable; with --font-size and --at).", valueName: "STRING"))
    var texts: [String] = []

    @Option(name: .customLong("font-size"), help: ArgumentHelp("Pixel size of each --text.", valueName: "PX"))
    var fontSizes: [Double] = []

    @Option(name: .customLong("at"), help: ArgumentHelp("Top-left X,Y of each --text.", valueName: "X,Y"))
    var positions: [TextPoint] = []

    @Flag(name: .customLong("seed-report-text"), help: "Use the seed report's three-string text mask.")
    var seedReportText = false

    @Option(help: ArgumentHelp("Network preset: \(SkipConfig.presetNames.joined(separator: ", ")).", valueName: "PRESET"))
    var net: String = "text"

    @Option(help: "Iterations.")
    var iterations: Int = 3000

    @Option(help: "Learning rate.")
    var lr: Double = 0.01

    @Option(help: "Optimiser: adam or lbfgs.")
    var optimizer: String = "adam"

    @Option(help: "Seed of the weights, input code, perturbation (and the mask, unless --mask-seed).")
    var seed: UInt64 = 0

    @Option(name: .customLong("sigma-p"), help: "Std of the per-iteration input perturbation (0 = off).")
    var sigmaP: Float = 0.03

    @Option(name: .customLong("gamma-init"), help: "BatchNorm gamma start: uniform (paper era) or one (modern PyTorch).")
    var gammaInit: String = "uniform"

    @Option(name: .customLong("align-corners"), help: "Bilinear upsampling of the table1 and restoration-kate nets: true (paper era, PyTorch < 0.4, the default) or false (today's PyTorch default).")
    var alignCorners: Bool?

    @Flag(help: "Restore the last checkpoint when PSNR on the known pixels falls by 5 dB (restoration notebook).")
    var backtracking = false

    @Option(help: "Convolution algorithm: auto (Winograd for 3x3 stride 1, direct elsewhere), direct or winograd.")
    var conv: String = "auto"

    @Option(name: .customLong("psnr-every"), help: "Record PSNR every this many iterations.")
    var psnrEvery: Int = 10

    @Option(help: "Threads for the computation (default: all cores).")
    var threads: Int?

    @Flag(name: .customLong("no-ground-truth"), help: "The image's holes are real damage: report no PSNR against it.")
    var noGroundTruth = false

    @Option(help: ArgumentHelp("Where to write the final restored image.", valueName: "restored.png"))
    var out: String

    @Option(name: .customLong("best-out"), help: ArgumentHelp("Also write the best sampled iterate.", valueName: "best.png"))
    var bestOut: String?

    @Option(help: ArgumentHelp("Write the curve (loss every iteration, PSNR every --psnr-every) as JSON.", valueName: "curve.json"))
    var curve: String?

    @Option(name: .customLong("save-weights"), help: ArgumentHelp("Save the fitted network (upstream's state_dict keys).", valueName: "FILE.safetensors"))
    var saveWeights: String?

    @Option(name: .customLong("load-weights"), help: ArgumentHelp("Start from these weights instead of a fresh initialisation.", valueName: "FILE.safetensors"))
    var loadWeights: String?

    func validate() throws {
        let kinds = [mask != nil, bernoulli != nil, !texts.isEmpty, seedReportText].filter { $0 }.count
        if kinds != 1 { throw ValidationError("give exactly one mask: --mask FILE, --bernoulli P, --text ... or --seed-report-text") }
        if let p = bernoulli, !(p > 0 && p <= 1) { throw ValidationError("--bernoulli \(p): the fraction kept must be in (0, 1]") }
        if !texts.isEmpty, positions.count != texts.count || (fontSizes.count != 1 && fontSizes.count != texts.count) {
            throw ValidationError("each --text needs an --at X,Y, and --font-size once or once per --text")
        }
        if iterations < 1 { throw ValidationError("--iterations \(iterations): at least 1") }
        if !(lr > 0) { throw ValidationError("--lr \(lr): must be positive") }
        if let t = threads, t < 1 { throw ValidationError("--threads \(t): at least 1") }
        if !["adam", "lbfgs"].contains(optimizer) { throw ValidationError("--optimizer \(optimizer): adam or lbfgs") }
        if GammaInit(rawValue: gammaInit) == nil { throw ValidationError("--gamma-init \(gammaInit): uniform or one") }
        if ConvAlgorithm(rawValue: conv) == nil { throw ValidationError("--conv \(conv): direct, winograd or auto") }
    }

    func run() throws {
        let decoded = try PNGCodec.read(image)
        if decoded.droppedAlpha { print("note: \(image) has an alpha channel; it was ignored") }
        let img = decoded.image
        let spec: MaskSpec
        if let mask { spec = .file(path: mask, invert: invert) }
        else if let bernoulli { spec = .bernoulli(keep: bernoulli, seed: maskSeed ?? seed, perChannel: perChannel) }
        else if seedReportText { spec = .seedReportText }
        else {
            spec = .text(texts.indices.map { i in
                TextStamp(text: texts[i], fontSize: fontSizes.count == 1 ? fontSizes[0] : fontSizes[i],
                          x: positions[i].x, y: positions[i].y)
            }, fontPath: nil)
        }
        let made = try spec.make(height: img.height, width: img.width, channels: img.channels)
        for note in made.notes { print("note: \(note)") }

        var config = FitConfig(network: try SkipConfig.preset(net, outputChannels: img.channels))
        config.inputCode = .upstream(for: config.network)
        config.iterations = iterations
        config.optimizer = optimizer == "adam" ? .adam(learningRate: lr) : .lbfgs(learningRate: lr)
        config.perturbation = sigmaP
        config.gammaInit = GammaInit(rawValue: gammaInit)!
        if let alignCorners {
            guard case .bilinear = config.network.upsampling else {
                throw ValidationError("--align-corners: the \(net) net upsamples with \(config.network.upsampling), not bilinear; only table1 and restoration-kate take it")
            }
            config.network.upsampling = .bilinear(alignCorners: alignCorners)
        }
        config.backtracking = backtracking ? Backtracking() : nil
        config.convAlgorithm = ConvAlgorithm(rawValue: conv)!
        config.psnrEvery = psnrEvery

        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let backend = try BackendFactory.cpu.make(threads: threadCount)
        let problem = try FitProblem(image: img, mask: made.mask, hasGroundTruth: !noGroundTruth)
        let fitter = try Fitter(problem: problem, config: config, seed: seed, backend: backend)
        if let loadWeights { try WeightsFile.load(loadWeights, into: fitter.network) }

        let stats = MaskStatistics(made.mask)
        print("\(image): \(img.sizeDescription); mask: \(made.summary), \(String(format: "%.2f", stats.holeFraction * 100)) % holes")
        print("network \(net): \(fitter.network.parameterCount.formatted()) parameters; \(config.optimizer), \(iterations) iterations, sigma_p \(sigmaP), seed \(seed), \(threadCount) thread\(threadCount == 1 ? "" : "s")")
        if fitter.isPadded {
            print("note: this network needs sizes divisible by \(config.network.sizeDivisor); fitting on a \(fitter.workingWidth)x\(fitter.workingHeight) canvas and cropping back to \(img.width)x\(img.height)")
        }

        let interrupt = InterruptFlag.install()
        let bar = ProgressPrinter(total: Fitter.plannedEvaluations(config))
        let result = try fitter.run(progress: { bar.update($0) }, shouldCancel: { interrupt.isSet })
        bar.finish()

        try PNGCodec.write(result.finalImage, to: out)
        var wrote = [out]
        if let bestOut, let best = result.best {
            try PNGCodec.write(best.image, to: bestOut)
            wrote.append(bestOut)
        }
        if let curve {
            try AtomicFile.write(try result.curveJSON(), to: curve)
            wrote.append(curve)
        }
        if let saveWeights {
            try WeightsFile.save(fitter.network, to: saveWeights, metadata: ["seed": "\(seed)", "preset": net])
            wrote.append(saveWeights)
        }
        print("status: \(result.status); \(result.timings.iterations) iterations in \(String(format: "%.1f", result.timings.total)) s")
        if let p = result.finalPSNR {
            print(String(format: "final PSNR %.2f dB (holes %.2f dB)", p, result.finalPSNRHoles ?? .nan)
                  + (result.best.map { String(format: "; best %.2f dB at iteration %d", $0.psnr, $0.iteration) } ?? ""))
        }
        if !result.backtracks.isEmpty { print("backtracked \(result.backtracks.count) time(s), at iterations \(result.backtracks.map(String.init).joined(separator: ", "))") }
        print("wrote \(wrote.joined(separator: ", "))")
        if case .diverged = result.status { throw ExitCode(2) }
        if case .cancelled = result.status { throw ExitCode(interrupt.exitStatus ?? 130) }
    }
}

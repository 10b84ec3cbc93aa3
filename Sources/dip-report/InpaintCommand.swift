import ArgumentParser
import DIPCore
import DIPEngine
import DIPExperiments
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

    @Option(parsing: .unconditional, help: ArgumentHelp("Make a Bernoulli mask keeping this fraction of pixels, 0 < P < 1.", valueName: "P"))
    var bernoulli: Double?

    @Option(name: .customLong("mask-seed"), parsing: .unconditional, help: "Seed of the --bernoulli mask, 0 to \(UInt64.max) (default: --seed).")
    var maskSeed: UInt64?

    @Flag(help: "With --bernoulli on an RGB image: one mask per channel, as upstream draws it.")
    var perChannel = false

    @OptionGroup(title: "Text mask")
    var text: TextMaskOptions

    @Flag(name: .customLong("seed-report-text"), help: "Use the seed report's three-string text mask.")
    var seedReportText = false

    @Option(help: ArgumentHelp("Network preset: \(SkipConfig.presetNames.joined(separator: ", ")).", valueName: "PRESET"))
    var net: String = "text"

    @Option(parsing: .unconditional, help: "Iterations (1 to \(FitConfig.maxIterations)).")
    var iterations: Int = 3000

    @Option(parsing: .unconditional, help: "Learning rate (\(Float.leastNormalMagnitude) to \(Float.greatestFiniteMagnitude): it is used in single precision).")
    var lr: Double = 0.01

    @Option(help: "Optimiser (lbfgs runs upstream's \(Fitter.lbfgsWarmupSteps) Adam warm-up steps at LR \(Fitter.lbfgsWarmupLearningRate) before its --iterations).")
    var optimizer: OptimizerName = .adam

    @Option(parsing: .unconditional, help: "Seed of the weights, input code, perturbation (and the mask, unless --mask-seed), 0 to \(UInt64.max).")
    var seed: UInt64 = 0

    @Option(name: .customLong("sigma-p"), parsing: .unconditional, help: "Std of the per-iteration input perturbation (0 = off).")
    var sigmaP: Double = 0.03  // read as typed (a Float read 1e300 as inf, and the message echoed that)

    @Option(name: .customLong("gamma-init"), help: "BatchNorm gamma start: uniform (paper era) or one (modern PyTorch).")
    var gammaInit: GammaInit = .uniform

    @Option(name: .customLong("align-corners"), help: "Bilinear upsampling of the table1 and restoration-kate nets: true (paper era, PyTorch < 0.4, the default) or false (today's PyTorch default).")
    var alignCorners: Bool?

    @Flag(help: "Restore the last checkpoint when PSNR on the known pixels falls by 5 dB (restoration notebook).")
    var backtracking = false

    @Option(help: "Convolution algorithm: auto (Winograd for 3x3 stride 1 where it is the faster, direct elsewhere), direct or winograd.")
    var conv: ConvAlgorithm = .auto

    @Option(name: .customLong("psnr-every"), parsing: .unconditional, help: "Record PSNR every this many iterations (at least 1).")
    var psnrEvery: Int = 10

    @Option(parsing: .unconditional, help: "Threads for the computation (default: all cores; at most \(Parallelism.oversubscription) per core).")
    var threads: Int?

    @OptionGroup var devices: DeviceOptions

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

    /// Every file the fit writes, with its flag.
    private var outputs: [NamedPath] {
        [NamedPath(flag: "--out", path: out)]
            + [("--best-out", bestOut), ("--curve", curve), ("--save-weights", saveWeights)]
            .compactMap { flag, path in path.map { NamedPath(flag: flag, path: $0) } }
    }

    /// Every file it reads, which no output may replace.
    private var inputs: [NamedPath] {
        [NamedPath(flag: "IMAGE", path: image)]
            + [("--mask", mask), ("--load-weights", loadWeights), ("--font", text.font)]
            .compactMap { flag, path in path.map { NamedPath(flag: flag, path: $0) } }
    }

    func validate() throws {
        let kinds = [mask != nil, bernoulli != nil, text.isChosen, seedReportText].filter { $0 }.count
        if kinds != 1 { throw ValidationError("give exactly one mask: --mask FILE, --bernoulli P, --text ... or --seed-report-text") }
        if let p = bernoulli, !(p > 0 && p < 1) {
            throw ValidationError("--bernoulli \(p): give the fraction of pixels kept, more than 0 and less than 1 (at 1 nothing is left to inpaint)")
        }
        if perChannel && bernoulli == nil { throw ValidationError("--per-channel applies to --bernoulli only (a mask file is per channel when its channels differ)") }
        if maskSeed != nil && bernoulli == nil { throw ValidationError("--mask-seed applies to --bernoulli only") }
        if invert && mask == nil { throw ValidationError("--invert applies to --mask only") }
        if let problem = FitConfig.iterationsProblem(iterations) { throw ValidationError("--iterations \(iterations): \(problem)") }
        try checkPreset(net)
        if psnrEvery < 1 { throw ValidationError("--psnr-every \(psnrEvery): at least 1") }
        if let problem = FitConfig.learningRateProblem(lr) { throw ValidationError("--lr \(lr): \(problem)") }
        if noGroundTruth, let bestOut {
            throw ValidationError("--best-out \(bestOut): the best iterate is the one of highest PSNR against the image, which --no-ground-truth turns off; leave one of them out")
        }
        if !(sigmaP >= 0 && sigmaP <= Double(Float.greatestFiniteMagnitude)) {
            // Used in single precision: a value beyond 3.4e38 would be inf there.
            throw ValidationError("--sigma-p \(sigmaP): give a standard deviation of 0 or more, at most \(Float.greatestFiniteMagnitude) "
                                  + "(it is used in single precision, where larger values read as inf; 0 turns the perturbation off)")
        }
        try Parallelism.check(threads, flag: "--threads")
        for picture in [("--out", out), ("--best-out", bestOut)] {
            if let path = picture.1 { try OutputFiles.checkPNGName(NamedPath(flag: picture.0, path: path)) }
        }
        try OutputFiles.check(outputs, inputs: inputs)
    }

    /// The flag that chose the mask, for messages.
    private var maskFlag: String {
        if let mask { return "--mask \(mask)" }
        if let bernoulli { return "--bernoulli \(bernoulli)" }
        return seedReportText ? "--seed-report-text" : "--text"
    }

    func run() throws {
        let decoded = try PNGCodec.read(image)
        if decoded.droppedAlpha { printNote("\(image) has an alpha channel; it was ignored") }
        if decoded.bitDepth > 8 { printNote("\(image) has \(decoded.bitDepth) bits a sample; the fit reads them all, and the pictures it writes have 8") }
        let img = decoded.image
        let spec: MaskSpec
        if let mask { spec = .file(path: mask, invert: invert) }
        else if let bernoulli { spec = .bernoulli(keep: bernoulli, seed: maskSeed ?? seed, perChannel: perChannel) }
        else if seedReportText { spec = .seedReportText }
        else { spec = text.spec }
        let made = try spec.make(height: img.height, width: img.width, channels: img.channels)
        for note in made.notes { printNote(note) }
        let stats = MaskStatistics(made.mask)
        if stats.holes == 0 {
            throw DIPError.invalidValue(name: "mask", value: maskFlag, reason: "has no holes on this \(img.width)x\(img.height) image, so there is nothing to inpaint")
        }
        if stats.known == 0 {
            throw DIPError.invalidValue(name: "mask", value: maskFlag, reason: "makes every pixel of this \(img.width)x\(img.height) image a hole, so nothing is known to fit")
        }

        var config = FitConfig(network: try SkipConfig.preset(net, outputChannels: img.channels))
        config.inputCode = .upstream(for: config.network)
        config.iterations = iterations
        config.optimizer = optimizer.choice(learningRate: lr)
        config.perturbation = Float(sigmaP)
        config.gammaInit = gammaInit
        if let alignCorners {
            guard case .bilinear = config.network.upsampling else {
                throw ValidationError("--align-corners: the \(net) net upsamples with \(config.network.upsampling), not bilinear; only table1 and restoration-kate take it")
            }
            config.network.upsampling = .bilinear(alignCorners: alignCorners)
        }
        config.backtracking = backtracking ? Backtracking() : nil
        config.convAlgorithm = conv
        config.psnrEvery = psnrEvery

        let threadCount = threads ?? Parallelism.defaultThreads
        if let warning = Parallelism.warning(threads, flag: "--threads") { printNote(warning) }
        let asked = try devices.factory()
        let factory = asked.forFit(config)
        if factory.name != asked.name { printNote("L-BFGS fits run on the CPU: this one does (\(factory.device))") }
        let backend = try factory.make(threads: threadCount)
        let problem = try FitProblem(image: img, mask: made.mask, hasGroundTruth: !noGroundTruth)
        let fitter = try Fitter(problem: problem, config: config, seed: seed, backend: backend)
        if let loadWeights { try fitter.loadWeights(loadWeights) }

        print("\(image): \(img.sizeDescription); mask: \(made.summary), \(String(format: "%.2f", stats.holeFraction * 100)) % holes")
        print("network \(net): \(fitter.network.parameterCount.formatted()) parameters; \(config.optimizer), \(iterations) iteration\(iterations == 1 ? "" : "s")\(optimizer == .lbfgs ? " after \(Fitter.lbfgsWarmupSteps) Adam warm-up steps" : ""), sigma_p \(sigmaP), seed \(seed), \(threadCount) thread\(threadCount == 1 ? "" : "s") on \(factory.description), \(factory.device)")
        if let loadWeights { print("starting from the weights in \(loadWeights)") }
        if fitter.isPadded {
            printNote("network \(net) cannot run at \(img.width)x\(img.height) (`dip-report net \(net) --size \(img.width)x\(img.height)` says why); "
                      + "fitting on a \(fitter.workingWidth)x\(fitter.workingHeight) canvas whose border the loss ignores, and cropping back")
        }

        // Hashed before the fit: the files may change while it runs.
        let inputs = try curve.map { _ in
            try FitInputs.current(image: image, mask: made.summary, maskFile: mask, startWeights: loadWeights,
                                  threads: threadCount, backend: factory)
        }

        let interrupt = InterruptFlag.install()
        let bar = ProgressPrinter(total: Fitter.plannedEvaluations(config))
        let result = try fitter.run(progress: { bar.update($0) }, shouldCancel: { interrupt.isSet })
        bar.finish()

        print("status: \(result.status); \(result.timings.iterations) iteration\(result.timings.iterations == 1 ? "" : "s") in \(String(format: "%.1f", result.timings.total)) s")
        print("ran: \(fitter.algorithmSummary)")
        if let p = result.finalPSNR {
            print(String(format: "final PSNR %.2f dB (holes %.2f dB)", p, result.finalPSNRHoles ?? .nan)
                  + (result.best.map { String(format: "; best %.2f dB at iteration %d", $0.psnr, $0.iteration) } ?? ""))
        }
        if !result.backtracks.isEmpty { print("backtracked \(result.backtracks.count) time(s), at iterations \(result.backtracks.map(String.init).joined(separator: ", "))") }
        let failures = save(result, network: fitter.network, inputs: inputs)

        if case let .diverged(i) = result.status {
            printError("the fit diverged at iteration \(i) (the loss became NaN or infinite); lower --lr (it was \(lr))")
            throw ExitCode.diverged
        }
        if failures > 0 { throw ExitCode.failure }
        if case .cancelled = result.status { throw ExitCode(interrupt.exitStatus ?? ExitCode.interrupted.rawValue) }
    }

    /// Writes what the user asked for, each file on its own: one that fails (a disk filled up
    /// during the fit, say) goes to a fallback name and never stops the others. A diverged
    /// fit's final picture and weights hold NaN and are not written. Returns how many outputs
    /// could not be written where asked.
    private func save(_ result: FitResult, network: SkipNetwork, inputs: FitInputs?) -> Int {
        let finite = result.finalImage.pixels.allSatisfy { $0.isFinite }
        var jobs: [(NamedPath, (String) throws -> Void)] = []
        if finite {
            jobs.append((NamedPath(flag: "--out", path: out), { try PNGCodec.write(result.finalImage, to: $0) }))
        } else {
            // A note: the one error of a diverged fit is the divergence itself, said after this.
            printNote("--out \(out) not written: the final picture holds NaN after the fit diverged"
                      + (result.best != nil && bestOut == nil ? " (its best iterate was finite: run again with --best-out to keep it)" : ""))
        }
        if let bestOut {
            if let best = result.best {
                jobs.append((NamedPath(flag: "--best-out", path: bestOut), { try PNGCodec.write(best.image, to: $0) }))
            } else {
                printNote("--best-out \(bestOut) not written: no PSNR was sampled (--no-ground-truth, or the fit stopped before its first sample)")
            }
        }
        if let curve, let inputs {
            jobs.append((NamedPath(flag: "--curve", path: curve), { try AtomicFile.write(try result.curveJSON(inputs: inputs), to: $0) }))
        }
        if let saveWeights {
            if finite {
                let metadata = ["seed": "\(seed)", "preset": net]
                jobs.append((NamedPath(flag: "--save-weights", path: saveWeights), { try WeightsFile.save(network, to: $0, metadata: metadata) }))
            } else {
                printNote("--save-weights \(saveWeights) not written: the weights hold NaN after the fit diverged")
            }
        }
        var wrote: [String] = []
        var failures = finite ? 0 : 1
        for (target, write) in jobs {
            switch OutputFiles.write(target, with: write) {
            case let .wrote(path):
                wrote.append(path)
            case let .fallback(path, why):
                failures += 1
                wrote.append(path)
                printError("\(target.flag) \(target.path): \(why); wrote it to \(path) instead")
            case let .failed(why):
                failures += 1
                printError("\(target.flag) \(target.path): \(why); no fallback location could be written either")
            }
        }
        if !wrote.isEmpty { print("wrote \(wrote.joined(separator: ", "))") }
        return failures
    }
}

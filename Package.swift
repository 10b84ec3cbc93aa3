// swift-tools-version: 6.0
// dip-report: reproduces the inpainting results of "Deep Image Prior" and writes them up
// as a self-contained HTML report. See README.md and docs/architecture.md.
import PackageDescription

let package = Package(
    name: "dip-report",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dip-report", targets: ["dip-report"]),
        .library(name: "DIPCore", targets: ["DIPCore"]),
        .library(name: "DIPEngine", targets: ["DIPEngine"]),
        .library(name: "DIPExperiments", targets: ["DIPExperiments"]),
        .library(name: "DIPReport", targets: ["DIPReport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // SHA-256 (Crypto.SHA256; BoringSSL on Linux) for the manifest and the configuration hash.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // Exact: the page's HTML depends on them, and its provenance names these versions
        // (ReportRenderer.libraryVersions; a test keeps the two in step).
        .package(url: "https://github.com/hummingbird-project/swift-mustache", exact: "2.1.1"),
        .package(url: "https://github.com/JohnSundell/Ink", exact: "0.6.0"),
    ],
    targets: [
        // System-library shims: a module map and a header each, nothing else.
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CCairo", pkgConfig: "cairo-ft",
                       providers: [.apt(["libcairo2-dev", "libfreetype-dev"])]),
        // oneDNN 2.6 ships no pkg-config file on Debian; headers live in /usr/include.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // CUDA driver API and cuDNN 9 declarations (handle types, constants, function-pointer
        // types); nothing is linked: DIPEngine opens libcuda.so.1 and libcudnn.so.9 at run time.
        .target(name: "CCUDA"),

        // The CUDA backend's own kernels (cuda/dip_kernels.cu) compiled as C for the host, so the
        // tests run them over an emulated grid; the GPU runs the same source from committed PTX
        // (docs/cuda-kernels.md). Only the tests depend on it: the binary never runs it.
        .target(name: "CDIPKernels", exclude: ["cuda"]),

        // The FMA throughput kernels behind bench's peak figure: C, because each needs its own
        // instruction set (a function attribute) while the package stays baseline x86-64.
        .target(name: "CFMAKernel"),
        // BatchNorm's passes and the perturbation's draw, with AVX2 versions chosen at run time
        // (the same bits as the baseline ones).
        .target(name: "CLayerKernels"),

        // Winograd F(4x4,3x3) and F(6x6,3x3) tile transforms on 256-bit vectors (the Swift ones
        // compile to 128-bit SSE in the baseline build): C for the same reason, chosen at run time.
        .target(name: "CWinograd"),
        // The 1x1 convolutions' products on AVX2 or AVX-512 with FMA, chosen at run time.
        .target(name: "CPointwise"),
        // The worker threads of the CPU backend's parallel regions (ChannelParallel): C for the
        // futex and the atomics a spin-then-sleep wait needs.
        .target(name: "CWorkerPool"),

        .target(name: "DIPCore", dependencies: ["CPNG", "CCairo", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "DIPEngine", dependencies: ["DIPCore", "CDNNL", "CCUDA", "CFMAKernel", "CLayerKernels", "CWinograd", "CPointwise", "CWorkerPool"]),
        // The commit of the checkout being built, written by a plugin into the build folder.
        .plugin(name: "BuildCommit", capability: .buildTool()),
        .target(name: "DIPExperiments", dependencies: ["DIPCore", "DIPEngine"], plugins: ["BuildCommit"]),
        .target(name: "DIPReport", dependencies: [
            "DIPCore", "DIPEngine", "DIPExperiments", "CCairo",
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "Ink", package: "Ink"),
        ]),
        .executableTarget(name: "dip-report", dependencies: [
            "DIPCore", "DIPEngine", "DIPExperiments", "DIPReport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test helpers (locating the shared test images); only test targets depend on it, so
        // it is neither in a product nor in the executable.
        .target(name: "DIPTestSupport", path: "Tests/DIPTestSupport"),
        .testTarget(name: "DIPCoreTests", dependencies: ["DIPCore", "DIPTestSupport"], exclude: ["Golden", "Fixtures"]),
        .testTarget(name: "DIPEngineTests", dependencies: ["DIPEngine", "DIPCore", "DIPTestSupport", "CDIPKernels", "CLayerKernels", "CPointwise"]),
        .testTarget(name: "DIPExperimentsTests", dependencies: ["DIPExperiments", "DIPEngine", "DIPCore", "DIPTestSupport"]),
        .testTarget(name: "DIPReportTests", dependencies: ["DIPReport", "DIPExperiments", "DIPEngine", "DIPCore", "DIPTestSupport"],
                    exclude: ["Fixtures"]),
        // Runs the built executable as a user would (bad input, faults, exit codes); depending
        // on the executable target makes `swift build --build-tests` build it first.
        .testTarget(name: "CLITests", dependencies: ["dip-report", "DIPCore", "DIPTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

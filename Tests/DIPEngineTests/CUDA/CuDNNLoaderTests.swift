import CCUDA
import DIPTestSupport
import Foundation
import Testing
@testable import DIPEngine

@Suite("cuDNN loading")
struct CuDNNLoaderTests {
    /// A scratch folder tree, removed at the end.
    private final class Tree {
        let root: String
        init() throws {
            root = TestFolder.path("cudnn-locator")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: root) }

        /// Creates `relative` (and its folders) with some bytes; executable when asked.
        @discardableResult
        func file(_ relative: String, executable: Bool = false) throws -> String {
            let path = root + "/" + relative
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data("x".utf8).write(to: URL(fileURLWithPath: path))
            if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path) }
            return path
        }
    }

    @Test("the search tries the soname, then python3's prefix on PATH, then VIRTUAL_ENV, each file once")
    func searchOrder() throws {
        let tree = try Tree()
        try tree.file("py/bin/python3", executable: true)
        let onPath = try tree.file("py/lib/python3.12/dist-packages/nvidia/cudnn/lib/libcudnn.so.9")
        let inVenv = try tree.file("venv/lib/python3.11/site-packages/nvidia/cudnn/lib/libcudnn.so.9")
        try tree.file("venv/bin/python3", executable: true)
        try tree.file("empty/lib/python3.11/site-packages/nvidia/other")
        let locator = CuDNNLocator(environment: ["PATH": "\(tree.root)/py/bin:\(tree.root)/nowhere:\(tree.root)/venv/bin",
                                                 "VIRTUAL_ENV": "\(tree.root)/venv", "CONDA_PREFIX": "\(tree.root)/empty"])
        let candidates = locator.searchCandidates()
        #expect(candidates.first == .init(path: "libcudnn.so.9", source: .soname))
        let ours = candidates.filter { $0.path.hasPrefix(tree.root) }
        // venv appears twice (its bin is on PATH and it is VIRTUAL_ENV) but is tried once.
        #expect(ours == [.init(path: onPath, source: .pythonFolder), .init(path: inVenv, source: .pythonFolder)])
        #expect(try locator.explicitCandidate() == nil)
    }

    @Test("the torch-style folder of this machine's python3 is among the candidates",
          .enabled(if: CUDATestEnvironment.cudnnWheelLibrary != nil, "no pip-installed cuDNN here (make cuda-test-deps)"))
    func thisMachinesPython() throws {
        let library = try #require(CUDATestEnvironment.cudnnWheelLibrary)
        // .../<prefix>/lib/python3.X/site-packages/nvidia/cudnn/lib/libcudnn.so.9 -> <prefix>/bin
        let prefix = URL(fileURLWithPath: library).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        let onPath = CuDNNLocator(environment: ["PATH": prefix + "/bin"]).searchCandidates()
        #expect(onPath.contains(.init(path: library, source: .pythonFolder)))
        let asVenv = CuDNNLocator(environment: ["VIRTUAL_ENV": prefix]).searchCandidates()
        #expect(asVenv.contains(.init(path: library, source: .pythonFolder)))
    }

    @Test("python3 is asked where nvidia.cudnn is, as a last resort",
          .enabled(if: CUDATestEnvironment.cudnnWheelLibrary != nil, "no pip-installed cuDNN here"))
    func pythonImport() throws {
        let candidate = CuDNNLocator(environment: ProcessInfo.processInfo.environment).pythonImportCandidate()
        if let candidate {
            #expect(candidate.source == .pythonImport)
            #expect(candidate.path.hasSuffix("/nvidia/cudnn/lib/libcudnn.so.9"))
            #expect(FileManager.default.fileExists(atPath: candidate.path))
        }
        // A python3 that cannot import it gives no candidate rather than an error.
        #expect(CuDNNLocator(environment: ["PATH": "/nonexistent"]).pythonImportCandidate() == nil)
    }

    @Test("DIP_CUDNN_LIB naming no file, or a folder, is refused naming the variable")
    func explicitMissing() throws {
        let tree = try Tree()
        for path in ["\(tree.root)/missing.so", tree.root] {
            let error = try #require(throws: CUDAError.self) {
                try CuDNN.load(environment: ["DIP_CUDNN_LIB": path, "PATH": "/nonexistent"])
            }
            #expect(error.description.hasPrefix("cuDNN at \(path) cannot be used: DIP_CUDNN_LIB names no file"))
        }
    }

    @Test("DIP_CUDNN_LIB naming a file that is no library gives the loader's reason and no fallback")
    func explicitNotALibrary() throws {
        let tree = try Tree()
        let file = try tree.file("libcudnn.so.9")
        let error = try #require(throws: CUDAError.self) { try CuDNN.load(environment: ["DIP_CUDNN_LIB": file]) }
        guard case let .cudnnUnusable(path, reason) = error else {
            Issue.record("expected cudnnUnusable, got \(error)")
            return
        }
        #expect(path == file)
        #expect(reason.contains(file))
    }

    @Test("nothing found lists every place tried")
    func nothingFound() throws {
        let tree = try Tree()
        // Only meaningful where the linker cannot find libcudnn.so.9 by itself.
        guard case .failure = DynamicLibrary.open("libcudnn.so.9") else { return }
        let error = try #require(throws: CUDAError.self) {
            try CuDNN.load(environment: ["PATH": tree.root, "HOME": tree.root])
        }
        guard case let .cudnnNotFound(tried) = error else {
            Issue.record("expected cudnnNotFound, got \(error)")
            return
        }
        #expect(tried.first?.hasPrefix("libcudnn.so.9: ") == true)
        #expect(tried.last == "python3 -c 'import nvidia.cudnn': no such module")
        #expect(error.description.contains("set DIP_CUDNN_LIB"))
    }

    @Test("cuDNN 9 loads through DIP_CUDNN_LIB without a GPU: version and every function",
          .enabled(if: CUDATestEnvironment.cudnnWheelLibrary != nil, "no pip-installed cuDNN here (make cuda-test-deps)"))
    func loadsThroughEnvironment() throws {
        let cudnn = try #require(try CUDATestEnvironment.cudnn?.get())
        #expect(cudnn.source == "DIP_CUDNN_LIB")
        #expect(cudnn.path == CUDATestEnvironment.cudnnWheelLibrary)
        #expect(cudnn.version / 10000 == 9)
        #expect(cudnn.versionString.hasPrefix("9."))
        #expect(cudnn.cudartVersion / 1000 >= 12)
        // Construction resolved every declared function; a second resolution says the same.
        let library = try DynamicLibrary.open(cudnn.path).get()
        for name in CuDNNAPI.symbols {
            #expect(library.address(of: name) != nil, "\(name)")
        }
        #expect(CuDNNAPI.symbols.count == 32)
    }

    @Test("the folder search finds the same library when DIP_CUDNN_LIB is unset",
          .enabled(if: CUDATestEnvironment.cudnnWheelLibrary != nil, "no pip-installed cuDNN here"))
    func loadsThroughFolderSearch() throws {
        let library = try #require(CUDATestEnvironment.cudnnWheelLibrary)
        _ = try #require(try CUDATestEnvironment.cudnn?.get())
        let prefix = URL(fileURLWithPath: library).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        let cudnn = try CuDNN.load(environment: ["VIRTUAL_ENV": prefix, "PATH": "/nonexistent"])
        // Once any copy is loaded in this process (the one above, or the probe's), the dynamic
        // linker matches the soname to it and the search stops at step 2 with that copy.
        if cudnn.source == "soname" {
            #expect(cudnn.path.hasSuffix("/libcudnn.so.9"))
        } else {
            #expect(cudnn.source == "python site-packages")
            #expect(cudnn.path == library)
        }
        #expect(cudnn.version == (try CUDATestEnvironment.cudnn?.get())?.version)
    }

    @Test("without a GPU, cudnnCreate fails with cuDNN's own status text",
          .enabled(if: !CUDATestEnvironment.driverPresent && CUDATestEnvironment.cudnnWheelLibrary != nil,
                   "needs cuDNN and no driver"))
    func createWithoutGPU() throws {
        let cudnn = try #require(try CUDATestEnvironment.cudnn?.get())
        var handle: cudnnHandle_t?
        let status = cudnn.api.cudnnCreate(&handle)
        let error = try #require(throws: CUDAError.self) { try cudnn.check(status, "cudnnCreate") }
        #expect(error.description.hasPrefix("cudnnCreate: CUDNN_STATUS_NOT_INITIALIZED (1001)"))
    }

    @Test("cuDNN agrees with the network on every convolution's output size, both math modes",
          .enabled(if: CUDATestEnvironment.cudnnWheelLibrary != nil, "no pip-installed cuDNN here"))
    func descriptors() throws {
        let cudnn = try #require(try CUDATestEnvironment.cudnn?.get())
        let geometries = [
            ConvGeometry(inChannels: 32, outChannels: 128, kernel: 3, stride: 2, inputHeight: 258, inputWidth: 258),
            ConvGeometry(inChannels: 3, outChannels: 8, kernel: 3, stride: 2, inputHeight: 9, inputWidth: 12),
            ConvGeometry(inChannels: 128, outChannels: 128, kernel: 3, stride: 1, inputHeight: 10, inputWidth: 7),
            ConvGeometry(inChannels: 132, outChannels: 4, kernel: 1, stride: 1, inputHeight: 64, inputWidth: 64),
            ConvGeometry(inChannels: 16, outChannels: 16, kernel: 5, stride: 1, inputHeight: 5, inputWidth: 5),
            ConvGeometry(inChannels: 1, outChannels: 1, kernel: 5, stride: 2, inputHeight: 8, inputWidth: 6),
        ]
        for geometry in geometries {
            for math in GPUMathMode.allCases {
                let d = try CuDNNConvolutionDescriptors(cudnn: cudnn, geometry: geometry, math: math)
                #expect(d.geometry == geometry)
            }
        }
        let tooSmall = ConvGeometry(inChannels: 1, outChannels: 1, kernel: 3, stride: 1, inputHeight: 2, inputWidth: 5)
        #expect(throws: EngineError.self) { try CuDNNConvolutionDescriptors(cudnn: cudnn, geometry: tooSmall, math: .tf32) }
    }

    @Test("a failing cuDNN call names the call, cuDNN's status text and its detail",
          .enabled(if: CUDATestEnvironment.cudnnWheelLibrary != nil, "no pip-installed cuDNN here"))
    func statusText() throws {
        let cudnn = try #require(try CUDATestEnvironment.cudnn?.get())
        var descriptor: cudnnTensorDescriptor_t?
        try cudnn.check(cudnn.api.cudnnCreateTensorDescriptor(&descriptor), "cudnnCreateTensorDescriptor")
        defer { _ = cudnn.api.cudnnDestroyTensorDescriptor(descriptor) }
        let status = cudnn.api.cudnnSetTensor4dDescriptor(descriptor, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, -3, 4, 4)
        let error = try #require(throws: CUDAError.self) { try cudnn.check(status, "cudnnSetTensor4dDescriptor(-3 channels)") }
        #expect(error.description.hasPrefix("cudnnSetTensor4dDescriptor(-3 channels): CUDNN_STATUS_BAD_PARAM"))
    }

    @Test("the probe reports cuDNN's version and where it came from")
    func probeLines() throws {
        let probe = CUDAProbe.make(driver: .failure(CUDAError.driverNotFound("libcuda.so.1: gone")),
                                   cudnn: .failure(CUDAError.cudnnNotFound(tried: ["libcudnn.so.9: gone"])))
        #expect(probe.lines == [
            "CUDA driver: none: no NVIDIA driver (libcuda.so.1: gone)",
            "cuDNN: none: cuDNN 9 not found (tried: libcudnn.so.9: gone); install PyTorch with CUDA or `pip install nvidia-cudnn-cu13`, or set DIP_CUDNN_LIB to the path of libcudnn.so.9",
        ])
        if let cudnn = try CUDATestEnvironment.cudnn?.get() {
            let found = CUDAProbe.make(driver: .failure(CUDAError.driverNotFound("x")), cudnn: .success(cudnn))
            #expect(found.cudnn.found)
            #expect(found.cudnn.version == cudnn.versionString)
            #expect(found.lines.last?.hasPrefix("cuDNN: \(cudnn.versionString) built for CUDA ") == true)
        }
    }
}

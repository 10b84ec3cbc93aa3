import DIPCore
import Foundation

/// Where cuDNN 9 may be, in the order tried:
/// 1. `$DIP_CUDNN_LIB`, a path to libcudnn.so.9; when set it is the only candidate (asking for
///    a file and silently getting another would be worse than an error).
/// 2. The soname `libcudnn.so.9`, found by the dynamic linker (LD_LIBRARY_PATH, ld.so.cache:
///    a system cuDNN package).
/// 3. The `nvidia/cudnn/lib` folder of a pip-installed cuDNN, which is how PyTorch brings it
///    and so how most GPU machines have it: in the site-packages/dist-packages folders of
///    every python3 on PATH (its prefix's lib/python3.*), of $VIRTUAL_ENV and $CONDA_PREFIX,
///    of /usr/local/lib/python3.*, /usr/lib/python3.* and ~/.local/lib/python3.*.
/// 4. Last, python3 itself is asked where `nvidia.cudnn` is (a pyenv shim, say, whose prefix
///    is not next to it on PATH).
///
/// libcudnn.so.9 is a small dispatcher: on first use it dlopens libcudnn_graph, _ops, _cnn
/// (and the engine libraries they need) from its own folder by RPATH $ORIGIN, so the whole
/// folder must stay together; copying libcudnn.so.9 alone does not work.
struct CuDNNLocator {
    /// The environment variable naming the library file.
    static let environmentVariable = "DIP_CUDNN_LIB"
    /// The soname of cuDNN 9's dispatcher library.
    static let soname = "libcudnn.so.9"
    /// Where a pip-installed cuDNN keeps it, under site-packages.
    static let wheelPath = "nvidia/cudnn/lib/libcudnn.so.9"

    /// How a candidate was found.
    enum Source: String, Codable, Sendable {
        case environment = "DIP_CUDNN_LIB"
        case soname = "soname"
        case pythonFolder = "python site-packages"
        case pythonImport = "python3 import nvidia.cudnn"
    }

    /// One place to try: a path (or the soname) and how it was found.
    struct Candidate: Equatable, Sendable {
        var path: String
        var source: Source
    }

    var environment: [String: String]

    /// The explicit file when $DIP_CUDNN_LIB is set (nil otherwise); throws when it names no file.
    func explicitCandidate() throws -> Candidate? {
        guard let path = environment[Self.environmentVariable], !path.isEmpty else { return nil }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw CUDAError.cudnnUnusable(path: path, reason: "\(Self.environmentVariable) names no file; point it at libcudnn.so.9 (e.g. .../site-packages/\(Self.wheelPath)) or unset it")
        }
        return Candidate(path: path, source: .environment)
    }

    /// Steps 2 and 3: the soname, then every pip-installed copy found in the usual folders
    /// (each file once, in the order above).
    func searchCandidates() -> [Candidate] {
        var candidates = [Candidate(path: Self.soname, source: .soname)]
        var seen = Set<String>()
        for folder in pythonSiteFolders() {
            let path = (folder as NSString).appendingPathComponent(Self.wheelPath)
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let identity = (path as NSString).resolvingSymlinksInPath
            if seen.insert(identity).inserted {
                candidates.append(Candidate(path: path, source: .pythonFolder))
            }
        }
        return candidates
    }

    /// site-packages and dist-packages folders that exist, in search order.
    func pythonSiteFolders() -> [String] {
        var prefixes: [String] = []
        for directory in (environment["PATH"] ?? "").split(separator: ":").map(String.init) where !directory.isEmpty {
            if FileManager.default.isExecutableFile(atPath: (directory as NSString).appendingPathComponent("python3")) {
                prefixes.append((directory as NSString).deletingLastPathComponent)
            }
        }
        for variable in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
            if let prefix = environment[variable], !prefix.isEmpty { prefixes.append(prefix) }
        }
        prefixes += ["/usr/local", "/usr"]
        if let home = environment["HOME"], !home.isEmpty { prefixes.append((home as NSString).appendingPathComponent(".local")) }

        var folders: [String] = []
        for prefix in prefixes {
            for lib in ["lib", "lib64"] {
                // python3.X/{site,dist}-packages, and Debian's version-less python3/dist-packages.
                for pattern in ["\(prefix)/\(lib)/python3*/site-packages", "\(prefix)/\(lib)/python3*/dist-packages"] {
                    folders += Self.glob(pattern)
                }
            }
        }
        return folders
    }

    /// Step 4: asks the python3 on PATH where `nvidia.cudnn` lives. The wheels make it a
    /// namespace package (its `__file__` is None), so the folder comes from `__path__`.
    func pythonImportCandidate() -> Candidate? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import nvidia.cudnn; print(list(nvidia.cudnn.__path__)[0])"]
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try ChildProcess.run(process) } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let folder = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
              !folder.isEmpty else { return nil }
        let path = (folder as NSString).appendingPathComponent("lib/\(Self.soname)")
        return FileManager.default.fileExists(atPath: path) ? Candidate(path: path, source: .pythonImport) : nil
    }

    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, GLOB_ONLYDIR, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }
}

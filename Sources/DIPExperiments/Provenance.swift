import DIPCore
import DIPEngine
import Foundation

/// dip-report's version, stored in every record.
public enum ToolVersion {
    /// The current version.
    public static let current = "0.5.0"

    /// What `dip-report --version` prints: the version and the commit it was built from.
    public static var withCommit: String { "\(current) (commit \(buildCommit))" }
}

/// What one `inpaint` fit ran on, written into its curve file so that the file says which
/// image, mask, machine and build made it, as a stored run's record does.
public struct FitInputs: Sendable, Codable {
    /// The image's path as given.
    public var image: String
    /// SHA-256 of the image file, read before the fit.
    public var imageSHA256: String
    /// How the mask was made (`MaskSpec.Made.summary`: the file, or the Bernoulli or text recipe).
    public var mask: String
    /// SHA-256 of the mask file, when the mask came from one.
    public var maskSHA256: String?
    /// The weights the fit started from (`--load-weights`), when given.
    public var startWeights: String?
    /// The machine, with the threads the fit used.
    public var machine: MachineInfo
    /// The build and backend that computed.
    public var software: SoftwareInfo

    /// Describes a fit of `image` (hashed now) with the mask `mask` (its file hashed, when it
    /// has one) on this machine with `threads` threads and `backend`.
    public static func current(image: String, mask: String, maskFile: String?, startWeights: String?,
                               threads: Int, backend: BackendFactory) throws -> FitInputs {
        FitInputs(image: image, imageSHA256: try SHA256.hex(ofFileAt: image), mask: mask,
                  maskSHA256: try maskFile.map { try SHA256.hex(ofFileAt: $0) }, startWeights: startWeights,
                  machine: .current(threads: threads), software: .current(backend: backend))
    }
}

extension MachineInfo {
    /// This machine, running `threads` threads per run.
    public static func current(threads: Int) -> MachineInfo {
        let info = ProcessInfo.processInfo
        return MachineInfo(host: info.hostName, os: info.operatingSystemVersionString, cpu: HostCPU.summary,
                           cores: HostCPU.usableCores, threads: threads)
    }
}

extension SoftwareInfo {
    /// This build running on `backend`: tool version, the git commit of the checkout it was
    /// built from (`buildCommit`, fixed when it was compiled, with "+dirty" when tracked files
    /// differed; "unknown" outside a git checkout), the backend's own name, its oneDNN version
    /// ("" for a backend without oneDNN), where it computes and all its libraries' versions.
    public static func current(backend: BackendFactory) -> SoftwareInfo {
        SoftwareInfo(tool: ToolVersion.current, commit: buildCommit, oneDNN: backend.libraryVersions["oneDNN"] ?? "",
                     backend: backend.name, device: backend.device, libraries: backend.librarySummary)
    }
}

import DIPCore
import DIPEngine
import Foundation

/// dip-report's version, stored in every record.
public enum ToolVersion {
    /// The current version.
    public static let current = "0.5.0"
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
    /// This build running on `backend`: tool version, the git commit of the checkout it was built
    /// from (with "+dirty" when the tree has uncommitted changes; "unknown" where that checkout
    /// is not on this machine), the
    /// backend's own name, its oneDNN version ("" for a backend without oneDNN), where it computes
    /// and all its libraries' versions.
    public static func current(backend: BackendFactory) -> SoftwareInfo {
        SoftwareInfo(tool: ToolVersion.current, commit: gitCommit(), oneDNN: backend.libraryVersions["oneDNN"] ?? "",
                     backend: backend.name, device: backend.device, libraries: backend.librarySummary)
    }

    /// The checkout this binary was built from: the package root, three folders above this
    /// source file as the compiler saw it. Not the working folder: a researcher runs the tool from
    /// their own project's repository, whose commit says nothing about the code that fitted.
    static let buildCheckout = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// `git rev-parse HEAD` in `checkout` (with "+dirty"), or "unknown" where it is no repository.
    static func gitCommit(of checkout: String = buildCheckout) -> String {
        guard FileManager.default.fileExists(atPath: checkout) else { return "unknown" }
        func git(_ args: [String]) -> String? {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git", "-C", checkout] + args
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            do { try ChildProcess.run(p) } catch { return nil }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { return nil }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let head = git(["rev-parse", "HEAD"]), !head.isEmpty else { return "unknown" }
        let dirty = git(["status", "--porcelain", "--untracked-files=no"]).map { !$0.isEmpty } ?? false
        return head + (dirty ? "+dirty" : "")
    }
}

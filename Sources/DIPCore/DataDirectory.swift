import Foundation

/// Where the test images live: `--data DIR`, else the `DIP_DATA` environment variable, else
/// `./data`. The project never ships the images (their copyright is unclear); see PROVENANCE.
public enum DataDirectory {
    /// Resolves the data folder from an explicit option and the environment.
    public static func resolve(_ explicit: String?,
                               environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = environment["DIP_DATA"], !env.isEmpty { return env }
        return "data"
    }
}

import Foundation

/// What this machine's processor is, as /proc/cpuinfo names it: for records, benchmarks and
/// the backend's description of where it runs.
public enum HostCPU {
    /// The model name, e.g. "AMD EPYC 9B14"; "unknown" where /proc/cpuinfo says nothing.
    public static var modelName: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "unknown" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
}

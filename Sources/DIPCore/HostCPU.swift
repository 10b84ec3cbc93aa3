import Foundation

/// What this machine's processor is, as /proc/cpuinfo names it: for records, benchmarks and
/// the backend's description of where it runs.
public enum HostCPU {
    /// The model name, e.g. "AMD EPYC 9B14"; "unknown" where /proc/cpuinfo says nothing.
    public static var modelName: String { field("model name") ?? "unknown" }

    /// The feature flags of the first processor ("avx2", "fma", "avx512f", ...), as the kernel
    /// reports them: only features it has enabled appear (AVX-512 is absent where the kernel
    /// does not save its registers). Read once; empty where /proc/cpuinfo says nothing.
    public static let flags: Set<String> = Set((field("flags") ?? "").split(separator: " ").map(String.init))

    /// The value of the first line of /proc/cpuinfo named `name`.
    private static func field(_ name: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
              let colon = line.firstIndex(of: ":") else { return nil }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
}

import Foundation

/// Sizes written the way Slurm and sysfs write them: a number, optionally followed by K, M, G or
/// T (binary multiples, either case, an optional trailing B); and sizes in GiB for messages.
public enum ByteSize {
    /// `bytes` in GiB with one decimal, "1.2 GiB": how the memory checks (a fit's, a PNG's, an
    /// SSIM map's) name what they need and what there is.
    public static func gib(_ bytes: Double) -> String { String(format: "%.1f GiB", bytes / 1_073_741_824) }

    /// Bytes of `text` ("4G", "3500M", "512K", "2TB"); a number with no unit counts
    /// `plainUnit` bytes (Slurm reads a plain memory size as MiB, sysfs a plain cache size as
    /// bytes). Nil unless the number is positive and finite ("inf" and "1e400" are not sizes).
    public static func bytes(_ text: String, plainUnit: Double) -> Double? {
        let units: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        var t = text.uppercased()
        if t.hasSuffix("B") { t.removeLast() }
        let unit = t.last.flatMap { units[$0] }
        guard let n = Double(unit == nil ? t : String(t.dropLast())), n > 0, n.isFinite else { return nil }
        let bytes = n * (unit ?? plainUnit)
        return bytes.isFinite ? bytes : nil
    }
}

/// The published numbers our results are compared with, in one readable place.
///
/// Sources:
/// - Paper: Ulyanov, Vedaldi, Lempitsky, "Deep Image Prior", CVPR 2018 (arXiv 1711.10925v4),
///   Table 1: inpainting with 50 % of pixels missing (Bernoulli), PSNR in dB; the row
///   "Papyan et al." is the convolutional sparse coding method the paper compares with.
/// - Seed report: the TU Delft student reproduction (2020) whose outline the report follows;
///   its Table 1 (best PSNR over iterations sampled every 10, each image resized to 512x512,
///   the text-inpainting network, Adam LR 0.01, 6001 iterations), its width and depth sweeps
///   on kate.png with the text mask. Copied from docs/semantics.md §11 and §13.
public enum ReferenceNumbers {
    /// Table 1's images in the report's column order, by the names our runs use, with the
    /// label the paper prints.
    public static let table1Images: [(name: String, label: String)] = [
        ("barbara", "Barbara"), ("boat", "Boat"), ("house", "House"), ("lena", "Lena"),
        ("peppers", "Peppers"), ("cameraman", "C.man"), ("couple", "Couple"),
        ("fingerprint", "Finger"), ("hill", "Hill"), ("man", "Man"), ("montage", "Montage"),
        ("lenacolor", "Lena (colour)"), ("pepperscolor", "Peppers (colour)"),
    ]

    /// The Table-1 column of a run's image name: the seed report's files are named
    /// "peppers256" (our "peppers") and "Lenacolor" (lowercased by the catalog).
    public static func table1Column(forImage image: String) -> String {
        switch image.lowercased() {
        case "peppers256": return "peppers"
        default: return image.lowercased()
        }
    }

    /// Paper, Table 1, DIP row (dB). The colour images are not in the paper.
    public static let paperDIP: [String: Double] = [
        "barbara": 32.22, "boat": 33.06, "house": 39.16, "lena": 36.16, "peppers": 33.05,
        "cameraman": 29.8, "couple": 32.52, "fingerprint": 32.84, "hill": 32.77, "man": 32.20,
        "montage": 34.54,
    ]

    /// Paper, Table 1, Papyan et al. row (dB).
    public static let papyan: [String: Double] = [
        "barbara": 28.14, "boat": 31.44, "house": 34.58, "lena": 35.04, "peppers": 31.11,
        "cameraman": 27.90, "couple": 31.18, "fingerprint": 31.34, "hill": 32.35, "man": 31.92,
        "montage": 28.05,
    ]

    /// Seed report, Table 1 (dB), under our image names: its "Lenacolor" is our lenacolor, its
    /// "peppers256" our peppers. Its house and peppers were upscaled from 256x256, which
    /// smooths them and explains figures far above the paper's.
    public static let seedReport: [String: Double] = [
        "boat": 32.67, "cameraman": 30.95, "lena": 35.59, "montage": 35.50, "barbara": 33.28,
        "lenacolor": 35.83, "house": 44.30, "fingerprint": 32.22, "man": 33.46,
        "pepperscolor": 33.07, "hill": 33.15, "peppers": 41.64, "couple": 32.28,
    ]

    /// Seed report, width sweep on kate.png (depth 5, equal down/up/skip channels): channels -> dB.
    public static let seedWidthSweep: [(channels: Int, psnr: Double)] = [
        (4, 21.61), (16, 31.74), (32, 35.78), (64, 37.35), (128, 39.13),
    ]

    /// Seed report, depth sweep on kate.png at 128 channels, with skip connections (ns = 128).
    public static let seedDepthWithSkip: [(depth: Int, psnr: Double)] = [
        (1, 16.88), (2, 32.59), (5, 38.99), (6, 39.37), (8, 38.48),
    ]

    /// Seed report, depth sweep without skip connections (ns = 0).
    public static let seedDepthWithoutSkip: [(depth: Int, psnr: Double)] = [
        (1, 18.80), (2, 34.98), (5, 38.91), (6, 36.76), (8, 33.14),
    ]

    /// Reference PyTorch runs of the paper protocol (one seed, H100, TF32), final / best dB.
    public static let pytorchReference: [String: (final: Double, best: Double)] = [
        "cameraman": (29.70, 29.70), "house": (38.78, 38.91), "montage": (31.61, 35.31), "peppers": (32.38, 33.17),
    ]
}

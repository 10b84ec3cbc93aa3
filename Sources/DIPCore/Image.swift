/// A planar image: `channels` x `height` x `width` Float32 values, nominally in [0, 1].
///
/// Planar (C x H x W) because that is how the network consumes it and how upstream's
/// `pil_to_np` lays it out; PSNR and masks follow the same layout.
public struct Image: Sendable, Equatable {
    /// Number of channels: 1 (gray) or 3 (RGB).
    public let channels: Int
    /// Rows.
    public let height: Int
    /// Columns.
    public let width: Int
    /// Samples, channel-major then row-major: index `(c * height + y) * width + x`.
    public var pixels: [Float]

    /// Largest side we accept; far beyond any test image, small enough that C*H*W fits easily.
    public static let maxSide = 16384

    /// Creates an image filled with `value`.
    public init(channels: Int, height: Int, width: Int, value: Float = 0) {
        precondition(channels >= 1 && height >= 1 && width >= 1, "image dimensions must be positive")
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = [Float](repeating: value, count: channels * height * width)
    }

    /// Creates an image from planar samples; `pixels.count` must be `channels * height * width`.
    public init(channels: Int, height: Int, width: Int, pixels: [Float]) {
        precondition(channels >= 1 && height >= 1 && width >= 1, "image dimensions must be positive")
        precondition(pixels.count == channels * height * width, "pixel count does not match the shape")
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    /// Number of pixels in one channel.
    public var planeSize: Int { height * width }

    /// Reads or writes one sample.
    @inlinable
    public subscript(c: Int, y: Int, x: Int) -> Float {
        get { pixels[(c * height + y) * width + x] }
        set { pixels[(c * height + y) * width + x] = newValue }
    }

    /// The samples of one channel, as a new one-channel image.
    public func channel(_ c: Int) -> Image {
        let n = planeSize
        return Image(channels: 1, height: height, width: width,
                     pixels: Array(pixels[(c * n)..<((c + 1) * n)]))
    }

    /// The shape as text, "CxHxW" order spelled the way people read sizes: "512x512 RGB".
    public var sizeDescription: String {
        "\(width)x\(height) \(channels == 1 ? "gray" : channels == 3 ? "RGB" : "\(channels)-channel")"
    }

    /// Element-wise product with a mask broadcast over channels where the mask has one channel.
    ///
    /// This is upstream's corrupted input `img * mask`.
    public func masked(by mask: Image) -> Image {
        precondition(mask.height == height && mask.width == width, "mask size does not match")
        precondition(mask.channels == 1 || mask.channels == channels, "mask channels do not match")
        var out = self
        let n = planeSize
        for c in 0..<channels {
            let mc = mask.channels == 1 ? 0 : c
            for i in 0..<n { out.pixels[c * n + i] *= mask.pixels[mc * n + i] }
        }
        return out
    }

    /// A copy with every sample clamped to [0, 1].
    public func clamped() -> Image {
        var out = self
        for i in out.pixels.indices { out.pixels[i] = min(max(out.pixels[i], 0), 1) }
        return out
    }
}

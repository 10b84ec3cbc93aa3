import ArgumentParser
import DIPCore
import Foundation

/// A mask size written WIDTHxHEIGHT.
struct ImageSize: ExpressibleByArgument {
    let width: Int
    let height: Int

    /// Parses `text`, saying what is wrong when it is not a size dip-report takes: for
    /// `@Option(transform:)`, whose error message ArgumentParser shows.
    static func parse(_ text: String) throws -> ImageSize {
        guard let size = ImageSize(argument: text) else {
            throw ValidationError("give WIDTHxHEIGHT with each side from 1 to \(Image.maxSide) pixels, e.g. 512x512")
        }
        return size
    }

    init?(argument: String) {
        let parts = argument.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]),
              (1...Image.maxSide).contains(w), (1...Image.maxSide).contains(h) else { return nil }
        width = w
        height = h
    }
}

/// A text position written X,Y (the top-left of the line, as PIL's draw.text takes it).
struct TextPoint: ExpressibleByArgument {
    let x: Double
    let y: Double

    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 2,
              let x = Double(parts[0].trimmingCharacters(in: .whitespaces)),
              let y = Double(parts[1].trimmingCharacters(in: .whitespaces)),
              x.isFinite, y.isFinite else { return nil }
        self.x = x
        self.y = y
    }
}

/// The flags of `pairs` (flag, whether given) that were given, in order: what `run --plan`
/// names when it refuses flags the plan fixes.
func flagsGiven(_ pairs: [(flag: String, given: Bool)]) -> [String] {
    pairs.filter(\.given).map(\.flag)
}

import Foundation
import Testing
@testable import DIPEngine

@Suite("Upstream state_dict keys")
struct UpstreamKeysTests {
    func tsv(_ preset: String, _ channels: Int) throws -> String {
        let keys = try SkipConfig.preset(preset, outputChannels: channels).upstreamStateDictKeys()
        return (["key\tshape\tkind"] + keys.map(\.description)).joined(separator: "\n")
    }

    /// ../shared/docs/upstream-keys beside the package, when present (CI has it).
    static let sharedKeys: String? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent("shared/docs/upstream-keys").path
        return FileManager.default.fileExists(atPath: dir + "/table1-gray.tsv") ? dir : nil
    }()

    @Test("the embedded key lists are the shared TSV files verbatim", .enabled(if: sharedKeys != nil))
    func embeddedCopiesMatchShared() throws {
        for (file, embedded) in [("table1-gray.tsv", UpstreamKeyTSV.table1Gray), ("text-rgb.tsv", UpstreamKeyTSV.textRGB)] {
            let text = try String(contentsOfFile: Self.sharedKeys! + "/" + file, encoding: .utf8)
            #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == embedded.trimmingCharacters(in: .whitespacesAndNewlines), "\(file)")
        }
    }

    @Test("Table-1 gray keys equal upstream's state_dict, in order")
    func table1() throws {
        #expect(try tsv("table1", 1) == UpstreamKeyTSV.table1Gray)
    }

    @Test("text RGB keys equal upstream's state_dict, in order")
    func text() throws {
        #expect(try tsv("text", 3) == UpstreamKeyTSV.textRGB)
    }

    // Skip-free and no-1x1 layouts are not in the shared TSVs; the expected keys below come
    // from a PyTorch port of upstream's skip() (torch 2.13.0+cpu) that reproduces both TSVs.
    @Test("a level without skip puts its deeper branch where the Concat would be")
    func vase() throws {
        let keys = try SkipConfig.preset("vase", outputChannels: 3).upstreamStateDictKeys()
        #expect(keys.count == 167)
        #expect(keys.prefix(3).map(\.name) == ["1.1.1.weight", "1.1.1.bias", "1.2.weight"])
        #expect(keys.first { $0.name == "1.7.1.1.1.weight" }?.shape == [128, 128, 3, 3])
        #expect(keys.suffix(2).map(\.name) == ["9.1.weight", "9.1.bias"])
        #expect(keys.first { $0.name == "2.weight" }?.shape == [128])
    }

    @Test("without the 1x1 up conv the final conv is child 6")
    func library() throws {
        let keys = try SkipConfig.preset("library-depth2", outputChannels: 3).upstreamStateDictKeys()
        #expect(keys.count == 54)
        #expect(keys.first?.shape == [16, 1, 5, 5])
        #expect(keys.suffix(2).map(\.name) == ["6.1.weight", "6.1.bias"])
        #expect(keys.suffix(2).map(\.shape) == [[3, 16, 1, 1], [3]])
        #expect(keys.contains { $0.name == "1.7.3.1.weight" && $0.shape == [32, 32, 3, 3] })
        #expect(!keys.contains { $0.name.hasPrefix("7.") })
    }
}

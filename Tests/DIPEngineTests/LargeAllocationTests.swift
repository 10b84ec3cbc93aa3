import Foundation
import Testing
@testable import DIPEngine

@Suite("Large buffers on huge pages")
struct LargeAllocationTests {
    /// The VmFlags of the mapping of this process that holds `address` (/proc/self/smaps), or
    /// nil where there is no such file (not Linux).
    static func mappingFlags(of address: UnsafeRawPointer) -> [String]? {
        // Read to the end: proc files report no size, and a whole-file read stops at the first page.
        guard let file = FileHandle(forReadingAtPath: "/proc/self/smaps") else { return nil }
        defer { try? file.close() }
        let smaps = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
        let target = UInt(bitPattern: address)
        var inside = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && bounds[0] <= target && target < bounds[1]
            } else if inside, fields.first == "VmFlags:" {
                return fields.dropFirst().map(String.init)
            }
        }
        return []
    }

    @Test("an activation of 2 MiB or more starts on a huge page and asks the kernel for huge pages")
    func largeTensorsAskForHugePages() {
        let tensor = Tensor([128, 64, 64])  // 2 MiB
        let pooled = TensorPool().tensor(FeatureShape(channels: 128, height: 130, width: 130))
        for pointer in [UnsafeRawPointer(tensor.pointer), UnsafeRawPointer(pooled.pointer)] {
            #expect(UInt(bitPattern: pointer) % UInt(LargeAllocation.hugePageBytes) == 0)
            guard let flags = Self.mappingFlags(of: pointer) else { continue }
            // "hg": the mapping carries MADV_HUGEPAGE (proc(5)).
            #expect(flags.contains("hg"), "flags of the tensor's mapping: \(flags)")
        }
        #expect(tensor.buffer.allSatisfy { $0 == 0 })
    }

    @Test("a small buffer keeps the alignment asked for")
    func smallBuffersStayAsTheyWere() {
        let small = LargeAllocation.allocate(bytes: 4096 * 3, alignment: 4096)
        defer { small.deallocate() }
        #expect(UInt(bitPattern: small) % 4096 == 0)
        let tensor = Tensor([3, 16, 16])
        #expect(UInt(bitPattern: tensor.pointer) % 64 == 0)
    }
}

import DIPCore
import Testing

struct ByteSizeTests {
    @Test("sizes as Slurm and sysfs write them: binary units in either case, a plain number in the caller's unit")
    func byteSizes() {
        #expect(ByteSize.bytes("4G", plainUnit: 1_048_576) == Double(4 * 1_073_741_824))
        #expect(ByteSize.bytes("3500", plainUnit: 1_048_576) == Double(3500 * 1_048_576))
        #expect(ByteSize.bytes("512k", plainUnit: 1) == 524_288 && ByteSize.bytes("2TB", plainUnit: 1) == Double(2 * 1_099_511_627_776))
        #expect(ByteSize.bytes("1.5M", plainUnit: 1) == 1_572_864)
        for bad in ["", "G", "-1G", "0", "4Q", "auto", "infG", "inf", "nanM", "1e400", "1e308T"] { #expect(ByteSize.bytes(bad, plainUnit: 1) == nil, "\(bad)") }
    }
}

import Testing
@testable import DIPCore

@Suite("Seeded random numbers")
struct RandomStreamTests {
    @Test("Philox4x32-10 matches the Random123 known-answer vectors")
    func knownAnswers() {
        let a = RandomStream.philox((0, 0, 0, 0), key: (0, 0))
        #expect([a.0, a.1, a.2, a.3] == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        let b = RandomStream.philox((0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff), key: (0xffff_ffff, 0xffff_ffff))
        #expect([b.0, b.1, b.2, b.3] == [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        let c = RandomStream.philox((0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: (0xa409_3822, 0x299f_31d0))
        #expect([c.0, c.1, c.2, c.3] == [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }
}

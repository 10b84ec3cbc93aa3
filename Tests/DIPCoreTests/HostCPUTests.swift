import Testing
@testable import DIPCore

/// `HostCPU.summary`: a recorded figure must say which machine it came from, also in a virtual
/// machine whose model name is only "AMD EPYC".
struct HostCPUTests {
    /// The start of /proc/cpuinfo on the project's Zen 3 machines (a virtual machine).
    let zen3 = """
        processor\t: 0
        vendor_id\t: AuthenticAMD
        cpu family\t: 25
        model\t\t: 1
        model name\t: AMD EPYC
        stepping\t: 1
        flags\t\t: fpu sse2 avx avx2 fma

        processor\t: 1
        cpu family\t: 25
        model\t\t: 1
        model name\t: AMD EPYC
        """

    @Test func namesFamilyModelAndL2() {
        #expect(HostCPU.summary(cpuinfo: zen3, level2: "512K\n") == "AMD EPYC (family 25, model 1, L2 512K)")
    }

    /// "model" is its own key, not the start of "model name", whichever line comes first.
    @Test func modelIsNotModelName() {
        let reordered = "model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz\ncpu family\t: 6\nmodel\t\t: 106\n"
        #expect(HostCPU.summary(cpuinfo: reordered, level2: nil)
            == "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz (family 6, model 106)")
    }

    /// Whatever is missing is left out; nothing at all still names the processor "unknown".
    @Test func missingFieldsAreLeftOut() {
        #expect(HostCPU.summary(cpuinfo: "model name\t: AMD EPYC\n", level2: "") == "AMD EPYC")
        #expect(HostCPU.summary(cpuinfo: "model name\t: AMD EPYC\ncpu family\t: 25\n", level2: "1024K") == "AMD EPYC (L2 1024K)")
        #expect(HostCPU.summary(cpuinfo: nil, level2: nil) == "unknown")
    }

    /// On this machine: the summary starts with /proc/cpuinfo's model name, as records did before.
    @Test func thisMachine() throws {
        let summary = HostCPU.summary
        #expect(!summary.isEmpty)
        #expect(!summary.hasPrefix(" ") && !summary.hasSuffix(" "))
    }

    @Test("the L2 size in bytes from sysfs's cache size text, nil where unreadable")
    func level2Bytes() {
        #expect(HostCPU.bytes(cacheSize: "512K\n") == 512 << 10)
        #expect(HostCPU.bytes(cacheSize: "1024K") == 1 << 20 && HostCPU.bytes(cacheSize: "2M") == 2 << 20)
        #expect(HostCPU.bytes(cacheSize: "65536") == 65536)
        for bad in [nil, "", "K", "12Q", "-4K", "0K"] { #expect(HostCPU.bytes(cacheSize: bad) == nil, "\(bad ?? "nil")") }
    }
}

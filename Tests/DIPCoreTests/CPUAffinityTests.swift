import Foundation
import Testing
@testable import DIPCore

/// `CPUAffinity` and `HostCPU.usableCores`: thread and job counts follow the CPUs this process
/// may use, not the machine's.
struct CPUAffinityTests {
    @Test("CPU lists are written as Linux writes them")
    func list() {
        #expect(CPUAffinity.list([0]) == "0")
        #expect(CPUAffinity.list([0, 1, 2, 3]) == "0-3")
        #expect(CPUAffinity.list([0, 1, 2, 3, 8, 10, 11]) == "0-3,8,10-11")
        #expect(CPUAffinity.list([]) == "")
    }

    #if os(Linux)
    @Test("the mask read is the one the kernel reports, and usableCores counts it (within a quota)")
    func currentMatchesProc() throws {
        let cpus = try #require(CPUAffinity.current())
        #expect(cpus == cpus.sorted() && !cpus.isEmpty)
        // /proc/thread-self/status: this thread's own mask, as `taskset -p` prints it.
        let status = try String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        #expect(CPUAffinity.list(cpus) == line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces))
        #expect(HostCPU.usableCores == min(cpus.count, CPUQuota.current() ?? cpus.count))
    }

    @Test("a thread narrowed to one CPU reads one usable core, and widened again reads them all")
    func setNarrowsAndWidens() throws {
        let all = try #require(CPUAffinity.current())
        // On a thread of its own, so the test runner's threads keep their CPUs.
        let result = Box()
        let thread = Thread {
            result.narrowed = CPUAffinity.set([all.last!]) ? CPUAffinity.current() : nil
            result.cores = HostCPU.usableCores
            result.widened = CPUAffinity.set(all) ? CPUAffinity.current() : nil
            result.done.signal()
        }
        thread.start()
        result.done.wait()
        #expect(result.narrowed == [all.last!] && result.cores == 1)
        #expect(result.widened == all)
        #expect(!CPUAffinity.set([]) && !CPUAffinity.set([-1]) && !CPUAffinity.set([1 << 20]))
    }

    private final class Box: @unchecked Sendable {
        var narrowed: [Int]?, widened: [Int]?, cores = 0
        let done = DispatchSemaphore(value: 0)
    }
    #endif
}

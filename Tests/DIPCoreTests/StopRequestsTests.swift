import Foundation
import Testing
@testable import DIPCore

@Suite("Stop requests from signals")
struct StopRequestsTests {
    @Test("timeout's two SIGTERMs are one request; Ctrl-C pressed twice by a person, or another signal, quits at once")
    func requests() {
        // `timeout`: the process, then its group, microseconds apart; a third, later, quits.
        var t = StopRequests()
        #expect(t.receive(SIGTERM, at: 100) == .stop)
        #expect(t.receive(SIGTERM, at: 100.0004) == .repeated)
        #expect(t.exitStatus == 143)
        #expect(t.receive(SIGTERM, at: 101) == .quit)
        // A double Ctrl-C 0.2 s apart (a review's: it waited out a 4-second iteration).
        var ctrlC = StopRequests()
        #expect(ctrlC.exitStatus == nil)
        #expect(ctrlC.receive(SIGINT, at: 5) == .stop)
        #expect(ctrlC.receive(SIGINT, at: 5.2) == .quit)
        #expect(ctrlC.exitStatus == 130)
        // Another signal quits however soon; the status stays the first signal's.
        var other = StopRequests()
        #expect(other.receive(SIGUSR1, at: 0) == .stop)
        #expect(other.receive(SIGTERM, at: 0.001) == .quit)
        #expect(other.exitStatus == 128 + SIGUSR1)
        #expect(StopRequests.repeatWindow < 0.2)
    }
}

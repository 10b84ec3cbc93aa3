import Foundation
import Testing
@testable import DIPEngine

@Suite("OpenMP wait policy")
struct OpenMPWaitPolicyTests {
    @Test("the program restarts with a short spin only when the user chose no OpenMP policy, and once")
    func relaunchDecision() {
        #expect(OpenMPWaitPolicy.needsRelaunch(["PATH": "/usr/bin"]))
        #expect(!OpenMPWaitPolicy.needsRelaunch(["GOMP_SPINCOUNT": "300000"]))
        #expect(!OpenMPWaitPolicy.needsRelaunch(["OMP_WAIT_POLICY": "active"]))
        #expect(!OpenMPWaitPolicy.needsRelaunch([OpenMPWaitPolicy.marker: "1", "GOMP_SPINCOUNT": "1000"]))
        // A marker without the count (someone unset it) must not loop either.
        #expect(!OpenMPWaitPolicy.needsRelaunch([OpenMPWaitPolicy.marker: "1"]))
    }

    @Test("a child run as the user would run it gets back the environment without the added spin count")
    func userEnvironment() {
        let ours = ["PATH": "/usr/bin", "GOMP_SPINCOUNT": "1000", OpenMPWaitPolicy.marker: "1"]
        #expect(OpenMPWaitPolicy.userEnvironment(ours) == ["PATH": "/usr/bin"])
        // The user's own setting is theirs: kept.
        let theirs = ["PATH": "/usr/bin", "GOMP_SPINCOUNT": "5"]
        #expect(OpenMPWaitPolicy.userEnvironment(theirs) == theirs)
    }
}

@Suite("OpenMP thread binding")
struct OpenMPBindingTests {
    @Test("the restart turns binding off once and keeps the user's setting for children")
    func unboundOnce() throws {
        let theirs = ["PATH": "/usr/bin", "OMP_PROC_BIND": "spread", "OMP_PLACES": "threads"]
        let restarted = try #require(OpenMPBinding.unbound(theirs))
        #expect(restarted["OMP_PROC_BIND"] == "false" && restarted["OMP_PLACES"] == "threads")
        #expect(OpenMPBinding.unbound(restarted) == nil)
        #expect(OpenMPBinding.userEnvironment(restarted) == theirs)
        // Binding that came from OMP_PLACES alone: the child gets no OMP_PROC_BIND back.
        let placesOnly = ["OMP_PLACES": "cores"]
        #expect(OpenMPBinding.userEnvironment(try #require(OpenMPBinding.unbound(placesOnly))) == placesOnly)
        #expect(OpenMPBinding.userEnvironment(theirs) == theirs)
    }

    @Test("a child run as the user would run it gets both settings back")
    func userEnvironmentOfBoth() throws {
        let theirs = ["PATH": "/usr/bin", "OMP_PROC_BIND": "true"]
        let restarted = try #require(OpenMPBinding.unbound(OpenMPWaitPolicy.adjusted(theirs)))
        #expect(restarted["GOMP_SPINCOUNT"] == "1000" && restarted["OMP_PROC_BIND"] == "false")
        #expect(OpenMPLaunch.userEnvironment(restarted) == theirs)
    }

    @Test("the note names what the user set and both CPU sets")
    func note() {
        let line = OpenMPBinding.note(["OMP_PROC_BIND": "true", "PATH": "/bin"], bound: [0], all: [0, 1, 2, 3])
        #expect(line == "dip-report: OMP_PROC_BIND=true ignored: OpenMP's thread binding would put all of dip-report's own threads on CPU 0; they run unbound on CPUs 0-3")
    }

    @Test("this test process, started without binding, has no places to unbind")
    func noPlacesUnbound() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OMP_PROC_BIND"] == nil, environment["OMP_PLACES"] == nil, environment["GOMP_CPU_AFFINITY"] == nil else { return }
        #expect(OpenMPBinding.places() == nil)
    }
}

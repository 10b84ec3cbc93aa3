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

import Foundation
import Testing
@testable import DIPEngine

@Suite("OpenMP wait policy")
struct OpenMPWaitPolicyTests {
    @Test("the program restarts with a short spin only when the user chose no OpenMP policy, and once")
    func relaunchDecision() {
        #expect(OpenMPWaitPolicy.applies(["PATH": "/usr/bin"]))
        #expect(!OpenMPWaitPolicy.applies(["GOMP_SPINCOUNT": "300000"]))
        #expect(!OpenMPWaitPolicy.applies(["OMP_WAIT_POLICY": "active"]))
        // The restart saved the user's (absent) count: it overrides nothing again, even where
        // someone unset the count it set.
        let restarted = OpenMPLaunch.overriding("GOMP_SPINCOUNT", with: "1000", in: ["PATH": "/usr/bin"])
        #expect(restarted["GOMP_SPINCOUNT"] == "1000" && OpenMPLaunch.restarted(restarted))
        var unset = restarted
        unset["GOMP_SPINCOUNT"] = nil
        #expect(OpenMPLaunch.restarted(unset))
    }

    @Test("a child run as the user would run it gets back the environment without the added spin count")
    func userEnvironment() {
        let ours = OpenMPLaunch.overriding("GOMP_SPINCOUNT", with: "1000", in: ["PATH": "/usr/bin"])
        #expect(OpenMPLaunch.userEnvironment(ours) == ["PATH": "/usr/bin"])
        // The user's own setting is theirs: kept.
        let theirs = ["PATH": "/usr/bin", "GOMP_SPINCOUNT": "5"]
        #expect(OpenMPLaunch.userEnvironment(theirs) == theirs)
    }
}

@Suite("OpenMP settings the restart overrides")
struct OpenMPOverrideTests {
    @Test("each overridden setting is saved once and given back to children")
    func savedAndGivenBack() {
        let theirs = ["PATH": "/usr/bin", "OMP_PROC_BIND": "spread", "OMP_PLACES": "threads", "OMP_THREAD_LIMIT": "1"]
        var restarted = OpenMPLaunch.overriding("OMP_PROC_BIND", with: "false", in: theirs)
        restarted = OpenMPLaunch.overriding("OMP_DYNAMIC", with: "false", in: restarted)
        restarted = OpenMPLaunch.overriding("OMP_THREAD_LIMIT", with: nil, in: restarted)
        #expect(restarted["OMP_PROC_BIND"] == "false" && restarted["OMP_PLACES"] == "threads")
        #expect(restarted["OMP_DYNAMIC"] == "false" && restarted["OMP_THREAD_LIMIT"] == nil)
        #expect(OpenMPLaunch.restarted(restarted) && !OpenMPLaunch.restarted(theirs))
        // OMP_DYNAMIC was not the user's: the child gets none; the others come back as they were.
        #expect(OpenMPLaunch.userEnvironment(restarted) == theirs)
        #expect(OpenMPLaunch.userEnvironment(theirs) == theirs)
    }

    @Test("a child run as the user would run it gets the spin count and the binding back")
    func userEnvironmentOfBoth() {
        let theirs = ["PATH": "/usr/bin", "OMP_PROC_BIND": "true"]
        let restarted = OpenMPLaunch.overriding("OMP_PROC_BIND", with: "false",
                                                in: OpenMPLaunch.overriding("GOMP_SPINCOUNT", with: "1000", in: theirs))
        #expect(restarted["GOMP_SPINCOUNT"] == "1000" && restarted["OMP_PROC_BIND"] == "false")
        #expect(OpenMPLaunch.userEnvironment(restarted) == theirs)
    }

    @Test("the notes name what the user set and why it is ignored")
    func notes() {
        let line = OpenMPBinding.note(["OMP_PROC_BIND": "true", "PATH": "/bin"], bound: [0], all: [0, 1, 2, 3])
        #expect(line == "dip-report: OMP_PROC_BIND=true ignored: OpenMP's thread binding would put all of dip-report's own threads on CPU 0; they run unbound on CPUs 0-3")
        let teams = OpenMPTeams.notes(["OMP_DYNAMIC": "TRUE", "OMP_THREAD_LIMIT": "1"], dynamic: true, threadLimit: 1)
        #expect(teams.count == 2 && teams[0].hasPrefix("dip-report: OMP_DYNAMIC=TRUE ignored: oneDNN waits for every thread")
                && teams[1].hasPrefix("dip-report: OMP_THREAD_LIMIT=1 ignored:"))
        #expect(OpenMPTeams.notes([:], dynamic: false, threadLimit: nil).isEmpty)
    }

    @Test("this test process, started without those settings, has nothing to override")
    func nothingToOverride() {
        let environment = ProcessInfo.processInfo.environment
        guard ["OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY", "OMP_DYNAMIC", "OMP_THREAD_LIMIT"].allSatisfy({ environment[$0] == nil }) else { return }
        #expect(OpenMPBinding.places() == nil)
        let teams = OpenMPTeams.shrinking()
        #expect(!teams.dynamic && teams.threadLimit == nil)
    }
}

import Foundation
import DIPTestSupport
import Testing

/// What `run` and `render` do with a hostile catalog or a user's file replaced by a link
/// (issue 11, points 7 and 8).
@Suite("results folder and the user's Markdown")
struct ResultsFolderTests {
    @Test("a catalog id or image name that would leave the results folder is refused at load (11.7)",
          arguments: [("\"id\" : \"library\"", "\"id\" : \"../../escape\""), ("\"name\" : \"library\"", "\"name\" : \"../library\"")])
    func catalogEscape(replace: String, with replacement: String) throws {
        let s = try Scratch()
        let printed = try s.run(["run", "library", "--print-catalog"])
        #expect(printed.status == 0, "\(printed.stderr)")
        var catalog = printed.stdout.replacingOccurrences(of: replace, with: replacement)
        if !replace.contains("\"id\"") { catalog = catalog.replacingOccurrences(of: "\"id\" : \"library\"", with: "\"id\" : \"mine\"") }
        #expect(catalog.contains(replacement))
        try catalog.write(toFile: s.file("cat.json"), atomically: true, encoding: .utf8)
        let r = try s.run(["run", "--catalog", "cat.json", "--dry-run", "--results", "results"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("cat.json") && r.stderr.contains("may hold only letters"), "\(r.stderr)")
        #expect(!s.exists("escape") && !FileManager.default.fileExists(atPath: s.file("../escape")))
    }

    @Test("render never replaces a dangling-link discussion.md, refuses a dangling link as --out, and says what a folder there is (11.8)")
    func discussionLink() throws {
        let s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.file("results"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: s.file("report"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: s.file("report/discussion.md"), withDestinationPath: "/nonexistent/discussion.md")
        let r = try s.run(["render", "--results", "results", "--out", "report"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("does not exist"), "\(r.stderr)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: s.file("report/discussion.md")) == "/nonexistent/discussion.md")
        // A report folder that is such a link: a usage error naming it, before any work.
        try FileManager.default.createSymbolicLink(atPath: s.file("elsewhere"), withDestinationPath: "/nonexistent/report")
        let linked = try s.run(["render", "--results", "results", "--out", "elsewhere"])
        #expect(linked.status == 64 && linked.stderr.contains("is a link to /nonexistent/report, which does not exist"), "\(linked.stderr)")

        try FileManager.default.removeItem(atPath: s.file("report/discussion.md"))
        try FileManager.default.createDirectory(atPath: s.file("report/discussion.md"), withIntermediateDirectories: false)
        let folder = try s.run(["render", "--results", "results", "--out", "report"])
        #expect(folder.status == 1 && folder.stderr.contains("is a folder"), "\(folder.stderr)")
        #expect(!folder.stderr.contains("permissions"), "\(folder.stderr)")
    }

    @Test("render's hint to open the page quotes a path with a space, so it can be pasted")
    func openHintQuoted() throws {
        let s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.file("results"), withIntermediateDirectories: true)
        let r = try s.run(["render", "--results", "results", "--out", "my report"])
        #expect(r.status == 0 && r.stdout.contains("xdg-open 'my report/index.html'"), "\(r.stdout) \(r.stderr)")
    }
}

/// `run` and what it was asked for: bounded parallelism, and no silent success when stored
/// files block the work (issue 11, points 9 and 12).
@Suite("run's bounds and blocked runs")
struct RunBoundsTests {
    @Test("--jobs and --threads are bounded by the cores (11.9)")
    func jobsBounded() throws {
        let s = try Scratch()
        let r = try s.run(["run", "--jobs", "10000", "--profile", "smoke", "--dry-run"])
        #expect(r.status == 64 && r.stderr.contains("--jobs 10000: at most"), "\(r.stderr)")
        let both = try s.run(["run", "--jobs", "\(ProcessInfo.processInfo.activeProcessorCount * 4)", "--threads", "4",
                              "--profile", "smoke", "--dry-run"])
        #expect(both.status == 64 && both.stderr.contains("threads in all"), "\(both.stderr)")
    }

    @Test("a dry run, or a run refused while planning, into a results folder several levels deep leaves none of the folders it made",
          .enabled(if: SharedTestData.folder(holding: "dip-inpainting/library.png") != nil))
    func dryRunLeavesNoFolders() throws {
        let s = try Scratch()
        let data = try #require(SharedTestData.folder(holding: "dip-inpainting/library.png"))
        let planned = try s.run(["run", "library", "--profile", "smoke", "--results", "new/a/b", "--dry-run", "--no-estimate", "--data", data])
        #expect(planned.status == 0, "\(planned.stderr)")
        // Before, new/a stayed behind (only the leaf was removed).
        #expect(!FileManager.default.fileExists(atPath: s.file("new")), "\(planned.stdout)")
        // Refused for want of data: the same, and a folder that was there stays.
        try FileManager.default.createDirectory(atPath: s.file("kept"), withIntermediateDirectories: true)
        let refused = try s.run(["run", "library", "--profile", "smoke", "--results", "kept/x/y", "--no-estimate", "--data", s.file("nodata")])
        #expect(refused.status != 0, "\(refused.stdout)")
        #expect(FileManager.default.fileExists(atPath: s.file("kept")) && !FileManager.default.fileExists(atPath: s.file("kept/x")), "\(refused.stderr)")
    }

    @Test("a run blocked by an unreadable record makes run exit 1 saying so, with or without --force (11.12)",
          .enabled(if: SharedTestData.folder(holding: "dip-inpainting/library.png") != nil))
    func blockedRuns() throws {
        let s = try Scratch()
        let data = try #require(SharedTestData.folder(holding: "dip-inpainting/library.png"))
        let args = ["run", "library", "--profile", "smoke", "--seeds", "0", "--jobs", "1", "--threads", "1",
                    "--data", data, "--results", "results"]
        let first = try s.run(args)
        #expect(first.status == 0, "\(first.stderr)")
        let folder = s.file("results/library/library")
        let record = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasSuffix(".json") })
        try Data("{ damaged".utf8).write(to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent(record)))
        for extra in [[], ["--force"]] {
            let again = try s.run(args + extra)
            #expect(again.status == 1, "\(extra): \(again.stdout) \(again.stderr)")
            #expect(again.stderr.contains("1 run is blocked by unreadable records"), "\(again.stderr)")
        }
        #expect(try String(contentsOfFile: (folder as NSString).appendingPathComponent(record), encoding: .utf8) == "{ damaged")
    }
}

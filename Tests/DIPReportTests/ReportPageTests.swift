import DIPCore
import DIPEngine
import DIPExperiments
import Foundation
import Testing
@testable import DIPReport

/// Every `<img src="...">` and `href="..."` value of a page.
func references(in html: String) -> [String] {
    html.matches(of: /(?:src|href)="([^"]*)"/).map { String($0.1) }
}

@Suite("Report page")
struct ReportPageTests {
    /// One rendered page shared by the structure checks (rendering takes a few seconds in debug).
    static let rendered: (html: String, out: String, results: String) = {
        let results = SyntheticResults.temporaryFolder("results")
        let out = SyntheticResults.temporaryFolder("out")
        _ = try! SyntheticResults.make(in: results)
        let summary = try! ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "dip-report render --results \(results)")
        return (try! String(contentsOfFile: summary.pagePath, encoding: .utf8), out, results)
    }()

    @Test("a picture a record lists but the folder lacks, cannot read or holds at another size is named in the render's notes, and the page still renders (11.15)")
    func missingPictures() throws {
        let results = SyntheticResults.temporaryFolder("results-missing")
        let out = SyntheticResults.temporaryFolder("out-missing")
        defer { for f in [results, out] { try? FileManager.default.removeItem(atPath: f) } }
        _ = try SyntheticResults.make(in: results, seeds: [0])
        let folder = (results as NSString).appendingPathComponent("table1-paper/barbara")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        let best = try #require(files.first { $0.hasSuffix("-best.png") })
        let final = try #require(files.first { $0.hasSuffix("-final.png") })
        try FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(best))
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent(final)))
        // A picture of another size (a replaced file) is no picture of this run: set aside unread.
        let clean = try #require(files.first { $0.hasSuffix("-clean.png") })
        try PNGCodec.write(Image(channels: 1, height: 30, width: 31), to: (folder as NSString).appendingPathComponent(clean))
        let summary = try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test")
        #expect(summary.notes.contains { $0.contains(best) && $0.contains("the best picture") && $0.contains("is missing") }, "\(summary.notes)")
        #expect(summary.notes.contains { $0.contains(final) && $0.contains("cannot be read") }, "\(summary.notes)")
        #expect(summary.notes.contains { $0.contains(clean) && $0.contains("is 31x30, but the run's image is 24x24") }, "\(summary.notes)")
        #expect(summary.notes.count == 3)
        // Each says how to get the picture back.
        #expect(summary.notes.allSatisfy { $0.contains("to fit it again, delete ") && $0.contains(".json and run `dip-report run table1-paper --seeds ") },
                "\(summary.notes)")
        // The page says so too, where the skipped files are listed.
        let html = try String(contentsOfFile: summary.pagePath, encoding: .utf8)
        #expect(html.contains("set aside:") && html.contains("the best picture of"), "the page hides the missing pictures")
    }

    @Test("a render says when the user's Markdown took long to convert, naming the file and its size (11.10)")
    func slowMarkdownNote() throws {
        let results = SyntheticResults.temporaryFolder("results-slow")
        let out = SyntheticResults.temporaryFolder("out-slow")
        defer { for f in [results, out] { try? FileManager.default.removeItem(atPath: f) } }
        _ = try ResultStore(root: results)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try String(repeating: "Some *text* of the discussion.\n\n", count: 2000)
            .write(toFile: (out as NSString).appendingPathComponent("discussion.md"), atomically: true, encoding: .utf8)
        // Any conversion counts as slow here, so the note's wording is what is checked.
        let summary = try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test", slowMarkdownSeconds: 0)
        #expect(summary.notes.contains { $0.contains("discussion.md (0.1 MB) took") && $0.contains("to turn into HTML") }, "\(summary.notes)")
        let quick = try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test")
        #expect(quick.notes == ["\(results) holds no stored runs, so the page has none (is it the results folder a `run` or `build` wrote?)"], "\(quick.notes)")
        // Past the size a section takes, a note stands in for it at once (23.6 MB took minutes).
        let conclusion = (out as NSString).appendingPathComponent("conclusion.md")
        try String(repeating: "x", count: UserMarkdown.maxBytes + 1).write(toFile: conclusion, atomically: true, encoding: .utf8)
        let t0 = Date()
        let huge = try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test")
        #expect(Date().timeIntervalSince(t0) < 10)
        #expect(huge.notes.contains { $0.hasPrefix("\(conclusion) is 2.0 MB of Markdown, more than the 2 MB a section takes") }, "\(huge.notes)")
        let page = try String(contentsOfFile: huge.pagePath, encoding: .utf8)
        #expect(page.contains("<p class=\"note\">(\(conclusion) is 2.0 MB of Markdown") && !page.contains("xxxxxxxx"))
        // With no run, the Pictures heading and Appendix A say so rather than stand empty.
        #expect(page.contains("<h3>Pictures</h3>") && page.components(separatedBy: "No Table-1 runs stored yet.").count == 3)
        #expect(page.contains("<p class=\"note\">No run stored yet.</p>"))
    }

    @Test("a report sweep not stored while others of its section are is named with the command that fits it (it vanished without a word)")
    func missingSweep() {
        // The fixture stores width and depth, not library.
        let html = Self.rendered.html
        #expect(html.contains("<p class=\"note\">No run of library stored yet: <code>dip-report run library --profile "), "\(html.count)")
        #expect(!html.contains("No run of width") && !html.contains("No run of depth"))
    }

    @Test("what ran, Appendix A and diff's seed table list configurations in the catalog's order, not the records' hash order or as text")
    func catalogOrder() throws {
        let folder = SyntheticResults.temporaryFolder("what-ran")
        let out = SyntheticResults.temporaryFolder("what-ran-page")
        defer { for f in [folder, out] { try? FileManager.default.removeItem(atPath: f) } }
        let store = try ResultStore(root: folder)
        for c in [128, 4, 32, 16] {
            try SyntheticResults.save(store, experiment: "width", group: "experiment2", label: "width \(c)", image: "kate", seed: 0,
                                      network: SkipConfig.uniform(depth: 2, channels: c, skip: 4, outputChannels: 1))
        }
        try SyntheticResults.save(store, experiment: "depth", group: "experiment2", label: "depth 2, skip", image: "kate", seed: 0,
                                  network: SkipConfig.uniform(depth: 2, channels: 128, skip: 128, outputChannels: 1))
        let expected = ["width 4", "width 16", "width 32", "width 128"]
        let groups = ResultDiff.acrossSeeds(try ResultDiff.outcomes(resultsFolder: folder).runs)
        #expect(groups.map(\.label) == expected + ["depth 2, skip"], "width before depth, as the catalog: \(groups.map(\.label))")
        _ = try ReportRenderer.render(resultsFolder: folder, outFolder: out, commandLine: "test")
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        // Where each label first shows after `start`, in the order of `expected` when listed in order.
        func listed(after start: String, as item: (String) -> String) throws -> Bool {
            let part = html[try #require(html.range(of: start)).lowerBound...]
            let at = expected.compactMap { part.range(of: item($0))?.lowerBound }
            return at.count == expected.count && at == at.sorted()
        }
        #expect(try listed(after: "<summary>What ran here</summary><ul><li>width") { "<li>\($0), " }, "section 6's what ran")
        #expect(try listed(after: "<section id=\"seeds\">") { ">\($0)<" }, "Appendix A")
    }

    @Test("the page has the nine sections, in order, and the appendices")
    func sections() {
        let html = Self.rendered.html
        var last = html.startIndex
        for (id, heading) in [("s1", "1. Introduction"), ("s2", "2. Single image restoration"), ("s3", "3. Objective and methods"),
                              ("s4", "4. Default architecture"), ("s5", "5. Experiment 1"), ("s6", "6. Experiment 2"),
                              ("s7", "7. Experiment 3"), ("s8", "8. Discussion"), ("s9", "9. Conclusion"),
                              ("seeds", "Appendix A"), ("provenance", "Appendix B"), ("era", "Appendix C")] {
            let range = html.range(of: "<section id=\"\(id)\"><h2>\(heading)")
            #expect(range != nil, "section \(id) missing")
            if let range {
                #expect(range.lowerBound > last, "section \(id) out of order")
                last = range.lowerBound
            }
        }
    }

    @Test("users' experiments appear: in section 6 or 7 by their group, else under 'Your own experiments' in section 7")
    func userExperiments() throws {
        let html = Self.rendered.html
        let s6 = try #require(html.range(of: "<section id=\"s6\">")), s7 = try #require(html.range(of: "<section id=\"s7\">"))
        let s8 = try #require(html.range(of: "<section id=\"s8\">"))
        let section6 = html[s6.lowerBound..<s7.lowerBound], section7 = html[s7.lowerBound..<s8.lowerBound]
        #expect(section6.contains("mine: PSNR (dB)"))
        #expect(section7.contains("<h3>Your own experiments</h3>"))
        #expect(section7.contains("my-masks: PSNR (dB)") && section7.contains("A user experiment (group my-study)."))
        // The seed report has figures for the width sweep, none for a user's experiment: its columns go.
        func table(_ caption: String) -> Substring? {
            guard let c = html.range(of: "<caption>\(caption)</caption>"), let end = html.range(of: "</table>", range: c.upperBound..<html.endIndex) else { return nil }
            return html[c.lowerBound..<end.upperBound]
        }
        let mine = try #require(table("mine: PSNR (dB)")), width = try #require(table("Width sweep at depth 5: PSNR (dB)"))
        #expect(!mine.contains(">seed report</th>") && width.contains(">seed report</th>"))
    }

    @Test("Table 1 has the reference rows, our rows and the 13 images")
    func table1() throws {
        let html = Self.rendered.html
        let start = try #require(html.range(of: "<table id=\"table1\">"))
        let table = String(html[start.lowerBound..<html[start.lowerBound...].range(of: "</table>")!.upperBound])
        let header = table.matches(of: /<th scope="col">([^<]*)<\/th>/).map { String($0.1) }
        #expect(header.count == 14)
        #expect(Array(header.dropFirst()) == ReferenceNumbers.table1Images.map(\.label))
        for row in ["Papyan et al. (paper)", "DIP (paper)", "Seed report (best)", "Ours, paper protocol, best",
                    "Ours, paper protocol, final", "Ours, seed protocol, best", "Ours, seed protocol, final",
                    "TV (paper protocol masks)", "Ours (paper protocol, best) − paper"] {
            #expect(table.contains(">\(row)</th>"), "row \(row) missing")
        }
        // Barbara's final PSNR over seeds 0 and 1 is paper - 1 + {0, 0.5}: mean 31.47, std 0.35.
        #expect(table.contains(">31.47 ±0.35<"))
        #expect(table.contains("table1-paper/barbara/"))
        #expect(table.contains("class=\"pos\"") || table.contains("class=\"neg\""))
    }

    @Test("every picture is a data URI and nothing refers outside the file")
    func selfContained() {
        let html = Self.rendered.html
        let refs = references(in: html)
        #expect(refs.count > 50)
        for ref in refs {
            #expect(ref.hasPrefix("data:image/png;base64,") || ref.hasPrefix("#"), "external reference \(ref.prefix(60))")
        }
        #expect(!html.contains("<script"))
        #expect(!html.contains("<link"))
        #expect(!html.contains("@import") && !html.contains("url("))
        #expect(!html.contains("<svg"))
    }

    @Test("hostile image names and labels are escaped")
    func escaping() {
        let html = Self.rendered.html
        #expect(!html.contains(SyntheticResults.hostileImage))
        #expect(!html.contains("<script>alert('label')"))
        #expect(html.contains(HTMLText.escape(SyntheticResults.hostileImage)))
        #expect(html.contains("width &quot;&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt;"))
    }

    @Test("the smoke banner says the numbers are not comparable to the paper's")
    func banner() {
        #expect(Self.rendered.html.contains("<strong>Not comparable to the paper.</strong> These results come from the smoke profile"))
    }

    @Test("the architecture is drawn from the network that ran, and provenance names commit, machine and command")
    func provenance() {
        let html = Self.rendered.html
        #expect(html.contains("as run for table1-paper/"))
        #expect(html.contains("abc1234"))
        #expect(html.contains("test-host: test cpu, 2 cores"))
        #expect(html.contains("dip-report render --results"))
    }

    @Test("a run resumed in another setup is listed in the provenance with where each stretch ran; a page without one has no such row")
    func resumedInAnotherSetup() throws {
        let (results, out, store) = try oneRun("stretches")
        let plain = try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test")
        #expect(!(try String(contentsOfFile: plain.pagePath, encoding: .utf8)).contains("Resumed in another setup"))
        try SyntheticResults.save(store, experiment: "table1-paper", group: "experiment1", label: "DIP (paper protocol)", image: "kodim01", seed: 0,
                                  computeStretches: [ComputeStretch(fromIteration: 0, cpu: "test cpu", threads: 1, backend: "cpu", device: nil),
                                                     ComputeStretch(fromIteration: 12, cpu: "test cpu", threads: 2, backend: "cpu", device: nil)])
        let page = try String(contentsOfFile: try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test").pagePath,
                              encoding: .utf8)
        #expect(page.contains("Resumed in another setup"))
        #expect(page.contains("1 thread, cpu on test cpu from iteration 0, then 2 threads, cpu on test cpu from iteration 12"))
        // A copy of that run under another experiment (TwinCopy) names it instead of repeating its stretches.
        let fitted = try #require(store.records(experiment: "table1-paper").first { $0.computeStretches != nil }?.key)
        try SyntheticResults.save(store, experiment: "table1-seed", group: "experiment1", label: "DIP (paper protocol)", image: "kodim01",
                                  seed: 0, computeStretches: [ComputeStretch(fromIteration: 0, cpu: "test cpu", threads: 1, backend: "cpu", device: nil),
                                                              ComputeStretch(fromIteration: 12, cpu: "test cpu", threads: 2, backend: "cpu", device: nil)],
                                  copiedFrom: fitted)
        let withCopy = try String(contentsOfFile: try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test").pagePath,
                                  encoding: .utf8)
        #expect(withCopy.contains(": a copy of \(fitted)"), "\(fitted)")
        #expect(withCopy.components(separatedBy: "from iteration 12").count == 2, "the stretches once, for the fitted run")
    }

    /// A results folder with one run (table1-paper, barbara, seed 0) and a report folder.
    private func oneRun(_ name: String) throws -> (results: String, out: String, store: ResultStore) {
        let results = SyntheticResults.temporaryFolder("results-\(name)")
        let store = try ResultStore(root: results)
        try SyntheticResults.save(store, experiment: "table1-paper", group: "experiment1", label: "DIP (paper protocol)", image: "barbara", seed: 0)
        return (results, SyntheticResults.temporaryFolder("out-\(name)"), store)
    }

    @Test("user Markdown is created once, then kept across rebuilds and rendered")
    func userMarkdownKept() throws {
        let (results, out, _) = try oneRun("md")
        let first = try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test")
        #expect(first.createdFiles.count == 2)
        let discussion = (out as NSString).appendingPathComponent("discussion.md")
        #expect(try String(contentsOfFile: discussion, encoding: .utf8).contains("Placeholder text"))
        try "## Our findings\n\nBarbara *improved*.\n\n<script>alert('md')</script>\n".write(toFile: discussion, atomically: true, encoding: .utf8)
        let second = try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test")
        #expect(second.createdFiles.isEmpty)
        #expect(try String(contentsOfFile: discussion, encoding: .utf8).hasPrefix("## Our findings"))
        let html = try String(contentsOfFile: second.pagePath, encoding: .utf8)
        #expect(html.contains("<h4>Our findings</h4>"))
        #expect(html.contains("Barbara <em>improved</em>."))
        #expect(!html.contains("<script>alert('md')"))
        #expect(html.contains("&lt;script&gt;alert"))
        // Emptied: said so where the section goes, and not replaced by the placeholder.
        try "\n  \n".write(toFile: discussion, atomically: true, encoding: .utf8)
        let third = try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test")
        #expect(try String(contentsOfFile: third.pagePath, encoding: .utf8).contains("discussion.md is empty: write this section there"))
        #expect(try String(contentsOfFile: discussion, encoding: .utf8) == "\n  \n")
    }

    @Test("renders of one folder take turns, each reading the store in its turn: a run stored while another render holds the folder is on the page")
    func rendersTakeTurns() throws {
        let (results, out, store) = try oneRun("turns")
        final class Outcome: @unchecked Sendable { var summary: RenderSummary?; var error: (any Error)? }
        let outcome = Outcome()
        let finished = DispatchSemaphore(value: 0), waiting = DispatchSemaphore(value: 0)
        // This test takes the turn another build's render would hold (a lock of its own open
        // file, which a second open in the same process waits for as another process would).
        try FileLock.withExclusive((out as NSString).appendingPathComponent(ReportRenderer.lockName)) { lock in
            #expect(lock == .free)
            Thread.detachNewThread {
                do {
                    outcome.summary = try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test",
                                                                onWait: { waiting.signal() })
                } catch {
                    outcome.error = error
                }
                finished.signal()
            }
            // Held on for over a second once the render waits (a note says so from 1 s), however
            // late a loaded machine starts that thread.
            #expect(waiting.wait(timeout: .now() + 60) == .success, "the render never came to wait for its turn")
            usleep(1_200_000)
            #expect(finished.wait(timeout: .now()) == .timedOut, "the render did not wait for its turn")
            // The other build's last run is stored while it still renders.
            try SyntheticResults.save(store, experiment: "table1-paper", group: "experiment1", label: "DIP (paper protocol)", image: "barbara", seed: 1)
        }
        #expect(finished.wait(timeout: .now() + 120) == .success)
        #expect(outcome.error == nil, "\(String(describing: outcome.error))")
        let summary = try #require(outcome.summary)
        #expect(summary.records == 2, "the render read the store before its turn")
        #expect(summary.notes.contains { $0.hasPrefix("waited ") && $0.contains("for another render of \(out)") }, "\(summary.notes)")
    }

    @Test("an empty results folder renders a page that says so; a missing one is a clear error")
    func emptyAndMissing() throws {
        let results = SyntheticResults.temporaryFolder("results-empty")
        let out = SyntheticResults.temporaryFolder("out-empty")
        let summary = try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test")
        #expect(summary.records == 0)
        let html = try String(contentsOfFile: summary.pagePath, encoding: .utf8)
        #expect(html.contains("No stored run has a mask yet."))
        // Every experiment's section says how to fill it.
        #expect(html.contains("<code>dip-report run width depth library</code>") && html.contains("<code>dip-report run optimizers</code>"))
        #expect {
            _ = try ReportRenderer.render(resultsFolder: results + "/nope", outFolder: out, commandLine: "test")
        } throws: { "\($0)".contains("nope") && "\($0)".contains("no such results folder") }
    }
}

import DIPCore
import DIPExperiments
import DIPTestSupport
import Foundation
import Testing
@testable import DIPReport

/// The shared test images, when present (barbara.png stands for the set).
private let smokeData = SharedTestData.folder(holding: "bm3d/barbara.png")

@Suite("Report from a real smoke run")
struct SmokeReportTests {
    @Test("the smoke profile's results render into a complete, self-contained page",
          .enabled(if: smokeData != nil))
    func smokePage() throws {
        let results = SyntheticResults.temporaryFolder("smoke-results")
        let out = SyntheticResults.temporaryFolder("smoke-out")
        defer {
            try? FileManager.default.removeItem(atPath: results)
            try? FileManager.default.removeItem(atPath: out)
        }
        let store = try ResultStore(root: results, create: true)
        let runner = Runner(store: store, options: RunnerOptions(dataDirectory: smokeData!, profile: .smoke,
                                                                 seeds: [0], jobs: 1, threadsPerJob: 1))
        let summary = runner.execute(try runner.plan(Catalog.experiments), events: { _ in })
        #expect(summary.failed == 0)
        let page = try ReportRenderer.render(resultsFolder: results, outFolder: out, commandLine: "test")
        let html = try String(contentsOfFile: page.pagePath, encoding: .utf8)

        for id in ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"] {
            #expect(html.contains("<section id=\"\(id)\">"), "section \(id) missing")
        }
        // Table 1: 13 images, and every image has a number in our paper-protocol and TV rows.
        let start = try #require(html.range(of: "<table id=\"table1\">"))
        let table = String(html[start.lowerBound..<html[start.lowerBound...].range(of: "</table>")!.upperBound])
        #expect(table.matches(of: /<th scope="col">([^<]*)<\/th>/).count == 14)
        for row in ["Ours, paper protocol, best", "Ours, seed protocol, final", "TV (paper protocol masks)"] {
            let r = try #require(table.range(of: ">\(row)</th>"), "row \(row) missing")
            let line = String(table[r.upperBound..<table[r.upperBound...].range(of: "</tr>")!.lowerBound])
            #expect(line.matches(of: /<td[^>]*>[0-9]+\.[0-9]{2}/).count == 13, "row \(row) lacks numbers")
        }
        // Each of the 13 galleries shows the clean image and the error map the runs store.
        #expect(html.matches(of: /alt="clean"/).count == 13)
        #expect(html.matches(of: /alt="error of best/).count == 13)
        // Self-contained: every reference is an embedded picture or an in-page anchor.
        for ref in references(in: html) {
            #expect(ref.hasPrefix("data:image/png;base64,") || ref.hasPrefix("#"), "external reference \(ref.prefix(60))")
        }
        #expect(html.contains("Not comparable to the paper"))
        // Section 5's text names the paper protocol; beside it the page says what the smoke
        // runs ran (from their records) and where that is not the protocol (issue 11.16).
        let s5 = try #require(html.range(of: "<section id=\"s5\">"))
        let section5 = String(html[s5.lowerBound..<html[s5.lowerBound...].range(of: "</section>")!.upperBound])
        #expect(section5.contains("<li>DIP (paper protocol), smoke profile: Adam LR 0.001, 8 iterations, 11 channels, input code 6 maps"))
        #expect(section5.contains("Not the protocol: 8 iterations instead of 11000; 11 channels instead of 128; 6 input-code maps instead of 32"))
        // Table 1's Bernoulli masks are cut from the centre; only text and file masks follow the holes.
        #expect(section5.contains("images cropped at the centre (64x64 or larger where a net needs it)"))
        #expect(!section5.contains("around the holes"))
        #expect(section5.contains("<li>DIP (seed protocol), smoke profile: Adam LR 0.01"))
        #expect(section5.contains("<li>TV (paper protocol masks), smoke profile: TV, 30 iterations"))
        #expect(html.contains("<li>width 128, smoke profile:"))
        // kate's text mask: its window follows the holes.
        #expect(html.range(of: "<li>width 128, smoke profile:[^<]*images cropped around the holes", options: .regularExpression) != nil)
        // L-BFGS's records count upstream's Adam warm-up too (108 evaluations for 8 iterations).
        #expect(html.contains("<li>lbfgs lr=0.01, smoke profile: L-BFGS LR 0.01, 8 iterations after 100 Adam steps at LR 0.001 (the records count 108)"))
        // The smoke crops are 64x64 but depth 8 needs 512x512: its rows say they ran elsewhere.
        #expect(html.contains("depth 8, skip (on 512x512, the others 64x64)"))
        #expect(html.contains("ran on a larger window of the image than the others"))

        // The era appendix: table1-paper's runs are its paper-era row, the other three
        // combinations ran on the same 13 crops; one seed, so no claim about the seed spread.
        let eraStart = try #require(html.range(of: "<section id=\"era\">"))
        let era = String(html[eraStart.lowerBound..<html[eraStart.lowerBound...].range(of: "</section>")!.upperBound])
        let eraRows = era.matches(of: /<tr class="ours"><th scope="row"[^>]*>([^<]*)<\/th><td[^>]*>([^<]*)<\/td><td[^>]*>([0-9]+\.[0-9]{2})</)
        #expect(eraRows.map { String($0.1) } == ["gamma U(0,1), align_corners true (paper era: table1-paper&#39;s runs)"]
                    + Catalog.eraCombinations.map { $0.label.replacingOccurrences(of: "'", with: "&#39;") })
        #expect(eraRows.allSatisfy { $0.2 == "13 × 1" })
        let findings = era.matches(of: /<p class="finding">([^<]*)<\/p>/).map { String($0.1) }
        #expect(findings.count == 2)
        #expect(findings.first?.hasPrefix("γ = 1 ended ") == true && findings.first?.contains("over 13 images × 1 seed") == true)
        #expect(findings.last?.hasPrefix("align_corners false ended ") == true)
        #expect(findings.allSatisfy { $0.hasSuffix("with one seed there is no seed spread to set it against.") })
        #expect(era.matches(of: /alt="PSNR curves of (barbara|boat) under the four combinations"/).count == 2)
        #expect(era.contains("What ran here") && era.contains("smoke profile: Adam LR 0.001, 8 iterations"), "era lacks what ran")
    }
}

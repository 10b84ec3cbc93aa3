import DIPCore
import DIPEngine
import DIPExperiments
import Foundation
import Testing
@testable import DIPReport

private let gammaSentence = "γ = 1 ended 0.95 dB below γ ~ U(0,1) in final PSNR on average over 4 images × 3 seeds (everything else as in the paper era; per-seed means −1.05 to −0.85 dB), beyond the seed spread on 2 of 4 images."
private let alignSentence = "align_corners false ended 0.05 dB above align_corners true in final PSNR on average over 4 images × 3 seeds (everything else as in the paper era; per-seed means +0.05 to +0.05 dB), beyond the seed spread on 0 of 4 images."

/// The text of the `era` section of a page.
private func eraSection(_ html: String) throws -> String {
    let start = try #require(html.range(of: "<section id=\"era\">"))
    return String(html[start.lowerBound..<html[start.lowerBound...].range(of: "</section>")!.upperBound])
}

/// The cells of the row headed `name` of a table's HTML.
private func row(_ table: String, _ name: String) throws -> [String] {
    let r = try #require(table.range(of: ">\(name)</th>"), "row \(name) missing")
    let line = String(table[r.upperBound..<table[r.upperBound...].range(of: "</tr>")!.lowerBound])
    return line.matches(of: /<td[^>]*>([^<]*)<\/td>/).map { String($0.1) }
}

@Suite("The era section")
struct EraSectionTests {
    @Test("the section renders the table, the two sentences and two plots from known differences")
    func section() throws {
        let out = SyntheticResults.temporaryFolder("era-out")
        let page = try ReportRenderer.render(resultsFolder: try SyntheticResults.era("page"), outFolder: out, commandLine: "test")
        let html = try eraSection(try String(contentsOfFile: page.pagePath, encoding: .utf8))
        #expect(html.contains(">\(gammaSentence)</p>"))
        #expect(html.contains(">\(alignSentence)</p>"))
        #expect(html.matches(of: /class="finding"/).count == 2, "one sentence per knob changed alone")
        // Rows: the four combinations; columns: images x seeds, final, best, difference, images beyond.
        let paperEra = try row(html, "gamma U(0,1), align_corners true (paper era: table1-paper&#39;s runs)")
        #expect(paperEra[0] == "4 × 3" && paperEra[3] == "reference")
        // barbara, boat, house, lena: paper 32.22, 33.06, 39.16, 36.16; the seeds add 0, 0.5, 1.0, minus 1.
        let meanPaperEra = (32.22 + 33.06 + 39.16 + 36.16) / 4 - 1 + 0.5
        #expect(paperEra[1] == String(format: "%.2f", meanPaperEra))
        let gamma = try row(html, "gamma 1, align_corners true")
        #expect(gamma[1] == String(format: "%.2f", meanPaperEra - 0.95))
        #expect(gamma[3] == "−0.95 (seeds −1.05 to −0.85)" && gamma[4] == "2 of 4")
        let align = try row(html, "gamma U(0,1), align_corners false")
        #expect(align[3] == "+0.05 (seeds +0.05 to +0.05)" && align[4] == "0 of 4")
        let both = try row(html, "gamma 1, align_corners false (today&#39;s PyTorch)")
        #expect(both[3] == "−0.90 (seeds −0.90 to −0.90)" && both[4] == "0 of 4")
        #expect(html.contains("class=\"neg\" title=\"knobs: gammaInit: uniform → one"))
        // Curves of two images, the four combinations' seeds overlaid.
        #expect(html.matches(of: /alt="PSNR curves of (barbara|boat) under the four combinations"/).count == 2)
    }

    @Test("a pair without a final on one side is not counted as averaged: the counts say over how many runs the means are")
    func pairWithoutFinal() throws {
        let folder = SyntheticResults.temporaryFolder("era-diverged")
        _ = try SyntheticResults.makeEra(in: folder, images: eraImages, seeds: [0, 1, 2], eraOffsets: eraOffsets,
                                         diverged: (image: "barbara", seed: 1))
        let c = try ResultDiff.within(try ResultDiff.outcomes(resultsFolder: folder).runs, experiment: "era")
        #expect(c[0].pairs.count == 12 && c[0].pairsWithFinals == 11)
        #expect(EraText.sentence(c[0])?.contains("on average over 11 paired runs (1 more without a final on both sides) on 4 images (") == true)
        #expect(ResultDiff.summaryLine(c[0]).contains("on average over 11 paired runs (1 more without a final on both sides) (4 images, 3 seeds)"))
        let out = SyntheticResults.temporaryFolder("era-diverged-out")
        let page = try ReportRenderer.render(resultsFolder: folder, outFolder: out, commandLine: "test")
        let html = try eraSection(try String(contentsOfFile: page.pagePath, encoding: .utf8))
        let paperEra = try row(html, "gamma U(0,1), align_corners true (paper era: table1-paper&#39;s runs)")
        #expect(paperEra[0] == "4 × 3, 11 with a final")
        #expect(try row(html, "gamma 1, align_corners true")[0] == "4 × 3")
    }

    @Test("with one seed the sentences make no claim about the seed spread")
    func oneSeed() throws {
        let runs = try ResultDiff.outcomes(resultsFolder: try SyntheticResults.era("one-seed", seeds: [1])).runs
        let c = try ResultDiff.within(runs, experiment: "era")
        #expect(c[0].imagesWithSpread.isEmpty)
        #expect(EraText.sentence(c[0]) == "γ = 1 ended 0.95 dB below γ ~ U(0,1) in final PSNR on average over 4 images × 1 seed (everything else as in the paper era); with one seed there is no seed spread to set it against.")
        #expect(EraText.sentence(c[2]) == nil, "two knobs changed: the table says it, no sentence attributes it")
    }

    @Test("without era runs the section says how to make them")
    func empty() throws {
        let results = SyntheticResults.temporaryFolder("no-era")
        _ = try SyntheticResults.make(in: results)
        let page = try ReportRenderer.render(resultsFolder: results, outFolder: SyntheticResults.temporaryFolder("no-era-out"), commandLine: "test")
        let html = try eraSection(try String(contentsOfFile: page.pagePath, encoding: .utf8))
        #expect(html.contains("No era runs stored yet") && !html.contains("era-table"))
    }
}

import DIPCore
import Foundation
import Testing
@testable import DIPReport

/// The path of `chromium` on PATH, if any.
func chromiumPath() -> String? { programPath("chromium") }

/// The path of `name` on PATH, if any.
func programPath(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let path = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// Runs `program` with `arguments`; its standard output, and whether it exited 0.
private func output(of program: String, _ arguments: [String]) throws -> (text: String, ok: Bool) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (String(decoding: data, as: UTF8.self), process.terminationStatus == 0)
}

@Suite("Headless browser")
struct BrowserTests {
    @Test("chromium renders the page, and the screenshot is not blank", .enabled(if: chromiumPath() != nil, "chromium is not installed"))
    func screenshot() throws {
        let html = ReportPageTests.rendered.html
        #expect(!html.isEmpty)
        let page = (ReportPageTests.rendered.out as NSString).appendingPathComponent("index.html")
        let shot = (ReportPageTests.rendered.out as NSString).appendingPathComponent("screenshot.png")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromiumPath()!)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,2400",
                             "--screenshot=\(shot)", "file://\(page)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let image = try PNGCodec.read(shot).image
        #expect(image.width == 1000 && image.height == 2400)
        // Text, tables and figures put ink on a good share of the page.
        #expect(inkedFraction(image) > 0.03)
    }

    @Test("the printed page (PDF) keeps every column of Table 1: paper does not scroll",
          .enabled(if: chromiumPath() != nil && programPath("pdftotext") != nil, "chromium or pdftotext (poppler-utils) is not installed"))
    func printedTablesKeepTheirColumns() throws {
        let page = (ReportPageTests.rendered.out as NSString).appendingPathComponent("index.html")
        let pdf = (ReportPageTests.rendered.out as NSString).appendingPathComponent("printed.pdf")
        let printed = try output(of: chromiumPath()!, ["--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                                                       "--print-to-pdf=\(pdf)", "file://\(page)"])
        #expect(printed.ok)
        let text = try output(of: programPath("pdftotext")!, [pdf, "-"])
        #expect(text.ok)
        // Table 1's last plain column headers, each a line of its own (the gallery and curve
        // captions name the images too, never alone on a line). A table clipped by its scroll
        // box, as the page printed before, loses them.
        let lines = Set(text.text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        let missing = ["Hill", "Man", "Montage"].filter { !lines.contains($0) }
        #expect(missing.isEmpty, "Table 1's columns \(missing) are missing from the printed page")
    }
}

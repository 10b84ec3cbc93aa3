import DIPCore
import Foundation
import Testing
@testable import DIPReport

/// The path of `chromium` on PATH, if any.
func chromiumPath() -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let path = "\(dir)/chromium"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
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
}

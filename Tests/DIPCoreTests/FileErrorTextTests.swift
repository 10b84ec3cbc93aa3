import DIPTestSupport
import Foundation
import Testing
@testable import DIPCore

@Suite("File errors in words")
struct FileErrorTextTests {
    @Test("a folder that cannot be made is explained by what is in its way, not by Foundation's error number")
    func folderInTheWay() throws {
        let root = TestFolder.path("dip-file-errors")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/file"))
        let folder = root + "/file/report"
        #expect(throws: (any Error).self) { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            let text = FileErrorText.describe(error, makingFolder: folder)
            #expect(!text.contains("NSCocoaErrorDomain"), "\(text)")
            #expect(text.contains("Not a directory") || text.contains("\(root)/file is a file, not a folder"), "\(text)")
        }
        // Through AtomicFile, as every output of the tool is written.
        #expect { try AtomicFile.write(Data(), to: folder + "/index.html") } throws: {
            let text = "\($0)"
            return text.contains("cannot create directory") && !text.contains("NSCocoaErrorDomain")
        }
        #expect(FileErrorText.folderProblem(writingIn: root + "/new/deeper") == nil, "a missing folder under a writable one can be made")
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: root + "/gone")
        for path in [root + "/link", root + "/link/deeper"] {
            #expect(FileErrorText.folderProblem(writingIn: path) == "\(root)/link is a link to \(root)/gone, which does not exist; make that folder or remove the link")
        }
    }
}

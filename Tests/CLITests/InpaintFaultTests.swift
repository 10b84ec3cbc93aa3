import DIPCore
import Foundation
import Testing

/// `dip-report inpaint` facing faults: a diverging fit and outputs that cannot be written
/// (issue 11, points 1-4). Each runs the built tool on a 16x16 image with the smallest network.
@Suite("inpaint: divergence and output paths")
struct InpaintFaultTests {
    @Test("a diverging fit exits 2 naming the iteration, and still writes the best iterate and the curve (11.1)")
    func divergence() throws {
        let s = try Scratch()
        let r = try s.inpaint(["--bernoulli", "0.5", "--lr", "1e30", "--out", "x.png", "--best-out", "b.png", "--curve", "c.json"], iterations: 20)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("diverged at iteration"), "\(r.stderr)")
        #expect(!r.stderr.contains("NaN' "), "\(r.stderr)")
        #expect(s.exists("b.png") && s.exists("c.json"))
        #expect(!s.exists("x.png"))
        let curve = try String(contentsOfFile: s.file("c.json"), encoding: .utf8)
        #expect(curve.contains("\"status\":\"diverged at iteration"))
        // One error, the divergence; what was not written is a note.
        #expect(r.stderr.components(separatedBy: "Error: ").count == 2 && r.stderr.contains("note: --out x.png not written"), "\(r.stderr)")
    }

    @Test("bad output paths are refused before the fit starts, with the flag named (11.2, 11.3)",
          arguments: [
              ("--out", "folder"), ("--out", ""), ("--out", "image.png/x.png"), ("--out", "/proc/x.png"),
              ("--out", "/dev/full"), ("--out", "/dev/null"), ("--out", "fifo"), ("--out", "dangling"),
              ("--curve", "folder"), ("--best-out", "folder"), ("--save-weights", "folder"),
              ("--curve", "/dev/stdout"), ("--curve", "/proc/self/fd/1"), ("--out", "-"),
          ])
    func badOutputs(flag: String, path: String) throws {
        let s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.file("folder"), withIntermediateDirectories: false)
        #expect(mkfifo(s.file("fifo"), 0o644) == 0)
        try FileManager.default.createSymbolicLink(atPath: s.file("dangling"), withDestinationPath: "no/such/folder/x.png")
        var args = ["--bernoulli", "0.5", flag, path]
        if flag != "--out" { args += ["--out", "ok.png"] }
        let r = try s.inpaint(args, iterations: 200)
        #expect(r.status == 64, "\(flag) \(path): \(r.stderr)")
        #expect(r.stderr.contains("\(flag) '\(path)'"), "\(r.stderr)")
        // Refused before the fit: no progress, nothing written.
        #expect(!r.stdout.contains("iter "), "\(r.stdout)")
        #expect(!s.exists("ok.png"))
        var info = stat()
        #expect(stat("/dev/full", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
        #expect(lstat(s.file("fifo"), &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
    }

    @Test("an output name or path too long for the system is refused before the fit, and no folder of it is made")
    func tooLongOutputs() throws {
        let s = try Scratch()
        let longName = String(repeating: "a", count: 300) + ".png"
        let deep = Array(repeating: String(repeating: "d", count: 200), count: 25).joined(separator: "/") + "/x.png"
        for (path, words) in [(longName, "more than the 255 a file or folder name may have"), (deep, "more than the 4095 a path may have")] {
            let r = try s.inpaint(["--bernoulli", "0.5", "--out", path], iterations: 200)
            #expect(r.status == 64, "\(r.stderr)")
            #expect(r.stderr.contains("--out '") && r.stderr.contains(words), "\(r.stderr)")
            #expect(!r.stdout.contains("iter "), "\(r.stdout)")
        }
        #expect(!s.exists(String(repeating: "d", count: 200)))
        let run = try s.run(["run", "--profile", "smoke", "--results", longName, "--dry-run"])
        #expect(run.status == 64 && run.stderr.contains("more than the 255"), "\(run.stderr)")
    }

    @Test("an output that is an input, or two outputs that are one file, are refused (11.4)")
    func outputsClash() throws {
        let s = try Scratch()
        let image = try Data(contentsOf: URL(fileURLWithPath: s.file("image.png")))
        let mask = try Data(contentsOf: URL(fileURLWithPath: s.file("mask.png")))
        for args in [["--mask", "mask.png", "--out", "image.png"], ["--mask", "mask.png", "--out", "./mask.png"],
                     ["--mask", "mask.png", "--out", "f", "--curve", "f"]] {
            let r = try s.inpaint(args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
            #expect(r.stderr.contains("same file") || r.stderr.contains("would destroy it"), "\(r.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.file("image.png"))) == image)
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.file("mask.png"))) == mask)
        #expect(!s.exists("f"))
    }

    @Test("a symbolic link is written through: the link stays and its target gets the picture (11.3)")
    func symlinkWrittenThrough() throws {
        let s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.file("real"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: s.file("link.png"), withDestinationPath: "real/restored.png")
        let r = try s.inpaint(["--bernoulli", "0.5", "--out", "link.png"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: s.file("link.png")) == "real/restored.png")
        #expect(FileManager.default.fileExists(atPath: s.file("real/restored.png")))
    }

    @Test("a good run writes everything it was asked for, exits 0 and keeps notes off stdout (11.15)")
    func goodRun() throws {
        let s = try Scratch()
        let r = try s.inpaint(["--mask", "mask.png", "--out", "sub/dir/out.png", "--best-out", "best.png",
                               "--curve", "curve.json", "--save-weights", "w.safetensors"])
        #expect(r.status == 0, "\(r.stderr)")
        for name in ["sub/dir/out.png", "best.png", "curve.json", "w.safetensors"] { #expect(s.exists(name), "\(name)") }
        // library-depth2 pads 16x16 to a multiple of 4? It does not need to; any note goes to stderr.
        #expect(!r.stdout.contains("note:") && !r.stdout.contains("warning:"), "\(r.stdout)")
        // The curve says what it was fitted to, where and by which build.
        let curve = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.file("curve.json")))) as? [String: Any]
        let inputs = curve?["inputs"] as? [String: Any]
        #expect(curve?["version"] as? Int == 2 && (curve?["losses"] as? [Any])?.count == 3, "\(String(describing: curve))")
        let imageHash = try SHA256.hex(ofFileAt: s.file("image.png")), maskHash = try SHA256.hex(ofFileAt: s.file("mask.png"))
        #expect(inputs?["image"] as? String == "image.png" && inputs?["imageSHA256"] as? String == imageHash)
        #expect(inputs?["maskSHA256"] as? String == maskHash && (inputs?["mask"] as? String)?.contains("mask.png") == true)
        #expect((inputs?["machine"] as? [String: Any])?["threads"] as? Int == 1, "\(String(describing: inputs))")
        #expect(((inputs?["software"] as? [String: Any])?["commit"] as? String)?.isEmpty == false, "\(String(describing: inputs))")
    }
}

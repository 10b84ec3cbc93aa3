import DIPCore
import DIPTestSupport
import Foundation
import Testing

/// Values a user types wrongly get exit 64 and a message naming the flag, the value and what to
/// do (issue 11, points 9, 11, 13 and 15).
@Suite("usage errors and notes")
struct UsageTests {
    @Test("refused values name their flag (exit 64)", arguments: [
        (["--bernoulli", "0.5", "--threads", "10000"], "--threads 10000: at most"),
        (["--bernoulli", "0.5", "--threads", "4294967296"], "--threads 4294967296: at most"),
        (["--bernoulli", "0.5", "--threads", "0"], "--threads 0: at least 1"),
        (["--bernoulli", "0.5", "--iterations", "-5"], "--iterations -5: at least 1"),
        // Bounded: far larger counts reserved a wrapped size for the loss curve and corrupted the heap.
        (["--bernoulli", "0.5", "--iterations", "2305843009213693951"], "--iterations 2305843009213693951: at least 1 and at most"),
        (["--bernoulli", "0.5", "--lr", "inf"], "--lr inf"),
        (["--bernoulli", "0.5", "--lr", "nan"], "--lr nan"),
        (["--bernoulli", "0.5", "--lr", "1e39"], "--lr 1e+39"),
        // Zero in single precision, where the updates are made: the fit never moved.
        (["--bernoulli", "0.5", "--lr", "1e-50"], "--lr 1e-50: give a positive learning rate from"),
        (["--bernoulli", "0.5", "--no-ground-truth", "--best-out", "b.png"], "--best-out b.png: the best iterate"),
        // Beyond Float's range the value reads as inf: the message says where the range ends.
        (["--bernoulli", "0.5", "--sigma-p", "1e300"], "--sigma-p 1e+300: give a standard deviation of 0 or more, at most 3.4028235e+38"),
        (["--bernoulli", "1"], "--bernoulli 1.0"),
        (["--mask", "mask.png", "--per-channel"], "--per-channel applies to --bernoulli"),
        (["--bernoulli", "0.5", "--invert"], "--invert applies to --mask"),
        (["--bernoulli", "0.5", "--conv", "fast"], "'direct', 'winograd' or 'auto'"),
        (["--bernoulli", "0.5", "--optimizer", "sgd"], "'adam' and 'lbfgs'"),
        (["--bernoulli", "0.5", "--net", "nope"], "--net nope: unknown network preset; choose one of table1"),
        (["--bernoulli", "0.5", "--gamma-init", "zero"], "'uniform' and 'one'"),
        // PNG only: a .jpg name would hold PNG data that viewers read as JPEG.
        (["--bernoulli", "0.5", "--best-out", "b.JPG"], "--best-out b.JPG: dip-report writes PNG only"),
        // The text mask's own limits, named by flag (they were "font size '0'", exit 1).
        (["--text", "Hi", "--font-size", "0", "--at", "1,1"], "--font-size 0.0: must be from 1 to 2000 pixels"),
        (["--text", "Hi", "--font-size", "9", "--at=1e6,0"], "--at 1000000.0,0.0: each coordinate must be under 1000000"),
        (["--text", "a\nb", "--font-size", "9", "--at", "1,1"], "--text \"a\\nb\": holds a line break"),
        (["--text", "", "--font-size", "9", "--at", "1,1"], "--text \"\": is empty"),
    ] as [([String], String)])
    func inpaintValues(arguments: [String], expected: String) throws {
        let s = try Scratch()
        let r = try s.inpaint(arguments + ["--out", "o.png"])
        #expect(r.status == 64, "\(arguments): \(r.stderr)")
        #expect(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
        #expect(!s.exists("o.png"))
    }

    @Test("more threads than cores are allowed with a warning on stderr (11.9)")
    func oversubscription() throws {
        let s = try Scratch()
        let threads = ProcessInfo.processInfo.activeProcessorCount + 1
        let r = try s.run(["inpaint", "image.png", "--net", "library-depth2", "--iterations", "2", "--threads", "\(threads)",
                           "--bernoulli", "0.5", "--out", "o.png"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("warning: --threads \(threads) is more than the"), "\(r.stderr)")
        #expect(!r.stdout.contains("warning"))
        // run and build warn for all their jobs' threads together.
        if let data = SharedTestData.folder(holding: "dip-inpainting/library.png") {
            let plan = try s.run(["run", "--profile", "smoke", "--data", data, "--jobs", "1", "--threads", "\(threads)", "--dry-run"])
            #expect(plan.status == 0, "\(plan.stderr)")
            #expect(plan.stderr.contains("warning: 1 job x \(threads) threads (--jobs, --threads) are more than the"), "\(plan.stderr)")
            // A dry run plans in a results folder it then takes away again: it leaves nothing.
            #expect(plan.stdout.contains("results in results") && !s.exists("results"), "\(plan.stdout)")
        }
    }

    @Test("a Bernoulli mask with no known pixel is refused like the same mask from a file (11.11)")
    func allHoleBernoulli() throws {
        let s = try Scratch()
        let r = try s.inpaint(["--bernoulli", "0.0001", "--out", "o.png"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("--bernoulli") && r.stderr.contains("nothing is known"), "\(r.stderr)")
        let m = try s.run(["mask", "--size", "16x16", "--bernoulli", "0.0001", "--out", "m.png"])
        #expect(m.status == 1 && m.stderr.contains("--bernoulli"), "\(m.stderr)")
        // Keeping everything is a valid mask file (no holes), just not something to inpaint.
        let full = try s.run(["mask", "--size", "16x16", "--bernoulli", "1", "--out", "full.png"])
        #expect(full.status == 0, "\(full.stderr)")
        // Text that covers the whole image: refused by `mask` as by `inpaint`, not written.
        let text = try s.run(["mask", "--size", "8x8", "--text", "M", "--font-size", "2000", "--at", "-300,-300", "--out", "t.png"])
        #expect(text.status == 1 && text.stderr.contains("covers every pixel of this 8x8 image"), "\(text.stderr)")
        #expect(!s.exists("t.png"))
    }

    @Test("an output name as long as a name may be (250 bytes) is written: its temporary name is cut to fit")
    func longOutputName() throws {
        let s = try Scratch()
        let name = String(repeating: "b", count: 246) + ".png"
        let r = try s.inpaint(["--bernoulli", "0.5", "--out", name], iterations: 2)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(s.exists(name), "\(r.stderr)")
    }

    @Test("bench refuses unknown presets, sizes, iteration, sampling and round counts and peer time limits out of range and a missing peer script, naming the flag; a size too large for the machine names what it needs")
    func benchValues() throws {
        let s = try Scratch()
        for (flag, value) in [("--iterations", "0"), ("--iterations", "9223372036854775807"), ("--psnr-every", "0")] {
            let r = try s.run(["bench", "--net", "table1", "--size", "64", flag, value])
            #expect(r.status == 64 && r.stderr.contains("\(flag) \(value): at least 1"), "\(flag) \(value): \(r.stderr)")
        }
        // A wrong preset is refused once, before any child process (none would run).
        let net = try s.run(["bench", "--net", "nope"])
        #expect(net.status == 64 && net.stderr.contains("--net nope: unknown network preset; choose one of table1")
                && !net.stderr.contains("benchmark process"), "\(net.stderr)")
        for value in ["63", "100000"] {
            let r = try s.run(["bench", "--net", "table1", "--size", value])
            #expect(r.status == 64 && r.stderr.contains("--size \(value): from 64 to 16384"), "\(r.stderr)")
        }
        // A size the machine cannot hold (table1 at 16384x16384 needs about 2.9 TiB): refused
        // before anything is allocated, naming what it needs.
        let huge = try s.run(["bench", "--net", "table1", "--size", "16384", "--iterations", "1", "--threads", "1"])
        #expect(huge.status == 1 && huge.stderr.contains("image size '16384x16384'") && huge.stderr.contains("needs about"),
                "\(huge.stderr)")
        // Under `ulimit -v` (RLIMIT_AS, what SGE's h_vmem sets) the same check, where the first
        // large allocation crashed the fit with a backtrace.
        let limited = try s.run(["bench", "--net", "text", "--size", "512", "--iterations", "1", "--threads", "1"],
                                launcher: ["/bin/sh", "-c", "ulimit -v 1500000 && exec \"$@\"", "sh"])
        #expect(limited.status == 1 && limited.stderr.contains("image size '512x512'") && limited.stderr.contains("needs about")
                && !limited.stderr.contains("crashed"), "\(limited.stderr)")
        for value in ["0", "21"] {
            let r = try s.run(["bench", "--net", "table1", "--size", "64", "--rounds", value])
            #expect(r.status == 64 && r.stderr.contains("--rounds \(value): from 1 to 20"), "\(r.stderr)")
        }
        for (value, extra, said) in [("0", ["--peer"], "--peer-timeout 0: from 1 to 86400 seconds"),
                                     ("86401", ["--peer"], "--peer-timeout 86401: from 1 to 86400 seconds"),
                                     ("60", [], "--peer-timeout 60: given without --peer")] {
            let r = try s.run(["bench", "--net", "table1", "--size", "64", "--peer-timeout", value] + extra)
            #expect(r.status == 64 && r.stderr.contains(said), "\(r.stderr)")
        }
        // Outside the repository's root the default peer script is not there: said before any run.
        for (script, extra) in [("bench/dip_torch.py", []), ("nowhere.py", ["--peer-script", "nowhere.py"])] {
            let r = try s.run(["bench", "--net", "table1", "--size", "64", "--peer"] + extra)
            #expect(r.status == 64 && r.stderr.contains("--peer-script \(script): no such file"), "\(r.stderr)")
        }
    }

    @Test("bench --rounds runs each configuration that many times and sums the rounds up")
    func benchRounds() throws {
        let s = try Scratch()
        let r = try s.run(["bench", "--net", "table1", "--size", "64", "--iterations", "1", "--threads", "1", "--rounds", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").filter { $0.hasPrefix("dip-report") && $0.contains("table1") }
        #expect(rows.count == 2, "\(r.stdout)")
        #expect(r.stdout.contains("table1 64, 2 rounds: ours ") && r.stdout.contains(" s (median "), "\(r.stdout)")
        // What ran where is said once per configuration, not once per round.
        #expect(r.stdout.components(separatedBy: "table1 64: ").count == 2, "\(r.stdout)")
    }

    @Test("bench says when a net ran on a larger canvas than --size, and a failing peer leaves our row standing (exit 1, not 64)")
    func benchCanvasAndPeerFailure() throws {
        let s = try Scratch()
        let canvas = try s.run(["bench", "--net", "library-depth6", "--size", "64", "--iterations", "1", "--threads", "1"])
        #expect(canvas.status == 0 && canvas.stdout.contains("library-depth6 64: the network needs a 192x192 canvas"), "\(canvas.stdout)")
        #expect(canvas.stdout.contains("1 timed iteration after"), "\(canvas.stdout)")
        // A peer script that is no Python at all (a user's wrong path).
        try "this is not python\n".write(toFile: s.file("peer.py"), atomically: true, encoding: .utf8)
        let peer = try s.run(["bench", "--net", "table1", "--size", "64", "--iterations", "1", "--threads", "1", "--peer", "--peer-script", "peer.py"])
        #expect(peer.status == 1 && peer.stderr.contains("the peer failed, so its rows are missing (ours are above)"), "\(peer.stderr)")
        #expect(peer.stdout.split(separator: "\n").contains { $0.hasPrefix("dip-report") && $0.contains("table1") }, "\(peer.stdout)")
        #expect(!peer.stderr.contains("Usage:"), "\(peer.stderr)")
    }

    @Test("bench --layers prints each step's milliseconds and share after the table, in every child's run")
    func benchLayers() throws {
        let s = try Scratch()
        for extra in [[], ["--rounds", "2"]] {
            let r = try s.run(["bench", "--net", "table1", "--size", "64", "--iterations", "1", "--threads", "1", "--layers"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            let headers = r.stdout.components(separatedBy: "table1 64, each step of the passes (ms an iteration").count - 1
            #expect(headers == (extra.isEmpty ? 1 : 2), "\(r.stdout)")
            #expect(r.stdout.contains("  forward  L0 concat BN + up conv") && r.stdout.contains("  backward L0 up BN + conv"),
                    "\(r.stdout)")
            #expect(r.stdout.contains("  the steps: "), "\(r.stdout)")
        }
    }

    @Test("sizes state their limit; net's errors are usage errors, not 'diverged' (11.15)")
    func sizes() throws {
        let s = try Scratch()
        for size in ["0x5", "20000x5", "5"] {
            let r = try s.run(["mask", "--size", size, "--out", "m.png"])
            #expect(r.status == 64 && r.stderr.contains("16384"), "\(size): \(r.stderr)")
        }
        let net = try s.run(["net", "no-such-net"])
        #expect(net.status == 64 && net.stderr.contains("no-such-net"), "\(net.stderr)")
    }

    @Test("characters the font lacks are named with a hint to --font (11.13)")
    func missingGlyphs() throws {
        let s = try Scratch()
        let r = try s.run(["mask", "--size", "64x64", "--text", "ok \u{1F600}\u{4E2D}", "--font-size", "20", "--at", "2,2", "--out", "m.png"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("U+1F600") && r.stderr.contains("U+4E2D") && r.stderr.contains("--font"), "\(r.stderr)")
        #expect(!r.stdout.contains("U+1F600"))
        let fine = try s.run(["mask", "--size", "64x64", "--text", "ok", "--font-size", "20", "--at", "2,2", "--out", "m2.png"])
        #expect(fine.status == 0 && !fine.stderr.contains("glyph"), "\(fine.stderr)")
    }

    @Test("psnr: a mask that is all holes scores its holes as the whole image (11.15)")
    func psnrAllHoles() throws {
        let s = try Scratch()
        _ = try s.run(["mask", "--size", "16x16", "--bernoulli", "0.5", "--seed", "2", "--out", "other.png"])
        // All holes: `mask` refuses to make such a file, so write it directly.
        try PNGCodec.write(Image(channels: 1, height: 16, width: 16, value: 0), to: s.file("holes.png"))
        let r = try s.run(["psnr", "image.png", "other.png", "--mask", "holes.png"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").filter { $0.hasPrefix("all") || $0.hasPrefix("holes") }
        #expect(rows.count == 2)
        let values = rows.map { $0.split(separator: " ", omittingEmptySubsequences: true).suffix(2).joined(separator: " ") }
        #expect(values.count == 2 && values[0] == values[1], "\(r.stdout)")
        // Black against white: an MSE of 1 is 0 dB, not "-0.0000".
        try PNGCodec.write(Image(channels: 1, height: 16, width: 16, value: 0), to: s.file("black.png"))
        try PNGCodec.write(Image(channels: 1, height: 16, width: 16, value: 1), to: s.file("white.png"))
        let extremes = try s.run(["psnr", "black.png", "white.png"])
        #expect(extremes.status == 0 && extremes.stdout.contains("  0.0000") && !extremes.stdout.contains("-0.0000"), "\(extremes.stdout)")
    }

    @Test("An image larger than the memory left (here under `ulimit -v`) is refused by name; it crashed with a backtrace")
    func imageBeyondMemory() throws {
        let s = try Scratch()
        // 8000x8000 gray: 320 MB to decode (floats and samples), more than the whole limit.
        try PNGCodec.write(Image(channels: 1, height: 8000, width: 8000, value: 0.5), to: s.file("big.png"))
        let limit = ["/bin/sh", "-c", "ulimit -v 300000 && exec \"$@\"", "sh"]
        for arguments in [["psnr", "big.png", "big.png"], ["inpaint", "big.png", "--bernoulli", "0.5", "--iterations", "1", "--out", "o.png"]] {
            let r = try s.run(arguments, launcher: limit)
            #expect(r.status == 1 && r.stderr.contains("big.png: decoding this 8000x8000 image needs about 0.3 GiB of memory")
                    && !r.stderr.contains("crashed"), "\(arguments): \(r.stderr)")
        }
    }

    @Test("inpaint says where its weights came from, names a flag without a value as the flag, and says 'weights' once")
    func inpaintWording() throws {
        let s = try Scratch()
        let gray = try s.inpaint(["--bernoulli", "0.5", "--per-channel", "--out", "o.png"])
        #expect(gray.status == 1 && gray.stderr.contains("Error: --per-channel draws one mask per colour channel, but the image has 1 channel (gray)"), "\(gray.stderr)")
        let saved = try s.inpaint(["--bernoulli", "0.5", "--out", "o.png", "--save-weights", "w.safetensors"], iterations: 1)
        #expect(saved.status == 0 && saved.stdout.contains(", 1 iteration, ") && saved.stdout.contains("1 iteration in "), "\(saved.stdout)")
        let loaded = try s.inpaint(["--bernoulli", "0.5", "--out", "o.png", "--load-weights", "w.safetensors"], iterations: 1)
        #expect(loaded.status == 0 && loaded.stdout.contains("starting from the weights in w.safetensors"), "\(loaded.stdout)")
        // The gray network's weights for a colour image: the output layer has another shape.
        try PNGCodec.write(Image(channels: 3, height: 16, width: 16, value: 0.5), to: s.file("rgb.png"))
        let wider = try s.run(["inpaint", "rgb.png", "--net", "library-depth2", "--iterations", "1", "--threads", "1", "--bernoulli", "0.5",
                               "--out", "o.png", "--load-weights", "w.safetensors"])
        let line = wider.stderr.split(separator: "\n").first { $0.hasPrefix("Error: weights: w.safetensors: '") }
        #expect(wider.status == 1 && line?.contains("has shape") == true && line?.components(separatedBy: "weights:").count == 2,
                "\(wider.stderr)")
    }

    @Test("build, render and submit refuse an output folder they could not write, and submit's Slurm values out of range, before any fit")
    func folderAndSlurmValues() throws {
        let s = try Scratch()
        let cases: [([String], String)] = [
            (["build", "--profile", "smoke", "--out", "image.png/report"], "--out 'image.png/report':"),
            (["build", "--profile", "smoke", "--results", "image.png/results"], "--results 'image.png/results':"),
            (["render", "--results", ".", "--out", "image.png/report"], "--out 'image.png/report':"),
            // Not the current folder by accident, not inside the results, not over a folder named index.html.
            (["render", "--results", ".", "--out", ""], "--out '': give a folder"),
            (["render", "--results", "res", "--out", "res/page"], "--out 'res/page' is inside the results folder 'res'"),
            (["build", "--profile", "smoke", "--results", "res", "--out", "./res/"], "--out './res/' is the results folder 'res'"),
            (["render", "--results", "res", "--out", "taken"], "--out 'taken': taken/index.html is a folder, where the page goes"),
            // Through a link to the results, under a folder not made yet.
            (["render", "--results", "res", "--out", "reslink/report"], "--out 'reslink/report' is inside the results folder 'res'"),
            (["render", "--results", "nowhere"], "--results 'nowhere': no such results folder"),
            (["status", "--results", "nowhere"], "--results 'nowhere': no such results folder"),
            (["status", "--results", "image.png"], "--results 'image.png': is a file, not a results folder"),
            (["run", "--profile", "smoke", "--results", "image.png"], "--results 'image.png':"),
            (["submit", "--profile", "smoke", "--out", "image.png/report", "--dry-run"], "--out 'image.png/report':"),
            (["submit", "--profile", "smoke", "--checkpoint-minutes", "inf", "--dry-run"], "--checkpoint-minutes inf: more than 0 and at most 10080"),
            (["submit", "--profile", "smoke", "--pack-seconds", "nan", "--dry-run"], "--pack-seconds nan: 0 (one task per run) to"),
            (["submit", "--profile", "smoke", "--cpus-per-task", "5000", "--dry-run"], "--cpus-per-task 5000: at least 1 and at most 1024"),
            // Past a year, past what Int holds, past any array; values sbatch reads in #SBATCH lines.
            (["submit", "--profile", "smoke", "--time", "99999999999:00:00", "--dry-run"], "--time 99999999999:00:00: at most 365-00:00:00"),
            (["submit", "--profile", "smoke", "--time", "9999999999999999:00:00", "--dry-run"], "--time 9999999999999999:00:00: give Slurm's form"),
            (["submit", "--profile", "smoke", "--max-parallel", "99999999999", "--dry-run"], "--max-parallel 99999999999: at least 1 and at most 100000"),
            (["submit", "--profile", "smoke", "--account", "a\nb", "--dry-run"], "--account \"a\\nb\": a value with a line break cannot go into the script's #SBATCH lines"),
            (["submit", "--profile", "smoke", "--partition", "", "--dry-run"], "--partition \"\": give a value, or leave --partition out"),
            (["submit", "--profile", "smoke", "--time", "1", "--warning-seconds", "120", "--dry-run"],
             "--warning-seconds 120 with --time 1: the warning comes less than half the time limit"),
            (["submit", "--profile", "smoke", "--warning-seconds", "99999", "--dry-run"], "--warning-seconds 99999: at least 1 and at most 65535"),
            (["submit", "--profile", "smoke", "--mem-per-run", "10K", "--dry-run"], "--mem-per-run 10K: at least 256M"),
            // Past any machine, or past what a number holds: refused, not a crash converting to MiB.
            (["submit", "--profile", "smoke", "--mem-per-run", "65T", "--dry-run"], "--mem-per-run 65T: at most 64T"),
            (["submit", "--profile", "smoke", "--results", "a\\b", "--dry-run"], "cannot hold a backslash or a line break"),
            (["submit", "--profile", "smoke", "--mem-per-run", "infG", "--dry-run"], "--mem-per-run infG: give auto or a size"),
            (["submit", "--profile", "smoke", "--mem-per-run", "-5G", "--dry-run"], "--mem-per-run -5G: give auto or a size"),
            // A negative number is the option's value, not another option ("Missing value for ...").
            (["submit", "--profile", "smoke", "--warning-seconds", "-1", "--dry-run"], "--warning-seconds -1: at least 1"),
            (["submit", "--profile", "smoke", "--pack-seconds", "-3", "--dry-run"], "--pack-seconds -3.0: 0 (one task per run) to"),
            (["run", "--profile", "smoke", "--checkpoint-minutes", "-1", "--dry-run"], "--checkpoint-minutes -1.0: more than 0"),
            (["run", "--profile", "smoke", "--jobs", "-1", "--dry-run"], "--jobs -1: at least 1"),
            (["mask", "--size", "-5x5", "--bernoulli", "0.5", "--out", "m.png"], "'-5x5' is invalid for '--size"),
            // Only the option given is named.
            (["mask", "--size", "8x8", "--text", "M", "--font-size", "6", "--at", "0,0", "--seed", "1", "--out", "m.png"], "Error: --seed applies to Bernoulli masks only"),
            (["bench", "--threads", "-2"], "--threads -2: at least 1"),
        ]
        try FileManager.default.createDirectory(atPath: s.file("res"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: s.file("taken/index.html"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: s.file("reslink"), withDestinationPath: "res")
        for (arguments, expected) in cases {
            let r = try s.run(arguments)
            #expect(r.status == 64 && r.stderr.contains(expected), "\(arguments): \(r.stderr)")
        }
        #expect(!s.exists("results") && !s.exists("taken/discussion.md"), "nothing is created for a refused command")
        let plan = try s.run(["run", "--plan", "nope.json", "--task", "1"])
        #expect(plan.status == 1 && plan.stderr.contains("nope.json: cannot read the plan file (no such file)"), "\(plan.stderr)")
        let picture = try s.run(["run", "--plan", "image.png", "--task", "1"])
        #expect(picture.status == 1 && picture.stderr.contains("image.png: is not a dip-report plan (not a JSON object)"), "\(picture.stderr)")
        // Without a task: a usage error with run's usage (it printed the top-level one).
        let taskless = try s.run(["run", "--plan", "image.png"])
        #expect(taskless.status == 64 && taskless.stderr.contains("--plan needs --task I") && taskless.stderr.contains("Usage: dip-report run"),
                "\(taskless.stderr)")
        // Refused while planning (no test images there): the results folder it made is gone again.
        for command in ["run", "submit"] {
            let r = try s.run([command, "--profile", "smoke", "--results", "fresh", "--data", "nowhere", "--dry-run", "--no-estimate"])
            #expect(r.status == 1 && r.stderr.contains("test images are missing") && !s.exists("fresh"), "\(command): \(r.stderr)")
        }
    }

    @Test("psnr reads a mask as inpaint does: a 0/1 file is 1 = known, said on stderr (it was all holes, silently)")
    func psnrZeroOneMask() throws {
        let s = try Scratch()
        var m = try BernoulliMask.make(channels: 1, height: 16, width: 16, keepFraction: 0.5, seed: 1)
        for i in m.pixels.indices { m.pixels[i] /= 255 }
        try PNGCodec.write(m, to: s.file("m01.png"))
        let zeroOne = try s.run(["psnr", "image.png", "image.png", "--mask", "m01.png"])
        let proper = try s.run(["psnr", "image.png", "image.png", "--mask", "mask.png"])
        #expect(zeroOne.status == 0 && zeroOne.stderr.contains("m01.png: its values are 0 and 1 (out of 255)"), "\(zeroOne.stderr)")
        let table = { (r: DIPReportTool.Result) in r.stdout.split(separator: "\n").filter { $0.hasPrefix("holes") || $0.hasPrefix("known") } }
        #expect(table(zeroOne) == table(proper) && table(proper).count == 2, "\(zeroOne.stdout)")
        // Mostly holes: inpaint's warning about the polarity, and --invert as inpaint's.
        let sparse = try BernoulliMask.make(channels: 1, height: 16, width: 16, keepFraction: 0.1, seed: 1)
        try PNGCodec.write(sparse, to: s.file("sparse.png"))
        let holes = Double(MaskStatistics(sparse).holes) / 256 * 100
        let warned = try s.run(["psnr", "image.png", "image.png", "--mask", "sparse.png"])
        #expect(warned.status == 0 && warned.stderr.contains("warning: sparse.png: ") && warned.stderr.contains("pass --invert"), "\(warned.stderr)")
        let inverted = try s.run(["psnr", "image.png", "image.png", "--mask", "sparse.png", "--invert"])
        let holesRow = table(inverted).first { $0.hasPrefix("holes") } ?? ""
        #expect(inverted.status == 0 && !inverted.stderr.contains("warning:") && holesRow.contains(String(format: "%.1f%%", 100 - holes)),
                "\(inverted.stderr) \(inverted.stdout)")
        let alone = try s.run(["psnr", "image.png", "image.png", "--invert"])
        #expect(alone.status == 64 && alone.stderr.contains("--invert needs --mask"), "\(alone.stderr)")
    }

    @Test("diff, data and run name their own arguments (11.15)")
    func folderArguments() throws {
        let s = try Scratch()
        let diff = try s.run(["diff", "no-such-results"])
        #expect(diff.status == 64 && diff.stderr.contains("A 'no-such-results'"), "\(diff.stderr)")
        #expect(!diff.stderr.contains("give --results"), "\(diff.stderr)")
        let verify = try s.run(["data", "verify", "--data", "image.png"])
        #expect(verify.status == 64 && verify.stderr.contains("is a file"), "\(verify.stderr)")
        // A folder that is not there is named once, not as every image missing.
        let none = try s.run(["data", "verify", "--data", "no-such-data"])
        #expect(none.status == 1 && none.stderr.contains("data folder 'no-such-data' does not exist; run `dip-report data fetch"), "\(none.stderr)")
        #expect(!none.stdout.contains("missing"), "\(none.stdout)")
        // An unknown experiment is a usage error of the command that was given it.
        for command in ["run", "submit"] {
            let r = try s.run([command, "nope", "--profile", "smoke", "--dry-run"])
            #expect(r.status == 64 && r.stderr.contains("experiment 'nope': unknown; choose from table1-paper")
                    && r.stderr.contains("Usage: dip-report \(command) "), "\(r.stderr)")
        }
        // An empty path is called one (it read ": no such file").
        let emptyPath = try s.run(["psnr", "", "image.png"])
        #expect(emptyPath.status == 1 && emptyPath.stderr.contains("Error: '' (an empty path): no such file"), "\(emptyPath.stderr)")
        // --version names the version and the commit the binary was built from.
        let version = try s.run(["--version"])
        #expect(version.status == 0 && version.stdout.contains(" (commit "), "\(version.stdout)\(version.stderr)")
        // A Bernoulli or text mask needs a size: said as a usage error.
        let sizeless = try s.run(["mask", "--out", "m.png"])
        #expect(sizeless.status == 64 && sizeless.stderr.contains("give --size WxH, --like IMAGE.png or --preview IMAGE.png: a --bernoulli mask needs a size"), "\(sizeless.stderr)")
        let previewed = try s.run(["mask", "--bernoulli", "0.5", "--preview", "image.png", "--preview-out", "p.png", "--out", "m.png"])
        #expect(previewed.status == 0 && s.exists("m.png") && s.exists("p.png"), "--preview gives the size: \(previewed.stderr)")
        // A negative seed is this flag's wrong value, not a flag that leaves --seeds without one.
        let seeds = try s.run(["run", "--seeds", "-1", "--dry-run"])
        #expect(seeds.status == 64 && seeds.stderr.contains("--seeds -1: give comma-separated non-negative integers"), "\(seeds.stderr)")
        // A plan's task runs as planned: what it fixes, given anyway, is refused, not ignored
        // (even a value equal to the default, which the plan may not have).
        let planned = try s.run(["run", "--plan", "plan.json", "--task", "0", "--threads", "8", "--profile", "paper", "table1-paper"])
        #expect(planned.status == 64 && planned.stderr.contains("experiment names (table1-paper), --profile, --threads cannot go with it"),
                "\(planned.stderr)")
        // A folder given for the weights to start from (an input: exit 1, as an unreadable one).
        let weights = try s.inpaint(["--bernoulli", "0.5", "--load-weights", ".", "--out", "o.png"])
        #expect(weights.status == 1 && weights.stderr.contains(".: is a folder; give the .safetensors file"), "\(weights.stderr)")
        // An empty folder given to diff is said to hold nothing (the table alone was empty).
        try FileManager.default.createDirectory(atPath: s.path + "/empty", withIntermediateDirectories: true)
        let empty = try s.run(["diff", "empty"])
        #expect(empty.status == 0 && empty.stderr.contains("empty holds no stored runs"), "\(empty.stderr)")
        // One folder against itself, however spelled: said once, and the sides named A and B
        // (the count line named the folder twice).
        let itself = try s.run(["diff", "empty", "./empty/"])
        #expect(itself.status == 0 && itself.stderr.contains("A and B are the same folder ('empty')")
                && itself.stderr.contains("0 only in A, 0 only in B"), "\(itself.stderr)")
        #expect(itself.stderr.components(separatedBy: "holds no stored runs").count == 2, "said once: \(itself.stderr)")
        // An empty --data (a script's unset variable) is refused: it fell back to $DIP_DATA or ./data.
        for command in [["data", "verify"], ["run", "--profile", "smoke", "--dry-run"]] {
            let r = try s.run(command + ["--data", ""])
            #expect(r.status == 64 && r.stderr.contains("--data '': give the folder that holds bm3d/"), "\(command): \(r.stderr)")
        }
        // A data folder that cannot be written is named as the problem, not the mirror.
        // A mirror that cannot be fetched from is one usage error (it failed file by file, or fell back silently).
        for (mirror, expected) in [("ftp://x", "fetches over ftp://"), ("", "is empty"), ("image.png", "is a file")] {
            let r = try s.run(["data", "fetch", "--data", "d", "--mirror", mirror])
            #expect(r.status == 64 && r.stderr.contains("--mirror '\(mirror)': \(expected)") && !s.exists("d"), "\(r.stderr)")
        }
        let fetch = try s.run(["data", "fetch", "--data", "/proc/dip-data", "--mirror", s.path])
        #expect(fetch.status == 1 && fetch.stderr.contains("cannot store the test images in /proc/dip-data"), "\(fetch.stderr)")
        #expect(!fetch.stderr.contains("could not be fetched from"), "\(fetch.stderr)")
        // Nothing reachable (a mirror without the files): the ways around it include the
        // folder that may already hold the images (`--data`, DIP_DATA, make's DATA).
        try FileManager.default.createDirectory(atPath: s.path + "/bare", withIntermediateDirectories: true)
        let bare = try s.run(["data", "fetch", "--data", "d2", "--mirror", s.path + "/bare"])
        #expect(bare.status == 1 && bare.stderr.contains("could not be fetched from")
                && bare.stderr.contains("point --data (or DIP_DATA; `make report DATA=FOLDER`) at that folder"), "\(bare.stderr)")
    }
}

/// The progress line (issue 11, point 17).
@Suite("inpaint's progress line")
struct ProgressLineTests {
    @Test("the PSNR shown says which iteration it was sampled at")
    func psnrIteration() throws {
        let s = try Scratch()
        let r = try s.inpaint(["--bernoulli", "0.5", "--psnr-every", "7", "--out", "o.png"], iterations: 20)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("iter ") }
        #expect(!lines.isEmpty, "\(r.stdout)")
        // Samples fall on 0, 7, 14 and the last (19): each PSNR names one of them.
        for line in lines where line.contains("PSNR") {
            #expect(line.contains("(iter 0)") || line.contains("(iter 7)") || line.contains("(iter 14)") || line.contains("(iter 19)"), "\(line)")
        }
        #expect(lines.last?.contains("(iter 19)") == true, "\(lines)")
    }
}

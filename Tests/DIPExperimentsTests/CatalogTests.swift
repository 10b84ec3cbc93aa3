import DIPCore
import DIPEngine
import DIPTestSupport
import Foundation
import Testing
@testable import DIPExperiments

/// The library images the planning test reads.
private let libraryData = SharedTestData.folder(holding: "dip-inpainting/library.png")
/// The seed report's images the colour test reads.
private let seedReportData = SharedTestData.folder(holding: "seed-report/cameraman.png")

@Suite("The catalog and users' catalog files")
struct CatalogTests {
    private func file(_ text: String) throws -> String {
        let path = TestFolder.path("catalog", suffix: ".json")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The library experiment's first configuration as a user's own experiment, "my-library".
    private func myLibrary() -> Experiment {
        var mine = Catalog.experiments.first { $0.id == "library" }!
        mine.id = "my-library"
        mine.runs = [mine.runs[0]]
        return mine
    }

    /// A new results folder holding one record, at the key of `mine`'s first planned run (smoke,
    /// seed 0): a sample record with that run's configuration, label and group, then `edit`.
    private func storedRecord(of mine: Experiment, _ edit: (inout RunRecord) -> Void = { _ in })
        throws -> (results: String, store: ResultStore, options: RunnerOptions, record: RunRecord) {
        let results = TestFolder.path("catalog-stored")
        let store = try ResultStore(root: results)
        let options = RunnerOptions(dataDirectory: libraryData!, profile: .smoke, seeds: [0])
        let run = try #require(try Runner(store: store, options: options).plan([mine]).runs.first)
        var record = try RecordSchemaTests.sampleRecord()
        record.key = run.key
        record.configuration = run.configuration
        record.label = run.label
        record.group = mine.group
        edit(&record)
        try store.save(record, images: [:])
        return (results, store, options, record)
    }

    @Test("the printed catalog reads back as a user's catalog: same experiments, ids must be new")
    func roundTrip() throws {
        let printed = try Catalog.json(Catalog.experiments)
        // As printed, every id collides with a built-in one: refused, naming the id.
        let same = try file(printed)
        defer { try? FileManager.default.removeItem(atPath: same) }
        #expect { try Catalog.all(userFile: same) } throws: { "\($0)".contains("'table1-paper' is already taken") }

        // Renamed, they load after the built-ins and equal them but for the id.
        var renamed = Catalog.experiments
        for i in renamed.indices { renamed[i].id = "mine-" + renamed[i].id }
        let path = try file(try Catalog.json(renamed))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let all = try Catalog.all(userFile: path)
        #expect(all.count == 2 * Catalog.experiments.count)
        #expect(Array(all.suffix(renamed.count)) == renamed)
        #expect(try Catalog.select(["mine-optimizers"], from: all) == renamed.filter { $0.id == "mine-optimizers" })
    }

    @Test("a user's experiment is planned like a built-in one, with its own run keys",
          .enabled(if: libraryData != nil, "needs ../shared/data (or DIP_DATA)"))
    func userExperimentPlans() throws {
        let mine = myLibrary()
        let path = try file(try Catalog.json([mine]))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let selected = try Catalog.select(["my-library"], from: try Catalog.all(userFile: path))
        let results = TestFolder.path("catalog-results")
        defer { try? FileManager.default.removeItem(atPath: results) }
        let runner = Runner(store: try ResultStore(root: results),
                            options: RunnerOptions(dataDirectory: libraryData!, profile: .smoke, seeds: [0, 1]))
        let plan = try runner.plan(selected)
        #expect(plan.runs.map(\.key.experiment) == ["my-library", "my-library"])
        #expect(plan.runs.map(\.key.seed) == [0, 1])
    }

    @Test("a stored run of an image file edited in place since is named when planning, kept unless forced",
          .enabled(if: libraryData != nil, "needs ../shared/data (or DIP_DATA)"))
    func editedImage() throws {
        let mine = myLibrary()
        // A record of this run whose image hash is another file's: as if the file changed since.
        var (results, store, options, record) = try storedRecord(of: mine) { $0.imageSHA256 = String(repeating: "0", count: 64) }
        defer { try? FileManager.default.removeItem(atPath: results) }
        let plan = try Runner(store: store, options: options).plan([mine])
        #expect(plan.runs.first?.state == .stored)
        #expect(plan.notes.count == 1 && plan.notes[0].hasPrefix("1 stored run was fitted to another version of \(mine.runs[0].images[0].file)"), "\(plan.notes)")
        var forced = options
        forced.force = true
        #expect(try Runner(store: store, options: forced).plan([mine]).runs.first?.state == .missing)
        // The same hash as the file: nothing said.
        record.imageSHA256 = try SHA256.hex(ofFileAt: libraryData! + "/" + mine.runs[0].images[0].file)
        try store.save(record, images: [:], force: true)
        #expect(try Runner(store: store, options: options).plan([mine]).notes.isEmpty)
    }

    @Test("a stored run of a mask file edited in place since is named when planning; records without the mask's hash say nothing",
          .enabled(if: libraryData != nil, "needs ../shared/data (or DIP_DATA)"))
    func editedMask() throws {
        let mine = myLibrary()
        guard case let .file(maskFile) = mine.runs[0].mask else { Issue.record("the library runs use a mask file"); return }
        let maskHash = try SHA256.hex(ofFileAt: libraryData! + "/" + maskFile)
        let imageHash = try SHA256.hex(ofFileAt: libraryData! + "/" + mine.runs[0].images[0].file)
        // A record of this run whose mask hash is another file's: as if the mask changed since.
        var (results, store, options, record) = try storedRecord(of: mine) {
            $0.imageSHA256 = imageHash
            $0.maskSHA256 = String(repeating: "0", count: 64)
        }
        defer { try? FileManager.default.removeItem(atPath: results) }
        let plan = try Runner(store: store, options: options).plan([mine])
        #expect(plan.runs.first?.state == .stored)
        #expect(plan.notes.count == 1 && plan.notes[0].hasPrefix("1 stored run was fitted to another version of \(maskFile)"), "\(plan.notes)")
        for hash in [maskHash, nil] {
            record.maskSHA256 = hash
            try store.save(record, images: [:], force: true)
            #expect(try Runner(store: store, options: options).plan([mine]).notes.isEmpty, "\(String(describing: hash))")
        }
    }

    @Test("a configuration renamed in the catalog keeps its stored runs, which take the new label and group",
          .enabled(if: libraryData != nil, "needs ../shared/data (or DIP_DATA)"))
    func relabelled() throws {
        var mine = myLibrary()
        let (results, store, options, record) = try storedRecord(of: mine)
        defer { try? FileManager.default.removeItem(atPath: results) }
        #expect(try Runner(store: store, options: options).plan([mine]).relabelled.isEmpty)
        mine.runs[0].label = "renamed"
        mine.group = "experiment3"
        let runner = Runner(store: store, options: options)
        let plan = try runner.plan([mine])
        #expect(plan.runs.first?.state == .stored && plan.relabelled.count == 1)
        #expect(try runner.relabel(plan) == 1)
        let stored = try #require(try store.load(record.key))
        #expect(stored.label == "renamed" && stored.group == "experiment3" && stored.curve == record.curve)
    }

    @Test("bad catalog files are refused with the file named and what is wrong")
    func badFiles() throws {
        let broken = try file("[{\"id\": \"x\"}]")
        defer { try? FileManager.default.removeItem(atPath: broken) }
        #expect { try Catalog.all(userFile: broken) } throws: { "\($0)".contains(broken) && "\($0)".contains("experiment 'x' lacks the field") }
        // Where the JSON breaks, and the wrong shape, are named.
        for (text, expected) in [("[{\"id\": ", "is not valid JSON ("), ("{}", "must hold a JSON array of experiments"),
                                 ("[{\"id\": \"x\", \"group\": 3}]", "experiment 'x', group should be a string")] {
            let path = try file(text)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect { try Catalog.all(userFile: path) } throws: { "\($0)".contains(expected) }
        }
        #expect { try Catalog.all(userFile: "/nonexistent/catalog.json") } throws: { "\($0)".contains("/nonexistent/catalog.json") }
        #expect { try Catalog.select(["nope"], from: Catalog.experiments) } throws: { "\($0)".contains("optimizers") }
    }

    @Test("ids and image names that would leave the results folder, and zero iterations, are refused (issue 11.7, 11.15)")
    func unsafeNames() throws {
        #expect(Catalog.experiments.allSatisfy { $0.problems.isEmpty })
        let template = Catalog.experiments.first { $0.id == "library" }!
        var cases: [(Experiment, String)] = []
        var escape = template
        escape.id = "../../escape"
        cases.append((escape, "the id '../../escape'"))
        var badImage = template
        badImage.id = "mine"
        badImage.runs[0].images[0].name = "../x"
        cases.append((badImage, "the image name '../x'"))
        var hidden = template
        hidden.id = ".hidden"
        cases.append((hidden, "the id '.hidden'"))
        var zero = template
        zero.id = "zero"
        if case var .dip(config) = zero.runs[0].method {
            config.iterations = 0
            zero.runs[0].method = .dip(config)
        }
        cases.append((zero, "0 iterations"))
        for (experiment, expected) in cases {
            let path = try file(try Catalog.json([experiment]))
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect { try Catalog.all(userFile: path) } throws: { "\($0)".contains(path) && "\($0)".contains(expected) }
        }
        #expect(Experiment.isSafeName("table1-paper") && Experiment.isSafeName("kate_2.v1"))
        #expect(!Experiment.isSafeName("a/b") && !Experiment.isSafeName("..") && !Experiment.isSafeName("") && !Experiment.isSafeName("a b"))
    }

    @Test("a catalog is checked whole when it loads: unknown fields, sizes, masks, TV weights, backtracking, empty or repeated configurations, each named where it is")
    func checkedWhenLoaded() throws {
        let template = Catalog.experiments.first { $0.id == "optimizers" }!
        var mine = template
        mine.id = "mine"
        let label = mine.runs[0].label
        func rejected(_ e: Experiment, _ expected: String, edit: (String) -> String = { $0 }) throws {
            let path = try file(edit(try Catalog.json([e])))
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect { try Catalog.all(userFile: path) } throws: { "\($0)".contains(path) && "\($0)".contains(expected) }
        }
        // The printed template loads as it is (renamed): the strict reading accepts its own format.
        let ok = try file(try Catalog.json([mine]))
        defer { try? FileManager.default.removeItem(atPath: ok) }
        #expect(try Catalog.all(userFile: ok).last == mine)
        // A misspelt field, and gammaInit put into the network (it belongs to the dip method).
        try rejected(mine, "experiment 'mine', configuration '\(label)', preprocessing has the field 'resise'") {
            $0.replacingOccurrences(of: "\"preprocessing\" : {", with: "\"preprocessing\" : { \"resise\" : {\"width\": 4, \"height\": 4},")
        }
        try rejected(mine, "has the field 'gammaInit'") {
            $0.replacingOccurrences(of: "\"network\" : {", with: "\"network\" : { \"gammaInit\" : \"one\",")
        }
        var big = mine
        big.runs[0].preprocessing.resize = ImageSize(width: 100_000, height: 100_000)
        try rejected(big, "configuration '\(label)': preprocessing.resize 100000x100000 must have sides from 1 to 16384")
        var keep = mine
        keep.runs[0].mask = .bernoulli(keep: 1.5, perChannel: false)
        try rejected(keep, "mask: bernoulli keep 1.5 must be more than 0 and less than 1")
        var empty = mine
        empty.runs = []
        try rejected(empty, "it has no configurations")
        var twice = mine
        twice.runs[1].label = label
        try rejected(twice, "two configurations share the label '\(label)'")
        // A label or group the page could not show on one line (OneLineText): a Unicode line
        // separator is no control character, spaces alone are no text.
        var separated = mine
        separated.runs[0].label = "Adam\u{2028}lr 0.01"
        try rejected(separated, "a configuration's label 'Adam\u{2028}lr 0.01' must be a non-empty line of text")
        var blank = mine
        blank.group = "  "
        try rejected(blank, "the group '  ' must be a non-empty line of text")
        var names = mine
        names.runs[0].images.append(ImageRef(name: names.runs[0].images[0].name, file: "bm3d/boat.png"))
        try rejected(names, "is given twice, for")
        var outside = mine
        outside.runs[0].images[0].file = "../secret.png"
        try rejected(outside, "leaves the data folder")
        var backtrack = mine
        if case var .dip(config) = backtrack.runs[0].method {
            config.backtracking = Backtracking(interval: 0)
            backtrack.runs[0].method = .dip(config)
        }
        try rejected(backtrack, "backtracking interval = 0: must be at least 1")
        var channels = mine
        if case var .dip(config) = channels.runs[0].method {
            config.network.outputChannels = 5
            channels.runs[0].method = .dip(config)
        }
        try rejected(channels, "method.dip.network.outputChannels 5 must be 1 or 3")
        var tv = Catalog.experiments.first { $0.id == "table1-tv" }!
        tv.id = "my-tv"
        tv.runs[0].method = .tv(TVConfig(iterations: 30, dataWeight: -1))
        try rejected(tv, "method.tv.dataWeight -1.0 must be positive")
    }

    @Test("a catalog's 0/1 mask file reads 1 as known, as inpaint and psnr read it (every pixel was a hole)")
    func zeroOneMaskFile() throws {
        let data = TestFolder.path("catalog-mask")
        defer { try? FileManager.default.removeItem(atPath: data) }
        try FileManager.default.createDirectory(atPath: data + "/mine", withIntermediateDirectories: true)
        let proper = try BernoulliMask.make(channels: 1, height: 16, width: 16, keepFraction: 0.5, seed: 3)
        var zeroOne = proper
        for i in zeroOne.pixels.indices { zeroOne.pixels[i] /= 255 }
        try PNGCodec.write(zeroOne, to: data + "/mine/m01.png")
        let m = try Preparation.sourceMask(.file("mine/m01.png"), height: 16, width: 16, channels: 1, dataDirectory: data,
                                           preprocessing: Preprocessing())
        #expect(m.mask == proper)
        // The hash is of the bytes decoded: the file's, read once.
        #expect(m.fileSHA256 == (try SHA256.hex(ofFileAt: data + "/mine/m01.png")))
    }

    @Test("a catalog's mask file is read as inpaint reads it: channels that differ are a per-channel mask (only the first was read), and what the reading finds, an inverted look included, is noted")
    func catalogMaskFileAsInpaint() throws {
        let data = TestFolder.path("catalog-mask-channels")
        defer { try? FileManager.default.removeItem(atPath: data) }
        try FileManager.default.createDirectory(atPath: data + "/mine", withIntermediateDirectories: true)
        let perChannel = try BernoulliMask.make(channels: 3, height: 16, width: 16, keepFraction: 0.5, seed: 5)
        try PNGCodec.write(perChannel, to: data + "/mine/pc.png")
        let pc = try Preparation.sourceMask(.file("mine/pc.png"), height: 16, width: 16, channels: 3, dataDirectory: data,
                                            preprocessing: Preprocessing())
        #expect(pc.mask == perChannel)
        #expect(pc.notes.contains { $0.contains("the 3 channels differ, used as a per-channel mask") }, "\(pc.notes)")
        // On a gray image it cannot be one: refused, as inpaint refuses it.
        #expect { _ = try Preparation.sourceMask(.file("mine/pc.png"), height: 16, width: 16, channels: 1, dataDirectory: data,
                                                 preprocessing: Preprocessing()) }
            throws: { "\($0)".contains("per-channel mask, but the image has 1 channel") }
        // White holes (95 %): read as they are, with a warning that says what to do in a catalog.
        var inverted = Image(channels: 1, height: 16, width: 16)
        for i in 0..<13 { inverted.pixels[i * 19] = 1 }
        try PNGCodec.write(inverted, to: data + "/mine/inv.png")
        let inv = try Preparation.sourceMask(.file("mine/inv.png"), height: 16, width: 16, channels: 1, dataDirectory: data,
                                             preprocessing: Preprocessing())
        #expect(inv.mask == inverted)
        #expect(inv.notes.contains { $0.hasPrefix("warning: ") && $0.contains("% of pixels are holes") && $0.contains("save it inverted") },
                "\(inv.notes)")
    }

    @Test("a file mask's holes off the centre: the crop window moves onto them, and the run's mask is that window of the file")
    func cropWindowFollowsHoles() throws {
        let data = TestFolder.path("catalog-focus")
        defer { try? FileManager.default.removeItem(atPath: data) }
        try FileManager.default.createDirectory(atPath: data + "/mine", withIntermediateDirectories: true)
        var picture = Image(channels: 3, height: 64, width: 64)
        for i in picture.pixels.indices { picture.pixels[i] = Float(i % 251) / 250 }
        try PNGCodec.write(picture, to: data + "/mine/picture.png")
        // Known everywhere but a 10x10 block of holes near the bottom-right corner.
        var holes = Image(channels: 1, height: 64, width: 64)
        for y in 0..<64 { for x in 0..<64 { holes[0, y, x] = (48..<58).contains(y) && (44..<54).contains(x) ? 0 : 1 } }
        try PNGCodec.write(holes, to: data + "/mine/holes.png")
        let ref = ImageRef(name: "picture", file: "mine/picture.png")
        let recipe = MaskRecipe.file("mine/holes.png")
        let p = Preprocessing(centreCrop: ImageSize(width: 16, height: 16), reflectionPad: 1)

        let prepared = try Preparation.image(ref, dataDirectory: data, preprocessing: p, mask: recipe)
        #expect(prepared.sourceShape == (channels: 3, height: 64, width: 64))
        let origin = try #require(prepared.cropOrigin)
        // The window holds every hole (the centred one, at 24, 24, holds none).
        #expect((origin.top...(origin.top + 6)).contains(48) && (origin.left...(origin.left + 6)).contains(44))
        #expect(prepared.image.height == 18 && prepared.image.width == 18)
        let mask = try Preparation.mask(recipe, for: prepared, seed: 0, dataDirectory: data, preprocessing: p).mask
        let window = holes.cropped(top: origin.top, left: origin.left, height: 16, width: 16).reflectionPadded(by: 1)
        #expect(mask.height == 18 && mask.width == 18)
        for c in 0..<mask.channels { #expect(mask.channel(c) == window) }
        #expect(holes.cropped(top: origin.top, left: origin.left, height: 16, width: 16).pixels.filter { $0 == 0 }.count == 100)
        // Bernoulli masks are uniform: their window stays centred.
        let centred = try Preparation.image(ref, dataDirectory: data, preprocessing: p, mask: .bernoulli(keep: 0.5, perChannel: false))
        #expect(centred.cropOrigin == WindowOrigin(top: 24, left: 24))
    }

    @Test("a crop of a mask with large holes is a half-known window, not the densest one (the library's smoke and quick crops were 96 % holes)")
    func largeHolesWindow() throws {
        let data = TestFolder.path("catalog-large-holes")
        defer { try? FileManager.default.removeItem(atPath: data) }
        try FileManager.default.createDirectory(atPath: data + "/mine", withIntermediateDirectories: true)
        try PNGCodec.write(Image(channels: 1, height: 64, width: 64, value: 0.5), to: data + "/mine/picture.png")
        // A 40x40 block of holes: every 16x16 window inside it is all holes.
        var holes = Image(channels: 1, height: 64, width: 64, value: 1)
        for y in 8..<48 { for x in 16..<56 { holes[0, y, x] = 0 } }
        try PNGCodec.write(holes, to: data + "/mine/holes.png")
        let ref = ImageRef(name: "picture", file: "mine/picture.png"), recipe = MaskRecipe.file("mine/holes.png")
        let p = Preprocessing(centreCrop: ImageSize(width: 16, height: 16))
        let prepared = try Preparation.image(ref, dataDirectory: data, preprocessing: p, mask: recipe)
        let mask = try Preparation.mask(recipe, for: prepared, seed: 0, dataDirectory: data, preprocessing: p).mask
        #expect(mask.pixels.filter { $0 == 0 }.count == 128, "half of the 256 pixels")
    }

    @Test("the quick profile's crop of the library keeps about half its pixels known, and its run key names the window", .enabled(if: libraryData != nil))
    func libraryCrop() throws {
        let data = try #require(libraryData)
        let p = Preprocessing(centreCrop: ImageSize(width: 128, height: 128)), recipe = MaskRecipe.file("dip-inpainting/library_mask.png")
        let prepared = try Preparation.image(Catalog.library, dataDirectory: data, preprocessing: p, mask: recipe)
        let mask = try Preparation.mask(recipe, for: prepared, seed: 0, dataDirectory: data, preprocessing: p).mask
        let share = Double(mask.channel(0).pixels.filter { $0 == 0 }.count) / Double(128 * 128)
        #expect(share > 0.4 && share < 0.6, "\(share)")
        // Where the window goes is in the key (a new rule for placing it makes new runs, never
        // stored runs of other pixels); a centred window (a Bernoulli mask) is not.
        let store = try ResultStore(root: TestFolder.path("library-keys"))
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        let runner = Runner(store: store, options: RunnerOptions(dataDirectory: data, profile: .quick, seeds: [0], jobs: 1, threadsPerJob: 1))
        let plan = try runner.plan(try Catalog.select(["library"], from: Catalog.experiments))
        #expect(prepared.followsHoles && !plan.runs.isEmpty)
        for run in plan.runs {
            // Each configuration's window (a deeper net gets a larger one).
            let own = try Preparation.image(run.image, dataDirectory: data, preprocessing: run.spec.preprocessing, mask: run.spec.mask)
            let origin = try #require(own.cropOrigin)
            #expect(run.configuration.window == origin, "\(run.label)")
        }
        let centred = try Preparation.image(Catalog.library, dataDirectory: data, preprocessing: p, mask: .bernoulli(keep: 0.5, perChannel: true))
        #expect(!centred.followsHoles && centred.cropOrigin != nil)
    }

    @Test("a catalog's preparation with an empty window, size or pad is an error naming it, not a crash")
    func emptyGeometry() throws {
        let img = Image(channels: 1, height: 8, width: 8)
        for (p, name) in [(Preprocessing(centreCrop: ImageSize(width: 0, height: 4)), "centreCrop"),
                          (Preprocessing(reflectionPad: 8), "reflection padding")] {
            #expect { _ = try Preparation.geometry(img, p, focus: nil) } throws: { "\($0)".contains(name) }
        }
        var resize = Preprocessing()
        resize.resize = ImageSize(width: 0, height: 3)
        #expect { _ = try Preparation.geometry(img, resize, focus: nil) } throws: { "\($0)".contains("resize") }
    }

    @Test("the seed protocol runs the seed report's gray images stored as colour (gray palettes, RGB with equal channels) as one gray channel, and keeps its colour montage",
          .enabled(if: seedReportData != nil))
    func seedReportGrayContent() throws {
        let data = try #require(seedReportData)
        var channels: [String: Int] = [:]
        for ref in Catalog.seedReport {
            channels[ref.name] = try Preparation.image(ref, dataDirectory: data, preprocessing: Catalog.seedPreprocessing).image.channels
        }
        // cameraman and couple are palette files, man RGB with R = G = B: each drew three masks
        // (a pixel lost in all channels 12.5 % of the time) where Table 1 has one.
        for name in ["cameraman", "couple", "man", "boat", "lena", "barbara", "house", "fingerprint", "hill", "peppers256"] {
            #expect(channels[name] == 1, "\(name)")
        }
        for name in ["montage", "lenacolor", "pepperscolor"] { #expect(channels[name] == 3, "\(name)") }
        // Gray levels are the file's (Pillow's convert("L") of equal channels is the channel).
        let ref = try #require(Catalog.seedReport.first { $0.name == "man" })
        let rgb = try PNGCodec.read(data + "/" + ref.file).image
        let gray = try Preparation.image(ref, dataDirectory: data, preprocessing: Preprocessing(colour: "auto")).image
        #expect(rgb.channels == 3 && gray.pixels == rgb.channel(0).pixels)
        // Run keys say what was done to each image: "gray" where it converted; unchanged
        // images keep the key they had before "auto" (no colour step), so no stored run is redone.
        let store = try ResultStore(root: TestFolder.path("seed-keys"))
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        let runner = Runner(store: store, options: RunnerOptions(dataDirectory: data, profile: .smoke, seeds: [0], jobs: 1, threadsPerJob: 1))
        let plan = try runner.plan(try Catalog.select(["table1-seed"], from: Catalog.experiments))
        for run in plan.runs {
            let converted = ["cameraman", "couple", "man"].contains(run.key.image)
            #expect(run.configuration.preprocessing.colour == (converted ? "gray" : nil), "\(run.key.image)")
            var before = run.configuration
            before.preprocessing.colour = nil
            #expect((run.key.configHash == (try before.hash())) == !converted, "\(run.key.image)")
        }
        // A catalog may ask for it; a misspelt value is named with the choices.
        var wrong = Preprocessing()
        wrong.colour = "grey"
        #expect(wrong.problems == ["colour 'grey' must be \"gray\", \"rgb\" or \"auto\" (or left out)"])
    }
}

import DIPCore
import DIPEngine
import DIPExperiments
import Foundation

/// What `render` did.
public struct RenderSummary: Sendable {
    /// The page written.
    public var pagePath: String
    /// Its size in bytes.
    public var bytes: Int
    /// Runs read.
    public var records: Int
    /// Files skipped, with why.
    public var problems: [String]
    /// User Markdown files created with placeholder text by this render.
    public var createdFiles: [String]
    /// What the user should know about this render: pictures of stored runs that are missing or
    /// unreadable or of another size than the run's image (the page shows those runs without
    /// them), and what made it slow.
    public var notes: [String]
    /// Seconds spent.
    public var seconds: Double
}

/// Renders the report from stored results only: it reads records and their PNGs, draws the
/// figures and writes `<out>/index.html` (atomically), creating `<out>/discussion.md` and
/// `<out>/conclusion.md` with placeholder text when they do not exist. It never fits anything.
///
/// Renders of one folder take turns (`<out>/.render.lock`), each reading the store only once it
/// holds the lock: so of two builds on one results folder that finish close together, the page
/// renamed last is the one that read the store last. Without the turns, the build whose render
/// started first (before the other's last run was stored) could rename its page last and leave
/// a page without that run.
public enum ReportRenderer {
    /// The lock file renders of one folder take turns on.
    public static let lockName = ".render.lock"

    /// The versions of the libraries that shape the page, pinned exactly in Package.swift
    /// (SwiftPM offers no way to read them at run time; a test checks these against it).
    static let libraryVersions = "swift-mustache 2.1.1, Ink 0.6.0"

    /// How long a render waits for another render of its folder before it goes on without
    /// taking turns (a render takes seconds; a lock of a dead NFS client is never given back).
    public static let lockWaitSeconds = 600.0

    /// Renders the results in `resultsFolder` into `outFolder`/index.html: the runs of
    /// `profile` (by default the most thorough profile stored; `RecordSelection`).
    /// `slowMarkdownSeconds`: a discussion or conclusion that takes longer to convert gets a note.
    /// `onWait` is called when another render of `outFolder` holds it (for at most
    /// `lockWaitSeconds`).
    public static func render(resultsFolder: String, outFolder: String, commandLine: String, profile: String? = nil,
                              catalog: [Experiment] = Catalog.experiments, fontPath: String? = nil, now: Date = Date(),
                              slowMarkdownSeconds: Double = 2, onWait: () -> Void = {}) throws -> RenderSummary {
        let start = Date()
        let store = try ResultStore(root: resultsFolder, create: false)
        let lockPath = (outFolder as NSString).appendingPathComponent(lockName)
        return try FileLock.withExclusive(lockPath, waitingAtMost: lockWaitSeconds, onWait: onWait) { lock in
            var summary = try render(store: store, resultsFolder: resultsFolder, outFolder: outFolder, commandLine: commandLine,
                                     profile: profile, catalog: catalog, fontPath: fontPath, now: now, slowMarkdownSeconds: slowMarkdownSeconds)
            switch lock {
            case let .waited(seconds) where seconds >= 1:
                summary.notes.append(String(format: "waited %.0f s for another render of %@ to finish", seconds, outFolder))
            case let .unavailable(why):
                summary.notes.append("rendered without taking turns with other renders of \(outFolder) (cannot lock \(lockPath): \(why))")
            default:
                break
            }
            summary.seconds = Date().timeIntervalSince(start)
            return summary
        }
    }

    /// The render itself, once it is this render's turn.
    private static func render(store: ResultStore, resultsFolder: String, outFolder: String, commandLine: String,
                               profile: String?, catalog: [Experiment], fontPath: String?, now: Date, slowMarkdownSeconds: Double) throws -> RenderSummary {
        let scan = store.scan()
        let selection = RecordSelection(scan.records, profile: profile)
        // A profile asked for with none of its runs stored, while others are (a typo, or the
        // wrong folder): its empty page would replace the page there, so nothing is written.
        if let profile, selection.records.isEmpty, !scan.records.isEmpty {
            let stored = Dictionary(grouping: scan.records, by: \.profile)
                .map { "\(counted($0.value.count, "run")) of \($0.key)" }.sorted().joined(separator: ", ")
            throw DIPError.invalidValue(name: "--profile", value: profile,
                                        reason: "no runs of that profile are stored in \(resultsFolder) (it holds \(stored)); give the profile "
                                            + "of those, or run this one first; the page in \(outFolder) is left as it was")
        }
        let templates = try ReportTemplates.files()
        let discussionPath = (outFolder as NSString).appendingPathComponent("discussion.md")
        let conclusionPath = (outFolder as NSString).appendingPathComponent("conclusion.md")
        let discussion = try UserMarkdown.readOrCreate(discussionPath, placeholder: templates["discussion.md"] ?? "## Discussion\n")
        let conclusion = try UserMarkdown.readOrCreate(conclusionPath, placeholder: templates["conclusion.md"] ?? "## Conclusion\n")
        var builder = PageBuilder(store: store, records: selection.records, catalog: catalog, fontPath: fontPath)
        var page = try builder.build(now: now, commandLine: commandLine, resultsFolder: resultsFolder)
        // Pictures set aside are shown on the page too: a run without its tiles said nothing there.
        page.problems = scan.problems.map(\.description) + builder.pictureProblems.lines
        page.hasProblems = !page.problems.isEmpty
        page.leftOff = selection.notes
        page.hasLeftOff = !selection.notes.isEmpty
        var notes = selection.notes + builder.pictureProblems.lines
            + FigureGlyphs.notes(labels: selection.records.map(\.label), fontPath: fontPath)
        if scan.records.isEmpty {
            notes.append("\(resultsFolder) holds no stored runs, so the page has none (is it the results folder a `run` or `build` wrote?)")
        }
        // Markdown of megabytes takes Ink tens of seconds: say so, so a slow render is explained.
        func markdown(_ text: String, _ path: String) -> String {
            // An emptied file is said to be empty, not shown as a blank section.
            if text.allSatisfy(\.isWhitespace) {
                return "<p class=\"note\">(\(HTMLText.escape(path)) is empty: write this section there and render again)</p>"
            }
            if text.utf8.count > UserMarkdown.maxBytes {
                let why = String(format: "%@ is %.1f MB of Markdown, more than the %d MB a section takes (Ink needs about 9 s a MB); shorten it, with pictures in files beside it",
                                 path, Double(text.utf8.count) / 1_000_000, UserMarkdown.maxBytes / 1_000_000)
                notes.append(why + "; the section shows this note instead")
                return "<p class=\"note\">(\(HTMLText.escape(why)))</p>"
            }
            let t0 = Date()
            var pictureNotes: [String] = []
            let html = UserMarkdown.html(text, folder: (path as NSString).deletingLastPathComponent, notes: &pictureNotes)
            notes += pictureNotes.map { "\(path): \($0)" }
            let seconds = Date().timeIntervalSince(t0)
            if seconds >= slowMarkdownSeconds {
                notes.append(String(format: "%@ (%.1f MB) took %.1f s of this render to turn into HTML; a shorter file renders faster",
                                    path, Double(text.utf8.count) / 1_000_000, seconds))
            }
            return html
        }
        page.discussionHTML = markdown(discussion.text, discussionPath)
        page.discussionPath = discussionPath
        page.conclusionHTML = markdown(conclusion.text, conclusionPath)
        page.conclusionPath = conclusionPath
        let library = try ReportTemplates.library(files: templates)
        guard let html = library.render(page, withTemplate: "report") else {
            throw DIPError.badFile(path: "Templates/report.mustache", reason: "the report template is missing")
        }
        let pagePath = (outFolder as NSString).appendingPathComponent("index.html")
        try AtomicFile.write(Data(html.utf8), to: pagePath)
        return RenderSummary(pagePath: pagePath, bytes: html.utf8.count, records: selection.records.count,
                             problems: scan.problems.map(\.description),
                             createdFiles: [discussion.created ? discussionPath : nil, conclusion.created ? conclusionPath : nil].compactMap { $0 },
                             notes: notes, seconds: 0)
    }

}

/// Assembles the page from records; one per render.
struct PageBuilder {
    let store: ResultStore
    let records: [RunRecord]
    /// The experiments the page knows by id: the built-in catalog and a user's (`--catalog`),
    /// for titles, descriptions and the order of configurations.
    let catalog: [Experiment]
    /// `catalog`'s order of experiments and configurations, for every list of them.
    let order: CatalogOrder
    let fontPath: String?
    /// The smallest PSNR fall shown as a drop: one that prints as 0.00 dB is none.
    static let visibleFall = 0.005
    /// Plots are drawn at 1.5 device pixels per unit: sharp enough on phones, half the bytes of 2x.
    let plotScale = 1.5
    /// Pictures that records list but the folder lacks or cannot decode (one line each).
    let pictureProblems = ProblemLog()
    /// The seeds each experiment ran, over all its stored runs: what each of its cells should
    /// cover (`marks`), gathered once rather than per cell.
    private let seedsRan: [String: Set<UInt64>]

    init(store: ResultStore, records: [RunRecord], catalog: [Experiment] = Catalog.experiments, fontPath: String?) {
        self.store = store
        self.records = records
        self.catalog = catalog
        self.order = CatalogOrder(catalog)
        self.fontPath = fontPath
        self.seedsRan = Dictionary(grouping: records, by: \.key.experiment).mapValues { Set($0.map(\.key.seed)) }
    }

    /// Records of one experiment.
    func of(_ experiment: String) -> [RunRecord] { records.filter { $0.key.experiment == experiment } }

    mutating func build(now: Date, commandLine: String, resultsFolder: String) throws -> ReportPage {
        let formatter = ISO8601DateFormatter()
        let profiles = Set(records.map(\.profile)).sorted()
        let notPaper = profiles.filter { $0 != Profile.paper.name }
        var banner: String? = nil
        if !notPaper.isEmpty {
            let summaries = notPaper.map { name in
                "\(name): " + ((try? Profile.named(name).summary) ?? "a custom profile")
            }
            banner = "These results come from the \(notPaper.joined(separator: " and ")) profile\(notPaper.count > 1 ? "s" : "") "
                + "(\(summaries.joined(separator: "; "))), so the numbers are not comparable to the paper's. "
                + "Run \"make report PROFILE=paper\" for the full replication."
        }
        let seedGroups = ResultDiff.acrossSeeds(records.map(ResultDiff.outcome), order: order)
        let builtInSweeps = try ["width", "depth", "library"].map { ($0, try sweep($0)) }
        let page = ReportPage(
            title: "Deep Image Prior: inpainting, reproduced",
            generatedAt: formatter.string(from: now), recordCount: records.count, banner: banner,
            hasProblems: false, problems: [], hasLeftOff: false, leftOff: [],
            masks: try masks(),
            architecture: try architecture().figures, layerTables: try architecture().tables,
            table1Ran: ran(["table1-paper", "table1-seed", "table1-tv"]),
            table1: table1(), bars: try bars(), table1Plots: try table1Plots(), table1Galleries: try table1Galleries(),
            textMask: try textMask(),
            experiment2Ran: ran(["width", "depth", "library"]),
            experiment2: try builtInSweeps.compactMap(\.1) + userSweeps(group: "experiment2"),
            experiment2Missing: missing(builtInSweeps, profiles: profiles),
            experiment3Ran: ran(["optimizers"]),
            eraRan: ran(["era"]),
            experiment3: try ["optimizers"].compactMap { try sweep($0) } + userSweeps(group: "experiment3"),
            otherExperiments: try otherExperiments(),
            discussionHTML: "", discussionPath: "", conclusionHTML: "", conclusionPath: "",
            seedTable: seedGroups.isEmpty ? nil : TableView(id: "seed-spread", caption: "Final and best PSNR over seeds (dB)", ResultDiff.table(seedGroups),
                                                            note: "std is the sample standard deviation; it is empty for a single seed."),
            provenance: provenance(commandLine: commandLine, resultsFolder: resultsFolder),
            recordTable: recordTable(),
            era: try era())
        return page
    }

    // MARK: helpers

    /// The experiments of `sweeps` without a stored run while others of them have one (a
    /// missing sweep vanished from the page without a word), with the command that fits them:
    /// with the page's profile when it has one.
    func missing(_ sweeps: [(String, SweepView?)], profiles: [String]) -> MissingView? {
        let absent = sweeps.filter { $0.1 == nil }.map(\.0)
        guard !absent.isEmpty, absent.count < sweeps.count else { return nil }
        let names = absent.count == 1 ? absent[0] : absent.dropLast().joined(separator: ", ") + " and " + absent.last!
        let profile = profiles.count == 1 ? " --profile \(profiles[0])" : ""
        return MissingView(names: names, command: "dip-report run \(absent.joined(separator: " "))\(profile)")
    }

    /// What the stored runs of `experiments` ran, one sentence per configuration (nil when
    /// none is stored).
    func ran(_ experiments: [String]) -> RanView? {
        let items = experiments.flatMap { id in
            WhatRan.sentences(experiment: id, labels: labels(id), records: records, written: catalog.first { $0.id == id })
        }
        return items.isEmpty ? nil : RanView(items: items)
    }

    /// Seeds of one (experiment, label, image), by seed.
    func runs(_ experiment: String, label: String? = nil, image: String) -> [RunRecord] {
        records.filter { $0.key.experiment == experiment && $0.key.image == image && (label == nil || $0.label == label) }
            .sorted { $0.key.seed < $1.key.seed }
    }

    /// Labels of an experiment in catalog order (those the catalog lacks: order of first appearance).
    func labels(_ experiment: String) -> [String] {
        order.ordered(labels: of(experiment).map(\.label), of: experiment)
    }

    func keys(_ runs: [RunRecord]) -> String { runs.map(\.key.description).joined(separator: "\n") }

    /// What a table's note says of `CellMark.unfinished`.
    static let unfinishedNote = "\(CellMark.unfinished.symbol) marks cells with a run that diverged or was cancelled; such a run counts with the values it has "
        + "(its best so far, its final only where that is finite)."
    /// What a table's note says of `CellMark.partial`.
    static let partialNote = "\(CellMark.partial.symbol) marks cells over fewer seeds than the experiment ran (hover for the seeds left out and why)."

    /// Whether a cell of `runs` is `CellMark.unfinished`: one of them diverged or was cancelled.
    static func unfinished(_ runs: [RunRecord]) -> Bool { runs.contains { $0.status != .done } }

    /// The notes a table's cells call for, from the marks they carry: `unfinishedNote` where a
    /// cell is marked unfinished, `partialNote` where one is partial (each with a leading
    /// space), else "".
    static func markNotes(_ rows: [RowView]) -> String {
        let used = rows.flatMap(\.cells).reduce(into: Set<CellMark>()) { $0.formUnion($1.marks) }
        return (used.contains(.unfinished) ? " " + unfinishedNote : "") + (used.contains(.partial) ? " " + partialNote : "")
    }

    /// The marks of a cell over `runs` (one configuration and image): unfinished where one of
    /// them did not finish, partial where `value` has fewer seeds than the experiment ran (a
    /// run not stored, skipped as damaged, or without that value), and the tooltip's line
    /// naming the seeds left out.
    func marks(_ runs: [RunRecord], _ value: (RunRecord) -> Double?) -> (marks: Set<CellMark>, line: String) {
        guard let experiment = runs.first?.key.experiment else { return ([], "") }
        // As `Spread` counts them: finite values only.
        let counted = Set(runs.filter { value($0)?.isFinite == true }.map(\.key.seed))
        let left = (seedsRan[experiment] ?? []).subtracting(counted).sorted()
        var marks: Set<CellMark> = Self.unfinished(runs) ? [.unfinished] : []
        guard !left.isEmpty else { return (marks, "") }
        marks.insert(.partial)
        let why = left.map { seed -> String in
            guard let r = runs.first(where: { $0.key.seed == seed }) else { return "seed \(seed): no record, not run or skipped as damaged" }
            return "seed \(seed): \(r.status == .done ? "no value" : r.status.rawValue + ", no value")"
        }
        return (marks, "over \(counted.count) of \(counted.count + left.count) seeds (\(why.joined(separator: "; ")))\n")
    }

    /// "32.10 ±0.21" with the range and record keys in the tooltip, and the cell's marks
    /// (`marks`) after the value and as data.
    func statCell(_ runs: [RunRecord], _ value: (RunRecord) -> Double?) -> CellView {
        guard let s = Spread(runs.compactMap(value)) else {
            let marks: Set<CellMark> = Self.unfinished(runs) ? [.unfinished] : []
            return CellView(runs.isEmpty ? "–" : "n/a" + CellMark.suffix(marks), title: keys(runs), cls: "na", marks: marks)
        }
        let (marks, line) = marks(runs, value)
        var text = String(format: "%.2f", s.mean)
        if let std = s.std { text += String(format: " ±%.2f", std) }
        text += CellMark.suffix(marks)
        let title = line + (s.count > 1 ? String(format: "range %.2f–%.2f over %d seeds\n", s.min, s.max, s.count) : "") + keys(runs)
        return CellView(text, title: title, cls: marks.isEmpty ? "" : "warn", marks: marks)
    }

    func image(_ record: RunRecord, _ role: String) -> Image? {
        // How to get the picture back: the run is fitted again once its record is gone.
        var refit: String {
            "; to fit it again, delete \(store.recordPath(for: record.key)) and run `dip-report run \(record.key.experiment) --seeds \(record.key.seed)` "
                + "with the results folder and profile it was run with"
        }
        let listed = RunImage(rawValue: role).flatMap { record.images[$0] }
        let name = listed ?? "\(ResultStore.stem(record.key))-\(role).png"
        let path = (store.folder(for: record.key) as NSString).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: path) else {
            // A picture the record lists must not vanish from the page without a word.
            if listed != nil { pictureProblems.add("\(path): the \(role) picture of \(record.key) is missing; the page shows the run without it" + refit) }
            return nil
        }
        do {
            // Checked before decoding: a picture of another size (a damaged or replaced file)
            // is no picture of this run, and one of 16384² took 48 s and 7.9 GB to embed.
            let (width, height) = try PNGCodec.dimensions(path)
            guard width == record.size.width, height == record.size.height else {
                pictureProblems.add("\(path): the \(role) picture of \(record.key) is \(width)x\(height), but the run's image is \(record.size); "
                                    + "the page shows the run without it" + refit)
                return nil
            }
            return try PNGCodec.read(path).image
        } catch {
            pictureProblems.add("\(path): the \(role) picture of \(record.key) cannot be read (\(error)); the page shows the run without it" + refit)
            return nil
        }
    }

    /// The record of a group whose best PSNR is the median over seeds: for an even count the
    /// lower of the middle two (a run's own picture, never an average of two).
    func median(_ runs: [RunRecord]) -> RunRecord? {
        let sorted = runs.sorted { ($0.best?.psnr ?? -.infinity) < ($1.best?.psnr ?? -.infinity) }
        return sorted.isEmpty ? nil : sorted[(sorted.count - 1) / 2]
    }

    func figure(_ uri: String, alt: String, caption: String, width: Double) -> FigureView {
        FigureView(uri: uri, alt: alt, caption: caption, width: Int(width))
    }

    // MARK: sections 2 and 4

    func masks() throws -> GalleryView? {
        var items: [EmbeddedImage] = []
        for (experiment, what) in [("table1-paper", "50 % Bernoulli"), ("table1-seed", "50 % Bernoulli, seed protocol"),
                                   ("width", "text"), ("library", "library (Fig. 8)")] {
            guard let r = of(experiment).first, let m = image(r, "mask") else { continue }
            items.append(try EmbeddedImage(m, caption: "\(what) mask, \(r.key.image) seed \(r.key.seed), \(Self.holes(r.holeFraction))"))
        }
        return items.isEmpty ? nil : GalleryView(heading: nil, items: items)
    }

    /// "20.6 % holes": one way of saying a mask's share of holes wherever the page says it.
    static func holes(_ fraction: Double) -> String { String(format: "%.1f %% holes", fraction * 100) }

    func architecture() throws -> (figures: [FigureView], tables: [TitledText]) {
        var figures: [FigureView] = [], tables: [TitledText] = []
        let wanted: [(String, String)] = [("table1-paper", "Table-1 network"), ("width", "Text-inpainting network")]
        for (experiment, name) in wanted {
            var summary: NetworkSummary
            var source: String
            let candidates = experiment == "width" ? of(experiment).filter { $0.label == "width 128" } + of(experiment) : of(experiment)
            if let r = candidates.first, case let .dip(fit) = r.configuration.method {
                var net = fit.network
                net.outputChannels = r.channels
                summary = try NetworkSummary(config: net, height: r.size.height, width: r.size.width)
                source = "as run for \(r.key) (\(r.profile) profile)"
            } else {
                let preset = experiment == "width" ? "text" : "table1"
                summary = try NetworkSummary(config: SkipConfig.preset(preset, outputChannels: experiment == "width" ? 3 : 1), height: 512, width: 512)
                source = "the \(preset) preset at 512x512 (no stored run yet)"
            }
            let diagram = ArchitectureDiagram(summary: summary, title: "\(name): \(NetworkSummary.thousands(summary.parameters)) parameters")
            figures.append(figure(try diagram.dataURI(scale: plotScale, fontPath: fontPath), alt: "\(name) diagram",
                                  caption: "\(name), \(source).", width: diagram.width))
            tables.append(TitledText(title: name, text: summary.formattedTable()))
        }
        return (figures, tables)
    }

    // MARK: section 5

    func table1() -> TableView? {
        let paper = of("table1-paper"), seed = of("table1-seed"), tv = of("table1-tv")
        guard !(paper.isEmpty && seed.isEmpty && tv.isEmpty) else { return nil }
        let columns = ReferenceNumbers.table1Images
        // Cited numbers, not runs of this tool: each cell's title names where they come from.
        func refRow(_ name: String, _ values: [String: Double], source: String, cls: String = "ref") -> RowView {
            RowView(cells: [CellView(name, title: source, head: true)] + columns.map { c in
                values[c.name].map { CellView(String(format: "%.2f", $0), title: "\(name): \(source)") } ?? CellView("–", cls: "na")
            }, cls: cls)
        }
        func ourRow(_ name: String, _ runs: [RunRecord], experiment: String, label: String? = nil,
                    _ value: @escaping (RunRecord) -> Double?) -> RowView {
            RowView(cells: [CellView(name, head: true)] + columns.map { c in
                let matching = runs.filter { ReferenceNumbers.table1Column(forImage: $0.key.image) == c.name && (label == nil || $0.label == label) }
                // An image the catalog runs here but with no record yet is said to be, where a
                // "–" read as the colour columns' "not in this protocol".
                if matching.isEmpty, let image = plannedImage(experiment, label: label, column: c.name) {
                    return CellView("not run", title: "no run of \(image) is stored; `dip-report run \(experiment)` fits it", cls: "na")
                }
                return statCell(matching.sorted { $0.key.seed < $1.key.seed }, value)
            }, cls: "ours")
        }
        var rows = [refRow("Papyan et al. (paper)", ReferenceNumbers.papyan, source: "the paper's Table 1 (Ulyanov et al., CVPR 2018), as cited there"),
                    refRow("DIP (paper)", ReferenceNumbers.paperDIP, source: "the paper's Table 1 (Ulyanov et al., CVPR 2018)"),
                    refRow("Seed report (best)", ReferenceNumbers.seedReport, source: "the seed report's Table 1 (the TU Delft reproduction)")]
        // One seed, fp32 with TF32 convolutions on an H100 (experiments.md): both iterates, as
        // montage's fall from 35.31 to 31.61 is the reason the report shows both.
        let pytorch = "a PyTorch implementation of the paper protocol run once (seed 0) on an NVIDIA H100 with TF32 convolutions "
            + "by the project (docs: experiments.md); cited, not a run of this tool"
        rows.append(refRow("PyTorch reference, paper protocol, best (one seed, H100, TF32)", ReferenceNumbers.pytorchReference.mapValues(\.best), source: pytorch))
        rows.append(refRow("PyTorch reference, paper protocol, final (one seed, H100, TF32)", ReferenceNumbers.pytorchReference.mapValues(\.final), source: pytorch))
        rows.append(ourRow("Ours, paper protocol, best", paper, experiment: "table1-paper") { $0.best?.psnr })
        rows.append(ourRow("Ours, paper protocol, final", paper, experiment: "table1-paper") { $0.final?.psnr })
        rows.append(ourRow("Ours, seed protocol, best", seed, experiment: "table1-seed") { $0.best?.psnr })
        rows.append(ourRow("Ours, seed protocol, final", seed, experiment: "table1-seed") { $0.final?.psnr })
        for label in labels("table1-tv") {
            rows.append(ourRow(label, tv, experiment: "table1-tv", label: label) { $0.final?.psnr })
        }
        // Per-image difference of our paper-protocol best mean to the paper.
        rows.append(RowView(cells: [CellView("Ours (paper protocol, best) − paper", head: true)] + columns.map { c in
            let matching = paper.filter { $0.key.image == c.name }
            guard let ref = ReferenceNumbers.paperDIP[c.name], let s = Spread(matching.compactMap { $0.best?.psnr }) else {
                return CellView("–", cls: "na")
            }
            let d = s.mean - ref
            let (marks, line) = marks(matching) { $0.best?.psnr }
            return CellView(String(format: "%+.2f", d) + CellMark.suffix(marks),
                            title: line + String(format: "mean %.2f − paper %.2f\n", s.mean, ref) + keys(matching),
                            cls: marks.isEmpty ? (d >= 0 ? "pos" : "neg") : "warn", marks: marks)
        }, cls: ""))
        return TableView(id: "table1", caption: "Table 1: PSNR (dB), 50 % of pixels missing",
                         header: ["method"] + columns.map(\.label), rows: rows,
                         note: "Ours: mean ± sample standard deviation (n − 1) over seeds (hover a cell for the range and the run records)."
                            + Self.markNotes(rows) + " The paper has no colour images; "
                            + "the seed report's house and peppers were upscaled from 256x256, which flatters them."
                            + perChannelNote(seed))
    }

    /// The image of Table 1's column `column` that `experiment` (its configuration `label`, or
    /// any) runs in the catalog, nil when it runs none there.
    func plannedImage(_ experiment: String, label: String?, column: String) -> String? {
        catalog.first { $0.id == experiment }?.runs.filter { label == nil || $0.label == label }
            .flatMap(\.images).first { ReferenceNumbers.table1Column(forImage: $0.name) == column }?.name
    }

    /// The Table 1 note's words on `runs` (the seed protocol's) of a grey column that ran with
    /// three channels (the seed report's montage is a colour file; gray content stored as colour
    /// runs gray, `Catalog.seedPreprocessing`): a colour image gets one 50 % mask a channel
    /// (upstream's draw), so its cell is not the grey files' "50 % of pixels missing". "" when none.
    func perChannelNote(_ runs: [RunRecord]) -> String {
        let grey = ReferenceNumbers.table1Images.filter { ReferenceNumbers.paperDIP[$0.name] != nil }
        let labels = grey.filter { c in
            runs.contains { ReferenceNumbers.table1Column(forImage: $0.key.image) == c.name && $0.channels == 3 }
        }.map(\.label)
        guard let last = labels.last else { return "" }
        let names = labels.count == 1 ? last : labels.dropLast().joined(separator: ", ") + " and " + last
        let one = labels.count == 1
        return " The seed protocol's \(names) ran as \(one ? "a colour image" : "colour images") (the seed report's files store \(one ? "it" : "them") "
            + "as colour): each channel has its own 50 % mask there, so half the samples are missing but fewer pixels lose all channels."
    }

    func bars() throws -> FigureView? {
        let paper = of("table1-paper")
        guard !paper.isEmpty else { return nil }
        let bars = ReferenceNumbers.table1Images.compactMap { c -> Bar? in
            guard let ref = ReferenceNumbers.paperDIP[c.name] else { return nil }
            let s = Spread(paper.filter { $0.key.image == c.name }.compactMap { $0.best?.psnr })
            return Bar(label: c.label, value: s.map { $0.mean - ref },
                       whisker: s.flatMap { $0.count > 1 ? ($0.min - ref)...($0.max - ref) : nil })
        }
        let chart = BarChart(title: "Ours (paper protocol, best) minus the paper, per image", yLabel: "difference (dB)", bars: bars, width: 640, height: 300)
        return figure(try chart.dataURI(scale: plotScale, fontPath: fontPath), alt: "bar chart of differences to the paper",
                      caption: "Green: above the paper's value; red: below. Whiskers: the seeds' range.", width: chart.width)
    }

    func curve(_ r: RunRecord) -> [PlotPoint] {
        r.curve.map { PlotPoint(x: Double($0.iteration), y: $0.psnr ?? .nan) }
    }

    func table1Plots() throws -> [FigureView] {
        var out: [FigureView] = []
        for c in ReferenceNumbers.table1Images {
            var series: [LineSeries] = []
            for (experiment, name, hue) in [("table1-paper", "paper protocol", 0), ("table1-seed", "seed protocol", 1)] {
                let runs = of(experiment).filter { ReferenceNumbers.table1Column(forImage: $0.key.image) == c.name }.sorted { $0.key.seed < $1.key.seed }
                for (i, r) in runs.enumerated() {
                    let marker = r.bestIteration.flatMap { it in r.best.map { PlotPoint(x: Double(it), y: $0.psnr) } }
                    series.append(LineSeries(name: "\(name), seed \(r.key.seed)", points: curve(r),
                                             colour: Self.shade(hue, i, of: runs.count), marker: marker))
                }
            }
            guard !series.isEmpty else { continue }
            let refs = ReferenceNumbers.paperDIP[c.name].map { [ReferenceLine(value: $0, label: String(format: "paper %.2f", $0))] } ?? []
            let plot = LinePlot(title: "\(c.label): PSNR over iterations", xLabel: "iteration", yLabel: "PSNR (dB)",
                                series: series, references: refs, width: 520, height: 290)
            out.append(figure(try plot.dataURI(scale: plotScale, fontPath: fontPath), alt: "PSNR curves of \(c.label)",
                              caption: "\(c.label): every seed of each protocol.", width: plot.width))
        }
        return out
    }

    /// Seeds of one configuration in shades of one palette colour, so configurations stay apart.
    static func shade(_ hue: Int, _ index: Int, of count: Int) -> Colour {
        let base = Colour.series(hue)
        let t = count > 1 ? Double(index) / Double(count - 1) * 0.45 : 0
        return Colour(base.r + (1 - base.r) * t, base.g + (1 - base.g) * t, base.b + (1 - base.b) * t)
    }

    func pictures(_ r: RunRecord, title: String) throws -> GalleryView {
        var items: [EmbeddedImage] = []
        let clean = image(r, "clean")
        if let clean { items.append(try EmbeddedImage(clean, caption: "clean")) }
        if let m = image(r, "mask") { items.append(try EmbeddedImage(m, caption: "mask")) }
        if let x = image(r, "corrupted") { items.append(try EmbeddedImage(x, caption: String(format: "corrupted, %.2f dB", r.corruptedPSNR))) }
        let best = image(r, "best")
        if let best {
            items.append(try EmbeddedImage(best, caption: "best" + (r.bestIteration.map { ", iteration \($0)" } ?? "")
                                            + (r.best.map { String(format: ", %.2f dB", $0.psnr) } ?? "")))
        }
        if let f = image(r, "final") {
            items.append(try EmbeddedImage(f, caption: "final" + (r.final.map { String(format: ", %.2f dB", $0.psnr) } ?? "")))
        }
        if let clean, let best, let map = try? EmbeddedImage.errorMap(best, clean) {
            items.append(try EmbeddedImage(map, caption: "error of best ×4"))
        }
        return GalleryView(heading: title, items: items)
    }

    func table1Galleries() throws -> [GalleryView] {
        try ReferenceNumbers.table1Images.compactMap { c in
            guard let r = median(of("table1-paper").filter { $0.key.image == c.name })
                    ?? median(of("table1-seed").filter { ReferenceNumbers.table1Column(forImage: $0.key.image) == c.name }) else { return nil }
            return try pictures(r, title: "\(c.label) (\(r.key.experiment), seed \(r.key.seed))")
        }
    }

    // MARK: sections 6 and 7

    func textMask() throws -> GalleryView? {
        guard let r = (of("width") + of("depth") + of("optimizers")).first else { return nil }
        var items: [EmbeddedImage] = []
        if let m = image(r, "mask") { items.append(try EmbeddedImage(m, caption: "text mask, \(Self.holes(r.holeFraction))")) }
        if let x = image(r, "corrupted") { items.append(try EmbeddedImage(x, caption: "kate.png with the text holes")) }
        return items.isEmpty ? nil : GalleryView(heading: nil, items: items)
    }

    /// The network depth the catalog writes for a configuration (nil for TV or an unknown one).
    func writtenDepth(experiment: String, label: String) -> Int? {
        guard case let .dip(config)? = spec(experiment: experiment, label: label)?.method else { return nil }
        return config.network.depth
    }

    /// The seed report's value for a sweep configuration (its typed point in the catalog).
    func seedReportValue(experiment: String, label: String) -> Double? {
        // The catalog types the sweep point; the label only finds the configuration.
        spec(experiment: experiment, label: label)?.seedReportPoint?.publishedPSNR
    }

    /// The configuration the catalog writes under `label` in `experiment` (nil when unknown).
    func spec(experiment: String, label: String) -> RunSpec? {
        catalog.first { $0.id == experiment }?.runs.first { $0.label == label }
    }

    /// Users' experiments whose group is neither experiment2 nor experiment3 (nil when none).
    func otherExperiments() throws -> OtherExperimentsView? {
        let sweeps = try userSweeps { !["experiment2", "experiment3"].contains($0) }
        return sweeps.isEmpty ? nil : OtherExperimentsView(sweeps: sweeps)
    }

    /// The experiments of users' catalogs in `group`, as sweeps, in the order their records sort.
    func userSweeps(group: String) throws -> [SweepView] { try userSweeps { $0 == group } }

    /// The experiments of users' catalogs whose group passes `include`.
    func userSweeps(where include: (String) -> Bool) throws -> [SweepView] {
        let ids = records.filter { include($0.group) && !Catalog.isBuiltIn($0.key.experiment) }.map(\.key.experiment)
        var seen = Set<String>()
        return try ids.filter { seen.insert($0).inserted }.compactMap { try sweep($0) }
    }

    func sweep(_ experiment: String) throws -> SweepView? {
        let runs = of(experiment)
        guard !runs.isEmpty else { return nil }
        let info = catalog.first { $0.id == experiment }
        let labels = labels(experiment)
        let images = Array(Set(runs.map(\.key.image))).sorted()
        var rows: [RowView] = []
        var series: [LineSeries] = []
        var outputs: [EmbeddedImage] = [], drops: [EmbeddedImage] = []
        // A reduced profile crops each configuration to what its net needs, so a deep net may run
        // on a larger window than its siblings: its numbers then do not compare pixel for pixel,
        // and its row says on what it ran.
        var usualSize: [String: ImageSize] = [:]
        for img in images {
            // The size most configurations ran at; on a tie the smaller, since the note says
            // the marked row ran on a larger window (a tie was decided by dictionary order).
            let configurations = Dictionary(grouping: runs.filter { $0.key.image == img }, by: \.size).mapValues { Set($0.map(\.label)).count }
            usualSize[img] = configurations.max { a, b in
                (a.value, -a.key.width * a.key.height) < (b.value, -b.key.width * b.key.height)
            }?.key
        }
        var otherWindow = false
        var anySeedValue = false
        for (li, label) in labels.enumerated() {
            for img in images {
                let group = runs.filter { $0.label == label && $0.key.image == img }.sorted { $0.key.seed < $1.key.seed }
                guard !group.isEmpty else { continue }
                var name = images.count > 1 ? "\(label), \(img)" : label
                if let usual = usualSize[img], group[0].size != usual {
                    name += " (on \(group[0].size), the others \(usual))"
                    otherWindow = true
                }
                // A reduced profile's size cap takes levels from a net that needs more pixels
                // ("depth 10" ran 8 in smoke): the row says so rather than its label alone.
                if let written = writtenDepth(experiment: experiment, label: label), case let .dip(ran) = group[0].configuration.method,
                   ran.network.depth != written {
                    name += " (ran with \(ran.network.depth) levels of \(written) under this profile)"
                }
                let seedValue = seedReportValue(experiment: experiment, label: label)
                if seedValue != nil { anySeedValue = true }
                let best = Spread(group.compactMap { $0.best?.psnr })
                var delta = CellView("–", cls: "na")
                if let seedValue, let best {
                    let d = best.mean - seedValue
                    delta = CellView(String(format: "%+.2f", d), title: keys(group), cls: d >= 0 ? "pos" : "neg")
                }
                let bestIts = group.compactMap(\.bestIteration).map(String.init).joined(separator: ", ")
                // The worst drop over the seeds, from each curve where the run kept none (only
                // Experiment 3 keeps its picture): "–" then means no visible fall, not "not recorded".
                let drop = group.compactMap { r in (r.worstDrop ?? Runner.worstDrop(r.curve)).map { (seed: r.key.seed, drop: $0) } }
                    .filter { $0.drop.fall >= Self.visibleFall }.max { $0.drop.fall < $1.drop.fall }
                rows.append(RowView(cells: [CellView(name, head: true), statCell(group) { $0.best?.psnr }, statCell(group) { $0.final?.psnr },
                                            CellView(bestIts.isEmpty ? "–" : bestIts, title: keys(group)),
                                            CellView(drop.map { String(format: "%.2f dB at %d, s%llu", $0.drop.fall, $0.drop.iteration, $0.seed) } ?? "–",
                                                     title: keys(group)),
                                            seedValue.map { CellView(String(format: "%.2f", $0), title: "seed report") } ?? CellView("–", cls: "na"),
                                            delta], cls: "ours"))
                for (i, r) in group.enumerated() {
                    let marker = r.bestIteration.flatMap { it in r.best.map { PlotPoint(x: Double(it), y: $0.psnr) } }
                    series.append(LineSeries(name: "\(name), s\(r.key.seed)", points: curve(r), colour: Self.shade(li, i, of: group.count), marker: marker))
                }
                if let r = median(group), let best = image(r, "best") {
                    outputs.append(try EmbeddedImage(best, caption: "\(name) s\(r.key.seed): best" + (r.best.map { String(format: ", %.2f dB", $0.psnr) } ?? "")))
                }
                for r in group {
                    guard let d = r.worstDrop, d.fall >= Self.visibleFall, let pic = image(r, "drop") else { continue }
                    drops.append(try EmbeddedImage(pic, caption: "\(name) s\(r.key.seed): " + String(format: "%.2f → %.2f dB at iteration %d", d.fromPSNR, d.psnr, d.iteration)))
                }
            }
        }
        let title = info?.title ?? experiment
        // The seed report's columns only where it has a figure for some row (never for a user's experiment).
        var header = ["configuration", "best", "final", "best at iteration", "worst drop", "seed report", "ours best − seed report"]
        if !anySeedValue {
            header.removeLast(2)
            for i in rows.indices { rows[i].cells.removeLast(2) }
        }
        let table = TableView(caption: "\(title): PSNR (dB)", header: header,
                              rows: rows, note: "Ours: mean ± sample standard deviation (n − 1) over seeds; hover for the range and the run records. "
                                  + "Worst drop: the largest PSNR fall between two consecutive samples of a curve, over the seeds (s: the seed's)."
                                  + Self.markNotes(rows)
                                  + (otherWindow ? " A row marked \"on WxH\" ran on a larger window of the image than the others (its net needs that size under this profile's crops): its PSNR is over other pixels and does not compare directly." : ""))
        var plot: FigureView? = nil
        if !series.isEmpty {
            let p = LinePlot(title: "\(title): PSNR over iterations", xLabel: "iteration", yLabel: "PSNR (dB)", series: series,
                             width: 720, height: 340 + Double((series.count + 2) / 3) * 4)
            plot = figure(try p.dataURI(scale: plotScale, fontPath: fontPath), alt: "PSNR curves of \(title)",
                          caption: "Every configuration and seed; a dot marks the best iterate.", width: p.width)
        }
        return SweepView(title: title, description: info?.description ?? "A user experiment (group \(runs[0].group)).", table: table, plot: plot,
                         outputs: outputs.isEmpty ? nil : GalleryView(heading: "Best iterates (of each configuration, the seed whose best PSNR is the median)", items: outputs),
                         drops: drops.isEmpty ? nil : GalleryView(heading: "At the bottom of the worst sudden drop", items: drops))
    }

    // MARK: appendix B

    func provenance(commandLine: String, resultsFolder: String) -> [NameValue] {
        func list<T: Hashable>(_ f: (RunRecord) -> T) -> [T] { Array(Set(records.map(f))) }
        let commits = list { $0.software.commit }.sorted()
        let tools = list { $0.software.tool }.sorted()
        let onednn = list { $0.software.oneDNN }.sorted()
        let backends = list { r -> String in
            let details = [r.software.device, r.software.libraries].compactMap { $0 }.filter { !$0.isEmpty }
            return details.isEmpty ? r.software.backend : "\(r.software.backend) (\(details.joined(separator: "; ")))"
        }.sorted()
        let machines = list { "\($0.machine.host): \($0.machine.cpu), \(counted($0.machine.cores, "core")), \(counted($0.machine.threads, "thread")), \($0.machine.os)" }.sorted()
        let seeds = list(\.key.seed).sorted().map(String.init)
        let profiles = list(\.profile).sorted()
        let finished = records.map(\.finishedAt).sorted()
        var durations: [String] = []
        for id in (Catalog.experiments.map(\.id) + list(\.key.experiment).sorted()) where !durations.contains(where: { $0.hasPrefix(id + ":") }) {
            let rs = of(id)
            guard !rs.isEmpty else { continue }
            durations.append("\(id): \(Self.duration(rs.reduce(0) { $0 + $1.wallSeconds })) over \(counted(rs.count, "run"))")
        }
        let total = records.reduce(0) { $0 + $1.wallSeconds }
        func join(_ a: [String]) -> String { a.isEmpty ? "–" : a.joined(separator: "; ") }
        // A run resumed in another setup holds numbers no uninterrupted run reproduces. A copy
        // of such a run (TwinCopy) carries its stretches; where the fitted run is on this page
        // too, the copy names it instead of repeating them.
        let keys = Set(records.map(\.key))
        let mixed = records.filter { ($0.computeStretches?.count ?? 0) > 1 }.map { r in
            if let source = r.copiedFrom, keys.contains(source) { return "\(r.key): a copy of \(source)" }
            return "\(r.key): " + r.computeStretches!.map { "\($0.setupSummary) from iteration \($0.fromIteration)" }.joined(separator: ", then ")
        }.sorted()
        let mixedRow = mixed.isEmpty ? [] : [NameValue(name: "Resumed in another setup", value: join(mixed))]
        return [
            NameValue(name: "Command", value: commandLine),
            NameValue(name: "Results folder", value: resultsFolder),
            NameValue(name: "Profiles", value: join(profiles)),
            NameValue(name: "Seeds", value: join(seeds)),
            NameValue(name: "Commits", value: join(commits)),
            NameValue(name: "dip-report versions", value: join(tools)),
            NameValue(name: "oneDNN", value: join(onednn)),
            NameValue(name: "Backends", value: join(backends)),
            NameValue(name: "Machines", value: join(machines)),
        ] + mixedRow + [
            NameValue(name: "Runs finished", value: finished.isEmpty ? "–" : "\(finished.first!) to \(finished.last!)"),
            NameValue(name: "Compute time", value: "\(Self.duration(total)) in all; " + join(durations)),
            NameValue(name: "Rendering", value: "\(TextMask.rendererVersion), \(ReportRenderer.libraryVersions)"),
        ]
    }

    func recordTable() -> TableView? {
        guard !records.isEmpty else { return nil }
        let rows = records.map { r in
            RowView(cells: [CellView(r.key.description, head: true), CellView(r.label), CellView(r.profile), CellView(r.status.rawValue, cls: r.status == .done ? "" : "warn"),
                            CellView("\(r.iterations)"), CellView(r.final.map { String(format: "%.2f", $0.psnr) } ?? "–"),
                            CellView(r.best.map { String(format: "%.2f", $0.psnr) } ?? "–"), CellView(r.bestIteration.map(String.init) ?? "–"),
                            CellView(r.copiedFrom.map { "copy of \($0)" } ?? Self.duration(r.wallSeconds)), CellView(r.software.commit),
                            CellView(r.machine.host)], cls: "")
        }
        return TableView(caption: "Run records (results/<key>.json)",
                         header: ["record", "configuration", "profile", "status", "iterations", "final dB", "best dB", "best at", "wall time", "commit", "machine"],
                         rows: rows)
    }

    /// "1h02m", "3m05s", "12.3s".
    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        if s < 60 { return String(format: "%.1fs", s) }
        let t = Int(s.rounded())
        if t >= 3600 { return String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) }
        return String(format: "%dm%02ds", t / 60, t % 60)
    }
}

/// Lines collected while the page is built (each once, in order).
final class ProblemLog {
    private(set) var lines: [String] = []

    /// Adds `line` unless it is there already (a picture may be asked for by several sections).
    func add(_ line: String) { if !lines.contains(line) { lines.append(line) } }
}

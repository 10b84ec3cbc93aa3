/// The values the templates render. Plain structs with stored properties: swift-mustache reads
/// them by reflection, and escapes every string unless a template asks otherwise (only the
/// sanitised Markdown of sections 8 and 9 is inserted raw).
struct ReportPage {
    /// The page title.
    var title: String
    /// When the page was rendered (ISO 8601).
    var generatedAt: String
    /// Number of stored runs read.
    var recordCount: Int
    /// The not-comparable warning for quick and smoke results; nil for paper-profile results.
    var banner: String?
    /// Whether `problems` is non-empty.
    var hasProblems: Bool
    /// Files of the results folder that were skipped, with why.
    var problems: [String]
    /// Whether `leftOff` is non-empty.
    var hasLeftOff: Bool
    /// Stored runs this page does not count (other profiles, older configurations of a label).
    var leftOff: [String]
    /// Section 2: the masks used.
    var masks: GalleryView?
    /// Section 4: network diagrams.
    var architecture: [FigureView]
    /// Section 4: the layer tables behind the diagrams.
    var layerTables: [TitledText]
    /// Section 5: what its stored runs actually ran, and where that differs from the protocol
    /// the section's text names (likewise `experiment2Ran`, `experiment3Ran`).
    var table1Ran: RanView?
    /// Section 5: Table 1.
    var table1: TableView?
    /// Section 5: differences to the paper as bars.
    var bars: FigureView?
    /// Section 5: PSNR curves per image.
    var table1Plots: [FigureView]
    /// Section 5: pictures per image.
    var table1Galleries: [GalleryView]
    /// Section 6: the generated text mask.
    var textMask: GalleryView?
    /// Section 6: what ran.
    var experiment2Ran: RanView?
    /// Section 6: width, depth and library sweeps.
    var experiment2: [SweepView]
    /// Section 6: the report's sweeps not stored while others are (nil when none is missing, or
    /// none is stored: the section then says so as a whole).
    var experiment2Missing: MissingView?
    /// Section 7: what ran.
    var experiment3Ran: RanView?
    /// Appendix C: what the era experiment's runs ran.
    var eraRan: RanView?
    /// Section 7: optimiser and learning-rate runs.
    var experiment3: [SweepView]
    /// End of section 7: experiments of a user's catalog whose group is none of the report's
    /// (groups experiment2 and experiment3 join those sections); nil when there are none.
    var otherExperiments: OtherExperimentsView?
    /// Section 8 as safe HTML.
    var discussionHTML: String
    /// Where section 8 came from.
    var discussionPath: String
    /// Section 9 as safe HTML.
    var conclusionHTML: String
    /// Where section 9 came from.
    var conclusionPath: String
    /// Appendix A.
    var seedTable: TableView?
    /// Appendix B: name/value lines.
    var provenance: [NameValue]
    /// Appendix B: every record.
    var recordTable: TableView?
    /// Appendix C: the framework's era (experiment 4); nil before the era experiment has runs.
    var era: EraView?
}

/// Users' experiments outside the report's groups, shown under their own heading.
struct OtherExperimentsView: Sendable {
    /// One sweep per experiment.
    var sweeps: [SweepView]
}

/// A heading with preformatted text.
struct TitledText: Sendable {
    /// The heading.
    var title: String
    /// The text, shown in <pre>.
    var text: String
}

/// A name and its value.
struct NameValue: Sendable {
    /// The name.
    var name: String
    /// The value.
    var value: String
}

/// A plot or diagram embedded as a PNG data URI.
struct FigureView: Sendable {
    /// The data URI.
    var uri: String
    /// Alternative text.
    var alt: String
    /// The caption under it.
    var caption: String
    /// Display width in CSS pixels (the PNG has more pixels, for sharp screens).
    var width: Int
}

/// A row of pictures.
struct GalleryView: Sendable {
    /// Its heading, if any (not "title": Mustache would fall back to the page's title).
    var heading: String?
    /// The pictures.
    var items: [EmbeddedImage]
}

/// A table cell.
struct CellView: Sendable {
    /// The text shown.
    var text: String
    /// The tooltip: where the number comes from (record keys).
    var title: String
    /// CSS class: "pos", "neg", "warn", "na" or "".
    var cls: String
    /// Whether it is a row header.
    var head: Bool
    /// The marks its text ends with, which the table's note explains (`PageBuilder.markNotes`).
    var marks: Set<CellMark>

    /// Creates a cell; `marks` are those `text` already ends with.
    init(_ text: String, title: String = "", cls: String = "", head: Bool = false, marks: Set<CellMark> = []) {
        self.text = text
        self.title = title
        self.cls = cls
        self.head = head
        self.marks = marks
    }
}

/// A mark after a table cell's value that qualifies it; the table's note explains each one used.
enum CellMark: Sendable, Hashable, CaseIterable {
    /// "†": a run behind the cell diverged or was cancelled.
    case unfinished
    /// "‡": the value is over fewer seeds than the experiment ran.
    case partial

    /// The mark as the cell shows it.
    var symbol: String {
        switch self {
        case .unfinished: "†"
        case .partial: "‡"
        }
    }

    /// " †", " ‡", " † ‡" or "": the marks of `marks` after a value, in this enum's order.
    static func suffix(_ marks: Set<CellMark>) -> String {
        allCases.filter(marks.contains).map { " " + $0.symbol }.joined()
    }
}

/// A table row.
struct RowView: Sendable {
    /// Its cells.
    var cells: [CellView]
    /// CSS class: "ours", "ref" or "".
    var cls: String
}

/// A table.
struct TableView: Sendable {
    /// Element id, for links.
    var id: String?
    /// The caption.
    var caption: String?
    /// Column titles.
    var header: [String]
    /// The rows.
    var rows: [RowView]
    /// A note under the table.
    var note: String?

    /// A page table from a text table (every cell plain; numeric columns right-aligned by CSS).
    init(id: String? = nil, caption: String? = nil, _ table: TextTable, note: String? = nil) {
        self.init(id: id, caption: caption, header: table.header,
                  rows: table.rows.map { RowView(cells: $0.enumerated().map { CellView($0.element, head: $0.offset == 0) }, cls: "") },
                  note: note)
    }

    /// Creates a table.
    init(id: String? = nil, caption: String? = nil, header: [String], rows: [RowView], note: String? = nil) {
        self.id = id
        self.caption = caption
        self.header = header
        self.rows = rows
        self.note = note
    }
}

/// One experiment of sections 6 and 7: a table beside the seed report, curves, best outputs and
/// the pictures at the bottom of sudden drops.
struct SweepView: Sendable {
    /// The experiment's title.
    var title: String
    /// What it tests.
    var description: String
    /// Per configuration: ours (mean over seeds) beside the seed report.
    var table: TableView
    /// PSNR curves of every configuration and seed.
    var plot: FigureView?
    /// The best iterate of each configuration.
    var outputs: GalleryView?
    /// The pictures at the bottom of each curve's worst drop.
    var drops: GalleryView?
}

/// What a section's stored runs ran (see WhatRan): one sentence per configuration.
struct RanView {
    /// The sentences.
    var items: [String]
}

/// Experiments of a section with no stored run, while others of it have some, and the command
/// that fits them.
struct MissingView {
    /// "depth", "width and depth".
    var names: String
    /// "dip-report run depth --profile quick".
    var command: String
}

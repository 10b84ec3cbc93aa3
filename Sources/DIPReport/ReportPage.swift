/// The values the templates render. Plain structs with stored properties: swift-mustache reads
/// them by reflection, and escapes every string unless a template asks otherwise (only the
/// sanitised Markdown of sections 8 and 9 is inserted raw).
public struct ReportPage {
    /// The page title.
    public var title: String
    /// When the page was rendered (ISO 8601).
    public var generatedAt: String
    /// Number of stored runs read.
    public var recordCount: Int
    /// The not-comparable warning for quick and smoke results; nil for paper-profile results.
    public var banner: String?
    /// Whether `problems` is non-empty.
    public var hasProblems: Bool
    /// Files of the results folder that were skipped, with why.
    public var problems: [String]
    /// Section 2: the masks used.
    public var masks: GalleryView?
    /// Section 4: network diagrams.
    public var architecture: [FigureView]
    /// Section 4: the layer tables behind the diagrams.
    public var layerTables: [TitledText]
    /// Section 5: Table 1.
    public var table1: TableView?
    /// Section 5: differences to the paper as bars.
    public var bars: FigureView?
    /// Section 5: PSNR curves per image.
    public var table1Plots: [FigureView]
    /// Section 5: pictures per image.
    public var table1Galleries: [GalleryView]
    /// Section 6: the generated text mask.
    public var textMask: GalleryView?
    /// Section 6: width, depth and library sweeps.
    public var experiment2: [SweepView]
    /// Section 7: optimiser and learning-rate runs.
    public var experiment3: [SweepView]
    /// End of section 7: experiments of a user's catalog whose group is none of the report's
    /// (groups experiment2 and experiment3 join those sections); nil when there are none.
    public var otherExperiments: OtherExperimentsView?
    /// Section 8 as safe HTML.
    public var discussionHTML: String
    /// Where section 8 came from.
    public var discussionPath: String
    /// Section 9 as safe HTML.
    public var conclusionHTML: String
    /// Where section 9 came from.
    public var conclusionPath: String
    /// Appendix A.
    public var seedTable: TableView?
    /// Appendix B: name/value lines.
    public var provenance: [NameValue]
    /// Appendix B: every record.
    public var recordTable: TableView?
    /// Appendix C: the framework's era (experiment 4); nil before the era experiment has runs.
    public var era: EraView?
}

/// Users' experiments outside the report's groups, shown under their own heading.
public struct OtherExperimentsView: Sendable {
    /// One sweep per experiment.
    public var sweeps: [SweepView]
}

/// A heading with preformatted text.
public struct TitledText: Sendable {
    /// The heading.
    public var title: String
    /// The text, shown in <pre>.
    public var text: String
}

/// A name and its value.
public struct NameValue: Sendable {
    /// The name.
    public var name: String
    /// The value.
    public var value: String
}

/// A plot or diagram embedded as a PNG data URI.
public struct FigureView: Sendable {
    /// The data URI.
    public var uri: String
    /// Alternative text.
    public var alt: String
    /// The caption under it.
    public var caption: String
    /// Display width in CSS pixels (the PNG has more pixels, for sharp screens).
    public var width: Int
}

/// A row of pictures.
public struct GalleryView: Sendable {
    /// Its heading, if any (not "title": Mustache would fall back to the page's title).
    public var heading: String?
    /// The pictures.
    public var items: [EmbeddedImage]
}

/// A table cell.
public struct CellView: Sendable {
    /// The text shown.
    public var text: String
    /// The tooltip: where the number comes from (record keys).
    public var title: String
    /// CSS class: "pos", "neg", "warn", "na" or "".
    public var cls: String
    /// Whether it is a row header.
    public var head: Bool

    /// Creates a cell.
    public init(_ text: String, title: String = "", cls: String = "", head: Bool = false) {
        self.text = text
        self.title = title
        self.cls = cls
        self.head = head
    }
}

/// A table row.
public struct RowView: Sendable {
    /// Its cells.
    public var cells: [CellView]
    /// CSS class: "ours", "ref" or "".
    public var cls: String
}

/// A table.
public struct TableView: Sendable {
    /// Element id, for links.
    public var id: String?
    /// The caption.
    public var caption: String?
    /// Column titles.
    public var header: [String]
    /// The rows.
    public var rows: [RowView]
    /// A note under the table.
    public var note: String?

    /// A page table from a text table (every cell plain; numeric columns right-aligned by CSS).
    public init(id: String? = nil, caption: String? = nil, _ table: TextTable, note: String? = nil) {
        self.init(id: id, caption: caption, header: table.header,
                  rows: table.rows.map { RowView(cells: $0.enumerated().map { CellView($0.element, head: $0.offset == 0) }, cls: "") },
                  note: note)
    }

    /// Creates a table.
    public init(id: String? = nil, caption: String? = nil, header: [String], rows: [RowView], note: String? = nil) {
        self.id = id
        self.caption = caption
        self.header = header
        self.rows = rows
        self.note = note
    }
}

/// One experiment of sections 6 and 7: a table beside the seed report, curves, best outputs and
/// the pictures at the bottom of sudden drops.
public struct SweepView: Sendable {
    /// The experiment's title.
    public var title: String
    /// What it tests.
    public var description: String
    /// Per configuration: ours (mean over seeds) beside the seed report.
    public var table: TableView
    /// PSNR curves of every configuration and seed.
    public var plot: FigureView?
    /// The best iterate of each configuration.
    public var outputs: GalleryView?
    /// The pictures at the bottom of each curve's worst drop.
    public var drops: GalleryView?
}

import DIPCore
import DIPEngine
import DIPExperiments
import Foundation
import Testing
@testable import DIPReport

/// What a table cell says of the runs behind it: a researcher reads "16.32" as a mean over the
/// seeds the experiment ran unless the cell says otherwise (a QA pass found a deleted run, a
/// damaged record and a diverged run without a final all shown as plain single values).
@Suite("Table cells and their marks")
struct TableMarksTests {
    /// A builder over what `fill` stores in a fresh folder.
    static func builder(_ fill: (ResultStore) throws -> Void) throws -> PageBuilder {
        let folder = SyntheticResults.temporaryFolder("marks")
        let store = try ResultStore(root: folder)
        try fill(store)
        return PageBuilder(store: store, records: store.scan().records, fontPath: nil)
    }

    /// The cell of Table 1's row `row` in column `column` (a table1Images label).
    static func cell(_ table: TableView, row: String, column: String) throws -> CellView {
        let r = try #require(table.rows.first { $0.cells.first?.text == row })
        let index = try #require(ReferenceNumbers.table1Images.firstIndex { $0.label == column })
        return r.cells[index + 1]
    }

    @Test("a Table 1 cell over fewer seeds than the experiment ran says so (‡, with the seeds left out and why); a diverged run is marked †; the note explains both only when used")
    func fewerSeeds() throws {
        let paper = ("table1-paper", "experiment1", "DIP (paper protocol)")
        let b = try Self.builder { store in
            for seed: UInt64 in [0, 1] {
                try SyntheticResults.save(store, experiment: paper.0, group: paper.1, label: paper.2, image: "barbara", seed: seed)
            }
            // boat: seed 1 not stored; house: seed 1 diverged without a final.
            try SyntheticResults.save(store, experiment: paper.0, group: paper.1, label: paper.2, image: "boat", seed: 0)
            try SyntheticResults.save(store, experiment: paper.0, group: paper.1, label: paper.2, image: "house", seed: 0)
            try SyntheticResults.save(store, experiment: paper.0, group: paper.1, label: paper.2, image: "house", seed: 1,
                                      status: .diverged, withFinal: false)
        }
        let table = try #require(b.table1())
        let barbara = try Self.cell(table, row: "Ours, paper protocol, final", column: "Barbara")
        #expect(!barbara.text.contains("‡") && !barbara.text.contains("†") && barbara.cls == "")

        let boat = try Self.cell(table, row: "Ours, paper protocol, final", column: "Boat")
        let boatFinal = SyntheticResults.finalPSNR(image: "boat", seed: 0, offset: 0)
        #expect(boat.text == String(format: "%.2f ‡", boatFinal) && boat.cls == "warn")
        #expect(boat.title.hasPrefix("over 1 of 2 seeds (seed 1: no record, not run or skipped as damaged)\n"))
        let boatDelta = try Self.cell(table, row: "Ours (paper protocol, best) − paper", column: "Boat")
        #expect(boatDelta.text.hasSuffix(" ‡") && boatDelta.title.hasPrefix("over 1 of 2 seeds"))

        // The diverged run has a best (it counts) but no final (it does not).
        let houseBest = try Self.cell(table, row: "Ours, paper protocol, best", column: "House")
        #expect(houseBest.text.hasSuffix(" †") && houseBest.text.contains("±"))
        let houseFinal = try Self.cell(table, row: "Ours, paper protocol, final", column: "House")
        #expect(houseFinal.text.hasSuffix(" † ‡"))
        #expect(houseFinal.title.hasPrefix("over 1 of 2 seeds (seed 1: diverged, no value)\n"))

        // Lena, which the catalog's paper protocol runs, has no record at all: said, not a bare "–"
        // as in a column the protocol does not have.
        let lena = try Self.cell(table, row: "Ours, paper protocol, best", column: "Lena")
        #expect(lena.text == "not run" && lena.title == "no run of lena is stored; `dip-report run table1-paper` fits it", "\(lena)")
        // The cited rows say where their numbers come from.
        let pytorch = try Self.cell(table, row: "PyTorch reference, paper protocol, best (one seed, H100, TF32)", column: "House")
        #expect(pytorch.text == "38.91" && pytorch.title.contains("cited, not a run of this tool"), "\(pytorch)")
        let paperDIP = try Self.cell(table, row: "DIP (paper)", column: "Barbara")
        #expect(paperDIP.title.contains("the paper's Table 1 (Ulyanov et al., CVPR 2018)"), "\(paperDIP)")

        #expect(table.note?.contains(PageBuilder.partialNote) == true && table.note?.contains(PageBuilder.unfinishedNote) == true)
        #expect(table.note?.contains("sample standard deviation (n − 1)") == true)
        let complete = try #require(try Self.builder { store in
            for seed: UInt64 in [0, 1] {
                try SyntheticResults.save(store, experiment: paper.0, group: paper.1, label: paper.2, image: "barbara", seed: seed)
            }
        }.table1())
        #expect(complete.note?.contains("‡") == false && complete.note?.contains("†") == false)
    }

    @Test("a table's note explains the marks its cells carry, whatever the cells' text (a configuration named with a dagger calls for no note)")
    func notesFollowMarks() {
        #expect(CellMark.suffix([]) == "" && CellMark.suffix([.partial, .unfinished]) == " † ‡")
        let plain = RowView(cells: [CellView("width †", head: true), CellView("worst drop at 12 †")], cls: "")
        #expect(PageBuilder.markNotes([plain]) == "")
        let partial = RowView(cells: [CellView("a", head: true), CellView("31.20" + CellMark.suffix([.partial]), marks: [.partial])], cls: "")
        #expect(PageBuilder.markNotes([plain, partial]) == " " + PageBuilder.partialNote)
        let unfinished = RowView(cells: [CellView("n/a †", cls: "na", marks: [.unfinished])], cls: "")
        #expect(PageBuilder.markNotes([partial, unfinished]) == " " + PageBuilder.unfinishedNote + " " + PageBuilder.partialNote)
    }

    @Test("a sweep's worst drop is read off each curve where the run kept no picture of it, and names its seed; '–' means no visible fall")
    func worstDropFromCurves() throws {
        let b = try Self.builder { store in
            for seed: UInt64 in [0, 1] {
                try SyntheticResults.save(store, experiment: "width", group: "experiment2", label: "width 4", image: "kate", seed: seed,
                                          network: SkipConfig.uniform(depth: 2, channels: 4, skip: 4, outputChannels: 1))
            }
        }
        let sweep = try #require(try b.sweep("width"))
        let row = try #require(sweep.table.rows.first)
        let runs = b.of("width").sorted { $0.key.seed < $1.key.seed }
        // The synthetic curves fall by 5 dB less a little at iteration 18; the lower seed's most.
        let drops = runs.map { Runner.worstDrop($0.curve)! }
        #expect(runs.allSatisfy { $0.worstDrop == nil } && drops[0].fall > drops[1].fall)
        #expect(row.cells[4].text == String(format: "%.2f dB at 18, s0", drops[0].fall))
        #expect(sweep.table.note?.contains("Worst drop: the largest PSNR fall between two consecutive samples") == true)
        // No picture is shown for a drop the run did not keep.
        #expect(sweep.drops == nil)
    }

    @Test("Table 1 names the seed protocol's grey columns that ran as colour images, and only those")
    func perChannelColumns() throws {
        let b = try Self.builder { _ in }
        #expect(b.perChannelNote([]) == "")
        let folder = SyntheticResults.temporaryFolder("colour")
        let store = try ResultStore(root: folder)
        try SyntheticResults.save(store, experiment: "table1-seed", group: "experiment1", label: "DIP (seed protocol)", image: "montage", seed: 0)
        var record = try #require(store.scan().records.first)
        #expect(PageBuilder(store: store, records: [record], fontPath: nil).perChannelNote([record]) == "")
        record.channels = 3
        #expect(PageBuilder(store: store, records: [record], fontPath: nil).perChannelNote([record])
                == " The seed protocol's Montage ran as a colour image (the seed report's files store it as colour): each channel has its own "
                + "50 % mask there, so half the samples are missing but fewer pixels lose all channels.")
    }
}

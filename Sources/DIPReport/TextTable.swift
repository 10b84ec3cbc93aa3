import Foundation

/// A table of strings printed three ways: aligned for a terminal, CSV (RFC 4180 quoting) and
/// JSON (an array of objects keyed by the header).
public struct TextTable: Sendable, Hashable {
    /// Column titles.
    var header: [String]
    /// Rows, each as long as the header.
    var rows: [[String]]
    /// Columns aligned right (numbers).
    var numericColumns: Set<Int>

    /// Creates a table.
    init(header: [String], rows: [[String]], numericColumns: Set<Int> = []) {
        self.header = header
        self.rows = rows
        self.numericColumns = numericColumns
    }

    /// Aligned columns, two spaces apart, a rule under the header.
    public func aligned() -> String {
        let all = [header] + rows
        let widths = header.indices.map { col in all.map { $0.indices.contains(col) ? $0[col].count : 0 }.max() ?? 0 }
        func render(_ row: [String]) -> String {
            var line = ""
            for col in header.indices {
                let cell = row.indices.contains(col) ? row[col] : ""
                let pad = String(repeating: " ", count: widths[col] - cell.count)
                line += (col == 0 ? "" : "  ") + (numericColumns.contains(col) ? pad + cell : cell + pad)
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
        let rule = String(repeating: "-", count: widths.reduce(0, +) + 2 * max(0, widths.count - 1))
        return ([render(header), rule] + rows.map(render)).joined(separator: "\n") + "\n"
    }

    /// CSV with a header line; cells holding a comma, quote or line break are quoted.
    public func csv() -> String {
        func cell(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        return ([header] + rows).map { $0.map(cell).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }
}

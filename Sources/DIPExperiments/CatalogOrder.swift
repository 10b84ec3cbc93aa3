/// The order a catalog writes its experiments and their configurations in, for everything that
/// lists stored runs (the report's sections and appendix, `diff`'s seed table): records come in
/// hash order, and labels sorted as text read "width 128, width 16, width 32, width 4".
public struct CatalogOrder: Sendable {
    private let experimentRank: [String: Int]
    private let labelRank: [String: [String: Int]]

    /// The order of `catalog` (by default the built-in one; a page given `--catalog` passes the
    /// built-in experiments and the user's).
    public init(_ catalog: [Experiment] = Catalog.experiments) {
        var experiments: [String: Int] = [:], labels: [String: [String: Int]] = [:]
        for (i, e) in catalog.enumerated() where experiments[e.id] == nil {
            experiments[e.id] = i
            var ranks: [String: Int] = [:]
            for (j, run) in e.runs.enumerated() where ranks[run.label] == nil { ranks[run.label] = j }
            labels[e.id] = ranks
        }
        experimentRank = experiments
        labelRank = labels
    }

    /// `labels` of `experiment` (each once) in the catalog's order; those it does not write
    /// after them, in the order given.
    public func ordered(labels: [String], of experiment: String) -> [String] {
        let unique = labels.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let ranks = labelRank[experiment] ?? [:]
        return unique.enumerated().sorted { a, b in
            (ranks[a.element] ?? Int.max, a.offset) < (ranks[b.element] ?? Int.max, b.offset)
        }.map(\.element)
    }

    /// Whether (experiment, label, image) `a` comes before `b`: experiments and labels in the
    /// catalog's order, those it lacks after them as text; images as text.
    public func precedes(_ a: (experiment: String, label: String, image: String),
                         _ b: (experiment: String, label: String, image: String)) -> Bool {
        let ea = experimentRank[a.experiment] ?? Int.max, eb = experimentRank[b.experiment] ?? Int.max
        if ea != eb { return ea < eb }
        if a.experiment != b.experiment { return a.experiment < b.experiment }
        let ranks = labelRank[a.experiment] ?? [:]
        let la = ranks[a.label] ?? Int.max, lb = ranks[b.label] ?? Int.max
        if la != lb { return la < lb }
        if a.label != b.label { return a.label < b.label }
        return a.image < b.image
    }
}

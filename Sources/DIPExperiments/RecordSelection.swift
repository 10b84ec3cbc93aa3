import Foundation

/// Which stored runs a report page or a diff counts: those of one profile, and of those, one
/// configuration per experiment, label and image (the newest). A results folder often holds
/// more: `make report PROFILE=smoke` and then `make report` both write ./results, and a label
/// whose configuration changed (another catalog, another build) keeps its older runs. Pooled,
/// they made one mean of smoke and quick numbers, counted a seed twice, and `diff` matched an
/// arbitrary one of them; left off, they are named in `notes`.
public struct RecordSelection: Sendable {
    /// The profile whose runs were kept; nil when there were no records.
    public var profile: String?
    /// The runs kept.
    public var records: [RunRecord]
    /// What was left off and how to see it, one line each.
    public var notes: [String]

    /// Selects from `all`: the runs of `profile` when given, else of the first of paper, quick
    /// and smoke (then any other, by name) that has runs; of those, per experiment, label and
    /// image, the runs of the configuration hash with the most recently finished run.
    public init(_ all: [RunRecord], profile asked: String? = nil) {
        let counts = Dictionary(grouping: all, by: \.profile).mapValues(\.count)
        let order = Profile.all.map(\.name) + counts.keys.filter { name in !Profile.all.contains { $0.name == name } }.sorted()
        let chosen = asked ?? order.first { counts[$0] != nil }
        profile = chosen
        notes = []
        let inProfile = all.filter { $0.profile == chosen }
        for (name, count) in counts.sorted(by: { $0.key < $1.key }) where name != chosen {
            let hint = Profile.all.contains { $0.name == name } ? "give --profile \(name) to see \(count == 1 ? "it" : "them")" : "a profile this version does not know"
            notes.append("\(count) run\(count == 1 ? "" : "s") of the \(name) profile left off (\(hint))")
        }
        if let asked, inProfile.isEmpty, !all.isEmpty {
            notes.append("no runs of the \(asked) profile are stored here")
        }
        // One configuration per experiment, label and image: the one finished last.
        func group(_ r: RunRecord) -> String { "\(r.key.experiment)\u{1F}\(r.label)\u{1F}\(r.key.image)" }
        let newest = Dictionary(grouping: inProfile, by: group).mapValues { members in
            members.max { ($0.finishedAt, $0.key.configHash) < ($1.finishedAt, $1.key.configHash) }!.key.configHash
        }
        var older: [String: (runs: Int, hashes: Set<String>)] = [:]
        for r in inProfile where r.key.configHash != newest[group(r)] {
            older[r.key.experiment, default: (0, [])].runs += 1
            older[r.key.experiment]!.hashes.insert(r.key.configHash)
        }
        for (experiment, o) in older.sorted(by: { $0.key < $1.key }) {
            notes.append("\(o.runs) run\(o.runs == 1 ? "" : "s") of \(experiment) left off: an older configuration under the same label"
                         + " (hash \(o.hashes.sorted().joined(separator: ", ")); another build or catalog made \(o.runs == 1 ? "it" : "them"));"
                         + " the newest configuration of each label is counted. Move \(o.runs == 1 ? "it" : "them") to another results folder to keep \(o.runs == 1 ? "it" : "them") apart")
        }
        records = inProfile.filter { $0.key.configHash == newest[group($0)] }
    }
}

import DIPCore
import Foundation

/// Reads a user's catalog file strictly: its JSON must parse (else the line and column are
/// named), decode as an array of `Experiment` (else the field's path is named), and hold no
/// field the decoder would skip. JSONDecoder ignores unknown keys, so a misspelt `"resise"` or a
/// `gammaInit` one level too deep ran the default configuration without a word.
enum CatalogFile {
    static func decode(_ data: Data, path: String) throws -> [Experiment] {
        let tree: Any
        do { tree = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw DIPError.badFile(path: path, reason: "is not valid JSON (\(detail)); `dip-report run optimizers --print-catalog` prints an example")
        }
        guard tree is [Any] else {
            throw DIPError.badFile(path: path, reason: "must hold a JSON array of experiments, [ {...}, ... ]; `dip-report run optimizers --print-catalog` prints an example")
        }
        let experiments: [Experiment]
        do { experiments = try JSONDecoder().decode([Experiment].self, from: data) } catch {
            throw DIPError.badFile(path: path, reason: "\(describe(error, tree: tree)); `dip-report run optimizers --print-catalog` prints the format")
        }
        // What the decoder read, written back: any key of the file it lacks was skipped.
        let known = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(experiments))
        if let unknown = firstUnknownKey(tree, known, at: []) {
            throw DIPError.badFile(path: path, reason: "\(location(unknown.path, tree: tree)) has the field '\(unknown.key)', which the catalog format does not have (misspelt, or at another level?); `dip-report run optimizers --print-catalog` prints the format")
        }
        return experiments
    }

    /// A path element: an object key or an array index.
    enum Step { case key(String), index(Int) }

    /// The first key of `given` (at `path`) that `known` lacks, with its path; a key whose value
    /// is null counts as absent.
    static func firstUnknownKey(_ given: Any, _ known: Any?, at path: [Step]) -> (path: [Step], key: String)? {
        if let object = given as? [String: Any] {
            let knownObject = known as? [String: Any] ?? [:]
            for key in object.keys.sorted() {
                let value = object[key]!
                if value is NSNull { continue }
                guard let k = knownObject[key] else { return (path, key) }
                if let found = firstUnknownKey(value, k, at: path + [.key(key)]) { return found }
            }
        } else if let array = given as? [Any] {
            let knownArray = known as? [Any] ?? []
            for (i, value) in array.enumerated() {
                if let found = firstUnknownKey(value, i < knownArray.count ? knownArray[i] : nil, at: path + [.index(i)]) { return found }
            }
        }
        return nil
    }

    /// "experiment 'my-lr', configuration 'Adam 0.05', preprocessing" for a path into the file,
    /// naming experiments and configurations by id and label where the file gives them.
    static func location(_ path: [Step], tree: Any) -> String {
        var parts: [String] = []
        var node: Any? = tree
        var i = 0
        while i < path.count {
            switch path[i] {
            case let .index(n):
                let element = (node as? [Any]).flatMap { n < $0.count ? $0[n] : nil }
                if i == 0 {
                    let id = (element as? [String: Any])?["id"] as? String
                    parts.append(id.map { "experiment '\($0)'" } ?? "experiment \(n + 1)")
                } else if case .key("runs") = path[i - 1] {
                    let label = (element as? [String: Any])?["label"] as? String
                    parts[parts.count - 1] = label.map { "configuration '\($0)'" } ?? "configuration \(n + 1)"
                } else {
                    parts.append("[\(n)]")
                }
                node = element
            case let .key(k):
                parts.append(k)
                node = (node as? [String: Any])?[k]
            }
            i += 1
        }
        guard !parts.isEmpty else { return "the file" }
        // "experiment 'x', configuration 'y', preprocessing.resize"
        var text = parts[0]
        var rest: [String] = []
        for p in parts.dropFirst() {
            if p.hasPrefix("configuration ") { text += ", " + p } else { rest.append(p) }
        }
        let field = rest.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        return field.isEmpty ? text : text + ", " + field
    }

    /// A decoding error as where it happened and what was wrong.
    static func describe(_ error: Error, tree: Any) -> String {
        func steps(_ codingPath: [CodingKey]) -> [Step] {
            codingPath.map { key in key.intValue.map(Step.index) ?? .key(key.stringValue) }
        }
        switch error {
        case let DecodingError.keyNotFound(key, ctx):
            return "\(location(steps(ctx.codingPath), tree: tree)) lacks the field '\(key.stringValue)'"
        case let DecodingError.typeMismatch(type, ctx):
            return "\(location(steps(ctx.codingPath), tree: tree)) should be \(describe(type))"
        case let DecodingError.valueNotFound(type, ctx):
            return "\(location(steps(ctx.codingPath), tree: tree)) is null where \(describe(type)) belongs"
        case let DecodingError.dataCorrupted(ctx) where ctx.codingPath.isEmpty:
            // The file parsed as JSON already; Foundation's decoder says only "not valid JSON"
            // (and no path) for a number its field cannot hold: found by decoding each
            // experiment, then each of its configurations, on its own.
            return "\(narrowedLocation(tree)): a value does not fit its field (a fraction where a whole number belongs, or a number too large for it?)"
        case let DecodingError.dataCorrupted(ctx):
            let detail = ctx.underlyingError.map { ($0 as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\($0)" }
            return "\(location(steps(ctx.codingPath), tree: tree)): \(detail ?? ctx.debugDescription)"
        default:
            return "\(error)"
        }
    }

    /// The experiment (and configuration) of `tree` that fails to decode on its own.
    private static func narrowedLocation(_ tree: Any) -> String {
        func fails<T: Decodable>(_ type: T.Type, _ value: Any) -> Bool {
            guard let data = try? JSONSerialization.data(withJSONObject: value) else { return true }
            return (try? JSONDecoder().decode(type, from: data)) == nil
        }
        for (i, element) in (tree as? [Any] ?? []).enumerated() where fails(Experiment.self, element) {
            let runs = ((element as? [String: Any])?["runs"] as? [Any]) ?? []
            if let j = runs.indices.first(where: { fails(RunSpec.self, runs[$0]) }) {
                return location([.index(i), .key("runs"), .index(j)], tree: tree)
            }
            return location([.index(i)], tree: tree)
        }
        return "the file"
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is UInt64.Type: return "a whole number"
        case is Double.Type, is Float.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            if name.hasPrefix("Dictionary") { return "an object, {...}" }
            if name.hasPrefix("Array") { return "an array, [...]" }
            return "an object of the format's \(name) shape"
        }
    }
}

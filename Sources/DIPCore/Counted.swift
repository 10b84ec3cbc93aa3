/// "1 run", "2 runs": a count with its noun in the number it takes, for what the tool prints.
/// `plural` for nouns that do not take an s ("1 pass", "2 passes").
public func counted(_ n: Int, _ noun: String, plural: String? = nil) -> String {
    "\(n) \(n == 1 ? noun : plural ?? noun + "s")"
}

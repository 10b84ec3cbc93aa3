extension Duration {
    /// The duration in seconds, as a Double (fits and estimates add and divide timings).
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}

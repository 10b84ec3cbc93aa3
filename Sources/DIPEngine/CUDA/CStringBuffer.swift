extension String {
    /// The text of a C character buffer the driver or cuDNN filled: up to the first NUL (or
    /// the whole buffer), decoded as UTF-8 with bad bytes replaced.
    init(cBuffer buffer: [CChar]) {
        self = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

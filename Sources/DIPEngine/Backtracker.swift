/// The restoration notebook's checkpoint of the parameters (not the BN buffers, which are not
/// parameters) and its PSNR on the known pixels.
struct Backtracker {
    let settings: Backtracking?
    let params: [NamedTensor]
    // Parameter values at the last check (empty before the first).
    var saved: [[Float]] = []
    var lastPSNR: Double?

    init(_ settings: Backtracking?, params: [NamedTensor]) {
        self.settings = settings
        self.params = params
    }

    /// Called every `interval` iterations with PSNR(x0 m, out m): true means "restore";
    /// otherwise the checkpoint moves here.
    mutating func shouldRestore(_ psnr: Double) -> Bool {
        guard let settings else { return false }
        if let last = lastPSNR, psnr - last < -settings.threshold { return true }
        saved = params.map { $0.value.array }
        lastPSNR = psnr
        return false
    }

    /// Copies the checkpoint back into the parameters.
    func restore() {
        for (p, v) in zip(params, saved) {
            v.withUnsafeBufferPointer { p.value.pointer.update(from: $0.baseAddress!, count: v.count) }
        }
    }
}

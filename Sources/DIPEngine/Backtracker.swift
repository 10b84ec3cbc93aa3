/// The restoration notebook's backtracking decision: the PSNR on the known pixels at the last
/// check, and whether this check's PSNR dropped too far. The copy of the parameters it falls
/// back to (not the BN buffers, which are not parameters) is kept by the trainer, beside them.
struct Backtracker {
    let settings: Backtracking?
    var lastPSNR: Double?

    init(_ settings: Backtracking?) {
        self.settings = settings
    }

    /// Called every `interval` iterations with PSNR(x0 m, out m): true means "restore";
    /// otherwise `save` keeps the parameters as the new fallback.
    mutating func shouldRestore(_ psnr: Double, save: () throws -> Void) rethrows -> Bool {
        guard let settings else { return false }
        if let last = lastPSNR, psnr - last < -settings.threshold { return true }
        try save()
        lastPSNR = psnr
        return false
    }
}

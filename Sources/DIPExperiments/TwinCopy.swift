import DIPCore
import Foundation

extension Runner {
    /// `runs` in their order, but in each set of twins (the same image, configuration hash and
    /// seed) the first run that keeps the worst drop trades places with the set's first run: it
    /// is fitted first, and the others, which keep no drop, copy it (`copyTwin`); in the other
    /// order they would be fitted first and could not stand for it wherever its curve falls.
    static func dropKeepersFirst(_ runs: [PlannedRun]) -> [PlannedRun] {
        dropKeepersFirstOrder(runs).map { runs[$0] }
    }

    /// The indices of `runs` in `dropKeepersFirst`'s order.
    private static func dropKeepersFirstOrder(_ runs: [PlannedRun]) -> [Int] {
        var order = Array(runs.indices)
        var first: [String: Int] = [:]
        var keeperPlaced: Set<String> = []
        for (i, run) in runs.enumerated() {
            let twins = twinSet(run.key)
            guard let f = first[twins] else {
                first[twins] = i
                if run.spec.keepWorstDrop { keeperPlaced.insert(twins) }
                continue
            }
            if run.spec.keepWorstDrop, !keeperPlaced.contains(twins) {
                order.swapAt(f, i)
                keeperPlaced.insert(twins)
            }
        }
        return order
    }

    /// What twins share: image, configuration hash and seed.
    private static func twinSet(_ key: RunKey) -> String { "\(key.image)/\(ResultStore.stem(key))" }

    /// Marks the pending runs of `runs` that `execute` will copy from a twin (`copiesTwin`):
    /// those with a stored twin that can stand for them (`stored`: the folder's records;
    /// `files`: each run's image and mask file hashes now), and those after the first of their
    /// twin set in the queue's order. A twin still in flight when its set's next run starts is
    /// the exception (two jobs at once): that one is fitted.
    static func markCopies(_ runs: inout [PlannedRun], stored: [RunRecord], files: [RunKey: (image: String, mask: String?)]) {
        var storedTwins: [String: [RunRecord]] = [:]
        for r in stored { storedTwins[twinSet(r.key), default: []].append(r) }
        let pending = runs.indices.filter { runs[$0].willRun }
        var planned: Set<String> = []
        for i in dropKeepersFirstOrder(pending.map { runs[$0] }).map({ pending[$0] }) {
            let run = runs[i], twins = twinSet(run.key)
            let standsIn = files[run.key].map { now in
                storedTwins[twins, default: []].contains { twin($0, standsFor: run, imageSHA256: now.image, maskSHA256: now.mask) }
            } ?? false
            runs[i].copiesTwin = standsIn || planned.contains(twins)
            planned.insert(twins)
        }
    }

    /// Whether the stored `twin` (a record of the same image, configuration hash and seed) can
    /// stand for `run`: it is another experiment's, it was fitted to the image and mask files as
    /// they are now (`imageSHA256`, `maskSHA256`: a file edited in place since makes it another
    /// fit; a record older than the mask's hash is taken as it is, as planning does), and it has
    /// every picture the run keeps: where the run keeps the worst drop and the twin's curve falls,
    /// the drop's picture too.
    static func twin(_ twin: RunRecord, standsFor run: PlannedRun, imageSHA256: String, maskSHA256: String?) -> Bool {
        twin.key.experiment != run.key.experiment
            && twin.imageSHA256 == imageSHA256
            && (maskSHA256 == nil || twin.maskSHA256 == nil || twin.maskSHA256 == maskSHA256)
            && (!run.spec.keepWorstDrop || twin.images[.drop] != nil || worstDrop(twin.curve) == nil)
    }

    /// Stores `run` as a copy of a twin, the same configuration and seed stored under another
    /// experiment of the results folder (the paper's sweeps share their baseline: kate's width
    /// 128, depth 5 with skips and Adam at LR 0.01 are one fit), instead of fitting it again.
    /// The copy takes the twin's numbers, pictures, timings, machine and software, with this
    /// run's key, label, group and profile, `copiedFrom` naming the fitted run, and its own
    /// `wallSeconds` and `finishedAt`; the twins that can stand for the run are
    /// `twin(_:standsFor:)`'s. Returns the stored record, or nil when no twin can stand for the
    /// run (none stored, a picture unreadable, one under a live claim); throws only when writing
    /// fails.
    func copyTwin(_ run: PlannedRun) throws -> RunRecord? {
        let started = Date()
        // Unreadable files are the fit's to report: it is attempted instead.
        let image: String, mask: String?  // mask: nil for a drawn one
        do {
            image = try preparedImage(run.image, spec: run.spec).sha256
            mask = try Preparation.maskFileSHA256(run.spec.mask, dataDirectory: options.dataDirectory)
        } catch { return nil }
        for (twin, before) in store.twins(of: run.key) {
            // A twin under a live claim is being fitted again (`run --force`) and may have new
            // pictures beside its old record: it is left alone, and so is one whose record
            // changes while its pictures are read. A copy holds the numbers and pictures of one fit.
            guard store.currentClaim(twin.key).map({ $0.isStale() }) ?? true,
                  Self.twin(twin, standsFor: run, imageSHA256: image, maskSHA256: mask) else { continue }
            let drop = run.spec.keepWorstDrop ? Self.worstDrop(twin.curve) : nil
            var roles = Set(twin.images.keys)
            roles.remove(.drop)
            if drop != nil { roles.insert(.drop) }
            guard let images = try? Dictionary(uniqueKeysWithValues: roles.map { ($0, try store.loadImage($0, of: twin)) }),
                  FileManager.default.contents(atPath: store.recordPath(for: twin.key)) == before else { continue }
            var record = twin
            record.key = run.key
            record.group = run.group
            record.label = run.label
            record.profile = options.profile.name
            record.worstDrop = drop
            record.images = Dictionary(uniqueKeysWithValues: roles.map { ($0, ResultStore.imageFileName(run.key, $0)) })
            record.copiedFrom = twin.copiedFrom ?? twin.key
            record.finishedAt = ISO8601DateFormatter().string(from: Date())
            record.wallSeconds = Date().timeIntervalSince(started)
            try store.save(record, images: images)
            // A checkpoint of an earlier, interrupted fit of this key describes nothing now.
            try? FitCheckpointWriter.remove(at: store.checkpointPath(for: run.key))
            return record
        }
        return nil
    }
}

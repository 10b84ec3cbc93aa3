import DIPCore
import DIPEngine
import Foundation

/// One run the runner will do (or found stored).
public struct PlannedRun: Sendable {
    /// Its key.
    public var key: RunKey
    /// The experiment's report section.
    public var group: String
    /// The configuration's label.
    public var label: String
    /// The configuration as the profile runs it.
    public var spec: RunSpec
    /// The image.
    public var image: ImageRef
    /// The hashed configuration.
    public var configuration: RunConfiguration
    /// Prepared size and channels.
    public var size: ImageSize
    /// Channels of the prepared image.
    public var channels: Int
    /// Iterations it will run (network evaluations, or TV iterations).
    public var iterations: Int
    /// Multiply-accumulates of one forward pass (0 for TV), for the estimate.
    public var macsPerForward: Int
    /// What the store holds for it.
    public var state: State
    /// Iterations its checkpoint already holds (`.checkpointed`; 0 otherwise): a resume runs
    /// the rest, which is what the plan's totals and estimate count.
    public var iterationsDone = 0
    /// Iterations still to run when it runs.
    public var iterationsLeft: Int { iterations - iterationsDone }
    /// Whether it will be copied from a twin instead of fitted (`Runner.copyTwin`): a twin that
    /// can stand for it is stored, or planned before it. False under --force.
    public internal(set) var copiesTwin = false

    /// What the store holds for a planned run.
    public enum State: Sendable, Equatable {
        /// Nothing: it will run.
        case missing
        /// A checkpoint: it will resume.
        case checkpointed
        /// A finished record: skipped unless --force.
        case stored
        /// A record file that cannot be read: reported and skipped, never overwritten.
        case blocked(String)
    }

    /// Whether it runs this time.
    public var willRun: Bool { state == .missing || state == .checkpointed }
}

/// Every run of a `dip-report run` invocation, and what the results folder holds.
public struct RunPlan: Sendable {
    /// The runs, in catalog order, seeds innermost.
    public var runs: [PlannedRun]
    /// Files in the results folder that are not readable records (left untouched).
    public var problems: [ResultStore.Problem]
    /// The profile.
    public var profile: Profile
    /// What the user should know about stored runs, one line each: those fitted to another
    /// version of their image or mask file (edited in place since), kept unless `--force` fits
    /// them again.
    public var notes: [String] = []
    /// Stored records whose label or group the catalog has changed since (neither is hashed, so
    /// the runs are the same), with the catalog's: `Runner.relabel` writes them, and the page
    /// and diff then show the runs under their current names instead of the old ones.
    public var relabelled: [RunRecord] = []

    /// Runs that will run.
    public var pending: [PlannedRun] { runs.filter(\.willRun) }
    /// Runs that will run and be fitted: `pending` but for the copies of twins.
    public var fitted: [PlannedRun] { pending.filter { !$0.copiesTwin } }
}

extension Runner {

    /// Checks that every input exists (one error lists all missing files), prepares each image
    /// once, resolves every configuration and looks up what the store holds.
    public func plan(_ experiments: [Experiment]) throws -> RunPlan {
        guard !options.seeds.isEmpty else {
            throw DIPError.invalidValue(name: "--seeds", value: "", reason: "give at least one seed, e.g. --seeds 0,1,2")
        }
        var missing: [String] = [], missingOwn: [String] = []
        let known = Set(DatasetManifest.standard.entries.map(\.relativePath))
        for e in experiments {
            for s in e.runs {
                var files = s.images.map(\.file)
                if case let .file(m) = s.mask { files.append(m) }
                for f in files {
                    let path = (options.dataDirectory as NSString).appendingPathComponent(f)
                    var isFolder: ObjCBool = false
                    let there = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && !isFolder.boolValue
                    if !there, !missing.contains(path), !missingOwn.contains(path) {
                        // `data fetch` gets the test images; a catalog's own files are the user's to copy.
                        if known.contains(f) { missing.append(path) } else { missingOwn.append(path) }
                    }
                }
            }
        }
        if !missing.isEmpty {
            throw DIPError.io(path: options.dataDirectory,
                              reason: "\(missing.count) test image\(missing.count == 1 ? " is" : "s are") missing: \(missing.joined(separator: ", ")). Get them with `dip-report data fetch --data \(options.dataDirectory)`, or point --data (or DIP_DATA) at the folder that holds them")
        }
        if !missingOwn.isEmpty {
            throw DIPError.io(path: options.dataDirectory,
                              reason: "\(missingOwn.count) file\(missingOwn.count == 1 ? "" : "s") that a --catalog experiment names \(missingOwn.count == 1 ? "is" : "are") not there (or \(missingOwn.count == 1 ? "is a folder" : "are folders")): \(missingOwn.joined(separator: ", ")). Copy your own images and masks into the data folder, at the paths the catalog gives")
        }
        let scan = store.scan()
        var problems = scan.problems
        var runs: [PlannedRun] = []
        let stored = Dictionary(scan.records.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var changedFiles: [String: [RunKey]] = [:]  // image or mask file -> stored runs fitted to another version of it
        var relabelled: [RunRecord] = []
        var plannedKeys = Set<RunKey>()
        var files: [RunKey: (image: String, mask: String?)] = [:]  // for the twins' rule (markCopies)
        for e in experiments {
            for raw in e.runs {
                let spec = options.profile.apply(raw)
                let maskSHA256 = try Preparation.maskFileSHA256(spec.mask, dataDirectory: options.dataDirectory)
                for ref in spec.images {
                    let img = try preparedImage(ref, spec: spec)
                    var method = spec.method
                    var macs = 0
                    var iterations = 0
                    switch method {
                    case var .dip(config):
                        config.network.outputChannels = img.image.channels
                        try config.validate()
                        method = .dip(config)
                        let (h, w) = Fitter.workingSize(for: config.network, height: img.image.height, width: img.image.width)
                        do {
                            macs = try NetworkSummary(config: config.network, height: h, width: w).macs
                        } catch {
                            throw DIPError.invalidValue(name: "experiment \(e.id)", value: "\(spec.label) on \(ref.name)",
                                                        reason: "the network does not fit a \(img.image.width)x\(img.image.height) image: \(error)")
                        }
                        iterations = Fitter.plannedEvaluations(config)
                    case let .tv(tv):
                        iterations = tv.iterations
                    }
                    // The key says what was done to this image's pixels: "auto" as it resolved here
                    // ("gray" where it converted, nothing where the file stayed as it is), and
                    // where a window on the holes was cut.
                    var preprocessing = spec.preprocessing
                    if preprocessing.colour == "auto" { preprocessing.colour = img.convertedColour }
                    let conf = RunConfiguration(imageFile: ref.file, preprocessing: preprocessing, mask: spec.mask, method: method,
                                                window: img.holeWindowOrigin)
                    let hash = try conf.hash()
                    for seed in options.seeds {
                        let key = RunKey(experiment: e.id, image: ref.name, configHash: hash, seed: seed)
                        // A key met again (configurations that hash alike, a seed given twice) is the same run: the first plans it.
                        guard plannedKeys.insert(key).inserted else { continue }
                        files[key] = (img.sha256, maskSHA256)
                        var state = PlannedRun.State.missing
                        if let bad = problems.first(where: { $0.path == store.recordPath(for: key) }) {
                            state = .blocked(bad.reason)
                        } else if store.hasRecordFile(key) {
                            // Refitted, it carries on an interrupted refit's checkpoint (newer than the record).
                            state = !options.force ? .stored : store.hasResumableCheckpoint(key) ? .checkpointed : .missing
                            // The key hashes the files' paths, not their content: an image or mask
                            // file edited in place would reuse runs of its old pixels without a word.
                            if let r = stored[key] {
                                if r.imageSHA256 != img.sha256 { changedFiles[ref.file, default: []].append(key) }
                                if case let .file(maskFile) = spec.mask, let was = r.maskSHA256, was != maskSHA256 {
                                    changedFiles[maskFile, default: []].append(key)
                                }
                            }
                            if var r = stored[key], r.label != spec.label || r.group != e.group {
                                r.label = spec.label
                                r.group = e.group
                                relabelled.append(r)
                            }
                        } else if FileManager.default.fileExists(atPath: store.checkpointPath(for: key)) {
                            state = .checkpointed
                        }
                        var run = PlannedRun(key: key, group: e.group, label: spec.label, spec: spec, image: ref,
                                             configuration: conf, size: ImageSize(width: img.image.width, height: img.image.height),
                                             channels: img.image.channels, iterations: iterations, macsPerForward: macs,
                                             state: state)
                        if state == .checkpointed {
                            // From its header alone; an unreadable one is fitted afresh.
                            run.iterationsDone = min(FitCheckpoint.completedSteps(at: store.checkpointPath(for: key)) ?? 0, iterations)
                        }
                        runs.append(run)
                    }
                }
            }
        }
        if !options.force { Self.markCopies(&runs, stored: scan.records, files: files) }
        problems.sort { $0.path < $1.path }
        var plan = RunPlan(runs: runs, problems: problems, profile: options.profile)
        plan.relabelled = relabelled
        plan.notes = changedFiles.sorted { $0.key < $1.key }.map { file, keys in
            let n = keys.count, them = n == 1 ? "it" : "them"
            let named = keys.prefix(3).map { store.recordPath(for: $0) }.joined(separator: ", ") + (n > 3 ? " and \(n - 3) more" : "")
            return "\(n) stored run\(n == 1 ? " was" : "s were") fitted to another version of \(file) (its SHA-256 differs now): \(named)"
                + (options.force ? "; --force fits \(them) again" : "; \(n == 1 ? "it is" : "they are") kept: delete \(them) (or run with --force) to fit \(them) again, or restore the file")
        }
        return plan
    }

    /// The prepared image of a spec (cached: many runs share an image).
    func preparedImage(_ ref: ImageRef, spec: RunSpec) throws -> Preparation.PreparedImage {
        let cacheKey = (try? ConfigHash.of([ref.file])) ?? ref.file
        let id = cacheKey + ((try? ConfigHash.of(spec.preprocessing)) ?? "") + ((try? ConfigHash.of(spec.mask)) ?? "")
        lock.lock()
        if let p = prepared[id] { lock.unlock(); return p }
        lock.unlock()
        let p = try Preparation.image(ref, dataDirectory: options.dataDirectory, preprocessing: spec.preprocessing,
                                      mask: spec.mask)
        lock.lock()
        prepared[id] = p
        lock.unlock()
        return p
    }
}

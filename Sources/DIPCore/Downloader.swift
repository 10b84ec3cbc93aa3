import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Something that turns a URL into bytes; a protocol so tests and offline mirrors can stand in
/// for the network.
public protocol Downloader: Sendable {
    /// The whole body at `url`, or an error naming the URL and what went wrong.
    func download(from url: URL) throws -> Data
}

/// The real downloader: http and https through URLSession (FoundationNetworking on Linux),
/// file URLs read directly (corelibs URLSession does not serve them).
public struct URLSessionDownloader: Downloader {
    /// Seconds without progress before a request fails.
    public var timeout: TimeInterval

    /// A downloader whose requests give up after `timeout` idle seconds.
    public init(timeout: TimeInterval = 60) { self.timeout = timeout }

    /// Fetches `url` synchronously; non-2xx answers are errors carrying the status code.
    public func download(from url: URL) throws -> Data {
        if url.isFileURL {
            do { return try Data(contentsOf: url) } catch {
                throw DIPError.io(path: url.absoluteString, reason: "cannot read (\(error.localizedDescription))")
            }
        }
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw DIPError.invalidValue(name: "URL", value: url.absoluteString,
                                        reason: "unsupported scheme; use http, https or file")
        }
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        // The configuration's timeout too: corelibs URLSession waited its default 60 s for a
        // silent host whatever the request said.
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let task = session.dataTask(with: request) { data, response, error in
            box.set(data: data, response: response, error: error)
            done.signal()
        }
        task.resume()
        done.wait()
        let (data, response, error) = box.get()
        if let error {
            let failure = DIPError.io(path: url.absoluteString, reason: "download failed (\(error.localizedDescription))")
            if let code = (error as? URLError)?.code, NoAnswer.codes.contains(code) {
                throw NoAnswer(host: url.host ?? url.absoluteString, failure: failure)
            }
            throw failure
        }
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            throw DIPError.io(path: url.absoluteString, reason: "the server answered HTTP \(http.statusCode)")
        }
        guard let data else {
            throw DIPError.io(path: url.absoluteString, reason: "download returned no body")
        }
        return data
    }
}

/// A download that got no answer from its host at all: no such host, no connection, or nothing
/// within the timeout. A caller fetching several files from that host skips the rest
/// (`DatasetManifest.fetch`): each would most likely wait as long for nothing (32 files, a
/// minute each, from a mirror behind a firewall that drops packets).
public struct NoAnswer: Error, Sendable {
    /// The host that did not answer.
    public let host: String
    /// The failure in words, naming the URL.
    public let failure: DIPError

    /// URLSession's codes for a host that gave no answer (not for one that answered badly).
    static let codes: Set<URLError.Code> = [.timedOut, .cannotFindHost, .cannotConnectToHost, .dnsLookupFailed,
                                             .notConnectedToInternet, .networkConnectionLost]
}

/// Carries a completion handler's results back to the waiting thread.
private final class ResultBox: @unchecked Sendable {
    // Guarded by `lock`; the semaphore already orders the accesses, the lock documents it.
    private let lock = NSLock()
    private var data: Data?
    private var response: URLResponse?
    private var error: (any Error)?

    func set(data: Data?, response: URLResponse?, error: (any Error)?) {
        lock.lock(); defer { lock.unlock() }
        self.data = data
        self.response = response
        self.error = error
    }

    func get() -> (Data?, URLResponse?, (any Error)?) {
        lock.lock(); defer { lock.unlock() }
        return (data, response, error)
    }
}

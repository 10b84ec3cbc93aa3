import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Something that turns a URL into bytes; a protocol so tests and offline mirrors can stand in
/// for the network.
public protocol Downloader: Sendable {
    /// The whole body at `url`, or an error naming the URL and what went wrong; a body longer
    /// than `maxBytes` is an error too, found out once that much has come (not after all of it
    /// is in memory: a mirror answering with a gigabyte for a 180 KB image took 2 GB).
    func download(from url: URL, maxBytes: Int) throws -> Data
}

/// The real downloader: http and https through URLSession (FoundationNetworking on Linux),
/// file URLs read directly (corelibs URLSession does not serve them).
public struct URLSessionDownloader: Downloader {
    /// Seconds without progress before a request fails.
    public var timeout: TimeInterval

    /// A downloader whose requests give up after `timeout` idle seconds.
    public init(timeout: TimeInterval = 60) { self.timeout = timeout }

    /// Fetches `url` synchronously; non-2xx answers are errors carrying the status code.
    public func download(from url: URL, maxBytes: Int) throws -> Data {
        if url.isFileURL {
            if let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size]) as? Int, size > maxBytes {
                throw Self.tooLarge(url, maxBytes)
            }
            do { return try Data(contentsOf: url) } catch {
                throw DIPError.io(path: url.absoluteString, reason: "cannot read (\(error.localizedDescription))")
            }
        }
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw DIPError.invalidValue(name: "URL", value: url.absoluteString,
                                        reason: "unsupported scheme; use http, https or file")
        }
        let body = BoundedBody(limit: maxBytes)
        let request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        // The configuration's timeout too: corelibs URLSession waited its default 60 s for a
        // silent host whatever the request said.
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        let session = URLSession(configuration: configuration, delegate: body, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let task = session.dataTask(with: request)
        task.resume()
        body.done.wait()
        let (data, seen, error, tooLarge) = body.result()
        // The status before the size and the error: an answer other than 2xx is no file, however
        // long its page. The task's own response too: corelibs may hand on the body's first bytes
        // before the delegate hears of the head, and a 1 MiB 404 page was then "larger than the
        // bytes expected" (a CI run saw it).
        if let http = (seen ?? task.response) as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            throw DIPError.io(path: url.absoluteString, reason: "the server answered HTTP \(http.statusCode)")
        }
        if tooLarge { throw Self.tooLarge(url, maxBytes) }
        if let error {
            let code = (error as? URLError)?.code
            // corelibs says "The operation could not be completed. (NSURLErrorDomain error -1001.)".
            let what = code == .timedOut ? "no answer within \(Int(timeout.rounded())) s" : error.localizedDescription
            let failure = DIPError.io(path: url.absoluteString, reason: "download failed (\(what))")
            if let code, NoAnswer.codes.contains(code) {
                throw NoAnswer(host: url.host ?? url.absoluteString, failure: failure)
            }
            throw failure
        }
        return data
    }

    private static func tooLarge(_ url: URL, _ maxBytes: Int) -> DIPError {
        .badFile(path: url.absoluteString, reason: "is larger than the \(maxBytes) bytes expected; stopped there, nothing was written (check the mirror)")
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

/// A download's body as it comes, up to `limit` bytes: past that (or with a Content-Length
/// past it) the task is cancelled and `tooLarge` set; an HTTP answer other than 2xx is cancelled
/// at its head, so its page, however long, is never taken for a file too large; `done` is
/// signalled when the task ends.
private final class BoundedBody: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let limit: Int
    let done = DispatchSemaphore(value: 0)
    // Guarded by `lock`: the session's delegate queue writes, the waiting thread reads after `done`.
    private let lock = NSLock()
    private var data = Data()
    private var response: URLResponse?
    private var error: (any Error)?
    private var tooLarge = false

    init(limit: Int) { self.limit = limit }

    func result() -> (Data, URLResponse?, (any Error)?, tooLarge: Bool) {
        lock.lock(); defer { lock.unlock() }
        return (data, response, error, tooLarge)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        lock.lock()
        self.response = response
        let refused = (response as? HTTPURLResponse).map { !(200..<300).contains($0.statusCode) } ?? false
        let over = !refused && response.expectedContentLength > Int64(limit)
        if over { tooLarge = true }
        lock.unlock()
        completionHandler(refused || over ? .cancel : .allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive chunk: Data) {
        // corelibs may pass on a body it was told to cancel at its head: a refused answer's is no file.
        if let http = dataTask.response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            lock.lock()
            if response == nil { response = http }
            lock.unlock()
            dataTask.cancel()
            return
        }
        lock.lock()
        let over = data.count + chunk.count > limit
        if over { tooLarge = true } else { data.append(chunk) }
        lock.unlock()
        if over { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        lock.lock()
        self.error = error
        lock.unlock()
        done.signal()
    }
}

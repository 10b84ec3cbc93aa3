import CCUDA
import Foundation

/// A shared library opened with dlopen, for the libraries dip-report must not link against
/// (libcuda.so.1, libcudnn.so.9): the binary has to start where they do not exist.
///
/// Never closed: the CUDA driver and cuDNN start threads and register exit handlers, and
/// unloading them while any handle or pointer is alive is undefined; they stay for the life of
/// the process, as they do when linked.
final class DynamicLibrary: @unchecked Sendable {
    /// The name or path given to dlopen.
    let name: String
    private let handle: UnsafeMutableRawPointer

    private init(name: String, handle: UnsafeMutableRawPointer) {
        self.name = name
        self.handle = handle
    }

    /// Opens `name` (a soname searched the usual way, or a path), resolving every symbol now
    /// so a broken library fails here rather than at its first call. The failure is dlerror's
    /// text, which names the file and what was wrong with it.
    static func open(_ name: String) -> Result<DynamicLibrary, DynamicLibraryError> {
        // RTLD_LOCAL: nothing else in the process should bind to these symbols by accident.
        guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(DynamicLibraryError(name: name, reason: Self.lastError() ?? "dlopen failed"))
        }
        return .success(DynamicLibrary(name: name, handle: handle))
    }

    /// The address of `symbol`, or nil when the library does not export it.
    func address(of symbol: String) -> UnsafeMutableRawPointer? {
        dlsym(handle, symbol)
    }

    /// The absolute path the dynamic linker actually loaded, from dladdr on `symbol`: for a
    /// soname this says which copy the search found.
    func loadedPath(via symbol: String) -> String? {
        guard let address = address(of: symbol), let file = ccuda_loaded_object_path(address) else { return nil }
        return String(cString: file)
    }

    private static func lastError() -> String? {
        guard let text = dlerror() else { return nil }
        return String(cString: text)
    }
}

/// Why a library could not be opened: dlerror's text.
struct DynamicLibraryError: Error, Equatable, Sendable {
    /// The name or path given to dlopen.
    var name: String
    /// dlerror's text, e.g. "libcuda.so.1: cannot open shared object file: No such file or directory".
    var reason: String
}

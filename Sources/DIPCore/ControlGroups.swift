/// The control-group folders that limit this process for one controller, read from the text of
/// /proc/self/cgroup: a limit set on a group or on any of its parents applies, so each is
/// listed. Shared by the CPU quota and the memory headroom, which read different files there.
enum ControlGroups {
    /// Where the hierarchies are mounted: cgroup v2 alone, v2 beside v1 (Debian's hybrid layout).
    static let unifiedRoots = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]

    /// One folder of a group (or a parent of it) under a mount point, and whether it belongs to
    /// the unified (v2) hierarchy, whose files are named differently from v1's.
    struct Folder: Equatable {
        var path: String
        var unified: Bool
    }

    /// For the unified hierarchy's group ("0::/path") and v1's `controller` ("N:a,b:/path"
    /// where the list names it), the group's folder and its parents', up to the mount's root
    /// (inside a container the root is the container's own group), under every candidate mount
    /// (`unifiedRoots`, or `v1Roots` for v1). Missing folders are listed too: reading their
    /// files simply fails.
    static func folders(cgroups: String, controller: String, v1Roots: [String]) -> [Folder] {
        var result: [Folder] = []
        for line in cgroups.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let unified = fields[0] == "0" && fields[1].isEmpty
            guard unified || fields[1].split(separator: ",").contains(Substring(controller)) else { continue }
            for group in ancestors(String(fields[2])) {
                for root in unified ? unifiedRoots : v1Roots {
                    result.append(Folder(path: root + group, unified: unified))
                }
            }
        }
        return result
    }

    /// "/a/b" -> ["/a/b", "/a", ""]: the group and its parents, the root last (as a suffix of
    /// a mount point: "" is the root itself).
    private static func ancestors(_ path: String) -> [String] {
        var parts = path.split(separator: "/").map(String.init)
        var result: [String] = []
        while true {
            result.append(parts.isEmpty ? "" : "/" + parts.joined(separator: "/"))
            if parts.isEmpty { return result }
            parts.removeLast()
        }
    }
}

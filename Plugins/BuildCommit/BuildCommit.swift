import Foundation
import PackagePlugin

/// Writes `BuildCommit.swift` (`let buildCommit = "<sha>[+dirty]"`) into the target's build
/// folder before every build: the commit of the checkout being compiled, with "+dirty" when its
/// tracked files differ, "unknown" outside a git checkout. Read at build time, so a record says
/// which code fitted it even after the checkout moves on (read at run time, it named whatever
/// the checkout held by then). The file is replaced only when its text changes, so an unchanged
/// checkout recompiles nothing.
@main
struct BuildCommit: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let out = context.pluginWorkDirectoryURL.appending(path: "Generated")
        let script = #"""
            dir=$1 out=$2
            mkdir -p "$out"
            commit=$(git -C "$dir" rev-parse HEAD 2>/dev/null) || commit=unknown
            if [ "$commit" != unknown ] && [ -n "$(git -C "$dir" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
                commit="$commit+dirty"
            fi
            printf '/// The git commit of the checkout this binary was built from (Plugins/BuildCommit).\nlet buildCommit = "%s"\n' "$commit" > "$out/BuildCommit.swift.new"
            if cmp -s "$out/BuildCommit.swift.new" "$out/BuildCommit.swift"; then rm "$out/BuildCommit.swift.new"
            else mv "$out/BuildCommit.swift.new" "$out/BuildCommit.swift"; fi
            """#
        return [.prebuildCommand(displayName: "Recording the checkout's git commit",
                                 executable: URL(fileURLWithPath: "/bin/sh"),
                                 arguments: ["-c", script, "sh", context.package.directoryURL.path, out.path],
                                 outputFilesDirectory: out)]
    }
}

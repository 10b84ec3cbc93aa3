#!/bin/sh
# Prints the seed folders of one fuzz target: the test fixtures it starts from.
set -eu
cd "$(dirname "$0")/.."
case "$1" in
    png) echo Tests/DIPCoreTests/Fixtures/png Tests/DIPCoreTests/Golden ;;
    mask-file)
        # Its first byte chooses --invert and the channel count; the PNG follows.
        dir=.build-fuzz/seeds/mask-file
        mkdir -p "$dir"
        for f in Tests/DIPCoreTests/Fixtures/png/*.png Tests/DIPCoreTests/Golden/*.png; do
            for flags in 0 3 5; do
                { printf "\\$(printf %03o "$flags")"; cat "$f"; } > "$dir/$flags-$(basename "$f")"
            done
        done
        echo "$dir" ;;
    run-record) echo Fuzz/seeds/run-record ;;
    catalog) echo Fuzz/seeds/catalog ;;
    markdown) echo Fuzz/seeds/markdown ;;
    *) echo "unknown fuzz target $1" >&2; exit 1 ;;
esac

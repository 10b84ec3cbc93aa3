#!/bin/sh
# Builds the libFuzzer targets (Fuzz/*.swift) into .build-fuzz/, with address sanitizer and
# fuzzer coverage on the library code they exercise. See docs/fuzzing.md; `make fuzz` runs them.
# Not part of `make test`: a fuzzing run is open-ended and needs the sanitizer runtimes.
set -eu
cd "$(dirname "$0")/.."
OUT=.build-fuzz
mkdir -p "$OUT"

# What the instrumented modules stand on but the fuzzers need not look inside, as the package's
# own release build makes it: swift-crypto (DIPCore's SHA-256) and DIPEngine's C targets. Their
# objects go into one static library; their modules are read from that build.
swift build -c release --target DIPExperiments
BIN=$(swift build -c release --show-bin-path)
DEPS="Crypto CryptoBoringWrapper CCryptoBoringSSL CCryptoBoringSSLShims CCUDA CFMAKernel CLayerKernels CWinograd CPointwise CWorkerPool"
rm -f "$OUT/libdeps.a"
# shellcheck disable=SC2046
ar rcs "$OUT/libdeps.a" $(for d in $DEPS; do find "$BIN/$d.build" -name '*.o'; done)
MODULES="-I $BIN/Modules"
for map in "$BIN"/*.build/module.modulemap; do MODULES="$MODULES -Xcc -fmodule-map-file=$map"; done

# -O, not the package's -Ounchecked: a Swift runtime trap (overflow, index) must crash here.
# The toolchain's lld links: the system's gold prints a warning for each of AddressSanitizer's
# check routines (some 700 lines a build).
FLAGS="-sanitize=fuzzer,address -use-ld=lld -O -wmo -parse-as-library -swift-version 6 -package-name dip_report -I $OUT $MODULES -I Sources/CPNG -I Sources/CCairo -I Sources/CDNNL"
CFLAGS=$(pkg-config --cflags cairo-ft libpng | sed 's/-I/-Xcc -I/g')

# module NAME SOURCES...: a static library and its .swiftmodule in $OUT.
module() {
    name=$1; shift
    [ "$OUT/lib$name.a" -nt "$0" ] && [ -z "$(find "$@" -newer "$OUT/lib$name.a" 2>/dev/null | head -1)" ] && return 0
    echo "building $name"
    # shellcheck disable=SC2086
    swiftc $FLAGS $CFLAGS -module-name "$name" -emit-module -emit-module-path "$OUT/$name.swiftmodule" \
        -emit-library -static -o "$OUT/lib$name.a" "$@"
}

module DIPCore Sources/DIPCore/*.swift
module DIPEngine $(find Sources/DIPEngine -name '*.swift')
# The commit a package build records (Plugins/BuildCommit writes it there); here, a fixed one.
[ -f "$OUT/BuildCommit.swift" ] || printf 'let buildCommit = "fuzz build"\n' > "$OUT/BuildCommit.swift"
module DIPExperiments Sources/DIPExperiments/*.swift "$OUT/BuildCommit.swift"
module Ink $(find .build/checkouts/Ink/Sources/Ink -name '*.swift')

LIBS="-L$OUT -lDIPCore -ldeps -lpng16 -lcairo -lfreetype"
# target NAME LIBRARIES...: the executable $OUT/fuzz-NAME from Fuzz/NAME.swift.
target() {
    name=$1; shift
    echo "building fuzz-$name"
    # shellcheck disable=SC2086
    swiftc $FLAGS $CFLAGS -module-name "Fuzz_$(echo "$name" | tr - _)" "Fuzz/$name.swift" "$@" -o "$OUT/fuzz-$name"
}
target png $LIBS
target mask-file $LIBS
target run-record -L$OUT -lDIPExperiments -lDIPEngine $LIBS -ldnnl
target catalog -L$OUT -lDIPExperiments -lDIPEngine $LIBS -ldnnl
# The neutraliser is compiled in with the two files it needs, not the whole report module
# (which would bring Mustache and Cairo's figures with it).
target markdown Sources/DIPReport/UserMarkdown.swift Sources/DIPReport/HTMLText.swift -L$OUT -lInk $LIBS

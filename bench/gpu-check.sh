#!/usr/bin/env bash
# Prepares the GPU check of issue 14 (docs/architecture.md, "CUDA"): run HERE, where Swift is;
# the GPU machine has no Swift. Builds a release dip-report with the Swift runtime linked in
# (--static-swift-stdlib), gathers the shared libraries it still needs (libpng, cairo,
# freetype, oneDNN, gomp, libstdc++...; not glibc's own, which the GPU machine's system
# provides), adds fonts, the four Table-1 images and a catalog naming them, and packs it all
# as gpu-carry/dip-gpu.tar.xz next to gpu-carry/run-on-gpu.sh, the one command to run there:
#
#   bench/gpu-check.sh                     # here: build, pack, smoke-test the packed binary
#   sh gpu-carry/run-on-gpu.sh             # on the GPU machine, from the repository root
#                                          # (the device tool: carry ["gpu-carry"])
#
# run-on-gpu.sh unpacks, prints nvidia-smi and the probe, and runs under one 8-minute limit:
# dip-report gpu-selftest, dip-report bench --device cuda --peer, and paper-protocol fits of
# cameraman, house, montage and peppers; logs and results go to $OUT (or ./gpu-out).
# Commands this build lacks are reported as PENDING instead of failing the rest.
#
# Environment: DIP_DATA (default ../shared/data), CARRY (default gpu-carry),
# BUILD_PATH (default .build-gpu: its own build folder, so .build keeps its flags).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DIP_DATA:-../shared/data}
CARRY=${CARRY:-gpu-carry}
BUILD_PATH=${BUILD_PATH:-.build-gpu}
STAGE=$BUILD_PATH/stage/dip-gpu
IMAGES="cameraman house montage peppers"

# The on-device script, written into the carry folder. POSIX sh: the GPU machine's shell is
# unknown. Needs there: tar with xz, timeout, nvidia-smi; python3 with PyTorch for --peer.
write_run_on_gpu() {
cat <<'ONDEVICE'
#!/bin/sh
# Issue 14's checks on a GPU machine (no Swift needed): unpacks dip-gpu.tar.xz (made by
# bench/gpu-check.sh), prints the card, and runs under one overall limit (GPU_CHECK_SECONDS,
# default 480 = 8 minutes), each step with its own share:
#   1. dip-report gpu-selftest                       (driver, PTX, graphs, cuDNN vs the CPU)
#   2. dip-report bench --device cuda --peer          (table1 and text at 256 and 512, ours vs PyTorch)
#   3. dip-report run table1-paper --dry-run          (the estimate of all of Table 1 on this card,
#                                                       --jobs 4 and 8)
#   4. dip-report run gpu-table1 --device cuda        (paper protocol, cameraman house montage
#                                                       peppers, seeds 0 1 2, --jobs 4 on one card)
#   0. scripts/cuda/device-check.py                   (every kernel's PTX vs its host build, bit for bit)
# Run from the repository root (bench/dip_torch.py is the peer). Logs: $OUT (the device
# tool's folder) or ./gpu-out; summary.txt has every step's exit code and last lines.
# A step whose command or option this build lacks is reported PENDING, not run.
# GPU_CHECK_STEPS (default kernels,selftest,bench,estimate,fits; also table1: the whole paper
# Table 1 with --jobs GPU_TABLE1_JOBS, default 16, for the time left) picks steps, so a first look
# at a card can stop after the quick ones; GPU_BENCH_ITERATIONS (default 50) sizes step 2,
# GPU_ESTIMATE_JOBS (default "4 8") step 3, GPU_FIT_SEEDS (default 0,1,2) and GPU_FIT_JOBS
# (default 4) step 4.
set -u
steps=${GPU_CHECK_STEPS:-kernels,selftest,bench,estimate,fits}
want() { case ",$steps," in *",$1,"*) return 0 ;; esac; return 1; }
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/dip-gpu.XXXXXX")
tar -C "$work" -xJf "$here/dip-gpu.tar.xz" || { echo "cannot unpack $here/dip-gpu.tar.xz" >&2; exit 1; }
dip="$work/dip-gpu/dip-report"
start=$(date +%s)
limit=${GPU_CHECK_SECONDS:-480}
summary="$out/summary.txt"
: > "$summary"

log() { echo "$*" | tee -a "$summary"; }
left() { echo $(( limit - ($(date +%s) - start) )); }
# step NAME SECONDS COMMAND...: runs COMMAND with at most SECONDS (and never past the limit).
step() {
    name=$1; budget=$2; shift 2
    remaining=$(left)
    if [ "$remaining" -le 10 ]; then log "SKIPPED $name: the overall limit of ${limit}s is spent"; return; fi
    [ "$budget" -gt "$remaining" ] && budget=$remaining
    log "== $name (at most ${budget}s): $*"
    t0=$(date +%s)
    timeout --kill-after=10 "$budget" "$@" > "$out/$name.log" 2>&1
    rc=$?
    [ "$rc" = 124 ] && log "   TIMED OUT after ${budget}s"
    log "   exit $rc after $(( $(date +%s) - t0 ))s; last lines of $name.log:"
    tail -n 30 "$out/$name.log" | sed 's/^/   | /' | tee -a "$summary"
}
# has COMMAND [OPTION]: whether this build has the subcommand (and the option). `help X`
# answers the root's help, exit 0, for a subcommand it does not know: look at its USAGE line.
has() {
    help=$("$dip" help "$1" 2>&1) || return 1
    printf '%s\n' "$help" | grep -q "^USAGE: dip-report $1\( \|\$\)" || return 1
    [ $# -lt 2 ] || printf '%s' "$help" | grep -q -- "$2"
}

log "dip-report GPU check, $(date -u '+%Y-%m-%dT%H:%M:%SZ'), limit ${limit}s"
nvidia-smi 2>&1 | tee "$out/nvidia-smi.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | tee -a "$summary"
ldd --version 2>&1 | head -n 1 | tee -a "$summary"   # the carried binary needs glibc 2.35 or later
python3 -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version(), "GPU", torch.cuda.is_available())' 2>&1 | tee -a "$summary"
LD_LIBRARY_PATH="$work/dip-gpu/lib:$work/dip-gpu/lib/fallback" ldd "$work/dip-gpu/bin/dip-report" | grep 'not found' | tee -a "$summary"
"$dip" --help > /dev/null 2>&1 || { log "the carried dip-report does not start here:"; "$dip" --help 2>&1 | head -n 5 | tee -a "$summary"; }

if want kernels; then
    if [ -f "$here/libdipkernels_host.so" ] && [ -f scripts/cuda/device-check.py ]; then
        step kernels 90 python3 scripts/cuda/device-check.py "$here/libdipkernels_host.so" --time
    else
        log "PENDING kernels: needs $here/libdipkernels_host.so and scripts/cuda/device-check.py (run from the repository root)"
    fi
fi

if ! want selftest; then :
elif has gpu-selftest; then
    step gpu-selftest 120 "$dip" gpu-selftest
else
    log "PENDING gpu-selftest: not in this build (expected: dip-report gpu-selftest)"
fi

if ! want bench; then :
elif has bench --device; then
    step bench 150 "$dip" bench --device cuda --peer --iterations "${GPU_BENCH_ITERATIONS:-50}"
else
    log "PENDING bench: this build's bench has no --device (expected: dip-report bench --device cuda --peer --iterations 50)"
fi

if ! want estimate && ! want fits; then :
elif has run --device; then
    # The whole paper Table 1 (13 images x 3 seeds x 11000 iterations) on this card: the
    # estimate times short fits here, as 4 and as 8 fits sharing the card (issue 14's target:
    # under one hour).
    want estimate && for jobs in ${GPU_ESTIMATE_JOBS:-4 8}; do
        step "table1-estimate-jobs$jobs" 90 "$dip" run table1-paper --profile paper --seeds 0,1,2 --device cuda \
            --jobs "$jobs" --dry-run --data "$work/dip-gpu/data" --results "$work/estimate"
    done
    # Paper protocol: table1 net, Adam LR 0.001, 11000 iterations, sigma_p 0.03, 50 % Bernoulli
    # masks; PyTorch on an H100, seed 0, final (best) PSNR: cameraman 29.70 (29.70), house
    # 38.78 (38.91), montage 31.61 (35.31), peppers 32.38 (33.17).
    # The results stay outside $OUT (the device tool brings back 8 files at most); status
    # prints each fit's PSNR into the summary.
    if want fits; then
        step table1-fits "$(left)" "$dip" run gpu-table1 --catalog "$work/dip-gpu/gpu-table1.json" --profile paper \
            --seeds "${GPU_FIT_SEEDS:-0,1,2}" --device cuda --jobs "${GPU_FIT_JOBS:-4}" --no-estimate --data "$work/dip-gpu/data" --results "$work/results"
        has status && "$dip" status --results "$work/results" 2>&1 | tee -a "$summary"
        # Each finished fit's PSNR and time (and every record, one JSON line each, for the note).
        python3 - "$work/results" "$out/records.jsonl" <<'RECORDS' 2>&1 | tee -a "$summary"
import glob, json, os, sys
rows = []
with open(sys.argv[2], "w") as lines:
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "**", "*.json"), recursive=True)):
        if path.endswith(".checkpoint.json"):
            continue
        try:
            r = json.load(open(path))
        except Exception:
            continue
        if "key" not in r or "final" not in r:
            continue
        r.pop("losses", None)
        lines.write(json.dumps(r) + "\n")
        f, b = r.get("final") or {}, r.get("best") or {}
        key = r.get("key") or {}
        rows.append((key.get("image", "?"), key.get("seed", "?"), r.get("status"), f.get("psnr"), b.get("psnr"),
                     r.get("bestIteration"), r.get("wallSeconds") or 0, (r.get("software") or {}).get("device")))
for row in rows:
    print("   record %s seed %s: %s, final PSNR %s, best %s at %s, %.0f s, %s" % row)
print("   %d records" % len(rows))
RECORDS
        log "PyTorch H100 seed 0 final (best) PSNR: cameraman 29.70 (29.70), house 38.78 (38.91), montage 31.61 (35.31), peppers 32.38 (33.17)"
    fi
else
    log "PENDING table1-fits: this build's run has no --device (expected: dip-report run gpu-table1 --catalog gpu-table1.json --profile paper --seeds 0,1,2 --device cuda --jobs 4 --no-estimate --data DATA --results RESULTS)"
fi
# The whole paper Table 1 (39 fits) on this card, --jobs GPU_TABLE1_JOBS (default 16), for the
# time left, checkpointing every 2 minutes (what an interrupted run keeps); the progress lines
# (every 30 s, each fit's iteration) give the card's throughput, nvidia-smi's samples its use.
# Not in the default steps: it takes all the time there is.
if want table1; then
    ( while :; do date -u +%T; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; sleep 10; done ) > "$out/table1-smi.txt" 2>&1 &
    smi=$!
    step table1-paper "$(left)" "$dip" run table1-paper --profile paper --seeds 0,1,2 --device cuda --jobs "${GPU_TABLE1_JOBS:-16}" \
        --checkpoint-minutes 2 --data "$work/dip-gpu/data" --results "$work/table1"
    kill "$smi" 2>/dev/null
    # The card's rate from the progress lines (every 30 s, each fit's iteration): iterations a
    # second over all fits, and how many fits moved, per interval.
    python3 - "$out/table1-paper.log" <<'RATE' 2>&1 | tee -a "$summary"
import re, sys
previous, at = None, None
for line in open(sys.argv[1]):
    m = re.match(r"runs \d+/\d+\s+elapsed (\S+)", line)
    if not m:
        continue
    now = {k: int(i) for k, i in re.findall(r"(\S+) (\d+)/\d+", line)}
    if previous is not None:
        moved = {k: now[k] - previous.get(k, 0) for k in now if now[k] > previous.get(k, 0)}
        print("   at %s: %d fits moved, %.0f iterations/s in all" % (m.group(1), len(moved), sum(moved.values()) / 30.0))
    previous = now
RATE
fi
log "done after $(( $(date +%s) - start ))s"
rm -rf "$work"
ONDEVICE
}

# FoundationNetworking (linked statically with the Swift runtime) needs libcurl's headers and
# its static link inputs.
if ! dpkg-query -W -f='${Status}' libcurl4-openssl-dev 2>/dev/null | grep -q "install ok installed"; then
    echo "gpu-check: installing libcurl4-openssl-dev (FoundationNetworking's link needs it)"
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q libcurl4-openssl-dev
fi

echo "gpu-check: building release dip-report with --static-swift-stdlib in $BUILD_PATH"
swift build -c release --product dip-report --static-swift-stdlib --build-path "$BUILD_PATH"
BIN=$BUILD_PATH/release/dip-report

rm -rf "$STAGE" && mkdir -p "$STAGE/bin" "$STAGE/lib" "$STAGE/share/dip-report" "$STAGE/data/bm3d"
cp "$BIN" "$STAGE/bin/dip-report"
strip "$STAGE/bin/dip-report"

# Every shared library the binary needs, transitively (ldd resolves the whole tree), except
# glibc's: those must come from the machine that runs it, matched to its kernel and ld.so.
glibc='^(linux-vdso|ld-linux[^ ]*|libc|libm|libpthread|libdl|librt|libutil|libresolv|libanl|libnsl|libmvec)\.so'
# Libraries nearly every machine has, and whose copies from here need a newer glibc (2.36)
# than the binary (2.35), go in lib/fallback: the launcher uses the machine's own when they
# load, ours otherwise.
fallback='^(libstdc\+\+|libgcc_s|libexpat|libz)\.so'
mkdir -p "$STAGE/lib/fallback"
ldd "$STAGE/bin/dip-report" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
    if [[ $name =~ $glibc ]]; then continue; fi
    if [[ $name =~ $fallback ]]; then cp -L "$path" "$STAGE/lib/fallback/$name"; else cp -L "$path" "$STAGE/lib/$name"; fi
done
if ldd "$STAGE/bin/dip-report" | grep -q 'libswift'; then
    echo "gpu-check: the binary still needs a libswift*.so:" >&2
    ldd "$STAGE/bin/dip-report" | grep libswift >&2
    exit 1
fi
if ldd "$STAGE/bin/dip-report" | grep -q 'not found'; then
    echo "gpu-check: unresolved libraries:" >&2; ldd "$STAGE/bin/dip-report" | grep 'not found' >&2; exit 1
fi

# The launcher: the carried libraries first, then whatever the machine has (libcuda.so.1 and
# cuDNN come from the machine: the driver's, and PyTorch's nvidia/cudnn/lib).
cat > "$STAGE/dip-report" <<'LAUNCHER'
#!/bin/sh
# dip-report with the libraries carried beside it. lib/fallback (libstdc++, libgcc_s, libexpat,
# libz) is used only when the machine's own copies do not load: ours need glibc 2.36.
here=$(dirname "$(readlink -f "$0")")
libs="$here/lib"
if ! LD_LIBRARY_PATH="$libs" "$here/bin/dip-report" --help >/dev/null 2>&1; then
    libs="$libs:$here/lib/fallback"
fi
LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/bin/dip-report" "$@"
LAUNCHER
chmod +x "$STAGE/dip-report"

cp -R fonts "$STAGE/share/dip-report/fonts"
# Every image of table1-paper (2.4 MB): the four above are fitted, all thirteen are in the
# estimate of the whole Table 1 on the card.
ALL_IMAGES=$("$BIN" run table1-paper --profile paper --print-catalog | python3 -c '
import json, sys
(e,) = [x for x in json.load(sys.stdin) if x["id"] == "table1-paper"]
print(" ".join(sorted({i["name"] for r in e["runs"] for i in r["images"]})))')
for image in $ALL_IMAGES; do cp "$DATA/bm3d/$image.png" "$STAGE/data/bm3d/"; done
(cd "$DATA" && grep -E " bm3d/($(echo $ALL_IMAGES | tr ' ' '|'))\.png$" SHA256SUMS) > "$STAGE/data/SHA256SUMS" || true

# The paper protocol on four images: table1-paper's runs (same masks, preprocessing, net, LR,
# iterations, sigma_p) narrowed to IMAGES, with gamma 1 as modern PyTorch (issue 14's H100
# figures were measured that way). Written from the built binary's own catalog so it cannot
# drift from the code.
"$BIN" run table1-paper --profile paper --print-catalog > "$STAGE/table1-paper.json"
python3 - "$STAGE/table1-paper.json" "$STAGE/gpu-table1.json" $IMAGES <<'PY'
import json, sys
source, target, names = sys.argv[1], sys.argv[2], set(sys.argv[3:])
(experiment,) = [e for e in json.load(open(source)) if e["id"] == "table1-paper"]
experiment["id"] = "gpu-table1"
experiment["title"] = "Table 1, paper protocol, four images, gamma 1 (GPU check)"
for run in experiment["runs"]:
    run["images"] = [image for image in run["images"] if image["name"] in names]
    assert {image["name"] for image in run["images"]} == names, run["images"]
    run["method"]["dip"]["_0"]["gammaInit"] = "one"
json.dump([experiment], open(target, "w"), indent=2)
PY
rm "$STAGE/table1-paper.json"

mkdir -p "$CARRY"
rm -f "$CARRY/dip-gpu.tar.xz"
# The kernels' host build, for step 0 (scripts/cuda/device-check.py on the card).
make -s cuda-host-lib
cp .build-cuda/libdipkernels_host.so "$CARRY/libdipkernels_host.so"
tar -C "$(dirname "$STAGE")" -cJf "$CARRY/dip-gpu.tar.xz" "$(basename "$STAGE")"
write_run_on_gpu > "$CARRY/run-on-gpu.sh"
chmod +x "$CARRY/run-on-gpu.sh"
size=$(stat -c %s "$CARRY/dip-gpu.tar.xz")
echo "gpu-check: $CARRY/dip-gpu.tar.xz is $((size / 1024)) KiB ($(ls "$STAGE/lib" "$STAGE/lib/fallback" | grep -c '\.so') libraries)"
if [ "$size" -ge $((48 * 1024 * 1024)) ]; then
    echo "gpu-check: too large for a 64 MiB carry with room to spare" >&2
    exit 1
fi
echo "gpu-check: newest glibc symbol the binary and its libraries need: $(objdump -T "$STAGE/bin/dip-report" "$STAGE"/lib/* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1) (the GPU machine's glibc must be at least that; lib/fallback's copies need 2.36 and are used only where the machine's own do not load)"

# Prove the packed binary runs without Swift: unpack elsewhere, empty environment, only the
# carried libraries.
check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
tar -C "$check" -xJf "$CARRY/dip-gpu.tar.xz"
echo "gpu-check: smoke test of the unpacked copy with env -i"
env -i PATH=/usr/bin:/bin "$check/dip-gpu/dip-report" --help | head -n 3
carried="$check/dip-gpu/lib:$check/dip-gpu/lib/fallback"
env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$carried" "$check/dip-gpu/bin/dip-report" bench --threads 1 --iterations 1 --size 64 --net table1
if LD_LIBRARY_PATH="$carried" ldd "$check/dip-gpu/bin/dip-report" | grep -E 'libswift|not found'; then
    echo "gpu-check: the unpacked binary needs libraries the carry lacks" >&2
    exit 1
fi
echo "gpu-check: ready; on the GPU machine run: sh $CARRY/run-on-gpu.sh"

#!/usr/bin/env bash
# Whole iterations of two builds, alternating on this machine: how BENCHMARKS.md's "builds
# alternating" figures are taken (issue 13), as one command. The working tree's HEAD and
# OTHER (a branch, tag or commit) are built in release mode, OTHER in a temporary git worktree,
# and then, ROUNDS times, each build runs `dip-report bench --net N --size SIZE --threads 2
# --iterations ITERATIONS` for every net, HEAD's with the PyTorch peer beside it (PEER=1). On
# a host whose speed moves by several per cent within minutes, only builds taken in turns
# compare; a change worth keeping shows in most rounds.
#
#   bench/alternate-builds.sh OTHER [ROUNDS]          # e.g. avx2-products 5 (default 3 rounds)
#
# Environment: NETS (default "table1 text"), SIZE (256), ITERATIONS (10), THREADS (2), PEER (1;
# 0 for none), CAP (avx2: cap oneDNN, and PyTorch's kernels, to AVX2 on an AVX-512 CPU, which
# stands for an AVX2 machine; the caps BENCHMARKS.md uses). Needs git, swift and python3
# (python3 with PyTorch for the peer). Prints the machine, both commits, every round, and per
# net the median of each build and of the peer ratio. The worktree is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
other=${1:?usage: bench/alternate-builds.sh OTHER [ROUNDS]  (OTHER: a branch, tag or commit)}
rounds=${2:-3}
nets=${NETS:-table1 text}
size=${SIZE:-256}
iterations=${ITERATIONS:-10}
threads=${THREADS:-2}
peer=${PEER:-1}
case "$rounds" in ''|*[!0-9]*|0) echo "ROUNDS '$rounds': give a whole number from 1" >&2; exit 64 ;; esac
other_commit=$(git rev-parse --verify --quiet "$other^{commit}") || { echo "OTHER '$other': no such branch, tag or commit here" >&2; exit 64; }
if [ "${CAP:-}" = avx2 ]; then
    export DNNL_MAX_CPU_ISA=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2
elif [ -n "${CAP:-}" ]; then
    echo "CAP '$CAP': only avx2 (or unset)" >&2; exit 64
fi

work=$(mktemp -d /tmp/dip-alternate.XXXXXX)
cleanup() { git worktree remove --force "$work/other" >/dev/null 2>&1 || true; rm -rf "$work"; git worktree prune; }
trap cleanup EXIT
git worktree add --quiet --detach "$work/other" "$other_commit"

echo "== building HEAD ($(git rev-parse --short HEAD)) and $other ($(git rev-parse --short "$other_commit")), release"
swift build -c release --product dip-report >"$work/build-head.log" 2>&1 || { tail -20 "$work/build-head.log" >&2; exit 1; }
(cd "$work/other" && swift build -c release --product dip-report) >"$work/build-other.log" 2>&1 \
    || { tail -20 "$work/build-other.log" >&2; exit 1; }
head_bin=$(swift build -c release --show-bin-path)/dip-report
other_bin=$(cd "$work/other" && swift build -c release --show-bin-path)/dip-report

echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'),"\
     "family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')"\
     "model $(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | tr -d ' '),"\
     "$(grep -q avx512f /proc/cpuinfo && echo 'avx512f present' || echo 'no avx512f'), $(nproc) CPUs;"\
     "cap: ${CAP:-none}; $(date -u '+%Y-%m-%d %H:%M UTC')"

# One bench run: appends "build net seconds peak_mib [peer_seconds]" to $work/rows.
run() {
    local label=$1 bin=$2 net=$3 extra=()
    [ "$label" = HEAD ] && [ "$peer" = 1 ] && extra=(--peer)
    # The peer script is found from the repository's root, where this script runs.
    "$bin" bench --net "$net" --size "$size" --threads "$threads" --iterations "$iterations" --json "${extra[@]}" \
        >"$work/out.json" 2>"$work/err.log" || { cat "$work/err.log" >&2; exit 1; }
    python3 - "$label" "$net" "$work/out.json" >>"$work/rows" <<'PY'
import json, sys
label, net, path = sys.argv[1:4]
rows = [json.loads(line) for line in open(path) if line.startswith("{")]
ours = [r for r in rows if not r["implementation"].startswith("pytorch")]
peer = [r for r in rows if r["implementation"].startswith("pytorch")]
line = f"{label} {net} {ours[0]['iterationSeconds']:.3f} {ours[0]['peakMemoryMiB']:.0f}"
if peer:
    line += f" {peer[0]['iterationSeconds']:.3f}"
print(line)
PY
    tail -1 "$work/rows"
}

: >"$work/rows"
for r in $(seq 1 "$rounds"); do
    echo "== round $r of $rounds (build net s/iter peak-MiB [PyTorch s/iter])"
    for net in $nets; do run HEAD "$head_bin" "$net"; done
    for net in $nets; do run OTHER "$other_bin" "$net"; done
done

echo "== medians over $rounds rounds, s/iter at ${size}x${size}, $threads threads (HEAD $(git rev-parse --short HEAD), OTHER $other)"
python3 - "$work/rows" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for net in dict.fromkeys(r[1] for r in rows):
    head = [float(r[2]) for r in rows if r[0] == "HEAD" and r[1] == net]
    other = [float(r[2]) for r in rows if r[0] == "OTHER" and r[1] == net]
    ratios = [float(r[2]) / float(r[4]) for r in rows if r[0] == "HEAD" and r[1] == net and len(r) > 4]
    line = f"{net}: HEAD {statistics.median(head):.3f} ({' '.join(f'{x:.3f}' for x in head)}), " \
           f"OTHER {statistics.median(other):.3f} ({' '.join(f'{x:.3f}' for x in other)})"
    if ratios:
        line += f"; HEAD against PyTorch {statistics.median(ratios):.3f} ({' '.join(f'{x:.3f}' for x in ratios)})"
    print(line)
PY

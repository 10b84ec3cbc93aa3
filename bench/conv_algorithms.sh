#!/usr/bin/env bash
# Does Winograd change results? Fits the same problems with --conv direct and --conv winograd
# over several seeds and prints final/best PSNR per run, so the difference between algorithms
# can be set against the spread between seeds. Usage:
#   bench/conv_algorithms.sh [IMAGE] [NET] [ITERATIONS] [SEEDS...]
# Defaults: a 128x128 crop of bm3d/barbara.png made by this script, table1, 1000, seeds 0 1 2;
# THREADS (default 2) sets the thread count of every fit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/dip-report}
DATA=${DIP_DATA:-../shared/data}
OUT=${OUT:-/tmp/dip-conv-algorithms}
mkdir -p "$OUT"
IMAGE=${1:-}
NET=${2:-table1}
ITERS=${3:-1000}
shift $(( $# > 3 ? 3 : $# ))
SEEDS=${*:-0 1 2}
if [ -z "$IMAGE" ]; then
  IMAGE=$OUT/barbara-crop128.png
  python3 - "$DATA/bm3d/barbara.png" "$IMAGE" <<'PY'
import sys
from PIL import Image
Image.open(sys.argv[1]).crop((256, 256, 384, 384)).save(sys.argv[2])
PY
fi
printf "%-6s %-9s %10s %10s %10s\n" seed conv final_dB best_dB best_iter
for seed in $SEEDS; do
  for conv in direct winograd; do
    $BIN inpaint "$IMAGE" --bernoulli 0.5 --mask-seed 0 --net "$NET" --lr 0.01 --iterations "$ITERS" \
      --seed "$seed" --conv "$conv" --threads "${THREADS:-2}" --out "$OUT/$seed-$conv.png" --curve "$OUT/$seed-$conv.json" > "$OUT/$seed-$conv.log"
    python3 - "$OUT/$seed-$conv.json" "$seed" "$conv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:<6} {sys.argv[3]:<9} {d['finalPSNR']:10.3f} {d['bestPSNR']:10.3f} {d['bestIteration']:10d}")
PY
  done
done

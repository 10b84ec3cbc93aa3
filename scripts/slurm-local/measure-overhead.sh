#!/usr/bin/env bash
# measure-overhead.sh [DIP_REPORT] — what a Slurm array task costs besides fitting, on a private
# local cluster (two emulated nodes on this machine): submits the smoke profile's `width` and
# `table1-tv` experiments (seeds 0,1: 62 runs) as one task per run (--pack-seconds 0), waits,
# and prints from the records and Slurm's job-completion log:
#   - seconds from submission to each task's start, and to its first run's first iteration;
#   - the array's wall time, and the share of the tasks' time that was not fitting.
# PACK=60 packs the runs as submit does by default (--pack-seconds; 0 here: one task per run).
# BENCHMARKS.md's Slurm section quotes it. Needs root (the cluster) and ../shared/data or DIP_DATA.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exe=${1:-$here/../../.build/release/dip-report}
exe=$(readlink -f "$exe")
state=/tmp/dsl-measure-$$
work=$(mktemp -d /tmp/dip-overhead.XXXXXX)
trap '"$here/stop-cluster.sh" "$state" --purge >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
port=$(( 21000 + RANDOM % 18000 ))
SLURM_LOCAL_NODES=2 SLURM_LOCAL_CTLD_PORT=$port SLURM_LOCAL_SLURMD_PORT=$((port + 1)) \
  "$here/start-cluster.sh" "$state" >/dev/null
export SLURM_CONF=$state/etc/slurm.conf
submitted=$(date +%s.%N)
out=$("$exe" submit width table1-tv --profile smoke --seeds 0,1 --results "$work/results" --out "$work/report" \
        --no-estimate --pack-seconds "${PACK:-0}" --cpus-per-task 1)
jobs=$(sed -n 's/^submitted: array jobs\{0,1\} \([0-9, ]*\); render job \([0-9]*\).*/\1,\2/p' <<<"$out" | tr -d ' ')
[ -n "$jobs" ] || { echo "no job ids in: $out" >&2; exit 1; }
while [ -n "$(squeue -h -j "$jobs" -o %i 2>/dev/null)" ]; do sleep 0.5; done
finished=$(date +%s.%N)
python3 - "$work/results" "$state/log/jobcomp.log" "$submitted" "$finished" <<'PY'
import json, os, sys, glob, datetime, statistics
results, jobcomp, submitted, finished = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
def ts(s): return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
records = [json.load(open(p)) for p in glob.glob(results + "/*/*/*.json")]
fit = sum(r["timings"]["total"] for r in records)
firsts = sorted(ts(r["finishedAt"]) - r["wallSeconds"] for r in records)
tasks = []
for line in open(jobcomp):
    f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    if f.get("Name", f.get("JobName", "")).endswith("-render") or "StartTime" not in f: continue
    tasks.append((ts(f["StartTime"] + "Z"), ts(f["EndTime"] + "Z")))
busy = sum(e - s for s, e in tasks)
print(f"{len(records)} runs in {len(tasks)} tasks; array and render job done {finished - submitted:.1f} s after submission")
print(f"submission -> task start: first {min(s for s, _ in tasks) - submitted:.1f} s, median {statistics.median(s - submitted for s, _ in tasks):.1f} s")
print(f"submission -> first iteration of the first run: {firsts[0] - submitted:.1f} s (record times have 1 s resolution)")
print(f"task seconds (Slurm, 1 s resolution): {busy:.0f} in all, median {statistics.median(e - s for s, e in tasks):.0f} per task; fitting {fit:.1f} s: {100 * (1 - fit / busy):.0f} % of the tasks' time is not fitting")
PY

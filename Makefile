# make demo   - train baseline, patch and skip (3 seeds each) on the embedded synthetic data, print their AUCs
# make test   - the whole test suite (installs first)
# make bench  - the speed benchmark (python -m lnta.bench)
# make test-floor - the fast tests on the oldest releases our ranges admit (tests/floor.txt; ~5 GB of downloads)
# make test-devices - the suite collects, and the device-dependent fast tests pass, with CUDA hidden and as it is
PYTHON ?= python3
# the wheel index torch comes from; empty: the index pip is configured with. A CUDA build, e.g.:
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cu128
TORCH_INDEX ?=
TORCH_FROM := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast test-floor test-devices bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_FROM) torch==2.13.0 || $(PY) -m pip install -q $(TORCH_FROM) "torch>=2.4,<2.15"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: install
	$(PY) -m lnta.demo

test: install
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

# A venv of its own, so the pins never touch .venv; lnta itself without its deps, which the pins are.
FLOOR_VENV := .venv-floor
test-floor:
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install -q -r tests/floor.txt
	$(FLOOR_VENV)/bin/python -m pip install -q --no-deps -e .
	$(FLOOR_VENV)/bin/python -m pytest -m "not slow"

# Each pass collects the whole suite (an import that fails without, or with, a GPU shows) and runs the fast
# tests that depend on the device: the GPU default, the precision settings, the numpy floor.
DEVICE_TESTS := test_device_default or test_precision or test_numpy_floor
test-devices: install
	CUDA_VISIBLE_DEVICES= $(PY) -m pytest -q -p no:cacheprovider -m "not slow" -k "$(DEVICE_TESTS)"
	env -u CUDA_VISIBLE_DEVICES $(PY) -m pytest -q -p no:cacheprovider -m "not slow" -k "$(DEVICE_TESTS)"

bench: install
	$(PY) -m lnta.bench --out outputs/bench.json

clean:
	rm -rf outputs multirun .pytest_cache

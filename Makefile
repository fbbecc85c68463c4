# Action Machine: set-up, tests and the paper's stages.
#   make install                      CPU build into .venv
#   make install MXNET=mxnet-cu112    GPU build (CUDA 11.2)
#   make test                         the test suite (CPU, no downloads)
#   make summary MODEL=action_machine_r18    per-stage shapes, parameters and MACs

PYTHON ?= python3
VENV ?= .venv
MXNET ?= mxnet==1.9.1
MODEL ?= action_machine_r18
PY := $(VENV)/bin/python

.PHONY: install test summary bench clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(MXNET)" -r requirements.txt
	$(PY) -c "import mxnet, gluoncv, cv2, pycocotools, decord; print('mxnet', mxnet.__version__, 'ok')"
	touch $@

test: install
	$(PY) -m pytest -q tests

summary: install
	$(PY) -m symbols $(MODEL)

clean:
	rm -rf $(VENV) .pytest_cache

bench: install
	$(PY) bench.py --out bench_results.json

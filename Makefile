# Every target creates .venv on first use. torch 2.13.0 is installed first, by exact version,
# so that the package's looser requirement cannot pick another build. Which wheel that is
# comes from pip's configuration: where it provides the CPU wheel (a local wheel directory),
# nothing more is needed; from plain PyPI, Linux gets a build with multi-GB CUDA libraries,
# so pass TORCH_INDEX=https://download.pytorch.org/whl/cpu for the CPU build.
PYTHON ?= python3
TORCH_INDEX ?=
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all lint bench ecosystem docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -e '.[dev,plot,docs,recipes]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/refsampler demo

# -n auto: one pytest-xdist worker per CPU (the suite is CPU-bound; 2 cores halve it);
# --dist loadscope keeps each module on one worker, so module-wide fixtures (the shipped
# suite's one verify run, the gloo process groups) are made once, not once per worker.
test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q -n auto --dist loadscope

test-all: $(STAMP)
	$(PY) -m pytest -q -n auto --dist loadscope

lint: $(STAMP)
	$(VENV)/bin/ruff check refsampler tests property_tests benchmarks
	$(VENV)/bin/mypy

# BENCH_ARGS: e.g. --quick (about 2 minutes, leaves docs/performance.md alone) or --scale.
bench: $(STAMP)
	$(PY) benchmarks/compare.py $(BENCH_ARGS)

ecosystem: $(STAMP)
	$(PY) benchmarks/ecosystem.py

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) site build dist

# Two commands set everything up on a machine that has only Python >= 3.10.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= outputs/demo

.PHONY: demo test bench clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	JAX_PLATFORMS=cpu $(PY) experiments/train.py --workdir=$(DEMO_DIR)

test: $(VENV)/.installed-dev
	JAX_PLATFORMS=cpu $(PY) -m pytest -n 2 --dist loadfile tests

bench: $(VENV)/.installed
	JAX_PLATFORMS=cpu $(PY) experiments/bench_envs.py

clean:
	rm -rf $(VENV) outputs

# Two commands set everything up on a machine that has only Python >= 3.11.
# Installs use the tested versions in constraints.txt; `make lock` renews them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONSTRAINTS := constraints.txt
DEMO_DIR ?= outputs/demo

.PHONY: demo test test-long bench lock clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# New pins (or new dependencies) reinstall: pip moves each package to its pin.
$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(CONSTRAINTS) | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	JAX_PLATFORMS=cpu $(PY) experiments/train.py --workdir=$(DEMO_DIR)

test: $(VENV)/.installed-dev
	JAX_PLATFORMS=cpu $(PY) -m pytest -n 2 --dist loadfile --durations=20 -m 'not long' tests

# Longer runs kept out of `make test` (CI does not run them): each repeats, on another
# task or variant, a claim that a test in `make test` proves.
test-long: $(VENV)/.installed-dev
	JAX_PLATFORMS=cpu $(PY) -m pytest -n 2 --dist loadfile --durations=20 -m long tests

bench: $(VENV)/.installed
	JAX_PLATFORMS=cpu $(PY) experiments/bench_envs.py

# Resolves pyproject.toml afresh (newest versions its ranges allow) in a temporary
# venv and writes what got installed to constraints.txt; then run `make test`.
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp" && \
	"$$tmp/bin/python" -m pip install --quiet --upgrade pip && \
	"$$tmp/bin/python" -m pip install --quiet -e '.[dev]' && \
	{ grep '^#' $(CONSTRAINTS) | grep -v '^# Resolved on'; \
	  "$$tmp/bin/python" -c 'import platform as p; print(f"# Resolved on Python {p.python_version()}, {p.system()} {p.machine()}, by make lock.")'; \
	  "$$tmp/bin/python" -m pip freeze --exclude-editable; } > $(CONSTRAINTS).new && \
	mv $(CONSTRAINTS).new $(CONSTRAINTS) && \
	echo "$(CONSTRAINTS): $$(grep -vc '^#' $(CONSTRAINTS)) pins; run make test before committing."

clean:
	rm -rf $(VENV) outputs

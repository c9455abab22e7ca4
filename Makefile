PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install test lint bench perf

# torch first, pinned: the CPU wheel of 2.13.0; an unpinned torch would pull the CUDA build.
install:
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[dev]"

test:
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check mermaide tests benchmarks
	$(PYTHON) -m mypy mermaide

# The performance targets (benchmarks/perf.py): prints the table, writes
# benchmarks/results/perf.md and exits non-zero when a target is missed.
perf:
	$(PYTHON) benchmarks/perf.py

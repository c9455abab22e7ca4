PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install test lint bench bench-paper perf

# torch first, pinned: the CPU wheel of 2.13.0; an unpinned torch would pull the CUDA build.
install:
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[dev]"

test:
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check mermaide tests benchmarks
	$(PYTHON) -m mypy mermaide

# The default suite: meta-train every principal on training agents, evaluate 0-shot and
# K-shot on unseen agents; writes benchmarks/results/bandit-ood/ (results.md, plots).
bench:
	$(PYTHON) -m mermaide.bench --suite bandit-ood --profile quick --workers 2

# The committed reproduction of the papers' findings (the paper profile; resumable).
bench-paper:
	for suite in bandit-ood stackelberg-noise repeated-stackelberg; do \
		$(PYTHON) -m mermaide.bench --suite $$suite --profile paper --workers 2 --resume || exit 1; \
	done

# The performance targets (benchmarks/perf.py): prints the table, writes
# benchmarks/results/perf.md and exits non-zero when a target is missed.
perf:
	$(PYTHON) benchmarks/perf.py

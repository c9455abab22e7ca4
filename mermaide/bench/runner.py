"""Run a suite: one job per (sweep variant, principal, seed) (``mermaide.bench.plan``), each a
full meta-train followed by 0-shot and K-shot evaluation on held-out tasks
(``mermaide.bench.job``), run in worker processes or as Ray tasks
(``mermaide.bench.backends``), stored as they finish (``mermaide.bench.store``), then reported
(``mermaide.bench.report``).

Each finished job is written at once and atomically to ``<out>/runs/<job>.json``; a job that
raises is written to ``<out>/runs/<job>.error.json`` with its traceback while the others go on.
A learned principal's learning curve, as it trains, goes to ``<out>/runs/<job>/progress.csv``
(SB3's logger format). ``resume=True`` skips every job whose run file exists and was produced
by the same configuration, so an interrupted bench loses nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from mermaide.bench.backends import BACKENDS
from mermaide.bench.job import check_suite
from mermaide.bench.plan import jobs_of
from mermaide.bench.report import write_report
from mermaide.bench.store import finished, reported_runs
from mermaide.bench.suite import Suite


def run_suite(suite: Suite, out: str | Path, workers: int = 2, backend: str = "local",
              resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run every job of the suite (skipping finished ones with ``resume``), then write the
    report. Returns a summary: jobs done, skipped and failed (with tracebacks). A suite whose
    env, populations or principals cannot be built raises ``SuiteError`` before any run."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {tuple(BACKENDS)}, got {backend!r}")
    if int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    check_suite(suite)  # a bad suite is refused before any run starts (SuiteError)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = jobs_of(suite)
    # Read once: finished() would parse the whole report again for every job.
    reported = reported_runs(out)
    todo = [job for job in jobs if not (resume and finished(out, job, reported))]
    summary: dict[str, Any] = {"jobs": len(jobs), "skipped": len(jobs) - len(todo), "done": 0,
                               "failed": []}
    bar = tqdm(total=len(todo), desc=f"{suite.name} ({suite.profile})", unit="run",
               disable=not progress)
    for outcome in BACKENDS[backend](todo, out, workers):
        bar.update(1)
        if outcome["status"] == "done":
            summary["done"] += 1
        else:
            summary["failed"].append(outcome)
            bar.write(f"run {outcome['job']} failed:\n{outcome['error']}")
    bar.close()
    results = [r for job in jobs if (r := finished(out, job, reported)) is not None]
    write_report(suite, results, out, failed=summary["failed"])
    return summary

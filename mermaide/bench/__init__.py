"""The benchmark harness: suites (TOML data), a runner (local processes or Ray, atomic and
resumable) and a report (tables with confidence intervals, plots).

The modules, each importing only those before it: ``suite`` (the suite file format),
``tasks`` (the suite's task sets), ``plan`` (a suite's jobs), ``store`` (atomic files, run
paths, resume), ``job`` (one job), ``backends`` (local processes, Ray), ``report`` (tables
and plots), ``runner`` (``run_suite``: all of the above) and ``__main__`` (the command line).
"""

from mermaide.bench.plan import Job, jobs_of
from mermaide.bench.runner import run_suite
from mermaide.bench.suite import Suite, available_suites, load_suite, suite_from_dict

__all__ = ["Job", "Suite", "available_suites", "jobs_of", "load_suite", "run_suite",
           "suite_from_dict"]

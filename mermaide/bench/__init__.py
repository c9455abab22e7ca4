"""The benchmark harness: suites (TOML data), a runner (local processes or Ray, atomic and
resumable) and a report (tables with confidence intervals, plots)."""

from mermaide.bench.runner import Job, jobs_of, run_suite
from mermaide.bench.suite import Suite, available_suites, load_suite, suite_from_dict

__all__ = ["Job", "Suite", "available_suites", "jobs_of", "load_suite", "run_suite",
           "suite_from_dict"]

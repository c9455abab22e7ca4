"""Run a suite: one job per (sweep variant, principal, seed), each a full meta-train followed by
0-shot and K-shot evaluation on held-out tasks.

Jobs are independent, so they run in worker processes (``backend="local"``) or as Ray tasks
(``backend="ray"``). Each finished job is written at once and atomically to
``<out>/runs/<job>.json``; a job that raises is written to ``<out>/runs/<job>.error.json`` with
its traceback while the others go on. A learned principal's learning curve, as it trains, goes
to ``<out>/runs/<job>/progress.csv`` (SB3's logger format). ``resume=True`` skips every job
whose run file exists and was produced by the same configuration, so an interrupted bench loses
nothing.
"""

from __future__ import annotations

import concurrent.futures as futures
import copy
import hashlib
import json
import multiprocessing
import os
import re
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mermaide.bench.suite import Suite

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class Job:
    """One (variant, principal, seed) run of a suite."""

    suite: Suite
    principal: str
    seed: int
    variant: tuple[tuple[str, Any], ...] = ()

    @property
    def variant_label(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.variant) or "default"

    @property
    def key(self) -> str:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.principal)
        prefix = re.sub(r"[^A-Za-z0-9_.=-]+", "_", self.variant_label)
        return f"{prefix}__{name}__seed{self.seed}"

    def config(self) -> dict[str, Any]:
        """Everything that determines this job's numbers."""
        suite = self.suite.to_dict()
        # What only names the runs or shapes the report (comparisons) is left out.
        for key in ("principals", "seeds", "sweep", "description", "comparisons"):
            suite.pop(key)
        return {
            "suite": suite,
            "principal": self.principal,
            "principal_kwargs": dict(self.suite.principal_kwargs.get(self.principal, {})),
            "seed": self.seed,
            "variant": dict(self.variant),
        }

    def config_hash(self) -> str:
        blob = json.dumps(self.config(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def jobs_of(suite: Suite) -> list[Job]:
    variants: list[tuple[tuple[str, Any], ...]] = [()]
    for knob, values in suite.sweep.items():
        variants = [(*v, (knob, value)) for v in variants for value in values]
    return [Job(suite, principal, seed, variant)
            for variant in variants for principal in suite.principals for seed in suite.seeds]


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that a crash leaves either the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w") as handle:
        json.dump(data, handle, indent=1, default=_json_default)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def run_path(out: Path, job: Job) -> Path:
    return out / "runs" / f"{job.key}.json"


def error_path(out: Path, job: Job) -> Path:
    return out / "runs" / f"{job.key}.error.json"


def log_path(out: Path, job: Job) -> Path:
    """The run's folder of logs: the principal's learning curve, ``progress.csv``."""
    return out / "runs" / job.key


def finished(out: Path, job: Job) -> dict[str, Any] | None:
    """The job's stored result if it exists and came from the same configuration."""
    path = run_path(out, job)
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return result if result.get("config_hash") == job.config_hash() else None


def execute_job(job: Job, out: str) -> dict[str, Any]:
    """Run one job in this process and store its outcome; never raises."""
    # Imported here: worker processes pay for torch and the principals only when they run.
    from mermaide.bench.job import run_job

    started = time.time()
    try:
        result = run_job(job, log_path(Path(out), job))
    except Exception:
        record = {"job": job.key, "config_hash": job.config_hash(), "config": job.config(),
                  "error": traceback.format_exc(), "seconds": time.time() - started}
        write_json_atomic(error_path(Path(out), job), record)
        return {"job": job.key, "status": "failed", "error": record["error"]}
    result.update(job=job.key, config_hash=job.config_hash(), config=job.config(),
                  seconds=time.time() - started)
    write_json_atomic(run_path(Path(out), job), result)
    stale_error = error_path(Path(out), job)
    if stale_error.exists():
        stale_error.unlink()
    return {"job": job.key, "status": "done"}


def _pool_initializer() -> None:
    # Several workers on few cores: one thread each, or torch oversubscribes the machine.
    import torch

    torch.set_num_threads(1)


def _run_local(jobs: Sequence[Job], out: Path, workers: int) -> Iterator[dict[str, Any]]:
    if workers == 1:
        _pool_initializer()
        for job in jobs:
            yield execute_job(job, str(out))
        return
    context = multiprocessing.get_context("spawn")
    with futures.ProcessPoolExecutor(workers, mp_context=context,
                                     initializer=_pool_initializer) as pool:
        pending = [pool.submit(execute_job, job, str(out)) for job in jobs]
        for future in futures.as_completed(pending):
            yield future.result()


def _run_ray(jobs: Sequence[Job], out: Path, workers: int) -> Iterator[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise ValueError("backend='ray' needs ray: pip install -e '.[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        # An existing cluster is used when RAY_ADDRESS is set; otherwise a local instance.
        ray.init(num_cpus=None if os.environ.get("RAY_ADDRESS") else workers,
                 include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1)(_ray_execute)
        pending = [remote.remote(job, str(out)) for job in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started_here:
            ray.shutdown()


def _ray_execute(job: Job, out: str) -> dict[str, Any]:
    _pool_initializer()
    return execute_job(job, out)


_BACKENDS: Mapping[str, Callable[[Sequence[Job], Path, int], Iterator[dict[str, Any]]]] = {
    "local": _run_local,
    "ray": _run_ray,
}


def run_suite(suite: Suite, out: str | Path, workers: int = 2, backend: str = "local",
              resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run every job of the suite (skipping finished ones with ``resume``), then write the
    report. Returns a summary: jobs done, skipped and failed (with tracebacks)."""
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    from tqdm.auto import tqdm

    from mermaide.bench.report import write_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = jobs_of(suite)
    todo = [job for job in jobs if not (resume and finished(out, job))]
    summary: dict[str, Any] = {"jobs": len(jobs), "skipped": len(jobs) - len(todo), "done": 0,
                               "failed": []}
    bar = tqdm(total=len(todo), desc=f"{suite.name} ({suite.profile})", unit="run",
               disable=not progress)
    for outcome in _BACKENDS[backend](todo, out, workers):
        bar.update(1)
        if outcome["status"] == "done":
            summary["done"] += 1
        else:
            summary["failed"].append(outcome)
            bar.write(f"run {outcome['job']} failed:\n{outcome['error']}")
    bar.close()
    results = [r for job in jobs if (r := finished(out, job)) is not None]
    write_report(suite, results, out, failed=summary["failed"])
    return summary


def copy_principal(principal: Any) -> Any:
    """An independent copy for one task's adaptation, so tasks never leak into each other."""
    return copy.deepcopy(principal)

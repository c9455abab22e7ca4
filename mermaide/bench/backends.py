"""Where jobs run: worker processes on this machine (``"local"``) or Ray tasks (``"ray"``: a
local Ray instance, or the cluster at ``RAY_ADDRESS``). Jobs are independent; each worker runs
one with ``execute_job``, which stores its outcome at once (``mermaide.bench.store``) and never
raises, so that one failing job leaves the others running. A backend yields each job's
outcome, ``{"job": key, "status": "done"}`` or ``{"job": key, "status": "failed", "error":
traceback}``, as it finishes, in any order."""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from mermaide.bench.job import run_job
from mermaide.bench.plan import Job
from mermaide.bench.store import log_path, store_error, store_result

Backend = Callable[[Sequence[Job], Path, int], Iterator[dict[str, Any]]]


def execute_job(job: Job, out: str) -> dict[str, Any]:
    """Run one job in this process and store its outcome; never raises."""
    started = time.time()
    try:
        result = run_job(job, log_path(Path(out), job))
    except Exception:
        error = traceback.format_exc()
        store_error(Path(out), job, error, time.time() - started)
        return {"job": job.key, "status": "failed", "error": error}
    store_result(Path(out), job, result, time.time() - started)
    return {"job": job.key, "status": "done"}


def one_thread() -> None:
    """Several workers on few cores: one torch thread each, or torch oversubscribes them."""
    torch.set_num_threads(1)


def run_local(jobs: Sequence[Job], out: Path, workers: int) -> Iterator[dict[str, Any]]:
    """In this process (``workers == 1``) or in ``workers`` spawned processes."""
    if workers == 1:
        one_thread()
        for job in jobs:
            yield execute_job(job, str(out))
        return
    context = multiprocessing.get_context("spawn")
    with futures.ProcessPoolExecutor(workers, mp_context=context, initializer=one_thread) as pool:
        pending = [pool.submit(execute_job, job, str(out)) for job in jobs]
        for future in futures.as_completed(pending):
            yield future.result()


def run_ray(jobs: Sequence[Job], out: Path, workers: int) -> Iterator[dict[str, Any]]:
    """As Ray tasks of one CPU each, on the Ray instance already initialised, else on one
    started here (and stopped when done) with ``workers`` CPUs or at ``RAY_ADDRESS``."""
    # Imported here: ray is an optional extra, needed only by this backend.
    try:
        import ray
    except ImportError:
        raise ValueError("backend='ray' needs ray: pip install -e '.[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
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
    one_thread()
    return execute_job(job, out)


BACKENDS: Mapping[str, Backend] = {"local": run_local, "ray": run_ray}

"""Where a suite's outcomes live on disk, written so that a crash never leaves half a file.

An output folder holds, per job, ``runs/<job>.json`` (its results, with the configuration and
configuration hash that produced them), or ``runs/<job>.error.json`` (the traceback of a job
that raised), and ``runs/<job>/`` (its logs: a learned principal's ``progress.csv``); the
report (``results.json``, ``results.md``, plots) sits at the top. A job counts as finished, and
is skipped on resume, when its run file exists and carries its configuration's hash.

Every file here is written through ``atomic_path``: into a temporary file beside the target,
flushed to disk, then moved over the target in one step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from mermaide.bench.plan import Job


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to: when the block ends without an
    error the content replaces ``path`` at once, so that readers (and a resumed bench) see the
    old file or the new one, never half of one; on an error ``path`` is left untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The suffix stays last, for writers that choose the format from it (matplotlib).
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, data: Any) -> None:
    """``data`` as JSON (numpy scalars and arrays as numbers and lists), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, default=_json_default))


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


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


def store_result(out: Path, job: Job, result: dict[str, Any], seconds: float) -> None:
    """Write a finished job's run file (and drop the error file of an earlier failed try)."""
    write_json(run_path(out, job), {**result, "job": job.key, "config_hash": job.config_hash(),
                                    "config": job.config(), "seconds": seconds})
    error_path(out, job).unlink(missing_ok=True)


def store_error(out: Path, job: Job, error: str, seconds: float) -> None:
    """Write a failed job's error file: its traceback and configuration."""
    write_json(error_path(out, job), {"job": job.key, "config_hash": job.config_hash(),
                                      "config": job.config(), "error": error,
                                      "seconds": seconds})


def finished(out: Path, job: Job,
             reported: Mapping[str, dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The job's stored result if it came from the same configuration: its run file, or else
    its run in the folder's report (``results.json``, which holds every run it reports), so
    that a committed report resumes without its run files (they are not committed).
    ``reported``: the report's runs (``reported_runs``), for a caller that asks about many
    jobs and so reads the report once; read here when not given."""
    path = run_path(out, job)
    if path.exists():
        result = _read_json(path)
    else:
        result = (reported_runs(out) if reported is None else reported).get(job.key)
    if result is None or result.get("config_hash") != job.config_hash():
        return None
    return result


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def reported_runs(out: Path) -> dict[str, dict[str, Any]]:
    """The runs of the folder's report (``results.json``) by job key; none without one."""
    report = out / "results.json"
    data = _read_json(report) if report.exists() else None
    runs = data.get("runs") if isinstance(data, dict) else None
    by_key: dict[str, dict[str, Any]] = {}
    for run in runs or ():
        if isinstance(run, dict) and isinstance(run.get("job"), str):
            by_key.setdefault(run["job"], run)  # the first, should a report list one twice
    return by_key

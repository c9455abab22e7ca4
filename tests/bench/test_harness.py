"""The benchmark harness: suites as data, parallel and resumable runs, reports, determinism."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import ray

from mermaide.bench import available_suites, jobs_of, load_suite, run_suite, suite_from_dict
from mermaide.bench.runner import run_path

TINY = {
    "name": "tiny",
    "env": "Mermaide/Bandit-v0",
    "principals": ["none", "tests.bench.third_party:FrontLoader"],
    "seeds": [0, 1],
    "shots": [0, 1],
    "env_kwargs": {"n_arms": 4, "horizon": 15, "intervention_budget": 5},
    "populations": {"kind": "agents", "train": "train", "test": "test-ood", "n_arms": 4},
    "evaluation": {"tasks": 3, "episodes": 2, "train_steps": 0, "curve_points": 2,
                   "curve_tasks": 2},
}


CHECKOUT = Path(__file__).resolve().parents[2]
CHECKOUT_PATH = str(CHECKOUT)


def checkout_env(**extra):
    """The environment of a subprocess that must run this checkout's mermaide (the code under
    test), whatever else is installed: the checkout comes first on its path."""
    path = os.pathsep.join(p for p in (CHECKOUT_PATH, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def test_subprocesses_import_the_checkout(tmp_path):
    found = subprocess.run([sys.executable, "-c", "import mermaide; print(mermaide.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60,
                           env=checkout_env())
    assert Path(found.stdout.strip()).resolve() == CHECKOUT / "mermaide" / "__init__.py"


def numbers(out):
    data = json.loads((out / "results.json").read_text())
    return {run["job"]: (run["shots"], run["curve"]) for run in data["runs"]}


@pytest.mark.parametrize("name", available_suites())
@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_shipped_suites_load(name, profile):
    suite = load_suite(name, profile)
    assert suite.principals and suite.seeds and jobs_of(suite)


def test_bad_suites_are_refused():
    with pytest.raises(ValueError, match="suite must be one of"):
        load_suite("no-such-suite")
    with pytest.raises(ValueError, match="profile must be one of"):
        load_suite("bandit-ood", "slow")
    with pytest.raises(ValueError, match="lacks the required key 'env'"):
        suite_from_dict({k: v for k, v in TINY.items() if k != "env"})
    with pytest.raises(ValueError, match="unknown keys \\['colour'\\]"):
        suite_from_dict({**TINY, "colour": "blue"})
    with pytest.raises(ValueError, match="seeds must be distinct"):
        suite_from_dict({**TINY, "seeds": [1, 1]})
    with pytest.raises(ValueError, match=r"evaluation\.tasks must be >= 1"):
        suite_from_dict({**TINY, "evaluation": {"tasks": 0}})


def test_run_report_resume_and_determinism(tmp_path):
    suite = suite_from_dict(TINY)
    out = tmp_path / "a"
    summary = run_suite(suite, out, workers=2, progress=False)
    assert summary == {"jobs": 4, "skipped": 0, "done": 4, "failed": []}
    for name in ("results.json", "results.md", "curves.png"):
        assert (out / name).exists()
    report = (out / "results.md").read_text()
    assert "| none | 0 |" in report and "tests.bench.third_party:FrontLoader | 1 |" in report
    first = numbers(out)

    # Resume: nothing is re-run; a deleted run is the only one recomputed, identically.
    assert run_suite(suite, out, resume=True, progress=False)["skipped"] == 4
    job = jobs_of(suite)[1]
    run_path(out, job).unlink()
    summary = run_suite(suite, out, workers=1, resume=True, progress=False)
    assert summary["skipped"] == 3 and summary["done"] == 1
    assert numbers(out) == first

    # Same command, same seeds, fresh folder: same numbers.
    run_suite(suite, tmp_path / "b", workers=1, progress=False)
    assert numbers(tmp_path / "b") == first

    # A changed configuration is not mistaken for a finished run.
    changed = suite_from_dict({**TINY, "env_kwargs": {**TINY["env_kwargs"], "horizon": 16}})
    assert run_suite(changed, out, resume=True, progress=False)["skipped"] == 0


def test_front_loading_beats_doing_nothing(tmp_path):
    """The report's numbers mean what they say: paying bonuses on the target raises the target
    rate and costs money; doing nothing costs nothing."""
    run_suite(suite_from_dict(TINY), tmp_path, workers=1, progress=False)
    runs = json.loads((tmp_path / "results.json").read_text())["runs"]
    by = {r["principal"]: r["shots"]["0"] for r in runs if r["seed"] == 0}
    none, paying = by["none"], by["tests.bench.third_party:FrontLoader"]
    assert sum(none["costs"]) == 0 and sum(none["interventions"]) == 0
    assert all(used == 5 for used in paying["interventions"])  # the budget caps 10 requests
    assert sum(paying["target_rates"]) > sum(none["target_rates"])


def test_crashed_run_is_reported_and_others_finish(tmp_path):
    suite = suite_from_dict({**TINY, "principals": ["none", "tests.bench.third_party:Exploding"],
                             "seeds": [0], "evaluation": {**TINY["evaluation"], "train_steps": 30}})
    summary = run_suite(suite, tmp_path, workers=2, progress=False)
    assert summary["done"] == 1 and len(summary["failed"]) == 1
    assert "boom: this principal always fails" in summary["failed"][0]["error"]
    errors = list((tmp_path / "runs").glob("*.error.json"))
    assert len(errors) == 1 and "Traceback" in json.loads(errors[0].read_text())["error"]
    assert "## Failed runs" in (tmp_path / "results.md").read_text()


def test_heatmap_is_drawn(tmp_path):
    suite = suite_from_dict({**TINY, "seeds": [0], "shots": [0],
                             "env_kwargs": {"n_arms": 10, "horizon": 12},
                             "populations": {"kind": "agents", "train": "train",
                                             "test": "test-ood"},
                             "heatmap": {"population": "figure5", "betas": [-1.0, 1.0],
                                         "episodes": 2}})
    run_suite(suite, tmp_path, workers=1, progress=False)
    run = json.loads((tmp_path / "results.json").read_text())["runs"][0]
    assert len(run["heatmap"]["target_frequency"]) == 2
    assert len(run["heatmap"]["target_frequency"][0]) == 12
    assert (tmp_path / "heatmap.png").exists()


def test_ray_backend_gives_the_same_numbers(tmp_path):
    """A real local Ray instance (2 CPUs) runs the suite's jobs as Ray tasks; the numbers are
    the local backend's, run for run."""
    suite = suite_from_dict({**TINY, "principals": ["none", "tests.bench.third_party:FrontLoader"]})
    assert len(jobs_of(suite)) == 4
    run_suite(suite, tmp_path / "local", workers=1, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": CHECKOUT_PATH}})
    try:
        summary = run_suite(suite, tmp_path / "ray", workers=2, backend="ray", progress=False)
        # The runner used the instance it found and left it running for its owner.
        assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 2
    finally:
        ray.shutdown()
    assert summary == {"jobs": 4, "skipped": 0, "done": 4, "failed": []}
    assert numbers(tmp_path / "ray") == numbers(tmp_path / "local")


def test_ray_backend_starts_and_stops_its_own_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("PYTHONPATH", CHECKOUT_PATH)
    suite = suite_from_dict({**TINY, "principals": ["tests.bench.third_party:FrontLoader"]})
    summary = run_suite(suite, tmp_path, workers=2, backend="ray", progress=False)
    assert summary["done"] == 2 and not summary["failed"]
    assert not ray.is_initialized()


def test_cli(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mermaide.bench", "--suite", "bandit-ood",
         "--principals", "none", "--seeds", "0", "--shots", "0", "--out", str(tmp_path),
         "--no-progress", "--workers", "1"],
        capture_output=True, text=True, timeout=300, env=checkout_env())
    assert result.returncode == 0, result.stderr
    assert "1 runs done" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "mermaide.bench", "--suite", "nope"],
                         capture_output=True, text=True, timeout=60, env=checkout_env())
    assert bad.returncode == 2 and "suite must be one of" in bad.stderr


def test_third_party_principal_from_the_current_folder(tmp_path):
    """README's promise: a user's own module, in the folder they run from, benchmarks through
    the console script with parallel workers, without touching this repository."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    source = next(block for block in re.findall(r"```python\n(.*?)```", readme, flags=re.S)
                  if "class MyPrincipal" in block)
    package = tmp_path / "my_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "my_mod.py").write_text(source)
    lines = [f"{k} = {json.dumps(v)}" for k, v in TINY.items() if not isinstance(v, dict)]
    for table in ("env_kwargs", "populations", "evaluation"):
        lines.append(f"[{table}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in TINY[table].items()]
    (tmp_path / "mine.toml").write_text("\n".join(lines) + "\n")
    script = Path(sys.executable).with_name("mermaide-bench")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "mermaide.bench"]
    result = subprocess.run(
        [*command, "--suite", "mine.toml", "--principals", "none,my_pkg.my_mod:MyPrincipal",
         "--seeds", "0", "--out", "out", "--no-progress", "--workers", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=checkout_env())
    assert result.returncode == 0, result.stderr
    assert "| my_pkg.my_mod:MyPrincipal | 0 |" in (tmp_path / "out" / "results.md").read_text()

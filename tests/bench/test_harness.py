"""The benchmark harness: suites as data, parallel and resumable runs, reports, determinism."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import ray

from mermaide.bench import available_suites, jobs_of, load_suite, run_suite, suite_from_dict
from mermaide.bench.job import task_sets
from mermaide.bench.store import run_path
from mermaide.bench.tasks import fingerprint

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
    with pytest.raises(ValueError, match=r"evaluation\.tasks must be an integer >= 1"):
        suite_from_dict({**TINY, "evaluation": {"tasks": 0}})
    with pytest.raises(ValueError, match=r"comparisons\[1\] must name two of the suite's "
                       r"principals \['none', 'tests.bench.third_party:FrontLoader'\], got "
                       r"\['none', 'maml'\] \('maml' is not one of them\)"):
        suite_from_dict({**TINY, "comparisons": [["none", "none"], ["none", "maml"]]})
    with pytest.raises(ValueError, match=r"comparisons\[0\] must be a pair"):
        suite_from_dict({**TINY, "comparisons": [["none"]]})
    with pytest.raises(ValueError, match=r"populations\.train_size must be an integer >= 1, got 0"):
        suite_from_dict({**TINY, "populations": {**TINY["populations"], "train_size": 0}})
    with pytest.raises(ValueError, match=r"evaluation\.task_seed must be an integer >= 0, got -1"):
        suite_from_dict({**TINY, "evaluation": {**TINY["evaluation"], "task_seed": -1}})


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
    # The report holds the run too (a committed report resumes without its run files): drop it
    # there as well, so that the run is gone.
    report = json.loads((out / "results.json").read_text())
    report["runs"] = [run for run in report["runs"] if run["job"] != job.key]
    (out / "results.json").write_text(json.dumps(report))
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
    assert (run["heatmap"]["learner"], run["heatmap"]["parameter"]) == ("ucb", "beta")


def test_the_heatmap_learner_comes_from_the_suite(tmp_path):
    heatmap = {"population": "figure5", "betas": [0.0, 1.0], "episodes": 2}
    raw = {**TINY, "principals": ["none"], "seeds": [0], "shots": [0],
           "env_kwargs": {"n_arms": 10, "horizon": 12},
           "populations": {"kind": "agents", "train": "train", "test": "test-ood"}}
    with pytest.raises(ValueError, match=r"heatmap\.learner must be one of .*, got 'nope'"):
        suite_from_dict({**raw, "heatmap": {**heatmap, "learner": "nope"}})
    maps = {}
    for learner, parameter in (("ucb", "beta"), ("epsilon_greedy", "epsilon")):
        suite = suite_from_dict({**raw, "heatmap": {**heatmap, "learner": learner,
                                                    "parameter": parameter}})
        run_suite(suite, tmp_path / learner, workers=1, progress=False)
        (run,) = json.loads((tmp_path / learner / "results.json").read_text())["runs"]
        maps[learner] = run["heatmap"]
        assert (maps[learner]["learner"], maps[learner]["parameter"]) == (learner, parameter)
    # Epsilon 1 picks arms uniformly at random; UCB with beta 1 does not.
    assert maps["epsilon_greedy"]["target_frequency"] != maps["ucb"]["target_frequency"]


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
    """docs/principals.md's promise: a user's own module, in the folder they run from,
    benchmarks through the console script with parallel workers, without touching this
    repository."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "principals.md").read_text()
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


PAIRED = {
    **TINY,
    # front-loaded with steps = 0 plays exactly as none: equal only if both play every task
    # from the same seeds.
    "principals": ["none", "front-loaded", "front-loaded-tuned",
                   "tests.bench.third_party:FrontLoader"],
    "comparisons": [["tests.bench.third_party:FrontLoader", "none"], ["none", "none"],
                    ["front-loaded", "none"], ["front-loaded-tuned", "none"]],
    "principal_kwargs": {"front-loaded": {"steps": 0}},
    # Horizon 15, budget 5: the tuned schedule needs 15 * (1 + 5) steps per meta_train call.
    "evaluation": {**TINY["evaluation"], "train_steps": 200},
}


def test_paired_comparisons_on_one_task_set(tmp_path):
    suite = suite_from_dict(PAIRED)
    assert run_suite(suite, tmp_path, workers=2, progress=False)["done"] == 8
    data = json.loads((tmp_path / "results.json").read_text())
    runs = data["runs"]
    # One held-out task set for every principal and every seed.
    assert len({json.dumps(run["test_tasks"]) for run in runs}) == 1
    assert len(runs[0]["test_tasks"]) == 3 and len(set(runs[0]["test_tasks"])) == 3
    by = {(run["principal"], run["seed"]): run["shots"] for run in runs}
    for seed in (0, 1):
        for shots in ("0", "1"):
            assert by[("front-loaded", seed)][shots]["returns"] == \
                by[("none", seed)][shots]["returns"]
    rows = {(row["label"], row["shots"]): row for row in data["comparisons"]}
    assert len(rows) == 8
    for shots in (0, 1):
        for same in ("none − none", "front-loaded − none"):
            row = rows[(same, shots)]
            assert row["mean"] == 0.0 and row["ci"] == 0.0 and row["tasks"] == 3
            assert row["differences"] == [0.0, 0.0, 0.0] and row["seeds"] == [0, 1]
    # The difference is the per-task mean over episodes and seeds, by hand.
    paying = rows[("tests.bench.third_party:FrontLoader − none", 1)]
    per_task = {}
    for name in ("tests.bench.third_party:FrontLoader", "none"):
        per_task[name] = np.mean([by[(name, seed)]["1"]["task_returns"] for seed in (0, 1)], 0)
        shot = by[(name, 0)]["1"]
        assert shot["task_returns"][2] == pytest.approx(
            np.mean([r for r, t in zip(shot["returns"], shot["tasks"], strict=True) if t == 2]))
    expected = per_task["tests.bench.third_party:FrontLoader"] - per_task["none"]
    assert paying["differences"] == pytest.approx(expected.tolist())
    assert paying["mean"] == pytest.approx(expected.mean())
    report = (tmp_path / "results.md").read_text()
    assert "## Paired comparisons" in report and "| none − none | 0 | 0.000 ± 0.000 |" in report
    assert "![comparisons.png](comparisons.png)" in report
    assert (tmp_path / "comparisons.png").stat().st_size > 0
    # The tuned schedule chose among its candidates on training agents, and says so.
    assert all(run["chosen"]["steps"] in range(1, 6) for run in runs
               if run["principal"] == "front-loaded-tuned")
    assert "`front-loaded-tuned`: seed 0: steps=" in report

    # Cost-effectiveness: interventions used and return per intervention ("-" for none).
    assert "| interventions used | cost | return per intervention |" in report
    none_row = next(line for line in report.splitlines() if line.startswith("| none | 0 |"))
    assert none_row.endswith("| - |")
    paying_row = next(line for line in report.splitlines()
                      if line.startswith("| tests.bench.third_party:FrontLoader | 0 |"))
    returns_cell, per_cell = paying_row.split(" | ")[2], paying_row.split(" | ")[-1]
    assert float(per_cell.split(" ± ")[0]) == pytest.approx(
        float(returns_cell.split(" ± ")[0]) / 5, rel=1e-3)  # 5 interventions every episode

    # --principals leaving one out: its comparisons are skipped with a note.
    fewer = suite.with_overrides(principals=["none", "front-loaded"])
    assert run_suite(fewer, tmp_path, resume=True, progress=False)["skipped"] == 4
    report = (tmp_path / "results.md").read_text()
    assert ("tests.bench.third_party:FrontLoader − none skipped: no finished runs of "
            "tests.bench.third_party:FrontLoader") in report
    assert "| front-loaded − none | 1 | 0.000 ± 0.000 |" in report


def test_the_task_set_depends_on_the_suite_only():
    def prints(raw):
        return [fingerprint(task) for task in task_sets(suite_from_dict(raw))["test"]]

    assert prints(TINY) == prints({**TINY, "principals": ["none"], "seeds": [5]})
    other = {**TINY, "evaluation": {**TINY["evaluation"], "task_seed": 1}}
    assert prints(other) != prints(TINY)


class TaskRecorder:
    """Writes the fingerprints of the training tasks it meets (through the population and
    through ``env_fn``'s own draws) to ``path``, one JSON line per meta_train call."""

    def __init__(self, path: str):
        self.path = path

    def meta_train(self, env_fn, population, steps, seed):
        rng = np.random.default_rng(seed)
        env = env_fn()
        tasks = [population.sample(rng) for _ in range(30)] + population.sample_many(10, rng)
        tasks += [env.reset(seed=seed + i)[1]["agent"] for i in range(10)]
        with open(self.path, "a") as handle:
            handle.write(json.dumps([fingerprint(task) for task in tasks]) + "\n")

    def adapt(self, env, episodes):
        pass

    def act(self, obs, state):
        return 0, state

    def save(self, path):
        pass

    def load(self, path):
        pass


@pytest.mark.parametrize("train_size", [3, None])
def test_train_size_gives_a_fixed_training_set(tmp_path, train_size):
    recorder = "tests.bench.test_harness:TaskRecorder"
    seen = tmp_path / "seen.jsonl"
    populations = {**TINY["populations"]}
    if train_size is not None:
        populations["train_size"] = train_size
    suite = suite_from_dict({**TINY, "principals": [recorder], "shots": [0],
                             "populations": populations,
                             "principal_kwargs": {recorder: {"path": str(seen)}},
                             "evaluation": {**TINY["evaluation"], "train_steps": 2}})
    run_suite(suite, tmp_path / "out", workers=1, progress=False)
    calls = [json.loads(line) for line in seen.read_text().splitlines()]
    assert len(calls) == 4  # 2 seeds x 2 curve points
    met = {task for call in calls for task in call}
    runs = json.loads((tmp_path / "out" / "results.json").read_text())["runs"]
    if train_size is None:
        assert len(met) > 40 and all(run["train_set"] is None for run in runs)
    else:
        # The same 3 agents for every seed, and the only ones met, both ways of drawing.
        assert len({json.dumps(run["train_set"]) for run in runs}) == 1
        assert met == set(runs[0]["train_set"]) and len(met) == 3
        assert "a fixed set of 3 agents from `train`" in (tmp_path / "out" / "results.md"
                                                          ).read_text()

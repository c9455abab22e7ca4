"""A bad suite is refused before any run starts: on the command line, exit status 2 and one
line naming the suite file, the key and the value (a traceback only with ``--debug``); a bad
resume is impossible: changing any field of a job's configuration re-runs that job."""

import dataclasses
import json
import re
import shutil
import subprocess
import sys

import pytest

from mermaide.bench import jobs_of, run_suite, suite_from_dict
from mermaide.bench.__main__ import main
from mermaide.bench.job import check_suite
from mermaide.bench.suite import SuiteError

from .test_harness import TINY, checkout_env


def toml(suite):
    """A suite dict as a TOML file's text (top-level values first, then one table each)."""
    lines, tables = [], []
    for key, value in suite.items():
        (tables if isinstance(value, dict) else lines).append((key, value))
    text = [f"{key} = {json.dumps(value)}" for key, value in lines]

    def table(name, content):
        scalars = {k: v for k, v in content.items() if not isinstance(v, dict)}
        text.append(f"[{name}]")
        text.extend(f"{k} = {json.dumps(v)}" for k, v in scalars.items())
        for k, v in content.items():
            if isinstance(v, dict):
                table(f"{name}.{k}", v)

    for name, content in tables:
        table(name, content)
    return "\n".join(text) + "\n"


def refused_by_the_cli(tmp_path, capsys, suite, *extra):
    """Run the command line on ``suite`` (written to a file): it must exit with status 2,
    print one line naming the file, and start no run. Returns that line."""
    path = tmp_path / "suite.toml"
    path.write_text(suite if isinstance(suite, str) else toml(suite))
    out = tmp_path / "out"
    status = main(["--suite", str(path), "--out", str(out), "--no-progress", "--workers", "1",
                   *extra])
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], err
    assert not (out / "runs").exists()  # nothing ran
    return lines[0]


def with_(key, value):
    """TINY with ``key`` (``a.b`` for a table's entry) set to ``value``."""
    suite = json.loads(json.dumps(TINY))
    *tables, last = key.split(".")
    place = suite
    for table in tables:
        place = place.setdefault(table, {})
    place[last] = value
    return suite


# (key, value, what the message says besides them): the suite's own checks.
BAD_FIELDS = [
    ("principals", "none", "principals must be a list of names, got 'none'"),
    ("principals", ["none", 3], "principals[1] must be a non-empty string"),
    ("seeds", [0, 0.5], "seeds[1] must be an integer >= 0"),
    ("seeds", ["3"], "seeds[0] must be an integer >= 0"),
    ("seeds", [True], "seeds[0] must be an integer >= 0"),
    ("seeds", [-1], "seeds[0] must be an integer >= 0"),
    ("seeds", 3, "seeds must be a list of integers"),
    ("shots", [0, 1.5], "shots[1] must be an integer >= 0"),
    ("evaluation.tasks", "3", "evaluation.tasks must be an integer >= 1"),
    ("evaluation.episodes", 0, "evaluation.episodes must be an integer >= 1"),
    ("evaluation.train_steps", 1.5, "evaluation.train_steps must be an integer >= 0"),
    ("env", 7, "env must be a non-empty string"),
    # Sizes and seeds beyond what a run can use: drawing 10**30 tasks used to hang the check;
    # a seed of 2**32 or more failed every stable-baselines3 run once started.
    ("evaluation.tasks", 10**30, "evaluation.tasks must be an integer in [1, 2**31 - 1]"),
    ("evaluation.curve_tasks", 2**31, "evaluation.curve_tasks must be an integer in [1, "),
    ("shots", [0, 10**30], "shots[1] must be an integer in [0, 2**31 - 1]"),
    ("seeds", [0, 2**32], "seeds[1] must be an integer in [0, 2**32 - 1]"),
    ("evaluation.task_seed", 2**32, "evaluation.task_seed must be an integer in [0, 2**32 - 1]"),
    ("principals", ["none", "none"], "principals must be distinct, got ['none', 'none']"),
    # The name is the default output folder: no climbing out of benchmarks/results.
    ("name", 7, "name must be a folder name of letters, digits"),
    ("name", "../../elsewhere", "name must be a folder name of letters, digits"),
    ("description", 5, "description must be a string, got 5"),
    ("task_argument", 3, "task_argument must be a non-empty string, got 3"),
    # What the populations give the env would silently replace the suite's own value.
    ("env_kwargs.agent", "ucb", "env_kwargs.agent cannot be set: the suite's [populations]"),
    ("sweep.agent", ["ucb"], "sweep.agent cannot be set: the suite's [populations]"),
    # A misspelt principal's arguments used to be ignored.
    ("principal_kwargs.non", {"arm": 1}, "principal_kwargs.non names no principal of the suite"),
    ("populations", 3, "populations must be a table"),
    ("profiles", 3, "profiles must be a table"),
    ("profiles", {"paper": 3}, "profiles.paper must be a table"),
    ("profiles", {"papr": {}}, "profiles.papr is not a profile"),
    ("reference", 3, "reference must be a table"),
    ("heatmap", 5, "heatmap must be a table"),
    # A string of betas used to be split into letters.
    ("heatmap.betas", "x", "heatmap.betas must be a list of values, got 'x'"),
    ("heatmap.betas", [0.0, "x"], "heatmap.betas[1] must be a real number, got 'x'"),
    ("heatmap.parameter", "nope", "heatmap.parameter must be a parameter of 'ucb' (beta)"),
    ("heatmap.episodes", 0, "heatmap.episodes must be an integer >= 1, got 0"),
]


@pytest.mark.parametrize(("key", "value", "said"), BAD_FIELDS)
def test_a_bad_field_is_refused_by_name(tmp_path, capsys, key, value, said):
    with pytest.raises(SuiteError, match="suite <dict>: " + re.escape(said)):
        suite_from_dict(with_(key, value))
    assert said in refused_by_the_cli(tmp_path, capsys, with_(key, value))


# (key, value, the key the message names): what only building the env, the populations and
# the principals can tell.
BAD_BUILDS = [
    ("principals", ["none", "no-such-principal"], "principals"),
    ("principals", ["none", "no_such_module:Thing"], "principals"),
    ("env", "Mermaide/NoSuchGame-v0", "env"),
    ("env_kwargs.horizon", -3, "env_kwargs"),
    ("env_kwargs.horizon", "long", "env_kwargs"),
    ("env_kwargs.colour", "blue", "env_kwargs"),
    ("populations.train", "no-such-population", "populations"),
    ("principal_kwargs.none.arm", "left", "principal_kwargs.none"),
    ("principal_kwargs.none.volume", 11, "principal_kwargs.none"),
    ("sweep.horizon", [15, -1], "sweep"),
    ("task_argument", "agents", "task_argument"),
    ("heatmap.population", "no-such-population", "heatmap"),
]


@pytest.mark.parametrize(("key", "value", "named"), BAD_BUILDS)
def test_what_cannot_be_built_is_refused_before_any_run(tmp_path, capsys, key, value, named):
    suite = suite_from_dict(with_(key, value))
    with pytest.raises(SuiteError, match=f"suite <dict>: {named} = "):
        check_suite(suite)
    with pytest.raises(SuiteError):
        run_suite(suite, tmp_path / "api", progress=False)
    assert not (tmp_path / "api").exists()
    line = refused_by_the_cli(tmp_path, capsys, with_(key, value))
    assert f": {named} = " in line, line
    shown = value[-1] if isinstance(value, list) else value
    assert repr(shown) in line or str(shown) in line, line


def test_a_good_suite_passes_the_check():
    check_suite(suite_from_dict(TINY))


def test_a_malformed_toml_file_names_its_line_and_column(tmp_path, capsys):
    line = refused_by_the_cli(tmp_path, capsys, "colour = = 1\n" + toml(TINY))
    assert "not valid TOML" in line and "(at line 1, column 10)" in line, line


def test_a_profile_the_file_lacks_is_refused(tmp_path, capsys):
    line = refused_by_the_cli(tmp_path, capsys, TINY, "--profile", "paper")
    assert "no profile 'paper'" in line, line


def test_the_command_line_refuses_bad_workers_and_seeds(tmp_path, capsys):
    path = tmp_path / "suite.toml"
    path.write_text(toml(TINY))
    for argv in (["--workers", "0"], ["--workers", "two"], ["--seeds", "0.5"]):
        with pytest.raises(SystemExit) as exit_:
            main(["--suite", str(path), *argv])
        assert exit_.value.code == 2
    capsys.readouterr()  # argparse's usage lines
    line = refused_by_the_cli(tmp_path, capsys, TINY, "--seeds", "-1")
    assert "seeds[0] must be an integer >= 0, got -1" in line


def test_debug_shows_the_traceback(tmp_path):
    path = tmp_path / "suite.toml"
    path.write_text(toml(with_("principals", ["none", "no-such-principal"])))
    command = [sys.executable, "-m", "mermaide.bench", "--suite", str(path), "--out",
               str(tmp_path / "out"), "--no-progress", "--workers", "1"]
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=120,
                           env=checkout_env())
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    assert len(quiet.stderr.strip().splitlines()) == 1, quiet.stderr
    loud = subprocess.run([*command, "--debug"], capture_output=True, text=True, timeout=120,
                          env=checkout_env())
    assert loud.returncode != 0 and "Traceback" in loud.stderr and "SuiteError" in loud.stderr


# --- resume -----------------------------------------------------------------------------------

RESUMED = {**TINY, "principals": ["none", "front-loaded"], "seeds": [0],
           "principal_kwargs": {"front-loaded": {"steps": 2}}}
EVALUATION = RESUMED["evaluation"]
POPULATIONS = RESUMED["populations"]

# One change of every field of a job's configuration (``Job.config``), by its dotted name
# there: the file's changes, or (None) a change no file makes, applied in ``changed_suite``.
# The job's principal and seed are its identity (another one is another job); "runs" (an
# alias's target) is there only for an aliased principal.
CHANGES = {
    "suite.name": {"name": "tiny-renamed"},
    "suite.env": None,
    "suite.shots": {"shots": [0]},
    "suite.population_kind": None,
    "suite.train_population": {"populations": {**POPULATIONS, "train": "test"}},
    "suite.test_population": {"populations": {**POPULATIONS, "test": "train"}},
    "suite.task_argument": {"task_argument": "agents"},
    "suite.env_kwargs": {"env_kwargs": {**RESUMED["env_kwargs"], "horizon": 16}},
    "suite.population_kwargs": {"populations": {**POPULATIONS, "target": 2}},
    "suite.evaluation.tasks": {"evaluation": {**EVALUATION, "tasks": 2}},
    "suite.evaluation.episodes": {"evaluation": {**EVALUATION, "episodes": 1}},
    "suite.evaluation.train_steps": {"evaluation": {**EVALUATION, "train_steps": 30}},
    "suite.evaluation.curve_points": {"evaluation": {**EVALUATION, "curve_points": 1}},
    "suite.evaluation.curve_tasks": {"evaluation": {**EVALUATION, "curve_tasks": 1}},
    "suite.evaluation.task_seed": {"evaluation": {**EVALUATION, "task_seed": 1}},
    "suite.heatmap": {"heatmap": {"population": "figure5", "episodes": 1, "betas": [0.0]}},
    "suite.profile": None,
    "suite.train_size": {"populations": {**POPULATIONS, "train_size": 3}},
    "suite.reference": {"reference": {"key": "other_value"}},
    "principal_kwargs": {"principal_kwargs": {"front-loaded": {"steps": 3}}},
    "variant": {"sweep": {"horizon": [15]}},
}
# The changes a run checks end to end (a cheap run each); the rest by the job's hash.
RUN = ("principal_kwargs", "suite.env_kwargs", "suite.evaluation.tasks")


def changed_suite(field):
    """RESUMED with ``field`` changed."""
    base = suite_from_dict(RESUMED)
    if field == "suite.env":  # only the hash is checked: the id need not be registered
        return dataclasses.replace(base, env="Mermaide/AnotherGame-v0")
    if field == "suite.population_kind":
        return dataclasses.replace(base, population_kind="games")
    if field == "suite.profile":
        return dataclasses.replace(base, profile="paper")
    return suite_from_dict({**RESUMED, **CHANGES[field]})


def fields_of(config, prefix=""):
    """The leaves of a job's configuration, as dotted names."""
    for key, value in config.items():
        if isinstance(value, dict) and key in ("suite", "evaluation"):
            yield from fields_of(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def the_job(suite):
    """The front-loaded job (the one with constructor arguments)."""
    return next(job for job in jobs_of(suite) if job.principal == "front-loaded")


def test_every_field_of_the_config_has_a_change():
    """A field added to Job.config fails here until CHANGES covers it."""
    config = the_job(suite_from_dict({**RESUMED, "reference": {"key": "x"}})).config()
    missing = set(fields_of(config)) - set(CHANGES) - {"principal", "seed"}
    assert not missing, f"give these job config fields a change in CHANGES: {sorted(missing)}"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A folder where RESUMED ran once."""
    out = tmp_path_factory.mktemp("resumed")
    summary = run_suite(suite_from_dict(RESUMED), out, workers=1, progress=False)
    assert summary["done"] == 2 and not summary["failed"]
    return out


def test_an_unchanged_suite_reruns_nothing(finished):
    summary = run_suite(suite_from_dict(RESUMED), finished, workers=1, resume=True,
                        progress=False)
    assert summary["skipped"] == 2 and summary["done"] == 0


@pytest.mark.parametrize("field", list(CHANGES))
def test_changing_one_config_field_reruns_the_job(tmp_path, finished, field):
    base, changed = suite_from_dict(RESUMED), changed_suite(field)
    assert the_job(changed).config_hash() != the_job(base).config_hash()
    if field in RUN:
        out = tmp_path / "out"
        shutil.copytree(finished, out)
        summary = run_suite(changed, out, workers=1, resume=True, progress=False)
        # A change of front-loaded's own arguments re-runs front-loaded only: a job's config
        # holds its own principal's arguments, not the other principals' (mermaide.bench.plan).
        reruns = 1 if field == "principal_kwargs" else 2
        assert summary["skipped"] == 2 - reruns and summary["done"] == reruns, summary


def test_another_principals_arguments_leave_a_job_alone(tmp_path, finished):
    """Adding or changing another principal's arguments (or adding a principal) re-runs
    nothing that was there."""
    other = suite_from_dict({**RESUMED, "principal_kwargs": {**RESUMED["principal_kwargs"],
                                                             "none": {"arm": 1}}})
    assert the_job(other).config_hash() == the_job(suite_from_dict(RESUMED)).config_hash()
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    summary = run_suite(other, out, workers=1, resume=True, progress=False)
    assert summary["skipped"] == 1 and summary["done"] == 1, summary  # "none" only


def test_a_committed_report_resumes_without_its_run_files(tmp_path, finished):
    """``results.json`` holds every run it reports: with the run files gone (they are not
    committed), --resume finds the runs there and re-runs nothing; a run whose configuration
    changed is re-run all the same."""
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    shutil.rmtree(out / "runs")
    summary = run_suite(suite_from_dict(RESUMED), out, workers=1, resume=True, progress=False)
    assert summary["skipped"] == 2 and summary["done"] == 0, summary
    shutil.rmtree(out / "runs", ignore_errors=True)
    changed = changed_suite("suite.env_kwargs")
    summary = run_suite(changed, out, workers=1, resume=True, progress=False)
    assert summary["skipped"] == 0 and summary["done"] == 2, summary

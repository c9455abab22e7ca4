"""The installed package works outside a checkout: the wheel carries the shipped suites, and
the console script, installed from it, runs a bench from another folder, where a
``benchmarks/<name>.toml`` of the user's own overrides a shipped suite by name."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.name for p in (CHECKOUT / "mermaide" / "bench" / "suites").glob("*.toml"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built (without network) from a copy of the sources, so that no build output
    lands in the checkout and nothing stale from an earlier build can slip in."""
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(CHECKOUT / "mermaide", source / "mermaide",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(CHECKOUT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(dist), str(source)], check=True, timeout=300)
    (built,) = dist.glob("mermaide-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """The wheel installed, not editable, into a folder of its own (its dependencies are the
    test environment's); returns that folder."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                    "--target", str(target), str(wheel)], check=True, timeout=300)
    return target


def run_installed(target, args, cwd):
    # Only the installed copy is on the path: the checkout's own folder is not, and the
    # test environment's editable install comes after PYTHONPATH.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    return subprocess.run([str(target / "bin" / "mermaide-bench"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_wheel_contains_the_shipped_suites(wheel):
    assert SHIPPED, "the package ships no suites"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"mermaide/bench/suites/{name}" for name in SHIPPED} <= names


def test_the_installed_console_script_runs_a_bench_from_another_folder(installed, tmp_path):
    where = subprocess.run([sys.executable, "-c", "import mermaide; print(mermaide.__file__)"],
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)},
                           capture_output=True, text=True, check=True, timeout=120)
    assert Path(where.stdout.strip()).is_relative_to(installed)
    result = run_installed(installed, ["--suite", "bandit-ood", "--profile", "quick",
                                       "--principals", "none,front-loaded", "--seeds", "0",
                                       "--shots", "0", "--no-progress", "--workers", "2"],
                           cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = tmp_path / "benchmarks" / "results" / "bandit-ood"
    runs = json.loads((report / "results.json").read_text())["runs"]
    assert sorted(run["principal"] for run in runs) == ["front-loaded", "none"]
    assert "| front-loaded | 0 |" in (report / "results.md").read_text()


def test_a_suite_in_the_current_folder_overrides_the_shipped_one(installed, tmp_path):
    shipped = (CHECKOUT / "mermaide" / "bench" / "suites" / "bandit-ood.toml").read_text()
    (tmp_path / "benchmarks").mkdir()
    # The same suite with a shorter horizon: the run must use it.
    mine = shipped.replace("horizon = 100", "horizon = 7")
    assert mine != shipped
    (tmp_path / "benchmarks" / "bandit-ood.toml").write_text(mine)
    result = run_installed(installed, ["--suite", "bandit-ood", "--principals", "none",
                                       "--seeds", "0", "--shots", "0", "--no-progress",
                                       "--workers", "1", "--out", "out"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run,) = json.loads((tmp_path / "out" / "results.json").read_text())["runs"]
    assert run["config"]["suite"]["env_kwargs"]["horizon"] == 7

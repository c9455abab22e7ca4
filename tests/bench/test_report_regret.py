"""The report's regret additions for suites that sweep the horizon: the "Final regret" table
(reference minus return per principal and variant, mean ± 95% interval over seeds) and the
regret-vs-T plot on log-log axes."""

import numpy as np
import pytest

from mermaide.bench import suite_from_dict
from mermaide.bench.report import aggregate, mean_ci, regret_markdown, write_report

SUITE = {
    "name": "regret",
    "env": "Mermaide/IncentiveBandit-v0",
    "principals": ["oracle", "ipa"],
    "seeds": [0, 1],
    "shots": [0],
    "populations": {"kind": "agents", "train": "train", "test": "test-ood", "n_arms": 5},
    "sweep": {"perfect_knowledge": [True, False], "horizon": [100, 1000]},
    "reference": {"key": "benchmark_value", "rounds": "horizon"},
    "evaluation": {"tasks": 2, "episodes": 1},
}


def run(principal, seed, perfect, horizon, regret):
    references = [0.5 * horizon, 0.8 * horizon]
    shot = {"returns": [r - regret for r in references], "target_rates": [0.0] * 2,
            "interventions": [0.0] * 2, "costs": [0.0] * 2, "tasks": [0, 1],
            "reference_values": references}
    return {"principal": principal, "seed": seed,
            "variant": {"perfect_knowledge": perfect, "horizon": horizon},
            "shots": {"0": shot}, "curve": [{"steps": 0, "return": 0.0}],
            "train_seconds": 1.0, "eval_seconds": 1.0}


def results():
    runs = []
    for perfect in (True, False):
        for horizon in (100, 1000):
            for seed in (0, 1):
                runs.append(run("oracle", seed, perfect, horizon, 0.0))
                runs.append(run("ipa", seed, perfect, horizon, np.sqrt(horizon) + seed))
    return runs


def test_the_table_gives_the_final_regret_per_principal_and_variant():
    suite = suite_from_dict(SUITE)
    lines = regret_markdown(suite, aggregate(results()))
    assert lines[0] == "## Final regret"
    header = next(line for line in lines if line.startswith("| principal"))
    assert "T=1000 [perfect_knowledge=False]" in header
    row = next(line for line in lines if line.startswith("| ipa | 0 |"))
    mean, half = mean_ci([np.sqrt(100), np.sqrt(100) + 1])
    assert row.split(" | ")[2] == f"{mean:.3f} ± {half:.3f}"
    oracle = next(line for line in lines if line.startswith("| oracle | 0 |"))
    assert oracle.split(" | ")[2].startswith("0.000 ± ")


def test_no_horizon_sweep_no_regret_table():
    suite = suite_from_dict({**SUITE, "sweep": {"perfect_knowledge": [True, False]}})
    assert regret_markdown(suite, aggregate(results())) == []


def test_the_report_draws_regret_against_the_horizon(tmp_path):
    pytest.importorskip("matplotlib")
    write_report(suite_from_dict(SUITE), results(), tmp_path)
    assert (tmp_path / "regret.png").stat().st_size > 0
    text = (tmp_path / "results.md").read_text()
    assert "## Final regret" in text and "![regret.png](regret.png)" in text

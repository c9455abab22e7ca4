"""The report's "gap to stackelberg-lp" column: each principal's gap to the equilibrium value
minus the exact-LP baseline's, paired by training seed, shown only when the baseline ran."""

import numpy as np
import pytest

from mermaide.bench import suite_from_dict
from mermaide.bench.report import GAP_BASELINE, aggregate, markdown, mean_ci

SUITE = {
    "name": "lp-gap",
    "env": "Mermaide/Stackelberg-v0",
    "task_argument": "game",
    "principals": ["reinforce", GAP_BASELINE],
    "seeds": [0, 1, 2],
    "shots": [0],
    "env_kwargs": {"principal_observes": "actions+payoffs"},
    "populations": {"kind": "games", "train": "train", "test": "test-ood"},
    "evaluation": {"tasks": 2, "episodes": 1},
}
REFERENCES = [1.0, 0.5]  # the two tasks' equilibrium values


def run(principal, seed, returns):
    shot = {"returns": returns, "target_rates": [np.nan] * 2, "interventions": [0.0] * 2,
            "costs": [0.0] * 2, "tasks": [0, 1], "reference_values": REFERENCES}
    return {"principal": principal, "seed": seed, "variant": {"observation_noise": 0.2},
            "shots": {"0": shot}, "curve": [], "train_seconds": 1.0, "eval_seconds": 1.0}


def gap_of(returns):
    return float(np.mean(np.subtract(REFERENCES, returns)))


def results():
    lp = {0: [0.9, 0.4], 1: [0.8, 0.5], 2: [1.0, 0.3]}
    learned = {0: [0.5, 0.4], 1: [0.6, 0.1], 2: [0.7, 0.2]}
    return ([run(GAP_BASELINE, s, r) for s, r in lp.items()]
            + [run("reinforce", s, r) for s, r in learned.items()]), lp, learned


def test_the_column_is_each_seeds_gap_minus_the_baselines():
    runs, lp, learned = results()
    table = aggregate(runs)["observation_noise=0.2"]
    differences = [gap_of(learned[s]) - gap_of(lp[s]) for s in (0, 1, 2)]
    mean, half, n = table["reinforce"]["0"]["gap_to_baseline"]
    assert (mean, half) == pytest.approx(mean_ci(differences)) and n == 3
    assert table[GAP_BASELINE]["0"]["gap_to_baseline"][:2] == (0.0, 0.0)
    text = markdown(suite_from_dict(SUITE), aggregate(runs), [], [], runs)
    header = next(line for line in text.splitlines() if line.startswith("| principal"))
    assert header.endswith("| gap to equilibrium value | gap to stackelberg-lp |")
    row = next(line for line in text.splitlines() if line.startswith("| reinforce | 0 |"))
    assert row.split(" | ")[-1].startswith(f"{np.mean(differences):.3f} ± ")


def test_only_seeds_both_ran_are_paired():
    runs, lp, learned = results()
    runs = [r for r in runs if not (r["principal"] == GAP_BASELINE and r["seed"] == 2)]
    mean, _, n = aggregate(runs)["observation_noise=0.2"]["reinforce"]["0"]["gap_to_baseline"]
    assert n == 2
    assert mean == pytest.approx(np.mean([gap_of(learned[s]) - gap_of(lp[s]) for s in (0, 1)]))


def test_without_the_baseline_there_is_no_column():
    runs = [r for r in results()[0] if r["principal"] != GAP_BASELINE]
    table = aggregate(runs)
    assert "gap_to_baseline" not in table["observation_noise=0.2"]["reinforce"]["0"]
    text = markdown(suite_from_dict(SUITE), table, [], [], runs)
    assert "gap to stackelberg-lp" not in text and "gap to equilibrium value" in text

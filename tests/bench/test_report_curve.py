"""The report's learning-curve tail: the last two curve points of each principal that learns,
with 95% intervals over seeds and their change paired by seed (has the curve flattened?)."""

import numpy as np
import pytest

from mermaide.bench import suite_from_dict
from mermaide.bench.report import curve_tail_markdown, mean_ci

SUITE = {
    "name": "curve-tail",
    "env": "Mermaide/Bandit-v0",
    "principals": ["front-loaded", "reinforce"],
    "seeds": [0, 1, 2],
    "shots": [0],
    "populations": {"kind": "agents", "train": "train", "test": "test-ood"},
    "evaluation": {"tasks": 2, "episodes": 1, "curve_points": 3},
}
STEPS = [100, 200, 300]


def run(principal, seed, returns):
    curve = [{"steps": s, "return": r} for s, r in zip(STEPS, returns, strict=True)]
    return {"principal": principal, "seed": seed, "variant": {}, "curve": curve}


def runs(learned):
    return ([run("front-loaded", s, [5.0, 5.0, 5.0]) for s in (0, 1, 2)]
            + [run("reinforce", s, r) for s, r in learned.items()])


def test_the_last_two_points_and_their_paired_change():
    learned = {0: [1.0, 4.0, 6.0], 1: [2.0, 5.0, 5.5], 2: [0.0, 3.0, 4.0]}
    lines = curve_tail_markdown(suite_from_dict(SUITE), runs(learned))
    rows = [line for line in lines if line.startswith("| reinforce")]
    assert len(rows) == 1
    cells = rows[0].strip("| ").split(" | ")
    second_last = [learned[s][1] for s in (0, 1, 2)]
    last = [learned[s][2] for s in (0, 1, 2)]
    assert cells[1] == "200: {:.3f} ± {:.3f}".format(*mean_ci(second_last))
    assert cells[2] == "300: {:.3f} ± {:.3f}".format(*mean_ci(last))
    change = np.subtract(last, second_last)
    assert cells[3] == "{:.3f} ± {:.3f}".format(*mean_ci(change))
    assert mean_ci(change)[0] == pytest.approx(1.1666666)
    # A fixed schedule's curve does not move: it has no row.
    assert not any(line.startswith("| front-loaded") for line in lines)


def test_no_table_without_a_moving_curve():
    flat = {s: [5.0, 5.0, 5.0] for s in (0, 1, 2)}
    assert curve_tail_markdown(suite_from_dict(SUITE), runs(flat)) == []

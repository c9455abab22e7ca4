"""Exp3: the gamma exploration floor holds while it learns which arm pays."""

import numpy as np

import mermaide.agents as agents


def test_exp3_keeps_gamma_exploration_floor():
    rng = np.random.default_rng(3)
    learner = agents.make("exp3", gamma=0.2)
    learner.reset(8, 5, rng)
    for _ in range(500):
        actions = learner.act(rng)
        learner.update(actions, (actions == 0) * 1.0)
    probabilities = learner.probabilities()
    assert np.all(probabilities >= 0.2 / 5 - 1e-12)
    assert np.all(probabilities[:, 0] > 0.7)  # and it learned that arm 0 pays

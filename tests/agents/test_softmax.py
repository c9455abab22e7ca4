"""Softmax: a low temperature plays the best-valued arm almost always."""

import numpy as np

import mermaide.agents as agents


def test_softmax_low_temperature_is_nearly_greedy():
    rng = np.random.default_rng(4)
    learner = agents.make("softmax", temperature=0.01)
    learner.reset(100, 3, rng)
    for _ in range(3):  # every arm once, deterministic rewards 0.1, 0.5, 0.2
        for arm in range(3):
            learner.update(np.full(100, arm), np.full(100, [0.1, 0.5, 0.2][arm]))
    assert np.mean(learner.act(rng) == 1) > 0.99

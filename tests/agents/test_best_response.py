"""Best response: the argmax of the latest payoffs, or of their mean (fictitious play)."""

import numpy as np
import pytest

import mermaide.agents as agents


@pytest.mark.parametrize("memory", ["last", "mean"])
def test_best_response_plays_argmax_of_payoffs(memory):
    rng = np.random.default_rng(5)
    learner = agents.make("best_response", memory=memory)
    learner.reset(4, 3, rng)
    learner.update(np.zeros(4, dtype=int), np.zeros(4), np.tile([0.0, 1.0, 0.5], (4, 1)))
    assert np.all(learner.act(rng) == 1)
    learner.update(np.zeros(4, dtype=int), np.zeros(4), np.tile([0.0, 0.0, 0.9], (4, 1)))
    # last: responds to the latest payoffs; mean (fictitious play): 0.5 vs 0.7 -> arm 2 too.
    assert np.all(learner.act(rng) == 2)
    learner.update(np.zeros(4, dtype=int), np.zeros(4), np.tile([0.0, 0.2, 0.0], (4, 1)))
    # last: arm 1 pays most now; mean (fictitious play): arm 1 averages 0.4, arm 2 0.467.
    assert np.all(learner.act(rng) == (1 if memory == "last" else 2))

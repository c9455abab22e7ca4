"""Hedge: plays in proportion to exp(eta * cumulative payoffs), so it settles on the best arm."""

import numpy as np

import mermaide.agents as agents


def test_probabilities_are_exponential_in_the_cumulative_payoffs():
    rng = np.random.default_rng(9)
    eta = np.array([0.5, 2.0])  # one learning rate per agent
    learner = agents.make("hedge", eta=eta)
    learner.reset(2, 3, rng)
    payoffs = rng.random((10, 2, 3))
    for step in payoffs:
        learner.update(np.zeros(2, dtype=int), np.zeros(2), step)
    weights = np.exp(eta[:, None] * payoffs.sum(axis=0))
    np.testing.assert_allclose(learner.probabilities(), weights / weights.sum(axis=1,
                                                                              keepdims=True))


def test_full_information_settles_on_the_best_arm(bernoulli):
    learner = agents.make("hedge")
    regret = bernoulli.regret(learner, 1000, checkpoints=(1000,))
    assert regret[1000] < 0.1 * 1000 * bernoulli.gap
    best = int(np.argmax(bernoulli.means))
    assert np.all(learner.probabilities()[:, best] > 0.99)

"""Epsilon-greedy: the greedy arm at rate 1 - epsilon + epsilon / K, a decaying epsilon, and
uniform play (epsilon = 1) as the learner whose regret is linear."""

import numpy as np
import pytest

import mermaide.agents as agents


def test_uniform_play_regret_is_linear_for_contrast(bernoulli):
    """The sublinearity check of test_ucb.py and test_thompson.py can fail: a learner that
    never learns fails it."""
    regret = bernoulli.regret(agents.make("epsilon_greedy", epsilon=1.0), 5000,
                              checkpoints=(500, 5000))
    assert regret[5000] > 0.25 * 5000 * bernoulli.gap
    assert regret[5000] > 8 * regret[500]


@pytest.mark.parametrize("epsilon", [0.1, 0.3])
def test_epsilon_greedy_picks_greedy_arm_at_expected_rate(bernoulli, epsilon):
    rng = np.random.default_rng(1)
    batch, k = 2000, bernoulli.means.size
    learner = agents.make("epsilon_greedy", epsilon=epsilon)
    learner.reset(batch, k, rng)
    picks, total = 0, 0
    for t in range(400):
        actions = learner.act(rng)
        if t >= 200:  # after every arm is known well enough that the greedy arm is the best
            picks += np.sum(actions == learner.greedy_actions())
            total += batch
        learner.update(actions, bernoulli.means[actions])  # deterministic rewards
    assert picks / total == pytest.approx(1 - epsilon + epsilon / k, abs=0.01)


def test_epsilon_decay_shrinks_exploration():
    learner = agents.make("epsilon_greedy", epsilon=0.5, decay=1.0)
    learner.reset(3, 4, np.random.default_rng(0))
    first = learner.exploration_rate()
    for _ in range(9):
        learner.update(np.zeros(3, dtype=int), np.ones(3))
    np.testing.assert_allclose(learner.exploration_rate(), first / 10)

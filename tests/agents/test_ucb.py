"""UCB: sublinear regret for the textbook and the tuned exploration bonus, and a pessimistic
beta < 0 that explores less."""

import numpy as np
import pytest

import mermaide.agents as agents


@pytest.mark.parametrize("beta", [1.0, np.sqrt(2)], ids=["1", "sqrt2"])
def test_regret_is_sublinear(bernoulli, beta):
    horizon = 5000
    regret = bernoulli.regret(agents.make("ucb", beta=beta), horizon, checkpoints=(500, horizon))
    assert regret[horizon] < 0.25 * horizon * bernoulli.gap
    # Linear regret would grow 10x from T=500 to T=5000; logarithmic regret far less.
    assert regret[horizon] < 3.5 * regret[500]


def test_pessimistic_ucb_sticks_with_what_it_knows(bernoulli):
    """beta < 0 penalises uncertainty: after the initial round a pessimistic agent settles on
    its empirically best arm and explores less than an optimistic one."""
    rng = np.random.default_rng(6)
    counts = {}
    for beta in (-1.0, 1.0):
        learner = agents.make("ucb", beta=beta)
        learner.reset(200, 10, rng)
        distinct = np.zeros((200, 10), dtype=bool)
        for t in range(300):
            actions = learner.act(rng)
            if t >= 10:
                distinct[np.arange(200), actions] = True
            learner.update(actions, (rng.random(200) < bernoulli.means[actions]) * 1.0)
        counts[beta] = distinct.sum(axis=1).mean()
    assert counts[-1.0] < counts[1.0]

"""Thompson sampling: sublinear regret under either prior, and reproducible from the seed."""

import numpy as np
import pytest

import mermaide.agents as agents


@pytest.mark.parametrize("prior", ["beta", "gaussian"])
def test_regret_is_sublinear(bernoulli, prior):
    horizon = 5000
    regret = bernoulli.regret(agents.make("thompson", prior=prior), horizon,
                              checkpoints=(500, horizon))
    assert regret[horizon] < 0.25 * horizon * bernoulli.gap
    # Linear regret would grow 10x from T=500 to T=5000; logarithmic regret far less.
    assert regret[horizon] < 3.5 * regret[500]


def test_same_seed_same_actions():
    def trace(seed):
        rng = np.random.default_rng(seed)
        learner = agents.make("thompson")
        learner.reset(5, 6, rng)
        out = []
        for _ in range(50):
            actions = learner.act(rng)
            learner.update(actions, rng.random(5))
            out.append(actions)
        return np.array(out)

    np.testing.assert_array_equal(trace(11), trace(11))
    assert not np.array_equal(trace(11), trace(12))

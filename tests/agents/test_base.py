"""The Learner interface and the learner registry, and what every learner shares: actions in
range for any batch, named parameter errors, per-agent parameters, probabilities that sum to
one, and full-information learners that ask for their payoffs."""

import numpy as np
import pytest

import mermaide.agents as agents


@pytest.mark.parametrize("name", agents.learner_names())
def test_every_learner_acts_in_range_for_any_batch(name):
    rng = np.random.default_rng(8)
    for batch in (1, 17):
        learner = agents.make(name)
        learner.reset(batch, 4, rng)
        for _ in range(20):
            actions = learner.act(rng)
            assert actions.shape == (batch,)
            assert np.issubdtype(actions.dtype, np.integer)
            assert actions.min() >= 0 and actions.max() < 4
            payoffs = rng.random((batch, 4))
            learner.update(actions, payoffs[np.arange(batch), actions], payoffs)
        assert isinstance(learner, agents.Learner)


def test_unknown_learner_lists_known_ones():
    with pytest.raises(KeyError, match=r"known learners: .*ucb"):
        agents.make("ucbb")


@pytest.mark.parametrize(
    "name,params,fragment",
    [
        ("ucb", {"beta": float("nan")}, "beta must be finite"),
        ("epsilon_greedy", {"epsilon": 1.5}, r"epsilon must be in \[0, 1\], got 1.5"),
        ("epsilon_greedy", {"decay": -1}, "decay must be >= 0, got -1"),
        ("softmax", {"temperature": 0.0}, "temperature must be > 0, got 0.0"),
        ("exp3", {"gamma": 0.0}, r"gamma must be in \(0, 1\], got 0.0"),
        ("hedge", {"eta": -0.1}, "eta must be > 0, got -0.1"),
        ("thompson", {"prior": "poisson"}, "prior must be one of"),
        ("thompson", {"reward_range": (1.0, 0.0)}, "reward_range"),
        ("best_response", {"memory": "all"}, "memory must be one of"),
    ],
)
def test_bad_parameters_are_named(name, params, fragment):
    with pytest.raises(ValueError, match=fragment):
        agents.make(name, **params)


def test_batch_shape_mismatch_is_refused():
    learner = agents.make("ucb", beta=np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match=r"beta must be a scalar or an array of shape \(2,\)"):
        learner.reset(2, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_actions must be an integer >= 2"):
        agents.make("ucb").reset(2, 1, np.random.default_rng(0))


def test_per_agent_parameters_share_one_learner():
    """A (B,) parameter array gives each agent its own setting: epsilon 0 never explores."""
    rng = np.random.default_rng(7)
    learner = agents.make("epsilon_greedy", epsilon=np.array([0.0, 1.0]))
    learner.reset(2, 5, rng)
    first = learner.act(rng)
    learner.update(first, np.array([1.0, 1.0]))
    actions = np.array([learner.act(rng) for _ in range(200)])
    assert np.all(actions[:, 0] == first[0])
    assert len(np.unique(actions[:, 1])) == 5


@pytest.mark.parametrize("name", ["exp3", "hedge", "softmax"])
def test_probabilities_sum_to_one(name):
    rng = np.random.default_rng(2)
    learner = agents.make(name)
    learner.reset(64, 7, rng)
    for _ in range(300):
        actions = learner.act(rng)
        payoffs = rng.uniform(-5, 50, size=(64, 7))  # extreme rewards: no overflow either
        learner.update(actions, payoffs[np.arange(64), actions], payoffs)
        probabilities = learner.probabilities()
        assert np.all(np.isfinite(probabilities)) and np.all(probabilities >= 0)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("name", ["best_response", "hedge"])
def test_full_information_learners_refuse_bandit_feedback(name):
    learner = agents.make(name)
    assert learner.feedback == "full"
    learner.reset(2, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="payoffs"):
        learner.update(np.zeros(2, dtype=int), np.zeros(2))

"""Known properties of the batched learners."""

import numpy as np
import pytest

import mermaide.agents as agents

# A 10-armed Bernoulli bandit: best arm 0.9, runner-up 0.6 (gap 0.3).
MEANS = np.array([0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.9])
GAP = 0.3
FULL_FEEDBACK = {"hedge", "best_response"}


def run_bernoulli(learner, horizon, batch=32, seed=0, checkpoints=()):
    """Mean regret over a batch of agents at each checkpoint."""
    rng = np.random.default_rng(seed)
    learner.reset(batch, MEANS.size, rng)
    regret = np.zeros(batch)
    at = {}
    for t in range(1, horizon + 1):
        actions = learner.act(rng)
        payoffs = (rng.random((batch, MEANS.size)) < MEANS) * 1.0
        learner.update(actions, payoffs[np.arange(batch), actions], payoffs)
        regret += MEANS.max() - MEANS[actions]
        if t in checkpoints:
            at[t] = regret.mean()
    return at


@pytest.mark.parametrize(
    "name,params",
    [("ucb", {"beta": 1.0}), ("ucb", {"beta": np.sqrt(2)}), ("thompson", {"prior": "beta"}),
     ("thompson", {"prior": "gaussian"})],
)
def test_regret_is_sublinear(name, params):
    regret = run_bernoulli(agents.make(name, **params), 5000, checkpoints=(500, 5000))
    horizon = 5000
    assert regret[5000] < 0.25 * horizon * GAP
    # Linear regret would grow 10x from T=500 to T=5000; logarithmic regret far less.
    assert regret[5000] < 3.5 * regret[500]


def test_uniform_play_regret_is_linear_for_contrast():
    """The sublinearity check above can fail: a learner that never learns fails it."""
    regret = run_bernoulli(agents.make("epsilon_greedy", epsilon=1.0), 5000,
                           checkpoints=(500, 5000))
    assert regret[5000] > 0.25 * 5000 * GAP
    assert regret[5000] > 8 * regret[500]


@pytest.mark.parametrize("epsilon", [0.1, 0.3])
def test_epsilon_greedy_picks_greedy_arm_at_expected_rate(epsilon):
    rng = np.random.default_rng(1)
    batch, k = 2000, MEANS.size
    learner = agents.make("epsilon_greedy", epsilon=epsilon)
    learner.reset(batch, k, rng)
    picks, total = 0, 0
    for t in range(400):
        actions = learner.act(rng)
        if t >= 200:  # after every arm is known well enough that the greedy arm is the best
            picks += np.sum(actions == learner.greedy_actions())
            total += batch
        learner.update(actions, MEANS[actions])  # deterministic rewards
    assert picks / total == pytest.approx(1 - epsilon + epsilon / k, abs=0.01)


def test_epsilon_decay_shrinks_exploration():
    learner = agents.make("epsilon_greedy", epsilon=0.5, decay=1.0)
    learner.reset(3, 4, np.random.default_rng(0))
    first = learner.exploration_rate()
    for _ in range(9):
        learner.update(np.zeros(3, dtype=int), np.ones(3))
    np.testing.assert_allclose(learner.exploration_rate(), first / 10)


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


def test_softmax_low_temperature_is_nearly_greedy():
    rng = np.random.default_rng(4)
    learner = agents.make("softmax", temperature=0.01)
    learner.reset(100, 3, rng)
    for _ in range(3):  # every arm once, deterministic rewards 0.1, 0.5, 0.2
        for arm in range(3):
            learner.update(np.full(100, arm), np.full(100, [0.1, 0.5, 0.2][arm]))
    assert np.mean(learner.act(rng) == 1) > 0.99


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


def test_full_information_learners_refuse_bandit_feedback():
    for name in FULL_FEEDBACK:
        learner = agents.make(name)
        learner.reset(2, 3, np.random.default_rng(0))
        with pytest.raises(ValueError, match="payoffs"):
            learner.update(np.zeros(2, dtype=int), np.zeros(2))


def test_pessimistic_ucb_sticks_with_what_it_knows():
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
            learner.update(actions, (rng.random(200) < MEANS[actions]) * 1.0)
        counts[beta] = distinct.sum(axis=1).mean()
    assert counts[-1.0] < counts[1.0]


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

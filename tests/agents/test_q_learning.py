"""Q-learning: the constant-step update in closed form, tracking a changed reward, and
epsilon-greedy play on its values."""

import numpy as np
import pytest

import mermaide.agents as agents


def test_values_follow_the_closed_form_of_the_constant_step_update():
    rng = np.random.default_rng(0)
    alpha, initial, r = np.array([0.1, 0.5, 1.0]), 2.0, 0.3
    learner = agents.make("q_learning", alpha=alpha, epsilon=0.0, initial_value=initial)
    learner.reset(3, 4, rng)
    for _ in range(7):
        learner.update(np.full(3, 2), np.full(3, r))
    expected = r + (initial - r) * (1 - alpha) ** 7
    np.testing.assert_allclose(learner.values[:, 2], expected)
    np.testing.assert_allclose(learner.values[:, [0, 1, 3]], initial)  # untaken: unchanged


def test_it_tracks_a_reward_that_changes_where_a_sample_mean_does_not():
    rng = np.random.default_rng(1)
    q = agents.make("q_learning", alpha=0.3, epsilon=0.0)
    mean = agents.make("greedy")
    for learner in (q, mean):
        learner.reset(1, 2, rng)
        for reward in [1.0] * 20 + [0.0] * 10:  # arm 0 pays 1, then stops (a bonus ending)
            learner.update(np.array([0]), np.array([reward]))
        learner.update(np.array([1]), np.array([0.5]))
    assert q.act(rng)[0] == 1      # Q[0] = 0.97 * 0.7^10 < 0.5: it moves on
    assert mean.act(rng)[0] == 0   # the sample mean 2/3 still prefers arm 0


def test_epsilon_greedy_play_on_the_values():
    rng = np.random.default_rng(2)
    learner = agents.make("q_learning", epsilon=0.2)
    learner.reset(20_000, 4, rng)
    learner.update(np.full(20_000, 1), np.full(20_000, 1.0))
    share = np.mean(learner.act(rng) == 1)
    assert share == pytest.approx(0.8 + 0.2 / 4, abs=0.01)


@pytest.mark.parametrize("kwargs, match", [
    (dict(alpha=0.0), "alpha"), (dict(alpha=1.5), "alpha"), (dict(epsilon=-0.1), "epsilon"),
    (dict(initial_value=float("nan")), "initial_value"), (dict(alpha="x"), "alpha"),
])
def test_bad_parameters_name_themselves(kwargs, match):
    with pytest.raises(ValueError, match=match):
        agents.make("q_learning", **kwargs)

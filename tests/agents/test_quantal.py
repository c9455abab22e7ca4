"""Quantal response: the logit of the payoff estimate, uniform before feedback, best response
as the temperature falls, and full information only."""

import numpy as np
import pytest

import mermaide.agents as agents
from mermaide.envs.repeated_stackelberg import RepeatedStackelbergEnv


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("memory", ["last", "mean"])
def test_probabilities_are_the_logit_of_the_payoff_estimate(memory):
    rng = np.random.default_rng(0)
    learner = agents.make("quantal", temperature=np.array([0.1, 1.0]), memory=memory)
    learner.reset(2, 3, rng)
    np.testing.assert_allclose(learner.probabilities(), 1 / 3)  # no feedback yet: uniform
    first, second = np.array([0.2, 0.5, 0.1]), np.array([0.6, 0.1, 0.3])
    for payoffs in (first, second):
        learner.update(np.zeros(2, dtype=int), np.zeros(2), np.tile(payoffs, (2, 1)))
    estimate = second if memory == "last" else (first + second) / 2
    np.testing.assert_allclose(learner.probabilities(),
                               softmax(estimate / np.array([[0.1], [1.0]])))


def test_low_temperature_plays_the_best_response_and_high_nearly_uniform():
    rng = np.random.default_rng(1)
    cold, hot = agents.make("quantal", temperature=1e-3), agents.make("quantal", temperature=100)
    for learner in (cold, hot):
        learner.reset(5000, 3, rng)
        learner.update(np.zeros(5000, dtype=int), np.zeros(5000),
                       np.tile([0.2, 0.5, 0.1], (5000, 1)))
    assert np.all(cold.act(rng) == 1)
    counts = np.bincount(hot.act(rng), minlength=3) / 5000
    np.testing.assert_allclose(counts, 1 / 3, atol=0.03)


def test_it_needs_payoffs_and_valid_parameters():
    learner = agents.make("quantal")
    learner.reset(1, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="full-information"):
        learner.update(np.array([0]), np.array([1.0]))
    with pytest.raises(ValueError, match="temperature"):
        agents.make("quantal", temperature=0.0)
    with pytest.raises(ValueError, match="memory"):
        agents.make("quantal", memory="all")


def test_it_plays_the_logit_response_to_a_commitment_in_the_repeated_game():
    # Against a fixed commitment x every round's payoffs are x @ B, so from the second round
    # on its actions are draws from softmax(x @ B / temperature).
    env = RepeatedStackelbergEnv(game="train", agent="quantal",
                                 agent_kwargs={"temperature": 0.05}, horizon=400)
    _, info = env.reset(seed=4)
    x = np.array([0.6, 0.3, 0.1])
    action = env.encode_action(x)  # the commitment x, no bonus
    actions = [env.step(action)[4]["agent_action"] for _ in range(400)]
    expected = softmax((x / x.sum()) @ info["game"].B / 0.05)
    frequencies = np.bincount(actions[1:], minlength=3) / 399
    np.testing.assert_allclose(frequencies, expected, atol=0.08)

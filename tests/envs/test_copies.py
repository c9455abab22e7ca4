"""A game copied mid-episode (``copy.deepcopy``, ``pickle``) is the same game: planning by
simulation, Ray's and SB3's worker processes and checkpoints of a running env all rely on it.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import mermaide.envs  # noqa: F401  (registers the games)
from mermaide.agents import learner_names

COPIES: dict[str, Callable[[Any], Any]] = {
    "deepcopy": copy.deepcopy,
    "pickle": lambda env: pickle.loads(pickle.dumps(env)),
}


def _play(env: gym.Env, actions: list[Any], seed: int) -> list[tuple[Any, ...]]:
    # The two forms get the same generator state: only a broken copy can make them differ.
    env.unwrapped.np_random = np.random.default_rng(seed)
    steps = []
    for action in actions:
        obs, reward, *_, info = env.step(action)
        steps.append((obs.tolist(), reward, info["agent_action"]))
    return steps


def _check_copy_continues_alike(env: gym.Env, make_copy: Callable[[Any], Any],
                                warm_up: list[Any], rest: list[Any]) -> None:
    env.reset(seed=3)
    for action in warm_up:
        env.step(action)
    twin = make_copy(env)
    assert _play(twin, rest, seed=11) == _play(env, rest, seed=11)


@pytest.mark.parametrize("how", sorted(COPIES))
@pytest.mark.parametrize("learner", learner_names())
def test_bandit_copied_mid_episode_continues_exactly(learner, how):
    env = gym.make("Mermaide/Bandit-v0", n_arms=4, horizon=40, agent=learner,
                   intervention_budget=6)
    rng = np.random.default_rng(0)
    actions = [int(a) for a in rng.integers(0, 5, size=40)]
    _check_copy_continues_alike(env, COPIES[how], actions[:15], actions[15:])


@pytest.mark.parametrize("how", sorted(COPIES))
@pytest.mark.parametrize("agent", ["follower", *learner_names()])
def test_repeated_stackelberg_copied_mid_episode_continues_exactly(agent, how):
    env = gym.make("Mermaide/RepeatedStackelberg-v0", game="train", agent=agent, horizon=30)
    env.action_space.seed(1)
    actions = [env.action_space.sample() for _ in range(30)]
    _check_copy_continues_alike(env, COPIES[how], actions[:12], actions[12:])


def test_a_copied_learner_keeps_learning():
    # The failure this file guards against, at its smallest: before the fix the copied UCB
    # agent's means never moved, so it pulled one arm for ever.
    env = gym.make("Mermaide/Bandit-v0", n_arms=5, horizon=50, agent="ucb")
    env.reset(seed=0)
    twin = copy.deepcopy(env)
    arms = {twin.step(0)[4]["agent_action"] for _ in range(10)}
    assert len(arms) == 5  # UCB tries every arm once first

"""Shared fixtures of the principal tests: a small bandit game with one fixed UCB agent."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import mermaide  # noqa: F401  (registers the games)
from mermaide.agents import AgentSpec

# Arm 0 is the agent's best (0.9); the principal wants arm 1 (0.5): without help the agent
# leaves the target soon, with a bonus of 1 on arm 1 it stays there.
UCB_AGENT = AgentSpec("ucb", {"beta": 0.5}, np.array([0.9, 0.5, 0.2]), target=1)
HORIZON = 30


@pytest.fixture(autouse=True)
def one_thread():
    """The machine has 2 cores shared with other jobs: keep torch on one."""
    torch.set_num_threads(1)


def bandit(**knobs):
    """A factory of 3-arm, horizon-30 bandit games against ``UCB_AGENT``."""
    params = dict(n_arms=3, horizon=HORIZON, agent=UCB_AGENT, intervention_cost=0.05)
    params.update(knobs)
    return lambda: gym.make("Mermaide/Bandit-v0", **params)


def steering_population():
    """The training agents (optimistic UCB, epsilon-greedy) on fixed payoffs: arm 0 is their
    best (0.9), the principal's target is arm 1. The target is fixed because the bandit
    observation does not show it: a principal can only learn a target that stays put."""
    from mermaide.agents import AgentPopulation, population

    return AgentPopulation(population("train").families, n_arms=3, rewards=(0.9, 0.5, 0.2),
                           target=1, name="steer")


def actions_on(principal, observations):
    """The actions ``principal`` takes along one episode of the given observations."""
    state, actions = None, []
    for obs in observations:
        action, state = principal.act(obs, state)
        actions.append(action)
    return actions


def obs_dim(**knobs):
    """The observation size of ``bandit(**knobs)`` games, read from the env (not hard-coded:
    the layout belongs to the game)."""
    return int(bandit(**knobs)().observation_space.shape[0])


def random_observations(n, **knobs):
    """n seeded observation-shaped vectors, to compare two principals' actions on."""
    return np.random.default_rng(0).random((n, obs_dim(**knobs))).astype(np.float32)

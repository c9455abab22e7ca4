"""PPO agents trained inside the two-player bandit game, shared by the tests that need one
(training takes seconds, so each is trained once per test session)."""

from __future__ import annotations

import functools

import numpy as np
import torch
from stable_baselines3 import PPO

from mermaide.agents import AgentSpec
from mermaide.envs import as_agent_env, bandit_parallel

HORIZON = 20
TIMESTEPS = 4096
# The agent's base rewards: its best arm is 2 (0.9). The principal's target is arm 0.
SPEC = AgentSpec("epsilon_greedy", {"epsilon": 0.1}, [0.1, 0.5, 0.9], target=0)


def no_bonus(obs: np.ndarray, rng: np.random.Generator) -> int:
    return 0


def bonus_on_arm_0(obs: np.ndarray, rng: np.random.Generator) -> int:
    """A bonus of 1 on arm 0 every step: 0.1 + 1 beats the best arm's 0.9."""
    return 1


PRINCIPALS = {"no_bonus": no_bonus, "bonus_on_arm_0": bonus_on_arm_0}


def game(**knobs):
    return bandit_parallel(**{"n_arms": 3, "horizon": HORIZON, "agent": SPEC, **knobs})


@functools.cache
def trained_agent(principal: str, seed: int = 0) -> PPO:
    """PPO trained as the agent against one of ``PRINCIPALS``, for TIMESTEPS steps."""
    torch.set_num_threads(1)
    env = as_agent_env(game(), PRINCIPALS[principal])
    model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, seed=seed, device="cpu")
    model.learn(TIMESTEPS)
    return model

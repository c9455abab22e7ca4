"""Regression: the bandit game plays, draw for draw, the trajectories of its first
implementation (commit ad90657, before the performance work), for every learner kind, in the
single env and the vector env.

Each case is summarised by a SHA-256 of what the game decides: the agent's true and observed
actions, its rewards, the principal's rewards and costs, interventions and refusals, episode
ends. Floats are rounded to 9 decimals so that a last-bit difference of a math library on
another machine does not count, while any change of behaviour (a different draw, order of
draws, learning rule or bonus) changes the digest. The observation is left out on purpose:
it is a function of these and its layout is versioned separately.
"""

from __future__ import annotations

import hashlib
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import mermaide  # noqa: F401  (registers the environments)
from mermaide.agents import AgentPopulation, LearnerFamily

KINDS: dict[str, dict[str, Any]] = {
    "ucb": {"beta": -0.5},
    "epsilon_greedy": {"epsilon": 0.3, "decay": 0.1},
    "greedy": {"initial_value": 1.0},
    "thompson": {"prior": "gaussian"},
    "softmax": {},
    "exp3": {},
    "hedge": {},
    "best_response": {"memory": "last"},
}
KNOBS: dict[str, dict[str, Any]] = {
    "default": {},
    "budget+noise": {"intervention_budget": 5, "observation_noise": 0.2,
                     "principal_observes": "actions+rewards"},
    "bernoulli": {"reward_noise": "bernoulli", "n_arms": 3},
}
INFO_KEYS = ("agent_action", "observed_action", "target_action", "intervened", "refused",
             "interventions_used", "cost", "agent_reward")

# Recorded with the implementation of commit ad90657.
EXPECTED_SINGLE = {
    "ucb/default": "a9c2ef94d3283114",
    "ucb/budget+noise": "e4e502cf63a658fa",
    "ucb/bernoulli": "357bf95c78bf6bd9",
    "epsilon_greedy/default": "53aeed8a46792a9e",
    "epsilon_greedy/budget+noise": "9f79ad7144d6c322",
    "epsilon_greedy/bernoulli": "e6bb1ab586b3d8f5",
    "greedy/default": "9a72ca602e6d6d10",
    "greedy/budget+noise": "b76125869345a45a",
    "greedy/bernoulli": "f6de4a4508056df3",
    "thompson/default": "f1742b26cce722ad",
    "thompson/budget+noise": "7865c67211300db4",
    "thompson/bernoulli": "d87fe1b34c27442b",
    "softmax/default": "0905619db3c13d2c",
    "softmax/budget+noise": "a567d6c73f35add4",
    "softmax/bernoulli": "2446bc6cf314e1f0",
    "exp3/default": "4de783f85c8da7b1",
    "exp3/budget+noise": "82b496ee31e796ff",
    "exp3/bernoulli": "417b126ad13b33ff",
    "hedge/default": "fa90110c3ad66721",
    "hedge/budget+noise": "c1f1613c29132996",
    "hedge/bernoulli": "c8974e3e770b5993",
    "best_response/default": "4932256012ec2149",
    "best_response/budget+noise": "f20d8e02a4a265eb",
    "best_response/bernoulli": "9c7c189fb445f2d9",
}
EXPECTED_VECTOR = {
    "default": "8c7bb52707645c50",
    "budget+noise": "19e6707e9fc5ea5e",
    "bernoulli": "e5cbacab9e05fd36",
}


def _feed(digest: Any, *values: Any) -> None:
    for value in values:
        array = np.asarray(value)
        if array.dtype.kind == "f":
            array = np.round(array.astype(np.float64), 9) + 0.0  # + 0.0: no negative zeros
        digest.update(array.astype(np.float64 if array.dtype.kind == "f" else np.int64)
                      .tobytes())


def single_digest(kind: str, knobs: str) -> str:
    env = gym.make("Mermaide/Bandit-v0", horizon=15, agent=kind, agent_kwargs=KINDS[kind],
                   **KNOBS[knobs])
    rng = np.random.default_rng(7)
    digest = hashlib.sha256()
    env.reset(seed=11)
    n_actions = env.action_space.n  # type: ignore[attr-defined]
    for _ in range(40):
        _, reward, terminated, _, info = env.step(int(rng.integers(n_actions)))
        _feed(digest, reward, terminated, *(info[key] for key in INFO_KEYS))
        if terminated:
            _feed(digest, info["target_rate"], info["episode_cost"])
            env.reset()
    return digest.hexdigest()[:16]


def vector_digest(knobs: str) -> str:
    mixture = AgentPopulation(tuple(LearnerFamily(k, dict(p)) for k, p in KINDS.items()),
                              n_arms=KNOBS[knobs].get("n_arms", 10), name="every-kind")
    envs = gym.make_vec("Mermaide/Bandit-v0", num_envs=24, horizon=10, agent=mixture,
                        **{k: v for k, v in KNOBS[knobs].items() if k != "n_arms"},
                        n_arms=mixture.n_arms)
    rng = np.random.default_rng(5)
    digest = hashlib.sha256()
    envs.reset(seed=3)
    for _ in range(25):
        _, reward, terminated, _, info = envs.step(rng.integers(mixture.n_arms + 1, size=24))
        _feed(digest, reward, terminated, *(info.get(key, -1) for key in INFO_KEYS))
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("knobs", KNOBS)
@pytest.mark.parametrize("kind", KINDS)
def test_single_env_plays_the_recorded_trajectory(kind: str, knobs: str) -> None:
    assert single_digest(kind, knobs) == EXPECTED_SINGLE[f"{kind}/{knobs}"]


@pytest.mark.parametrize("knobs", KNOBS)
def test_vector_env_plays_the_recorded_trajectory(knobs: str) -> None:
    assert vector_digest(knobs) == EXPECTED_VECTOR[knobs]


def test_same_seed_same_trajectory_and_other_seed_differs() -> None:
    assert single_digest("thompson", "budget+noise") == single_digest("thompson",
                                                                      "budget+noise")
    assert vector_digest("default") == vector_digest("default")
    env = gym.make("Mermaide/Bandit-v0", agent="softmax")
    first = [env.reset(seed=1)[1]["target_action"]]
    first += [env.step(1)[4]["agent_action"] for _ in range(20)]
    second = [env.reset(seed=2)[1]["target_action"]]
    second += [env.step(1)[4]["agent_action"] for _ in range(20)]
    assert first != second

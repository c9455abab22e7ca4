"""The per-agent loop that ``make perf`` compares the batched core against runs the same
learner logic as the batched learners: fed the same rewards, it makes the same choices (or,
for the randomised learners, computes the same action probabilities)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mermaide.agents import make

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "perf"))
from loops import LOOP_LEARNERS

B, K, STEPS = 6, 5, 40


def twins(kind: str) -> tuple[object, list[object], np.random.Generator]:
    rng = np.random.default_rng(3)
    batched = make(kind)
    batched.reset(B, K, rng)
    loop = [LOOP_LEARNERS[kind](K, rng) for _ in range(B)]
    if hasattr(batched, "_priority"):
        for i, agent in enumerate(loop):
            agent.priority = batched._priority[i].copy()  # type: ignore[attr-defined]
    return batched, loop, rng


@pytest.mark.parametrize("kind", ["ucb", "greedy", "best_response"])
def test_deterministic_learners_choose_alike(kind: str) -> None:
    batched, loop, rng = twins(kind)
    for _ in range(STEPS):
        actions = batched.act(rng)  # type: ignore[attr-defined]
        assert actions.tolist() == [agent.act(rng) for agent in loop]  # type: ignore[attr-defined]
        payoffs = rng.random((B, K))
        rewards = payoffs[np.arange(B), actions]
        batched.update(actions, rewards, payoffs)  # type: ignore[attr-defined]
        for i, agent in enumerate(loop):
            agent.update(int(actions[i]), float(rewards[i]), payoffs[i])  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["softmax", "exp3", "hedge"])
def test_randomised_learners_have_the_same_probabilities(kind: str) -> None:
    batched, loop, rng = twins(kind)
    for _ in range(STEPS):
        actions = batched.act(rng)  # type: ignore[attr-defined]
        for agent in loop:
            agent.act(rng)  # type: ignore[attr-defined]
        payoffs = rng.random((B, K))
        rewards = payoffs[np.arange(B), actions]
        batched.update(actions, rewards, payoffs)  # type: ignore[attr-defined]
        for i, agent in enumerate(loop):
            if kind == "exp3":  # the probabilities the actions were played with
                np.testing.assert_allclose(agent.last,  # type: ignore[attr-defined]
                                           batched._last_probabilities[i],  # type: ignore[attr-defined]
                                           rtol=1e-12)
            agent.update(int(actions[i]), float(rewards[i]), payoffs[i])  # type: ignore[attr-defined]
        expected = batched.probabilities()  # type: ignore[attr-defined]
        got = np.array([agent.probabilities() for agent in loop])  # type: ignore[attr-defined]
        np.testing.assert_allclose(got, expected, rtol=1e-12)

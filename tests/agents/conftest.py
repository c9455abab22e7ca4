"""Shared set-up of the learner tests: a 10-armed Bernoulli bandit that measures regret."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from mermaide.agents import Learner


@dataclass(frozen=True)
class BernoulliBandit:
    """K Bernoulli arms with the given ``means`` (K,); ``gap`` is best minus runner-up."""

    means: np.ndarray
    gap: float

    def regret(self, learner: Learner, horizon: int, batch: int = 32, seed: int = 0,
               checkpoints: tuple[int, ...] = ()) -> dict[int, float]:
        """Mean regret over a batch of agents at each checkpoint."""
        rng = np.random.default_rng(seed)
        learner.reset(batch, self.means.size, rng)
        regret = np.zeros(batch)
        at = {}
        for t in range(1, horizon + 1):
            actions = learner.act(rng)
            payoffs = (rng.random((batch, self.means.size)) < self.means) * 1.0
            learner.update(actions, payoffs[np.arange(batch), actions], payoffs)
            regret += self.means.max() - self.means[actions]
            if t in checkpoints:
                at[t] = regret.mean()
        return at


@pytest.fixture
def bernoulli() -> BernoulliBandit:
    """Best arm 0.9, runner-up 0.6 (gap 0.3)."""
    return BernoulliBandit(np.array([0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.9]), 0.3)

"""Softmax (Boltzmann) exploration: choose action a with probability
proportional to ``exp(mean[a] / temperature)``.

A low temperature is nearly greedy, a high one nearly uniform. Sample means start at 0.
"""

from __future__ import annotations

import numpy as np

from mermaide.agents.base import (
    RunningMeans,
    batch_param,
    check_batch_args,
    register_learner,
    sample_categorical,
    softmax_rows,
)


@register_learner("softmax")
class Softmax:
    """Batched Boltzmann exploration; ``temperature`` > 0, scalar or (B,) array."""

    feedback = "bandit"

    def __init__(self, temperature: float | np.ndarray = 0.1):
        batch_param("temperature", temperature, np.size(temperature), low=0.0, low_open=True)
        self.temperature = temperature

    def reset(self, batch: int, n_actions: int, rng: np.random.Generator) -> None:
        check_batch_args(batch, n_actions)
        self._temperature = batch_param("temperature", self.temperature, batch, low=0.0,
                                        low_open=True)
        self._estimates = RunningMeans(batch, n_actions)

    def probabilities(self) -> np.ndarray:
        """(B, K) action probabilities; each row sums to 1."""
        return softmax_rows(self._estimates.means / self._temperature)

    def act(self, rng: np.random.Generator) -> np.ndarray:
        return sample_categorical(self.probabilities(), rng)

    def update(
        self, actions: np.ndarray, rewards: np.ndarray, payoffs: np.ndarray | None = None
    ) -> None:
        self._estimates.update_taken(actions, rewards)

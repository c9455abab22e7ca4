"""Exp3: exponential weights for adversarial bandits, a no-regret learner.

With exploration rate ``gamma`` in (0, 1], the agent plays

    p[a] = (1 - gamma) * w[a] / sum(w) + gamma / K

and, after playing a and receiving r, updates only that weight with the importance-weighted
estimate: ``log w[a] += gamma * (r / reward_scale) / (p[a] * K)``. Rewards are expected in
[0, reward_scale] for the no-regret guarantee; weights are kept in log space so that long runs
never overflow.
"""

from __future__ import annotations

import numpy as np

from mermaide.agents.base import (
    batch_param,
    check_batch_args,
    register_learner,
    sample_categorical,
)


@register_learner("exp3")
class Exp3:
    """Batched Exp3; ``gamma`` in (0, 1] and ``reward_scale`` > 0, scalars or (B,) arrays."""

    feedback = "bandit"

    def __init__(self, gamma: float | np.ndarray = 0.1, reward_scale: float | np.ndarray = 1.0):
        batch_param("gamma", gamma, np.size(gamma), low=0.0, high=1.0, low_open=True)
        batch_param("reward_scale", reward_scale, np.size(reward_scale), low=0.0, low_open=True)
        self.gamma, self.reward_scale = gamma, reward_scale

    def reset(self, batch: int, n_actions: int, rng: np.random.Generator) -> None:
        check_batch_args(batch, n_actions)
        self._gamma = batch_param("gamma", self.gamma, batch, low=0.0, high=1.0, low_open=True)
        self._scale = batch_param("reward_scale", self.reward_scale, batch, low=0.0,
                                  low_open=True)[:, 0]
        self._log_weights = np.zeros((batch, n_actions))
        self._n_actions = n_actions
        self._offsets = np.arange(batch) * n_actions
        self._last_probabilities = self.probabilities()

    def probabilities(self) -> np.ndarray:
        """(B, K) action probabilities; each row sums to 1."""
        shifted = self._log_weights - self._log_weights.max(axis=1, keepdims=True)
        weights = np.exp(shifted)
        weights /= weights.sum(axis=1, keepdims=True)
        return (1.0 - self._gamma) * weights + self._gamma / self._n_actions

    def act(self, rng: np.random.Generator) -> np.ndarray:
        self._last_probabilities = self.probabilities()
        return sample_categorical(self._last_probabilities, rng)

    def update(
        self, actions: np.ndarray, rewards: np.ndarray, payoffs: np.ndarray | None = None
    ) -> None:
        flat = self._offsets + actions
        played = self._last_probabilities.reshape(-1)[flat]
        estimate = (rewards / self._scale) / played
        log_weights = self._log_weights.reshape(-1)
        log_weights[flat] = log_weights[flat] + self._gamma[:, 0] * estimate / self._n_actions

"""Hedge (multiplicative weights): the full-information no-regret learner.

After every step the agent sees what every action would have paid (``payoffs``, (B, K)) and
sets ``log w += eta * payoffs``; it plays ``p = w / sum(w)``. In a repeated game this is the
classic no-regret follower.
"""

from __future__ import annotations

import numpy as np

from mermaide.agents.base import (
    batch_param,
    check_batch_args,
    register_learner,
    sample_categorical,
    softmax_rows,
)


@register_learner("hedge")
class Hedge:
    """Batched Hedge with learning rate ``eta`` > 0 (scalar or (B,) array)."""

    feedback = "full"

    def __init__(self, eta: float | np.ndarray = 0.1):
        batch_param("eta", eta, np.size(eta), low=0.0, low_open=True)
        self.eta = eta

    def reset(self, batch: int, n_actions: int, rng: np.random.Generator) -> None:
        check_batch_args(batch, n_actions)
        self._eta = batch_param("eta", self.eta, batch, low=0.0, low_open=True)
        self._log_weights = np.zeros((batch, n_actions))

    def probabilities(self) -> np.ndarray:
        """(B, K) action probabilities; each row sums to 1."""
        return softmax_rows(self._log_weights)

    def act(self, rng: np.random.Generator) -> np.ndarray:
        return sample_categorical(self.probabilities(), rng)

    def update(
        self, actions: np.ndarray, rewards: np.ndarray, payoffs: np.ndarray | None = None
    ) -> None:
        if payoffs is None:
            raise ValueError("hedge is a full-information learner: update needs payoffs (B, K)")
        self._log_weights += self._eta * payoffs

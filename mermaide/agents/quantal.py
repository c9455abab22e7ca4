"""Quantal response (logit response): play each action with probability proportional to
``exp(payoff estimate / temperature)``, the smoothed best response of behavioural game theory
(McKelvey & Palfrey's logit QRE) and of the quantal-response followers of SIGym-style
Stackelberg experiments.

A full-information learner like ``best_response``: after each step it sees the payoffs of
every action; ``memory="last"`` responds to the latest payoffs, ``memory="mean"`` to their
running average (smooth fictitious play). Before any feedback the estimate is 0 for every
action, so it plays uniformly. As ``temperature`` -> 0 it becomes ``best_response`` (up to
tie-breaking); a large temperature plays nearly uniformly.
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
from mermaide.checks import check_choice

_MEMORIES = ("last", "mean")


@register_learner("quantal")
class QuantalResponse:
    """Batched logit response to observed payoffs; ``temperature`` > 0 (scalar or (B,)),
    ``memory`` ``"last"`` or ``"mean"``."""

    feedback = "full"

    def __init__(self, temperature: float | np.ndarray = 0.1, memory: str = "mean"):
        batch_param("temperature", temperature, np.size(temperature), low=0.0, low_open=True)
        check_choice("memory", memory, _MEMORIES)
        self.temperature, self.memory = temperature, memory

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
        if payoffs is None:
            raise ValueError("quantal is a full-information learner: update needs payoffs "
                             "(B, K)")
        if self.memory == "last":
            self._estimates.means[:] = payoffs
        else:
            self._estimates.update_all(payoffs)

"""Best response: play the action with the highest payoff estimate, without exploring.

A full-information learner: after each step it sees the payoffs of every action. With
``memory="last"`` it best-responds to the latest payoffs (a myopic best-responder); with
``memory="mean"`` to their running average, which in a repeated game is fictitious play.
Before any feedback it plays a uniformly random action (its own random tie-break order).
"""

from __future__ import annotations

import numpy as np

from mermaide.agents.base import (
    RunningMeans,
    check_batch_args,
    register_learner,
    tie_break_priority,
)
from mermaide.checks import check_choice

_MEMORIES = ("last", "mean")


@register_learner("best_response")
class BestResponse:
    """Batched (myopic or fictitious-play) best response to observed payoffs."""

    feedback = "full"

    def __init__(self, memory: str = "mean"):
        check_choice("memory", memory, _MEMORIES)
        self.memory = memory

    def reset(self, batch: int, n_actions: int, rng: np.random.Generator) -> None:
        check_batch_args(batch, n_actions)
        self._estimates = RunningMeans(batch, n_actions)
        self._priority = tie_break_priority(batch, n_actions, rng)

    def act(self, rng: np.random.Generator) -> np.ndarray:
        return np.argmax(self._estimates.means + self._priority, axis=1)

    def update(
        self, actions: np.ndarray, rewards: np.ndarray, payoffs: np.ndarray | None = None
    ) -> None:
        if payoffs is None:
            raise ValueError(
                "best_response is a full-information learner: update needs payoffs (B, K)"
            )
        if self.memory == "last":
            self._estimates.means[:] = payoffs
        else:
            self._estimates.update_all(payoffs)

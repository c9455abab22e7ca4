"""Quantal response (logit response): play each action with probability proportional to
``exp(payoff estimate / temperature)``, the smoothed best response of behavioural game theory
(McKelvey & Palfrey's logit QRE) and of the quantal-response followers of SIGym-style
Stackelberg experiments.

A full-information learner like ``best_response``: after each step it sees the payoffs of
every action; ``memory="last"`` responds to the latest payoffs, ``memory="mean"`` to their
running average (smooth fictitious play). Before any feedback the estimate is 0 for every
action, so it plays uniformly. As ``temperature`` -> 0 it becomes ``best_response`` (up to
tie-breaking); a large temperature plays nearly uniformly. It is ``softmax``'s Boltzmann play
on another estimate: the payoffs of every action instead of the sample means of those taken.
"""

from __future__ import annotations

import numpy as np

from mermaide.agents.base import register_learner
from mermaide.agents.softmax import Softmax
from mermaide.checks import check_choice

_MEMORIES = ("last", "mean")


@register_learner("quantal")
class QuantalResponse(Softmax):
    """Batched logit response to observed payoffs; ``temperature`` > 0 (scalar or (B,)),
    ``memory`` ``"last"`` or ``"mean"``."""

    feedback = "full"

    def __init__(self, temperature: float | np.ndarray = 0.1, memory: str = "mean"):
        super().__init__(temperature)
        check_choice("memory", memory, _MEMORIES)
        self.memory = memory

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

"""UCB: upper (or, with negative beta, lower) confidence bound action selection.

Each agent plays every action once (in its own random order), then the action with the
largest index

    mean[a] + beta * sqrt(log(t) / n[a])

where t is the number of steps so far and n[a] how often action a was taken. ``beta > 0`` is
optimism in the face of uncertainty (UCB1 is beta = sqrt(2)); ``beta = 0`` is greedy on the
sample means; ``beta < 0`` is pessimism: the agent avoids actions it knows little about, the
"pessimistic UCB" agents of the MERMAIDE paper.
"""

from __future__ import annotations

import math

import numpy as np

from mermaide.agents.base import (
    RunningMeans,
    batch_param,
    check_batch_args,
    register_learner,
    tie_break_priority,
)

# Untried actions come first: a constant far above any reachable index.
_UNTRIED = 1e12


@register_learner("ucb")
class UCB:
    """Batched UCB with exploration coefficient ``beta`` (scalar or (B,) array; any real)."""

    feedback = "bandit"

    def __init__(self, beta: float | np.ndarray = 1.0):
        batch_param("beta", beta, np.size(beta))
        self.beta = beta

    def reset(self, batch: int, n_actions: int, rng: np.random.Generator) -> None:
        check_batch_args(batch, n_actions)
        self._beta = batch_param("beta", self.beta, batch)
        # One beta for every agent (always so at B=1): a 0-d factor, which numpy multiplies
        # without the cost of broadcasting a (B, 1) column; the products are the same.
        shared = np.all(self._beta == self._beta[0, 0])
        self._beta_factor = np.array(self._beta[0, 0]) if shared else self._beta
        self._estimates = RunningMeans(batch, n_actions)
        self._priority = tie_break_priority(batch, n_actions, rng)
        self._all_tried = False
        # act() computes the index in this buffer: no (B, K) temporaries per step.
        self._buffer = np.empty((batch, n_actions))
        self._t = 0

    def _untried_index(self) -> np.ndarray:
        # Scale the tie-break into the untried constant: 1e12 + 1e-9 would round away.
        untried = 1.0 + self._priority
        untried *= _UNTRIED
        return untried

    def index(self) -> np.ndarray:
        """The (B, K) action indices the agents maximise."""
        counts = self._estimates.counts
        with np.errstate(divide="ignore", invalid="ignore"):
            bonus = np.sqrt(math.log(max(self._t, 1)) / counts)
        index = self._estimates.means + self._beta * bonus
        return np.where(counts == 0, self._untried_index(), index)

    def act(self, rng: np.random.Generator) -> np.ndarray:
        # index() + priority, computed in place: a handful of numpy calls is the whole cost
        # at small B, and the temporaries would be the memory peak at large B.
        index = self._buffer
        counts = self._estimates.counts
        if self._all_tried:
            self._bonus_index(counts, index)
        else:
            # Untried actions divide by zero here; their index is replaced just below.
            with np.errstate(divide="ignore", invalid="ignore"):
                self._bonus_index(counts, index)
            np.copyto(index, self._untried_index(), where=counts == 0)
        np.add(index, self._priority, out=index)
        return index.argmax(axis=1)

    def _bonus_index(self, counts: np.ndarray, index: np.ndarray) -> None:
        """index <- means + beta * sqrt(log(t) / counts), the arithmetic of index()."""
        np.divide(math.log(max(self._t, 1)), counts, out=index)
        np.sqrt(index, out=index)
        np.multiply(self._beta_factor, index, out=index)
        np.add(self._estimates.means, index, out=index)

    def update(
        self, actions: np.ndarray, rewards: np.ndarray, payoffs: np.ndarray | None = None
    ) -> None:
        self._t += 1
        self._estimates.update_taken(actions, rewards)
        if not self._all_tried:
            self._all_tried = bool(self._estimates.counts.all())

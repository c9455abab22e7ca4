"""Epsilon-greedy: exploit the best sample mean, explore uniformly with probability epsilon.

At step t (counting from 0) the exploration probability is ``epsilon / (1 + decay * t)``:
``decay = 0`` keeps it constant; ``decay > 0`` makes exploration fade like 1/t, the schedule
under which epsilon-greedy's regret grows only logarithmically. With ``epsilon = 0`` the
learner is purely greedy on its sample means (registered as ``"greedy"`` too).
Actions start at ``initial_value`` (optimistic initial values encourage early exploration).
"""

from __future__ import annotations

import numpy as np

from mermaide.agents.base import (
    RunningMeans,
    batch_param,
    check_batch_args,
    explore_uniformly,
    register_learner,
    tie_break_priority,
)


@register_learner("epsilon_greedy")
class EpsilonGreedy:
    """Batched epsilon-greedy; ``epsilon`` in [0, 1], ``decay`` >= 0, scalars or (B,) arrays."""

    feedback = "bandit"

    def __init__(
        self,
        epsilon: float | np.ndarray = 0.1,
        decay: float | np.ndarray = 0.0,
        initial_value: float | np.ndarray = 0.0,
    ):
        batch_param("epsilon", epsilon, np.size(epsilon), low=0.0, high=1.0)
        batch_param("decay", decay, np.size(decay), low=0.0)
        batch_param("initial_value", initial_value, np.size(initial_value))
        self.epsilon, self.decay, self.initial_value = epsilon, decay, initial_value

    def reset(self, batch: int, n_actions: int, rng: np.random.Generator) -> None:
        check_batch_args(batch, n_actions)
        self._epsilon = batch_param("epsilon", self.epsilon, batch)[:, 0]
        self._decay = batch_param("decay", self.decay, batch)[:, 0]
        initial = batch_param("initial_value", self.initial_value, batch)
        self._estimates = RunningMeans(batch, n_actions, initial)
        self._priority = tie_break_priority(batch, n_actions, rng)
        self._n_actions = n_actions
        # Without decay the rate is epsilon itself (epsilon / 1.0, bit for bit): skip the
        # arithmetic per step.
        self._constant_rate = not np.any(self._decay)
        self._t = 0

    def exploration_rate(self) -> np.ndarray:
        """(B,) probability of exploring at the current step."""
        return self._epsilon / (1.0 + self._decay * self._t)

    def greedy_actions(self) -> np.ndarray:
        return (self._estimates.means + self._priority).argmax(axis=1)

    def act(self, rng: np.random.Generator) -> np.ndarray:
        rate = self._epsilon if self._constant_rate else self.exploration_rate()
        return explore_uniformly(self.greedy_actions(), rate, self._n_actions, rng)

    def update(
        self, actions: np.ndarray, rewards: np.ndarray, payoffs: np.ndarray | None = None
    ) -> None:
        self._t += 1
        self._estimates.update_taken(actions, rewards)


@register_learner("greedy")
class Greedy(EpsilonGreedy):
    """Pure exploitation of sample means: epsilon-greedy with epsilon = 0."""

    def __init__(self, initial_value: float | np.ndarray = 0.0):
        super().__init__(epsilon=0.0, decay=0.0, initial_value=initial_value)

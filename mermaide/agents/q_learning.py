"""Q-learning in a one-state game: a constant step size and epsilon-greedy play.

After taking action a with reward r the agent moves its value towards it,

    Q[a] <- Q[a] + alpha * (r - Q[a]),

an exponential recency-weighted average: unlike a sample mean it keeps tracking a reward that
changes, which is what an agent that a principal steers faces (a bonus that stops, a leader
whose commitment moves). It plays argmax Q (ties broken by a random order of the actions per
agent, drawn at reset) and a uniform action with probability ``epsilon``. Q starts at
``initial_value``. After n rewards r on one action, Q = r + (initial_value - r) (1 - alpha)^n.
With ``alpha = 1`` it is the "last reward" learner; the Q-learning followers of the learning-
in-Stackelberg-games literature are this rule per state.
"""

from __future__ import annotations

import numpy as np

from mermaide.agents.base import (
    batch_param,
    check_batch_args,
    explore_uniformly,
    register_learner,
    tie_break_priority,
)


@register_learner("q_learning")
class QLearning:
    """Batched one-state Q-learning; ``alpha`` in (0, 1], ``epsilon`` in [0, 1],
    ``initial_value`` any real; scalars or (B,) arrays."""

    feedback = "bandit"

    def __init__(
        self,
        alpha: float | np.ndarray = 0.1,
        epsilon: float | np.ndarray = 0.1,
        initial_value: float | np.ndarray = 0.0,
    ):
        batch_param("alpha", alpha, np.size(alpha), low=0.0, high=1.0, low_open=True)
        batch_param("epsilon", epsilon, np.size(epsilon), low=0.0, high=1.0)
        batch_param("initial_value", initial_value, np.size(initial_value))
        self.alpha, self.epsilon, self.initial_value = alpha, epsilon, initial_value

    def reset(self, batch: int, n_actions: int, rng: np.random.Generator) -> None:
        check_batch_args(batch, n_actions)
        self._alpha = batch_param("alpha", self.alpha, batch, low=0.0, high=1.0,
                                  low_open=True)[:, 0]
        self._epsilon = batch_param("epsilon", self.epsilon, batch, low=0.0, high=1.0)[:, 0]
        initial = batch_param("initial_value", self.initial_value, batch)
        self.values = np.zeros((batch, n_actions)) + initial
        self._priority = tie_break_priority(batch, n_actions, rng)
        self._rows = np.arange(batch)
        self._n_actions = n_actions

    def greedy_actions(self) -> np.ndarray:
        return (self.values + self._priority).argmax(axis=1)

    def act(self, rng: np.random.Generator) -> np.ndarray:
        return explore_uniformly(self.greedy_actions(), self._epsilon, self._n_actions, rng)

    def update(
        self, actions: np.ndarray, rewards: np.ndarray, payoffs: np.ndarray | None = None
    ) -> None:
        taken = self.values[self._rows, actions]
        self.values[self._rows, actions] = taken + self._alpha * (rewards - taken)

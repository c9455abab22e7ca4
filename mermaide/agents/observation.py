"""What an agent that plays from outside the game sees: the one definition of its observation.

The two-player (PettingZoo) forms of the games hand this observation to the ``"agent"``
player, and a policy trained on it (an SB3 model, see ``mermaide.agents.sb3_policy``) is fed
the very same vector when it plays inside the Gymnasium forms. Keeping one builder here (not
in ``envs``, because agents must not import games) is what makes a policy trained in one form
valid in the other.

Observation layout (float32, ``agent_observation_dim(K)`` = K + 2) for B agents over K actions:

===========  ======================================================================
``[0, K)``   one-hot of the agent's own last action; all zeros before its first action
``K``        the reward it received for that action, bonus included; 0 before its first
``K + 1``    fraction of the horizon left, ``max(0, 1 - t / T)``, t = actions taken so far
===========  ======================================================================

The agent sees its reward exactly (observation noise is about what the *principal* sees), but
not whether the reward contained a bonus, nor anything of the principal's action or payoffs.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces


def agent_observation_dim(n_actions: int) -> int:
    return n_actions + 2


def agent_observation_space(n_actions: int) -> spaces.Box:
    """The Box of ``AgentObservation.observation()`` rows: one-hot and time in [0, 1], the
    reward any finite float32 (it holds noise and bonuses, so it is not clipped)."""
    low = np.zeros(agent_observation_dim(n_actions), dtype=np.float32)
    high = np.ones(agent_observation_dim(n_actions), dtype=np.float32)
    largest = np.finfo(np.float32).max
    low[n_actions], high[n_actions] = -largest, largest
    return spaces.Box(low, high, dtype=np.float32)


class AgentObservation:
    """Builds the observations of B agents over K actions from what they did and received.

    ``horizon``: the game's horizon T, a scalar or a (B,) array (agents of one batch may play
    games of different lengths).
    """

    def __init__(self, batch: int, n_actions: int, horizon: float | np.ndarray):
        horizon = np.asarray(horizon, dtype=np.float64)
        if horizon.ndim > 1 or (horizon.ndim == 1 and horizon.shape[0] != batch) \
                or not np.all(np.isfinite(horizon)) or np.any(horizon < 1):
            raise ValueError(f"horizon must be a number >= 1 or an array of shape ({batch},) of "
                             f"such numbers, got {horizon!r}")
        self.batch, self.n_actions = batch, n_actions
        self.horizon = np.broadcast_to(horizon, (batch,))
        self._rows = np.arange(batch)
        self._obs = np.zeros((batch, agent_observation_dim(n_actions)), dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """Before the first action: no action, no reward, the whole horizon left."""
        self.t = 0
        self._obs[:] = 0.0
        self._obs[:, self.n_actions + 1] = 1.0

    def record(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """The agents took ``actions`` (B,) and received ``rewards`` (B,)."""
        self.t += 1
        k = self.n_actions
        obs = self._obs
        obs[:, :k] = 0.0
        obs[self._rows, actions] = 1.0
        obs[:, k] = rewards
        obs[:, k + 1] = np.maximum(0.0, 1.0 - self.t / self.horizon)

    def observation(self) -> np.ndarray:
        """(B, K + 2) float32, a copy."""
        return self._obs.copy()

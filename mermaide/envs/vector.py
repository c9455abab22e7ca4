"""What the native ``gym.make_vec`` forms share: num_envs games in one batched core that run in
lockstep (every game has the same horizon, so all sub-environments end together).

Gymnasium's next-step autoreset: the ``step`` after the end resets every sub-environment and
returns the first observations with zero rewards; one generator (``reset(seed=int)``) drives
all of them, so a list of seeds is refused. A ``step`` before the first ``reset`` is refused
with the single forms' RuntimeError.

``single_info``: a batched core's step info at B = 1, as every single form (Gymnasium,
PettingZoo) reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

StepResult = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]


def single_info(info: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The info of a core of one game: its per-game entries (B,) as Python scalars, its
    per-game tables (B, ...) as arrays of their own."""
    return {key: value[0].item() if value.ndim == 1 else value[0].copy()
            for key, value in info.items()}


class LockstepVectorEnv(VectorEnv):
    """A ``VectorEnv`` over one batched core whose sub-environments end together."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def _set_spaces(self, num_envs: int, single_action_space: spaces.Space[Any],
                    single_observation_space: spaces.Space[Any]) -> None:
        self.num_envs = num_envs
        self.single_action_space = single_action_space
        self.single_observation_space = single_observation_space
        self.action_space = batch_space(single_action_space, num_envs)
        self.observation_space = batch_space(single_observation_space, num_envs)
        self._autoreset = False
        # The core has no state to step until the first reset: stepping it would fail deep
        # inside with an AttributeError naming a private field.
        self._has_reset = False

    def _reset_generator(self, seed: int | list[int] | None) -> None:
        """Seed the one generator of all sub-environments (a list of seeds is refused)."""
        if isinstance(seed, list):
            raise ValueError(f"seed must be an int or None for {type(self).__name__} (one "
                             f"generator drives all sub-environments), got a list {seed!r}")
        super().reset(seed=seed)
        self._autoreset = False
        self._has_reset = True

    def _lockstep_step(self, play: Callable[[], tuple[np.ndarray, np.ndarray, bool,
                                                      dict[str, Any]]]) -> StepResult:
        """One step of the core (``play``), or the next-step autoreset after the end. Before
        the first ``reset`` it is refused, before ``play`` changes anything, so that ``reset``
        then ``step`` works."""
        if not self._has_reset:
            raise RuntimeError("step() called before reset()")
        zeros = np.zeros(self.num_envs, dtype=bool)
        if self._autoreset:
            obs, info = self.reset()
            return obs, np.zeros(self.num_envs), zeros, zeros.copy(), info
        obs, reward, done, info = play()
        self._autoreset = done
        return obs, reward, np.full(self.num_envs, done), zeros, info

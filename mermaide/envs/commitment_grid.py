"""``CommitmentGrid``: a matrix game played with a finite menu of commitments.

The matrix games (``Mermaide/Stackelberg-v0``, ``Mermaide/RepeatedStackelberg-v0``) take a
``Box`` action that parametrises any mixed strategy. A principal with a *categorical* policy
picks instead from a finite menu: the mixed strategies whose probabilities are multiples of
1 / ``resolution`` (the points of the simplex grid; 66 for 3 actions at resolution 10), each
with or without a bonus request. This is the action space in which one policy-gradient step
can move all the probability from one commitment to another, which is what one-shot
adaptation needs (docs/stackelberg-one-shot.md); the game itself is unchanged.

Action ``k`` is commitment ``grid[k // choices]`` with intervention ``k % choices`` (0 = none,
j + 1 = a bonus on agent action j), where ``choices`` is n + 1 with ``interventions`` and 1
without. ``interventions`` defaults to whether the game's budget allows any.

>>> import gymnasium as gym, mermaide
>>> env = CommitmentGrid(gym.make("Mermaide/Stackelberg-v0"), resolution=10)  # 3x3 games
>>> env.action_space
Discrete(66)
"""

from __future__ import annotations

import itertools
from typing import Any

import gymnasium as gym
import numpy as np

from mermaide.checks import check_int
from mermaide.envs.parallel import valid_action
from mermaide.envs.repeated_stackelberg import MatrixGameForm


def simplex_grid(m: int, resolution: int) -> np.ndarray:
    """All mixed strategies over m actions with probabilities in multiples of 1 / resolution,
    (points, m), in lexicographic order of their integer counts."""
    check_int("m", m, 1)
    check_int("resolution", resolution, 1)
    points = [c for c in itertools.product(range(resolution + 1), repeat=m)
              if sum(c) == resolution]
    return np.array(points, dtype=np.float64) / resolution


class CommitmentGrid(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """A matrix game with ``Discrete`` actions: commitments on the 1/``resolution`` simplex
    grid, times the intervention choices (see the module docstring)."""

    def __init__(self, env: gym.Env, resolution: int = 10, interventions: bool | None = None):
        game = env.unwrapped
        if not isinstance(game, MatrixGameForm):
            raise ValueError(f"env must be a matrix game (Mermaide/Stackelberg-v0 or "
                             f"Mermaide/RepeatedStackelberg-v0), got {game!r}")
        check_int("resolution", resolution, 1)
        if game.action_type != "weights":
            # Logits cannot put exactly zero on an action: the menu would be approximate.
            raise ValueError(f"env must use action_type='weights' (exact commitments), got "
                             f"action_type={game.action_type!r}")
        if interventions is None:
            interventions = game.knobs.intervention_budget != 0
        elif not isinstance(interventions, bool):
            raise ValueError(f"interventions must be True, False or None, got {interventions!r}")
        # Recorded so that gymnasium can rebuild the wrapped env from its spec (check_env does).
        gym.utils.RecordConstructorArgs.__init__(self, resolution=resolution,
                                                 interventions=interventions)
        gym.ActionWrapper.__init__(self, env)
        self.resolution, self.interventions = resolution, interventions
        self.grid = simplex_grid(game.m, resolution)
        self.choices = game.n + 1 if interventions else 1
        bonus_actions: list[int | None] = [None, *range(game.n)][: self.choices]
        # Every menu entry as the Box action it stands for, built once.
        self.box_actions = np.stack([game.encode_action(x, b)
                                     for x in self.grid for b in bonus_actions])
        self.action_space = gym.spaces.Discrete(len(self.box_actions))

    def commitment(self, action: int) -> tuple[np.ndarray, int | None]:
        """The strategy x and the bonus action (None = no intervention) of ``action``."""
        index = self._index(action)
        bonus = index % self.choices
        return self.grid[index // self.choices], (None if bonus == 0 else bonus - 1)

    def action(self, action: Any) -> np.ndarray:
        return self.box_actions[self._index(action)]

    def _index(self, action: Any) -> int:
        # The one rule of every form: integer scalars in range, no bool (True is an int).
        if not valid_action(self.action_space, action):
            raise ValueError(f"action must be an integer in [0, {len(self.box_actions) - 1}] "
                             f"({len(self.grid)} commitments x {self.choices} intervention "
                             f"choices), got {action!r}")
        return int(action)

"""Heuristic principals: fixed intervention schedules that learn nothing.

They speak the intervention games' action convention (the bandit game's): action 0 = do
nothing, action ``a + 1`` = intervene on arm ``a``. ``arm="target"`` intervenes on the
episode's target action, which the heuristic reads from the reset ``info["target_action"]``
(``evaluate`` hands it over through ``begin_episode``); an int fixes the arm.

* ``"none"``: never intervenes (pays nothing).
* ``"always"``: intervenes every step.
* ``"periodic"`` (the paper's S1): intervenes at steps ``offset, offset + period, ...``.
* ``"front-loaded"`` (the paper's S2): intervenes at the first ``steps`` steps.
* ``"random"``: intervenes with probability ``probability`` each step, on a uniformly drawn
  arm (``arm="uniform"``, the default; ``n_arms`` given or read from the game) or on the
  given one.

With an intervention budget B the game refuses what exceeds B, so ``"front-loaded"`` with
``steps >= B`` spends exactly B interventions at the start, and ``"periodic"`` with
``period = horizon // B`` spends them evenly.
"""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import numpy as np

from mermaide.checks import check_int, check_number
from mermaide.principal.base import EnvFn, TaskDistribution

TARGET = "target"
UNIFORM = "uniform"


class Heuristic:
    """Common machinery: the step counter lives in ``state``; the arm choice in ``arm``."""

    name = "heuristic"
    _arm_choices: tuple[str, ...] = (TARGET,)

    def __init__(self, arm: int | str = TARGET):
        if isinstance(arm, str):
            if arm not in self._arm_choices:
                raise ValueError(f"arm must be an arm index or one of {self._arm_choices}, "
                                 f"got {arm!r}")
        else:
            check_int("arm", arm, 0)
        self.arm = arm
        self._target: int | None = None

    def begin_episode(self, info: dict[str, Any]) -> None:
        """Learn the episode's target action from the reset info (when the game reports it)."""
        if "target_action" in info:
            self._target = int(info["target_action"])

    def _arm(self) -> int:
        if isinstance(self.arm, int):
            return self.arm
        if self._target is None:
            raise ValueError(f"{self.name!r} with arm='target' needs the episode's target: call "
                             f"begin_episode(reset_info) first, or pass arm=<index>")
        return self._target

    def intervene(self, t: int) -> bool:
        raise NotImplementedError

    def act(self, obs: np.ndarray, state: Any) -> tuple[int, int]:
        t = 0 if state is None else int(state)
        return (self._arm() + 1 if self.intervene(t) else 0), t + 1

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int) -> None:
        """Nothing to learn."""

    def adapt(self, env: gym.Env, episodes: int) -> None:
        """Nothing to adapt: a schedule is fixed."""
        check_int("episodes", episodes, 0)

    def params(self) -> dict[str, Any]:
        return {"arm": self.arm}

    def save(self, path: str) -> None:
        with open(path, "w") as file:
            json.dump({"principal": self.name, **self.params()}, file)

    def load(self, path: str) -> None:
        with open(path) as file:
            saved = json.load(file)
        if saved.pop("principal", None) != self.name:
            raise ValueError(f"{path!r} does not hold a {self.name!r} principal")
        self.__init__(**saved)  # type: ignore[misc]


class NoIntervention(Heuristic):
    name = "none"

    def intervene(self, t: int) -> bool:
        return False

    def act(self, obs: np.ndarray, state: Any) -> tuple[int, int]:
        return 0, (0 if state is None else int(state)) + 1


class Always(Heuristic):
    name = "always"

    def intervene(self, t: int) -> bool:
        return True


class Periodic(Heuristic):
    """S1: every ``period`` steps, starting at ``offset``."""

    name = "periodic"

    def __init__(self, period: int = 10, offset: int = 0, arm: int | str = TARGET):
        super().__init__(arm)
        self.period = check_int("period", period, 1)
        self.offset = check_int("offset", offset, 0)

    def intervene(self, t: int) -> bool:
        return t >= self.offset and (t - self.offset) % self.period == 0

    def params(self) -> dict[str, Any]:
        return {"period": self.period, "offset": self.offset, "arm": self.arm}


class FrontLoaded(Heuristic):
    """S2: the first ``steps`` steps."""

    name = "front-loaded"

    def __init__(self, steps: int = 20, arm: int | str = TARGET):
        super().__init__(arm)
        self.steps = check_int("steps", steps, 0)

    def intervene(self, t: int) -> bool:
        return t < self.steps

    def params(self) -> dict[str, Any]:
        return {"steps": self.steps, "arm": self.arm}


class RandomInterventions(Heuristic):
    """Intervene with probability ``probability`` per step; draws flow from ``seed``.

    ``arm="uniform"`` draws among ``n_arms`` arms: given, or learnt from the game (the action
    space in ``meta_train``, the reset info's agent in ``begin_episode``).
    """

    name = "random"
    _arm_choices = (TARGET, UNIFORM)

    def __init__(self, probability: float = 0.5, arm: int | str = UNIFORM, seed: int = 0,
                 n_arms: int | None = None):
        super().__init__(arm)
        self.probability = check_number("probability", probability, low=0.0, high=1.0)
        self.seed = check_int("seed", seed, 0)
        self.n_arms = None if n_arms is None else check_int("n_arms", n_arms, 1)
        self._rng = np.random.default_rng(seed)

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int) -> None:
        """Nothing to learn; only reads how many arms the game has (for ``"uniform"``)."""
        self.n_arms = int(env_fn().action_space.n) - 1  # type: ignore[attr-defined]

    def begin_episode(self, info: dict[str, Any]) -> None:
        super().begin_episode(info)
        n_arms = getattr(info.get("agent"), "n_arms", None)
        if self.n_arms is None and n_arms is not None:
            self.n_arms = int(n_arms)

    def act(self, obs: np.ndarray, state: Any) -> tuple[int, int]:
        t = 0 if state is None else int(state)
        if self._rng.random() >= self.probability:
            return 0, t + 1
        if self.arm == UNIFORM:
            if self.n_arms is None:
                raise ValueError("'random' with arm='uniform' needs the number of arms: pass "
                                 "n_arms, call meta_train, or begin_episode(reset_info)")
            return int(self._rng.integers(self.n_arms)) + 1, t + 1
        return self._arm() + 1, t + 1

    def params(self) -> dict[str, Any]:
        return {"probability": self.probability, "arm": self.arm, "seed": self.seed,
                "n_arms": self.n_arms}

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

Tuned schedules (DESIGN.md: a learned principal must beat a *tuned* schedule, not a default
one): ``"front-loaded-tuned"`` and ``"periodic-tuned"`` pick their schedule's parameter by a
small grid search on the training agents in ``meta_train(env_fn, population, steps, seed)``:

1. One probe episode (``env_fn()`` reset with ``seed``, intervening on arm 0 at every step)
   reads the game's horizon T (its length) and the interventions it allows,
   C = min(budget, T) (``info["interventions_used"]`` at its end; at least 1).
2. The grid, from n = ``candidates`` (default 5) intervention counts
   m_i = max(1, round(C * i / n)), i = 1..n (duplicates dropped): front-loaded ``steps = m_i``;
   periodic ``period = max(1, T // m_i)`` (m_i interventions spread over the horizon), each
   with ``offset`` 0 and ``period // 2``. ``grid=[...]`` replaces it (front-loaded: step
   counts; periodic: periods or ``[period, offset]`` pairs).
3. The budget: the probe takes T steps; the rest is split equally, so every candidate plays
   E = (steps - T) // (T * len(grid)) episodes; at most ``steps`` env steps are spent, and a
   budget below T * (1 + len(grid)) (one episode per candidate) is refused. The E training
   tasks are ``[population.sample(rng) for _ in range(E)]`` with
   ``rng = np.random.default_rng(seed)`` (``population=None``: the env draws them), and
   every candidate is scored on the same tasks by
   ``evaluate(schedule, env_fn(), 1, seed, tasks=tasks).mean_return`` (common random
   numbers: the candidates meet identical agents).
4. The highest mean return wins (ties: the first in grid order). Repeated ``meta_train``
   calls on the same grid pool their episodes (a running mean per candidate), so the
   harness's calls along the learning curve spend the whole training budget on one search.

``.chosen`` holds the chosen parameters (None before ``meta_train``, when the principal
plays the schedule's defaults) and ``.scores`` every candidate's mean return and episodes;
both are saved and loaded with the principal. ``adapt`` does nothing (a schedule is fixed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from mermaide.checks import (
    CheckpointError,
    check_int,
    check_number,
    other_principal,
    reading_checkpoint,
)
from mermaide.principal.base import EnvFn, TaskDistribution
from mermaide.principal.evaluation import evaluate

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
        """Replace this principal's parameters by the ones saved at ``path`` (a JSON object:
        ``"principal"`` and every entry of ``params()``); a bad file raises
        ``CheckpointError`` and changes nothing (a new heuristic is built and checked, then
        adopted)."""
        with reading_checkpoint(path):
            with open(path, encoding="utf-8") as file:
                saved = json.load(file)
            if not isinstance(saved, dict) or saved.get("principal") != self.name:
                found = (saved.get("principal") if isinstance(saved, dict)
                         else type(saved).__name__)
                raise other_principal(path, found, self.name)
            params = {key: value for key, value in saved.items() if key != "principal"}
            loaded = type(self)(**params)
            missing = sorted(set(loaded.params()) - set(params))
            if missing:
                raise CheckpointError(f"{path!r} has no entry {missing[0]!r} (a {self.name!r} "
                                      f"checkpoint holds {sorted(loaded.params())})")
        self.__dict__.update(loaded.__dict__)


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
        space = env_fn().action_space
        if not isinstance(space, gym.spaces.Discrete):
            raise ValueError(f"'random' plays Discrete interventions (0: none, a + 1: a bonus on "
                             f"arm a), got the action space {space}")
        self.n_arms = int(space.n) - 1

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


# --- tuned schedules --------------------------------------------------------------------------


def probe_game(env: gym.Env, seed: int) -> tuple[int, int]:
    """(horizon, interventions allowed): one episode of ``env`` that intervenes on arm 0 at
    every step; its length is the horizon, its interventions used the effective budget
    min(budget, horizon) (at least 1)."""
    env.reset(seed=int(seed))
    steps, done = 0, False
    info: dict[str, Any] = {}
    while not done:
        _, _, terminated, truncated, info = env.step(1)
        steps += 1
        done = bool(terminated or truncated)
    used = info.get("interventions_used", steps)
    return steps, max(1, min(steps, int(used)))


def intervention_counts(allowed: int, candidates: int) -> list[int]:
    """m_i = max(1, round(allowed * i / candidates)), i = 1..candidates, without duplicates."""
    counts = [max(1, (2 * allowed * i + candidates) // (2 * candidates))
              for i in range(1, candidates + 1)]
    return sorted(set(counts))


class _Tuned(Heuristic):
    """A fixed schedule whose parameters ``meta_train`` picks by a grid search (see the module
    docstring); it plays ``schedule_class(**chosen)``."""

    schedule_class: type[Heuristic] = Heuristic

    def __init__(self, candidates: int = 5, grid: Sequence[Any] | None = None,
                 arm: int | str = TARGET, chosen: dict[str, int] | None = None,
                 scores: Sequence[dict[str, Any]] | None = None):
        super().__init__(arm)
        self.candidates = check_int("candidates", candidates, 1)
        self.grid = None if grid is None else self._checked_grid(grid)
        self.chosen = None if chosen is None else {k: int(v) for k, v in dict(chosen).items()}
        self.scores: list[dict[str, Any]] = [
            {"params": {k: int(v) for k, v in dict(row["params"]).items()},
             "mean_return": float(row["mean_return"]), "episodes": int(row["episodes"])}
            for row in (scores or [])]
        self.schedule = self.schedule_class(**(self.chosen or {}), arm=arm)

    def _checked_grid(self, grid: Sequence[Any]) -> list[dict[str, int]]:
        raise NotImplementedError

    def candidate_grid(self, horizon: int, allowed: int) -> list[dict[str, int]]:
        """The candidates' parameters for a game of ``horizon`` steps and ``allowed``
        interventions (the explicit ``grid`` when one was given)."""
        raise NotImplementedError

    def intervene(self, t: int) -> bool:
        return self.schedule.intervene(t)

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int) -> None:
        """The grid search of the module docstring, within ``steps`` env steps."""
        check_int("steps", steps, 0)
        check_int("seed", seed, 0)
        env = env_fn()
        horizon, allowed = probe_game(env, seed)
        grid = self.candidate_grid(horizon, allowed)
        needed = horizon * (1 + len(grid))
        if steps < needed:
            raise ValueError(
                f"steps must be >= {needed} for {self.name!r} (one probe episode and one "
                f"episode for each of its {len(grid)} candidates, horizon {horizon}), got "
                f"{steps}")
        episodes = (steps - horizon) // (horizon * len(grid))
        tasks: int | list[Any]
        if population is None:
            tasks = episodes
        else:
            rng = np.random.default_rng(seed)
            tasks = [population.sample(rng) for _ in range(episodes)]
        if [row["params"] for row in self.scores] != grid:
            self.scores = [{"params": params, "mean_return": 0.0, "episodes": 0}
                           for params in grid]
        for row in self.scores:
            schedule = self.schedule_class(**row["params"], arm=self.arm)
            score = evaluate(schedule, env, 1, seed, tasks=tasks).mean_return
            total = row["episodes"] + episodes
            row["mean_return"] += (score - row["mean_return"]) * episodes / total
            row["episodes"] = total
        best = max(range(len(self.scores)), key=lambda i: (self.scores[i]["mean_return"], -i))
        self.chosen = dict(self.scores[best]["params"])
        self.schedule = self.schedule_class(**self.chosen, arm=self.arm)

    def params(self) -> dict[str, Any]:
        return {"candidates": self.candidates, "grid": self.grid, "arm": self.arm,
                "chosen": self.chosen, "scores": self.scores}


class FrontLoadedTuned(_Tuned):
    """S2 with its ``steps`` tuned on training agents (candidates: intervention counts)."""

    name = "front-loaded-tuned"
    schedule_class = FrontLoaded

    def _checked_grid(self, grid: Sequence[Any]) -> list[dict[str, int]]:
        if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or not grid:
            raise ValueError(f"grid must be a non-empty list of step counts (integers >= 0), "
                             f"got {grid!r}")
        return [{"steps": check_int(f"grid[{i}]", value, 0)} for i, value in enumerate(grid)]

    def candidate_grid(self, horizon: int, allowed: int) -> list[dict[str, int]]:
        if self.grid is not None:
            return [dict(params) for params in self.grid]
        return [{"steps": m} for m in intervention_counts(allowed, self.candidates)]

    def params(self) -> dict[str, Any]:
        return {**super().params(),
                "grid": None if self.grid is None else [p["steps"] for p in self.grid]}


class PeriodicTuned(_Tuned):
    """S1 with its ``period`` and ``offset`` tuned on training agents."""

    name = "periodic-tuned"
    schedule_class = Periodic

    def _checked_grid(self, grid: Sequence[Any]) -> list[dict[str, int]]:
        if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or not grid:
            raise ValueError(f"grid must be a non-empty list of periods or [period, offset] "
                             f"pairs, got {grid!r}")
        checked = []
        for i, value in enumerate(grid):
            pair = list(value) if isinstance(value, (list, tuple)) else [value, 0]
            if len(pair) != 2:
                raise ValueError(f"grid[{i}] must be a period or a [period, offset] pair, got "
                                 f"{value!r}")
            checked.append({"period": check_int(f"grid[{i}] period", pair[0], 1),
                            "offset": check_int(f"grid[{i}] offset", pair[1], 0)})
        return checked

    def candidate_grid(self, horizon: int, allowed: int) -> list[dict[str, int]]:
        if self.grid is not None:
            return [dict(params) for params in self.grid]
        grid: list[dict[str, int]] = []
        for m in intervention_counts(allowed, self.candidates):
            period = max(1, horizon // m)
            for offset in sorted({0, period // 2}):
                if {"period": period, "offset": offset} not in grid:
                    grid.append({"period": period, "offset": offset})
        return grid

    def params(self) -> dict[str, Any]:
        return {**super().params(), "grid": None if self.grid is None else
                [[p["period"], p["offset"]] for p in self.grid]}

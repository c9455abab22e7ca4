"""The suite's task sets: the held-out tasks (one set per suite, drawn from
``evaluation.task_seed`` alone, so that every principal and every training seed meets the same
tasks and comparisons are paired) and, with ``populations.train_size``, a fixed training set
(the paper's protocol: 15 training agents, beside the endless populations).

``FixedTasks`` is that training set as a task distribution: uniform draws, with replacement,
from a fixed list. For the agent and game populations it is a subclass of the population's
own class (``FixedAgents``, ``FixedGames``, ``FixedBayesianGames``), so that the games and the
principals that check for an ``AgentPopulation`` (or a game population) accept it, and its
``sample``, ``sample_many`` and ``sample_batch`` all draw from the list only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mermaide.agents import AgentBatch, AgentPopulation
from mermaide.checks import check_int
from mermaide.envs.games import BayesianGamePopulation, GamePopulation

# Independent streams of the suite's task seed, one per task set.
TASK_STREAMS = ("test", "curve", "train")


def task_generators(task_seed: int) -> dict[str, np.random.Generator]:
    """One generator per task set, all from ``task_seed`` (never from a run's own seed)."""
    states = np.random.SeedSequence(check_int("task_seed", task_seed, 0)).spawn(
        len(TASK_STREAMS))
    return {name: np.random.default_rng(state)
            for name, state in zip(TASK_STREAMS, states, strict=True)}


def draw_tasks(population: Any, count: int, rng: np.random.Generator) -> list[Any]:
    """``count`` tasks, one ``population.sample(rng)`` each (the same draws for any kind)."""
    return [population.sample(rng) for _ in range(count)]


def fingerprint(task: Any) -> str:
    """A short digest of a task's full repr (every float at full precision), to check that
    two runs met the same task."""
    with np.printoptions(precision=17, threshold=sys.maxsize, floatmode="unique"):
        text = repr(task)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _FixedDraws:
    """Uniform draws, with replacement, from ``self.tasks``."""

    tasks: tuple[Any, ...]

    def sample(self, rng: np.random.Generator) -> Any:
        return self.tasks[int(rng.integers(len(self.tasks)))]

    def sample_many(self, count: int, rng: np.random.Generator) -> list[Any]:
        check_int("count", count, 0)
        return [self.tasks[int(i)] for i in rng.integers(len(self.tasks), size=int(count))]

    def _checked_tasks(self) -> None:
        tasks = tuple(self.tasks)
        if not tasks:
            raise ValueError("tasks must hold at least one task, got none")
        object.__setattr__(self, "tasks", tasks)


class FixedTasks(_FixedDraws):
    """Uniform draws from a fixed list of tasks, for a population of any other kind."""

    def __init__(self, tasks: Sequence[Any], name: str = "fixed"):
        self.tasks = tuple(tasks)
        self.name = name
        self._checked_tasks()

    def __repr__(self) -> str:
        return f"FixedTasks({len(self.tasks)} tasks, name={self.name!r})"


@dataclass(frozen=True, eq=False)
class FixedAgents(_FixedDraws, AgentPopulation):
    """An ``AgentPopulation`` that draws only among ``tasks`` (its other fields describe the
    population the tasks came from)."""

    tasks: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        self._checked_tasks()

    def sample_batch(self, n: int, rng: np.random.Generator) -> AgentBatch:
        check_int("n", n, 1)
        return AgentBatch.from_specs(self.sample_many(n, rng))


@dataclass(frozen=True, eq=False)
class FixedGames(_FixedDraws, GamePopulation):
    """A ``GamePopulation`` that draws only among ``tasks``."""

    tasks: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        self._checked_tasks()


@dataclass(frozen=True, eq=False)
class FixedBayesianGames(_FixedDraws, BayesianGamePopulation):
    """A ``BayesianGamePopulation`` that draws only among ``tasks``."""

    tasks: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        self._checked_tasks()


_FIXED_KINDS: tuple[tuple[type, type], ...] = (
    (AgentPopulation, FixedAgents),
    (BayesianGamePopulation, FixedBayesianGames),
    (GamePopulation, FixedGames),
)


def fixed_training_set(population: Any, size: int, rng: np.random.Generator) -> Any:
    """``size`` tasks drawn once from ``population``, as a distribution over those only (of
    the population's own class when it is an agent or game population)."""
    tasks = draw_tasks(population, check_int("size", size, 1), rng)
    for base, fixed in _FIXED_KINDS:
        if isinstance(population, base):
            fields = {f.name: getattr(population, f.name) for f in dataclasses.fields(base)}
            fields["name"] = f"{getattr(population, 'name', 'population')}[{size}]"
            return fixed(**fields, tasks=tuple(tasks))
    return FixedTasks(tasks, name=f"{getattr(population, 'name', 'population')}[{size}]")

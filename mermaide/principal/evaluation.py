"""Scoring a principal: ``evaluate`` (DESIGN.md's K-shot protocol), ``run_episode``, the
per-episode ``EpisodeStats``, and the wrappers that fix an env's task (``FixedTask``) or draw
it from a population (``PopulationTasks``)."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from mermaide.checks import check_int
from mermaide.principal.base import TaskDistribution, check_principal

# --- fixed tasks ------------------------------------------------------------------------------


# How the games name a task in ``reset(options=...)`` and in the reset info: the bandit game's
# agent ("agent": an AgentSpec), the matrix games' game and its agent ("game": a MatrixGame).
TASK_KEYS = ("agent", "game")


def task_key(info: dict[str, Any]) -> str:
    """The task key a game uses, read from its reset info ("agent" when it reports none)."""
    return next((key for key in TASK_KEYS if key in info), TASK_KEYS[0])


class FixedTask(gym.Wrapper):
    """Plays the same task every episode: ``reset`` passes ``options={key: task}``.

    This is how K-shot adaptation and evaluation keep one agent across episodes.
    """

    def __init__(self, env: gym.Env, task: Any, key: str = "agent"):
        super().__init__(env)
        self.task, self.key = task, key

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        return self.env.reset(seed=seed, options={**(options or {}), self.key: self.task})


class PopulationTasks(gym.Wrapper):
    """Draws a task from ``population`` at every reset (from the env's own seeded generator)."""

    def __init__(self, env: gym.Env, population: TaskDistribution, key: str = "agent"):
        super().__init__(env)
        self.population, self.key = population, key

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        if seed is not None:
            self._task_rng = np.random.default_rng(seed)
        elif not hasattr(self, "_task_rng"):
            self._task_rng = np.random.default_rng()
        task = self.population.sample(self._task_rng)
        return self.env.reset(seed=seed, options={**(options or {}), self.key: task})


# --- evaluation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpisodeStats:
    """Per-episode results of ``evaluate`` (all arrays have one entry per scored episode).

    returns: the principal's undiscounted return; target_rates: fraction of steps the agent
    took the principal's target action; interventions: interventions applied; costs: what the
    principal paid; tasks: index of the task the episode belongs to. Metrics a game does not
    report are NaN.
    """

    returns: np.ndarray
    target_rates: np.ndarray
    interventions: np.ndarray
    costs: np.ndarray
    tasks: np.ndarray

    @property
    def episodes(self) -> int:
        return int(self.returns.shape[0])

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    @property
    def mean_target_rate(self) -> float:
        return float(np.mean(self.target_rates))

    @property
    def mean_interventions(self) -> float:
        return float(np.mean(self.interventions))

    @property
    def mean_cost(self) -> float:
        return float(np.mean(self.costs))

    def per_task_returns(self) -> np.ndarray:
        """Mean return of each task (DESIGN.md: score per task, then average over tasks)."""
        return np.array([self.returns[self.tasks == t].mean() for t in np.unique(self.tasks)])

    def summary(self) -> dict[str, float]:
        return {"return": self.mean_return, "target_rate": self.mean_target_rate,
                "interventions": self.mean_interventions, "cost": self.mean_cost,
                "episodes": float(self.episodes)}


def begin_episode(principal: Any, info: dict[str, Any]) -> None:
    """The protocol's optional hook: tell a principal that defines ``begin_episode`` the
    episode's reset info."""
    hook = getattr(principal, "begin_episode", None)
    if callable(hook):
        hook(info)


def after_step(principal: Any, info: dict[str, Any]) -> None:
    """The protocol's other optional hook: tell a principal that defines ``after_step`` the
    info of the step just played (before its next ``act``)."""
    hook = getattr(principal, "after_step", None)
    if callable(hook):
        hook(info)


def run_episode(principal: Any, env: gym.Env, seed: int | None = None,
                options: dict[str, Any] | None = None) -> tuple[float, float, float, float]:
    """Play one episode with ``principal.act``; returns (return, target rate, interventions,
    cost), reading the games' ``info`` keys (NaN where a game does not report them)."""
    obs, info = env.reset(seed=seed, options=options)
    begin_episode(principal, info)
    state: Any = None
    total, steps, hits, used, cost = 0.0, 0, 0.0, 0.0, 0.0
    done = False
    while not done:
        action, state = principal.act(obs, state)
        obs, reward, terminated, truncated, info = env.step(action)
        after_step(principal, info)
        total += float(reward)
        steps += 1
        hits += float(info.get("target_hit", math.nan))
        used += float(info.get("intervened", math.nan))
        cost += float(info.get("cost", math.nan))
        done = bool(terminated or truncated)
    target_rate = float(info.get("target_rate", hits / steps))
    used = float(info.get("interventions_used", used))
    cost = float(info.get("episode_cost", cost))
    return total, target_rate, used, cost


def task_seeds(seed: int, task: int, episodes: int) -> tuple[int, list[int]]:
    """The seed of task ``task``'s adaptation episodes and those of its ``episodes`` scored
    ones. They depend on neither ``shots`` nor what adaptation drew, so the K-shot scores of
    one task are paired: at every K the scored episodes meet the same agent draws and noise,
    and a change in score is the adaptation's, not a different random path's."""
    streams = np.random.SeedSequence((seed, task)).spawn(1 + episodes)
    adaptation, *scored = (int(s.generate_state(1, np.uint64)[0]) for s in streams)
    return adaptation, scored


def evaluate(principal: Any, env: gym.Env, episodes: int, seed: int, shots: int = 0,
             tasks: int | Sequence[Any] | None = None) -> EpisodeStats:
    """Score ``principal`` on ``env`` (DESIGN.md's K-shot protocol).

    ``tasks=None``: ``episodes`` scored episodes, each with an agent the env draws itself
    (zero-shot only). ``tasks=n``: n tasks are drawn from the env (its reset ``info["agent"]``,
    or ``info["game"]`` for the matrix games); ``tasks=[spec, ...]``: those tasks. For each
    task a copy of the principal adapts on ``shots`` episodes of that task, then plays
    ``episodes`` scored episodes of the same task;
    adaptation episodes are never scored and ``principal`` itself is never changed. Every draw
    flows from ``seed``; with tasks, each task's scored episodes are seeded by ``task_seeds``,
    the same at every ``shots``, so 0-shot and K-shot scores are paired episode by episode.
    """
    check_principal(principal)
    check_int("episodes", episodes, 1)
    check_int("shots", shots, 0)
    # No coercion: 1.5, "3" or True would otherwise pass as another seed than the one given.
    seed = check_int("seed", seed, 0)
    # Seeds the env (every later reset continues its generator) and tells the task key.
    key = task_key(env.reset(seed=seed)[1])
    if tasks is None:
        if shots:
            raise ValueError(f"shots={shots} needs tasks (an int or a list of tasks), got None")
        player = copy.deepcopy(principal)
        rows = [run_episode(player, env) for _ in range(episodes)]
        task_index = np.zeros(episodes, dtype=np.int64)
    else:
        if isinstance(tasks, (int, np.integer)) and not isinstance(tasks, bool):
            if tasks < 1:
                raise ValueError(f"tasks must be >= 1 when an int, got {tasks!r}")
            task_list = [env.reset()[1][key] for _ in range(int(tasks))]
        elif isinstance(tasks, Sequence) and len(tasks) > 0:
            task_list = list(tasks)
        else:
            raise ValueError(f"tasks must be None, an int >= 1 or a non-empty sequence of "
                             f"tasks, got {tasks!r}")
        rows, index = [], []
        for t, task in enumerate(task_list):
            player = copy.deepcopy(principal)
            task_env = FixedTask(env, task, key)
            adaptation_seed, scored_seeds = task_seeds(int(seed), t, int(episodes))
            if shots:
                task_env.reset(seed=adaptation_seed)
                player.adapt(task_env, int(shots))
            rows.extend(run_episode(player, task_env, seed=s) for s in scored_seeds)
            index.extend([t] * episodes)
        task_index = np.array(index, dtype=np.int64)
    columns = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return EpisodeStats(columns[:, 0], columns[:, 1], columns[:, 2], columns[:, 3], task_index)

"""One benchmark run: meta-train a principal on the training population, then score it 0-shot
and K-shot on held-out tasks (DESIGN.md's evaluation protocol), with the learning curve and,
with a ``[heatmap]``, the paper's behaviour heat map.

The task sets flow from the suite alone (``evaluation.task_seed``, see
``mermaide.bench.tasks``): the held-out tasks, the learning-curve tasks and, with
``populations.train_size``, the fixed training set are the same for every principal and every
training seed, so that differences between principals are paired task by task. Everything
else random flows from the job's seed, split into independent streams for training, the
learning curve, evaluation and the heat map; the evaluation episodes of task t at K shots
start from a seed of (that stream, K, t), never from the principal, so two principals' runs
with one seed play each task from the same seed.

Nothing here names a game: the env, its knobs and the argument (and reset option) that
carries a task come from the suite (``env``, ``env_kwargs``, ``task_argument``), and so do the
heat map's agents (``heatmap.population``, ``heatmap.learner``, ``heatmap.parameter``; the
heat map reads the ``agent_action`` of the game's step info). A game without tasks (a suite
without ``[populations]``) is made from ``env_kwargs`` alone, trained on with no population
(None) and scored on ``evaluation.tasks`` plays of that one game (tasks ``None``).
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator
from stable_baselines3.common.logger import configure
from tqdm.auto import tqdm

import mermaide  # noqa: F401  (registers the environments in worker processes)
from mermaide.agents import AgentSpec
from mermaide.bench.plan import Job, variants_of
from mermaide.bench.suite import (
    NO_TASKS,
    POPULATION_FACTORIES,
    Heatmap,
    Reference,
    Suite,
    SuiteError,
)
from mermaide.bench.tasks import draw_tasks, fingerprint, fixed_training_set, task_generators
from mermaide.envs.games import check_learner_params
from mermaide.principal import after_step, begin_episode, evaluate, make
from mermaide.principal.base import monitor_keywords
from mermaide.registry import UnknownNameError


def make_game(suite: Suite, env_kwargs: dict[str, Any], population: Any) -> gym.Env:
    """The suite's env with ``env_kwargs``, its tasks from ``population`` (a game without
    tasks: from ``env_kwargs`` alone)."""
    if suite.population_kind == NO_TASKS:
        return gym.make(suite.env, **env_kwargs)
    return gym.make(suite.env, **{**env_kwargs, suite.task_argument: population})


def check_suite(suite: Suite) -> None:
    """Build, once, everything the suite's jobs build (its populations, its env under every
    sweep variant, each principal with its arguments), so that a bad suite is refused before
    any run starts: a ``SuiteError`` naming the suite file, the key and the value."""

    def refused(key: str, value: Any, error: Exception) -> SuiteError:
        said = " ".join(str(error).split())  # one line, whatever the error's own shape
        return SuiteError(f"suite {suite.source}: {key} = {value!r}: {said}")

    if suite.env not in gym.registry:
        games = sorted(i for i in gym.registry if i.startswith("Mermaide/"))
        raise SuiteError(f"suite {suite.source}: env = {suite.env!r}: not a registered "
                         f"Gymnasium id (mermaide's games: {games})")
    if suite.population_kind != NO_TASKS:
        arguments = env_arguments(suite.env)
        if arguments is not None and suite.task_argument not in arguments:
            raise SuiteError(f"suite {suite.source}: task_argument = {suite.task_argument!r}: "
                             f"{suite.env} takes no such argument; its arguments: "
                             f"{', '.join(arguments)}")
    try:
        sets = task_sets(suite)
    except Exception as error:
        raise refused("populations", {"kind": suite.population_kind,
                                      "train": suite.train_population,
                                      "test": suite.test_population,
                                      **suite.population_kwargs}, error) from error
    for variant in variants_of(suite):
        env_kwargs = {**suite.env_kwargs, **dict(variant)}
        for population in (sets["train"], sets["test_population"]):
            try:
                env = make_game(suite, env_kwargs, population)
                env.reset(seed=0)
                env.close()
            except Exception as error:
                key, value = (("sweep", dict(variant)) if variant
                              else ("env_kwargs", dict(suite.env_kwargs)))
                raise refused(key, value, error) from error
    if suite.heatmap is not None:
        try:
            check_heatmap(suite, suite.heatmap)
        except Exception as error:
            raise refused("heatmap", dataclasses.asdict(suite.heatmap), error) from error
    for name in suite.principals:
        kwargs = dict(suite.principal_kwargs.get(name, {}))
        try:
            make(suite.entry_point(name), **kwargs)
        except UnknownNameError as error:
            key = f"aliases.{name}" if name in suite.aliases else "principals"
            raise refused(key, suite.entry_point(name), error) from error
        except Exception as error:
            raise refused(f"principal_kwargs.{name}", kwargs, error) from error


def env_arguments(env_id: str) -> list[str] | None:
    """The keyword arguments the registered env ``env_id`` takes (None: any, or unknown)."""
    entry_point = gym.registry[env_id].entry_point
    if entry_point is None:
        return None
    try:
        creator = (load_env_creator(entry_point) if isinstance(entry_point, str)
                   else entry_point)
        parameters = inspect.signature(creator).parameters.values()
    except (TypeError, ValueError):  # an entry point without a readable signature
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return [p.name for p in parameters]


def check_heatmap(suite: Suite, config: Heatmap) -> None:
    """Build what ``behaviour_heatmap`` builds (its population, the game with its agent, an
    agent for every row), without playing."""
    reference = make_population("agents", config.population).sample(np.random.default_rng(0))
    gym.make(suite.env, **{**suite.env_kwargs, suite.task_argument: reference}).close()
    for beta in config.betas:
        check_learner_params(config.learner, {config.parameter: float(beta)},
                             argument="heatmap", batch=(1, reference.n_arms))


def make_population(kind: str, name: str, **kwargs: Any) -> Any:
    """The population ``name`` of ``kind``; an unknown kind raises
    ``mermaide.registry.UnknownNameError`` listing the known kinds."""
    return POPULATION_FACTORIES.get(kind)(name, **kwargs)


def _stream_seeds(seed: int) -> dict[str, int]:
    names = ("train", "curve", "evaluation", "heatmap")
    states = np.random.SeedSequence(seed).spawn(len(names))
    return {name: int(s.generate_state(1)[0]) for name, s in zip(names, states, strict=True)}


def task_sets(suite: Suite) -> dict[str, Any]:
    """The suite's task sets, from ``evaluation.task_seed`` only: ``train`` (the training
    population, or with ``train_size`` a fixed set drawn from it), ``test`` (the held-out
    tasks) and ``curve`` (the learning curve's held-out tasks). A game without tasks: no
    populations (None) and lists of None, one per play of the game."""
    if suite.population_kind == NO_TASKS:
        return {"train": None, "test_population": None, "test": [None] * suite.evaluation.tasks,
                "curve": [None] * suite.evaluation.curve_tasks}
    train = make_population(suite.population_kind, suite.train_population,
                            **suite.population_kwargs)
    test = make_population(suite.population_kind, suite.test_population,
                           **suite.population_kwargs)
    rngs = task_generators(suite.evaluation.task_seed)
    if suite.train_size is not None:
        train = fixed_training_set(train, suite.train_size, rngs["train"])
    return {"train": train, "test_population": test,
            "test": draw_tasks(test, suite.evaluation.tasks, rngs["test"]),
            "curve": draw_tasks(test, suite.evaluation.curve_tasks, rngs["curve"])}


def evaluation_seed(stream: int, task: int) -> int:
    """The seed of task ``task``'s episodes (adaptation, then scored), the same at every
    number of shots: ``evaluate`` then plays the same scored episodes at 0 and K shots, so the
    K-shot gain of one run is a paired difference."""
    return int(np.random.SeedSequence((stream, task)).generate_state(1)[0])


def evaluate_tasks(principal: Any, env: gym.Env, tasks: list[Any], episodes: int, stream: int,
                   shots: int) -> dict[str, list[Any]]:
    """``evaluate`` task by task, each task from its own ``evaluation_seed``; the per-episode
    lists of the run file (``tasks`` holds each episode's task index)."""
    rows: dict[str, list[Any]] = {"returns": [], "target_rates": [], "interventions": [],
                                  "costs": [], "tasks": []}
    for t, task in enumerate(tasks):
        stats = evaluate(principal, env, episodes, evaluation_seed(stream, t),
                         shots=shots, tasks=[task])
        rows["returns"] += stats.returns.tolist()
        rows["target_rates"] += stats.target_rates.tolist()
        rows["interventions"] += stats.interventions.tolist()
        rows["costs"] += stats.costs.tolist()
        rows["tasks"] += [t] * stats.episodes
    return rows


def run_job(job: Job, log_dir: Path | None = None, progress: bool = False) -> dict[str, Any]:
    """The run's results. A principal whose ``meta_train`` takes the protocol's optional
    keywords gets a logger writing its learning curve to ``log_dir/progress.csv`` (SB3's CSV
    format) and, with ``progress``, the run's bar over all its training chunks; without
    ``progress`` (the runner's worker processes, whose bars would interleave) none."""
    suite = job.suite
    env_kwargs = {**suite.env_kwargs, **dict(job.variant)}
    sets = task_sets(suite)
    train, test = sets["train"], sets["test_population"]
    seeds = _stream_seeds(job.seed)

    def make_env(population: Any) -> gym.Env:
        return make_game(suite, env_kwargs, population)

    def env_fn() -> gym.Env:
        # A plain learner that ignores the population still trains on training agents.
        return make_env(train)

    evaluation = suite.evaluation
    tasks, curve_tasks = sets["test"], sets["curve"]
    eval_env = make_env(test)

    principal = make(suite.entry_point(job.principal),
                     **dict(suite.principal_kwargs.get(job.principal, {})))
    accepted = monitor_keywords(principal)
    bar = (tqdm(total=evaluation.train_steps, desc=job.key, unit="step", leave=False)
           if progress else None)
    logger = (configure(str(log_dir), ["csv"])
              if log_dir is not None and "logger" in accepted else None)
    monitoring = {key: value for key, value in (("progress", False if bar is None else bar),
                                                ("logger", logger)) if key in accepted}
    curve = []
    started = time.time()
    chunk = evaluation.train_steps // evaluation.curve_points
    trained = 0
    try:
        for point in range(evaluation.curve_points):
            steps = (chunk if point < evaluation.curve_points - 1
                     else evaluation.train_steps - trained)
            if steps > 0:
                principal.meta_train(env_fn, train, steps, seeds["train"] + point, **monitoring)
            trained += steps
            # One evaluation seed for every point: the points differ only by training, so
            # the report's change between the last two is paired.
            stats = evaluate(principal, eval_env, 1, seeds["curve"], shots=0,
                             tasks=curve_tasks)
            curve.append({"steps": trained, **stats.summary()})
    finally:
        if bar is not None:
            bar.close()
        if logger is not None:
            logger.close()
    train_seconds = time.time() - started

    started = time.time()
    by_shots = {}
    references = [task_reference_value(eval_env, task, suite.task_argument, suite.reference)
                  for task in tasks]
    for shots in suite.shots:
        rows = evaluate_tasks(principal, eval_env, tasks, evaluation.episodes,
                              seeds["evaluation"], shots)
        returns, index = np.asarray(rows["returns"]), np.asarray(rows["tasks"])
        by_shots[str(shots)] = {
            **rows,
            "reference_values": [references[t] for t in rows["tasks"]],
            # Per-task scores (mean over the task's scored episodes), task t at index t.
            "task_returns": [float(returns[index == t].mean()) for t in range(len(tasks))],
        }
    eval_seconds = time.time() - started
    heatmap = None
    if suite.heatmap is not None:
        heatmap = behaviour_heatmap(principal, suite, suite.heatmap, env_kwargs,
                                    seeds["heatmap"])
    return {
        "principal": job.principal,
        "seed": job.seed,
        "variant": dict(job.variant),
        "curve": curve,
        "shots": by_shots,
        "heatmap": heatmap,
        # Which tasks were met: the same for every run of the suite (paired comparisons).
        "test_tasks": [fingerprint(task) for task in tasks],
        "train_set": None if suite.train_size is None else [fingerprint(t) for t in train.tasks],
        # A tuned schedule's chosen parameters (``front-loaded-tuned``, ``periodic-tuned``).
        "chosen": chosen if isinstance(chosen := getattr(principal, "chosen", None), dict)
        else None,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
    }


def task_reference_value(env: gym.Env, task: Any, task_key: str,
                         reference: Reference | None = None) -> float | None:
    """The game's reference return for a task, if the game reports the per-round value in its
    reset info (``reference.key``, by default ``equilibrium_value``; None otherwise): that
    value times the scored rounds of an episode (``reference.rounds``: an integer, or an env
    attribute, by default ``horizon``, read as 1 when the env has none), so that it compares
    with an episode's return (e.g. the Stackelberg value times the repeated game's rounds)."""
    reference = Reference() if reference is None else reference
    _, info = env.reset(options={task_key: task})
    value = info.get(reference.key)
    if value is None:
        return None
    rounds = reference.rounds
    if isinstance(rounds, str):
        rounds = env.get_wrapper_attr(rounds) if hasattr(env.unwrapped, rounds) else 1
    return float(value) * int(rounds)


def behaviour_heatmap(principal: Any, suite: Suite, config: Heatmap,
                      env_kwargs: dict[str, Any], seed: int) -> dict[str, Any]:
    """The paper's Figures 4/5: for a fixed agent payoff vector and agents of
    ``config.learner`` with different values of its ``config.parameter`` (rows; the paper's
    UCB beta), how often the agent picks the target arm at each step (columns), under this
    principal as meta-trained (0-shot). Frequencies are over ``episodes`` seeded episodes."""
    fixed = make_population("agents", config.population)
    reference = fixed.sample(np.random.default_rng(0))
    env = gym.make(suite.env, **{**env_kwargs, suite.task_argument: reference})
    horizon = int(env.get_wrapper_attr("horizon"))
    target_frequency, best_frequency = [], []
    rng = np.random.default_rng(seed)
    for beta in config.betas:
        spec = AgentSpec(config.learner, {config.parameter: float(beta)}, reference.rewards,
                         reference.target)
        hits = np.zeros(horizon)
        best = np.zeros(horizon)
        for _ in range(config.episodes):
            actions = play_episode(principal, env, spec, int(rng.integers(2**31)),
                                   suite.task_argument)
            hits += actions == spec.target
            best += actions == spec.best_arm
        target_frequency.append((hits / config.episodes).tolist())
        best_frequency.append((best / config.episodes).tolist())
    return {"population": config.population, "learner": config.learner,
            "parameter": config.parameter, "betas": list(config.betas),
            "target": reference.target, "best_arm": reference.best_arm,
            "target_frequency": target_frequency, "best_frequency": best_frequency}


def play_episode(principal: Any, env: gym.Env, task: Any, seed: int, task_key: str
                 ) -> np.ndarray:
    """The agent's true action at every step of one episode of ``task`` (the reset option
    ``task_key``) against ``principal``."""
    obs, info = env.reset(seed=seed, options={task_key: task})
    begin_episode(principal, info)
    state: Any = None
    actions = []
    done = False
    while not done:
        action, state = principal.act(obs, state)
        obs, _, terminated, truncated, info = env.step(action)
        after_step(principal, info)
        actions.append(info["agent_action"])
        done = bool(terminated or truncated)
    return np.array(actions)

"""One benchmark run: meta-train a principal on the training population, then score it 0-shot
and K-shot on held-out tasks (DESIGN.md's evaluation protocol), with the learning curve and,
for bandit suites, the paper's behaviour heat map.

Everything random flows from the job's seed: the seed is split into independent streams for
training, held-out tasks, learning-curve tasks, evaluation and the heat map.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

import mermaide  # noqa: F401  (registers the environments in worker processes)
from mermaide.agents import AgentSpec
from mermaide.principal import begin_episode, evaluate, make

if TYPE_CHECKING:
    from mermaide.bench.runner import Job

# Population kinds -> "module:factory(name, **kwargs)"; imported on use.
POPULATION_FACTORIES = {
    "agents": "mermaide.agents:population",
    "games": "mermaide.envs.stackelberg:game_population",
}


def make_population(kind: str, name: str, **kwargs: Any) -> Any:
    module, _, attribute = POPULATION_FACTORIES[kind].partition(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), attribute)
    return factory(name, **kwargs)


def _stream_seeds(seed: int) -> dict[str, int]:
    names = ("train", "tasks", "curve", "evaluation", "heatmap")
    states = np.random.SeedSequence(seed).spawn(len(names))
    return {name: int(s.generate_state(1)[0]) for name, s in zip(names, states, strict=True)}


def run_job(job: Job) -> dict[str, Any]:
    suite = job.suite
    env_kwargs = {**suite.env_kwargs, **dict(job.variant)}
    train = make_population(suite.population_kind, suite.train_population,
                            **suite.population_kwargs)
    test = make_population(suite.population_kind, suite.test_population,
                           **suite.population_kwargs)
    seeds = _stream_seeds(job.seed)

    def env_fn() -> gym.Env:
        # A plain learner that ignores the population still trains on training agents.
        return gym.make(suite.env, **{**env_kwargs, suite.task_argument: train})

    evaluation = suite.evaluation
    task_rng = np.random.default_rng(seeds["tasks"])
    tasks = [test.sample(task_rng) for _ in range(evaluation.tasks)]
    curve_rng = np.random.default_rng(seeds["curve"])
    curve_tasks = [test.sample(curve_rng) for _ in range(evaluation.curve_tasks)]
    eval_env = gym.make(suite.env, **{**env_kwargs, suite.task_argument: test})

    principal = make(job.principal, **dict(suite.principal_kwargs.get(job.principal, {})))
    curve = []
    started = time.time()
    chunk = evaluation.train_steps // evaluation.curve_points
    trained = 0
    for point in range(evaluation.curve_points):
        steps = chunk if point < evaluation.curve_points - 1 else evaluation.train_steps - trained
        if steps > 0:
            principal.meta_train(env_fn, train, steps, seeds["train"] + point)
        trained += steps
        stats = evaluate(principal, eval_env, 1, seeds["curve"] + point, shots=0,
                         tasks=curve_tasks)
        curve.append({"steps": trained, **stats.summary()})
    train_seconds = time.time() - started

    started = time.time()
    by_shots = {}
    references = [task_reference_value(eval_env, task, suite.task_argument) for task in tasks]
    for shots in suite.shots:
        stats = evaluate(principal, eval_env, evaluation.episodes, seeds["evaluation"] + shots,
                         shots=shots, tasks=tasks)
        by_shots[str(shots)] = {
            "returns": stats.returns.tolist(),
            "target_rates": stats.target_rates.tolist(),
            "interventions": stats.interventions.tolist(),
            "costs": stats.costs.tolist(),
            "tasks": stats.tasks.tolist(),
            "reference_values": [references[t] for t in stats.tasks.tolist()],
        }
    eval_seconds = time.time() - started
    heatmap = None
    if suite.heatmap is not None:
        heatmap = behaviour_heatmap(principal, suite, env_kwargs, seeds["heatmap"])
    return {
        "principal": job.principal,
        "seed": job.seed,
        "variant": dict(job.variant),
        "curve": curve,
        "shots": by_shots,
        "heatmap": heatmap,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
    }


def task_reference_value(env: gym.Env, task: Any, task_key: str) -> float | None:
    """The game's reference return for a task, if the game reports an ``equilibrium_value`` in
    its reset info (None otherwise): the per-round Stackelberg value times the rounds of an
    episode, so that it compares with an episode's return."""
    _, info = env.reset(options={task_key: task})
    value = info.get("equilibrium_value")
    if value is None:
        return None
    rounds = env.get_wrapper_attr("horizon") if hasattr(env.unwrapped, "horizon") else 1
    return float(value) * int(rounds)


def behaviour_heatmap(principal: Any, suite: Any, env_kwargs: dict[str, Any], seed: int
                      ) -> dict[str, Any]:
    """The paper's Figures 4/5: for a fixed agent payoff vector and UCB agents with different
    beta (rows), how often the agent picks the target arm at each step (columns), under this
    principal as meta-trained (0-shot). Frequencies are over ``episodes`` seeded episodes."""
    config = suite.heatmap
    fixed = make_population("agents", config.population)
    reference = fixed.sample(np.random.default_rng(0))
    env = gym.make(suite.env, **{**env_kwargs, suite.task_argument: reference})
    horizon = int(env.get_wrapper_attr("horizon"))
    target_frequency, best_frequency = [], []
    rng = np.random.default_rng(seed)
    for beta in config.betas:
        spec = AgentSpec("ucb", {"beta": float(beta)}, reference.rewards, reference.target)
        hits = np.zeros(horizon)
        best = np.zeros(horizon)
        for _ in range(config.episodes):
            actions = play_episode(principal, env, spec, int(rng.integers(2**31)))
            hits += actions == spec.target
            best += actions == spec.best_arm
        target_frequency.append((hits / config.episodes).tolist())
        best_frequency.append((best / config.episodes).tolist())
    return {"population": config.population, "betas": list(config.betas),
            "target": reference.target, "best_arm": reference.best_arm,
            "target_frequency": target_frequency, "best_frequency": best_frequency}


def play_episode(principal: Any, env: gym.Env, task: Any, seed: int) -> np.ndarray:
    """The agent's true action at every step of one episode against ``principal``."""
    obs, info = env.reset(seed=seed, options={"agent": task})
    begin_episode(principal, info)
    state: Any = None
    actions = []
    done = False
    while not done:
        action, state = principal.act(obs, state)
        obs, _, terminated, truncated, info = env.step(action)
        actions.append(info["agent_action"])
        done = bool(terminated or truncated)
    return np.array(actions)

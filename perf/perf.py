"""The performance benchmark of mermaide: ``make perf``.

Measures, side by side in one run on one machine, the targets of the performance issue:

1. single environment: ``gym.make("Mermaide/Bandit-v0")`` (default wrappers, random principal
   actions), steps per second: a reported figure, no longer a target (measured side by side,
   SB3's PPO trains on the bandit env at 0.82-0.90x of its CartPole rate: the single env is
   not a client's bottleneck);
2. batched core: B=4096 agents x 10 arms, agent-steps per second of ``BanditCore`` vs the
   per-agent Python loop of ``perf/loops.py``, for every learner kind; targets for UCB:
   >= 50x the loop and >= 5 million agent-steps/s on one core;
3. vector envs: ``gym.make_vec(..., num_envs=256)`` (native ``BanditVectorEnv``) vs
   ``SyncVectorEnv`` over the same env; target >= 20x;
4. memory: B=100,000 UCB agents x 10 arms in the core, peak RSS above an interpreter that
   imported the same modules and built the same agent specs; target < 100 MB;
5. meta-training of ``reinforce``, ``maml`` and ``mermaide`` (configs: ``PERF_CONFIGS``, or
   ``--set``) on the machine's cores: agent-steps per second of the batched path
   (``toolkit.VectorGame``) and of the reference path that steps N single envs one by one
   (``perf/reference.py``), the same training code but for the game; a cProfile split
   of simulation vs learning; FLOPs per agent-step against the measured matmul rate. Targets:
   batched >= 20x the reference for ``reinforce``, >= 10x for ``maml`` and ``mermaide``;
   >= 100,000 agent-steps/s for ``reinforce`` and >= 40,000 for ``mermaide``.

Targets 1-4 are single-threaded (numpy's element-wise work runs on one core; BLAS threads
are limited to one) and timed in CPU time of the benchmark process, so that other jobs on a
shared machine do not distort them; on an idle machine this equals wall-clock time. Target 5
runs torch on every core (``torch.set_num_threads(os.cpu_count())``) and is timed on the wall
clock. The table is printed and written (atomically) to ``benchmarks/results/perf.md`` with a
description of the machine; the exit status is 1 when a target is missed, 0 otherwise.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import json
import math
import os
import platform
import pstats
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# One thread for any BLAS call numpy makes, so targets 1-4 measure one core.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
# Benchmark the checkout this file lives in, whatever mermaide is installed.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from loops import LOOP_LEARNERS, run_loop_episode  # noqa: E402

import mermaide  # noqa: E402,F401  (registers the environments)
from mermaide.agents import AgentPopulation, LearnerFamily, population  # noqa: E402
from mermaide.agents import make as make_learner  # noqa: E402
from mermaide.bench.store import write_text  # noqa: E402
from mermaide.envs import BanditCore, Knobs  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "perf.md"
# Targets 1-4 are single-threaded and timed in CPU seconds of this process: on a machine
# shared with other jobs, wall-clock time would mostly measure the others. Meta-training
# (target 5, several threads) is timed on the wall clock.
clock = time.process_time
KINDS = list(LOOP_LEARNERS)
ENV_ID = "Mermaide/Bandit-v0"


@dataclass
class Row:
    """One line of the results table."""

    target: str
    measured: str
    required: str
    passed: bool | None  # None: reported, not a target

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "MISSED", None: "report"}[self.passed]


def best_rate(measure: Callable[[], float], repeats: int) -> float:
    """The best of several rates: the run least disturbed by other processes."""
    return max(measure() for _ in range(repeats))


# --- 1. single environment ----------------------------------------------------------------

def single_env_rate(env_id: str, n_actions: int, steps: int, seed: int) -> float:
    env = gym.make(env_id)
    actions = np.random.default_rng(seed).integers(n_actions, size=steps).tolist()
    env.reset(seed=seed)
    step, reset = env.step, env.reset
    start = clock()
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
        if terminated or truncated:
            reset()
    elapsed = clock() - start
    env.close()
    return steps / elapsed


def bench_single(rounds: int, steps: int) -> tuple[Row, dict[str, float]]:
    """The single env's step rate: a reported figure (target 1 is retired)."""
    n_actions = gym.make(ENV_ID).action_space.n  # type: ignore[attr-defined]
    rate = float(np.median([single_env_rate(ENV_ID, n_actions, steps, r)
                            for r in range(rounds)]))
    row = Row(f'1. single env `gym.make("{ENV_ID}")`, steps/s (retired as a target)',
              f"{rate:,.0f}", "report", None)
    return row, {"bandit": rate}


def single_env_breakdown(steps: int, repeats: int) -> dict[str, float]:
    """Microseconds per step of each layer at B=1 (UCB agent, random principal actions),
    the best of ``repeats``: where the single env's time goes."""
    from mermaide.envs import BanditEnv

    actions = np.random.default_rng(0).integers(11, size=steps).tolist()
    batched = [np.array([a]) for a in actions]
    a, b = np.zeros((1, 10)), np.ones((1, 10))

    def wrapped_or_bare(env: gym.Env[Any, Any]) -> float:
        env.reset(seed=0)
        start = clock()
        for action in actions:
            if env.step(action)[2]:
                env.reset()
        return (clock() - start) / steps * 1e6

    def core() -> float:
        env = BanditEnv()
        spec = env.reset(seed=0)[1]["agent"]
        rng = np.random.default_rng(0)
        start = clock()
        for principal_actions in batched:
            if env.core.step(principal_actions, rng)[2]:
                env.core.reset([spec], rng)
        return (clock() - start) / steps * 1e6

    def learner() -> float:
        # The batched UCB learner alone at B=1 (choice + update, every arm tried): a floor
        # under any single env built on the one implementation, whatever the game costs.
        ucb = make_learner("ucb")
        rng = np.random.default_rng(0)
        ucb.reset(1, 10, rng)
        reward = np.array([0.5])
        for _ in range(10):
            ucb.update(ucb.act(rng), reward)
        start = clock()
        for _ in range(steps):
            ucb.update(ucb.act(rng), reward)
        return (clock() - start) / steps * 1e6

    def numpy_call() -> float:
        start = clock()
        for _ in range(steps):
            np.add(a, b)
        return (clock() - start) / steps * 1e6

    timers = {"gym.make env: wrappers + BanditEnv + core":
                  lambda: wrapped_or_bare(gym.make(ENV_ID)),
              "BanditEnv.step: env + core": lambda: wrapped_or_bare(BanditEnv()),
              "BanditCore.step, B=1": core,
              "CartPole-v1 via gym.make, for comparison":
                  lambda: 1e6 / single_env_rate("CartPole-v1", 2, steps, 0),
              "one numpy call (np.add on (1, 10) arrays)": numpy_call,
              "the UCB learner alone at B=1: act + update": learner}
    return {name: min(timer() for _ in range(repeats)) for name, timer in timers.items()}


# The numpy calls one BanditCore.step makes at B=1 with the default knobs and a UCB agent
# once every arm is tried, counted in the code: ledger and cost 4, the agent's choice 6, the
# flat index 1, the reward draw 4, the bonus 4, the learner's update 9, principal reward and
# counters 5, the observation 7.
CORE_NUMPY_CALLS = 40


def single_env_note(breakdown: dict[str, float]) -> str:
    values = list(breakdown.values())
    wrapped, core, cartpole, call, learner = values[0], values[2], values[3], values[4], \
        values[5]
    return (f"Target 1 (the single env at CartPole's step rate) is retired: measured side by "
            f"side, SB3's PPO trains on `{ENV_ID}` at 0.82-0.90x of its CartPole rate (the "
            f"issue's measurement, not repeated here), so the single env is not a client's "
            f"bottleneck; its step rate stays a reported figure ({1e6 / wrapped:,.0f} "
            f"steps/s here, {cartpole / wrapped:.2f}x CartPole's raw step rate). Where the "
            f"time goes: one `BanditCore.step` makes about {CORE_NUMPY_CALLS} numpy calls "
            f"(ledger and cost, the learner's choice and update, the reward draw, the bonus, "
            f"the principal's reward and counters, the observation) at {call:.2f} us each on "
            f"tiny arrays, {CORE_NUMPY_CALLS * call:.0f} us of call overhead against "
            f"{core:.0f} us measured for the core step (the batched UCB learner alone: "
            f"{learner:.1f} us). The project keeps one batched implementation for every B "
            f"(the single env is its B=1 case): the batched core and the vector env are "
            f"where the speed is.")


def profile_single(steps: int) -> str:
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(11, size=steps).tolist()
    profiler = cProfile.Profile()
    profiler.enable()
    for action in actions:
        if env.step(action)[2]:
            env.reset()
    profiler.disable()
    return top_entries(profiler, 14)


def top_entries(profiler: cProfile.Profile, n: int) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.strip_dirs().sort_stats("tottime").print_stats(n)
    lines = stream.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    head = [line for line in lines[:start] if "function calls" in line]
    return "\n".join([*(h.strip() for h in head), *lines[start:]]).rstrip()


# --- 2. batched core vs per-agent loop ------------------------------------------------------

def draw_agents(kind: str, batch: int, n_arms: int, seed: int
                ) -> tuple[list[Any], np.ndarray, np.ndarray]:
    pop = AgentPopulation((LearnerFamily(kind),), n_arms=n_arms, name=kind)
    specs = pop.sample_many(batch, np.random.default_rng(seed))
    return (specs, np.stack([s.rewards for s in specs]),
            np.array([s.target for s in specs]))


def core_rate(kind: str, batch: int, n_arms: int, horizon: int, seed: int) -> float:
    """Agent-steps/s of BanditCore over one whole episode, reset included."""
    specs, _, _ = draw_agents(kind, batch, n_arms, seed)
    rng = np.random.default_rng(seed)
    principal_actions = rng.integers(n_arms + 1, size=(horizon, batch))
    core = BanditCore(n_arms, horizon, batch, Knobs(), 1.0, 0.1)
    start = clock()
    core.reset(specs, rng)
    for actions in principal_actions:
        core.step(actions, rng)
    return batch * horizon / (clock() - start)


def loop_rate(kind: str, batch: int, n_arms: int, horizon: int, seed: int) -> float:
    _, rewards, targets = draw_agents(kind, batch, n_arms, seed)
    rng = np.random.default_rng(seed)
    principal_actions = rng.integers(n_arms + 1, size=(horizon, batch))
    start = clock()
    run_loop_episode(kind, rewards, targets, principal_actions, rng)
    return batch * horizon / (clock() - start)


def bench_core(batch: int, loop_batch: int, horizon: int, repeats: int
               ) -> tuple[list[Row], list[tuple[str, float, float]]]:
    rows, details = [], []
    for kind in KINDS:
        batched = best_rate(lambda k=kind: core_rate(k, batch, 10, horizon, 1), repeats)
        loop = best_rate(lambda k=kind: loop_rate(k, loop_batch, 10, horizon, 1),
                         repeats)
        details.append((kind, batched, loop))
        if kind == "ucb":
            rows.append(Row(f"2. batched core B={batch} UCB x 10 arms vs per-agent loop",
                            f"{batched / loop:.0f}x", ">= 50x", batched / loop >= 50))
            rows.append(Row(f"2. batched core B={batch} UCB, agent-steps/s on one core",
                            f"{batched / 1e6:.2f} M", ">= 5 M", batched >= 5e6))
    return rows, details


# --- 3. vector envs -------------------------------------------------------------------------

def vector_rate(mode: str | None, num_envs: int, steps: int, seed: int) -> tuple[float, str]:
    kwargs = {} if mode is None else {"vectorization_mode": mode}
    envs = gym.make_vec(ENV_ID, num_envs=num_envs, **kwargs)
    actions = np.random.default_rng(seed).integers(11, size=(steps, num_envs))
    envs.reset(seed=seed)
    start = clock()
    for step_actions in actions:
        envs.step(step_actions)
    elapsed = clock() - start
    name = type(envs).__name__
    envs.close()
    return num_envs * steps / elapsed, name


def bench_vector(num_envs: int, steps: int, repeats: int) -> tuple[Row, dict[str, Any]]:
    native = [vector_rate(None, num_envs, steps, r) for r in range(repeats)]
    sync = vector_rate("sync", num_envs, steps, 0)
    best = max(rate for rate, _ in native)
    ratio = best / sync[0]
    row = Row(f"3. make_vec N={num_envs}: native vs SyncVectorEnv (env-steps/s)",
              f"{ratio:.0f}x ({best:,.0f} vs {sync[0]:,.0f})", ">= 20x",
              ratio >= 20 and native[0][1] == "BanditVectorEnv")
    return row, {"native": best, "native_class": native[0][1], "sync": sync[0],
                 "sync_class": sync[1]}


# --- 4. memory ------------------------------------------------------------------------------

_MEMORY_SCRIPT = textwrap.dedent("""
    import resource, sys
    def peak_kib():
        # VmHWM: this process's own peak RSS. ru_maxrss would do on a fresh process, but
        # Linux carries it over exec from the process that spawned this one (vfork), so a
        # big parent would hide every reading here.
        try:
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.path.insert(0, {root!r})
    import gymnasium, numpy as np
    import mermaide
    from mermaide.agents import AgentBatch, AgentSpec
    from mermaide.envs import BanditCore, Knobs
    imported = peak_kib()
    B, K = {batch}, {n_arms}
    rng = np.random.default_rng(0)
    rewards = rng.random((B, K))
    targets = (rewards.argmax(axis=1) + 1 + rng.integers(K - 1, size=B)) % K
    if {as_specs}:
        specs = [AgentSpec("ucb", {{}}, rewards[i], int(targets[i])) for i in range(B)]
        del rewards, targets
    else:
        specs = AgentBatch((("ucb", {{}}, np.arange(B)),), rewards, targets)
    with_specs = peak_kib()
    if {run_core}:
        core = BanditCore(K, {horizon}, B, Knobs(), 1.0, 0.1)
        core.reset(specs, rng)
        actions = np.zeros(B, dtype=np.int64)
        for t in range({horizon}):
            actions[:] = rng.integers(K + 1, size=B)
            core.step(actions, rng)
    print(imported, with_specs, peak_kib())
""")


def peak_rss_kib(run_core: bool, batch: int, n_arms: int, horizon: int,
                 as_specs: bool = False) -> list[int]:
    script = _MEMORY_SCRIPT.format(root=str(ROOT), batch=batch, n_arms=n_arms,
                                   horizon=horizon, run_core=run_core, as_specs=as_specs)
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True).stdout
    return [int(v) for v in out.split()]


def bench_memory(batch: int, horizon: int) -> tuple[Row, dict[str, float]]:
    """Peak RSS above an interpreter that imported the same modules, of the core and its
    input: the B agents as one ``AgentBatch`` (the target), and as B ``AgentSpec`` objects
    (reported: the Python objects, not the core, dominate then)."""
    mib = 1024.0
    result: dict[str, float] = {}
    for label, as_specs in (("batch", False), ("specs", True)):
        baseline = peak_rss_kib(False, batch, 10, horizon, as_specs)
        measured = peak_rss_kib(True, batch, 10, horizon, as_specs)
        result[f"{label}_inputs_mb"] = (baseline[1] - baseline[0]) / mib
        result[f"{label}_core_mb"] = (measured[2] - baseline[2]) / mib
        result[f"{label}_total_mb"] = (measured[2] - baseline[0]) / mib
    # The batch's own size, counted: the peak-RSS difference cannot see it under the
    # import's own (higher) peak.
    result["batch_array_mb"] = (2 * batch * 10 * 8 + batch * 8) / 2**20
    total = result["batch_total_mb"]
    # The core's state alone is larger than its input batch: a difference below the batch's
    # own size means the baseline's import peak hid the measurement (an import that got
    # heavier), not that the core is free.
    seen = total >= result["batch_array_mb"]
    row = Row(f"4. memory, B={batch:,} UCB x 10 arms, core + its AgentBatch input, peak RSS "
              f"above baseline", f"{total:.1f} MB (as {batch:,} AgentSpec objects: "
              f"{result['specs_total_mb']:.1f} MB)" + ("" if seen else "; not measurable: "
              "below the batch's own size, hidden under the import's peak"), "< 100 MB",
              seen and total < 100)
    return row, result


# --- 5. meta-training: batched vs reference path ---------------------------------------------

# The principal configs timed: each principal's default config plus these overrides (and
# those of --set NAME.FIELD=VALUE on the command line).
PERF_CONFIGS: dict[str, dict[str, Any]] = {"reinforce": {}, "maml": {}, "mermaide": {}}
# The quick bench suite's game (bandit-ood) and its training population.
BANDIT_KWARGS: dict[str, Any] = {"n_arms": 10, "horizon": 100, "intervention_budget": 20,
                                 "intervention_cost": 0.05}
TRAIN_POPULATION = "train"
# (batched / reference ratio, batched agent-steps/s) required per principal; None: no target.
META_TARGETS: dict[str, tuple[float, float | None]] = {
    "reinforce": (20.0, 100_000.0), "maml": (10.0, None), "mermaide": (10.0, 40_000.0)}
# The batch field each principal's scaling table varies, and its values.
SCALING = {"reinforce": ("episodes_per_batch", (16, 64, 256, 1024)),
           "maml": ("meta_batch", (8, 32, 128)), "mermaide": ("meta_batch", (8, 32, 128))}
PATHS = ("batched", "reference")

# The simulator: the games, the learners and Gymnasium's env plumbing (wrappers, vector envs
# and the Env/Wrapper base classes, through which wrapper calls pass: leaving them out would
# count the inner env's time a second time), and the single-env loop of perf/reference.py.
_SIM_DIRS = (os.path.join("mermaide", "envs"), os.path.join("mermaide", "agents"),
             os.path.join("gymnasium", "wrappers"), os.path.join("gymnasium", "vector"),
             os.path.join("gymnasium", "core.py"), os.path.join("gymnasium", "utils"))
_REFERENCE_FILE = os.path.join("perf", "reference.py")


def _is_sim(func: tuple[str, int, str]) -> bool:
    if func[0].endswith(_REFERENCE_FILE):
        from reference import SIMULATION

        return func[2] in SIMULATION
    return any(d in func[0] for d in _SIM_DIRS)


def simulation_seconds(stats: pstats.Stats) -> float:
    """Time inside the simulator (games, learners, Gymnasium wrappers), counted once: the
    cumulative time of simulator functions as called from outside the simulator."""
    total = 0.0
    for func, (_, _, _, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if not _is_sim(func):
            continue
        for caller, caller_stats in callers.items():
            if not _is_sim(caller):
                total += caller_stats[3]
    return total


def bandit_env() -> gym.Env[Any, Any]:
    return gym.make(ENV_ID, **BANDIT_KWARGS)


def perf_config(name: str, overrides: dict[str, Any]) -> Any:
    """Principal ``name``'s default config with ``overrides`` (a config dataclass)."""
    from mermaide.principal.maml import MAMLConfig
    from mermaide.principal.mermaide import MermaideConfig
    from mermaide.principal.reinforce import ReinforceConfig
    from mermaide.principal.toolkit import config_from

    cls = {"reinforce": ReinforceConfig, "maml": MAMLConfig, "mermaide": MermaideConfig}[name]
    return config_from(cls, None, overrides)


def describe_config(name: str, config: Any, overrides: dict[str, Any]) -> str:
    c = config
    parts = [f"{c.policy.upper()} {c.hidden_size}"]
    if name == "reinforce":
        parts.append(f"episodes_per_batch={c.episodes_per_batch}")
    else:
        parts += [f"meta_batch={c.meta_batch}", f"shots={c.shots}",
                  f"query_episodes={c.query_episodes}",
                  "first order" if c.first_order else "second order"]
    if name == "mermaide":
        parts.append(f"world model GRU {c.world_model.hidden_size}, "
                     f"model_episodes={c.model_episodes}")
    shown = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "none"
    return f"{type(c).__name__} defaults, overrides: {shown} ({'; '.join(parts)})"


def make_training(name: str, config: Any, path: str, world_model: Any) -> Any:
    """Principal ``name``'s meta-training set up on ``path``'s game (reference.Training)."""
    from reference import TRAININGS, loop_game

    from mermaide.principal.toolkit import VectorGame

    factory = VectorGame.make if path == "batched" else loop_game
    extra = {"world_model": world_model} if name == "mermaide" else {}
    return TRAININGS[name](bandit_env, population(TRAIN_POPULATION), 0, config, factory,
                           **extra)


def timed_training(name: str, config: Any, path: str, steps: int, world_model: Any,
                   profiler: cProfile.Profile | None = None) -> tuple[int, float]:
    """(agent steps played, wall-clock seconds) of ``run(steps)`` on a fresh set-up, after one
    untimed warm-up batch (lazy initialisation in torch, first resets)."""
    training = make_training(name, config, path, world_model)
    try:
        training.run(1)
        if profiler is not None:
            profiler.enable()
        start = time.perf_counter()
        played = training.run(steps)
        elapsed = time.perf_counter() - start
        if profiler is not None:
            profiler.disable()
    finally:
        training.close()
    return played, elapsed


def flops_per_step(name: str, config: Any, world_model: Any) -> float:
    """Matmul FLOPs per agent-step of one training batch (rollout forward passes, loss
    forward and backward), counted by ``torch.utils.flop_counter.FlopCounterMode``."""
    from torch.utils.flop_counter import FlopCounterMode

    training = make_training(name, config, "batched", world_model)
    try:
        training.run(1)
        with FlopCounterMode(display=False) as counter:
            played = training.run(1)
    finally:
        training.close()
    return counter.get_total_flops() / played


def matmul_rate(threads: int, size: int = 1024, repeats: int = 5) -> float:
    """fp32 FLOP/s of a (size x size) @ (size x size) torch matmul on ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(10):
            a @ b
        best = min(best, (time.perf_counter() - start) / 10)
    torch.set_num_threads(os.cpu_count() or 1)
    return 2 * size ** 3 / best


def bench_meta(names: list[str], overrides: dict[str, dict[str, Any]], steps: int,
               repeats: int, scaling: bool, progress: Callable[[str], None]
               ) -> tuple[list[Row], dict[str, Any]]:
    import torch
    from reference import pretrained_world_model

    torch.set_num_threads(os.cpu_count() or 1)
    cores = os.cpu_count() or 1
    details: dict[str, Any] = {
        "steps": steps, "repeats": repeats, "cores": cores, "torch": torch.__version__,
        "matmul": {1: matmul_rate(1), cores: matmul_rate(cores)}, "principals": {},
        "others": [cpu_seconds()]}
    peak = details["matmul"][cores]
    rows: list[Row] = []
    for name in names:
        config = perf_config(name, overrides.get(name, {}))
        d: dict[str, Any] = {"config": describe_config(name, config, overrides.get(name, {}))}
        world_model = None
        if name == "mermaide":
            progress(f"5/5 {name}: pre-training the world model (not timed in either path)")
            start = time.perf_counter()
            world_model, d["model_steps"] = pretrained_world_model(bandit_env,
                                                                   population(TRAIN_POPULATION),
                                                                   0, config)
            d["model_seconds"] = time.perf_counter() - start
        for path in PATHS:
            progress(f"5/5 {name}: {path} path, {repeats} x {steps:,} steps")
            runs = [timed_training(name, config, path, steps, world_model)
                    for _ in range(repeats)]
            d[path] = max(played / seconds for played, seconds in runs)
            d[f"{path}_steps"] = runs[0][0]
            profiler = cProfile.Profile()
            timed_training(name, config, path, max(steps // 2, 1), world_model, profiler)
            stats = pstats.Stats(profiler)
            total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
            d[f"{path}_sim"] = simulation_seconds(stats) / total
            d[f"{path}_profile"] = top_entries(profiler, 12)
        d["flops"] = flops_per_step(name, config, world_model)
        d["fraction"] = d["batched"] * d["flops"] / peak
        if scaling:
            field, values = SCALING[name]
            progress(f"5/5 {name}: batched path at {field} = {values}")
            d["scaling"] = []
            for value in values:
                scaled = dataclasses.replace(config, **{field: value})
                played, seconds = timed_training(name, scaled, "batched", steps, world_model)
                d["scaling"].append((field, value, played / seconds))
        details["principals"][name] = d
        ratio = d["batched"] / d["reference"]
        need_ratio, need_rate = META_TARGETS[name]
        rows.append(Row(f"5. {name}: meta-training, batched vs reference path "
                        f"(agent-steps/s, {cores} cores)",
                        f"{ratio:.1f}x ({d['batched']:,.0f} vs {d['reference']:,.0f}; "
                        f"simulation {100 * d['batched_sim']:.0f}% vs "
                        f"{100 * d['reference_sim']:.0f}% of the time)",
                        f">= {need_ratio:.0f}x", ratio >= need_ratio))
        if need_rate is not None:
            rows.append(Row(f"5. {name}: meta-training on the batched path, agent-steps/s",
                            f"{d['batched']:,.0f}", f">= {need_rate:,.0f}",
                            d["batched"] >= need_rate))
    details["others"].append(cpu_seconds())
    return rows, details


def cpu_seconds() -> tuple[float, float, float]:
    """(wall clock, CPU seconds the whole machine was busy, CPU seconds of this process):
    two readings tell how much CPU time other processes took in between (NaN where the OS
    has no /proc/stat)."""
    busy = math.nan
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        ticks = [int(v) for v in fields]
        # user nice system idle iowait irq softirq steal ...: all but idle and iowait.
        busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    return time.perf_counter(), busy, time.process_time()


def others_share(readings: list[tuple[float, float, float]], cores: int) -> float:
    """The share of the machine's CPU time that other processes took between two readings
    of ``cpu_seconds``."""
    (wall0, busy0, own0), (wall1, busy1, own1) = readings
    return max(0.0, (busy1 - busy0) - (own1 - own0)) / (cores * (wall1 - wall0))


def meta_report(meta: dict[str, Any]) -> list[str]:
    cores = meta["cores"]
    one, peak = meta["matmul"][1] / 1e9, meta["matmul"][cores] / 1e9
    principals = meta["principals"]
    kwargs = ", ".join(f"{k}={v}" for k, v in BANDIT_KWARGS.items())
    parts = ["## Meta-training: batched vs reference path", "",
             f"`{ENV_ID}` ({kwargs}), population `{TRAIN_POPULATION}`, seed 0, torch "
             f"{meta['torch']} on {cores} threads. Each rate is the wall clock of "
             f"`Training.run({meta['steps']:,})` (`perf/reference.py`: the lines of the "
             f"principal's `meta_train`, the game factory a parameter) on a fresh set-up after "
             f"one untimed warm-up batch, the best of {meta['repeats']} runs; agent-steps are "
             "counted exactly (the steps `train_reinforce` / `train_maml` return). The "
             "batched path plays `toolkit.VectorGame` (the native `BanditVectorEnv`, one step "
             "call for all N sub-games); the reference path plays `reference.LoopGame` (N "
             "`gym.make` envs, one `env.step` per env per time step, as the principals did "
             "before); everything else is the same code. The simulation share is from a "
             "separate cProfile run of half the steps (the games, the learners, Gymnasium's "
             "wrappers and vector envs, `LoopGame`'s loop; the rest, policy forward passes "
             "while acting, the rollout's bookkeeping and the updates, is learning).", ""]
    others = others_share(meta["others"], cores)
    busy = not others < 0.05  # NaN (unknown) counts as busy
    parts += [f"Other processes took {100 * others:.1f}% of the machine's CPU time while "
              f"these were measured" + (
                  ": the machine was busy with other work, so torch's threads competed for "
                  "the cores and these rates are lower bounds; rerun on an idle machine."
                  if busy else "."), ""]
    if "mermaide" in principals and "model_steps" in principals["mermaide"]:
        m = principals["mermaide"]
        parts += [f"For `mermaide` only the policy's training is timed, on both paths: the "
                  f"world model is pre-trained once beforehand as `Mermaide.meta_train` does "
                  f"it (batched; {m['model_steps']:,} agent-steps of data and the fit took "
                  f"{m['model_seconds']:.1f} s) and both paths use a copy of it.", ""]
    parts += ["| principal | batched (agent-steps/s) | reference (agent-steps/s) | ratio | "
              "simulation share, batched / reference | matmul FLOPs per agent-step | "
              f"GFLOP/s reached (batched) | fraction of the {cores}-thread matmul rate |",
              "|---|---|---|---|---|---|---|---|"]
    for name, d in principals.items():
        parts.append(f"| {name} | {d['batched']:,.0f} | {d['reference']:,.0f} | "
                     f"{d['batched'] / d['reference']:.1f}x | {100 * d['batched_sim']:.0f}% / "
                     f"{100 * d['reference_sim']:.0f}% | {d['flops'] / 1e3:,.0f} k | "
                     f"{d['batched'] * d['flops'] / 1e9:.1f} | {100 * d['fraction']:.1f}% |")
    parts += ["", "Configs timed (`PERF_CONFIGS` in `perf/perf.py`, plus `--set`):", ""]
    parts += [f"- `{name}`: {d['config']}" for name, d in principals.items()]
    parts += ["", f"Machine's fp32 matmul rate (torch, 1024x1024 @ 1024x1024, best of 5): "
              f"{one:.0f} GFLOP/s on 1 thread, {peak:.0f} GFLOP/s on {cores} threads. FLOPs per "
              "agent-step are counted with `torch.utils.flop_counter.FlopCounterMode` over one "
              "training batch (the rollout's forward passes, the loss's forward and backward; "
              "MAML's inner loop and query loss included; matmuls only, element-wise work "
              "uncounted). For `reinforce` this matches the count by hand: the GRU's input and "
              "hidden maps and the head, 2 x (33 x 192 + 64 x 192 + 64 x 11) = 38.7 k per "
              "forward pass, one while acting, one in the loss, two in the backward, less the "
              "input gradient nobody needs: 142 k.", ""]
    if any("scaling" in d for d in principals.values()):
        parts += ["### Batched path vs batch size", "",
                  "The same measurement (batched path only, one run each) with the principal's "
                  "batch field changed, all else as timed above:", "",
                  "| principal | batch field | value | agent-steps/s | fraction of the "
                  f"{cores}-thread matmul rate |", "|---|---|---|---|---|"]
        for name, d in principals.items():
            for field, value, rate in d.get("scaling", []):
                parts.append(f"| {name} | {field} | {value} | {rate:,.0f} | "
                             f"{100 * rate * d['flops'] / meta['matmul'][cores]:.1f}% |")
        parts.append("")
    best = max(d["fraction"] for d in principals.values())
    parts += ["### What bounds the batched path", "",
              f"Not torch's arithmetic: at the configs timed the batched path reaches at most "
              f"{100 * best:.1f}% of the machine's matmul rate. With N = 16 to 40 sub-games per "
              "batch every tensor is (N, 64) to (N, 192): each time step of a rollout is about "
              "fifteen torch calls (the GRU cell written with `Linear` layers, the head, the "
              "softmax) plus one env step, and each update runs the GRU's Python loop over the "
              "100 time steps forward and backward, so per-call overhead (microseconds each, "
              "whatever the size) dominates and the learning side takes most of the time (the "
              "simulation share above). The rate grows with the batch (the table above) "
              "because the same number of calls then carries more agent-steps; the "
              "reference path cannot follow, its per-agent `env.step` (tens of microseconds "
              "through the wrappers, target 1) is a floor that batching does not lower. The "
              "ratio is therefore bounded by the learning time per agent-step on the batched "
              "path: a ratio of 20x needs the batched path's whole cost per agent-step below "
              "a twentieth of the single env's step.", "",
              "### What `device=\"cuda\"` would change", "",
              "A GPU (a `device` config field that moves the policy, the world model and the "
              "loss tensors, never required; not implemented) would not help at the default "
              "sizes: the calls are launch-bound, not FLOP-bound, and on a GPU every kernel "
              "launch costs several microseconds too, while every rollout step would add two "
              "host-device copies (the observations up, the sampled actions down: the games "
              "and the action sampling are numpy on the CPU) and a synchronisation. It would "
              "pay off with large batches (episodes_per_batch or meta_batch x query_episodes in "
              "the thousands), where one update is tens of GFLOP and the CPU's matmul rate "
              "does bind; then the simulator (numpy, one core: target 3's native vector env "
              "rate) and the per-step copies become the limit, and cuDNN's fused GRU would "
              "speed up the world model (`nn.GRU`) but not the policy's `GRULayer`, whose "
              "Python time loop stays one launch sequence per step.", ""]
    for name, d in principals.items():
        for path in PATHS:
            parts += [f"### cProfile, `{name}`, {path} path (top entries by own time)", "",
                      "```", d[f"{path}_profile"], "```", ""]
    return parts


# --- report ---------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import gymnasium

    info = {
        "CPU": model,
        "cores": f"{os.cpu_count()} logical (targets 1-4 single-threaded, 5 on all)",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": gymnasium.__version__,
        "date (UTC)": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    try:
        info["load average at start"] = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        pass
    return info


def table(rows: list[Row]) -> str:
    lines = ["| target | measured | required | verdict |", "|---|---|---|---|"]
    lines += [f"| {r.target} | {r.measured} | {r.required} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


def report(rows: list[Row], info: dict[str, str], details: dict[str, Any]) -> str:
    parts = ["# mermaide performance (`make perf`)", "",
             "Measured side by side in one run of `perf/perf.py`.", "",
             "## Machine", ""]
    parts += [f"- {k}: {v}" for k, v in info.items()]
    parts += ["", "## Targets", "", table(rows), ""]
    core = details.get("core")
    if core:
        parts += ["## Batched core vs per-agent loop, every learner kind", "",
                  f"B={details['batch']} agents x 10 arms, one episode of "
                  f"{details['horizon']} steps (reset included), default knobs; the loop is "
                  "`perf/loops.py` (the same learner logic, numpy per agent).", "",
                  "| learner | batched core (agent-steps/s) | per-agent loop (agent-steps/s) "
                  "| speed-up |", "|---|---|---|---|"]
        parts += [f"| {kind} | {b:,.0f} | {loop:,.0f} | {b / loop:.0f}x |"
                  for kind, b, loop in core]
        parts.append("")
    if "vector" in details:
        v = details["vector"]
        parts += ["## Vector envs", "",
                  f"`gym.make_vec` builds `{v['native_class']}` (native, one core with B=N): "
                  f"{v['native']:,.0f} env-steps/s; `{v['sync_class']}` of N wrapped single "
                  f"envs: {v['sync']:,.0f} env-steps/s.", ""]
    if "memory" in details:
        m = details["memory"]
        parts += ["## Memory", "",
                  f"Peak RSS (VmHWM) of a process that imports mermaide, builds B agents "
                  f"and runs the core for one episode, above the same process stopped before "
                  f"building the agents. With the agents as one `AgentBatch` (two (B, K) "
                  f"float64 arrays and one (B,) int64 array: {m['batch_array_mb']:.1f} MB): "
                  f"{m['batch_total_mb']:.1f} MB, of which the core's own share (state, "
                  f"observation, per-step temporaries) is {m['batch_core_mb']:.1f} MB. With "
                  f"the agents as B `AgentSpec` objects ({m['specs_inputs_mb']:.1f} MB of "
                  f"Python objects): {m['specs_total_mb']:.1f} MB, the core's share "
                  f"{m['specs_core_mb']:.1f} MB. The target is measured on the first: "
                  f"`AgentPopulation.sample_batch` draws such a batch.", ""]
    if "breakdown" in details:
        parts += ["## Single env: where a step's time goes (microseconds per step)", "",
                  "| layer | us/step |", "|---|---|"]
        parts += [f"| {k} | {v:.2f} |" for k, v in details["breakdown"].items()]
        parts += ["", single_env_note(details["breakdown"])]
        parts += ["", "cProfile of the wrapped single env (top entries by own time):", "",
                  "```", details["single_profile"], "```", ""]
    meta = details.get("meta")
    if meta:
        parts += meta_report(meta)
    return "\n".join(parts)


def parse_sets(items: list[str], names: list[str]) -> dict[str, dict[str, Any]]:
    """``NAME.FIELD=VALUE`` items (VALUE as JSON when it parses, else a string) -> per
    principal overrides on top of ``PERF_CONFIGS``."""
    overrides = {name: dict(PERF_CONFIGS[name]) for name in names}
    for item in items:
        target, sep, raw = item.partition("=")
        name, dot, field = target.partition(".")
        if not (sep and dot and field) or name not in PERF_CONFIGS:
            raise ValueError(f"--set takes NAME.FIELD=VALUE with NAME one of "
                             f"{sorted(PERF_CONFIGS)}, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        overrides.setdefault(name, {})[field] = value
    for name in names:
        perf_config(name, overrides[name])  # refuses an unknown field or a bad value early
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="example: perf/perf.py --targets 5 --principals reinforce "
               "--set reinforce.episodes_per_batch=256 --output /tmp/perf.md")
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown results file")
    parser.add_argument("--targets", default="1,2,3,4,5",
                        help="comma-separated targets to measure (default: all)")
    parser.add_argument("--meta-steps", type=int, default=64_000,
                        help="agent steps per timed meta-training run (target 5)")
    parser.add_argument("--principals", default=",".join(PERF_CONFIGS),
                        help="comma-separated principals whose meta-training is timed "
                             "(target 5)")
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="NAME.FIELD=VALUE",
                        help="override a config field of a timed principal, e.g. "
                             "maml.meta_batch=32 (repeatable; VALUE parsed as JSON)")
    parser.add_argument("--no-scaling", dest="scaling", action="store_false",
                        help="skip target 5's batched-path-vs-batch-size table")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per measurement")
    args = parser.parse_args(argv)
    targets = {int(t) for t in args.targets.split(",") if t.strip()}
    names = [n.strip() for n in args.principals.split(",") if n.strip()]
    if not targets <= {1, 2, 3, 4, 5} or not targets:
        parser.error(f"--targets takes numbers among 1-5, got {args.targets!r}")
    unknown = [n for n in names if n not in PERF_CONFIGS]
    if unknown or not names:
        parser.error(f"--principals takes names among {list(PERF_CONFIGS)}, got {unknown}")
    if args.meta_steps < 1 or args.repeats < 1:
        parser.error("--meta-steps and --repeats must be >= 1")
    try:
        overrides = parse_sets(args.sets, names)
    except ValueError as error:
        parser.error(str(error))

    info = machine()
    rows: list[Row] = []
    details: dict[str, Any] = {"batch": 4096, "horizon": 200}
    steps = 10_000

    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)

    if 1 in targets:
        progress("1/5 single env step rate")
        row, details["single"] = bench_single(2 * args.repeats - 1, steps)
        rows.append(row)
        details["breakdown"] = single_env_breakdown(steps, args.repeats)
        details["single_profile"] = profile_single(steps)

    if 2 in targets:
        progress("2/5 batched core vs per-agent loop")
        core_rows, details["core"] = bench_core(4096, 128, 200, args.repeats)
        rows += core_rows

    if 3 in targets:
        progress("3/5 vector envs")
        row, details["vector"] = bench_vector(256, 220, args.repeats)
        rows.append(row)

    if 4 in targets:
        progress("4/5 memory")
        row, details["memory"] = bench_memory(100_000, 200)
        rows.append(row)

    if 5 in targets:
        progress("5/5 meta-training, batched vs reference path")
        meta_rows, details["meta"] = bench_meta(names, overrides, args.meta_steps,
                                                args.repeats, args.scaling, progress)
        rows += meta_rows

    progress("done")
    text = report(rows, info, details)
    write_text(args.output, text)
    print()
    print(table(rows))
    print(f"\nwritten to {args.output}")
    missed = [r.target for r in rows if r.passed is False]
    if missed:
        print("missed: " + "; ".join(missed), file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

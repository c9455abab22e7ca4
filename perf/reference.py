"""The reference path that ``perf.py`` compares the learned principals' batched path against.

``LoopGame`` has the duck-typed interface of ``mermaide.principal.toolkit.VectorGame`` but
holds N single envs (``env_fn()`` each: ``gym.make`` with its default wrappers) and steps them
one by one in Python, one ``env.step`` per env per time step, exactly as the principals'
rollout did before the batched path: everything else (the policy, the rollout, the update)
is the principals' own code. ``reinforce_training``, ``maml_training`` and
``mermaide_training`` repeat the few lines of each principal's ``meta_train`` with the game
factory as a parameter (``LoopGame.make`` or ``VectorGame.make``), so that both paths run the
same code but for the game; ``meta_train_reference`` runs one of them on the loop.

The functions ``perf.py`` counts as simulation are those named in ``SIMULATION``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from mermaide.agents import AgentBatch
from mermaide.principal.maml import MAMLConfig, MetaLearner, task_source, train_maml
from mermaide.principal.mermaide import MermaideConfig
from mermaide.principal.reinforce import ReinforceConfig, train_reinforce
from mermaide.principal.toolkit import IdentityEncoder, Policy, config_from, probe_game
from mermaide.principal.world_model import (
    AgentWorldModel,
    WorldModelEncoder,
    modelled_agent_actions,
    pretrain_world_model,
)

EnvFn = Callable[[], gym.Env]
# (env_fn, num_envs, key, spec) -> a game: LoopGame.make or VectorGame.make.
GameFactory = Callable[[EnvFn, int, str, Any], Any]
# The functions of this file that are the simulator (perf.py's profile split).
# The step info entries the principals' rollout reads (``toolkit.play``): all that LoopGame
# stacks per step by default, as the old rollout read only what it used.
ROLLOUT_INFO = ("observed_action", "action_mask")
SIMULATION = frozenset({"step", "reset", "draw", "stack_infos", "<listcomp>", "<genexpr>"})


class LoopEnvs:
    """N single envs behind a vector env's ``step``: a Python loop of N ``env.step`` calls,
    results stacked (of the step infos, the entries ``info_keys`` names; None: all). A sub-env
    whose episode ended is no longer stepped (zero reward, ``terminated`` stays True, its last
    observation and info repeated) until the next ``reset``."""

    def __init__(self, envs: Sequence[gym.Env],
                 info_keys: Sequence[str] | None = ROLLOUT_INFO):
        self.envs, self.info_keys = list(envs), info_keys
        self.num_envs = len(self.envs)
        self.done = np.zeros(self.num_envs, dtype=bool)
        self.last_obs: list[Any] = []
        self.last_info: list[dict[str, Any]] = []

    def reset(self, tasks: Sequence[Any] | None, seed: int | None, key: str
              ) -> tuple[np.ndarray, dict[str, Any]]:
        self.last_obs, self.last_info = [], []
        for i, env in enumerate(self.envs):
            obs, info = env.reset(seed=None if seed is None else seed + i,
                                  options=None if tasks is None else {key: tasks[i]})
            self.last_obs.append(obs)
            self.last_info.append(info)
        self.done[:] = False
        return np.stack(self.last_obs).astype(np.float32), stack_infos(self.last_info)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                 np.ndarray, dict[str, Any]]:
        # Python ints for a Discrete game (the single env's fast path), rows for a Box one.
        played = actions.tolist() if actions.dtype.kind in "iu" else list(actions)
        rewards = np.zeros(self.num_envs)
        truncated = np.zeros(self.num_envs, dtype=bool)
        for i, env in enumerate(self.envs):
            if self.done[i]:
                continue
            obs, reward, term, trunc, info = env.step(played[i])
            self.last_obs[i], self.last_info[i] = obs, info
            rewards[i], truncated[i] = reward, trunc
            self.done[i] = term or trunc
        return (np.stack(self.last_obs).astype(np.float32), rewards, self.done.copy(),
                truncated, stack_infos(self.last_info, self.info_keys))

    def close(self) -> None:
        for env in self.envs:
            env.close()


def stack_infos(infos: Sequence[dict[str, Any]], keys: Sequence[str] | None = None
                ) -> dict[str, Any]:
    """N single envs' info dicts -> one dict of the entries ``keys`` names (None: all):
    numbers and arrays that every env reports stacked into (N, ...) arrays, anything else as
    a list of N values (None where missing)."""
    stacked: dict[str, Any] = {}
    if keys is None:
        keys = list(dict.fromkeys(k for info in infos for k in info))
    for key in keys:
        if not any(key in info for info in infos):
            continue
        values = [info.get(key) for info in infos]
        if all(isinstance(v, (int, float, np.number, np.bool_, np.ndarray)) for v in values):
            stacked[key] = np.stack([np.asarray(v) for v in values])
        else:
            stacked[key] = values
    return stacked


class LoopGame:
    """``VectorGame``'s interface over N single envs stepped one by one (``LoopEnvs``)."""

    native = False

    def __init__(self, envs: Sequence[gym.Env], key: str = "agent",
                 info_keys: Sequence[str] | None = ROLLOUT_INFO):
        self.env = LoopEnvs(envs, info_keys)
        self.num_envs, self.key, self.option = self.env.num_envs, key, key + "s"

    @classmethod
    def make(cls, env_fn: EnvFn, num_envs: int, key: str = "agent", spec: Any = None, *,
             info_keys: Sequence[str] | None = ROLLOUT_INFO) -> LoopGame:
        """``num_envs`` single envs ``env_fn()`` (``spec`` is ignored: VectorGame's
        signature)."""
        return cls([env_fn() for _ in range(num_envs)], key, info_keys)

    def draw(self, population: Any, n: int, rng: np.random.Generator) -> list[Any]:
        return list(population.sample_many(n, rng))

    def observe(self, obs: Any) -> np.ndarray:
        """The stacked observations as the (N, D) float32 array the policies read (the
        reference games have flat Box observations)."""
        return np.asarray(obs, dtype=np.float32)

    def reset(self, tasks: Any = None, seed: int | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Each single env i reset with ``options={key: tasks[i]}`` and ``seed + i``: the
        first observations (N, D) and the stacked reset infos."""
        if isinstance(tasks, AgentBatch):
            raise ValueError("LoopGame plays single envs: pass a list of AgentSpec, not an "
                             "AgentBatch")
        if tasks is not None and len(tasks) != self.num_envs:
            raise ValueError(f"tasks must hold {self.num_envs} tasks, got {len(tasks)}")
        return self.env.reset(tasks, seed, self.key)

    def close(self) -> None:
        self.env.close()


def loop_game(env_fn: EnvFn, num_envs: int, key: str = "agent", spec: Any = None
              ) -> LoopGame:
    return LoopGame.make(env_fn, num_envs, key, spec)


# --- each principal's meta-training, the game factory a parameter ----------------------------


@dataclass
class Training:
    """A principal's meta-training set up: ``run(steps)`` trains for about ``steps`` env steps
    and returns the steps played (what ``train_reinforce`` / ``train_maml`` return)."""

    run: Callable[[int], int]
    policy: Policy
    closing: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for thing in self.closing:
            thing.close()


def _fresh_policy(env_fn: EnvFn, seed: int, c: ReinforceConfig
                  ) -> tuple[np.random.Generator, gym.Env, str, Policy]:
    """What a first ``meta_train`` call starts from: the generator, the probe env (the caller
    closes it), the task key and a fresh policy over the observation (torch seeded first)."""
    rng = np.random.default_rng(seed)
    probe, key, obs_dim, space = probe_game(env_fn, 1, seed)
    torch.manual_seed(seed)
    return rng, probe, key, Policy.build(IdentityEncoder(obs_dim), space, c.policy,
                                         c.hidden_size, c.history)


def reinforce_training(env_fn: EnvFn, population: Any, seed: int, config: Any = None,
                       make_game: GameFactory = loop_game) -> Training:
    """``Reinforce.meta_train``'s body (first call) with ``make_game`` for the game."""
    c: ReinforceConfig = config_from(ReinforceConfig, config, {})
    rng, probe, key, policy = _fresh_policy(env_fn, seed, c)
    optimizer = torch.optim.Adam(policy.net.parameters(), lr=c.lr)
    game = make_game(env_fn, c.episodes_per_batch, key, probe.spec)
    probe.close()

    def run(steps: int) -> int:
        return train_reinforce(policy, optimizer, game, population, steps, rng, c)

    return Training(run, policy, [game])


def _maml_run(learner: MetaLearner, env_fn: EnvFn, population: Any, probe: gym.Env, key: str,
              rng: np.random.Generator, make_game: GameFactory) -> Training:
    """``meta_batch_games`` + ``task_source`` + ``train_maml``, as ``MAML.meta_train`` and
    ``Mermaide.meta_train`` call them."""
    c = learner.config
    support = make_game(env_fn, c.meta_batch * c.shots, key, probe.spec)
    query = make_game(env_fn, c.meta_batch * c.query_episodes, key, probe.spec)
    draw = task_source(support, population, probe, key, c.meta_batch, rng)

    def run(steps: int) -> int:
        return train_maml(learner, support, query, draw, steps, rng)

    return Training(run, learner.policy, [support, query, probe])


def maml_training(env_fn: EnvFn, population: Any, seed: int, config: Any = None,
                  make_game: GameFactory = loop_game) -> Training:
    """``MAML.meta_train``'s body (first call) with ``make_game`` for the games."""
    c: MAMLConfig = config_from(MAMLConfig, config, {})
    rng, probe, key, policy = _fresh_policy(env_fn, seed, c)
    return _maml_run(MetaLearner(policy, c), env_fn, population, probe, key, rng, make_game)


def pretrained_world_model(env_fn: EnvFn, population: Any, seed: int, config: Any = None
                           ) -> tuple[AgentWorldModel, int]:
    """``Mermaide.meta_train``'s world model (batched, as there) and the steps its data took."""
    c: MermaideConfig = config_from(MermaideConfig, config, {})
    torch.manual_seed(seed)
    probe = env_fn()
    space = probe.action_space
    probe.close()
    return pretrain_world_model(env_fn, population, c, seed,
                                modelled_agent_actions(env_fn, "mermaide", seed), space)


def mermaide_training(env_fn: EnvFn, population: Any, seed: int, config: Any = None,
                      make_game: GameFactory = loop_game,
                      world_model: AgentWorldModel | None = None) -> Training:
    """``Mermaide.meta_train``'s body (first call) with ``make_game`` for MAML's games. The
    world model is pre-trained as there unless one is given (a copy of it is used); ``run``
    is the policy's training only."""
    c: MermaideConfig = config_from(MermaideConfig, config, {})
    rng = np.random.default_rng(seed)
    probe, key, _, space = probe_game(env_fn, 1, seed)
    if world_model is None:
        world_model, _ = pretrained_world_model(env_fn, population, seed, c)
    else:
        torch.manual_seed(seed)
        world_model = copy.deepcopy(world_model)
    learner = MetaLearner(Policy.build(WorldModelEncoder(world_model), space, c.policy,
                                       c.hidden_size, c.history), c)
    return _maml_run(learner, env_fn, population, probe, key, rng, make_game)


TRAININGS: dict[str, Callable[..., Training]] = {
    "reinforce": reinforce_training, "maml": maml_training, "mermaide": mermaide_training}


def meta_train_reference(name: str, env_fn: EnvFn, population: Any, steps: int, seed: int,
                         config: Any = None) -> int:
    """Meta-train principal ``name`` for about ``steps`` env steps on single envs stepped one
    by one; returns the steps played (for ``mermaide``, those of the policy's training)."""
    training = TRAININGS[name](env_fn, population, seed, config)
    try:
        return training.run(steps)
    finally:
        training.close()

"""The shared toolkit of the learned principals (``reinforce``, ``model``, ``maml``,
``mermaide``, ``stackelberg-pomdp``): each principal's module composes these pieces; none
inherits from another.

* ``VectorGame``: N sub-games advanced by one step call. A game whose Gymnasium spec has a
  ``vector_entry_point`` runs as its native batched form (``gym.make_vec(...,
  vectorization_mode="vector_entry_point")``); any other env (a third party's, or one that
  ``env_fn`` wraps) runs under Gymnasium's ``SyncVectorEnv`` over ``env_fn``. Either way each
  sub-env plays its own task per episode, passed as the vector env's reset option
  ``{key + "s": tasks}`` (``"agents"`` for the bandit game, ``"games"`` for the matrix games).
* ``ObservationLayout``: what the policy reads of a game's observations: a Box as it is, or a
  ``Dict`` flattened key by key (``gymnasium.spaces.flatten``), the actor's keys first and
  the privileged ``"critic:"`` keys (the Stackelberg POMDP's CTDE convention) last, so that
  an actor reads its columns only and a critic all of them.
* ``rollout``: one episode on every sub-game, with one batched forward pass of the policy per
  time step and one vectorised ``step`` call; no Python work per agent.
* ``PolicyNet`` (an MLP over the last inputs, or a GRU written with plain ``Linear`` layers
  so that ``torch.func.functional_call`` and ``vmap`` apply), ``ActionSpace`` (what its
  outputs mean for a Discrete or a flat Box action space), encoders (what the policy reads).
* Returns, advantages and the policy-gradient loss, as pure functions of a parameter dict,
  so that MAML's inner loop differentiates through them.
* ``Checkpoint``: what a learned principal saves, as tensors and plain data only (loaded with
  ``torch.load(weights_only=True)``: a checkpoint cannot run code).
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import SyncVectorEnv, VectorEnv
from torch import Tensor, nn
from torch.func import functional_call

from mermaide.agents import AgentBatch
from mermaide.checks import CheckpointError, check_int, other_principal, reading_checkpoint
from mermaide.envs import is_critic_key
from mermaide.principal.base import EnvFn, TaskDistribution
from mermaide.principal.evaluation import task_key

POLICY_KINDS = ("mlp", "gru")


def config_from(cls: type, config: Any, overrides: dict[str, Any]) -> Any:
    """A config of type ``cls`` from an instance, a dict or None, plus keyword overrides."""
    if config is None:
        config = cls()
    elif isinstance(config, dict):
        config = cls(**config)
    elif not isinstance(config, cls):
        raise ValueError(f"config must be a {cls.__name__}, a dict or None, got {config!r}")
    unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {sorted(unknown)}; known: "
                         f"{[f.name for f in dataclasses.fields(cls)]}")
    return dataclasses.replace(config, **overrides)


def check_steps_seed(steps: int, seed: int) -> None:
    check_int("steps", steps, 1)
    check_int("seed", seed, 0)


# --- batched games ----------------------------------------------------------------------------


class TaskSlot(gym.Wrapper):
    """Sub-env ``index`` of a ``SyncVectorEnv``: takes its own task from the vector reset
    option ``{key + "s": tasks}`` and passes it on as ``{key: tasks[index]}``."""

    def __init__(self, env: gym.Env, index: int, key: str):
        super().__init__(env)
        self.index, self.key, self.option = index, key, key + "s"

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        options = dict(options or {})
        tasks = options.pop(self.option, None)
        if tasks is not None:
            options[self.key] = tasks[self.index]
        return self.env.reset(seed=seed, options=options or None)


def native_vector(spec: gym.envs.registration.EnvSpec | None) -> bool:
    """Whether ``gym.make_vec(spec, vectorization_mode="vector_entry_point")`` plays exactly
    the games ``gym.make(spec)`` does: a vector entry point, and no wrapper or step limit
    added on top (those exist only in the single env's form)."""
    return (spec is not None and spec.vector_entry_point is not None
            and not spec.additional_wrappers and spec.max_episode_steps is None)


class VectorGame:
    """N sub-games of one game, advanced by one ``step`` call of the vector env ``env``.

    ``native`` says which form runs: the game's own vector env, or ``SyncVectorEnv``.
    ``key`` is the game's task key (``"agent"`` or ``"game"``, from its reset info): tasks
    reach the sub-envs as the reset option ``{key + "s": tasks}``. Build one with ``make``.
    """

    def __init__(self, env: VectorEnv, key: str = "agent", native: bool = False,
                 layout: ObservationLayout | None = None):
        self.env, self.key, self.option, self.native = env, key, key + "s", native
        self.num_envs = int(env.num_envs)
        space = env.single_observation_space
        flat = isinstance(space, gym.spaces.Box) and len(space.shape) == 1
        # A flat Box is read as it is; any other observation through its layout (a Dict's
        # keys flattened, actor keys first), so that every principal can play a Dict game.
        self.layout = layout if layout is not None or flat else ObservationLayout(space)

    @classmethod
    def make(cls, env_fn: EnvFn, num_envs: int, key: str = "agent",
             spec: gym.envs.registration.EnvSpec | None = None,
             layout: ObservationLayout | None = None) -> VectorGame:
        """``num_envs`` sub-games of ``env_fn``'s game: its native vector env when its spec
        (``spec``, or the spec of one env made to look) allows it, else ``SyncVectorEnv`` over
        ``env_fn`` with each sub-env under a ``TaskSlot``. ``layout``: how its observations
        become (N, D) arrays (None: as they are for a flat Box, else the observation space's
        own ``ObservationLayout``)."""
        check_int("num_envs", num_envs, 1)
        if spec is None:
            probe = env_fn()
            spec = probe.spec
            probe.close()
        if native_vector(spec):
            assert spec is not None
            return cls(gym.make_vec(spec, num_envs=int(num_envs),
                                    vectorization_mode="vector_entry_point"), key, True, layout)
        return cls(SyncVectorEnv([partial(_slot, env_fn, i, key) for i in range(num_envs)]),
                   key, False, layout)

    @classmethod
    def single(cls, env: gym.Env, layout: ObservationLayout | None = None) -> VectorGame:
        """One sub-game over an existing env (K-shot adaptation plays the env it is given,
        whose task the caller fixed), without copying it."""
        return cls(SyncVectorEnv([lambda: env]), layout=layout)

    def observe(self, obs: Any) -> np.ndarray:
        """The vector env's observations as the (N, D) float32 array the policies read."""
        if self.layout is None:
            return np.asarray(obs, dtype=np.float32)
        return self.layout.batch(obs)

    def draw(self, population: TaskDistribution, n: int, rng: np.random.Generator) -> Any:
        """n tasks from ``population``: one ``AgentBatch`` (array draws, no Python object per
        agent) when the population and the native game allow it, else a list."""
        sample_batch = getattr(population, "sample_batch", None)
        if self.native and self.key == "agent" and callable(sample_batch):
            return sample_batch(n, rng)
        sample_many = getattr(population, "sample_many", None)
        if callable(sample_many):
            return list(sample_many(n, rng))
        return [population.sample(rng) for _ in range(n)]

    def reset(self, tasks: Any = None, seed: int | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode on every sub-game (with ``tasks[i]`` on sub-game i when given);
        ``seed`` seeds the vector env (later resets continue its generator). Returns the
        first observations (N, D) and the reset info."""
        if tasks is not None and len(tasks) != self.num_envs:
            raise ValueError(f"tasks must hold {self.num_envs} tasks (one per sub-game), got "
                             f"{len(tasks)}")
        if tasks is not None and not self.native and isinstance(tasks, AgentBatch):
            raise ValueError("an AgentBatch needs the game's native vector env; pass a list "
                             "of AgentSpec")
        # Tasks that are all None (a game without tasks) leave each sub-game its own draw.
        own = tasks is None or (isinstance(tasks, list) and all(t is None for t in tasks))
        options = None if own else {self.option: tasks}
        obs, info = self.env.reset(seed=seed, options=options)
        return self.observe(obs), info

    def close(self) -> None:
        self.env.close()


def _slot(env_fn: EnvFn, index: int, key: str) -> gym.Env:
    return TaskSlot(env_fn(), index, key)


def repeat_tasks(tasks: Any, times: int) -> Any:
    """Each task ``times`` times in a row (task-major), as a batch or a list like ``tasks``."""
    if isinstance(tasks, AgentBatch):
        return tasks.take(np.repeat(np.arange(len(tasks)), times))
    return [task for task in tasks for _ in range(times)]


# --- the policy -------------------------------------------------------------------------------


class GRULayer(nn.Module):
    """A GRU over (N, T, F) inputs built from two ``Linear`` layers, gate order r, z, n as
    ``nn.GRU``'s (the same function of the same weights; tested). Plain tensor algebra, so
    ``functional_call`` applies and ``task_forward`` can run the same recurrence with every
    task's own weights. (ATen's ``torch.gru`` on these weights measured no faster on the CPU:
    reinforce 164k against 146k-184k agent-steps/s, maml 19k-20k either way.)"""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.input_map = nn.Linear(input_size, 3 * hidden_size)
        self.hidden_map = nn.Linear(hidden_size, 3 * hidden_size)

    def forward(self, x: Tensor, h: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        return gru_recurrence(self.input_map(x), h, self.hidden_map, time_dim=1)


def gru_recurrence(gates_x: Tensor, h: Tensor, hidden_map: Callable[[Tensor], Tensor],
                   time_dim: int) -> tuple[Tensor, Tensor]:
    """The GRU's recurrence (gate order r, z, n, as ``nn.GRU``) from the input gates of every
    time step (..., T, ..., 3H), ``time_dim`` their time axis, and the state h (..., H):
    (outputs with the time axis at ``time_dim``, final state). ``hidden_map`` gives the hidden
    gates of a state (``GRULayer``'s Linear, or each task's own in ``task_forward``)."""
    outputs = []
    # unbind, not gates_x[:, t]: the backward of T separate index ops writes T full-size
    # zero gradients (quadratic in T); unbind's is one stack.
    for gates_t in gates_x.unbind(time_dim):
        xr, xz, xn = gates_t.chunk(3, dim=-1)
        hr, hz, hn = hidden_map(h).chunk(3, dim=-1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = (1.0 - z) * n + z * h
        outputs.append(h)
    return torch.stack(outputs, dim=time_dim), h


def history_windows(x: Tensor, state: Tensor | None, history: int) -> tuple[Tensor, Tensor]:
    """The MLP's inputs: inputs (..., T, F) and the previous ``history - 1`` ones (..., history
    - 1, F) (None: zeros, an episode's start) -> each step's window of the last ``history``
    inputs (..., T, history * F) and the new state (the last history - 1 inputs)."""
    t = x.shape[-2]
    past = x.new_zeros(*x.shape[:-2], history - 1, x.shape[-1]) if state is None else state
    padded = torch.cat([past, x], dim=-2)
    windows = torch.cat([padded[..., i: i + t, :] for i in range(history)], dim=-1)
    return windows, padded[..., t:, :]


class PolicyNet(nn.Module):
    """Logits over ``n_actions`` from an input history (or, with ``continuous``, the mean of
    a diagonal Gaussian over ``n_actions`` dimensions, its log std a parameter).

    ``forward(x (N, T, F), state) -> (outputs (N, T, A), state)``. The state is the GRU's
    hidden state (N, H), or for the MLP the previous ``history - 1`` inputs (N, history - 1,
    F); None starts an episode. Acting calls it with T = 1. With ``critic`` a value head reads
    the same features and its estimate is one more output column, (N, T, A + 1) (one module,
    so ``functional_call`` and ``vmap`` see one parameter dict); ``policy_outputs`` and
    ``state_values`` split them.
    """

    def __init__(self, input_size: int, n_actions: int, kind: str = "gru",
                 hidden_size: int = 64, history: int = 1, continuous: bool = False,
                 init_std: float = 0.5, critic: bool = False):
        super().__init__()
        if kind not in POLICY_KINDS:
            raise ValueError(f"kind must be one of {POLICY_KINDS}, got {kind!r}")
        self.kind, self.history = kind, history
        self.input_size, self.n_actions = input_size, n_actions
        if kind == "gru":
            self.body: nn.Module = GRULayer(input_size, hidden_size)
        else:
            self.body = nn.Sequential(nn.Linear(input_size * history, hidden_size), nn.Tanh(),
                                      nn.Linear(hidden_size, hidden_size), nn.Tanh())
        self.head = nn.Linear(hidden_size, n_actions)
        # A near-uniform initial policy: every action gets explored from the start.
        nn.init.normal_(self.head.weight, std=0.01)
        nn.init.zeros_(self.head.bias)
        self.critic = critic
        if critic:
            self.value_head = nn.Linear(hidden_size, 1)
        self.continuous = continuous
        if continuous:
            # Box actions: the head gives a Gaussian's mean, this its state-independent log std.
            self.log_std = nn.Parameter(torch.full((n_actions,), math.log(init_std)))

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.kind == "gru":
            features, new_state = self.body(x, state)
        else:
            windows, new_state = history_windows(x, state, self.history)
            features = self.body(windows)
        out = self.head(features)
        if self.critic:
            out = torch.cat([out, self.value_head(features)], dim=-1)
        return out, new_state


def task_linear(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``Linear`` with each task's own parameters: x (tasks, ..., in), weight (tasks, out,
    in), bias (tasks, out) -> (tasks, ..., out), one batched matmul."""
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    out = torch.baddbmm(bias[:, None, :], flat, weight.transpose(1, 2))
    return out.reshape(*x.shape[:-1], weight.shape[1])


def task_forward(net: PolicyNet, params: dict[str, Tensor], x: Tensor,
                 state: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``net.forward`` for many tasks at once, each with its own parameters (MAML's adapted
    ones): every entry of ``params`` has a leading task axis, x is (tasks, n, T, F) and the
    state (tasks, n, ...) or None; returns (outputs (tasks, n, T, A[+1]), state).

    Plain batched matmuls, not ``vmap`` over ``functional_call``: vmap's per-call overhead
    made acting with adapted parameters 5x slower than one plain forward pass (measured,
    8 tasks x 4 episodes, GRU 64), and the loss pays the same overhead at every time step."""

    def linear(name: str, inputs: Tensor) -> Tensor:
        return task_linear(inputs, params[name + ".weight"], params[name + ".bias"])

    if net.kind == "gru":
        body = net.body
        assert isinstance(body, GRULayer)
        h = x.new_zeros(*x.shape[:2], body.hidden_size) if state is None else state
        features, new_state = gru_recurrence(linear("body.input_map", x), h,
                                             partial(linear, "body.hidden_map"), time_dim=2)
    else:
        windows, new_state = history_windows(x, state, net.history)
        features = torch.tanh(linear("body.2", torch.tanh(linear("body.0", windows))))
    out = linear("head", features)
    if net.critic:
        out = torch.cat([out, linear("value_head", features)], dim=-1)
    return out, new_state


def task_losses(net: PolicyNet, params: dict[str, Tensor], batch: LossBatch,
                entropy_coef: float) -> Tensor:
    """``policy_gradient_loss`` of every task under its own parameters (leading task axis,
    as ``task_forward``), on a batch split by task (``LossBatch.split``): (tasks,) losses,
    each its task's mean over the steps that happened."""
    out, _ = task_forward(net, params, batch.inputs)
    own = {"log_std": params["log_std"][:, None, None, :]} if "log_std" in params else {}
    chosen, entropy = log_probs_of(net, own, out, batch.actions, batch.action_masks)
    steps = batch.mask.sum(dim=(1, 2)).clamp(min=1.0)
    per_step = (chosen * batch.advantages + entropy_coef * entropy) * batch.mask
    return -per_step.sum(dim=(1, 2)) / steps


def policy_outputs(net: PolicyNet, out: Tensor) -> Tensor:
    """The action part (logits, or a Gaussian's mean) of ``net``'s outputs (..., A[+1])."""
    return out[..., :net.n_actions] if net.critic else out


def state_values(net: PolicyNet, out: Tensor) -> Tensor:
    """The critic's estimates (...,) in ``net``'s outputs."""
    return out[..., net.n_actions]


class Encoder(Protocol):
    """Turns principal observations into policy inputs, step by step or for whole episodes."""

    output_size: int

    def step(self, obs: Tensor, state: Any) -> tuple[Tensor, Any]: ...

    def sequence(self, obs: Tensor) -> Tensor: ...


class IdentityEncoder:
    """The policy reads the observations themselves."""

    def __init__(self, obs_dim: int):
        self.output_size = obs_dim

    def step(self, obs: Tensor, state: Any) -> tuple[Tensor, Any]:
        return obs, None

    def sequence(self, obs: Tensor) -> Tensor:
        return obs


class ActorColumns:
    """The policy reads the actor's columns of an ``ObservationLayout``'s flat inputs (for a
    Box observation: all of them), so that no ``"critic:"`` key ever reaches an actor."""

    def __init__(self, layout: ObservationLayout):
        self.layout = layout
        self.output_size = layout.actor_size

    def step(self, obs: Tensor, state: Any) -> tuple[Tensor, Any]:
        return self.layout.actor(obs), None

    def sequence(self, obs: Tensor) -> Tensor:
        return self.layout.actor(obs)


# What a ruled-out action's logit becomes: its probability underflows to exactly 0, while
# p * log p stays 0 (with -inf it would be NaN).
MASKED_LOGIT = -1e9


def masked_logits(logits: Tensor, allowed: np.ndarray | Tensor | None) -> Tensor:
    """``logits`` with the actions ``allowed`` rules out (False) pushed to ``MASKED_LOGIT``."""
    if allowed is None:
        return logits
    allowed = torch.as_tensor(allowed, dtype=torch.bool)
    if allowed.shape[-1] == 0 or bool(allowed.all()):
        return logits
    return logits.masked_fill(~allowed, MASKED_LOGIT)


def sample_actions(logits: Tensor, rng: np.random.Generator) -> np.ndarray:
    """One action per row of (N, A) logits, drawn with numpy (deep-copyable, seeded)."""
    return categorical_at(logits, rng.random((logits.shape[0], 1)))


def categorical_at(logits: Tensor, draws: np.ndarray) -> np.ndarray:
    """One action per row of (N, A) logits by the inverse CDF at the uniform ``draws`` (N, 1):
    the same draws and logits give the same actions."""
    cumulative = np.cumsum(torch.softmax(logits.double(), dim=-1).numpy(), axis=1)
    return np.minimum((cumulative < draws * cumulative[:, -1:]).sum(axis=1),
                      logits.shape[1] - 1)


class ActionSpace:
    """What the policy's outputs mean for a game: logits over a ``Discrete`` space, or a
    Gaussian's mean over a flat ``Box`` (sampled actions are clipped to the box when played;
    the policy gradient scores the unclipped sample)."""

    def __init__(self, space: gym.Space):
        if isinstance(space, gym.spaces.Discrete):
            self.discrete, self.size, self.start = True, int(space.n), int(space.start)
            self.low = self.high = np.zeros(0, dtype=np.float32)
        elif isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
            self.discrete, self.size, self.start = False, int(space.shape[0]), 0
            self.low, self.high = space.low.astype(np.float32), space.high.astype(np.float32)
        else:
            raise ValueError(f"these principals need a Discrete or a flat Box action space, "
                             f"got {space}")
        self.space = space

    @property
    def mask_size(self) -> int:
        """Entries of an action mask: one per action of a Discrete space, none for a Box."""
        return self.size if self.discrete else 0

    def sample(self, out: Tensor, log_std: Tensor | None, rng: np.random.Generator,
               allowed: np.ndarray | None = None) -> np.ndarray:
        """(N, A) policy outputs -> N actions as the policy scores them; never one that
        ``allowed`` (N, A) rules out."""
        if self.discrete:
            return sample_actions(masked_logits(out, allowed), rng)
        assert log_std is not None
        noise = rng.standard_normal(out.shape).astype(np.float32)
        return out.numpy() + np.exp(log_std.numpy()) * noise

    def greedy(self, out: Tensor, allowed: np.ndarray | None = None) -> np.ndarray:
        if self.discrete:
            return masked_logits(out, allowed).argmax(dim=-1).numpy()
        return out.numpy()

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """N scored actions -> the (N,) or (N, A) batch the vector env takes."""
        if self.discrete:
            return actions.astype(np.int64) + self.start
        return np.clip(actions, self.low, self.high).astype(np.float32)

    def to_env_one(self, action: np.ndarray) -> Any:
        """One scored action -> the action a single env takes."""
        if self.discrete:
            return int(action) + self.start
        return np.clip(action, self.low, self.high).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        """The space as plain data (a checkpoint stores this, never a pickled object)."""
        if self.discrete:
            return {"kind": "discrete", "n": self.size, "start": self.start}
        return {"kind": "box", "low": self.low.tolist(), "high": self.high.tolist()}

    @staticmethod
    def from_description(description: dict[str, Any]) -> ActionSpace:
        if description["kind"] == "discrete":
            return ActionSpace(gym.spaces.Discrete(description["n"], start=description["start"]))
        return ActionSpace(gym.spaces.Box(np.array(description["low"], dtype=np.float32),
                                          np.array(description["high"], dtype=np.float32)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActionSpace) and self.describe() == other.describe()

    def __hash__(self) -> int:
        return hash(repr(self.describe()))


def probe_game(env_fn: EnvFn, steps: int, seed: int
               ) -> tuple[gym.Env, str, int, ActionSpace]:
    """What every learned principal's ``meta_train`` starts from: the arguments checked, one
    env made and reset with ``seed`` (the caller closes it), the game's task key (from its
    reset info), its observation size and action space."""
    probe, key = opened_game(env_fn, steps, seed)
    obs_dim, space = spaces_of(probe)
    return probe, key, obs_dim, space


def opened_game(env_fn: EnvFn, steps: int, seed: int) -> tuple[gym.Env, str]:
    """``meta_train``'s arguments checked, then one env made and reset with ``seed`` (the
    caller closes it) and the game's task key read from its reset info."""
    check_steps_seed(steps, seed)
    probe = env_fn()
    return probe, task_key(probe.reset(seed=seed)[1])


def spaces_of(env: gym.Env) -> tuple[int, ActionSpace]:
    """(observation size, action space) of a game with a flat Box observation."""
    obs_space = env.observation_space
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise ValueError(f"these principals need a flat Box observation space, got {obs_space}")
    return int(obs_space.shape[0]), ActionSpace(env.action_space)


# The spaces a Dict observation's keys may have: those flattened to a vector without nesting.
FLAT_LEAVES = (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiBinary)


class ObservationLayout:
    """How a game's observations become flat policy inputs (D,) = (actor_size + critic_size,).

    A ``Box`` observation (of any shape) is raveled, all of it the actor's (critic_size 0). A
    ``Dict`` is flattened key by key as ``gymnasium.spaces.flatten`` flattens each key (a
    ``Discrete`` one-hot, a ``Box`` or ``MultiBinary`` raveled): first the keys without the
    ``"critic:"`` prefix, in the space's order (the actor's columns), then the ``"critic:"``
    keys (the critic's extra columns). An actor that reads ``actor(x)``, the first
    ``actor_size`` columns, never sees a critic key. ``batch`` flattens a vector env's
    observations ((N, ...) arrays per key) with array operations, ``single`` one env's.
    """

    def __init__(self, space: gym.Space):
        if isinstance(space, gym.spaces.Dict):
            items: list[tuple[str | None, gym.Space]] = list(space.spaces.items())
            for key, part in items:
                if not isinstance(part, FLAT_LEAVES):
                    raise ValueError(f"observation key {key!r} must be a Box, Discrete or "
                                     f"MultiBinary space, got {part}")
            self.parts = ([(k, p) for k, p in items if not is_critic_key(k)]
                          + [(k, p) for k, p in items if is_critic_key(k)])
        elif isinstance(space, gym.spaces.Box):
            self.parts = [(None, space)]
        else:
            raise ValueError(f"these principals need a Box or a Dict observation space, got "
                             f"{space}")
        sizes = [(key, int(gym.spaces.flatdim(part))) for key, part in self.parts]
        self.actor_size = sum(n for key, n in sizes if not is_critic_key(key))
        self.critic_size = sum(n for key, n in sizes if is_critic_key(key))
        self.size = self.actor_size + self.critic_size

    def batch(self, obs: Any) -> np.ndarray:
        """A vector env's observations -> (N, size) float32."""
        if self.parts[0][0] is None:
            array = np.asarray(obs, dtype=np.float32)
            return array.reshape(array.shape[0], -1)
        return np.concatenate([_flat_batch(part, obs[key]) for key, part in self.parts],
                              axis=1)

    def single(self, obs: Any) -> np.ndarray:
        """One env's observation -> (size,) float32."""
        if self.parts[0][0] is None:
            return np.asarray(obs, dtype=np.float32).reshape(-1)
        return np.concatenate([np.asarray(gym.spaces.flatten(part, obs[key]), np.float32)
                               for key, part in self.parts])

    def actor(self, x: Tensor) -> Tensor:
        """The actor's columns of flat inputs (..., size)."""
        return x[..., :self.actor_size]

    def describe(self) -> dict[str, Any]:
        """The layout as plain data (a checkpoint stores this, never a pickled space)."""
        return {"parts": [[key, _describe_leaf(part)] for key, part in self.parts]}

    @staticmethod
    def from_description(description: dict[str, Any]) -> ObservationLayout:
        parts = [(key, _leaf_from(leaf)) for key, leaf in description["parts"]]
        if parts[0][0] is None:
            return ObservationLayout(parts[0][1])
        return ObservationLayout(gym.spaces.Dict(dict(parts)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObservationLayout) and self.describe() == other.describe()

    def __hash__(self) -> int:
        return hash(repr(self.describe()))


def _flat_batch(space: gym.Space, values: Any) -> np.ndarray:
    """(N, ...) values of one key -> (N, flatdim) float32, as ``gym.spaces.flatten`` row by
    row."""
    if isinstance(space, gym.spaces.Discrete):
        index = np.asarray(values, dtype=np.int64).reshape(-1) - int(space.start)
        onehot = np.zeros((index.shape[0], int(space.n)), dtype=np.float32)
        onehot[np.arange(index.shape[0]), index] = 1.0
        return onehot
    array = np.asarray(values, dtype=np.float32)
    return array.reshape(array.shape[0], -1)


def _describe_leaf(space: gym.Space) -> dict[str, Any]:
    if isinstance(space, gym.spaces.Discrete):
        return {"kind": "discrete", "n": int(space.n), "start": int(space.start)}
    kind = "multibinary" if isinstance(space, gym.spaces.MultiBinary) else "box"
    return {"kind": kind, "shape": [int(n) for n in space.shape or ()]}


def _leaf_from(leaf: dict[str, Any]) -> gym.Space:
    if leaf["kind"] == "discrete":
        return gym.spaces.Discrete(leaf["n"], start=leaf["start"])
    if leaf["kind"] == "multibinary":
        return gym.spaces.MultiBinary(leaf["shape"])
    # Flattening a Box needs its shape only: its bounds are not stored.
    return gym.spaces.Box(-np.inf, np.inf, shape=tuple(leaf["shape"]), dtype=np.float32)


def probe_layout(env_fn: EnvFn, steps: int, seed: int
                 ) -> tuple[gym.Env, str, ObservationLayout, ActionSpace]:
    """``probe_game`` for a game whose observation is a Box or a ``Dict``: the probe env (the
    caller closes it), the task key, the ``ObservationLayout`` and the action space."""
    probe, key = opened_game(env_fn, steps, seed)
    return probe, key, ObservationLayout(probe.observation_space), ActionSpace(probe.action_space)


PolicyFn = Callable[[Tensor, Any], tuple[Tensor, Any]]

# Above this fraction of the maximal entropy a policy counts as near-uniform (a fresh
# PolicyNet starts at about 0.999; a trained one, at an episode's first step, far below).
NEAR_UNIFORM = 0.98


class NearUniformPolicyWarning(UserWarning):
    """A greedy principal is about to play the mode of a (near-)uniform, untrained policy."""


class Policy:
    """What a learned principal acts with: an encoder, a ``PolicyNet`` and the action space."""

    def __init__(self, encoder: Encoder, net: PolicyNet, space: ActionSpace):
        self.encoder, self.net, self.space = encoder, net, space
        self.warned_near_uniform = False

    @classmethod
    def build(cls, encoder: Encoder, space: ActionSpace, kind: str, hidden_size: int,
              history: int, critic: bool = False) -> Policy:
        """A fresh, near-uniform policy over ``space`` reading ``encoder``'s outputs (with a
        value head when ``critic``)."""
        return cls(encoder, PolicyNet(encoder.output_size, space.size, kind, hidden_size,
                                      history, continuous=not space.discrete, critic=critic),
                   space)

    @property
    def log_std(self) -> Tensor | None:
        return self.net.log_std.detach() if self.net.continuous else None

    def act(self, obs: np.ndarray, state: Any, greedy: bool, rng: np.random.Generator,
            allowed: np.ndarray | None = None) -> tuple[Any, Any]:
        """One step of one episode (``state=None`` starts it): the env action and the state;
        never an action the game's ``allowed`` mask ((A,) bool) rules out."""
        enc_state, pol_state = (None, None) if state is None else state
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(obs, dtype=np.float32))[None]
            x, enc_state = self.encoder.step(x, enc_state)
            out, pol_state = self.net(x[:, None], pol_state)
        out = policy_outputs(self.net, out[:, 0])
        mask = None if allowed is None or not self.space.discrete else np.asarray(
            allowed, dtype=bool)[None]
        if greedy and state is None and self.space.discrete and not self.warned_near_uniform:
            self.check_not_near_uniform(out, mask)
        action = (self.space.greedy(out, mask) if greedy
                  else self.space.sample(out, self.log_std, rng, mask))[0]
        return self.space.to_env_one(action), (enc_state, pol_state)

    def check_not_near_uniform(self, logits: Tensor, mask: np.ndarray | None) -> None:
        """Warn (once per policy) when the mode of a near-uniform distribution is about to be
        played: the mode of an untrained policy is one arbitrary action, repeated every step,
        and would pass silently for a schedule."""
        probs = torch.softmax(masked_logits(logits, mask).double(), dim=-1)[0]
        allowed = int((probs > 0).sum())
        if allowed < 2:
            return
        entropy = float(-(probs[probs > 0] * probs[probs > 0].log()).sum())
        ratio = entropy / math.log(allowed)
        if ratio > NEAR_UNIFORM:
            self.warned_near_uniform = True
            warnings.warn(
                f"greedy act on a near-uniform policy (entropy {ratio:.3f} of the maximum at "
                f"an episode's first step): its most likely action is an arbitrary one, "
                f"played at every step. Train the principal (meta_train, or load a trained "
                f"one), or score it with greedy=False", NearUniformPolicyWarning, stacklevel=3)

    def rollout(self, game: VectorGame, rng: np.random.Generator, tasks: Any = None,
                seed: int | None = None, policy: PolicyFn | None = None) -> Episodes:
        """One episode on every sub-game of ``game``, sampling from ``policy`` (default: the
        net itself; MAML passes each task's adapted parameters)."""
        net = self.net

        def actions_only(x: Tensor, state: Any) -> tuple[Tensor, Any]:
            out, state = net(x, state) if policy is None else policy(x, state)
            return policy_outputs(net, out), state

        return rollout(game, self.encoder, actions_only, self.space, rng, tasks, seed,
                       self.log_std)

    def parameters(self) -> dict[str, Tensor]:
        return dict(self.net.named_parameters())

    def play(self, env: gym.Env, episodes: int, rng: np.random.Generator) -> Episodes:
        """``episodes`` episodes of one single env (K-shot adaptation), one after the other."""
        game = VectorGame.single(env)
        return Episodes.concatenate([self.rollout(game, rng) for _ in range(episodes)])


# --- episodes ---------------------------------------------------------------------------------


@dataclass
class Episodes:
    """N episodes padded to the longest: obs (N, T, D), actions (N, T) (or (N, T, A) for Box
    actions), rewards (N, T), mask (N, T) (1 where the step happened), agent_actions (N, T)
    (the agent's action as the principal observed it, ``info["observed_action"]``; -1 where
    the game reports none), action_masks (N, T, A) (the game's ``info["action_mask"]`` when the
    action was chosen: all True where it reports none; (N, T, 0) for Box actions)."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    mask: np.ndarray
    agent_actions: np.ndarray
    action_masks: np.ndarray  # (N, T, A) bool: the actions that could have an effect

    @property
    def steps(self) -> int:
        return int(self.mask.sum())

    def rows(self, index: slice | np.ndarray) -> Episodes:
        return Episodes(*(getattr(self, f.name)[index] for f in dataclasses.fields(Episodes)))

    @staticmethod
    def concatenate(parts: Sequence[Episodes]) -> Episodes:
        horizon = max(p.obs.shape[1] for p in parts)

        def pad(array: np.ndarray) -> np.ndarray:
            widths = [(0, 0), (0, horizon - array.shape[1])] + [(0, 0)] * (array.ndim - 2)
            return np.pad(array, widths)

        return Episodes(*(np.concatenate([pad(getattr(p, f.name)) for p in parts])
                          for f in dataclasses.fields(Episodes)))


Chooser = Callable[[np.ndarray, Any, np.ndarray], tuple[np.ndarray, Any]]


def info_action_mask(info: dict[str, Any], n: int, size: int) -> np.ndarray:
    """The (n, size) bool mask a vector env's info reports (``info["action_mask"]``, the
    MaskablePPO convention), all True where it reports none."""
    mask = info.get("action_mask")
    if mask is None:
        return np.ones((n, size), dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (n, size):
        # SyncVectorEnv stacks what each sub-env reports; a sub-env without one gives None.
        mask = np.stack([np.ones(size, bool) if m is None else np.asarray(m, bool)
                         for m in info["action_mask"]])
    return mask


def play(game: VectorGame, choose: Chooser, to_env: Callable[[np.ndarray], np.ndarray],
         mask_size: int, tasks: Any = None, seed: int | None = None) -> Episodes:
    """One episode on each sub-game of ``game`` in lockstep: per time step one call of
    ``choose(obs (N, D), state, action_mask (N, mask_size)) -> (actions as recorded,
    state)`` (``state`` is None at the start) and one vectorised ``step(to_env(actions))``.
    Sub-games that end early (a third party's env) are masked out and their further steps
    ignored."""
    obs, info = game.reset(tasks, seed)
    n = game.num_envs
    allowed = info_action_mask(info, n, mask_size)
    alive = np.ones(n, dtype=bool)
    observations, actions, rewards, masks, seen, allowed_steps = [], [], [], [], [], []
    state: Any = None
    step = game.env.step
    while True:
        action, state = choose(obs, state, allowed)
        next_obs, reward, terminated, truncated, info = step(to_env(action))
        observed = info.get("observed_action")
        observations.append(obs)
        actions.append(action)
        allowed_steps.append(allowed)
        rewards.append(np.where(alive, reward, 0.0).astype(np.float32))
        masks.append(alive.astype(np.float32))
        seen.append(np.where(alive, -1 if observed is None else observed, -1))
        alive &= ~(np.asarray(terminated) | np.asarray(truncated))
        if not alive.any():
            break
        obs = game.observe(next_obs)
        allowed = info_action_mask(info, n, mask_size)
    return Episodes(np.stack(observations, 1), np.stack(actions, 1), np.stack(rewards, 1),
                    np.stack(masks, 1), np.stack(seen, 1).astype(np.int64),
                    np.stack(allowed_steps, 1))


class BatchObserver(Protocol):
    """What ``train_batches`` tells of every batch (``monitor.TrainingMonitor`` is one)."""

    def update(self, steps: int, episodes: Episodes | None = None,
               scalars: dict[str, float] | None = None) -> None: ...


def train_batches(game: VectorGame, population: TaskDistribution | None, steps: int,
                  rng: np.random.Generator, collect: Callable[[Any, int | None], Episodes],
                  update: Callable[[Episodes], float],
                  monitor: BatchObserver | None = None) -> int:
    """The on-policy loop of ``reinforce`` and ``stackelberg-pomdp``: until about ``steps``
    env steps are played, one batch of episodes on every sub-game of ``game``
    (``collect(tasks, seed)``, each sub-game with a fresh task from ``population``; None: the
    game draws its own), then ``update(episodes)``, which returns the loss the monitor is told
    of. The first batch seeds the vector env from ``rng``; later ones continue its stream.
    Returns the steps played."""
    done = 0
    seed: int | None = int(rng.integers(2**31))
    while done < steps:
        tasks = None if population is None else game.draw(population, game.num_envs, rng)
        episodes = collect(tasks, seed)
        seed = None
        done += episodes.steps
        loss = update(episodes)
        if monitor is not None:
            monitor.update(episodes.steps, episodes, {"train/loss": loss})
    return done


def rollout(game: VectorGame, encoder: Encoder, policy: PolicyFn, space: ActionSpace,
            rng: np.random.Generator, tasks: Any = None, seed: int | None = None,
            log_std: Tensor | None = None) -> Episodes:
    """``play`` with a policy: per time step one encoder and one policy call on the (N, 1, F)
    inputs (``policy(x, state) -> (outputs, state)``), actions sampled from the outputs."""

    def choose(obs: np.ndarray, state: Any, allowed: np.ndarray) -> tuple[np.ndarray, Any]:
        enc_state, pol_state = (None, None) if state is None else state
        x, enc_state = encoder.step(torch.from_numpy(obs), enc_state)
        out, pol_state = policy(x[:, None], pol_state)
        action = space.sample(out[:, 0], log_std, rng, allowed)
        return (action.astype(np.int64) if space.discrete else action.astype(np.float32),
                (enc_state, pol_state))

    with torch.no_grad():
        return play(game, choose, space.to_env, space.mask_size, tasks, seed)


# --- returns, advantages, losses --------------------------------------------------------------


def rewards_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """(N, T) rewards -> (N, T) discounted sums from each step to the episode's end."""
    returns = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[0], dtype=rewards.dtype)
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        returns[:, t] = running
    return returns


def reinforce_advantages(episodes: Episodes, gamma: float, normalize: bool, tasks: int = 1
                         ) -> np.ndarray:
    """Rewards-to-go minus a baseline, (N, T), within each of ``tasks`` groups of episodes
    (laid out task-major: N = tasks x per_task), all groups in one array computation.

    With several episodes per group the baseline is the group's mean reward-to-go at each time
    step. A group of a single episode (K = 1 adaptation) has no batch to average over: its own
    mean reward per step, times the steps left, stands in (for a one-step episode that is the
    reward itself, so no baseline is taken there). With ``normalize`` the advantages are
    divided by their std within the group.
    """
    n, horizon = episodes.mask.shape
    per_task = n // tasks
    mask = episodes.mask.reshape(tasks, per_task, horizon)
    rewards = episodes.rewards.reshape(tasks, per_task, horizon) * mask
    returns = rewards_to_go(rewards.reshape(n, horizon), gamma).reshape(mask.shape)
    if per_task > 1:
        counts = np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        baseline = (returns * mask).sum(axis=1, keepdims=True) / counts
    else:
        lengths = mask.sum(axis=2, keepdims=True)
        steps_left = np.cumsum(mask[..., ::-1], axis=2)[..., ::-1]
        baseline = np.where(lengths > 1, steps_left * rewards.sum(axis=2, keepdims=True)
                            / np.maximum(lengths, 1.0), 0.0)
    advantages = (returns - baseline) * mask
    if normalize:
        steps = mask.sum(axis=(1, 2), keepdims=True)
        std = np.sqrt((advantages ** 2).sum(axis=(1, 2), keepdims=True) / np.maximum(steps, 1))
        scale = np.where((steps > 1) & (std > 1e-8), std, 1.0)
        advantages = advantages / scale
    return advantages.reshape(n, horizon).astype(np.float32)


@dataclass
class LossBatch:
    """What the loss needs, as tensors: inputs (N, T, F), actions (N, T), advantages (N, T),
    mask (N, T), and the action masks the game reported (a ruled-out action has probability 0
    in the loss as in sampling, so a step with one allowed action carries no gradient)."""

    inputs: Tensor
    actions: Tensor
    advantages: Tensor
    mask: Tensor
    action_masks: Tensor | None = None  # (N, T, A) bool: the actions the game allowed

    def split(self, tasks: int) -> LossBatch:
        """The same batch as (tasks, N / tasks, ...) tensors, for ``vmap`` over tasks."""
        return LossBatch(by_task(self.inputs, tasks), by_task(self.actions, tasks),
                         by_task(self.advantages, tasks), by_task(self.mask, tasks),
                         None if self.action_masks is None else by_task(self.action_masks,
                                                                        tasks))


def by_task(t: Tensor, tasks: int) -> Tensor:
    """(N, ...) rows laid out task-major -> (tasks, N / tasks, ...)."""
    return t.reshape(tasks, t.shape[0] // tasks, *t.shape[1:])


def loss_batch(episodes: Episodes, encoder: Encoder, advantages: np.ndarray) -> LossBatch:
    with torch.no_grad():
        inputs = encoder.sequence(torch.from_numpy(episodes.obs))
    masks = episodes.action_masks
    return LossBatch(inputs, torch.from_numpy(episodes.actions), torch.from_numpy(advantages),
                     torch.from_numpy(episodes.mask),
                     None if masks.shape[-1] == 0 or masks.all() else torch.from_numpy(masks))


def action_log_probs(policy: nn.Module, params: dict[str, Tensor], inputs: Tensor,
                     actions: Tensor, action_masks: Tensor | None = None
                     ) -> tuple[Tensor, Tensor]:
    """log pi(a_t | h_t) of the actions taken and the policy's entropy, both (N, T), under
    ``params`` (a pure function of them), the actions ``action_masks`` rules out at
    probability 0."""
    out, _ = functional_call(policy, params, (inputs,))
    return log_probs_of(policy, params, out, actions, action_masks)


def log_probs_of(policy: nn.Module, params: dict[str, Tensor], out: Tensor, actions: Tensor,
                 action_masks: Tensor | None) -> tuple[Tensor, Tensor]:
    """``action_log_probs`` from the net's outputs ``out`` (N, T, A[+1]) already computed."""
    out = out[..., :policy.n_actions] if getattr(policy, "critic", False) else out
    if "log_std" in params:  # a Gaussian over Box actions
        log_std = params["log_std"]
        z = (actions - out) / log_std.exp()
        chosen = (-0.5 * z ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        entropy = (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum(-1).expand_as(chosen)
        return chosen, entropy
    if action_masks is not None:
        out = out.masked_fill(~action_masks, MASKED_LOGIT)
    log_probs = torch.log_softmax(out, dim=-1)
    chosen = log_probs.gather(-1, actions[..., None])[..., 0]
    return chosen, -(log_probs.exp() * log_probs).sum(-1)


def policy_gradient_loss(policy: nn.Module, params: dict[str, Tensor], batch: LossBatch,
                         entropy_coef: float) -> Tensor:
    """The REINFORCE loss, ``-E[log pi(a|h) * A + entropy_coef * H(pi(.|h))]`` over the steps
    that happened, evaluated with the parameters ``params`` (a pure function of them)."""
    chosen, entropy = action_log_probs(policy, params, batch.inputs, batch.actions,
                                       batch.action_masks)
    steps = batch.mask.sum().clamp(min=1.0)
    return -((chosen * batch.advantages + entropy_coef * entropy) * batch.mask).sum() / steps


def gae(episodes: Episodes, values: np.ndarray, gamma: float, lam: float
        ) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation (Schulman et al., 2016) from the critic's (N, T)
    estimates: advantages and the critic's targets (advantages + values), both (N, T), zero
    where no step happened. lam = 1 gives returns-to-go minus the values; lam = 0 one-step TD."""
    mask = episodes.mask
    values = values * mask
    following = np.concatenate([values[:, 1:], np.zeros_like(values[:, :1])], axis=1)
    deltas = (episodes.rewards * mask + gamma * following - values) * mask
    advantages = rewards_to_go(deltas, gamma * lam) * mask
    return advantages.astype(np.float32), (advantages + values).astype(np.float32)


def standardised(advantages: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Advantages minus their mean, over their std, on the steps that happened."""
    steps = max(float(mask.sum()), 1.0)
    mean = float((advantages * mask).sum()) / steps
    std = float(np.sqrt((((advantages - mean) * mask) ** 2).sum() / steps))
    return (((advantages - mean) / max(std, 1e-8)) * mask).astype(np.float32)


def ppo_loss(net: PolicyNet, params: dict[str, Tensor], batch: LossBatch,
             old_log_probs: Tensor, returns: Tensor | None, clip_range: float,
             entropy_coef: float, value_coef: float) -> Tensor:
    """PPO's clipped surrogate (Schulman et al., 2017) with an entropy bonus and, for a net
    with a critic, the squared error of its values against ``returns``, averaged over the
    steps that happened. At the parameters that played (ratio 1) its gradient is the policy
    gradient's."""
    out, _ = functional_call(net, params, (batch.inputs,))
    chosen, entropy = log_probs_of(net, params, out, batch.actions, batch.action_masks)
    ratio = torch.exp(chosen - old_log_probs)
    surrogate = torch.minimum(ratio * batch.advantages,
                              ratio.clamp(1.0 - clip_range, 1.0 + clip_range)
                              * batch.advantages)
    per_step = surrogate + entropy_coef * entropy
    steps = batch.mask.sum().clamp(min=1.0)
    loss = -(per_step * batch.mask).sum() / steps
    if returns is not None:
        loss = loss + value_coef * (((state_values(net, out) - returns) ** 2) * batch.mask
                                    ).sum() / steps
    return loss


def sgd_steps(net: nn.Module, loss: Callable[[], Tensor], lr: float, steps: int) -> None:
    """``steps`` plain SGD steps of ``loss`` on ``net``'s parameters (K-shot adaptation)."""
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()


# --- checkpoints ------------------------------------------------------------------------------


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    return dict(rng.bit_generator.state)


def generator_from(state: dict[str, Any]) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng


def save_checkpoint(path: str, name: str, payload: dict[str, Any]) -> None:
    """Write a principal's tensors and plain data (no pickled object) to ``path``."""
    torch.save({"principal": name, **payload}, path)


def read_tensors(path: str | os.PathLike[str]) -> Any:
    """What ``torch.save`` wrote to ``path``, if it is tensors and plain data only: loading
    never unpickles an arbitrary object (``weights_only=True``). Raises ``CheckpointError``
    for any other file."""
    with reading_checkpoint(path):
        try:
            saved = torch.load(path, weights_only=True)
        except pickle.UnpicklingError as error:
            if "weights only" not in str(error).lower():
                raise  # not a pickle at all (random bytes): reading_checkpoint says so
            raise CheckpointError(
                f"{os.fspath(path)!r} is not a mermaide checkpoint of tensors and plain data: "
                f"torch.load(weights_only=True) refused it (a file that would unpickle other "
                f"objects could run code, so it is not opened)"
            ) from error
    return saved


def load_checkpoint(path: str, name: str) -> dict[str, Any]:
    """Read what ``save_checkpoint`` wrote for the principal ``name`` (``read_tensors``);
    build the principal from what it returns inside ``reading_checkpoint(path)``. Raises
    ``CheckpointError`` for a file that is not such a checkpoint, or is another
    principal's."""
    saved = read_tensors(path)
    if not isinstance(saved, dict) or saved.get("principal") != name:
        found = saved.get("principal") if isinstance(saved, dict) else type(saved).__name__
        raise other_principal(path, found, name)
    return saved

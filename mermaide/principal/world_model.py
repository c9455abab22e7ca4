"""A recurrent world model of the agent: the principal's history and its action -> the agent's
action.

MERMAIDE (Banerjee et al., TMLR 2024) gives its principal a model of the agent it steers: a
GRU reads what the principal has seen so far (everything in its observation: in the games
here the agent's observed actions, the principal's own last action, time and budget left and,
when visible, the agent's rewards), and a read-out of its state and of the principal's action
at this step predicts the distribution of the agent's action at this step. Its hidden state
and predictions are features for the principal's policy; it is trained by maximum likelihood
on trajectories played against the training population, and its read-out may be fine-tuned
on the K adaptation episodes of one agent.

Timing. ``obs_t`` is what the principal sees before acting at step t and ``a_t`` its action
at step t; ``logits[:, t]`` predicts the agent's action at step t from ``obs_0 .. obs_t`` and
``a_t``. The principal's action comes first because it may move the agent at once (a
follower best-responds to this round's commitment); where it cannot (the bandit agent never
sees this step's bonus before acting) the model learns that it does not matter. The target
is the action *as the principal observes it* (noisy when ``observation_noise`` > 0): a
principal never sees the true one. Before it acts, a policy gets the hidden state and the
prediction under a reference action (``features``): a ``Discrete`` space's first action, the
centre of a ``Box``.

What a game gives the world model (its public seam, read through Gymnasium's interface only):
every step's info holds ``observed_action``, the agent's action at that step as the principal
sees it (an int in [0, n)); the reset info says how many actions the agent has, as
``agent_action_space`` (a ``Discrete(n)``) or through the task it reports (an ``AgentSpec``
over n arms, a ``MatrixGame`` whose agent has n actions; ``agent_action_count``). A game with
one-step episodes gives nothing to model: the principal acts once, before it has seen any
agent action (``modelled_agent_actions`` refuses it).

>>> import gymnasium as gym, mermaide
>>> from mermaide.agents import population
>>> from mermaide.principal.world_model import (AgentWorldModel, WorldModelConfig,
...     collect_trajectories, fit_world_model)
>>> env_fn = lambda: gym.make("Mermaide/Bandit-v0", n_arms=5, horizon=30)
>>> data = collect_trajectories(env_fn, population("train", n_arms=5), 256, seed=0)
>>> model = AgentWorldModel(data.obs_dim, data.n_actions, WorldModelConfig(epochs=2))
>>> losses = fit_world_model(model, data, seed=0)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap
from torch.nn import functional as F

from mermaide.agents import AgentSpec
from mermaide.checks import CheckpointError, check_int, check_number, reading_checkpoint
from mermaide.envs import MatrixGame
from mermaide.principal.evaluation import task_key
from mermaide.principal.monitor import TrainingMonitor
from mermaide.principal.toolkit import ActionSpace, Episodes, VectorGame, play, read_tensors

Params = dict[str, Tensor]


@dataclass
class WorldModelConfig:
    """Hyper-parameters of the world model and of its maximum-likelihood fit.

    For pre-training, lr 1e-2 learns faster than the default: after 10 epochs on 1500
    episodes (5 arms, horizon 30) held-out log-likelihood -0.89 against -0.97 at lr 3e-3.
    """

    hidden_size: int = 64  # width H of the observation embedding and of the GRU state
    lr: float = 3e-3  # Adam learning rate
    epochs: int = 20  # passes over the trajectories per fit
    batch_size: int = 64  # whole episodes per minibatch
    weight_decay: float = 0.0  # Adam L2 penalty towards zero
    anchor: float = 0.0  # L2 pull towards the weights at the start of a fit (for fine-tuning)
    grad_clip: float = 1.0  # max global gradient norm; recurrent nets blow up without it
    init_seed: int = 0  # seeds the initial weights (the global torch RNG is left untouched)

    def __post_init__(self) -> None:
        check_int("hidden_size", self.hidden_size, 1)
        check_number("lr", self.lr, low=0.0, low_open=True)
        check_int("epochs", self.epochs, 0)
        check_int("batch_size", self.batch_size, 1)
        check_number("weight_decay", self.weight_decay, low=0.0)
        check_number("anchor", self.anchor, low=0.0)
        check_number("grad_clip", self.grad_clip, low=0.0, low_open=True)
        check_int("init_seed", self.init_seed, 0)


def fine_tune_config(config: WorldModelConfig | None = None) -> WorldModelConfig:
    """Settings for fine-tuning a pre-trained model on a few episodes of one agent: ``config``
    (the pre-training's) with lr 3e-3, 20 epochs and anchor 1.0. ``fine_tuned_heads`` (the
    principals' fine-tune of the read-out) takes ``epochs`` full-batch Adam steps with them;
    ``fit_world_model`` accepts them too, for a fine-tune of every weight.

    Why: a free fine-tune on 1-5 episodes over-fits them and often *lowers* the held-out
    likelihood of the same agent; the anchor keeps the model near the pre-trained weights.
    Measured with ``fine_tuned_heads`` on 16 held-out agents of ``population("train", 5)``,
    horizon 30, 1 / 3 / 5 adaptation episodes: mean held-out gain +0.033 / +0.042 / +0.041
    nats per step, positive for 11 / 15 / 16 of the 16 agents, and -0.028 on other agents
    (after 1 episode); without the anchor -0.22 / -0.007 / +0.032, and -0.53 on other agents.
    """
    base = config if config is not None else WorldModelConfig()
    return dataclasses.replace(base, lr=3e-3, epochs=20, anchor=1.0)


def _action_space(space: ActionSpace | gym.Space[Any] | None, n_actions: int) -> ActionSpace:
    if space is None:
        return ActionSpace(gym.spaces.Discrete(n_actions + 1))
    if isinstance(space, ActionSpace):
        return space
    if isinstance(space, gym.Space):
        return ActionSpace(space)
    raise ValueError(f"action_space must be a gymnasium Space, an ActionSpace or None, got "
                     f"{space!r}")


class AgentWorldModel(nn.Module):
    """A ReLU layer embeds each observation and a GRU runs over the embeddings (the history);
    the read-out (``head``, a one-hidden-layer ReLU net) maps the GRU state and the
    principal's action at this step to the agent's action logits. (The embedding layer made
    the held-out likelihood 0.02-0.05 nats per step better than a GRU on the raw
    observations, at the same training cost.)

    action_space: the principal's (a ``Discrete`` or flat ``Box`` gymnasium space, or a
        ``toolkit.ActionSpace``); its actions enter the read-out as a one-hot (Discrete) or
        as the action vector the env took (Box). None: ``Discrete(n_actions + 1)``, the
        intervention games' (0 = nothing, j + 1 = a bonus on agent action j).

    ``feature_size`` = H + n_actions: the hidden state and the predicted probabilities under
    the reference action (``reference_action``), which is what a principal's policy reads.
    """

    def __init__(self, obs_dim: int, n_actions: int, config: WorldModelConfig | None = None,
                 action_space: ActionSpace | gym.Space[Any] | None = None):
        super().__init__()
        check_int("obs_dim", obs_dim, 1)
        check_int("n_actions", n_actions, 2)
        if config is not None and not isinstance(config, WorldModelConfig):
            raise ValueError(f"config must be a WorldModelConfig or None, got {config!r}")
        self.config = config if config is not None else WorldModelConfig()
        self.obs_dim, self.n_actions = int(obs_dim), int(n_actions)
        self.action_space = _action_space(action_space, self.n_actions)
        self.action_size = self.action_space.size
        self.hidden_size = H = self.config.hidden_size
        self.reference_action = reference_action(self.action_space)
        # Seeded construction without touching the caller's global torch RNG stream.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.init_seed)
            self.encoder = nn.Sequential(nn.Linear(self.obs_dim, H), nn.ReLU())
            self.gru = nn.GRU(H, H, batch_first=True)
            self.head = nn.Sequential(nn.Linear(H + self.action_size, H), nn.ReLU(),
                                      nn.Linear(H, self.n_actions))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def feature_size(self) -> int:
        return self.hidden_size + self.n_actions

    def initial_state(self, batch: int) -> Tensor:
        """The all-zero hidden state (1, B, H) of a fresh episode."""
        check_int("batch", batch, 1)
        return torch.zeros(1, batch, self.hidden_size, device=self.device)

    def _check_h(self, h: Tensor | None, batch: int) -> None:
        if h is not None and tuple(h.shape) != (1, batch, self.hidden_size):
            raise ValueError(f"h must have shape (1, {batch}, {self.hidden_size}), got "
                             f"{tuple(h.shape)}")

    def _check_obs_seq(self, obs_seq: Tensor) -> None:
        if obs_seq.ndim != 3 or obs_seq.shape[2] != self.obs_dim:
            raise ValueError(f"obs_seq must have shape (B, T, {self.obs_dim}), got "
                             f"{tuple(obs_seq.shape)}")

    def action_inputs(self, actions: np.ndarray | Tensor) -> Tensor:
        """The principal's actions as the env took them, (...) ints or (..., A) floats -> the
        read-out's inputs (..., action_size): a one-hot, or the action vector."""
        actions = torch.as_tensor(actions, device=self.device)
        space = self.action_space
        if space.discrete:
            index = actions.long() - space.start
            if index.numel() and (int(index.min()) < 0 or int(index.max()) >= space.size):
                raise ValueError(f"actions must lie in [{space.start}, "
                                 f"{space.start + space.size - 1}], got values in "
                                 f"[{int(actions.min())}, {int(actions.max())}]")
            return F.one_hot(index, space.size).float()
        if actions.ndim == 0 or actions.shape[-1] != space.size:
            raise ValueError(f"actions must have shape (..., {space.size}), got "
                             f"{tuple(actions.shape)}")
        return actions.float()

    def history(self, obs_seq: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """obs_seq (B, T, obs_dim) -> the GRU state at every step (B, T, H) (step t has read
        obs_0 .. obs_t) and the final state (1, B, H)."""
        self._check_obs_seq(obs_seq)
        self._check_h(h0, obs_seq.shape[0])
        embedded = self.encoder(obs_seq.to(device=self.device, dtype=torch.float32))
        return self.gru(embedded, h0)

    def read_out(self, hidden: Tensor, action_inputs: Tensor) -> Tensor:
        """GRU states (..., H) and action inputs (..., action_size) -> logits (..., n)."""
        return self.head(torch.cat([hidden, action_inputs.to(hidden.dtype)], dim=-1))

    def forward(self, obs_seq: Tensor, actions: Tensor, h0: Tensor | None = None
                ) -> tuple[Tensor, Tensor]:
        """obs_seq (B, T, obs_dim) and the principal's actions (B, T) or (B, T, A) -> logits
        (B, T, n_actions), final hidden state (1, B, H).

        ``logits[:, t]`` predicts the agent's observed action at step t from obs_0 .. obs_t
        and the principal's action at step t.
        """
        hidden, h = self.history(obs_seq, h0)
        inputs = self.action_inputs(actions)
        if inputs.shape[:2] != hidden.shape[:2]:
            raise ValueError(f"actions must cover the same (B, T) = {tuple(hidden.shape[:2])} "
                             f"as obs_seq, got {tuple(inputs.shape[:2])}")
        return self.read_out(hidden, inputs), h

    def step(self, obs: Tensor, action: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        """One step: obs (B, obs_dim) and the principal's action now (B,) or (B, A) ->
        logits (B, n_actions) for the agent's action now, h."""
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"obs must have shape (B, {self.obs_dim}), got {tuple(obs.shape)}")
        logits, h = self.forward(obs[:, None, :], torch.as_tensor(action)[:, None], h)
        return logits[:, 0], h

    def predictions(self, hidden: Tensor, head: Params | None = None) -> Tensor:
        """GRU states (..., H) -> the agent's action probabilities (..., n_actions) under the
        reference action; ``head`` replaces the read-out's parameters (a task's fine-tuned
        ones)."""
        reference = self.reference_action.to(hidden.device)
        pairs = torch.cat([hidden, reference.expand(*hidden.shape[:-1], -1)], dim=-1)
        logits = self.head(pairs) if head is None else functional_call(self.head, head,
                                                                      (pairs,))
        return torch.softmax(logits, dim=-1)

    def features(self, obs: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        """One step before the principal acts: (B, feature_size) = the new hidden state and
        the prediction under the reference action, and h."""
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"obs must have shape (B, {self.obs_dim}), got {tuple(obs.shape)}")
        hidden, h = self.history(obs[:, None, :], h)
        return torch.cat([hidden[:, 0], self.predictions(hidden[:, 0])], dim=-1), h

    def sequence_features(self, obs_seq: Tensor) -> Tensor:
        """``features`` of every step of whole episodes, (B, T, feature_size), in one GRU
        call (equal to stepping ``features`` from a fresh state)."""
        hidden, _ = self.history(obs_seq)
        return torch.cat([hidden, self.predictions(hidden)], dim=-1)

    def save(self, path: str | Path) -> None:
        """Write sizes, action space, config and weights to one file (``load`` reads it)."""
        torch.save({"obs_dim": self.obs_dim, "n_actions": self.n_actions,
                    "action_space": self.action_space.describe(),
                    "config": dataclasses.asdict(self.config),
                    "state_dict": self.state_dict()}, path)

    @classmethod
    def load(cls, path: str | Path) -> AgentWorldModel:
        """The model ``save`` wrote to ``path``, read with no unpickling of an arbitrary
        object (``weights_only=True``); a bad file raises ``CheckpointError``."""
        saved = read_tensors(path)
        with reading_checkpoint(path):
            if not isinstance(saved, dict) or "principal" in saved:
                found = saved.get("principal") if isinstance(saved, dict) else type(saved).__name__
                raise CheckpointError(f"{os.fspath(path)!r} holds a {found!r}, not a world "
                                      f"model")
            model = cls(saved["obs_dim"], saved["n_actions"],
                        WorldModelConfig(**saved["config"]),
                        ActionSpace.from_description(saved["action_space"]))
            model.load_state_dict(saved["state_dict"])
        return model


def reference_action(space: ActionSpace) -> Tensor:
    """The principal's action a policy gets the model's prediction under, as a read-out input
    (action_size,): the first action of a Discrete space (the intervention games' "do
    nothing"), the centre of a Box (0 on an unbounded side). (Why one: the predictions under
    every action of a Discrete space, as features, made ``"model"`` learn worse, mean return
    4.1 against 10.5 after 1M steps with 5 arms, horizon 30.)"""
    if space.discrete:
        return torch.eye(space.size)[0]
    low, high = (np.where(np.isfinite(b), b, 0.0) for b in (space.low, space.high))
    return torch.as_tensor((low + high) / 2.0, dtype=torch.float32)


@dataclass
class Trajectories:
    """N episodes of T steps, as a principal saw them.

    ``agent_actions`` are the agent's actions *as observed* (``info["observed_action"]``,
    noisy): the world model's target. ``principal_actions`` are as the env took them: (N, T)
    ints for a Discrete action space, (N, T, A) floats for a Box. ``agents`` holds each
    episode's task (an AgentSpec, a MatrixGame) when known. ``n_actions`` (the agent's number
    of actions) defaults to the largest action seen + 1.
    """

    observations: np.ndarray  # (N, T, obs_dim) float32: seen before acting at each step
    principal_actions: np.ndarray  # (N, T) int or (N, T, A) float: the principal's actions
    agent_actions: np.ndarray  # (N, T) int: the agent's observed action at each step
    n_actions: int | None = None  # the agent's number of actions
    agents: tuple[Any, ...] = field(default_factory=tuple)  # (N,) tasks, or empty

    def __post_init__(self) -> None:
        self.observations = np.asarray(self.observations, dtype=np.float32)
        self.principal_actions = np.asarray(self.principal_actions)
        self.agent_actions = np.asarray(self.agent_actions)
        if self.observations.ndim != 3:
            raise ValueError(f"observations must have shape (N, T, obs_dim), got "
                             f"{self.observations.shape}")
        shape = self.observations.shape[:2]
        actions = self.agent_actions
        if actions.shape != shape or (actions.size and not np.issubdtype(actions.dtype,
                                                                        np.integer)):
            raise ValueError(f"agent_actions must be an int array of shape {shape}, got "
                             f"{actions.dtype} {actions.shape}")
        self.agent_actions = actions.astype(np.int64)
        principal = self.principal_actions
        if principal.ndim == 2 and principal.shape == shape and (
                not principal.size or np.issubdtype(principal.dtype, np.integer)):
            self.principal_actions = principal.astype(np.int64)
        elif principal.ndim == 3 and principal.shape[:2] == shape and np.issubdtype(
                principal.dtype, np.number):
            self.principal_actions = principal.astype(np.float32)
        else:
            raise ValueError(f"principal_actions must be an int array of shape {shape} or a "
                             f"float array of shape {shape} + (A,), got {principal.dtype} "
                             f"{principal.shape}")
        if self.n_actions is None:
            self.n_actions = max(int(self.agent_actions.max(initial=0)) + 1, 2)
        check_int("n_actions", self.n_actions, 2)
        if self.agent_actions.size and (self.agent_actions.min() < 0
                                        or self.agent_actions.max() >= self.n_actions):
            raise ValueError(f"agent_actions must lie in [0, {self.n_actions - 1}], got "
                             f"values in [{self.agent_actions.min()}, "
                             f"{self.agent_actions.max()}]")
        self.agents = tuple(self.agents)
        if self.agents and len(self.agents) != shape[0]:
            raise ValueError(f"agents must hold one task per episode ({shape[0]}) or be "
                             f"empty, got {len(self.agents)}")

    def __len__(self) -> int:
        return int(self.observations.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.observations.shape[1])

    @property
    def obs_dim(self) -> int:
        return int(self.observations.shape[2])

    def subset(self, index: np.ndarray | Sequence[int] | slice) -> Trajectories:
        """The episodes at ``index`` (an index array, a list or a slice)."""
        positions = np.arange(len(self))[index]
        return Trajectories(self.observations[positions], self.principal_actions[positions],
                            self.agent_actions[positions], self.n_actions,
                            tuple(self.agents[i] for i in positions) if self.agents else ())

    def split(self, test_fraction: float, seed: int) -> tuple[Trajectories, Trajectories]:
        """(train, test): a seeded random split of the episodes, ``test_fraction`` of them (at
        least one, at most all but one) going to test."""
        check_number("test_fraction", test_fraction, low=0.0, high=1.0, low_open=True)
        if len(self) < 2:
            raise ValueError(f"split needs at least 2 episodes, got {len(self)}")
        n_test = min(max(round(test_fraction * len(self)), 1), len(self) - 1)
        order = np.random.default_rng(seed).permutation(len(self))
        return self.subset(np.sort(order[n_test:])), self.subset(np.sort(order[:n_test]))

    @staticmethod
    def concat(parts: Sequence[Trajectories]) -> Trajectories:
        """One Trajectories of all episodes of ``parts`` (same horizon and obs_dim)."""
        if len(parts) == 0:
            raise ValueError("parts must hold at least one Trajectories, got none")
        shapes = {p.observations.shape[1:] for p in parts}
        if len(shapes) != 1:
            raise ValueError(f"parts must share (T, obs_dim), got {sorted(shapes)}")
        with_agents = all(p.agents for p in parts)
        return Trajectories(
            np.concatenate([p.observations for p in parts]),
            np.concatenate([p.principal_actions for p in parts]),
            np.concatenate([p.agent_actions for p in parts]),
            max(p.n_actions or 2 for p in parts),
            tuple(a for p in parts for a in p.agents) if with_agents else (),
        )

    def tensors(self, device: torch.device | str | None = None
                ) -> tuple[Tensor, Tensor, Tensor]:
        """(observations float32 (N, T, D), principal_actions, agent_actions int64 (N, T))
        as torch tensors."""
        return (torch.as_tensor(self.observations, device=device),
                torch.as_tensor(self.principal_actions, device=device),
                torch.as_tensor(self.agent_actions, device=device))


class Behaviour(Protocol):
    """How the principal acts while trajectories are collected: a batch of observations
    (B, obs_dim) and a generator -> the B actions as the env takes them ((B,) ints for a
    Discrete action space, (B, A) floats for a Box). The episodes of a batch start together.
    A behaviour with memory, e.g. a recurrent policy, may also define ``reset(batch: int)``:
    it is called before the first step of every batch of B episodes (B = 1 on the
    episode-by-episode path)."""

    def __call__(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


def _start_episodes(behaviour: Behaviour | None, batch: int) -> None:
    reset = getattr(behaviour, "reset", None)
    if callable(reset):
        reset(batch)


def random_behaviour(n_arms: int, intervene_prob: float) -> Behaviour:
    """A principal that, each step, puts the bonus on a uniformly drawn arm (action 1 ..
    n_arms) with probability ``intervene_prob`` and does nothing (action 0) otherwise."""
    check_int("n_arms", n_arms, 1)
    check_number("intervene_prob", intervene_prob, low=0.0, high=1.0)

    def behaviour(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        batch = obs.shape[0]
        arms = rng.integers(1, n_arms + 1, size=batch)
        return np.where(rng.random(batch) < intervene_prob, arms, 0)

    return behaviour


def exploring_behaviour(space: gym.Space[Any], intervene_prob: float) -> Behaviour:
    """The data-collecting principal of ``pretrain_world_model``. A ``Discrete(n, start)``
    space: with probability ``intervene_prob`` a uniformly drawn action other than the first,
    else the first (the intervention games' "do nothing"). A flat ``Box``: uniform over the
    box (``intervene_prob`` unused), N(0, 1) on an unbounded side."""
    check_number("intervene_prob", intervene_prob, low=0.0, high=1.0)
    actions = ActionSpace(space)
    if actions.discrete:
        if actions.size < 2:
            raise ValueError(f"space must offer at least 2 actions, got {space!r}")
        shifted = random_behaviour(actions.size - 1, intervene_prob)
        return lambda obs, rng: shifted(obs, rng) + actions.start
    return uniform_behaviour(actions)


def uniform_behaviour(space: ActionSpace) -> Behaviour:
    """Uniformly random actions of ``space`` (N(0, 1) on an unbounded side of a Box)."""
    if space.discrete:
        return lambda obs, rng: rng.integers(space.start, space.start + space.size,
                                             size=obs.shape[0])
    low, high = space.low, space.high
    bounded = np.isfinite(low) & np.isfinite(high)

    def behaviour(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        shape = (obs.shape[0], low.shape[0])
        uniform = rng.uniform(np.where(bounded, low, 0.0), np.where(bounded, high, 1.0), shape)
        return np.where(bounded, uniform, rng.standard_normal(shape)).astype(np.float32)

    return behaviour


def task_agent_actions(task: Any) -> int | None:
    """The agent's number of actions as a task of the games here says it: an AgentSpec's
    ``n_arms``, a MatrixGame's n; None for any other task."""
    if isinstance(task, AgentSpec):
        return int(task.n_arms)
    if isinstance(task, MatrixGame):
        return int(task.shape[1])
    return None


def agent_action_count(info: dict[str, Any]) -> int | None:
    """How many actions a game's agent has, from the game's reset info: its
    ``agent_action_space`` (a ``Discrete``) when it reports one, else the task it reports
    (``task_agent_actions``); None when it says neither."""
    space = info.get("agent_action_space")
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    return task_agent_actions(info.get(task_key(info)))


TasksArg = Any  # a TaskDistribution, one task, a non-empty sequence of tasks, or None


class _TaskDraw:
    """Episode i's task: drawn from a population (anything with ``sample(rng)``), one task
    for every episode, or the i-th of a sequence (round-robin)."""

    def __init__(self, tasks: TasksArg):
        self.population = tasks if callable(getattr(tasks, "sample", None)) else None
        self.tasks: tuple[Any, ...] = ()
        if self.population is None:
            self.tasks = tuple(tasks) if isinstance(tasks, (list, tuple)) else (tasks,)
            if not self.tasks or any(isinstance(t, (bool, int, float, str, type(None)))
                                     for t in self.tasks):
                raise ValueError(f"population must be a population (with sample(rng)), a task "
                                 f"or a non-empty list of tasks, got {tasks!r}")

    def __call__(self, first: int, count: int, rng: np.random.Generator,
                 n_actions: int) -> list[Any]:
        """The tasks of episodes first .. first + count - 1, refused unless their agents have
        ``n_actions`` actions (where the task says)."""
        if self.population is None:
            tasks = [self.tasks[i % len(self.tasks)] for i in range(first, first + count)]
        elif callable(getattr(self.population, "sample_many", None)):
            tasks = list(self.population.sample_many(count, rng))
        else:
            tasks = [self.population.sample(rng) for _ in range(count)]
        counts = sorted({c for c in map(task_agent_actions, tasks) if c is not None})
        if counts and counts != [n_actions]:
            raise ValueError(f"population's tasks have agents of {counts} actions but the "
                             f"env's agent has {n_actions}")
        return tasks


def _checked_actions(actions: Any, batch: int, space: ActionSpace) -> np.ndarray:
    """The behaviour's actions, refused loudly unless B ints in the Discrete space's range or
    (B, A) numbers in the Box."""
    array = np.asarray(actions)
    if space.discrete:
        low, high = space.start, space.start + space.size
        if array.shape != (batch,) or not np.issubdtype(array.dtype, np.integer) \
                or array.min() < low or array.max() >= high:
            got = (f"{array.dtype} of shape {array.shape}" if array.size == 0 or array.ndim
                   != 1 or not np.issubdtype(array.dtype, np.number) else
                   f"{array.dtype} of shape {array.shape} in [{array.min()}, {array.max()}]")
            raise ValueError(f"behaviour must return {batch} int actions in [{low}, "
                             f"{high - 1}] for a batch of {batch} observations, got {got}")
        return array.astype(np.int64)
    shape = (batch, space.size)
    if array.shape != shape or not np.issubdtype(array.dtype, np.number) or np.any(
            array < space.low) or np.any(array > space.high):
        raise ValueError(f"behaviour must return actions of shape {shape} inside the action "
                         f"space's box for a batch of {batch} observations, got "
                         f"{array.dtype} of shape {array.shape}")
    return array.astype(np.float32)


def collect_trajectories(env_fn: Callable[[], gym.Env[Any, Any]], population: TasksArg,
                         n_episodes: int, seed: int, behaviour: Behaviour | None = None,
                         chunk: int = 1024) -> Trajectories:
    """Play ``n_episodes`` episodes and record what the principal saw and did.

    env_fn: zero-argument callable returning an env with a Discrete or flat Box action space
        whose agent the world model can see (the module docstring's seam: its reset info
        says how many actions the agent has, every step's info holds
        ``observed_action``), with episodes of one length. Episodes are played ``chunk`` at a
        time through the game's batched form (``toolkit.VectorGame``: its native vector env,
        or ``SyncVectorEnv`` over ``env_fn`` for an env without one), like every principal's.
    population: a population (anything with ``sample(rng)``: an AgentPopulation, a
        GamePopulation; each episode draws a task), one task (every episode plays it), a list
        of tasks (episode i plays task i mod len), or None (the env's own task source).
    behaviour: None = uniformly random principal actions; or a ``Behaviour``, called with a
        batch of observations (B, obs_dim) and a generator, returning the B actions.
    chunk: most episodes played at once (bounds memory).
    Every draw (tasks, the game, the behaviour) flows from ``seed``.
    """
    if not callable(env_fn):
        raise ValueError(f"env_fn must be a zero-argument callable returning an env, got "
                         f"{env_fn!r}")
    check_int("n_episodes", n_episodes, 1)
    check_int("seed", seed, 0)
    check_int("chunk", chunk, 1)
    if behaviour is not None and not callable(behaviour):
        raise ValueError(f"behaviour must be None or a callable (obs, rng) -> actions, got "
                         f"{behaviour!r}")
    spec_rng, env_rng, act_rng = (np.random.default_rng(s)
                                  for s in np.random.SeedSequence(seed).spawn(3))
    probe = env_fn()
    space, spec = probe.action_space, probe.spec
    info = probe.reset(seed=int(env_rng.integers(2**31)))[1]
    probe.close()
    key, n_actions = task_key(info), agent_action_count(info)
    try:
        actions = ActionSpace(space)
    except ValueError:
        raise ValueError(f"env must have a Discrete or a flat Box action space, got "
                         f"{space!r}") from None
    if n_actions is None or n_actions < 2:
        raise ValueError(f"env must say in its reset info how many actions its agent has "
                         f"(agent_action_space, or a task that says it), got {n_actions} "
                         f"from info keys {sorted(info)}")
    draw = None if population is None else _TaskDraw(population)
    act = behaviour if behaviour is not None else uniform_behaviour(actions)
    games: dict[int, VectorGame] = {}
    parts = []
    try:
        for first in range(0, n_episodes, chunk):
            size = min(chunk, n_episodes - first)
            if size not in games:
                games[size] = VectorGame.make(env_fn, size, key, spec)
            tasks = None if draw is None else draw(first, size, spec_rng, n_actions)
            _start_episodes(behaviour, size)

            def choose(obs: np.ndarray, state: Any, allowed: np.ndarray,
                       size: int = size) -> tuple[np.ndarray, Any]:
                # The game's action mask is not applied: the data is of an indiscriminate
                # intervener, whose refused interventions the world model sees too.
                return _checked_actions(act(obs, act_rng), size, actions), None

            episodes = play(games[size], choose, lambda a: a, actions.mask_size, tasks,
                            int(env_rng.integers(2**31)))
            if not np.all(episodes.mask == 1.0):
                raise ValueError("env must give episodes of one length")
            if np.any(episodes.agent_actions < 0):
                raise ValueError("env must report info['observed_action'] at each step (the "
                                 "agent's action as the principal sees it)")
            parts.append(Trajectories(episodes.obs, episodes.actions,
                                      episodes.agent_actions, n_actions, tuple(tasks or ())))
    finally:
        for game in games.values():
            game.close()
    return Trajectories.concat(parts)


def _check_fit_args(model: AgentWorldModel, trajectories: Trajectories) -> None:
    if not isinstance(model, AgentWorldModel):
        raise ValueError(f"model must be an AgentWorldModel, got {type(model).__name__}")
    if not isinstance(trajectories, Trajectories):
        raise ValueError(f"trajectories must be Trajectories, got {type(trajectories).__name__}")
    if len(trajectories) == 0:
        raise ValueError("trajectories must hold at least one episode, got none")
    if trajectories.obs_dim != model.obs_dim:
        raise ValueError(f"trajectories have obs_dim {trajectories.obs_dim} but the model "
                         f"expects {model.obs_dim}")
    if (trajectories.n_actions or 0) > model.n_actions:
        raise ValueError(f"trajectories have {trajectories.n_actions} agent actions but the "
                         f"model predicts {model.n_actions}")
    per_step = trajectories.principal_actions.shape[2:]
    expected = () if model.action_space.discrete else (model.action_size,)
    if per_step != expected:
        raise ValueError(f"trajectories' principal_actions have shape (N, T) + {per_step} but "
                         f"the model's action space {model.action_space.space} needs (N, T) + "
                         f"{expected}")


def fit_world_model(model: AgentWorldModel, trajectories: Trajectories,
                    config: WorldModelConfig | None = None, seed: int = 0) -> list[float]:
    """Maximum likelihood of the observed agent actions: Adam over minibatches of whole
    episodes, shuffled by ``seed``. ``config`` (default: the model's) sets lr, epochs, batch
    size, weight decay and clipping, so a fine-tune may use gentler settings than the
    pre-training; with ``config.anchor`` > 0 the loss adds anchor * (sum of squared weight
    changes since the start of this fit). Returns each epoch's mean per-step NLL (the anchor
    term excluded), averaged over the epoch's minibatches as they were fitted."""
    _check_fit_args(model, trajectories)
    config = model.config if config is None else config
    if not isinstance(config, WorldModelConfig):
        raise ValueError(f"config must be a WorldModelConfig or None, got {config!r}")
    check_int("seed", seed, 0)
    device = model.device
    observations, actions, targets = trajectories.tensors(device)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr,
                                 weight_decay=config.weight_decay)
    start_weights = [p.detach().clone() for p in model.parameters()]
    n = len(trajectories)
    losses = []
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(n, generator=generator).to(device)
        total = 0.0
        for start in range(0, n, config.batch_size):
            index = order[start:start + config.batch_size]
            logits, _ = model(observations[index], actions[index])
            loss = F.cross_entropy(logits.reshape(-1, model.n_actions),
                                   targets[index].reshape(-1))
            objective = loss
            if config.anchor > 0:
                moved = zip(model.parameters(), start_weights, strict=True)
                objective = loss + config.anchor * sum(((p - p0) ** 2).sum() for p, p0 in moved)
            optimiser.zero_grad()
            objective.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimiser.step()
            total += loss.item() * len(index)
        losses.append(total / n)
    model.eval()
    return losses


def action_log_likelihood(model: AgentWorldModel, trajectories: Trajectories) -> float:
    """Mean per-step log-likelihood (nats) of ``trajectories.agent_actions`` under the model."""
    _check_fit_args(model, trajectories)
    observations, actions, targets = trajectories.tensors(model.device)
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(trajectories), 1024):
            rows = slice(start, start + 1024)
            logits, _ = model(observations[rows], actions[rows])
            total += -F.cross_entropy(logits.reshape(-1, model.n_actions),
                                      targets[rows].reshape(-1), reduction="sum").item()
    return total / targets.numel()


def marginal_log_likelihood(train: Trajectories, test: Trajectories) -> float:
    """Baseline: mean per-step log-likelihood of ``test``'s agent actions under ``train``'s
    marginal action frequencies, Laplace-smoothed ((count + 1) / (total + K))."""
    for name, value in (("train", train), ("test", test)):
        if not isinstance(value, Trajectories) or len(value) == 0:
            raise ValueError(f"{name} must be a non-empty Trajectories, got {value!r}")
    k = max(train.n_actions or 2, test.n_actions or 2)
    counts = np.bincount(train.agent_actions.ravel(), minlength=k) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(log_p[test.agent_actions].mean())


# --- what a principal builds on the world model (``"model"``, ``"mermaide"``) --------------


@dataclass
class WorldModelFields:
    """The world-model part of a principal's config (in ``ModelConfig`` and
    ``MermaideConfig``)."""

    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)  # GRU and its fit
    model_episodes: int = 256          # episodes of data the world model is fitted on
    model_intervene_prob: float = 0.5  # how often the data-collector intervenes (Discrete)
    # Fine-tune the world model's read-out on a task's K episodes (``fine_tuned_heads``): at
    # adapt, and in "mermaide" also in meta-training's inner loop (the same procedure).
    fine_tune_model: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.world_model, dict):
            self.world_model = WorldModelConfig(**self.world_model)
        if not isinstance(self.world_model, WorldModelConfig):
            raise ValueError(f"world_model must be a WorldModelConfig or a dict, got "
                             f"{self.world_model!r}")
        check_int("model_episodes", self.model_episodes, 2)
        check_number("model_intervene_prob", self.model_intervene_prob, low=0.0, high=1.0)
        super().__post_init__()  # type: ignore[misc]


def pretrain_world_model(env_fn: Callable[[], gym.Env[Any, Any]], population: Any,
                         fields: WorldModelFields, seed: int, n_actions: int,
                         space: gym.Space[Any], budget: int | None = None,
                         monitor: TrainingMonitor | None = None
                         ) -> tuple[AgentWorldModel, int]:
    """A principal's world model: ``fields.model_episodes`` episodes played with an exploring
    behaviour (``exploring_behaviour`` over the game's action ``space``, with
    ``fields.model_intervene_prob``) against ``population`` (batched), then the
    maximum-likelihood fit of a model of ``n_actions`` agent actions (what
    ``modelled_agent_actions``, which the caller runs first to refuse a game with nothing to
    model, returns). Returns the model and the env steps its data took (they count towards
    a budget), which ``monitor`` is told of with the fit's last epoch loss (when it has
    epochs). With a ``budget`` (the caller's meta_train steps), data that would leave the
    policy no steps to train on is refused (ValueError) before it is fitted."""
    data = collect_trajectories(env_fn, population, fields.model_episodes, seed,
                                exploring_behaviour(space, fields.model_intervene_prob))
    used = len(data) * data.horizon
    if budget is not None and used >= budget:
        raise ValueError(f"steps={budget} is spent before the policy trains ({used} steps go "
                         f"to the world model's data); give more steps")
    model = AgentWorldModel(data.obs_dim, n_actions, fields.world_model, space)
    losses = fit_world_model(model, data, fields.world_model, seed)
    if monitor is not None:
        monitor.update(used, scalars={"world_model/loss": losses[-1]} if losses else None)
    return model, used


class WorldModelEncoder:
    """Policy inputs = the observation concatenated with the world model's features (its
    hidden state and its prediction under the reference action): a ``toolkit.Encoder``, and
    with ``fine_tune`` a ``maml.AdaptiveEncoder`` whose adaptation to a task is the fine-tune
    of the model's read-out on the task's episodes (``fine_tuned_heads``).

    ``heads`` (optional): each task's own read-out parameters, stacked (tasks, ...) as
    ``fine_tuned_heads`` returns them; the rows of a batch are then task-major (N = tasks x
    per_task, any per_task) and each task's rows are read out with its own head. The GRU (the
    history) is the model's in either case."""

    def __init__(self, model: AgentWorldModel, heads: Params | None = None,
                 fine_tune: bool = True):
        self.model, self.heads, self.fine_tune = model, heads, fine_tune
        self.output_size = model.obs_dim + model.feature_size

    def adapted(self, episodes: Episodes, tasks: int) -> WorldModelEncoder:
        """This encoder with each task's read-out fine-tuned on its rows of ``episodes``
        (itself when not ``fine_tune``)."""
        if not self.fine_tune:
            return self
        return WorldModelEncoder(self.model, fine_tuned_heads(self.model, episodes, tasks))

    def keep(self, adapted: WorldModelEncoder) -> None:
        """Write a one-task ``adapted`` encoder's read-out into the model."""
        if adapted is self:
            return
        if adapted.heads is None or adapted.model is not self.model:
            raise ValueError("adapted must be an encoder that this one's adapted returned")
        keep_head(self.model, adapted.heads)

    def _features(self, hidden: Tensor) -> Tensor:
        if self.heads is None:
            predictions = self.model.predictions(hidden)
        else:
            tasks = next(iter(self.heads.values())).shape[0]
            by_task = hidden.reshape(tasks, hidden.shape[0] // tasks, *hidden.shape[1:])
            predictions = vmap(lambda head, h: self.model.predictions(h, head))(
                self.heads, by_task).flatten(0, 1)
        return torch.cat([hidden, predictions], dim=-1)

    def step(self, obs: Tensor, state: Any) -> tuple[Tensor, Any]:
        hidden, h = self.model.history(obs[:, None, :], state)
        return torch.cat([obs, self._features(hidden[:, 0])], dim=-1), h

    def sequence(self, obs: Tensor) -> Tensor:
        hidden, _ = self.model.history(obs)
        return torch.cat([obs, self._features(hidden)], dim=-1)


def _checked_episodes(model: AgentWorldModel, episodes: Episodes) -> Trajectories:
    if not np.all(episodes.mask == 1.0):
        raise ValueError("episodes must all have the same length to fine-tune the world model")
    if np.any(episodes.agent_actions < 0):
        raise ValueError("the game must report info['observed_action'] to fit a world model")
    return Trajectories(episodes.obs, model.action_space.to_env(episodes.actions),
                        episodes.agent_actions, model.n_actions)


def fine_tuned_heads(model: AgentWorldModel, episodes: Episodes | Trajectories, tasks: int,
                     config: WorldModelConfig | None = None) -> Params:
    """Each task's read-out after the anchored fine-tune on its episodes: ``episodes`` are
    ``tasks`` groups of K (task-major, as the principal played them or as ``Trajectories``,
    all of one length); the result stacks the tasks' head parameters (tasks, ...) for
    ``WorldModelEncoder``.

    The fine-tune (``config``, default ``fine_tune_config`` of the model's config, which the
    principals use): ``epochs`` full-batch Adam steps (lr, weight decay; no shuffling, so
    nothing random) on the K episodes' mean per-step NLL plus anchor * (sum of squared
    changes from the pre-trained head), gradient norm clipped to ``grad_clip``. Only the
    read-out moves; the episodes' GRU states are the pre-trained model's (a fine-tune of every
    weight per task, back-propagated through the GRU, made MERMAIDE's meta-training about 6
    times slower). It is one pure function ``vmap``-ed over the tasks: MERMAIDE's inner loop
    runs it on every meta-training task's support episodes, K-shot adaptation on the K
    episodes of the new agent (``fine_tune``, tasks = 1). Nothing differentiates through it."""
    check_int("tasks", tasks, 1)
    data = episodes if isinstance(episodes, Trajectories) else _checked_episodes(model,
                                                                                 episodes)
    _check_fit_args(model, data)
    if len(data) % tasks:
        raise ValueError(f"episodes ({len(data)}) must be tasks ({tasks}) groups of K")
    c = fine_tune_config(model.config) if config is None else config
    if not isinstance(c, WorldModelConfig):
        raise ValueError(f"config must be a WorldModelConfig or None, got {config!r}")
    observations, actions, targets = data.tensors(model.device)
    with torch.no_grad():
        hidden, _ = model.history(observations)
        pairs = torch.cat([hidden, model.action_inputs(actions)], dim=-1)
    pairs = pairs.reshape(tasks, -1, *pairs.shape[1:])
    targets = targets.reshape(tasks, -1, *targets.shape[1:])
    start = {k: v.detach() for k, v in model.head.named_parameters()}
    beta1, beta2, eps = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults, as fit_world_model's

    def objective(p: Params, x: Tensor, y: Tensor) -> Tensor:
        logits = functional_call(model.head, p, (x,))
        nll = F.cross_entropy(logits.reshape(-1, model.n_actions), y.reshape(-1))
        return nll + c.anchor * sum(((p[k] - start[k]) ** 2).sum() for k in p)

    def one_task(x: Tensor, y: Tensor) -> Params:
        p, m, v = dict(start), {k: torch.zeros_like(t) for k, t in start.items()}, {
            k: torch.zeros_like(t) for k, t in start.items()}
        for step in range(1, c.epochs + 1):
            g = grad(objective)(p, x, y)
            norm = torch.sqrt(sum((gk ** 2).sum() for gk in g.values()))
            scale = torch.clamp(c.grad_clip / (norm + 1e-6), max=1.0)
            for k in p:
                gk = g[k] * scale + c.weight_decay * p[k]
                m[k] = beta1 * m[k] + (1 - beta1) * gk
                v[k] = beta2 * v[k] + (1 - beta2) * gk ** 2
                p[k] = p[k] - c.lr / (1 - beta1 ** step) * m[k] / (
                    torch.sqrt(v[k] / (1 - beta2 ** step)) + eps)
        return p

    heads = vmap(one_task)(pairs, targets)
    return {k: t.detach() for k, t in heads.items()}


def fine_tune(model: AgentWorldModel, episodes: Episodes | Trajectories,
              config: WorldModelConfig | None = None) -> None:
    """K-shot adaptation of the world model to one agent: its read-out becomes
    ``fine_tuned_heads`` on the K episodes (as the principal played them)."""
    keep_head(model, fine_tuned_heads(model, episodes, 1, config))


def keep_head(model: AgentWorldModel, heads: Params, task: int = 0) -> None:
    """Write task ``task``'s read-out of ``heads`` (stacked, as ``fine_tuned_heads`` returns
    them) into the model."""
    with torch.no_grad():
        for name, value in model.head.named_parameters():
            value.copy_(heads[name][task])


def modelled_agent_actions(env_fn: Callable[[], gym.Env[Any, Any]], name: str, seed: int
                           ) -> int:
    """How many actions the agent of ``env_fn``'s game has, checked on one seeded probe step:
    refused with a ValueError naming the game unless it offers something to model (the
    module docstring's seam: it says how many actions its agent has, reports
    ``observed_action``, and its episodes last more than one step, so that the principal
    acts after having seen the agent)."""
    probe = env_fn()
    game = probe.spec.id if probe.spec is not None else type(probe).__name__
    try:
        _, info = probe.reset(seed=seed)
        n_actions = agent_action_count(info)
        probe.action_space.seed(seed)
        _, _, terminated, truncated, step_info = probe.step(probe.action_space.sample())
    finally:
        probe.close()
    why = None
    if n_actions is None:
        why = ("its reset info does not say how many actions the agent has (no "
               "agent_action_space, and no task that says it)")
    elif step_info.get("observed_action") is None:
        why = "its step info reports no observed_action (the agent's action as seen)"
    elif terminated or truncated:
        why = ("its episodes last one step: the principal acts once, before it has seen any "
               "agent action, so a model of the agent has no history to inform it")
    if why is not None:
        raise ValueError(f"{name!r} has nothing to model in {game}: {why}")
    assert n_actions is not None
    return n_actions

"""A recurrent world model of the agent: the principal's history -> the agent's next action.

MERMAIDE (Banerjee et al., TMLR 2024) gives its principal a model of the agent it steers: a
GRU reads what the principal has seen so far (the agent's observed actions, the principal's own
interventions, time and budget left and, when visible, the agent's rewards) and predicts the
distribution of the agent's next action. Its hidden state and prediction are features for the
principal's policy; it is trained by maximum likelihood on trajectories played against the
training population, and may be fine-tuned on the K adaptation episodes of one agent.

Timing. ``obs_t`` is what the principal sees before acting at step t; the agent's action at
step t is drawn before the principal's bonus of step t is paid (the bandit game's agent never
sees the bonus in advance), so ``logits[:, t]`` predicts the agent's action at step t from
``obs_0 .. obs_t``. The target is the action *as the principal observes it* (noisy when
``observation_noise`` > 0): a principal never sees the true one.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from mermaide.agents import AgentPopulation, AgentSpec
from mermaide.checks import check_int, check_number
from mermaide.principal.evaluation import task_key
from mermaide.principal.monitor import TrainingMonitor
from mermaide.principal.toolkit import Episodes, VectorGame, play


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
    (the pre-training's) with lr 3e-3, 20 epochs and anchor 1.0.

    Why: a free fine-tune on 1-5 episodes over-fits them and often *lowers* the held-out
    likelihood of the same agent; the anchor keeps the model near the pre-trained weights.
    Measured on 16 held-out agents of ``population("train", 5)``, horizon 30, 1 / 3 / 5
    adaptation episodes: mean held-out gain +0.026 / +0.041 / +0.043 nats per step, positive
    for 10 / 13 / 15 of the 16 agents; unanchored, the pre-training's defaults (lr 3e-3, 20
    epochs) give -1.82 / -0.45 / -0.15, and lr 1e-3 with 10 epochs -0.080 / +0.027 / +0.042.
    """
    base = config if config is not None else WorldModelConfig()
    return dataclasses.replace(base, lr=3e-3, epochs=20, anchor=1.0)


class AgentWorldModel(nn.Module):
    """A ReLU layer embeds each observation, a GRU runs over the embeddings, and a linear
    read-out of its state gives the agent's next-action logits. (The embedding layer made the
    held-out likelihood 0.02-0.05 nats per step better than a GRU on the raw observations, at
    the same training cost.) ``feature_size`` = H + n_actions: the hidden state and the
    predicted probabilities, which is what a principal's policy reads."""

    def __init__(self, obs_dim: int, n_actions: int, config: WorldModelConfig | None = None):
        super().__init__()
        check_int("obs_dim", obs_dim, 1)
        check_int("n_actions", n_actions, 2)
        if config is not None and not isinstance(config, WorldModelConfig):
            raise ValueError(f"config must be a WorldModelConfig or None, got {config!r}")
        self.config = config if config is not None else WorldModelConfig()
        self.obs_dim, self.n_actions = int(obs_dim), int(n_actions)
        self.hidden_size = self.config.hidden_size
        # Seeded construction without touching the caller's global torch RNG stream.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.init_seed)
            self.encoder = nn.Sequential(nn.Linear(self.obs_dim, self.hidden_size), nn.ReLU())
            self.gru = nn.GRU(self.hidden_size, self.hidden_size, batch_first=True)
            self.head = nn.Linear(self.hidden_size, self.n_actions)

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

    def forward(self, obs_seq: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """obs_seq (B, T, obs_dim) -> logits (B, T, n_actions), final hidden state (1, B, H).

        ``logits[:, t]`` predicts the agent's observed action at step t from obs_0 .. obs_t.
        """
        if obs_seq.ndim != 3 or obs_seq.shape[2] != self.obs_dim:
            raise ValueError(f"obs_seq must have shape (B, T, {self.obs_dim}), got "
                             f"{tuple(obs_seq.shape)}")
        self._check_h(h0, obs_seq.shape[0])
        embedded = self.encoder(obs_seq.to(device=self.device, dtype=torch.float32))
        out, h = self.gru(embedded, h0)
        return self.head(out), h

    def step(self, obs: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        """One step: obs (B, obs_dim) -> logits (B, n_actions) for the agent's action now, h."""
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"obs must have shape (B, {self.obs_dim}), got {tuple(obs.shape)}")
        logits, h = self.forward(obs[:, None, :], h)
        return logits[:, 0], h

    def features(self, obs: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        """One step: (B, feature_size) = new hidden state concat predicted probabilities, h."""
        logits, h = self.step(obs, h)
        return torch.cat([h[0], torch.softmax(logits, dim=-1)], dim=-1), h

    def sequence_features(self, obs_seq: Tensor) -> Tensor:
        """``features`` of every step of whole episodes, (B, T, feature_size), in one GRU
        call (equal to stepping ``features`` from a fresh state)."""
        if obs_seq.ndim != 3 or obs_seq.shape[2] != self.obs_dim:
            raise ValueError(f"obs_seq must have shape (B, T, {self.obs_dim}), got "
                             f"{tuple(obs_seq.shape)}")
        embedded = self.encoder(obs_seq.to(device=self.device, dtype=torch.float32))
        hidden, _ = self.gru(embedded)
        return torch.cat([hidden, torch.softmax(self.head(hidden), dim=-1)], dim=-1)

    def save(self, path: str | Path) -> None:
        """Write sizes, config and weights to one file (``AgentWorldModel.load`` reads it)."""
        torch.save({"obs_dim": self.obs_dim, "n_actions": self.n_actions,
                    "config": dataclasses.asdict(self.config),
                    "state_dict": self.state_dict()}, path)

    @classmethod
    def load(cls, path: str | Path) -> AgentWorldModel:
        saved = torch.load(path, weights_only=True)
        model = cls(saved["obs_dim"], saved["n_actions"], WorldModelConfig(**saved["config"]))
        model.load_state_dict(saved["state_dict"])
        return model


@dataclass
class Trajectories:
    """N episodes of T steps, as a principal saw them.

    ``agent_actions`` are the agent's actions *as observed* (``info["observed_action"]``,
    noisy): the world model's target. ``agents`` holds each episode's AgentSpec when known.
    ``n_actions`` (the agent's number of actions) defaults to the largest action seen + 1.
    """

    observations: np.ndarray  # (N, T, obs_dim) float32: seen before acting at each step
    principal_actions: np.ndarray  # (N, T) int: the principal's action at each step
    agent_actions: np.ndarray  # (N, T) int: the agent's observed action at each step
    n_actions: int | None = None  # the agent's number of actions
    agents: tuple[AgentSpec, ...] = field(default_factory=tuple)  # (N,) specs, or empty

    def __post_init__(self) -> None:
        self.observations = np.asarray(self.observations, dtype=np.float32)
        self.principal_actions = np.asarray(self.principal_actions)
        self.agent_actions = np.asarray(self.agent_actions)
        if self.observations.ndim != 3:
            raise ValueError(f"observations must have shape (N, T, obs_dim), got "
                             f"{self.observations.shape}")
        shape = self.observations.shape[:2]
        for name in ("principal_actions", "agent_actions"):
            array = getattr(self, name)
            if array.shape != shape or (array.size and not np.issubdtype(array.dtype,
                                                                        np.integer)):
                raise ValueError(f"{name} must be an int array of shape {shape}, got "
                                 f"{array.dtype} {array.shape}")
            setattr(self, name, array.astype(np.int64))
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
            raise ValueError(f"agents must hold one AgentSpec per episode ({shape[0]}) or be "
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

    def tensors(self, device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
        """(observations float32 (N, T, D), agent_actions int64 (N, T)) as torch tensors."""
        return (torch.as_tensor(self.observations, device=device),
                torch.as_tensor(self.agent_actions, device=device))


class Behaviour(Protocol):
    """How the principal acts while trajectories are collected: a batch of observations
    (B, obs_dim) and a generator -> (B,) int actions. The episodes of a batch start together
    (the bandit observation's time-left entry tells the step). A behaviour with memory, e.g.
    a recurrent policy, may also define ``reset(batch: int)``: it is called before the first
    step of every batch of B episodes (B = 1 on the episode-by-episode path)."""

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


AgentsArg = AgentPopulation | AgentSpec | Sequence[AgentSpec] | None


class _AgentDraw:
    """Episode i's agent: drawn from a population, or the i-th of a list (round-robin)."""

    def __init__(self, agents: AgentsArg):
        if isinstance(agents, (AgentPopulation, AgentSpec)):
            self.source: AgentPopulation | AgentSpec | None = agents
            self.specs: tuple[AgentSpec, ...] = ()
        else:
            specs = tuple(agents) if isinstance(agents, Sequence) else ()
            if not specs or not all(isinstance(s, AgentSpec) for s in specs):
                raise ValueError(f"population must be an AgentPopulation, an AgentSpec or a "
                                 f"non-empty list of AgentSpec, got {agents!r}")
            arms = sorted({s.n_arms for s in specs})
            if len(arms) > 1:
                raise ValueError(f"population's AgentSpecs must share one number of arms, got "
                                 f"{arms}")
            self.source, self.specs = None, specs

    @property
    def n_arms(self) -> int:
        return self.source.n_arms if self.source is not None else self.specs[0].n_arms

    def __call__(self, first: int, count: int, rng: np.random.Generator) -> list[AgentSpec]:
        """The agents of episodes first .. first + count - 1."""
        if isinstance(self.source, AgentSpec):
            return [self.source] * count
        if self.source is not None:
            return self.source.sample_many(count, rng)
        return [self.specs[i % len(self.specs)] for i in range(first, first + count)]


def _checked_actions(actions: Any, batch: int, low: int, high: int) -> np.ndarray:
    """The behaviour's (B,) actions, refused loudly unless ints in [low, high)."""
    array = np.asarray(actions)
    if array.shape != (batch,) or not np.issubdtype(array.dtype, np.integer) \
            or array.min() < low or array.max() >= high:
        got = (f"{array.dtype} of shape {array.shape}" if array.size == 0 or array.ndim
               != 1 or not np.issubdtype(array.dtype, np.number) else
               f"{array.dtype} of shape {array.shape} in [{array.min()}, {array.max()}]")
        raise ValueError(f"behaviour must return {batch} int actions in [{low}, {high - 1}] "
                         f"for a batch of {batch} observations, got {got}")
    return array.astype(np.int64)


def collect_trajectories(env_fn: Callable[[], gym.Env[Any, Any]], population: AgentsArg,
                         n_episodes: int, seed: int, behaviour: Behaviour | None = None,
                         chunk: int = 1024) -> Trajectories:
    """Play ``n_episodes`` episodes and record what the principal saw and did.

    env_fn: zero-argument callable returning an env of the bandit family: the intervention
        games' ``Discrete(K + 1)`` action space over an agent of K actions, and
        ``info["observed_action"]`` at every step. Episodes are played ``chunk`` at a time
        through the game's batched form (``toolkit.VectorGame``: its native vector env, or
        ``SyncVectorEnv`` over ``env_fn`` for an env without one), like every principal's.
    population: an AgentPopulation (each episode draws an agent), an AgentSpec (every episode
        plays it), a list of AgentSpec (episode i plays spec i mod len), or None (the env's own
        agent source).
    behaviour: None = uniformly random principal actions; or a ``Behaviour``, called with a
        batch of observations (B, obs_dim) and a generator, returning (B,) int actions.
    chunk: most episodes played at once (bounds memory).
    Every draw (agents, the game, the behaviour) flows from ``seed``.
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
    key = task_key(probe.reset(seed=int(env_rng.integers(2**31)))[1])
    probe.close()
    if not isinstance(space, gym.spaces.Discrete) or int(space.n) < 3:
        raise ValueError(f"env must have the intervention games' Discrete(K + 1) action space "
                         f"(K >= 2 agent actions), got {space!r}")
    low, high, n_actions = int(space.start), int(space.start) + int(space.n), int(space.n) - 1
    draw = None if population is None else _AgentDraw(population)
    if draw is not None and draw.n_arms != n_actions:
        raise ValueError(f"population has {draw.n_arms} arms but the env has {n_actions}")
    games: dict[int, VectorGame] = {}
    parts = []
    try:
        for first in range(0, n_episodes, chunk):
            size = min(chunk, n_episodes - first)
            if size not in games:
                games[size] = VectorGame.make(env_fn, size, key, spec)
            tasks = None if draw is None else draw(first, size, spec_rng)
            _start_episodes(behaviour, size)

            def choose(obs: np.ndarray, state: Any, allowed: np.ndarray,
                       size: int = size) -> tuple[np.ndarray, Any]:
                # The game's action mask is not applied: the data is of an indiscriminate
                # intervener, whose refused interventions the world model sees too.
                if behaviour is None:
                    return act_rng.integers(low, high, size=size), None
                return _checked_actions(behaviour(obs, act_rng), size, low, high), None

            episodes = play(games[size], choose, lambda a: a, high - low, tasks,
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
    observations, targets = trajectories.tensors(device)
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
            logits, _ = model(observations[index])
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
    observations, targets = trajectories.tensors(model.device)
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(trajectories), 1024):
            logits, _ = model(observations[start:start + 1024])
            total += -F.cross_entropy(logits.reshape(-1, model.n_actions),
                                      targets[start:start + 1024].reshape(-1),
                                      reduction="sum").item()
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
    model_intervene_prob: float = 0.5  # how often the data-collecting principal intervenes
    fine_tune_model: bool = True       # adapt fine-tunes the world model on the K episodes

    def __post_init__(self) -> None:
        if isinstance(self.world_model, dict):
            self.world_model = WorldModelConfig(**self.world_model)
        if not isinstance(self.world_model, WorldModelConfig):
            raise ValueError(f"world_model must be a WorldModelConfig or a dict, got "
                             f"{self.world_model!r}")
        check_int("model_episodes", self.model_episodes, 2)
        check_number("model_intervene_prob", self.model_intervene_prob, low=0.0, high=1.0)
        super().__post_init__()  # type: ignore[misc]


class WorldModelEncoder:
    """Policy inputs = the observation concatenated with the world model's features (its
    hidden state and predicted next-action distribution): a ``toolkit.Encoder``."""

    def __init__(self, model: AgentWorldModel):
        self.model = model
        self.output_size = model.obs_dim + model.feature_size

    def step(self, obs: Tensor, state: Any) -> tuple[Tensor, Any]:
        features, h = self.model.features(obs, state)
        return torch.cat([obs, features], dim=-1), h

    def sequence(self, obs: Tensor) -> Tensor:
        return torch.cat([obs, self.model.sequence_features(obs)], dim=-1)


def pretrain_world_model(env_fn: Callable[[], gym.Env[Any, Any]], population: Any,
                         fields: WorldModelFields, seed: int, name: str,
                         monitor: TrainingMonitor | None = None
                         ) -> tuple[AgentWorldModel, int]:
    """A principal's world model: ``fields.model_episodes`` episodes played with a random
    intervention behaviour against ``population`` (batched), then the maximum-likelihood fit.
    Returns the model and the env steps its data took (they count towards a budget), which
    ``monitor`` is told of with the fit's last epoch loss (when it has epochs)."""
    # The collector plays bandit-family agents; the matrix games' tasks ("game") have no
    # agent action the collector could model from the principal's side.
    if not (population is None or isinstance(population, (AgentPopulation, AgentSpec))):
        raise ValueError(f"{name!r} fits its world model on bandit agents: population must be "
                         f"an AgentPopulation, an AgentSpec or None, got "
                         f"{type(population).__name__}")
    probe = env_fn()
    space = probe.action_space
    probe.close()
    if not isinstance(space, gym.spaces.Discrete):
        raise ValueError(f"{name!r} needs the intervention games' Discrete action space, got "
                         f"{space!r}")
    data = collect_trajectories(env_fn, population, fields.model_episodes, seed,
                                random_behaviour(int(space.n) - 1, fields.model_intervene_prob))
    model = AgentWorldModel(data.obs_dim, data.n_actions or 2, fields.world_model)
    losses = fit_world_model(model, data, fields.world_model, seed)
    if monitor is not None:
        monitor.update(len(data) * data.horizon,
                       scalars={"world_model/loss": losses[-1]} if losses else None)
    return model, len(data) * data.horizon


def fine_tune(model: AgentWorldModel, episodes: Episodes, seed: int) -> None:
    """Anchored maximum-likelihood fine-tune (``fine_tune_config``) on one agent's K
    episodes, as the principal played them (all of one length)."""
    if not np.all(episodes.mask == 1.0):
        raise ValueError("episodes must all have the same length to fine-tune the world model")
    if np.any(episodes.agent_actions < 0):
        raise ValueError("the game must report info['observed_action'] to fit a world model")
    data = Trajectories(episodes.obs, episodes.actions, episodes.agent_actions, model.n_actions)
    fit_world_model(model, data, fine_tune_config(model.config), seed=seed)

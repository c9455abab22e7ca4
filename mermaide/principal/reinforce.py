"""``"reinforce"``: a model-free policy-gradient principal (REINFORCE with a baseline).

The pieces are written once and reused by the meta-learning principals (``maml``, ``model``,
``mermaide``):

* ``PolicyNet``: an MLP over the last ``history`` inputs or a GRU over the whole input history,
  ending in logits over the (discrete) principal actions. Its GRU is written with plain
  ``Linear`` layers so that ``torch.func.functional_call`` and ``vmap`` work on it.
* ``rollout``: N environments played in lockstep, one episode each, with one batched forward
  pass per step (no Python work per agent beyond ``env.step``).
* ``reinforce_advantages``: rewards-to-go minus a per-time-step baseline (the batch mean at
  that step), normalised; this is the variance reduction of the update.
* ``policy_gradient_loss(policy, params, batch, entropy_coef)``: the REINFORCE loss with an
  entropy bonus, a pure function of a parameter dict (``functional_call``), so that MAML's inner
  loop differentiates through it.

``Reinforce.meta_train`` draws a fresh agent from the population for every episode (it ignores
the task structure); ``adapt`` plays K episodes of the new agent and takes ``adapt_steps``
gradient steps of size ``adapt_lr`` on them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call

from mermaide.envs.knobs import check_int, check_number
from mermaide.principal.base import EnvFn, TaskDistribution, task_key

POLICY_KINDS = ("mlp", "gru")


@dataclass
class ReinforceConfig:
    """Hyper-parameters of the REINFORCE principal (and of the policy learner reused by MAML)."""

    policy: str = "gru"            # "mlp" (over the last `history` inputs) or "gru" (whole history)
    hidden_size: int = 64          # width of the hidden layers / GRU state
    history: int = 1               # inputs the MLP sees (the current one and history - 1 before)
    lr: float = 1e-2               # Adam step size of meta_train
    gamma: float = 1.0             # discount of the rewards-to-go
    entropy_coef: float = 0.01     # weight of the entropy bonus
    episodes_per_batch: int = 16   # episodes (played in lockstep) per gradient step
    normalize_advantages: bool = True  # divide advantages by their std (when > 1 episode)
    max_grad_norm: float = 1.0     # gradient clipping of meta_train steps
    adapt_lr: float = 0.1          # SGD step size of adapt
    adapt_steps: int = 1           # gradient steps adapt takes on its K episodes
    greedy: bool = True            # act() takes the most likely action (False: samples)
    seed: int = 0                  # seeds action sampling before meta_train is called

    def __post_init__(self) -> None:
        if self.policy not in POLICY_KINDS:
            raise ValueError(f"policy must be one of {POLICY_KINDS}, got {self.policy!r}")
        check_int("hidden_size", self.hidden_size, 1)
        check_int("history", self.history, 1)
        check_number("lr", self.lr, low=0.0, low_open=True)
        check_number("gamma", self.gamma, low=0.0, high=1.0)
        check_number("entropy_coef", self.entropy_coef, low=0.0)
        check_int("episodes_per_batch", self.episodes_per_batch, 1)
        check_number("max_grad_norm", self.max_grad_norm, low=0.0, low_open=True)
        check_number("adapt_lr", self.adapt_lr, low=0.0)
        check_int("adapt_steps", self.adapt_steps, 0)
        check_int("seed", self.seed, 0)


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


# --- the policy -------------------------------------------------------------------------------


class GRULayer(nn.Module):
    """A GRU over (N, T, F) inputs built from two ``Linear`` layers (``nn.GRU`` has no vmap
    batching rule; this one is plain tensor algebra, so ``functional_call``/``vmap`` apply)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.input_map = nn.Linear(input_size, 3 * hidden_size)
        self.hidden_map = nn.Linear(hidden_size, 3 * hidden_size)

    def forward(self, x: Tensor, h: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        gates_x = self.input_map(x)  # all time steps at once; only the recurrence loops
        outputs = []
        for t in range(x.shape[1]):
            xr, xz, xn = gates_x[:, t].chunk(3, dim=-1)
            hr, hz, hn = self.hidden_map(h).chunk(3, dim=-1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            h = (1.0 - z) * n + z * h
            outputs.append(h)
        return torch.stack(outputs, dim=1), h


class PolicyNet(nn.Module):
    """Logits over ``n_actions`` from an input history (or, with ``continuous``, the mean of
    a diagonal Gaussian over ``n_actions`` dimensions, its log std a parameter).

    ``forward(x (N, T, F), state) -> (logits (N, T, A), state)``. The state is the GRU's hidden
    state (N, H), or for the MLP the previous ``history - 1`` inputs (N, history - 1, F); None
    starts an episode. Acting calls it with T = 1.
    """

    def __init__(self, input_size: int, n_actions: int, kind: str = "gru",
                 hidden_size: int = 64, history: int = 1, continuous: bool = False,
                 init_std: float = 0.5):
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
        self.continuous = continuous
        if continuous:
            # Box actions: the head gives a Gaussian's mean, this its state-independent log std.
            self.log_std = nn.Parameter(torch.full((n_actions,), math.log(init_std)))

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.kind == "gru":
            features, h = self.body(x, state)
            return self.head(features), h
        n, t, f = x.shape
        past = x.new_zeros(n, self.history - 1, f) if state is None else state
        padded = torch.cat([past, x], dim=1)
        windows = torch.cat([padded[:, i: i + t] for i in range(self.history)], dim=-1)
        return self.head(self.body(windows)), padded[:, t:]


# --- encoders: what the policy reads ---------------------------------------------------------


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


# --- rollouts and the loss --------------------------------------------------------------------


@dataclass
class Episodes:
    """N episodes padded to the longest: obs (N, T, D), actions (N, T), rewards (N, T),
    mask (N, T) (1 where the step happened), agent_actions (N, T) (the agent's action as the
    principal observed it, ``info["observed_action"]``; -1 where the game reports none)."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    mask: np.ndarray
    agent_actions: np.ndarray

    @property
    def steps(self) -> int:
        return int(self.mask.sum())

    @staticmethod
    def concatenate(parts: Sequence[Episodes]) -> Episodes:
        horizon = max(p.obs.shape[1] for p in parts)

        def pad(array: np.ndarray) -> np.ndarray:
            widths = [(0, 0), (0, horizon - array.shape[1])] + [(0, 0)] * (array.ndim - 2)
            return np.pad(array, widths)

        return Episodes(*(np.concatenate([pad(getattr(p, f.name)) for p in parts])
                          for f in dataclasses.fields(Episodes)))


def sample_actions(logits: Tensor, rng: np.random.Generator) -> np.ndarray:
    """One action per row of (N, A) logits, drawn with numpy (deep-copyable, seeded)."""
    probs = torch.softmax(logits.double(), dim=-1).numpy()
    cumulative = np.cumsum(probs, axis=1)
    draws = rng.random((probs.shape[0], 1)) * cumulative[:, -1:]
    return np.minimum((cumulative < draws).sum(axis=1), probs.shape[1] - 1)


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

    def sample(self, out: Tensor, log_std: Tensor | None, rng: np.random.Generator
               ) -> np.ndarray:
        """(N, A) policy outputs -> N actions as the policy scores them."""
        if self.discrete:
            return sample_actions(out, rng)
        assert log_std is not None
        noise = rng.standard_normal(out.shape).astype(np.float32)
        return out.numpy() + np.exp(log_std.numpy()) * noise

    def greedy(self, out: Tensor) -> np.ndarray:
        return out.argmax(dim=-1).numpy() if self.discrete else out.numpy()

    def to_env(self, action: np.ndarray) -> Any:
        """One action as the env takes it."""
        if self.discrete:
            return int(action) + self.start
        return np.clip(action, self.low, self.high).astype(np.float32)


PolicyFn = Callable[[Tensor, Any], tuple[Tensor, Any]]


def rollout(envs: Sequence[gym.Env], encoder: Encoder, policy: PolicyFn,
            rng: np.random.Generator, tasks: Sequence[Any] | None = None,
            seeds: Sequence[int] | None = None, key: str = "agent",
            space: ActionSpace | None = None, log_std: Tensor | None = None) -> Episodes:
    """Play one episode in each env in lockstep, sampling actions from ``policy`` (inputs
    (N, 1, F), state -> logits (N, 1, A), state); a task (when given) is passed as
    ``reset(options={key: task})``. ``space`` (default: the first env's) says how outputs
    become actions; ``log_std`` is the Gaussian's for Box actions."""
    space = ActionSpace(envs[0].action_space) if space is None else space
    n = len(envs)
    first = [env.reset(seed=None if seeds is None else int(seeds[i]),
                       options=None if tasks is None else {key: tasks[i]})[0]
             for i, env in enumerate(envs)]
    step_fns = [env.step for env in envs]
    obs = np.stack(first).astype(np.float32)
    alive = np.ones(n, dtype=bool)
    observations, actions, rewards, masks, seen = [], [], [], [], []
    enc_state: Any = None
    pol_state: Any = None
    with torch.no_grad():
        while alive.any():
            x, enc_state = encoder.step(torch.from_numpy(obs), enc_state)
            logits, pol_state = policy(x[:, None], pol_state)
            action = space.sample(logits[:, 0], log_std, rng)
            reward = np.zeros(n, dtype=np.float32)
            observed = np.full(n, -1, dtype=np.int64)
            next_obs = obs.copy()
            stepped = alive.astype(np.float32)
            for i in np.flatnonzero(alive):
                o, r, terminated, truncated, info = step_fns[i](space.to_env(action[i]))
                next_obs[i], reward[i] = o, r
                observed[i] = info.get("observed_action", -1)
                if terminated or truncated:
                    alive[i] = False
            observations.append(obs)
            actions.append(action)
            rewards.append(reward)
            masks.append(stepped)
            seen.append(observed)
            obs = next_obs
    played = np.stack(actions, 1)
    return Episodes(np.stack(observations, 1),
                    played.astype(np.int64) if space.discrete else played.astype(np.float32),
                    np.stack(rewards, 1), np.stack(masks, 1), np.stack(seen, 1))


def rewards_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """(N, T) rewards -> (N, T) discounted sums from each step to the episode's end."""
    returns = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[0], dtype=rewards.dtype)
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        returns[:, t] = running
    return returns


def reinforce_advantages(episodes: Episodes, gamma: float, normalize: bool) -> np.ndarray:
    """Rewards-to-go minus a baseline, (N, T).

    With several episodes the baseline is their mean reward-to-go at each time step. A single
    episode (K = 1 adaptation) has no batch to average over: its own mean reward per step,
    times the steps left, stands in (for a one-step episode that is the reward itself, so no
    baseline is taken there). With ``normalize`` the advantages are divided by their std.
    """
    mask = episodes.mask
    rewards = episodes.rewards * mask
    returns = rewards_to_go(rewards, gamma)
    lengths = mask.sum(axis=1, keepdims=True)
    if rewards.shape[0] > 1:
        counts = np.maximum(mask.sum(axis=0), 1.0)
        baseline = (returns * mask).sum(axis=0) / counts
    elif lengths[0, 0] > 1:
        steps_left = np.cumsum(mask[:, ::-1], axis=1)[:, ::-1]
        baseline = steps_left * rewards.sum(axis=1, keepdims=True) / lengths
    else:
        baseline = np.zeros_like(returns)
    advantages = (returns - baseline) * mask
    if normalize and mask.sum() > 1:
        std = np.sqrt((advantages ** 2).sum() / mask.sum())
        if std > 1e-8:
            advantages = advantages / std
    return advantages.astype(np.float32)


@dataclass
class LossBatch:
    """What the loss needs, as tensors: inputs (N, T, F), actions (N, T), advantages (N, T),
    mask (N, T)."""

    inputs: Tensor
    actions: Tensor
    advantages: Tensor
    mask: Tensor


def loss_batch(episodes: Episodes, encoder: Encoder, gamma: float, normalize: bool
               ) -> LossBatch:
    with torch.no_grad():
        inputs = encoder.sequence(torch.from_numpy(episodes.obs))
    return LossBatch(inputs, torch.from_numpy(episodes.actions),
                     torch.from_numpy(reinforce_advantages(episodes, gamma, normalize)),
                     torch.from_numpy(episodes.mask))


def action_log_probs(policy: nn.Module, params: dict[str, Tensor], inputs: Tensor,
                     actions: Tensor) -> tuple[Tensor, Tensor]:
    """log pi(a_t | h_t) of the actions taken and the policy's entropy, both (N, T), under
    ``params`` (a pure function of them)."""
    out, _ = functional_call(policy, params, (inputs,))
    if "log_std" in params:  # a Gaussian over Box actions
        log_std = params["log_std"]
        z = (actions - out) / log_std.exp()
        chosen = (-0.5 * z ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        entropy = (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum().expand_as(chosen)
        return chosen, entropy
    log_probs = torch.log_softmax(out, dim=-1)
    chosen = log_probs.gather(-1, actions[..., None])[..., 0]
    return chosen, -(log_probs.exp() * log_probs).sum(-1)


def policy_gradient_loss(policy: nn.Module, params: dict[str, Tensor], batch: LossBatch,
                         entropy_coef: float) -> Tensor:
    """The REINFORCE loss, ``-E[log pi(a|h) * A + entropy_coef * H(pi(.|h))]`` over the steps
    that happened, evaluated with the parameters ``params`` (a pure function of them)."""
    chosen, entropy = action_log_probs(policy, params, batch.inputs, batch.actions)
    steps = batch.mask.sum().clamp(min=1.0)
    return -((chosen * batch.advantages + entropy_coef * entropy) * batch.mask).sum() / steps


def spaces_of(env: gym.Env) -> tuple[int, gym.Space]:
    """(observation size, action space) of a game with a flat Box observation."""
    obs_space = env.observation_space
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise ValueError(f"these principals need a flat Box observation space, got {obs_space}")
    ActionSpace(env.action_space)  # refuses the spaces a policy cannot produce
    return int(obs_space.shape[0]), env.action_space


def check_steps_seed(steps: int, seed: int) -> None:
    check_int("steps", steps, 1)
    check_int("seed", seed, 0)


# --- the principal ----------------------------------------------------------------------------


class Reinforce:
    """REINFORCE principal: ``make("reinforce", policy="mlp", lr=0.01, ...)`` (any
    ``ReinforceConfig`` field as keyword, or ``config=ReinforceConfig(...)``)."""

    name = "reinforce"
    config_class: type = ReinforceConfig

    def __init__(self, config: Any = None, **overrides: Any):
        self.config = config_from(self.config_class, config, overrides)
        self.rng = np.random.default_rng(self.config.seed)
        self.policy: PolicyNet | None = None
        self.encoder: Encoder | None = None
        self.obs_dim = self.n_actions = 0
        self.action_space: gym.Space | None = None
        self.space: ActionSpace | None = None
        self.task_key = "agent"
        self.optimizer: torch.optim.Optimizer | None = None

    # building -----------------------------------------------------------------------------

    def _set_spaces(self, obs_dim: int, action_space: gym.Space) -> None:
        self.obs_dim, self.action_space = obs_dim, action_space
        self.space = ActionSpace(action_space)
        self.n_actions = self.space.size

    def _build(self, obs_dim: int, n_actions: int) -> None:
        self.encoder = self._make_encoder(obs_dim, n_actions)
        c = self.config
        assert self.space is not None
        self.policy = PolicyNet(self.encoder.output_size, n_actions, c.policy, c.hidden_size,
                                c.history, continuous=not self.space.discrete)

    def _make_encoder(self, obs_dim: int, n_actions: int) -> Encoder:
        return IdentityEncoder(obs_dim)

    def _ready(self) -> tuple[Encoder, PolicyNet]:
        if self.policy is None or self.encoder is None:
            raise RuntimeError(f"{self.name!r} has no policy yet: call meta_train or load first")
        return self.encoder, self.policy

    def _rollout(self, envs: Sequence[gym.Env], policy: PolicyFn,
                 tasks: Sequence[Any] | None = None, seeds: Sequence[int] | None = None
                 ) -> Episodes:
        """``rollout`` with this principal's encoder, action space and sampling generator."""
        encoder, net = self._ready()
        log_std = net.log_std.detach() if net.continuous else None
        return rollout(envs, encoder, policy, self.rng, tasks, seeds, self.task_key, self.space,
                       log_std)

    # the protocol -------------------------------------------------------------------------

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int) -> None:
        """Train on about ``steps`` env steps (everything a principal plays counts).

        Called again on a game with the same spaces, it continues training the same policy
        (with its optimiser state, and without refitting a world model): a harness may train
        in chunks and score the principal in between.
        """
        check_steps_seed(steps, seed)
        self.rng = np.random.default_rng(seed)
        probe = env_fn()
        self.task_key = task_key(probe.reset(seed=seed)[1])
        obs_dim, action_space = spaces_of(probe)
        used = 0
        if self.policy is None or (obs_dim, action_space) != (self.obs_dim, self.action_space):
            torch.manual_seed(seed)
            self._set_spaces(obs_dim, action_space)
            used = self._before_policy_training(env_fn, population, steps, seed)
            if used >= steps:
                raise ValueError(f"steps={steps} is spent before the policy trains ({used} "
                                 f"steps go to the world model's data); give more steps")
            self._build(self.obs_dim, self.n_actions)
            self.optimizer = None
        self._train_policy(env_fn, population, steps - used)

    def _optimizer(self) -> torch.optim.Optimizer:
        """The meta-training optimiser, kept across ``meta_train`` calls."""
        if self.optimizer is None:
            _, policy = self._ready()
            self.optimizer = torch.optim.Adam(policy.parameters(), lr=self.config.lr)
        return self.optimizer

    def _before_policy_training(self, env_fn: EnvFn, population: TaskDistribution | None,
                                steps: int, seed: int) -> int:
        """Hook for principals that fit something (a world model) before the policy; returns
        the env steps it played."""
        return 0

    def _train_policy(self, env_fn: EnvFn, population: TaskDistribution | None,
                      steps: int) -> None:
        """Plain REINFORCE: every episode a fresh agent (from ``population`` when given)."""
        _, policy = self._ready()
        envs = [env_fn() for _ in range(self.config.episodes_per_batch)]
        optimizer = self._optimizer()
        seeds: Any = self.rng.integers(2**31, size=len(envs))
        done = 0
        while done < steps:
            tasks = None if population is None else [population.sample(self.rng) for _ in envs]
            episodes = self._rollout(envs, policy, tasks, seeds)
            seeds = None
            done += episodes.steps
            self._update(optimizer, episodes)

    def _update(self, optimizer: torch.optim.Optimizer, episodes: Episodes) -> None:
        encoder, policy = self._ready()
        c = self.config
        batch = loss_batch(episodes, encoder, c.gamma, c.normalize_advantages)
        loss = policy_gradient_loss(policy, dict(policy.named_parameters()), batch,
                                    c.entropy_coef)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(policy.parameters(), c.max_grad_norm)
        optimizer.step()

    def play(self, env: gym.Env, episodes: int) -> Episodes:
        """Play ``episodes`` episodes of ``env`` one after the other, sampling actions."""
        _, policy = self._ready()
        return Episodes.concatenate([self._rollout([env], policy) for _ in range(episodes)])

    def adapt(self, env: gym.Env, episodes: int) -> None:
        """K episodes of the new agent, then ``adapt_steps`` SGD steps of ``adapt_lr``."""
        check_int("episodes", episodes, 0)
        if episodes == 0:
            return
        self._adapt_on(self.play(env, episodes))

    def _adapt_on(self, played: Episodes) -> None:
        """The adaptation update on the K episodes played."""
        encoder, policy = self._ready()
        c = self.config
        batch = loss_batch(played, encoder, c.gamma, c.normalize_advantages)
        optimizer = torch.optim.SGD(policy.parameters(), lr=c.adapt_lr)
        for _ in range(c.adapt_steps):
            loss = policy_gradient_loss(policy, dict(policy.named_parameters()), batch,
                                        c.entropy_coef)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def act(self, obs: np.ndarray, state: Any) -> tuple[Any, Any]:
        encoder, policy = self._ready()
        enc_state, pol_state = (None, None) if state is None else state
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(obs, dtype=np.float32))[None]
            x, enc_state = encoder.step(x, enc_state)
            logits, pol_state = policy(x[:, None], pol_state)
        assert self.space is not None
        out = logits[:, 0]
        if self.config.greedy:
            action = self.space.greedy(out)[0]
        else:
            log_std = policy.log_std.detach() if policy.continuous else None
            action = self.space.sample(out, log_std, self.rng)[0]
        return self.space.to_env(action), (enc_state, pol_state)

    # persistence --------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        _, policy = self._ready()
        return {"principal": self.name, "config": dataclasses.asdict(self.config),
                "obs_dim": self.obs_dim, "action_space": self.action_space,
                "policy": policy.state_dict(), "rng": self.rng.bit_generator.state}

    def _restore(self, saved: dict[str, Any]) -> None:
        self.config = type(self.config)(**saved["config"])
        self._set_spaces(saved["obs_dim"], saved["action_space"])
        self._build(self.obs_dim, self.n_actions)
        _, policy = self._ready()
        policy.load_state_dict(saved["policy"])
        self.optimizer = None
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = saved["rng"]

    def save(self, path: str) -> None:
        torch.save(self._state(), path)

    def load(self, path: str) -> None:
        saved = torch.load(path, weights_only=False)
        if saved.get("principal") != self.name:
            raise ValueError(f"{path!r} holds a {saved.get('principal')!r} principal, not a "
                             f"{self.name!r} one")
        self._restore(saved)

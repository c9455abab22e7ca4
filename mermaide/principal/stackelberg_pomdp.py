"""``"stackelberg-pomdp"``: the leader of Brero et al.'s Stackelberg POMDP (arXiv 2210.03852,
code GlcBrero/StackelbergPOMDP), PPO with an asymmetric actor-critic.

The actor (the toolkit's MLP ``PolicyNet``) reads the actor's part of the observation: of a
``Dict`` observation the keys without the ``"critic:"`` prefix (``toolkit.ObservationLayout``),
of ``Mermaide/StackelbergPOMDP-v0`` its ``"signal"``. The critic, a separate MLP, reads the
actor's input and the ``"critic:"`` keys (there: the phase, its progress and the follower's
strategy): centralised training, decentralised execution. ``asymmetric=False`` is the plain
PPO leader, whose critic reads the actor's input only (the repository's ``critic_obs="none"``).
A game with a Box observation has no ``"critic:"`` keys: its critic reads what the actor reads
and nothing else, so that both options are the same algorithm there.

``meta_train`` plays ``episodes_per_batch`` whole episodes at once on the game's batched form
(``toolkit.VectorGame``: one vectorised step per time step), each sub-game with a fresh task
from the population when one is given, then ``ppo_update``: GAE advantages over the critic's
values and ``ppo_epochs`` passes of PPO's clipped surrogate over shuffled minibatches of
``batch_size`` time steps. With ``episode_noise`` the exploration noise is drawn once per
episode, so that at the same actor input the actor plays the same action all episode long (as
the repository's ``fix_episode_actions`` caches it): the commitment that the POMDP enforces
is then the action the update scores at every step, not one sample among many that had no
effect. ``adapt`` plays the K episodes and takes ``adapt_updates`` such updates on them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.logger import Logger
from torch import Tensor, nn

from mermaide.checks import check_bool, check_int, check_number, reading_checkpoint
from mermaide.principal.base import EnvFn, TaskDistribution
from mermaide.principal.monitor import Progress, TrainingMonitor
from mermaide.principal.toolkit import (
    ActionSpace,
    ActorColumns,
    Episodes,
    LossBatch,
    ObservationLayout,
    Policy,
    PolicyNet,
    VectorGame,
    categorical_at,
    config_from,
    gae,
    generator_from,
    generator_state,
    load_checkpoint,
    log_probs_of,
    masked_logits,
    play,
    ppo_loss,
    probe_layout,
    save_checkpoint,
    train_batches,
)


@dataclass
class StackelbergPOMDPConfig:
    """Hyper-parameters of the ``"stackelberg-pomdp"`` leader. "repo": GlcBrero/
    StackelbergPOMDP's PPO (``rl_trainer_setup.py``, ``baselines_utils.py``: stable-baselines3
    PPO with its own actor-critic policy); "SB3": stable-baselines3's PPO default, which the
    repository leaves in place (its ``replication/PARAMETERS.md`` lists them); "ours": not in
    the repository."""

    asymmetric: bool = True        # repo: critic_obs="full" (False: "none", the plain PPO leader)
    hidden_size: int = 64          # repo: net_arch pi=[64, 64], vf=[64, 64], tanh (SB3's)
    history: int = 1               # actor inputs the MLP reads (repo: the current observation)
    lr: float = 3e-4               # repo: learning_rate=3e-4 for its games (Adam; 0: no learning)
    gamma: float = 1.0             # repo: gamma=1, the undiscounted episode objective
    gae_lambda: float = 0.95       # SB3
    clip_range: float = 0.2        # SB3
    ppo_epochs: int = 10           # SB3 (n_epochs)
    batch_size: int = 64           # SB3: time steps per minibatch
    entropy_coef: float = 0.0      # SB3 and the repo's 2024 code; its later code uses 0.01
    value_coef: float = 0.5        # SB3 (vf_coef)
    max_grad_norm: float = 0.5     # SB3
    normalize_advantages: bool = True  # SB3: per minibatch
    init_std: float = 1.0          # SB3 (log_std_init=0): the Gaussian's std over Box actions
    # Whole episodes per rollout (ours: the "whole episodes per rollout"). The repo's
    # rollout is n_steps = 2048 * min(1 + response games / reward games, 100) = 204,800
    # transitions at its defaults (100 response games, 1 reward game), about 1,019 episodes of
    # its 201 games: 1024 episodes is that rollout rounded to whole episodes.
    episodes_per_batch: int = 1024
    episode_noise: bool = True     # repo: fix_episode_actions=True (see the module docstring)
    adapt_updates: int = 1         # ours: PPO updates adapt takes on its K episodes (0: none)
    adapt_lr: float = 3e-4         # ours: the Adam step size of adapt's updates
    greedy: bool = True            # ours: act() plays the mode (a Box's Gaussian mean)
    seed: int = 0                  # seeds action sampling before meta_train is called

    def __post_init__(self) -> None:
        check_bool("asymmetric", self.asymmetric)
        check_int("hidden_size", self.hidden_size, 1)
        check_int("history", self.history, 1)
        check_number("lr", self.lr, low=0.0)
        check_number("gamma", self.gamma, low=0.0, high=1.0)
        check_number("gae_lambda", self.gae_lambda, low=0.0, high=1.0)
        check_number("clip_range", self.clip_range, low=0.0, low_open=True)
        check_int("ppo_epochs", self.ppo_epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_number("entropy_coef", self.entropy_coef, low=0.0)
        check_number("value_coef", self.value_coef, low=0.0)
        check_number("max_grad_norm", self.max_grad_norm, low=0.0, low_open=True)
        check_bool("normalize_advantages", self.normalize_advantages)
        check_number("init_std", self.init_std, low=0.0, low_open=True)
        check_int("episodes_per_batch", self.episodes_per_batch, 1)
        check_bool("episode_noise", self.episode_noise)
        check_int("adapt_updates", self.adapt_updates, 0)
        check_number("adapt_lr", self.adapt_lr, low=0.0)
        check_bool("greedy", self.greedy)
        check_int("seed", self.seed, 0)


# --- the networks -----------------------------------------------------------------------------


def build_actor(layout: ObservationLayout, space: ActionSpace, config: StackelbergPOMDPConfig
                ) -> Policy:
    """The actor: an MLP ``PolicyNet`` over the actor's columns only (``ActorColumns``)."""
    encoder = ActorColumns(layout)
    net = PolicyNet(encoder.output_size, space.size, "mlp", config.hidden_size, config.history,
                    continuous=not space.discrete, init_std=config.init_std)
    return Policy(encoder, net, space)


def build_critic(layout: ObservationLayout, config: StackelbergPOMDPConfig) -> nn.Module:
    """The critic: a separate MLP of the repository's shape over the actor's current input
    and, when ``asymmetric``, the ``"critic:"`` columns: (..., D) -> (..., 1)."""
    size = layout.size if config.asymmetric else layout.actor_size
    h = config.hidden_size
    return nn.Sequential(nn.Linear(size, h), nn.Tanh(), nn.Linear(h, h), nn.Tanh(),
                         nn.Linear(h, 1))


def critic_inputs(layout: ObservationLayout, obs: Tensor, config: StackelbergPOMDPConfig
                  ) -> Tensor:
    """What the critic reads of flat inputs (..., D): all of them, or the actor's columns."""
    return obs if config.asymmetric else layout.actor(obs)


# --- experience -------------------------------------------------------------------------------


def commitment_rollout(policy: Policy, game: VectorGame, rng: np.random.Generator,
                       tasks: Any = None, seed: int | None = None, episode_noise: bool = True
                       ) -> Episodes:
    """One episode on every sub-game of ``game`` (one batched forward pass and one vectorised
    step per time step), sampling from ``policy`` with its noise drawn once per episode
    (``episode_noise``) or at every step."""
    if not episode_noise:
        return policy.rollout(game, rng, tasks, seed)
    space, net, n = policy.space, policy.net, game.num_envs
    draws = (rng.random((n, 1)) if space.discrete
             else rng.standard_normal((n, space.size)).astype(np.float32))
    std = None if policy.log_std is None else np.exp(policy.log_std.numpy())

    def choose(obs: np.ndarray, state: Any, allowed: np.ndarray) -> tuple[np.ndarray, Any]:
        x, _ = policy.encoder.step(torch.from_numpy(obs), None)
        out, state = net(x[:, None], state)
        if space.discrete:
            # The episode's fixed draws: the same logits give the same action all along.
            return categorical_at(masked_logits(out[:, 0], allowed), draws), state
        assert std is not None
        return (out[:, 0].numpy() + std * draws).astype(np.float32), state

    with torch.no_grad():
        return play(game, choose, space.to_env, space.mask_size, tasks, seed)


# --- the update -------------------------------------------------------------------------------


def actor_windows(inputs: Tensor, history: int) -> Tensor:
    """(N, T, F) actor inputs -> (N, T, history, F): at each step the inputs the MLP reads
    (zeros before the episode's start), so that single time steps can be minibatched."""
    n, t, f = inputs.shape
    padded = torch.cat([inputs.new_zeros(n, history - 1, f), inputs], dim=1)
    return torch.stack([padded[:, i: i + t] for i in range(history)], dim=2)


def ppo_update(policy: Policy, critic: nn.Module, optimizer: torch.optim.Optimizer,
               episodes: Episodes, layout: ObservationLayout, config: StackelbergPOMDPConfig,
               rng: np.random.Generator) -> float:
    """PPO on one batch of whole episodes: GAE(``gamma``, ``gae_lambda``) advantages over the
    critic's values (the critic reading ``critic_inputs``), then ``ppo_epochs`` passes over
    the episodes' time steps in shuffled minibatches of ``batch_size``, each one Adam step of
    the clipped surrogate, the entropy bonus and ``value_coef`` times the critic's squared
    error against the GAE returns, the gradient clipped to ``max_grad_norm``. Returns the
    mean loss of the update's steps."""
    c = config
    net = policy.net
    obs = torch.from_numpy(episodes.obs)
    inputs = policy.encoder.sequence(obs)
    seen = critic_inputs(layout, obs, c)
    with torch.no_grad():
        out, _ = net(inputs)
        values = critic(seen)[..., 0]
    advantages, returns = gae(episodes, values.numpy(), c.gamma, c.gae_lambda)
    params = policy.parameters()
    masks = episodes.action_masks
    action_masks = None if masks.shape[-1] == 0 or masks.all() else torch.from_numpy(masks)
    actions = torch.from_numpy(episodes.actions)
    with torch.no_grad():
        old_log_probs, _ = log_probs_of(net, params, out, actions, action_masks)
    # The time steps that happened, one row each: the MLP actor and the critic read one step.
    valid = torch.from_numpy(episodes.mask > 0)
    windows = actor_windows(inputs, c.history)[valid]
    steps = windows.shape[0]
    step_actions, step_seen = actions[valid], seen[valid]
    step_masks = None if action_masks is None else action_masks[valid]
    step_advantages = torch.from_numpy(advantages)[valid]
    step_returns, step_old = torch.from_numpy(returns)[valid], old_log_probs[valid]
    parameters = [*net.parameters(), *critic.parameters()]
    losses = []
    for _ in range(c.ppo_epochs):
        for rows in np.array_split(rng.permutation(steps), math.ceil(steps / c.batch_size)):
            index = torch.from_numpy(rows)
            part = last_step_batch(windows[index], step_actions[index],
                                   step_advantages[index],
                                   None if step_masks is None else step_masks[index], c)
            loss = ppo_loss(net, params, part, spread(step_old[index], c.history),
                            None, c.clip_range, c.entropy_coef, 0.0)
            value = critic(step_seen[index])[:, 0]
            loss = loss + c.value_coef * ((value - step_returns[index]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(parameters, c.max_grad_norm)
            optimizer.step()
            losses.append(float(loss.detach()))
    return float(np.mean(losses))


def spread(values: Tensor, history: int) -> Tensor:
    """(M, ...) per-step values -> (M, history, ...), the step's value at the last position
    (the one the loss scores; the others are masked out)."""
    return values[:, None].expand(values.shape[0], history, *values.shape[1:])


def last_step_batch(windows: Tensor, actions: Tensor, advantages: Tensor,
                    action_masks: Tensor | None, config: StackelbergPOMDPConfig) -> LossBatch:
    """The toolkit's ``LossBatch`` of M single steps: inputs (M, history, F), whose last
    position is the step itself (the only one the mask keeps), the advantages standardised
    within the minibatch when ``normalize_advantages`` (as SB3 does)."""
    if config.normalize_advantages and advantages.shape[0] > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    h = config.history
    mask = torch.zeros(windows.shape[0], h)
    mask[:, -1] = 1.0
    return LossBatch(windows, spread(actions, h), spread(advantages, h), mask,
                     None if action_masks is None else spread(action_masks, h))


def train_stackelberg_pomdp(policy: Policy, critic: nn.Module, optimizer: torch.optim.Optimizer,
                            game: VectorGame, layout: ObservationLayout,
                            population: TaskDistribution | None, steps: int,
                            rng: np.random.Generator, config: StackelbergPOMDPConfig,
                            monitor: TrainingMonitor | None = None) -> int:
    """PPO for about ``steps`` env steps: every rollout one whole episode on each sub-game of
    ``game`` (a fresh task from ``population`` each; None: the game draws its own), then
    ``ppo_update``. Returns the steps played; ``monitor`` is told of every rollout."""
    return train_batches(
        game, population, steps, rng,
        lambda tasks, seed: commitment_rollout(policy, game, rng, tasks, seed,
                                               config.episode_noise),
        lambda episodes: ppo_update(policy, critic, optimizer, episodes, layout, config, rng),
        monitor)


# --- the principal ----------------------------------------------------------------------------


class StackelbergPOMDP:
    """The Stackelberg POMDP leader: ``make("stackelberg-pomdp", asymmetric=True, ...)`` (any
    ``StackelbergPOMDPConfig`` field as keyword, or ``config=StackelbergPOMDPConfig(...)``)."""

    name = "stackelberg-pomdp"

    def __init__(self, config: Any = None, **overrides: Any):
        self.config: StackelbergPOMDPConfig = config_from(StackelbergPOMDPConfig, config,
                                                          overrides)
        self.rng = np.random.default_rng(self.config.seed)
        self.policy: Policy | None = None
        self.critic: nn.Module | None = None
        self.layout: ObservationLayout | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.allowed: Any = None  # the game's action mask for the next act, when it gives one

    def _ready(self) -> tuple[Policy, nn.Module, ObservationLayout]:
        if self.policy is None or self.critic is None or self.layout is None:
            raise RuntimeError(f"{self.name!r} has no policy yet: call meta_train or load first")
        return self.policy, self.critic, self.layout

    def _parameters(self) -> list[nn.Parameter]:
        policy, critic, _ = self._ready()
        return [*policy.net.parameters(), *critic.parameters()]

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int, *, progress: Progress = True, logger: Logger | None = None
                   ) -> None:
        """Train on about ``steps`` env steps. Called again on a game with the same spaces, it
        continues training the same networks with the same optimiser state. ``progress`` and
        ``logger``: the bar and the SB3 logger of the learning curve (``TrainingMonitor``)."""
        probe, key, layout, space = probe_layout(env_fn, steps, seed)
        self.rng = np.random.default_rng(seed)
        c = self.config
        if self.policy is None or (layout, space) != (self.layout, self.policy.space):
            torch.manual_seed(seed)
            self.layout = layout
            self.policy = build_actor(layout, space, c)
            self.critic = build_critic(layout, c)
            self.optimizer = None
        if self.optimizer is None:
            self.optimizer = torch.optim.Adam(self._parameters(), lr=c.lr)
        policy, critic, _ = self._ready()
        game = VectorGame.make(env_fn, c.episodes_per_batch, key, probe.spec, layout)
        probe.close()
        try:
            with TrainingMonitor(steps, progress, logger, self.name) as monitor:
                train_stackelberg_pomdp(policy, critic, self.optimizer, game, layout, population,
                                        steps, self.rng, c, monitor)
        finally:
            game.close()

    def adapt(self, env: gym.Env, episodes: int) -> None:
        """K episodes of the new task (sampled, as in training), then ``adapt_updates`` PPO
        updates on them with a fresh Adam of step ``adapt_lr``; K = 0 or ``adapt_updates=0``
        change nothing. (The repository trains one leader per game and never adapts.)"""
        check_int("episodes", episodes, 0)
        c = self.config
        if not episodes or not c.adapt_updates:
            return
        policy, critic, layout = self._ready()
        game = VectorGame.single(env, layout)
        played = Episodes.concatenate([commitment_rollout(policy, game, self.rng,
                                                          episode_noise=c.episode_noise)
                                       for _ in range(episodes)])
        optimizer = torch.optim.Adam(self._parameters(), lr=c.adapt_lr)
        for _ in range(c.adapt_updates):
            ppo_update(policy, critic, optimizer, played, layout, c, self.rng)

    def begin_episode(self, info: dict[str, Any]) -> None:
        """Read the game's action mask of the episode's first step (``info["action_mask"]``)."""
        self.allowed = info.get("action_mask")

    def after_step(self, info: dict[str, Any]) -> None:
        """Read the game's action mask of the next step."""
        self.allowed = info.get("action_mask")

    def act(self, obs: Any, state: Any) -> tuple[Any, Any]:
        """The actor's action on the actor's part of ``obs`` (a ``Dict``'s ``"critic:"`` keys
        are never read): its mode when ``greedy`` (a Box action's Gaussian mean), else a
        sample."""
        policy, _, layout = self._ready()
        return policy.act(layout.single(obs), state, self.config.greedy, self.rng, self.allowed)

    def save(self, path: str) -> None:
        policy, critic, layout = self._ready()
        save_checkpoint(path, self.name, {
            "config": dataclasses.asdict(self.config), "layout": layout.describe(),
            "action_space": policy.space.describe(), "policy": policy.net.state_dict(),
            "critic": critic.state_dict(), "rng": generator_state(self.rng)})

    def load(self, path: str) -> None:
        """Replace this principal by the one saved at ``path``; a bad file raises
        ``CheckpointError`` and changes nothing (everything is built before any is kept)."""
        saved = load_checkpoint(path, self.name)
        with reading_checkpoint(path):
            config = StackelbergPOMDPConfig(**saved["config"])
            layout = ObservationLayout.from_description(saved["layout"])
            policy = build_actor(layout, ActionSpace.from_description(saved["action_space"]),
                                 config)
            policy.net.load_state_dict(saved["policy"])
            critic = build_critic(layout, config)
            critic.load_state_dict(saved["critic"])
            rng = generator_from(saved["rng"])
        self.config, self.layout, self.policy, self.critic = config, layout, policy, critic
        self.optimizer = None
        self.rng = rng

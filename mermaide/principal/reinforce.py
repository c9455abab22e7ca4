"""``"reinforce"``: a model-free policy-gradient principal (REINFORCE with a baseline).

``meta_train`` plays ``episodes_per_batch`` episodes at once on the game's batched form
(``toolkit.VectorGame``), each sub-game with a fresh agent from the population (the task
structure is ignored), and takes one Adam step of the REINFORCE loss per batch
(``reinforce_update``). ``adapt`` plays K episodes of the new agent and takes ``adapt_steps``
SGD steps of size ``adapt_lr`` on them (``reinforce_adapt``). ``train_reinforce`` and both
updates are public: ``"model"`` composes them with its world-model encoder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.logger import Logger
from torch import nn

from mermaide.checks import (
    check_bool,
    check_choice,
    check_int,
    check_number,
    reading_checkpoint,
)
from mermaide.principal.base import EnvFn, TaskDistribution
from mermaide.principal.monitor import Progress, TrainingMonitor
from mermaide.principal.toolkit import (
    POLICY_KINDS,
    ActionSpace,
    ActorColumns,
    Episodes,
    LossBatch,
    ObservationLayout,
    Policy,
    VectorGame,
    config_from,
    gae,
    generator_from,
    generator_state,
    load_checkpoint,
    log_probs_of,
    loss_batch,
    policy_gradient_loss,
    ppo_loss,
    probe_layout,
    reinforce_advantages,
    save_checkpoint,
    sgd_steps,
    standardised,
    state_values,
    train_batches,
)


@dataclass
class ReinforceConfig:
    """Hyper-parameters of the REINFORCE principal (and of the policy learner of ``model``;
    the base of MAML's config)."""

    policy: str = "gru"            # "mlp" (over the last `history` inputs) or "gru" (whole history)
    hidden_size: int = 64          # width of the hidden layers / GRU state
    history: int = 1               # inputs the MLP sees (the current one and history - 1 before)
    lr: float = 1e-2               # Adam step size of meta_train (0: learning off, an ablation)
    gamma: float = 1.0             # discount of the rewards-to-go
    entropy_coef: float = 0.01     # weight of the entropy bonus
    # Episodes (sub-games of one vector env) per gradient step. 256, by measurement (5 arms,
    # T=50, 4M steps, seeds 0 and 1): 16 never learns (6.7, 5.9: no better than no bonus),
    # 64 and 256 reach the tuned schedule's 16.35 in both seeds, 256 in 23 s against 39 s.
    episodes_per_batch: int = 256
    normalize_advantages: bool = True  # divide advantages by their std (when > 1 episode)
    max_grad_norm: float = 1.0     # gradient clipping of meta_train steps
    adapt_lr: float = 0.1          # SGD step size of adapt
    adapt_steps: int = 1           # gradient steps adapt takes on its K episodes
    greedy: bool = True            # act() takes the most likely action (False: samples)
    seed: int = 0                  # seeds action sampling before meta_train is called
    critic: bool = False           # a value head on the policy's features, baseline of GAE
    gae_lambda: float = 0.95       # GAE's lambda (with the critic)
    value_coef: float = 0.5        # weight of the critic's squared error in the loss
    ppo_epochs: int = 1            # passes over each batch (> 1: PPO's clipped surrogate)
    clip_range: float = 0.2        # PPO's clipping of the probability ratio
    minibatches: int = 1           # minibatches (of whole episodes) per pass

    def __post_init__(self) -> None:
        check_choice("policy", self.policy, POLICY_KINDS)
        check_int("hidden_size", self.hidden_size, 1)
        check_int("history", self.history, 1)
        check_number("lr", self.lr, low=0.0)
        check_number("gamma", self.gamma, low=0.0, high=1.0)
        check_number("entropy_coef", self.entropy_coef, low=0.0)
        check_int("episodes_per_batch", self.episodes_per_batch, 1)
        check_bool("normalize_advantages", self.normalize_advantages)
        check_number("max_grad_norm", self.max_grad_norm, low=0.0, low_open=True)
        check_number("adapt_lr", self.adapt_lr, low=0.0)
        check_int("adapt_steps", self.adapt_steps, 0)
        check_bool("greedy", self.greedy)
        check_int("seed", self.seed, 0)
        check_bool("critic", self.critic)
        check_number("gae_lambda", self.gae_lambda, low=0.0, high=1.0)
        check_number("value_coef", self.value_coef, low=0.0)
        check_int("ppo_epochs", self.ppo_epochs, 1)
        check_number("clip_range", self.clip_range, low=0.0, low_open=True)
        check_int("minibatches", self.minibatches, 1)
        if self.minibatches > self.episodes_per_batch:
            raise ValueError(f"minibatches must be <= episodes_per_batch "
                             f"({self.episodes_per_batch}), got {self.minibatches}")


# --- the update -------------------------------------------------------------------------------


def reinforce_loss(policy: Policy, episodes: Episodes, config: ReinforceConfig) -> torch.Tensor:
    advantages = reinforce_advantages(episodes, config.gamma, config.normalize_advantages)
    batch = loss_batch(episodes, policy.encoder, advantages)
    return policy_gradient_loss(policy.net, policy.parameters(), batch, config.entropy_coef)


def reinforce_update(policy: Policy, optimizer: torch.optim.Optimizer, episodes: Episodes,
                     config: ReinforceConfig, rng: np.random.Generator) -> float:
    """The update on one batch of episodes. Plain: one clipped Adam step of the REINFORCE
    loss (rewards-to-go minus the per-step batch mean). With ``critic`` the advantages are
    GAE's over the value head's estimates, and the head learns the returns; with
    ``ppo_epochs`` > 1, that many passes of PPO's clipped surrogate over ``minibatches``
    shuffled (by ``rng``) minibatches of whole episodes. Returns the loss, averaged over the
    update's gradient steps."""
    c = config
    if not c.critic and c.ppo_epochs == 1 and c.minibatches == 1:
        return _step(policy, optimizer, reinforce_loss(policy, episodes, c), c)
    net = policy.net
    with torch.no_grad():
        inputs = policy.encoder.sequence(torch.from_numpy(episodes.obs))
        out, _ = net(inputs)
    if c.critic:
        advantages, returns = gae(episodes, state_values(net, out).numpy(), c.gamma,
                                  c.gae_lambda)
        if c.normalize_advantages:
            advantages = standardised(advantages, episodes.mask)
    else:
        advantages = reinforce_advantages(episodes, c.gamma, c.normalize_advantages)
    batch = loss_batch(episodes, policy.encoder, advantages)
    batch.inputs = inputs
    params = policy.parameters()
    with torch.no_grad():
        old_log_probs, _ = log_probs_of(net, params, out, batch.actions, batch.action_masks)
    targets = torch.from_numpy(returns) if c.critic else None
    n = episodes.obs.shape[0]
    losses = []
    for _ in range(c.ppo_epochs):
        for rows in np.array_split(rng.permutation(n), c.minibatches):
            index = torch.from_numpy(rows)
            part = LossBatch(batch.inputs[index], batch.actions[index],
                             batch.advantages[index], batch.mask[index],
                             None if batch.action_masks is None else batch.action_masks[index])
            loss = ppo_loss(net, params, part, old_log_probs[index],
                            None if targets is None else targets[index], c.clip_range,
                            c.entropy_coef, c.value_coef)
            losses.append(_step(policy, optimizer, loss, c))
    return float(np.mean(losses))


def _step(policy: Policy, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
          config: ReinforceConfig) -> float:
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(policy.net.parameters(), config.max_grad_norm)
    optimizer.step()
    return float(loss.detach())


def reinforce_adapt(policy: Policy, episodes: Episodes, config: ReinforceConfig) -> None:
    """K-shot adaptation: ``adapt_steps`` SGD steps of ``adapt_lr`` on the K episodes."""
    sgd_steps(policy.net, lambda: reinforce_loss(policy, episodes, config), config.adapt_lr,
              config.adapt_steps)


def train_reinforce(policy: Policy, optimizer: torch.optim.Optimizer, game: VectorGame,
                    population: TaskDistribution | None, steps: int, rng: np.random.Generator,
                    config: ReinforceConfig, monitor: TrainingMonitor | None = None) -> int:
    """REINFORCE for about ``steps`` env steps: every batch one episode on each sub-game of
    ``game``, each with a fresh task from ``population`` (None: the game draws its own);
    returns the steps played. ``monitor`` is told of every batch (its returns and the loss)."""
    return train_batches(
        game, population, steps, rng,
        lambda tasks, seed: policy.rollout(game, rng, tasks, seed),
        lambda episodes: reinforce_update(policy, optimizer, episodes, config, rng), monitor)


# --- the principal ----------------------------------------------------------------------------


class Reinforce:
    """REINFORCE principal: ``make("reinforce", policy="mlp", lr=0.01, ...)`` (any
    ``ReinforceConfig`` field as keyword, or ``config=ReinforceConfig(...)``)."""

    name = "reinforce"

    def __init__(self, config: Any = None, **overrides: Any):
        self.config: ReinforceConfig = config_from(ReinforceConfig, config, overrides)
        self.rng = np.random.default_rng(self.config.seed)
        self.policy: Policy | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        # What the policy reads of the game's observations: a flat Box as it is, a Dict's
        # actor keys flattened ("critic:" keys never reach it).
        self.layout: ObservationLayout | None = None
        self.allowed: Any = None  # the game's action mask for the next act, when it gives one

    def _ready(self) -> tuple[Policy, ObservationLayout]:
        if self.policy is None or self.layout is None:
            raise RuntimeError(f"{self.name!r} has no policy yet: call meta_train or load first")
        return self.policy, self.layout

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int, *, progress: Progress = True, logger: Logger | None = None
                   ) -> None:
        """Train on about ``steps`` env steps. Called again on a game with the same spaces,
        it continues training the same policy with its optimiser state (a harness may train
        in chunks and score the principal in between). ``progress`` and ``logger``: the bar
        and the SB3 logger of the learning curve (``monitor.TrainingMonitor``)."""
        probe, key, layout, space = probe_layout(env_fn, steps, seed)
        self.rng = np.random.default_rng(seed)
        c = self.config
        if self.policy is None or (layout, space) != (self.layout, self.policy.space):
            torch.manual_seed(seed)
            self.layout = layout
            self.policy = Policy.build(ActorColumns(layout), space, c.policy, c.hidden_size,
                                       c.history, c.critic)
            self.optimizer = None
        if self.optimizer is None:
            self.optimizer = torch.optim.Adam(self.policy.net.parameters(), lr=c.lr)
        game = VectorGame.make(env_fn, c.episodes_per_batch, key, probe.spec, layout)
        probe.close()
        try:
            with TrainingMonitor(steps, progress, logger, self.name) as monitor:
                train_reinforce(self.policy, self.optimizer, game, population, steps, self.rng,
                                c, monitor)
        finally:
            game.close()

    def adapt(self, env: gym.Env, episodes: int) -> None:
        """K episodes of the new agent, then ``adapt_steps`` SGD steps of ``adapt_lr``."""
        check_int("episodes", episodes, 0)
        if episodes:
            policy, _ = self._ready()
            reinforce_adapt(policy, policy.play(env, episodes, self.rng), self.config)


    def begin_episode(self, info: dict[str, Any]) -> None:
        """Read the game's action mask of the episode's first step (``info["action_mask"]``)."""
        self.allowed = info.get("action_mask")

    def after_step(self, info: dict[str, Any]) -> None:
        """Read the game's action mask of the next step."""
        self.allowed = info.get("action_mask")

    def act(self, obs: Any, state: Any) -> tuple[Any, Any]:
        policy, layout = self._ready()
        return policy.act(layout.single(obs), state, self.config.greedy, self.rng, self.allowed)

    def save(self, path: str) -> None:
        policy, layout = self._ready()
        save_checkpoint(path, self.name, {
            "config": dataclasses.asdict(self.config), "layout": layout.describe(),
            "action_space": policy.space.describe(), "policy": policy.net.state_dict(),
            "rng": generator_state(self.rng)})

    def load(self, path: str) -> None:
        """Replace this principal by the one saved at ``path``; a bad file raises
        ``CheckpointError`` and changes nothing (everything is built before any is kept)."""
        saved = load_checkpoint(path, self.name)
        with reading_checkpoint(path):
            config = ReinforceConfig(**saved["config"])
            layout = ObservationLayout.from_description(saved["layout"])
            space = ActionSpace.from_description(saved["action_space"])
            policy = Policy.build(ActorColumns(layout), space, config.policy,
                                  config.hidden_size, config.history, config.critic)
            policy.net.load_state_dict(saved["policy"])
            rng = generator_from(saved["rng"])
        self.config, self.policy, self.layout = config, policy, layout
        self.optimizer = None
        self.rng = rng

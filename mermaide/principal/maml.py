"""``"maml"``: model-agnostic meta-learning (Finn et al., 2017) over agents as tasks.

A task is one agent (an ``AgentSpec``; a ``MatrixGame`` in the matrix games). Each outer step
draws ``meta_batch`` tasks and, on the game's batched form (``toolkit.VectorGame``),

1. plays ``shots`` support episodes of every task with the current initialisation theta, all
   ``meta_batch x shots`` of them in one batched rollout;
2. runs the inner loop: ``adapt_steps`` policy-gradient steps of size ``adapt_lr`` on them,
   theta_i = theta - adapt_lr * grad L_support_i(theta) (the REINFORCE loss of
   ``toolkit.policy_gradient_loss``), for all tasks at once (``task_inner_loop``: the tasks'
   parameters carry a leading task axis, ``toolkit.task_forward`` evaluates them with
   batched matmuls, and one backward pass gives each task its own gradient);
3. plays ``query_episodes`` episodes of every task with its theta_i (one batched rollout, the
   policies evaluated with ``task_forward`` on the tasks' parameters),

and takes an Adam step on the mean query loss L_query_i(theta_i), differentiating through the
inner loop (second order) or not (``first_order=True``: the inner gradients are treated as
constants). ``adapt(env, K)`` is the same inner loop on K episodes of the new agent.

By default this is MAML-RL as the MERMAIDE paper uses it: the dependence of the support
episodes' distribution on theta is ignored. Three options make the inner loop itself learnt,
for settings where *which* support episodes are played and *how far* one step moves decide
everything (one-shot adaptation on one-step games, docs/stackelberg-one-shot.md):

* ``support_credit``: the term of the exact meta-gradient that MAML-RL drops, as in E-MAML
  (Stadie et al., 2018): each task's support log-likelihood log pi_theta(support) is
  reinforced with the adapted policy's query return (minus the meta-batch mean), so
  meta-training learns to play support episodes that are informative, not only good;
* ``learn_adapt_lr``: the inner step size is a meta-learnt parameter (one scalar, log-scale,
  initialised at ``adapt_lr``; Meta-SGD, Li et al., 2017, with a shared rate);
* ``learn_baseline``: the inner loop's baseline is a meta-learnt reward level b per step
  (advantage G_t - b * (discounted steps left), not normalised). With K = 1 one-step episodes
  the plain update has no baseline at all and reinforces every support action; a learnt b
  makes it keep a good one and move away from a bad one. (Second order only: with
  ``first_order`` b gets no gradient.)

``MetaLearner`` (the policy, the inner loop's learnt parameters and the outer optimiser) with
``meta_loss`` (and ``meta_loss_and_episodes``), ``train_maml`` and ``maml_adapt`` is public:
``"mermaide"`` composes it with its world-model encoder, an ``AdaptiveEncoder``: one that
adapts to each task from its support episodes too, before the policy's inner steps, the same
way in step 2 and in ``adapt`` (the adapted encoder then reads that task's support and query
episodes; nothing differentiates through its adaptation).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.logger import Logger
from torch import Tensor, nn
from torch.func import grad

from mermaide.checks import check_bool, check_int, reading_checkpoint
from mermaide.principal.base import EnvFn, TaskDistribution
from mermaide.principal.monitor import Progress, TrainingMonitor
from mermaide.principal.reinforce import ReinforceConfig
from mermaide.principal.toolkit import (
    ActionSpace,
    ActorColumns,
    Encoder,
    Episodes,
    LossBatch,
    ObservationLayout,
    Policy,
    PolicyFn,
    PolicyNet,
    VectorGame,
    action_log_probs,
    by_task,
    config_from,
    generator_from,
    generator_state,
    load_checkpoint,
    loss_batch,
    policy_gradient_loss,
    probe_layout,
    reinforce_advantages,
    repeat_tasks,
    rewards_to_go,
    save_checkpoint,
    task_forward,
    task_losses,
)

Params = dict[str, Tensor]


@dataclass
class MAMLConfig(ReinforceConfig):
    """``ReinforceConfig`` (lr = the outer Adam step; adapt_lr / adapt_steps = the inner loop,
    used identically by ``adapt``) plus the meta-batch. ``episodes_per_batch`` is unused."""

    meta_batch: int = 8         # tasks per outer step
    shots: int = 1              # support episodes per task (K of the K-shot adaptation)
    query_episodes: int = 4     # episodes per task scored by the outer loss
    first_order: bool = False   # first-order MAML: no gradient through the inner gradients
    support_credit: bool = False  # E-MAML: reinforce the support episodes with the query return
    learn_adapt_lr: bool = False  # meta-learn the inner step size (initialised at adapt_lr)
    learn_baseline: bool = False  # meta-learn the inner loop's per-step reward baseline

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("meta_batch", self.meta_batch, 1)
        check_int("shots", self.shots, 1)
        check_int("query_episodes", self.query_episodes, 1)
        for name in ("first_order", "support_credit", "learn_adapt_lr", "learn_baseline"):
            check_bool(name, getattr(self, name))
        for name, plain in (("critic", False), ("ppo_epochs", 1), ("minibatches", 1)):
            if getattr(self, name) != plain:
                raise ValueError(f"{name} must be {plain!r} for MAML (its inner and outer "
                                 f"losses are policy gradients on the meta-batch), got "
                                 f"{getattr(self, name)!r}")
        if self.learn_adapt_lr and self.adapt_lr <= 0:
            raise ValueError(f"adapt_lr must be > 0 with learn_adapt_lr (it is learnt on a log "
                             f"scale from there), got {self.adapt_lr!r}")


class InnerLoopParams(nn.Module):
    """The meta-learnt parts of the inner loop: log step size and per-step reward baseline.
    Both are always present (saved and loaded); the config says which are trained and used."""

    def __init__(self, adapt_lr: float):
        super().__init__()
        self.log_lr = nn.Parameter(torch.tensor(math.log(max(adapt_lr, 1e-12))))
        self.baseline = nn.Parameter(torch.tensor(0.0))


# --- the inner loop ---------------------------------------------------------------------------


def inner_loop(policy: nn.Module, params: Params, inputs: Tensor, actions: Tensor,
               advantages: Tensor, mask: Tensor, lr: float | Tensor, steps: int,
               entropy_coef: float, first_order: bool, action_masks: Tensor | None = None
               ) -> Params:
    """``steps`` SGD steps of the REINFORCE loss from ``params``: a pure function of them.
    With ``first_order`` the gradients are detached (first-order MAML)."""
    batch = LossBatch(inputs, actions, advantages, mask, action_masks)

    def loss(p: Params) -> Tensor:
        return policy_gradient_loss(policy, p, batch, entropy_coef)

    for _ in range(steps):
        grads = grad(loss)(params)
        if first_order:
            grads = {k: g.detach() for k, g in grads.items()}
        params = {k: params[k] - lr * grads[k] for k in params}
    return params


def task_inner_loop(net: PolicyNet, theta: Params, batch: LossBatch, lr: float | Tensor,
                    steps: int, entropy_coef: float, first_order: bool) -> Params:
    """``inner_loop`` for every task of a batch split by task (``LossBatch.split``) at once:
    the tasks' parameters (leading task axis, each starting at ``theta``) after ``steps`` SGD
    steps of their own losses. One backward pass of the summed losses gives every task its
    own gradient (task i's loss depends on its parameters only), through ``task_forward``'s
    batched matmuls instead of a ``vmap``; with ``first_order`` no graph is kept through
    the gradients. Differentiable in ``theta`` (and in ``lr`` and the advantages)."""
    tasks = batch.inputs.shape[0]
    params = {k: (v if v.requires_grad else v.detach().requires_grad_()).expand(tasks, *v.shape)
              for k, v in theta.items()}
    for _ in range(steps):
        losses = task_losses(net, params, batch, entropy_coef)
        grads = torch.autograd.grad(losses.sum(), list(params.values()),
                                    create_graph=not first_order, allow_unused=True)
        params = {k: v if g is None else v - lr * g
                  for (k, v), g in zip(params.items(), grads, strict=True)}
    return params


@runtime_checkable
class AdaptiveEncoder(Protocol):
    """An encoder that adapts to a task too (``"mermaide"``'s ``world_model.WorldModelEncoder``
    fine-tunes the world model's read-out). The inner loop of meta-training and
    ``maml_adapt`` call it alike, on the support episodes, before the policy's inner steps;
    nothing differentiates through it."""

    def adapted(self, episodes: Episodes, tasks: int) -> Encoder:
        """An encoder of task-major rows (N = tasks x per_task, any per_task) that encodes
        each task's rows as adapted to that task's rows of ``episodes`` (tasks x K)."""
        ...

    def keep(self, adapted: Encoder) -> None:
        """Become a one-task encoder that ``adapted`` returned (K-shot adaptation)."""
        ...


class MetaLearner:
    """What MAML learns: the policy's initialisation theta, the inner loop's learnt step size
    and baseline (``InnerLoopParams``), and the outer Adam optimiser over those it trains.
    A policy whose encoder is an ``AdaptiveEncoder`` has it adapted to each task before the
    policy's inner steps."""

    def __init__(self, policy: Policy, config: MAMLConfig):
        self.policy, self.config = policy, config
        self.inner = InnerLoopParams(config.adapt_lr)
        self.optimizer: torch.optim.Optimizer | None = None

    def outer_optimizer(self) -> torch.optim.Optimizer:
        """Adam over the policy and the inner parameters the config trains (kept across
        ``meta_train`` calls)."""
        if self.optimizer is None:
            c = self.config
            learnt = ([self.inner.log_lr] if c.learn_adapt_lr else []) + (
                [self.inner.baseline] if c.learn_baseline else [])
            self.optimizer = torch.optim.Adam([*self.policy.net.parameters(), *learnt],
                                              lr=c.lr)
        return self.optimizer

    @property
    def inner_lr(self) -> float:
        """The inner loop's step size: ``adapt_lr``, or the learnt one."""
        return float(self.inner.log_lr.detach().exp()) if self.config.learn_adapt_lr else (
            self.config.adapt_lr)

    def inner_lr_tensor(self) -> float | Tensor:
        return self.inner.log_lr.exp() if self.config.learn_adapt_lr else self.config.adapt_lr

    def task_encoder(self, support: Episodes, tasks: int) -> Encoder:
        """The encoder each task's episodes are read with after its support episodes: an
        ``AdaptiveEncoder``'s adapted one, else the policy's own."""
        encoder = self.policy.encoder
        if isinstance(encoder, AdaptiveEncoder):
            return encoder.adapted(support, tasks)
        return encoder

    def support_batch(self, episodes: Episodes, tasks: int, encoder: Encoder | None = None
                      ) -> LossBatch:
        """The support episodes as (tasks, per_task, T, ...) tensors, their inputs from
        ``encoder`` (default: the policy's); the advantages are each task's batch-baseline
        ones, or with ``learn_baseline`` returns minus the learnt per-step baseline
        (differentiable in it)."""
        c = self.config
        batch = loss_batch(episodes, self.policy.encoder if encoder is None else encoder,
                           reinforce_advantages(episodes, c.gamma, c.normalize_advantages, tasks))
        batch = batch.split(tasks)
        if c.learn_baseline:
            returns = rewards_to_go(episodes.rewards * episodes.mask, c.gamma)
            left = rewards_to_go(episodes.mask, c.gamma)  # discounted steps left
            batch.advantages = (by_task(torch.from_numpy(returns), tasks)
                                - self.inner.baseline * by_task(torch.from_numpy(left), tasks)
                                ) * batch.mask
        return batch


def adapted_policy(net: PolicyNet, params: Params, per_task: int) -> PolicyFn:
    """Acting with each task's own parameters (leading task axis): the N = tasks x per_task
    inputs are split by task and played through ``task_forward``."""

    def act(x: Tensor, state: Any) -> tuple[Tensor, Tensor]:
        tasks = x.shape[0] // per_task
        x = x.reshape(tasks, per_task, *x.shape[1:])
        if state is not None:
            state = state.reshape(tasks, per_task, *state.shape[1:])
        out, new = task_forward(net, params, x, state)
        n = tasks * per_task
        return out.reshape(n, *out.shape[2:]), new.reshape(n, *new.shape[2:])

    return act


# --- the update -------------------------------------------------------------------------------


def meta_loss(learner: MetaLearner, support_game: VectorGame, query_game: VectorGame,
              tasks: Any, rng: np.random.Generator) -> tuple[Tensor, int]:
    """The outer loss on one meta-batch of ``tasks`` (a list, or an ``AgentBatch``) and the
    env steps it played: ``support_game`` has meta_batch x shots sub-games, ``query_game``
    meta_batch x query_episodes."""
    loss, support, query = meta_loss_and_episodes(learner, support_game, query_game, tasks,
                                                  rng)
    return loss, support.steps + query.steps


def meta_loss_and_episodes(learner: MetaLearner, support_game: VectorGame,
                           query_game: VectorGame, tasks: Any, rng: np.random.Generator
                           ) -> tuple[Tensor, Episodes, Episodes]:
    """``meta_loss`` with the support and query episodes it played."""
    policy, c = learner.policy, learner.config
    m = len(tasks)
    theta: Params = policy.parameters()
    support = policy.rollout(support_game, rng, repeat_tasks(tasks, c.shots))
    encoder = learner.task_encoder(support, m)
    batch = learner.support_batch(support, m, encoder)
    lr = learner.inner_lr_tensor()

    adapted = task_inner_loop(policy.net, theta, batch, lr, c.adapt_steps, c.entropy_coef,
                              c.first_order)
    detached = {k: v.detach() for k, v in adapted.items()}
    player = policy if encoder is policy.encoder else Policy(encoder, policy.net, policy.space)
    query = player.rollout(query_game, rng, repeat_tasks(tasks, c.query_episodes),
                           policy=adapted_policy(policy.net, detached, c.query_episodes))
    q = loss_batch(query, encoder,
                   reinforce_advantages(query, c.gamma, c.normalize_advantages, m)).split(m)

    loss = task_losses(policy.net, adapted, q, c.entropy_coef).mean()
    if c.support_credit:
        loss = loss + support_credit_loss(learner, theta, batch, query, m)
    return loss, support, query


def support_credit_loss(learner: MetaLearner, theta: Params, batch: LossBatch,
                        query: Episodes, tasks: int) -> Tensor:
    """E-MAML's term: -(query return - meta-batch mean) * log pi_theta(support), per task.

    The support episodes were sampled from pi_theta, so the exact meta-gradient contains the
    score of their likelihood weighted by what the adapted policy then earned; MAML-RL drops
    it, and then nothing teaches theta to *probe* well."""
    c = learner.config
    earned = torch.from_numpy((query.rewards * query.mask).sum(1).astype(np.float32))
    earned = earned.reshape(tasks, c.query_episodes).mean(1)
    score = earned - earned.mean()
    if c.normalize_advantages and tasks > 1 and float(score.std()) > 1e-8:
        score = score / score.std()
    flat_inputs = batch.inputs.reshape(-1, *batch.inputs.shape[2:])
    flat_actions = batch.actions.reshape(-1, *batch.actions.shape[2:])
    flat_masks = None if batch.action_masks is None else batch.action_masks.reshape(
        -1, *batch.action_masks.shape[2:])
    chosen, _ = action_log_probs(learner.policy.net, theta, flat_inputs, flat_actions,
                                 flat_masks)
    support_log_prob = (chosen * batch.mask.reshape(chosen.shape)).sum(-1).reshape(tasks, -1)
    return -(score[:, None] * support_log_prob).sum(1).mean()


def meta_batch_games(env_fn: EnvFn, key: str, spec: Any, config: MAMLConfig
                     ) -> tuple[VectorGame, VectorGame]:
    """The support and query games of a meta-batch: meta_batch x shots and meta_batch x
    query_episodes sub-games."""
    c = config
    return (VectorGame.make(env_fn, c.meta_batch * c.shots, key, spec),
            VectorGame.make(env_fn, c.meta_batch * c.query_episodes, key, spec))


def task_source(game: VectorGame, population: TaskDistribution | None, probe: gym.Env,
                key: str, count: int, rng: np.random.Generator) -> Callable[[], Any]:
    """Draws of one meta-batch of tasks: from ``population``, or when None from the env's
    own draws (``probe``'s reset info names them). A game whose reset info names no task
    (a Stackelberg POMDP preset: the game is the task) gives ``count`` Nones: every
    sub-game then plays the env's own episode."""
    if population is not None:
        return lambda: game.draw(population, count, rng)
    if key not in probe.reset()[1]:
        return lambda: [None] * count
    return lambda: [probe.reset()[1][key] for _ in range(count)]


def train_maml(learner: MetaLearner, support_game: VectorGame, query_game: VectorGame,
               draw_tasks: Callable[[], Any], steps: int, rng: np.random.Generator,
               monitor: TrainingMonitor | None = None) -> int:
    """Outer Adam steps of ``meta_loss`` for about ``steps`` env steps, each on a meta-batch
    from ``draw_tasks``; returns the steps played. ``monitor`` is told of every outer step:
    the query episodes' returns (the adapted policies', what MAML maximises) are its curve,
    with the loss, the support episodes' mean return and the inner step size."""
    c = learner.config
    optimizer = learner.outer_optimizer()
    # The first resets seed the vector envs; later ones continue their streams.
    support_game.reset(seed=int(rng.integers(2**31)))
    query_game.reset(seed=int(rng.integers(2**31)))
    done = 0
    while done < steps:
        loss, support, query = meta_loss_and_episodes(learner, support_game, query_game,
                                                      draw_tasks(), rng)
        played = support.steps + query.steps
        done += played
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(learner.policy.net.parameters(), c.max_grad_norm)
        optimizer.step()
        if monitor is not None:
            monitor.update(played, query, {
                "train/loss": float(loss.detach()),
                "rollout/support_rew_mean": float((support.rewards * support.mask).sum(1).mean()),
                "train/inner_lr": learner.inner_lr})
    return done


def maml_adapt(learner: MetaLearner, episodes: Episodes) -> None:
    """The meta-training inner loop (first order: nothing differentiates through it here), on
    the K episodes of the new agent, written into the policy (and the adapter's adapted
    encoder into the policy's encoder)."""
    policy, c = learner.policy, learner.config
    theta = {k: v.detach() for k, v in policy.parameters().items()}
    encoder = learner.task_encoder(episodes, 1)
    with torch.no_grad():
        batch = learner.support_batch(episodes, 1, encoder)
    adapted = inner_loop(policy.net, theta, batch.inputs[0], batch.actions[0],
                         batch.advantages[0], batch.mask[0], learner.inner_lr, c.adapt_steps,
                         c.entropy_coef, first_order=True,
                         action_masks=None if batch.action_masks is None
                         else batch.action_masks[0])
    with torch.no_grad():
        for name, value in policy.net.named_parameters():
            value.copy_(adapted[name])
    if encoder is not policy.encoder and isinstance(policy.encoder, AdaptiveEncoder):
        policy.encoder.keep(encoder)


# --- the principal ----------------------------------------------------------------------------


class MAML:
    """``"maml"``: ``make("maml", adapt_lr=0.5, shots=1, meta_batch=8, ...)`` (any
    ``MAMLConfig`` field as keyword)."""

    name = "maml"

    def __init__(self, config: Any = None, **overrides: Any):
        self.config: MAMLConfig = config_from(MAMLConfig, config, overrides)
        self.rng = np.random.default_rng(self.config.seed)
        self.learner: MetaLearner | None = None
        # What the policy reads of the game's observations (``reinforce.Reinforce.layout``).
        self.layout: ObservationLayout | None = None
        self.allowed: Any = None  # the game's action mask for the next act, when it gives one

    @property
    def policy(self) -> Policy | None:
        """The policy it acts with (the meta-learnt initialisation, or after ``adapt`` the
        adapted one), as every learned principal exposes it."""
        return None if self.learner is None else self.learner.policy

    def _ready(self) -> MetaLearner:
        if self.learner is None or self.layout is None:
            raise RuntimeError(f"{self.name!r} has no policy yet: call meta_train or load first")
        return self.learner

    @staticmethod
    def _build(encoder: Encoder, space: ActionSpace, c: MAMLConfig) -> MetaLearner:
        return MetaLearner(Policy.build(encoder, space, c.policy, c.hidden_size, c.history), c)

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int, *, progress: Progress = True, logger: Logger | None = None
                   ) -> None:
        """Meta-train on about ``steps`` env steps; called again on a game with the same
        spaces, it continues with the same policy and optimiser state. ``progress`` and
        ``logger``: the bar and the SB3 logger of the learning curve
        (``monitor.TrainingMonitor``)."""
        probe, key, layout, space = probe_layout(env_fn, steps, seed)
        self.rng = np.random.default_rng(seed)
        if self.learner is None or (layout, space) != (self.layout, self.learner.policy.space):
            torch.manual_seed(seed)
            self.layout = layout
            self.learner = self._build(ActorColumns(layout), space, self.config)
        support, query = meta_batch_games(env_fn, key, probe.spec, self.config)
        draw = task_source(support, population, probe, key, self.config.meta_batch, self.rng)
        try:
            with TrainingMonitor(steps, progress, logger, self.name) as monitor:
                train_maml(self.learner, support, query, draw, steps, self.rng, monitor)
        finally:
            for env in (support, query, probe):
                env.close()

    def adapt(self, env: gym.Env, episodes: int) -> None:
        """K episodes of the new agent, then the inner loop on them."""
        check_int("episodes", episodes, 0)
        if episodes:
            learner = self._ready()
            maml_adapt(learner, learner.policy.play(env, episodes, self.rng))


    def begin_episode(self, info: dict[str, Any]) -> None:
        """Read the game's action mask of the episode's first step (``info["action_mask"]``)."""
        self.allowed = info.get("action_mask")

    def after_step(self, info: dict[str, Any]) -> None:
        """Read the game's action mask of the next step."""
        self.allowed = info.get("action_mask")

    def act(self, obs: Any, state: Any) -> tuple[Any, Any]:
        policy = self._ready().policy
        assert self.layout is not None  # _ready checked it
        return policy.act(self.layout.single(obs), state, self.config.greedy, self.rng,
                          self.allowed)

    def save(self, path: str) -> None:
        learner = self._ready()
        assert self.layout is not None  # _ready checked it
        save_checkpoint(path, self.name, {
            "config": dataclasses.asdict(self.config), "layout": self.layout.describe(),
            "action_space": learner.policy.space.describe(),
            "policy": learner.policy.net.state_dict(), "inner": learner.inner.state_dict(),
            "rng": generator_state(self.rng)})

    def load(self, path: str) -> None:
        """Replace this principal by the one saved at ``path``; a bad file raises
        ``CheckpointError`` and changes nothing (everything is built before any is kept)."""
        saved = load_checkpoint(path, self.name)
        with reading_checkpoint(path):
            config = MAMLConfig(**saved["config"])
            layout = ObservationLayout.from_description(saved["layout"])
            learner = self._build(ActorColumns(layout),
                                  ActionSpace.from_description(saved["action_space"]), config)
            learner.policy.net.load_state_dict(saved["policy"])
            learner.inner.load_state_dict(saved["inner"])
            rng = generator_from(saved["rng"])
        self.config, self.learner, self.layout, self.rng = config, learner, layout, rng

"""``"maml"``: model-agnostic meta-learning (Finn et al., 2017) over agents as tasks.

A task is one agent (an ``AgentSpec``; a ``MatrixGame`` in the matrix games). Each outer step
draws ``meta_batch`` tasks and, for each,

1. plays ``shots`` support episodes with the current initialisation theta;
2. runs the inner loop: ``adapt_steps`` policy-gradient steps of size ``adapt_lr`` on them,
   theta_i = theta - adapt_lr * grad L_support_i(theta) (the REINFORCE loss of
   ``reinforce.policy_gradient_loss``), as a pure function of a parameter dict
   (``torch.func.functional_call`` + ``torch.func.grad``), ``vmap``-ed over the task batch;
3. plays ``query_episodes`` episodes with theta_i (all tasks' episodes in lockstep, the
   policies evaluated with one ``vmap`` over the tasks' parameters),

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from mermaide.envs.knobs import check_int
from mermaide.principal.base import EnvFn, TaskDistribution
from mermaide.principal.reinforce import (
    Encoder,
    Episodes,
    LossBatch,
    Reinforce,
    ReinforceConfig,
    action_log_probs,
    policy_gradient_loss,
    reinforce_advantages,
    rewards_to_go,
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
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
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


def task_returns(episodes: Episodes, tasks: int, gamma: float) -> tuple[Tensor, Tensor]:
    """Rewards-to-go and discounted steps left, each (tasks, per_task, T): what a learnt
    baseline needs (advantage = returns - b * steps_left)."""
    mask = episodes.mask
    returns = rewards_to_go(episodes.rewards * mask, gamma)
    left = rewards_to_go(mask, gamma)
    per_task = mask.shape[0] // tasks
    return (torch.from_numpy(returns).reshape(tasks, per_task, -1),
            torch.from_numpy(left).reshape(tasks, per_task, -1))


def task_batch(episodes: Episodes, tasks: int, encoder: Encoder, gamma: float,
               normalize: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Episodes laid out task-major (tasks x per_task) -> tensors (tasks, per_task, T, ...):
    inputs, actions, advantages (each task's own baseline), mask."""
    per_task = episodes.obs.shape[0] // tasks
    with torch.no_grad():
        inputs = encoder.sequence(torch.from_numpy(episodes.obs))
    advantages = np.concatenate([
        reinforce_advantages(Episodes(*(getattr(episodes, name)[i * per_task:(i + 1) * per_task]
                                        for name in ("obs", "actions", "rewards", "mask",
                                                     "agent_actions"))), gamma, normalize)
        for i in range(tasks)])

    def split(t: Tensor) -> Tensor:
        return t.reshape(tasks, per_task, *t.shape[1:])

    return (split(inputs), split(torch.from_numpy(episodes.actions)),
            split(torch.from_numpy(advantages)), split(torch.from_numpy(episodes.mask)))


def inner_loop(policy: nn.Module, params: Params, inputs: Tensor, actions: Tensor,
               advantages: Tensor, mask: Tensor, lr: float | Tensor, steps: int,
               entropy_coef: float, first_order: bool) -> Params:
    """``steps`` SGD steps of the REINFORCE loss from ``params``: a pure function (vmap-able).
    With ``first_order`` the gradients are detached (first-order MAML)."""
    batch = LossBatch(inputs, actions, advantages, mask)

    def loss(p: Params) -> Tensor:
        return policy_gradient_loss(policy, p, batch, entropy_coef)

    for _ in range(steps):
        grads = grad(loss)(params)
        if first_order:
            grads = {k: g.detach() for k, g in grads.items()}
        params = {k: params[k] - lr * grads[k] for k in params}
    return params


class MAML(Reinforce):
    """``"maml"``: ``make("maml", adapt_lr=0.5, shots=1, meta_batch=8, ...)`` (any
    ``MAMLConfig`` field as keyword)."""

    name = "maml"
    config_class = MAMLConfig

    def __init__(self, config: Any = None, **overrides: Any):
        super().__init__(config, **overrides)
        self.inner = InnerLoopParams(self.config.adapt_lr)

    def _build(self, obs_dim: int, n_actions: int) -> None:
        super()._build(obs_dim, n_actions)
        self.inner = InnerLoopParams(self.config.adapt_lr)

    def _optimizer(self) -> torch.optim.Optimizer:
        """Adam over the policy and the inner loop's learnt step size / baseline."""
        if self.optimizer is None:
            _, policy = self._ready()
            c = self.config
            learnt = ([self.inner.log_lr] if c.learn_adapt_lr else []) + (
                [self.inner.baseline] if c.learn_baseline else [])
            self.optimizer = torch.optim.Adam([*policy.parameters(), *learnt], lr=c.lr)
        return self.optimizer

    @property
    def inner_lr(self) -> float:
        """The inner loop's step size: ``adapt_lr``, or the learnt one."""
        return float(self.inner.log_lr.detach().exp()) if self.config.learn_adapt_lr else (
            self.config.adapt_lr)

    def _inner_lr(self) -> float | Tensor:
        return self.inner.log_lr.exp() if self.config.learn_adapt_lr else self.config.adapt_lr

    def _inner_advantages(self, episodes: Episodes, tasks: int, advantages: Tensor) -> Tensor:
        """The support advantages (tasks, per_task, T): the batch baseline's, or with
        ``learn_baseline`` returns minus the learnt per-step baseline (differentiable in it)."""
        if not self.config.learn_baseline:
            return advantages
        returns, left = task_returns(episodes, tasks, self.config.gamma)
        mask = torch.from_numpy(episodes.mask).reshape(returns.shape)
        return (returns - self.inner.baseline * left) * mask

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "inner": self.inner.state_dict()}

    def _restore(self, saved: dict[str, Any]) -> None:
        super()._restore(saved)
        self.inner.load_state_dict(saved["inner"])

    def _draw_tasks(self, population: TaskDistribution | None, probe: Any, n: int) -> list[Any]:
        if population is not None:
            return [population.sample(self.rng) for _ in range(n)]
        # No population: the env's own draws are the tasks (its reset info names them).
        return [probe.reset()[1][self.task_key] for _ in range(n)]

    def _train_policy(self, env_fn: EnvFn, population: TaskDistribution | None,
                      steps: int) -> None:
        _, policy = self._ready()
        c = self.config
        envs = [env_fn() for _ in range(c.meta_batch * max(c.shots, c.query_episodes))]
        probe = env_fn()
        probe.reset(seed=int(self.rng.integers(2**31)))
        for i, env in enumerate(envs):
            env.reset(seed=int(self.rng.integers(2**31)) + i)
        optimizer = self._optimizer()
        done = 0
        while done < steps:
            tasks = self._draw_tasks(population, probe, c.meta_batch)
            loss, played = self.meta_loss(envs, tasks)
            done += played
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), c.max_grad_norm)
            optimizer.step()

    def _adapted_policy(self, params: Params, per_task: int) -> Any:
        """Acting with each task's own parameters: the N = tasks x per_task envs' inputs are
        split by task and the policy is vmapped over the tasks' parameter dicts."""
        _, policy = self._ready()

        def one(p: Params, x: Tensor, state: Any) -> tuple[Tensor, Tensor]:
            return functional_call(policy, p, (x, state))

        def act(x: Tensor, state: Any) -> tuple[Tensor, Tensor]:
            tasks = x.shape[0] // per_task
            x = x.reshape(tasks, per_task, *x.shape[1:])
            if state is None:
                logits, new = vmap(lambda p, xi: one(p, xi, None))(params, x)
            else:
                state = state.reshape(tasks, per_task, *state.shape[1:])
                logits, new = vmap(one)(params, x, state)
            n = tasks * per_task
            return logits.reshape(n, *logits.shape[2:]), new.reshape(n, *new.shape[2:])

        return act

    def meta_loss(self, envs: list[Any], tasks: list[Any]) -> tuple[Tensor, int]:
        """The outer loss on a batch of tasks and the env steps it played."""
        encoder, policy = self._ready()
        c = self.config
        m = len(tasks)
        theta: Params = dict(policy.named_parameters())
        support_tasks = [t for t in tasks for _ in range(c.shots)]
        support = self._rollout(envs[: m * c.shots], policy, support_tasks)
        inputs, actions, advantages, mask = task_batch(support, m, encoder, c.gamma,
                                                       c.normalize_advantages)
        advantages = self._inner_advantages(support, m, advantages)
        lr = self._inner_lr()

        def adapt_one(p: Params, x: Tensor, a: Tensor, adv: Tensor, mk: Tensor) -> Params:
            return inner_loop(policy, p, x, a, adv, mk, lr, c.adapt_steps, c.entropy_coef,
                              c.first_order)

        adapted = vmap(adapt_one, in_dims=(None, 0, 0, 0, 0))(theta, inputs, actions,
                                                            advantages, mask)
        detached = {k: v.detach() for k, v in adapted.items()}
        query_tasks = [t for t in tasks for _ in range(c.query_episodes)]
        query = self._rollout(envs[: m * c.query_episodes],
                              self._adapted_policy(detached, c.query_episodes), query_tasks)
        q_inputs, q_actions, q_advantages, q_mask = task_batch(query, m, encoder, c.gamma,
                                                               c.normalize_advantages)

        def query_loss(p: Params, x: Tensor, a: Tensor, adv: Tensor, mk: Tensor) -> Tensor:
            return policy_gradient_loss(policy, p, LossBatch(x, a, adv, mk), c.entropy_coef)

        losses = vmap(query_loss)(adapted, q_inputs, q_actions, q_advantages, q_mask)
        loss = losses.mean()
        if c.support_credit:
            loss = loss + self._support_credit_loss(theta, inputs, actions, mask, query, m)
        return loss, support.steps + query.steps

    def _support_credit_loss(self, theta: Params, inputs: Tensor, actions: Tensor,
                             mask: Tensor, query: Episodes, tasks: int) -> Tensor:
        """E-MAML's term: -(query return - meta-batch mean) * log pi_theta(support), per task.

        The support episodes were sampled from pi_theta, so the exact meta-gradient contains
        the score of their likelihood weighted by what the adapted policy then earned; MAML-RL
        drops it, and then nothing teaches theta to *probe* well."""
        _, policy = self._ready()
        c = self.config
        earned = torch.from_numpy((query.rewards * query.mask).sum(1).astype(np.float32))
        earned = earned.reshape(tasks, c.query_episodes).mean(1)
        score = earned - earned.mean()
        if c.normalize_advantages and tasks > 1 and float(score.std()) > 1e-8:
            score = score / score.std()
        flat = inputs.reshape(-1, *inputs.shape[2:])
        chosen, _ = action_log_probs(policy, theta, flat, actions.reshape(-1, actions.shape[-1]))
        support_log_prob = (chosen * mask.reshape(chosen.shape)).sum(-1).reshape(tasks, -1)
        return -(score[:, None] * support_log_prob).sum(1).mean()

    def _adapt_on(self, played: Episodes) -> None:
        """The meta-training inner loop, on the K episodes of the new agent."""
        encoder, policy = self._ready()
        c = self.config
        inputs, actions, advantages, mask = task_batch(played, 1, encoder, c.gamma,
                                                       c.normalize_advantages)
        theta = {k: v.detach() for k, v in policy.named_parameters()}
        with torch.no_grad():
            advantages = self._inner_advantages(played, 1, advantages)
            lr = self.inner_lr
        adapted = inner_loop(policy, theta, inputs[0], actions[0], advantages[0], mask[0],
                             lr, c.adapt_steps, c.entropy_coef, first_order=True)
        with torch.no_grad():
            for name, value in policy.named_parameters():
                value.copy_(adapted[name])


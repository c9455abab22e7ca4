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
constants). As in MAML-RL, the dependence of the support episodes' distribution on theta is
ignored. ``adapt(env, K)`` is the same inner loop on K episodes of the new agent.
"""

from __future__ import annotations

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
    policy_gradient_loss,
    reinforce_advantages,
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

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("meta_batch", self.meta_batch, 1)
        check_int("shots", self.shots, 1)
        check_int("query_episodes", self.query_episodes, 1)


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
               advantages: Tensor, mask: Tensor, lr: float, steps: int, entropy_coef: float,
               first_order: bool) -> Params:
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

        def adapt_one(p: Params, x: Tensor, a: Tensor, adv: Tensor, mk: Tensor) -> Params:
            return inner_loop(policy, p, x, a, adv, mk, c.adapt_lr, c.adapt_steps,
                              c.entropy_coef, c.first_order)

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
        return losses.mean(), support.steps + query.steps

    def _adapt_on(self, played: Episodes) -> None:
        """The meta-training inner loop, on the K episodes of the new agent."""
        encoder, policy = self._ready()
        c = self.config
        inputs, actions, advantages, mask = task_batch(played, 1, encoder, c.gamma,
                                                       c.normalize_advantages)
        theta = {k: v.detach() for k, v in policy.named_parameters()}
        adapted = inner_loop(policy, theta, inputs[0], actions[0], advantages[0], mask[0],
                             c.adapt_lr, c.adapt_steps, c.entropy_coef, first_order=True)
        with torch.no_grad():
            for name, value in policy.named_parameters():
                value.copy_(adapted[name])


"""Bilevel reinforcement learning in tabular form: pure mathematics, no Gymnasium.

A bilevel RL problem (Shen, Yang, Chen, "Principled Penalty-based Methods for Bilevel
Reinforcement Learning and RLHF", ICML 2024, arXiv 2402.06886) has an upper-level variable x
and a lower level that is an entropy-regularised MDP M_tau(x) whose rewards and transitions
depend on x: the follower plays pi*_x, the unique maximiser of

    J_x(pi) = E_rho [ sum_t gamma^t (r_x(s_t, a_t) + tau * H(pi(. | s_t))) ].

Everything here is written in torch (float64) so that autograd gives gradients in x and in
the policy, and works on leading batch dimensions (B games at once: rewards (..., S, A),
transitions (..., S, A, S), initial (..., S)):

* ``TabularMDP``: M_tau(x) as tensors; ``soft_value_iteration`` gives pi*_x = softmax(Q*/tau).
* ``policy_values`` / ``regularised_value``: V^pi and J_x(pi) in closed form, by one linear
  solve of (I - gamma P_pi) V = r_pi + tau H(pi); ``q_values``, ``occupancy`` (the discounted
  state-action visitation) and ``expected_return`` (of any reward table) from the same solve.
* The two penalties of the paper's formulation: ``value_penalty`` J_x(pi*_x) - J_x(pi) >= 0,
  whose gradient in x is the envelope (Danskin) gradient d/dx J_x(pi) at pi = pi*_x (pi*_x
  enters detached: differentiating through the solver would give the same number, slowly),
  and ``bellman_penalty`` tau * sum_s w(s) KL(pi(. | s) || softmax(Q^pi_x(s, .) / tau)),
  which is 0 exactly where pi is its own soft-greedy policy, i.e. at pi*_x. The paper's
  body was not readable here (``mermaide.principal.pbrl`` says what was confirmed): that it
  has a value penalty (a policy's value gap) and a Bellman penalty (an optimality gap of the
  policy's Q function) is confirmed, the exact weighting and form of the Bellman one here
  (KL to the soft-greedy policy, uniform state weights) is ours.
* ``BilevelProblem``: what a game exposes to a white-box principal (its lower level M_tau(x),
  its upper level's rewards, how x becomes the game's action), and ``upper_value``;
  ``CommitmentModel`` and ``IncentiveModel`` are the two games' problems, which their public
  ``bilevel_model()`` builds from the game's numpy tables (the games themselves compute in
  numpy, so that playing them never imports torch).
* Sample-based estimates, for a principal that may only simulate the lower level:
  ``sample_episodes`` draws trajectories of M_tau(x) under pi from a numpy generator, and
  ``surrogate`` turns them into a scalar whose value estimates a discounted return and whose
  autograd gradient is a likelihood-ratio (policy-gradient) estimate of its gradient in x and
  in the policy; ``soft_q_estimate`` estimates a policy's soft Q table from rollouts started
  in every (state, action).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from mermaide.checks import check_int, check_number

__all__ = [
    "BilevelProblem",
    "CommitmentModel",
    "IncentiveModel",
    "SoftSolution",
    "TabularMDP",
    "Trajectories",
    "bellman_penalty",
    "effective_horizon",
    "entropy",
    "expected_return",
    "occupancy",
    "paid_incentives",
    "policy_values",
    "q_values",
    "regularised_value",
    "sample_episodes",
    "soft_q_estimate",
    "soft_value_iteration",
    "surrogate",
    "upper_value",
    "value_penalty",
]

DTYPE = torch.float64


@dataclass(frozen=True)
class TabularMDP:
    """An entropy-regularised tabular MDP, possibly a batch of them (leading dimensions).

    rewards: (..., S, A) the follower's reward r_x(s, a). transitions: (..., S, A, S)
    P_x(s' | s, a), rows summing to 1. initial: (..., S) the start distribution rho.
    gamma in [0, 1): the discount. tau > 0: the entropy temperature.
    """

    rewards: Tensor
    transitions: Tensor
    initial: Tensor
    gamma: float
    tau: float

    def __post_init__(self) -> None:
        check_number("gamma", self.gamma, low=0.0, high=1.0)
        if self.gamma >= 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {self.gamma!r}")
        check_number("tau", self.tau, low=0.0, low_open=True)
        s, a = self.rewards.shape[-2:]
        batch = self.rewards.shape[:-2]
        if self.transitions.shape != (*batch, s, a, s):
            raise ValueError(f"transitions must have shape {(*batch, s, a, s)}, got "
                             f"{tuple(self.transitions.shape)}")
        if self.initial.shape != (*batch, s):
            raise ValueError(f"initial must have shape {(*batch, s)}, got "
                             f"{tuple(self.initial.shape)}")

    @property
    def n_states(self) -> int:
        return int(self.rewards.shape[-2])

    @property
    def n_actions(self) -> int:
        return int(self.rewards.shape[-1])

    def detached(self) -> TabularMDP:
        """The same MDP cut from the autograd graph."""
        return TabularMDP(self.rewards.detach(), self.transitions.detach(),
                          self.initial.detach(), self.gamma, self.tau)


@dataclass(frozen=True)
class SoftSolution:
    """What soft value iteration returns: V* (..., S), Q* (..., S, A) (Q* = r + gamma P V*)
    and pi*_x = softmax(Q* / tau) (..., S, A); ``iterations`` it took."""

    values: Tensor
    q: Tensor
    policy: Tensor
    iterations: int


def soft_value_iteration(mdp: TabularMDP, tolerance: float = 1e-12,
                         max_iterations: int = 100_000,
                         start: Tensor | None = None) -> SoftSolution:
    """V <- tau * logsumexp((r + gamma P V) / tau) until the sup-norm change is below
    ``tolerance`` (a gamma-contraction, so V is then within tolerance * gamma / (1 - gamma)
    of V*), from ``start`` (..., S) (e.g. the V* of a nearby x: fewer sweeps) or 0. Runs
    without autograd: its result is a fixed point, not a function to differentiate
    (``value_penalty`` uses the envelope gradient instead)."""
    check_number("tolerance", tolerance, low=0.0, low_open=True)
    check_int("max_iterations", max_iterations, 1)
    with torch.no_grad():
        m = mdp.detached()
        values = torch.zeros_like(m.initial) if start is None else start.detach().clone()
        iterations = 0
        while iterations < max_iterations:
            iterations += 1
            q = m.rewards + m.gamma * _expected_next(m.transitions, values)
            # max(q) + tau * logsumexp((q - max) / tau): q / tau alone overflows for a tiny tau.
            top = q.amax(dim=-1, keepdim=True)
            new = (top + m.tau * torch.logsumexp((q - top) / m.tau, dim=-1, keepdim=True))[..., 0]
            change = float((new - values).abs().max()) if new.numel() else 0.0
            values = new
            if change < tolerance or m.gamma == 0.0:
                break
        q = m.rewards + m.gamma * _expected_next(m.transitions, values)
        policy = torch.softmax((q - q.amax(dim=-1, keepdim=True)) / m.tau, dim=-1)
        return SoftSolution(values, q, policy, iterations)


def _expected_next(transitions: Tensor, values: Tensor) -> Tensor:
    """sum_s' P(s' | s, a) V(s') (..., S, A) from P (..., S, A, S) and V (..., S)."""
    return (transitions @ values[..., None, :, None]).squeeze(-1)


def entropy(policy: Tensor) -> Tensor:
    """H(pi(. | s)) for every state: (..., S, A) -> (..., S), with 0 log 0 = 0."""
    return -torch.special.xlogy(policy, policy).sum(dim=-1)


def _state_transitions(mdp: TabularMDP, policy: Tensor) -> Tensor:
    """P_pi (..., S, S): P_pi[s, s'] = sum_a pi(a | s) P(s' | s, a)."""
    return torch.einsum("...sa,...sat->...st", policy, mdp.transitions)


def policy_values(mdp: TabularMDP, policy: Tensor) -> Tensor:
    """V^pi (..., S) of the regularised MDP, by one linear solve (differentiable in both)."""
    s = mdp.n_states
    eye = torch.eye(s, dtype=mdp.rewards.dtype)
    system = eye - mdp.gamma * _state_transitions(mdp, policy)
    rhs = (policy * mdp.rewards).sum(dim=-1) + mdp.tau * entropy(policy)
    return torch.linalg.solve(system, rhs.unsqueeze(-1)).squeeze(-1)


def regularised_value(mdp: TabularMDP, policy: Tensor) -> Tensor:
    """J_x(pi) = rho . V^pi (...)."""
    return (mdp.initial * policy_values(mdp, policy)).sum(dim=-1)


def q_values(mdp: TabularMDP, policy: Tensor) -> Tensor:
    """Q^pi (..., S, A) = r + gamma P V^pi (the entropy of the current step not included)."""
    values = policy_values(mdp, policy)
    return mdp.rewards + mdp.gamma * _expected_next(mdp.transitions, values)


def occupancy(mdp: TabularMDP, policy: Tensor) -> Tensor:
    """The discounted visitation d(s, a) = sum_t gamma^t P(s_t = s, a_t = a) (..., S, A),
    which sums to 1 / (1 - gamma): d_S = rho^T (I - gamma P_pi)^-1, d = d_S pi."""
    s = mdp.n_states
    eye = torch.eye(s, dtype=mdp.rewards.dtype)
    system = eye - mdp.gamma * _state_transitions(mdp, policy)
    states = torch.linalg.solve(system.transpose(-1, -2), mdp.initial.unsqueeze(-1))
    return states * policy


def expected_return(mdp: TabularMDP, policy: Tensor, rewards: Tensor) -> Tensor:
    """E_rho [sum_t gamma^t rewards(s_t, a_t)] under pi in the MDP's dynamics, for any reward
    table (..., S, A) (unregularised): sum of occupancy * rewards."""
    return (occupancy(mdp, policy) * rewards).sum(dim=(-2, -1))


def value_penalty(mdp: TabularMDP, policy: Tensor, optimal: Tensor | None = None,
                  tolerance: float = 1e-12) -> Tensor:
    """J_x(pi*_x) - J_x(pi) (...) >= 0, 0 at pi = pi*_x. ``optimal``: pi*_x when the caller
    has it (else soft value iteration to ``tolerance``). pi*_x enters detached, so the
    gradient in x is the envelope gradient d/dx J_x(pi)|pi=pi*_x, which equals the gradient
    of J_x(pi*_x) because pi*_x maximises J_x."""
    if optimal is None:
        optimal = soft_value_iteration(mdp, tolerance).policy
    return regularised_value(mdp, optimal.detach()) - regularised_value(mdp, policy)


def bellman_penalty(mdp: TabularMDP, policy: Tensor, weights: Tensor | None = None) -> Tensor:
    """tau * sum_s w(s) KL(pi(. | s) || softmax(Q^pi_x(s, .) / tau)) (...) >= 0, 0 exactly
    where pi is soft-greedy for its own Q (the fixed point of soft policy iteration: pi*_x)
    on every state w weights. ``weights`` (..., S): default uniform over all states, which
    makes 0 mean pi = pi*_x everywhere (rho alone would leave unreached states free)."""
    if weights is None:
        weights = torch.full(mdp.initial.shape, 1.0 / mdp.n_states, dtype=mdp.rewards.dtype)
    greedy_log = torch.log_softmax(q_values(mdp, policy) / mdp.tau, dim=-1)
    kl = (torch.special.xlogy(policy, policy) - policy * greedy_log).sum(dim=-1)
    return mdp.tau * (weights * kl).sum(dim=-1)


class BilevelProblem(Protocol):
    """What a game exposes to a white-box principal: x as a float64 tensor of the game's own
    shape, the follower's M_tau(x), the leader's reward for every follower (s, a) under x,
    and how x becomes the game's action. The leader's objective is ``upper_value``."""

    def initial_parameters(self) -> Tensor:
        """x at which a principal starts (the game's 'do nothing' or uniform x)."""
        ...

    def project(self, parameters: Tensor) -> Tensor:
        """x brought back into its feasible set after a gradient step."""
        ...

    def lower(self, parameters: Tensor) -> TabularMDP:
        """The follower's entropy-regularised MDP M_tau(x), differentiable in x."""
        ...

    def upper_rewards(self, parameters: Tensor) -> Tensor:
        """(S, A): the leader's reward when the follower takes a in s, differentiable in x."""
        ...

    def action(self, parameters: Tensor) -> np.ndarray:
        """The game's action that plays x."""
        ...


def upper_value(problem: BilevelProblem, parameters: Tensor, policy: Tensor) -> Tensor:
    """The leader's normalised value (1 - gamma) E_rho [sum_t gamma^t upper(s_t, a_t)] when
    the follower plays ``policy`` in M_tau(x): what the games pay per episode."""
    mdp = problem.lower(parameters)
    return (1.0 - mdp.gamma) * expected_return(mdp, policy, problem.upper_rewards(parameters))


def _table(array: np.ndarray) -> Tensor:
    return torch.as_tensor(np.asarray(array, dtype=np.float64), dtype=DTYPE)


class CommitmentModel:
    """The ``BilevelProblem`` of a Stackelberg Markov game (``Mermaide/StackelbergMarkov-v0``):
    the leader commits to a mixed policy softmax(x) (S, m) over its m actions in every state,
    x its logits (unconstrained), played as the game's weights action. From the stage payoffs
    of leader A and follower B (S, m, n), the transitions P (S, m, n, S) and the start rho
    (S,): the follower's MDP has r_x(s, j) = sum_i x(i | s) B(s, i, j) and P_x(s' | s, j) =
    sum_i x(i | s) P(s' | s, i, j), the leader's reward is sum_i x(i | s) A(s, i, j)."""

    def __init__(self, leader_payoffs: np.ndarray, follower_payoffs: np.ndarray,
                 transitions: np.ndarray, initial: np.ndarray, gamma: float, tau: float):
        self.gamma, self.tau = float(gamma), float(tau)
        self._A, self._B = _table(leader_payoffs), _table(follower_payoffs)
        self._P, self._rho = _table(transitions), _table(initial)

    def initial_parameters(self) -> Tensor:
        """Zero logits: the uniform commitment."""
        return torch.zeros(self._A.shape[:2], dtype=DTYPE)

    def project(self, parameters: Tensor) -> Tensor:
        """Logits are unconstrained."""
        return parameters

    def strategy(self, parameters: Tensor) -> Tensor:
        """The commitment x(. | s) (S, m)."""
        return torch.softmax(parameters, dim=-1)

    def lower(self, parameters: Tensor) -> TabularMDP:
        x = self.strategy(parameters)
        return TabularMDP(torch.einsum("si,sij->sj", x, self._B),
                          torch.einsum("si,sijt->sjt", x, self._P), self._rho, self.gamma,
                          self.tau)

    def upper_rewards(self, parameters: Tensor) -> Tensor:
        return torch.einsum("si,sij->sj", self.strategy(parameters), self._A)

    def action(self, parameters: Tensor) -> np.ndarray:
        return self.strategy(parameters.detach()).numpy().ravel().astype(np.float32)


def paid_incentives(offer: Tensor, budget: float | None) -> Tensor:
    """The incentives (..., S, A) an incentive game pays for an offer: the offer itself, or
    scaled down to total ``budget`` when it asks for more (a scaling keeps it
    differentiable)."""
    if budget is None:
        return offer
    total = offer.sum(dim=(-2, -1), keepdim=True)
    return offer * torch.clamp(budget / torch.clamp(total, min=1e-300), max=1.0)


class IncentiveModel:
    """The ``BilevelProblem`` of incentive design (``Mermaide/IncentiveMDP-v0``): x is the
    offered incentive table (S, A) in [0, max_incentive], played as the action itself. The
    follower's MDP has the reward r + paid(x) on the dynamics P (S, A, S) from rho (S,); the
    principal earns u - cost * paid(x), paid(x) the offer scaled down to ``budget``
    (``paid_incentives``; None: no budget)."""

    def __init__(self, follower_rewards: np.ndarray, principal_rewards: np.ndarray,
                 transitions: np.ndarray, initial: np.ndarray, gamma: float, tau: float,
                 max_incentive: float, budget: float | None, cost: float):
        self.gamma, self.tau = float(gamma), float(tau)
        self.max_incentive, self.cost = float(max_incentive), float(cost)
        self.budget = None if budget is None else float(budget)
        self._r, self._u = _table(follower_rewards), _table(principal_rewards)
        self._P, self._rho = _table(transitions), _table(initial)

    def initial_parameters(self) -> Tensor:
        """No incentive."""
        return torch.zeros(self._r.shape, dtype=DTYPE)

    def project(self, parameters: Tensor) -> Tensor:
        return parameters.clamp(0.0, self.max_incentive)

    def lower(self, parameters: Tensor) -> TabularMDP:
        return TabularMDP(self._r + paid_incentives(parameters, self.budget), self._P,
                          self._rho, self.gamma, self.tau)

    def upper_rewards(self, parameters: Tensor) -> Tensor:
        return self._u - self.cost * paid_incentives(parameters, self.budget)

    def action(self, parameters: Tensor) -> np.ndarray:
        return self.project(parameters.detach()).numpy().ravel().astype(np.float32)


@dataclass(frozen=True)
class Trajectories:
    """E sampled episodes of H steps: states (E, H + 1), actions (E, H), int64 arrays."""

    states: np.ndarray
    actions: np.ndarray

    @property
    def horizon(self) -> int:
        return int(self.actions.shape[1])


def effective_horizon(gamma: float, precision: float = 1e-3) -> int:
    """Steps after which gamma^t < precision: where a sampled episode may be cut."""
    if gamma == 0.0:
        return 1
    return max(1, math.ceil(math.log(precision) / math.log(gamma)))


def _draw(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """One index per row of (E, K) probabilities, by the inverse CDF of its uniform in
    ``uniforms`` (E,)."""
    cdf = np.cumsum(probabilities, axis=-1)
    u = uniforms[:, None] * cdf[:, -1:]
    return np.minimum((u >= cdf).sum(axis=-1), probabilities.shape[-1] - 1)


def sample_episodes(mdp: TabularMDP, policy: Tensor, episodes: int, horizon: int,
                    rng: np.random.Generator) -> Trajectories:
    """``episodes`` trajectories of one (unbatched) MDP under ``policy`` (S, A), ``horizon``
    steps each, every draw from ``rng``."""
    check_int("episodes", episodes, 1)
    check_int("horizon", horizon, 1)
    _check_one("sample_episodes", mdp)
    initial = mdp.initial.detach().numpy()
    transitions = mdp.transitions.detach().numpy()
    pi = policy.detach().numpy()
    states = np.zeros((episodes, horizon + 1), dtype=np.int64)
    actions = np.zeros((episodes, horizon), dtype=np.int64)
    states[:, 0] = _draw(np.broadcast_to(initial, (episodes, initial.shape[0])),
                         rng.random(episodes))
    for t in range(horizon):
        actions[:, t] = _draw(pi[states[:, t]], rng.random(episodes))
        states[:, t + 1] = _draw(transitions[states[:, t], actions[:, t]], rng.random(episodes))
    return Trajectories(states, actions)


def _check_one(name: str, mdp: TabularMDP) -> None:
    if mdp.rewards.ndim != 2:
        raise ValueError(f"{name} simulates one MDP, got a batch of shape "
                         f"{tuple(mdp.rewards.shape[:-2])}")


def soft_q_estimate(mdp: TabularMDP, policy: Tensor, episodes: int, horizon: int,
                    rng: np.random.Generator) -> Tensor:
    """A Monte-Carlo estimate (S, A) of the soft Q^pi(s, a) of ``q_values`` (r(s, a), then
    r - tau log pi along the way, discounted) from ``episodes`` rollouts of ``horizon`` steps
    started in every (s, a) of one MDP: the simulator reset to any pair (a generative
    model), so that the actions pi rarely takes are estimated as well as the others. The
    k-th rollouts of all pairs share their uniforms (common random numbers): what their
    continuations have in common cancels from the differences between a state's actions,
    the only part of Q that softmax(Q / tau) reads (in a one-state MDP, all of it). No
    gradient."""
    check_int("episodes", episodes, 1)
    check_int("horizon", horizon, 1)
    _check_one("soft_q_estimate", mdp)
    n_states, n_actions = mdp.n_states, mdp.n_actions
    rewards = mdp.rewards.detach().numpy()
    transitions = mdp.transitions.detach().numpy()
    pi = policy.detach().numpy()
    log_pi = np.log(pi, out=np.full_like(pi, -np.inf), where=pi > 0)
    pairs = n_states * n_actions
    uniforms = np.tile(rng.random((episodes, horizon - 1, 2)), (pairs, 1, 1))
    states = np.repeat(np.arange(n_states), n_actions * episodes)
    actions = np.tile(np.repeat(np.arange(n_actions), episodes), n_states)
    returns = rewards[states, actions].copy()
    discount = 1.0
    for t in range(1, horizon):
        states = _draw(transitions[states, actions], uniforms[:, t - 1, 0])
        actions = _draw(pi[states], uniforms[:, t - 1, 1])
        discount *= mdp.gamma
        returns += discount * (rewards[states, actions] - mdp.tau * log_pi[states, actions])
    return torch.from_numpy(returns.reshape(n_states, n_actions, episodes).mean(axis=-1))


def surrogate(mdp: TabularMDP, policy: Tensor, rewards: Tensor, trajectories: Trajectories,
              regularised: bool) -> Tensor:
    """A scalar whose value is the Monte-Carlo estimate of E_rho [sum_t gamma^t (rewards(s_t,
    a_t) (+ tau H when ``regularised``))] from ``trajectories`` (sampled under ``policy`` in
    ``mdp``), and whose gradient is the likelihood-ratio estimate of that return's gradient:

        sum_t gamma^t grad rewards(s_t, a_t)                          (pathwise, e.g. in x)
      + sum_t grad log pi(a_t | s_t) (G_t - b_t)                      (score of the policy)
      + sum_t grad log P(s_t+1 | s_t, a_t) (G_t+1 - b_t+1)            (score of the dynamics)

    with G_t the sampled return from t on (discounted from time 0) and b_t the leave-one-out
    mean of G_t over the other episodes (a baseline that keeps the estimate unbiased). The
    entropy's own score term has expectation 0 and is left out; its value is kept."""
    s, a = trajectories.states, trajectories.actions
    episodes, horizon = a.shape
    gamma = mdp.gamma
    discount = torch.tensor(gamma ** np.arange(horizon), dtype=DTYPE)
    states_t, actions_t = torch.from_numpy(s[:, :-1]), torch.from_numpy(a)
    log_pi = torch.log(policy[states_t, actions_t])
    step = rewards[states_t, actions_t]
    if regularised:
        step = step - mdp.tau * log_pi.detach()
    discounted = discount * step
    to_go = torch.flip(torch.cumsum(torch.flip(discounted.detach(), [1]), 1), [1])
    if episodes > 1:
        baseline = (to_go.sum(dim=0, keepdim=True) - to_go) / (episodes - 1)
    else:
        baseline = torch.zeros_like(to_go)
    advantage = to_go - baseline
    log_p = torch.log(mdp.transitions[states_t, actions_t, torch.from_numpy(s[:, 1:])])
    # G_t+1 is the return after the transition out of s_t: to_go shifted by one (0 at the end).
    next_advantage = torch.cat([advantage[:, 1:], torch.zeros_like(advantage[:, :1])], dim=1)
    estimate = (discounted.sum(dim=1) + (log_pi * advantage).sum(dim=1)
                + (log_p * next_advantage).sum(dim=1)
                - (log_pi * advantage).sum(dim=1).detach()
                - (log_p * next_advantage).sum(dim=1).detach())
    return estimate.mean()

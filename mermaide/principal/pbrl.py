"""``"pbrl"``: penalty-based bilevel RL (Shen, Yang, Chen, ICML 2024, arXiv 2402.06886), a
white-box principal for the bilevel games (``Mermaide/StackelbergMarkov-v0``,
``Mermaide/IncentiveMDP-v0``).

The bilevel problem max_x U(x, pi*_x), pi*_x the follower's optimum of its
entropy-regularised MDP M_tau(x), becomes one problem over x and a follower policy pi
(softmax of logits y) by a penalty on the follower's sub-optimality:

    minimise over (x, y):   -U(x, pi_y) + lambda_k * p(x, pi_y)

with the value penalty p = (1 - gamma) (J_x(pi*_x) - J_x(pi)) (normalised like the games'
values, so that lambda trades a unit of the follower's value per step for a unit of the
leader's) or the Bellman penalty tau sum_s w(s) KL(pi || softmax(Q^pi_x / tau)), already a
per-step quantity (``mermaide.bilevel``; both >= 0 and 0 exactly at pi*_x). Each outer
iteration k takes ``inner_steps`` Adam steps on y (x held), then one Adam step on x (y held)
of size lr / max(1, lambda_k), followed by the game's projection of x; lambda_k =
min(lam_max, lam * lam_growth^k) (``lam_growth`` 1: constant). The value penalty's
x-gradient is the envelope gradient at pi*_x (``mermaide.bilevel.value_penalty``).

x's step shrinks as 1/lambda because the penalised objective's smoothness constant grows like
lambda (penalty methods take steps alpha = O(1/lambda)). A step that did not shrink made x
oscillate once lambda passed about 50 and leave the optimum's basin: on the one-state
commitment game (tau = 0.1, lambda growing from 1 to 1000, or fixed at 100) x crossed to the
commitment that the follower answers with the other column, 0.32 instead of the soft optimum
0.756 (``tests/principal/test_pbrl.py``). The default (lambda fixed at 10, lr 0.5) takes the
same steps as before that change (0.05). Two ways to get the gradients (``gradients``):

* ``"exact"``: the game's model, read through the env's public ``bilevel_model()``
  (``env.get_wrapper_attr``), values in closed form (linear solves), gradients by autograd;
  pi*_x by soft value iteration.
* ``"sampled"``: the model is used only to simulate M_tau(x): every value and gradient is a
  Monte-Carlo (likelihood-ratio, policy-gradient) estimate from ``episodes`` sampled
  episodes of ``horizon`` steps (``mermaide.bilevel.surrogate``), and pi*_x is replaced by a
  second policy softmax(z) that ``inner_steps`` steps of soft policy iteration, z <- Q^z /
  tau, move towards it each outer iteration, Q^z estimated from ``episodes`` rollouts started
  in every (state, action) (``mermaide.bilevel.soft_q_estimate``: S * A * ``episodes``
  rollouts a step). That is the entropy-regularised natural policy gradient at its largest
  step (Cen et al. 2021), whose step does not shrink with the policy's probabilities.
  Policy-gradient steps on z (Adam, ``policy_lr``) did not track pi*_x at a low temperature:
  a softmax's gradient in an action's logit is proportional to its probability, so once
  pi*_x was nearly deterministic (tau = 0.02) z moved about 0.003 a step, kept the
  follower's old column when the commitment crossed the follower's switching point, the
  estimated penalty stayed near 0 while the true one grew, and the leader walked on to the
  commitment the follower answers with the other column (0.20 on the commitment game,
  ``tests/principal/test_pbrl.py``; the same with exact gradients of z). The penalty's two
  estimates in x's step, under z and under y, are drawn from the same uniforms (common
  random numbers), so that the noise their x-gradients share cancels from the difference:
  drawn apart, the penalty's x-gradient on the random 3-state game (whose transitions depend
  on x) had a standard deviation 15 to 20 times its mean. Only the value penalty has a
  sampled form here.

``meta_train`` solves the game of one ``env_fn()`` reset (a white-box principal needs no
training episodes: ``population`` and ``steps`` are not used); ``adapt(env, K)`` with K >= 1
solves the game of the env's next episode afresh (K = 0 leaves the principal unchanged);
``act`` plays the optimised x whatever it observes. ``save`` / ``load``: the config, x and
the action, as tensors and plain data (``toolkit.save_checkpoint``).

What was checked against the paper, and what was not. Only the paper's abstract and opening
(PMLR and ar5iv copies), a summary of its sections, and a later paper's account of it were
readable; its body (Algorithm 1, its step sizes, its lambda schedule, its experiments'
settings) was not. Confirmed: the problem (an upper level x, a lower level that is an
entropy-regularised MDP M_tau(x), minimise f(x, y) subject to y optimal for M_tau(x)); the
two penalties (the value penalty, the gap between a policy's value and the optimal value,
and the Bellman penalty, an optimality gap of the policy's Q function); first-order
(policy-gradient) steps on f + lambda p; and that the algorithm is double-loop, each outer
step calling an inner solver of the follower's problem, with O(lambda eps^-2) iterations to
an eps-stationary point (the account of PBRL-SL, OpenReview NRaWmVVltg). The step size
O(1/lambda) is that of the same first author's penalty-based bilevel gradient descent
(Shen & Chen, ICML 2023; its code, hanshen95/penalized-bilevel-gradient-descent, scales the
penalised loss of plain SGD by min(1, 1/lambda) and grows lambda linearly to a cap). Not
confirmed, our choices: Adam instead of plain gradient steps, the geometric schedule of
lambda, inner_steps y steps per x step (the PBGD code takes one joint step on (x, y) after
the inner solver's steps), the uniform start of y, the default constants, and the sampled
variant's estimators and its tracking of pi*_x by soft policy iteration (a later account of
PBRL, PBRL-SL, tracks it with one mirror-descent or policy-gradient step per iteration).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from mermaide.bilevel import (
    DTYPE,
    BilevelProblem,
    TabularMDP,
    bellman_penalty,
    effective_horizon,
    sample_episodes,
    soft_q_estimate,
    soft_value_iteration,
    surrogate,
    upper_value,
    value_penalty,
)
from mermaide.checks import check_choice, check_int, check_number, reading_checkpoint
from mermaide.principal.base import EnvFn, TaskDistribution
from mermaide.principal.toolkit import config_from, load_checkpoint, save_checkpoint

PENALTIES = ("value", "bellman")
GRADIENTS = ("exact", "sampled")
# pi*_x's accuracy in the exact variant: the value penalty's floor.
SOLVER_TOLERANCE = 1e-10


@dataclass
class PBRLConfig:
    """Hyper-parameters of PBRL."""

    penalty: str = "value"        # "value" (J_x(pi*_x) - J_x(pi)) or "bellman" (exact only)
    lam: float = 10.0             # the penalty weight lambda at the first outer iteration
    lam_growth: float = 1.0       # lambda is multiplied by this each outer iteration (1: fixed)
    lam_max: float = 1e4          # the schedule's cap
    iterations: int = 400         # outer iterations (x steps) per solve
    lr: float = 0.5               # x's Adam step size at lambda <= 1, lr / lambda_k beyond (0: off)
    policy_lr: float = 0.1        # Adam step size of the follower's logits y
    inner_steps: int = 5          # y steps (and z's soft policy iterations, sampled) per x step
    tau: float | None = None      # the follower's temperature the penalty assumes (None: game's)
    gradients: str = "exact"      # "exact" (the model's closed form) or "sampled" (rollouts)
    episodes: int = 64            # sampled: episodes per estimate (z's: per (state, action))
    horizon: int = 0              # sampled: steps per episode (0: until gamma^t < 1e-3)
    seed: int = 0                 # seeds the sampled variant's episodes before meta_train

    def __post_init__(self) -> None:
        check_choice("penalty", self.penalty, PENALTIES)
        check_number("lam", self.lam, low=0.0)
        check_number("lam_growth", self.lam_growth, low=1.0)
        check_number("lam_max", self.lam_max, low=0.0)
        check_int("iterations", self.iterations, 1)
        check_number("lr", self.lr, low=0.0)
        check_number("policy_lr", self.policy_lr, low=0.0)
        check_int("inner_steps", self.inner_steps, 1)
        if self.tau is not None:
            check_number("tau", self.tau, low=0.0, low_open=True)
        check_choice("gradients", self.gradients, GRADIENTS)
        if self.gradients == "sampled" and self.penalty != "value":
            raise ValueError(f"penalty must be 'value' with gradients='sampled' (the Bellman "
                             f"penalty has no sampled form here), got {self.penalty!r}")
        check_int("episodes", self.episodes, 1)
        check_int("horizon", self.horizon, 0)
        check_int("seed", self.seed, 0)

    def lam_at(self, iteration: int) -> float:
        """lambda_k of outer iteration k (0-based)."""
        return float(min(self.lam_max, self.lam * self.lam_growth ** iteration))

    def lr_at(self, iteration: int) -> float:
        """x's step size at outer iteration k: lr / max(1, lambda_k). The penalised
        objective's smoothness grows like lambda, so a fixed step that is stable at a small
        lambda makes x oscillate and leave the optimum's basin at a large one (module
        docstring)."""
        return self.lr / max(1.0, self.lam_at(iteration))


@dataclass(frozen=True)
class PBRLResult:
    """What a solve returns: x, the follower's logits y, and per outer iteration the lambda,
    the leader's value U(x, pi_y) and the penalty p(x, pi_y) (exact values, or the sampled
    estimates)."""

    parameters: Tensor
    policy_logits: Tensor
    lams: list[float]
    upper: list[float]
    penalty: list[float]


Upper = Callable[[Tensor, Tensor], Tensor]


def _set_step(optimiser: torch.optim.Optimizer, lr: float) -> None:
    for group in optimiser.param_groups:
        group["lr"] = lr


def _lower(problem: BilevelProblem, x: Tensor, tau: float | None) -> TabularMDP:
    mdp = problem.lower(x)
    if tau is None:
        return mdp
    return TabularMDP(mdp.rewards, mdp.transitions, mdp.initial, mdp.gamma, tau)


def optimise(problem: BilevelProblem, config: PBRLConfig, rng: np.random.Generator,
             upper: Upper | None = None) -> PBRLResult:
    """Run PBRL on ``problem`` (module docstring). ``upper(x, pi)``: the leader's objective to
    maximise (default ``mermaide.bilevel.upper_value``, the games' payoff); only the exact
    variant takes another one."""
    if config.gradients == "sampled":
        if upper is not None:
            raise ValueError("upper must be None with gradients='sampled': the sampled "
                             "variant estimates the game's own upper value from episodes")
        return _optimise_sampled(problem, config, rng)
    return _optimise_exact(problem, config, upper)


def _optimise_exact(problem: BilevelProblem, config: PBRLConfig,
                    upper: Upper | None) -> PBRLResult:
    def objective(x: Tensor, policy: Tensor) -> Tensor:
        return upper_value(problem, x, policy) if upper is None else upper(x, policy)

    x = problem.project(problem.initial_parameters().detach().clone()).requires_grad_(True)
    mdp0 = _lower(problem, x.detach(), config.tau)
    y = torch.zeros(mdp0.n_states, mdp0.n_actions, dtype=DTYPE, requires_grad=True)
    x_opt = torch.optim.Adam([x], lr=config.lr)
    y_opt = torch.optim.Adam([y], lr=config.policy_lr)
    lams, uppers, penalties = [], [], []
    values: Tensor | None = None  # V* of the last x: warm-starts the next solve
    for k in range(config.iterations):
        lam = config.lam_at(k)
        mdp = _lower(problem, x.detach(), config.tau)
        optimal = None
        if config.penalty == "value":
            solution = soft_value_iteration(mdp, SOLVER_TOLERANCE, start=values)
            optimal, values = solution.policy, solution.values

        def penalty(m: TabularMDP, pi: Tensor, optimal: Tensor | None = optimal) -> Tensor:
            if optimal is not None:
                return (1.0 - m.gamma) * value_penalty(m, pi, optimal)
            return bellman_penalty(m, pi)

        for _ in range(config.inner_steps):
            policy = torch.softmax(y, dim=-1)
            loss = -objective(x.detach(), policy) + lam * penalty(mdp, policy)
            y_opt.zero_grad()
            loss.backward()
            y_opt.step()
        policy = torch.softmax(y.detach(), dim=-1)
        m = _lower(problem, x, config.tau)
        u, p = objective(x, policy), penalty(m, policy)
        x_opt.zero_grad()
        (-u + lam * p).backward()
        _set_step(x_opt, config.lr_at(k))
        x_opt.step()
        with torch.no_grad():
            x.copy_(problem.project(x))
        lams.append(lam)
        uppers.append(float(u.detach()))
        penalties.append(float(p.detach()))
    return PBRLResult(x.detach().clone(), y.detach().clone(), lams, uppers, penalties)


def _optimise_sampled(problem: BilevelProblem, config: PBRLConfig,
                      rng: np.random.Generator) -> PBRLResult:
    x = problem.project(problem.initial_parameters().detach().clone()).requires_grad_(True)
    mdp0 = problem.lower(x.detach())
    horizon = config.horizon or effective_horizon(mdp0.gamma)
    shape = (mdp0.n_states, mdp0.n_actions)
    y = torch.zeros(shape, dtype=DTYPE, requires_grad=True)
    z = torch.zeros(shape, dtype=DTYPE)  # logits that track pi*_x
    x_opt = torch.optim.Adam([x], lr=config.lr)
    y_opt = torch.optim.Adam([y], lr=config.policy_lr)

    def estimates(x_now: Tensor, logits: Tensor, regularised_only: bool,
                  generator: np.random.Generator = rng) -> tuple[Tensor, Tensor]:
        """(follower's regularised value, leader's value), both normalised, as surrogates
        from fresh episodes under softmax(logits) in M_tau(x_now), drawn from
        ``generator``."""
        mdp = _lower(problem, x_now, config.tau)
        policy = torch.softmax(logits, dim=-1)
        episodes = sample_episodes(mdp, policy, config.episodes, horizon, generator)
        scale = 1.0 - mdp.gamma
        follower = scale * surrogate(mdp, policy, mdp.rewards, episodes, regularised=True)
        if regularised_only:
            return follower, follower.new_zeros(())
        leader = scale * surrogate(mdp, policy, problem.upper_rewards(x_now), episodes,
                                   regularised=False)
        return follower, leader

    lams, uppers, penalties = [], [], []
    for k in range(config.iterations):
        lam = config.lam_at(k)
        mdp = _lower(problem, x.detach(), config.tau)
        for _ in range(config.inner_steps):
            # Soft policy iteration: pi <- softmax(Q^pi / tau) (module docstring).
            z = soft_q_estimate(mdp, torch.softmax(z, dim=-1), config.episodes, horizon,
                                rng) / mdp.tau
        for _ in range(config.inner_steps):
            follower, leader = estimates(x.detach(), y, regularised_only=False)
            y_opt.zero_grad()
            (-leader - lam * follower).backward()
            y_opt.step()
        # The penalty's two terms from the same uniforms (common random numbers), so that
        # the noise their x-gradients share cancels from the difference.
        seed = int(rng.integers(2**63))
        best, _ = estimates(x, z, regularised_only=True,
                            generator=np.random.default_rng(seed))
        follower, leader = estimates(x, y.detach(), regularised_only=False,
                                     generator=np.random.default_rng(seed))
        p = best - follower
        x_opt.zero_grad()
        (-leader + lam * p).backward()
        _set_step(x_opt, config.lr_at(k))
        x_opt.step()
        with torch.no_grad():
            x.copy_(problem.project(x))
        lams.append(lam)
        uppers.append(float(leader.detach()))
        penalties.append(float(p.detach()))
    return PBRLResult(x.detach().clone(), y.detach().clone(), lams, uppers, penalties)


def _described(value: Any) -> str:
    """A checkpoint entry in a refusal: a tensor by its dtype and shape, anything else by its
    repr."""
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return repr(value)


class PBRL:
    """PBRL principal: ``make("pbrl", lam=10.0, lam_growth=1.02, ...)`` (any ``PBRLConfig``
    field as keyword, or ``config=PBRLConfig(...)``)."""

    name = "pbrl"

    def __init__(self, config: Any = None, **overrides: Any):
        self.config: PBRLConfig = config_from(PBRLConfig, config, overrides)
        self.rng = np.random.default_rng(self.config.seed)
        self.parameters: Tensor | None = None
        self.action: np.ndarray | None = None
        self.result: PBRLResult | None = None

    def _solve(self, env: gym.Env) -> None:
        try:
            model = env.get_wrapper_attr("bilevel_model")
        except AttributeError:
            raise ValueError(f"{self.name!r} is a white-box principal: it needs a game with a "
                             f"public bilevel_model() (Mermaide/StackelbergMarkov-v0, "
                             f"Mermaide/IncentiveMDP-v0), got {env!r}") from None
        problem = model()
        self.result = optimise(problem, self.config, self.rng)
        self.parameters = self.result.parameters
        self.action = problem.action(self.parameters)

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int) -> None:
        """Solve the game of one ``env_fn()`` reset with ``seed`` from its model; ``population``
        and ``steps`` are not used (no training episodes are played)."""
        check_int("steps", steps, 0)
        check_int("seed", seed, 0)
        self.rng = np.random.default_rng(seed)
        env = env_fn()
        try:
            env.reset(seed=seed)
            self._solve(env)
        finally:
            env.close()

    def adapt(self, env: gym.Env, episodes: int) -> None:
        """K >= 1: solve afresh the game of ``env``'s next episode (read at one reset, no step
        played); K = 0: unchanged."""
        check_int("episodes", episodes, 0)
        if episodes == 0:
            return
        env.reset()
        self._solve(env)

    def act(self, obs: np.ndarray, state: Any) -> tuple[Any, Any]:
        """The optimised x, as the game's action."""
        if self.action is None:
            raise RuntimeError(f"{self.name!r} has no x yet: call meta_train or load first")
        return self.action.copy(), state

    def save(self, path: str) -> None:
        save_checkpoint(path, self.name, {
            "config": dataclasses.asdict(self.config),
            "parameters": self.parameters,
            "action": None if self.action is None else torch.from_numpy(self.action.copy())})

    def load(self, path: str) -> None:
        """Replace this principal by the one saved at ``path``: its config, x and action (its
        generator starts afresh from the config's seed; ``result``, the history of a solve,
        is not saved); a bad file raises ``CheckpointError`` and changes nothing (a new
        principal is built from the file and checked, then adopted)."""
        saved = load_checkpoint(path, self.name)
        with reading_checkpoint(path):
            loaded = PBRL(PBRLConfig(**saved["config"]))
            parameters, action = saved["parameters"], saved["action"]
            if parameters is not None or action is not None:
                # What a solve leaves: x, and the game's action that plays it (x flattened,
                # mapped onto the game's action set, as float32).
                if not (isinstance(parameters, Tensor) and parameters.is_floating_point()):
                    raise ValueError(f"parameters must be a float tensor (x), or None with "
                                     f"action None, got {_described(parameters)}")
                if not (isinstance(action, Tensor) and action.dtype == torch.float32
                        and action.shape == (parameters.numel(),)):
                    raise ValueError(f"action must be a float32 tensor of shape "
                                     f"({parameters.numel()},) (x's size) with parameters, "
                                     f"got {_described(action)}")
                loaded.parameters, loaded.action = parameters, action.numpy()
        self.__dict__.update(loaded.__dict__)

"""Stackelberg matrix games: the exact equilibrium solver, the batched game core shared by the
one-round and the repeated game, and the one-round game ``Mermaide/Stackelberg-v0``.

The principal (leader) commits to a mixed strategy x over its m actions; the agent (follower)
responds with one of its n actions; payoffs are A[i, j] to the principal and B[i, j] to the
agent. Payoffs are *expected* over the principal's commitment: the principal's action is never
sampled, so the agent's payoff for action j is ``x @ B[:, j]`` and the principal's is
``x @ A[:, j]``. This makes the one-round game exactly the game the solver solves.

``solve(A, B)`` returns the strong Stackelberg equilibrium (ties broken in the principal's
favour) by one linear program per agent action, and compares it with the pure Nash equilibria;
``equilibrium_values`` computes the same value for a batch of games at once (the games report
it in ``info`` so that a harness can measure each principal's gap to it).
``RepeatedStackelbergCore`` simulates B games at once with (B, m, n) arrays;
``StackelbergEnv`` is its one-round (T = 1) Gymnasium form, and
``mermaide.envs.repeated_stackelberg`` its repeated form.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from scipy.optimize import linprog

from mermaide.agents import make as make_learner
from mermaide.agents.base import Learner, is_learner_name, learner_names
from mermaide.agents.population import LearnerFamily, group_specs
from mermaide.checks import check_int, check_number
from mermaide.envs.games import (
    CLASSIC_GAMES,
    FOLLOWER,
    BayesianGamePopulation,
    Follower,
    GameDistribution,
    GamePopulation,
    MatrixGame,
    check_learner_params,
    check_payoffs,
    classic_game,
    game_population,
    game_population_names,
)
from mermaide.envs.knobs import (
    OBSERVES_ACTIONS,
    OBSERVES_PAYOFFS,
    OBSERVES_REWARDS,
    BudgetLedger,
    Knobs,
    misreport_actions,
)
from mermaide.envs.vector import LockstepVectorEnv

__all__ = [
    "CLASSIC_GAMES",
    "GamePopulation",
    "MatrixGame",
    "RepeatedStackelbergCore",
    "StackelbergEnv",
    "StackelbergSolution",
    "StackelbergVectorEnv",
    "best_response",
    "classic_game",
    "equilibrium_values",
    "game_population",
    "game_population_names",
    "pure_nash_equilibria",
    "solve",
]

# --- the solver ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StackelbergSolution:
    """The strong Stackelberg equilibrium of a bimatrix game and its comparison with Nash.

    strategy: (m,) the principal's optimal commitment. response: the agent's best response to
    it (ties in the principal's favour). value: the principal's payoff ``strategy @ A[:,
    response]``; agent_value: the agent's. pure_nash: every pure Nash equilibrium (i, j);
    nash_value / nash_value_worst: the principal's best / worst payoff over them, None when
    the game has no pure Nash equilibrium.
    """

    strategy: np.ndarray
    response: int
    value: float
    agent_value: float
    pure_nash: tuple[tuple[int, int], ...]
    nash_value: float | None
    nash_value_worst: float | None

    @property
    def commitment_gain(self) -> float | None:
        """What commitment adds over the principal's best pure Nash equilibrium (>= 0), or
        None when there is no pure Nash equilibrium to compare with."""
        return None if self.nash_value is None else self.value - self.nash_value


def pure_nash_equilibria(A: Any, B: Any) -> list[tuple[int, int]]:
    """Every cell (i, j) where neither player gains by deviating alone, row-major order."""
    A, B = check_payoffs(A, B)
    stable = (A >= A.max(axis=0, keepdims=True)) & (B >= B.max(axis=1, keepdims=True))
    return [(int(i), int(j)) for i, j in np.argwhere(stable)]


def solve(A: Any, B: Any) -> StackelbergSolution:
    """The strong Stackelberg equilibrium of the game (A, B) (principal = row player).

    For every agent action j, the linear program

        maximise x @ A[:, j]  s.t.  x @ B[:, j] >= x @ B[:, k] for all k,  x in the simplex

    gives the best commitment that makes j a best response; the equilibrium is the best j.
    Two exact shortcuts skip most programs: an action whose best conceivable value
    ``max_i A[i, j]`` cannot beat the value found so far is skipped, and when the pure strategy
    reaching that bound already makes j a best response, no program is needed.
    """
    A, B = check_payoffs(A, B)
    m, n = A.shape
    best: tuple[float, np.ndarray, int] | None = None
    bounds = A.max(axis=0)
    for j in np.argsort(-bounds, kind="stable"):
        if best is not None and best[0] >= bounds[j]:
            break
        row = int(np.argmax(A[:, j]))
        if B[row, j] >= B[row].max():
            x = np.zeros(m)
            x[row] = 1.0
            best = (float(bounds[j]), x, int(j))
            break
        others = np.arange(n) != j
        result = linprog(-A[:, j], A_ub=(B[:, others] - B[:, [j]]).T, b_ub=np.zeros(n - 1),
                         A_eq=np.ones((1, m)), b_eq=np.ones(1), bounds=(0.0, None),
                         method="highs")
        if result.status == 2:  # j is never a best response
            continue
        if result.status != 0:
            raise RuntimeError(f"linprog failed on agent action {j}: {result.message}")
        x = np.clip(result.x, 0.0, None)
        x /= x.sum()
        value = float(x @ A[:, j])
        if best is None or value > best[0]:
            best = (value, x, int(j))
    # Some agent action is a best response to any commitment, so some program is feasible.
    assert best is not None
    value, x, j = best
    nash = pure_nash_equilibria(A, B)
    nash_values = [float(A[i, k]) for i, k in nash]
    x.setflags(write=False)
    return StackelbergSolution(
        strategy=x, response=j, value=value, agent_value=float(x @ B[:, j]),
        pure_nash=tuple(nash),
        nash_value=max(nash_values) if nash_values else None,
        nash_value_worst=min(nash_values) if nash_values else None,
    )


# Batched vertex enumeration is used while a game has at most this many (m x m) systems to
# solve; beyond it the per-game linear programs are cheaper.
_MAX_SYSTEMS = 20_000


@functools.lru_cache(maxsize=64)
def _bases(m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Which constraints are active at each candidate vertex, and the other agent actions."""
    combinations = list(itertools.combinations(range(n - 1 + m), m - 1))
    subsets = np.array(combinations, dtype=np.int64).reshape(len(combinations), m - 1)
    others = np.array([[k for k in range(n) if k != j] for j in range(n)], dtype=np.int64)
    return subsets, others


def equilibrium_values(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The strong Stackelberg values of G games at once: A, B (G, m, n) -> (G,).

    The same quantity as ``solve(A[g], B[g]).value``, computed without a Python loop over games
    by enumerating vertices: every program of ``solve`` attains its optimum at a vertex of
    {x in the simplex : j is a best response}, which solves ``sum(x) = 1`` with m - 1 of its
    inequalities active. Large games fall back to ``solve``.
    """
    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    if A.ndim != 3 or A.shape != B.shape or A.shape[1] < 1 or A.shape[2] < 2:
        raise ValueError(f"A and B must both have shape (G, m, n) with m >= 1 and n >= 2, got "
                         f"{A.shape} and {B.shape}")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
        raise ValueError("A and B must have finite entries (no NaN or inf)")
    games, m, n = A.shape
    subsets, others = _bases(m, n)
    if len(subsets) * n * m * m > _MAX_SYSTEMS:
        return np.array([solve(A[g], B[g]).value for g in range(games)])
    # Constraints G x <= 0 of program j: x @ (B[:, k] - B[:, j]) <= 0 for k != j, and -x <= 0.
    differences = np.swapaxes(B, 1, 2)[:, None, :, :] - np.swapaxes(B, 1, 2)[:, :, None, :]
    rows = differences[:, np.arange(n)[:, None], others]  # (G, n, n - 1, m)
    constraints = np.concatenate(
        [rows, np.broadcast_to(-np.eye(m), (games, n, m, m))], axis=2)  # (G, n, n - 1 + m, m)
    active = constraints[:, :, subsets]  # (G, n, S, m - 1, m)
    systems = np.concatenate(
        [np.ones((*active.shape[:3], 1, m)), active], axis=3)  # (G, n, S, m, m)
    # A basis must be nonsingular; compare the determinant with Hadamard's bound on it.
    scale = np.prod(np.linalg.norm(systems, axis=4), axis=3)
    regular = np.abs(np.linalg.det(systems)) > 1e-10 * scale
    systems[~regular] = np.eye(m)
    rhs = np.zeros((m, 1))
    rhs[0] = 1.0
    vertices = np.linalg.solve(systems, np.broadcast_to(rhs, (*systems.shape[:-1], 1)))[..., 0]
    tolerance = 1e-9 * (1.0 + np.abs(B).max(axis=(1, 2)))[:, None, None, None]
    slack = np.einsum("gjcm,gjsm->gjsc", constraints, vertices)
    feasible = regular & np.all(slack <= tolerance, axis=3)
    values = np.einsum("gjsm,gmj->gjs", vertices, A)
    return np.where(feasible, values, -np.inf).max(axis=(1, 2))


# A MatrixGame is immutable and often replayed (K-shot adaptation and evaluation replay one
# task; MAML plays each task's support and query episodes): its value is computed once per
# game object, and forgotten with it. Keys are identities (MatrixGame has eq=False).
_GAME_VALUES: weakref.WeakKeyDictionary[MatrixGame, float] = weakref.WeakKeyDictionary()


def game_values(games: Sequence[MatrixGame]) -> np.ndarray:
    """``equilibrium_values`` of these games (all of one shape), each computed once."""
    missing = list({id(g): g for g in games if g not in _GAME_VALUES}.values())
    if missing:
        values = equilibrium_values(np.stack([g.A for g in missing]),
                                    np.stack([g.B for g in missing]))
        _GAME_VALUES.update(zip(missing, values.tolist(), strict=True))
    return np.array([_GAME_VALUES[g] for g in games])


# --- the follower's response -----------------------------------------------------------------

# How a follower breaks ties between equally good actions: "principal" (the strong
# Stackelberg convention, the solver's) picks the tied action best for the principal;
# "adversarial" (the weak convention) the worst.
_TIE_BREAKS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "principal": lambda ties, value: np.argmax(np.where(ties, value, -np.inf), axis=1),
    "adversarial": lambda ties, value: np.argmin(np.where(ties, value, np.inf), axis=1),
}
TIE_BREAKS = tuple(_TIE_BREAKS)


def best_response(agent_payoffs: np.ndarray, principal_payoffs: np.ndarray,
                  tie_break: str = "principal", tolerance: float = 1e-6) -> np.ndarray:
    """(B,) best responses to (B, n) agent payoffs; payoffs within ``tolerance`` of the best
    are ties, broken by ``tie_break`` on the (B, n) principal payoffs (then lowest index)."""
    ties = agent_payoffs >= agent_payoffs.max(axis=1, keepdims=True) - tolerance
    return _TIE_BREAKS[tie_break](ties, principal_payoffs)


# --- actions: how a flat Box becomes a commitment and an intervention ------------------------

# Logits live in [-1, 1] (the normalised Box SB3 recommends) and are scaled before the
# softmax, so a strategy can still put as little as e^-20 on an action.
LOGIT_SCALE = 10.0


def _from_weights(params: np.ndarray) -> np.ndarray:
    total = params.sum(axis=-1, keepdims=True)
    uniform = np.full_like(params, 1.0 / params.shape[-1])
    # All-zero weights have no direction: read them as the uniform strategy.
    return np.where(total > 0, params / np.where(total > 0, total, 1.0), uniform)


def _from_logits(params: np.ndarray) -> np.ndarray:
    shifted = np.exp(LOGIT_SCALE * (params - params.max(axis=-1, keepdims=True)))
    return shifted / shifted.sum(axis=-1, keepdims=True)


# action_type -> (low, high, params -> strategies, strategy -> params)
_ACTION_TYPES: dict[str, tuple[float, float, Callable[[np.ndarray], np.ndarray],
                               Callable[[np.ndarray], np.ndarray]]] = {
    "weights": (0.0, 1.0, _from_weights, lambda x: x),
    "logits": (-1.0, 1.0, _from_logits,
               lambda x: np.clip(np.log(np.maximum(x, 1e-300)) / LOGIT_SCALE, -1.0, 1.0)),
}
ACTION_TYPES = tuple(_ACTION_TYPES)


def action_space(m: int, n: int, action_type: str) -> spaces.Box:
    """``Box`` of shape (m + n + 1,): m strategy parameters, then n + 1 intervention scores."""
    low, high = _ACTION_TYPES[action_type][:2]
    return spaces.Box(low, high, shape=(m + n + 1,), dtype=np.float32)


def decode_actions(actions: np.ndarray, m: int, action_type: str
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(B, m + n + 1) flat actions -> strategies (B, m) and bonus actions (B,), -1 = none.

    The intervention is the argmax of the n + 1 scores (first on ties): 0 = none, j + 1 = a
    bonus on agent action j.
    """
    strategies = _ACTION_TYPES[action_type][2](actions[:, :m].astype(np.float64))
    return strategies, np.argmax(actions[:, m:], axis=1) - 1


def encode_action(strategy: Any, n: int, bonus_action: int | None = None,
                  action_type: str = "weights") -> np.ndarray:
    """The flat float32 action that commits to ``strategy`` (m,) and puts the bonus on agent
    action ``bonus_action`` (None = no intervention): the inverse of ``decode_actions``."""
    if action_type not in _ACTION_TYPES:
        raise ValueError(f"action_type must be one of {ACTION_TYPES}, got {action_type!r}")
    x = np.asarray(strategy, dtype=np.float64)
    if x.ndim != 1 or not np.all(np.isfinite(x)) or np.any(x < 0) or x.sum() <= 0:
        raise ValueError(f"strategy must be a vector of non-negative weights, got {strategy!r}")
    if bonus_action is not None and not 0 <= bonus_action < n:
        raise ValueError(f"bonus_action must be None or in [0, {n - 1}], got {bonus_action!r}")
    scores = np.zeros(n + 1)
    scores[0 if bonus_action is None else bonus_action + 1] = 1.0
    low, high = _ACTION_TYPES[action_type][:2]
    scores = np.where(scores > 0, high, low)
    params = _ACTION_TYPES[action_type][3](x / x.sum())
    return np.concatenate([params, scores]).astype(np.float32)


# --- the batched core ------------------------------------------------------------------------

OBSERVES = (OBSERVES_ACTIONS, OBSERVES_REWARDS, OBSERVES_PAYOFFS)
_LARGEST = float(np.finfo(np.float32).max)


class RepeatedStackelbergCore:
    """B matrix games of shape (m, n) played for T rounds together; no Python work per agent
    in ``step``.

    Each round every principal commits to x (m,) and may request a bonus on one agent action.
    The agent's payoff vector is ``x @ B + bonus * onehot(bonus action)`` (n,). A follower
    best-responds to it at once (``best_response`` with ``tie_break``); a learner acts from
    what it has learnt so far and then learns from it: full-information learners (``hedge``,
    ``best_response``) from the whole vector, bandit learners from the entry of their action.

    Observation layout (float32; m, n = the game's size; ``obs_dim`` = 2n + m + 3 + mn, plus 1
    when rewards are visible, plus 1 + mn when payoffs are visible):

    ============================  ==================================================
    ``[0, n)``                    one-hot of the agent's last response as observed (noisy);
                                  0 before the first round
    ``[n, n + m)``                the principal's last commitment x; 0 before the first round
    ``[n + m, 2n + m + 1)``       one-hot of the last intervention requested (0 = none);
                                  0 before the first round
    ``2n + m + 1``                fraction of the horizon left, 1 - t / T
    ``2n + m + 2``                fraction of the intervention budget left (1 when unlimited)
    ``[2n + m + 3, +mn)``         the principal's own payoffs A, row-major
    next 1 (rewards, payoffs)     the agent's last payoff received, + N(0, noise^2)
    next mn (payoffs)             the agent's payoffs B, row-major, + N(0, noise^2) drawn once
                                  per episode
    ============================  ==================================================
    """

    def __init__(self, shape: tuple[int, int], horizon: int, batch: int, knobs: Knobs,
                 bonus: float, tie_break: str = "principal", tie_tolerance: float = 1e-6,
                 external_agent: bool = False):
        # external_agent: the agents' actions come from outside (``step(..., agent_actions)``),
        # e.g. another player of a PettingZoo game; no built-in agent is created.
        self.external_agent = external_agent
        self.m, self.n = shape
        self.horizon, self.batch = horizon, batch
        self.knobs, self.bonus = knobs, bonus
        self.tie_break, self.tie_tolerance = tie_break, tie_tolerance
        self.rewards_visible = knobs.principal_observes in (OBSERVES_REWARDS, OBSERVES_PAYOFFS)
        self.payoffs_visible = knobs.principal_observes == OBSERVES_PAYOFFS
        m, n = shape
        self._a_start = 2 * n + m + 3
        self.obs_dim = (self._a_start + m * n + int(self.rewards_visible)
                        + m * n * int(self.payoffs_visible))
        self.ledger = BudgetLedger(batch, knobs.intervention_budget)
        self._rows = np.arange(batch)
        self._obs = np.zeros((batch, self.obs_dim), dtype=np.float32)
        self.t = 0
        self.games: list[MatrixGame] = []

    def observation_space(self) -> spaces.Box:
        low = np.zeros(self.obs_dim, dtype=np.float32)
        high = np.ones(self.obs_dim, dtype=np.float32)
        # Payoffs and noisy observations are unbounded: allow every finite float32.
        low[self._a_start:], high[self._a_start:] = -_LARGEST, _LARGEST
        return spaces.Box(low, high, dtype=np.float32)

    def reset(self, games: Sequence[MatrixGame], rng: np.random.Generator) -> np.ndarray:
        """Start B games with fresh agents; returns the first observations (B, obs_dim)."""
        if len(games) != self.batch:
            raise ValueError(f"games must hold {self.batch} games, got {len(games)}")
        for game in games:
            if game.shape != (self.m, self.n):
                raise ValueError(f"every game must be {self.m}x{self.n}, got {game.name!r} of "
                                 f"shape {game.shape}")
        self.games = list(games)
        self.A = np.stack([g.A for g in games])
        self.B = np.stack([g.B for g in games])
        self.equilibrium_values = game_values(self.games)
        kinds = np.array([g.learner for g in games])
        self._followers = (np.zeros(0, dtype=np.int64) if self.external_agent
                           else np.flatnonzero(kinds == FOLLOWER))
        learners = (np.zeros(0, dtype=np.int64) if self.external_agent
                    else np.flatnonzero(kinds != FOLLOWER))
        self._groups: list[tuple[Learner, np.ndarray]] = []
        for kind, params, members in group_specs([games[int(i)] for i in learners]):
            learner = make_learner(kind, **params)
            learner.reset(len(members), self.n, rng)
            self._groups.append((learner, learners[members]))
        self.ledger.reset()
        self.t = 0
        self.episode_value = np.zeros(self.batch)
        self.episode_cost = np.zeros(self.batch)
        m, n, start = self.m, self.n, self._a_start
        obs = self._obs
        obs[:] = 0.0
        obs[:, 2 * n + m + 1] = 1.0
        obs[:, 2 * n + m + 2] = 1.0
        obs[:, start:start + m * n] = self.A.reshape(self.batch, m * n)
        if self.payoffs_visible:
            noise = self.knobs.observation_noise
            seen = self.B.reshape(self.batch, m * n)
            if noise:
                seen = seen + noise * rng.standard_normal(seen.shape)
            obs[:, -m * n:] = seen
        return obs.copy()

    def _respond(self, agent_payoffs: np.ndarray, principal_payoffs: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
        actions = np.empty(self.batch, dtype=np.int64)
        for learner, index in self._groups:
            actions[index] = learner.act(rng)
        f = self._followers
        if f.size:
            actions[f] = best_response(agent_payoffs[f], principal_payoffs[f], self.tie_break,
                                       self.tie_tolerance)
        return actions

    def step(self, strategies: np.ndarray, bonus_actions: np.ndarray, rng: np.random.Generator,
             agent_actions: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, bool, dict[str, np.ndarray]]:
        """Play one round of all B games.

        ``strategies``: (B, m) commitments, rows in the simplex. ``bonus_actions``: (B,) ints
        in [-1, n): the agent action to put the bonus on, -1 = no intervention.
        ``agent_actions`` (B,) is required when the core was built with ``external_agent``
        (and refused otherwise): the external agents choose and learn on their own, from the
        ``agent_payoffs`` / ``agent_reward`` in the returned info.
        """
        if (agent_actions is None) == self.external_agent:
            raise ValueError("agent_actions must be given exactly when external_agent=True")
        rows = self._rows
        applied, refused = self.ledger.spend(bonus_actions >= 0)
        cost = applied * self.knobs.intervention_cost
        agent_payoffs = np.einsum("bm,bmn->bn", strategies, self.B)
        agent_payoffs[rows[applied], bonus_actions[applied]] += self.bonus
        principal_payoffs = np.einsum("bm,bmn->bn", strategies, self.A)
        if agent_actions is None:
            actions = self._respond(agent_payoffs, principal_payoffs, rng)
        else:
            actions = np.asarray(agent_actions, dtype=np.int64)
        agent_reward = agent_payoffs[rows, actions]
        for learner, index in self._groups:
            learner.update(actions[index], agent_reward[index],
                           agent_payoffs[index] if learner.feedback == "full" else None)
        self.t += 1
        value = principal_payoffs[rows, actions]
        self.episode_value += value
        self.episode_cost += cost

        observed = misreport_actions(actions, self.n, self.knobs.observation_noise, rng)
        m, n = self.m, self.n
        obs = self._obs
        obs[:, : 2 * n + m + 1] = 0.0
        obs[rows, observed] = 1.0
        obs[:, n:n + m] = strategies
        obs[rows, n + m + bonus_actions + 1] = 1.0
        obs[:, 2 * n + m + 1] = 1.0 - self.t / self.horizon
        obs[:, 2 * n + m + 2] = self.ledger.fraction_left()
        if self.rewards_visible:
            noise = self.knobs.observation_noise
            obs[:, self._a_start + m * n] = agent_reward + (
                noise * rng.standard_normal(self.batch) if noise else 0.0)
        info = {
            "agent_action": actions,
            "observed_action": observed,
            "intervened": applied,
            "refused": refused,
            "interventions_used": self.ledger.used.copy(),
            "cost": cost,
            "agent_reward": agent_reward,
            "agent_payoffs": agent_payoffs,
            "principal_value": value,
            "equilibrium_value": self.equilibrium_values.copy(),
        }
        done = self.t >= self.horizon
        if done:
            info["average_value"] = self.episode_value / self.horizon
            info["episode_cost"] = self.episode_cost.copy()
        return obs.copy(), value - cost, done, info


# --- Gymnasium forms -------------------------------------------------------------------------

GameSource = str | MatrixGame | GamePopulation | BayesianGamePopulation | tuple[Any, Any]


def game_source(game: GameSource, agent: str | None = None,
                agent_kwargs: dict[str, Any] | None = None) -> MatrixGame | GameDistribution:
    """Normalise the ``game`` argument: a preset name becomes its population, (A, B) a
    ``MatrixGame``. ``agent`` (a learner name or "follower") replaces the agents' kind."""
    if isinstance(game, str):
        source: MatrixGame | GameDistribution = game_population(game)
    elif isinstance(game, tuple) and len(game) == 2:
        source = MatrixGame(*game)
    elif isinstance(game, (MatrixGame, GamePopulation, BayesianGamePopulation)):
        source = game
    else:
        raise ValueError(f"game must be a population name ({', '.join(game_population_names())})"
                         f", a MatrixGame, a GamePopulation, a BayesianGamePopulation or a "
                         f"pair (A, B), got {game!r}")
    if agent is None:
        if agent_kwargs:
            raise ValueError(f"agent_kwargs apply only with an agent name, got "
                             f"agent_kwargs={agent_kwargs!r}")
        return source
    if agent != FOLLOWER and not is_learner_name(agent):
        raise ValueError(f"agent must be {FOLLOWER!r}, a registered learner or \"sb3:<Algorithm>\" "
                         f"({', '.join(learner_names())}), got {agent!r}")
    params = dict(agent_kwargs or {})
    if agent == FOLLOWER and params:
        raise ValueError(f"the follower takes no agent_kwargs, got {params!r}")
    if agent != FOLLOWER:
        check_learner_params(agent, params)
    if isinstance(source, MatrixGame):
        return dataclasses.replace(source, learner=agent, params=params)
    family = Follower() if agent == FOLLOWER else LearnerFamily(agent, params)
    return source.with_agents(family)


def source_shape(source: MatrixGame | GameDistribution) -> tuple[int, int]:
    return source.shape if isinstance(source, MatrixGame) else source.size


def draw_game(source: MatrixGame | GameDistribution, rng: np.random.Generator) -> MatrixGame:
    return source if isinstance(source, MatrixGame) else source.sample(rng)


def validated_knobs(intervention_budget: int | None, intervention_cost: float, bonus: float,
                    observation_noise: float, principal_observes: str, action_type: str,
                    tie_break: str, tie_tolerance: float) -> Knobs:
    check_number("bonus", bonus, low=0.0, low_open=True)
    check_number("tie_tolerance", tie_tolerance, low=0.0)
    if action_type not in _ACTION_TYPES:
        raise ValueError(f"action_type must be one of {ACTION_TYPES}, got {action_type!r}")
    if tie_break not in _TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
    knobs = Knobs(intervention_budget, intervention_cost, observation_noise, principal_observes)
    knobs.check_observes(OBSERVES)
    return knobs


class _MatrixGameForm:
    """What the Gymnasium forms share: knob validation, one core, actions in and games drawn."""

    follower_only = False  # the one-round game: the agent is always the exact follower

    def _setup(self, batch: int, game: GameSource, horizon: int, agent: str | None,
               agent_kwargs: dict[str, Any] | None, action_type: str,
               intervention_budget: int | None, intervention_cost: float, bonus: float,
               observation_noise: float, principal_observes: str, tie_break: str,
               tie_tolerance: float) -> None:
        check_int("horizon", horizon, 1)
        self.knobs = validated_knobs(intervention_budget, intervention_cost, bonus,
                                     observation_noise, principal_observes, action_type,
                                     tie_break, tie_tolerance)
        self.game = game_source(game, agent, agent_kwargs)
        self.m, self.n = source_shape(self.game)
        self.horizon, self.action_type = horizon, action_type
        self.core = RepeatedStackelbergCore((self.m, self.n), horizon, batch, self.knobs,
                                            float(bonus), tie_break, float(tie_tolerance))
        self._box = action_space(self.m, self.n, action_type)

    def encode_action(self, strategy: Any, bonus_action: int | None = None) -> np.ndarray:
        """The action committing to ``strategy`` (m,), with a bonus on ``bonus_action``."""
        return encode_action(strategy, self.n, bonus_action, self.action_type)

    def _games(self, given: Sequence[Any] | None, count: int, rng: np.random.Generator,
               option: str) -> list[MatrixGame]:
        if given is None:
            games = [draw_game(self.game, rng) for _ in range(count)]
        else:
            games = list(given)
            if len(games) != count or not all(isinstance(g, MatrixGame)
                                               and g.shape == (self.m, self.n) for g in games):
                raise ValueError(f"options[{option!r}] must be {count} {self.m}x{self.n} "
                                 f"MatrixGame(s), got {given!r}")
        if self.follower_only:
            games = [g if g.learner == FOLLOWER
                     else dataclasses.replace(g, learner=FOLLOWER, params={}) for g in games]
        return games

    def _decode(self, actions: Any, batch_shape: tuple[int, ...]
                ) -> tuple[np.ndarray, np.ndarray]:
        flat = np.asarray(actions)
        space = self._box
        if (flat.shape != batch_shape + space.shape or not np.issubdtype(flat.dtype, np.number)
                or not np.all(np.isfinite(flat)) or np.any(flat < space.low)
                or np.any(flat > space.high)):
            raise ValueError(f"action must be an array of shape {batch_shape + space.shape} in "
                             f"[{space.low[0]:g}, {space.high[0]:g}] ({self.m} strategy "
                             f"{self.action_type}, then {self.n + 1} intervention scores), got "
                             f"{actions!r} ({type(actions).__name__})")
        return decode_actions(flat.reshape(-1, space.shape[0]).astype(np.float64), self.m,
                              self.action_type)


class MatrixGameEnv(_MatrixGameForm, gym.Env[np.ndarray, np.ndarray]):
    """The B = 1 Gymnasium form of a matrix game (one round or repeated)."""

    # Gymnasium declares metadata as a class-level dict; ClassVar would clash with its typing.
    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, game: GameSource, horizon: int, agent: str | None,
                 agent_kwargs: dict[str, Any] | None, action_type: str,
                 intervention_budget: int | None, intervention_cost: float, bonus: float,
                 observation_noise: float, principal_observes: str, tie_break: str,
                 tie_tolerance: float):
        self._setup(1, game, horizon, agent, agent_kwargs, action_type, intervention_budget,
                    intervention_cost, bonus, observation_noise, principal_observes, tie_break,
                    tie_tolerance)
        self.action_space = self._box
        self.observation_space = self.core.observation_space()
        self._needs_reset = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        given = (options or {}).get("game")
        (game,) = self._games(None if given is None else [given], 1, self.np_random, "game")
        obs = self.core.reset([game], self.np_random)
        self._needs_reset = False
        return obs[0], {"game": game, "equilibrium_value": float(self.core.equilibrium_values[0])}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError("step() called before reset() or after the episode ended")
        strategies, bonus_actions = self._decode(action, ())
        obs, reward, done, info = self.core.step(strategies, bonus_actions, self.np_random)
        self._needs_reset = done
        step_info = {key: value[0].item() if value.ndim == 1 else value[0].copy()
                     for key, value in info.items()}
        step_info["strategy"] = strategies[0]
        step_info["bonus_action"] = int(bonus_actions[0])
        return obs[0], float(reward[0]), done, False, step_info


class MatrixGameVectorEnv(_MatrixGameForm, LockstepVectorEnv):
    """``num_envs`` matrix games in one ``RepeatedStackelbergCore``: the native
    ``gym.make_vec`` form.

    All sub-environments share the horizon, so they end together; the next ``step`` after the
    end resets them all (Gymnasium's next-step autoreset) and returns the first observations
    with zero rewards. Each sub-environment draws its own game at every reset;
    ``reset(options={"games": [...]})`` plays given ones. Info holds (num_envs, ...) arrays
    under the single form's keys.
    """

    def __init__(self, num_envs: int, game: GameSource, horizon: int, agent: str | None,
                 agent_kwargs: dict[str, Any] | None, action_type: str,
                 intervention_budget: int | None, intervention_cost: float, bonus: float,
                 observation_noise: float, principal_observes: str, tie_break: str,
                 tie_tolerance: float):
        check_int("num_envs", num_envs, 1)
        self._setup(num_envs, game, horizon, agent, agent_kwargs, action_type,
                    intervention_budget, intervention_cost, bonus, observation_noise,
                    principal_observes, tie_break, tie_tolerance)
        self._set_spaces(num_envs, self._box, self.core.observation_space())

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        self._reset_generator(seed)
        games = self._games((options or {}).get("games"), self.num_envs, self.np_random,
                            "games")
        obs = self.core.reset(games, self.np_random)
        return obs, {"equilibrium_value": self.core.equilibrium_values.copy()}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        strategies, bonus_actions = self._decode(actions, (self.num_envs,))

        def play() -> tuple[np.ndarray, np.ndarray, bool, dict[str, Any]]:
            obs, reward, done, info = self.core.step(strategies, bonus_actions, self.np_random)
            info["strategy"], info["bonus_action"] = strategies, bonus_actions
            return obs, reward, done, info

        return self._lockstep_step(play)


class StackelbergEnv(MatrixGameEnv):
    """One round of a Stackelberg matrix game: the principal commits, the agent best-responds.

    ## Description
    Each episode a game is drawn (payoffs A for the principal, B for the agent, both m x n).
    The principal commits to a mixed strategy x over its m actions and may request a costed
    bonus on one agent action; the agent sees the commitment and plays a best response to
    ``x @ B`` (+ the bonus), ties broken by ``tie_break``. Payoffs are expected over x (the
    principal's action is not sampled), so the best the principal can do without bonuses is
    exactly the strong Stackelberg equilibrium value from ``solve(A, B)``. The agent is always
    this exact follower here, whatever learner a game names (that is for the repeated game).

    ## Action Space
    ``Box`` of shape (m + n + 1,), float32. The first m entries parametrise x: with
    ``action_type="weights"`` (default) weights in [0, 1], x = w / sum(w) (all zero =
    uniform); with ``"logits"`` logits l in [-1, 1], x = softmax(10 l). The last n + 1 entries
    are intervention scores: their argmax (first on ties) is 0 = no bonus, j + 1 = a bonus on
    agent action j. ``env.encode_action(x, bonus_action)`` builds an action.

    ## Observation Space
    ``Box`` as laid out in ``RepeatedStackelbergCore``: the observed response one-hot, the last
    commitment, the last intervention one-hot, time and budget left, the principal's own A,
    and with ``principal_observes="actions+rewards"`` the agent's payoff received, with
    ``"actions+payoffs"`` also the agent's matrix B plus N(0, observation_noise^2) noise. At
    reset the first three blocks are 0.

    ## Rewards
    ``x @ A[:, j] - cost`` for the agent's response j; cost is ``intervention_cost`` when a
    bonus was applied. A refused intervention (budget spent) is neither applied nor charged.

    ## Starting State
    A game from ``game``; ``reset(options={"game": MatrixGame(...)})`` plays a given one.

    ## Episode End
    Terminates after the single round.

    ## Arguments
    game (population preset name, default "train"; a MatrixGame, a GamePopulation, a
    BayesianGamePopulation or a pair (A, B)), action_type ("weights" or "logits"),
    intervention_budget (default 0: commitment is the only lever; None = unlimited),
    intervention_cost (>= 0, default 0.1), bonus (> 0, default 1.0), observation_noise ([0, 1],
    default 0: flip probability of the observed response and std of the noise on observed
    payoffs), principal_observes ("actions", "actions+rewards" or "actions+payoffs"), tie_break
    ("principal" = strong, default, or "adversarial" = weak), tie_tolerance (agent payoffs this
    close to the best are ties, default 1e-6).

    ## Info
    ``reset``: ``game`` (the MatrixGame) and ``equilibrium_value``. ``step``:
    ``agent_action`` (true response), ``observed_action`` (after the flip noise),
    ``intervened``, ``refused``, ``interventions_used``, ``cost``, ``agent_reward``,
    ``agent_payoffs`` (n,), ``principal_value`` (x @ A[:, j], before cost),
    ``equilibrium_value`` (the game's strong Stackelberg value), ``average_value``,
    ``episode_cost``, ``strategy`` (the decoded x) and ``bonus_action`` (-1 = none).

    ## Version History
    * v0: initial version.
    """

    follower_only = True

    def __init__(
        self,
        game: GameSource = "train",
        action_type: str = "weights",
        intervention_budget: int | None = 0,
        intervention_cost: float = 0.1,
        bonus: float = 1.0,
        observation_noise: float = 0.0,
        principal_observes: str = OBSERVES_ACTIONS,
        tie_break: str = "principal",
        tie_tolerance: float = 1e-6,
    ):
        super().__init__(game, 1, None, None, action_type, intervention_budget,
                         intervention_cost, bonus, observation_noise, principal_observes,
                         tie_break, tie_tolerance)


class StackelbergVectorEnv(MatrixGameVectorEnv):
    """``num_envs`` one-round Stackelberg games at once (``gym.make_vec`` form of
    ``StackelbergEnv``, same arguments). Every step ends the round, so steps alternate between
    playing and Gymnasium's next-step autoreset."""

    follower_only = True

    def __init__(
        self,
        num_envs: int = 1,
        game: GameSource = "train",
        action_type: str = "weights",
        intervention_budget: int | None = 0,
        intervention_cost: float = 0.1,
        bonus: float = 1.0,
        observation_noise: float = 0.0,
        principal_observes: str = OBSERVES_ACTIONS,
        tie_break: str = "principal",
        tie_tolerance: float = 1e-6,
    ):
        super().__init__(num_envs, game, 1, None, None, action_type, intervention_budget,
                         intervention_cost, bonus, observation_noise, principal_observes,
                         tie_break, tie_tolerance)

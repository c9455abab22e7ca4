"""The exact equilibria of bimatrix games, and the follower's best response: pure mathematics,
no Gymnasium.

The principal (leader, row player) commits to a mixed strategy x over its m actions; the agent
(follower) answers with one of its n actions; payoffs are A[i, j] to the principal and B[i, j]
to the agent, expected over x. ``solve(A, B)`` returns the strong Stackelberg equilibrium
(ties broken in the principal's favour) by one linear program per agent action, and compares
it with the pure Nash equilibria; ``equilibrium_values`` computes the same value for a batch of
games at once (the games report it in ``info`` so that a harness can measure each principal's
gap to it). ``best_response`` is how the exact follower of the games answers a commitment.
"""

from __future__ import annotations

import functools
import itertools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog

from mermaide.envs.games import MatrixGame, check_payoffs

__all__ = [
    "TIE_BREAKS",
    "StackelbergSolution",
    "best_response",
    "equilibrium_values",
    "game_values",
    "pure_nash_equilibria",
    "solve",
]


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

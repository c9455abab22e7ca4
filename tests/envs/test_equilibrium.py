"""The Stackelberg solver: the commitment value against linear programs and minimax, pure Nash
equilibria, the batched values and the best response with its tie-break conventions."""

import numpy as np
import pytest
from scipy.optimize import linprog

from mermaide.envs.equilibrium import (
    best_response,
    equilibrium_values,
    pure_nash_equilibria,
    solve,
)
from mermaide.envs.games import CLASSIC_GAMES, classic_game


def test_commitment_beats_nash_in_the_standard_example(commitment_matrices):
    solution = solve(*commitment_matrices)
    np.testing.assert_allclose(solution.strategy, [0.5, 0.5], atol=1e-9)
    assert solution.response == 1
    assert solution.value == pytest.approx(3.5)
    assert solution.pure_nash == ((0, 0),)
    assert solution.nash_value == 2.0 and solution.nash_value_worst == 2.0
    assert solution.commitment_gain == pytest.approx(1.5)
    assert solution.value > solution.nash_value


def maximin_value(A):
    """Independent LP: max_x min_j x @ A[:, j] over the simplex, variables (x, v)."""
    m, n = A.shape
    c = np.zeros(m + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-A.T, np.ones((n, 1))])  # v - x @ A[:, j] <= 0
    A_eq = np.hstack([np.ones((1, m)), np.zeros((1, 1))])
    result = linprog(c, A_ub=A_ub, b_ub=np.zeros(n), A_eq=A_eq, b_eq=[1.0],
                     bounds=[(0, None)] * m + [(None, None)], method="highs")
    assert result.status == 0
    return -result.fun


@pytest.mark.parametrize("seed", range(12))
def test_zero_sum_value_is_the_minimax_value(seed):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(1, 6), rng.integers(2, 6)
    A = rng.normal(size=(m, n))
    solution = solve(A, -A)
    assert solution.value == pytest.approx(maximin_value(A), abs=1e-7)


def test_matching_pennies_has_value_one_half_and_no_pure_nash():
    game = classic_game("matching-pennies")
    solution = solve(game.A, game.B)
    assert solution.value == pytest.approx(0.5)
    np.testing.assert_allclose(solution.strategy, [0.5, 0.5], atol=1e-9)
    assert solution.pure_nash == () and solution.nash_value is None
    assert solution.commitment_gain is None


def strong_response_values(A, B, strategies):
    """The principal's value at each sampled strategy (k, m) when the agent best-responds with
    ties in the principal's favour."""
    agent = strategies @ B
    principal = strategies @ A
    responses = best_response(agent, principal, "principal", tolerance=1e-12)
    return principal[np.arange(len(strategies)), responses]


def all_programs_value(A, B):
    """Independent reference: solve all n programs, no shortcuts."""
    m, n = A.shape
    best = -np.inf
    for j in range(n):
        others = np.arange(n) != j
        result = linprog(-A[:, j], A_ub=(B[:, others] - B[:, [j]]).T, b_ub=np.zeros(n - 1),
                         A_eq=np.ones((1, m)), b_eq=[1.0], bounds=(0, None), method="highs")
        if result.status == 0:
            best = max(best, -result.fun)
    return best


@pytest.mark.parametrize("seed", range(25))
def test_random_games_solution_is_feasible_optimal_and_beats_pure_nash(seed):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(1, 6), rng.integers(2, 6)
    A, B = rng.random((m, n)), rng.random((m, n))
    if seed % 5 == 0:  # integer payoffs: many ties, the degenerate cases
        A, B = rng.integers(0, 3, (m, n)) * 1.0, rng.integers(0, 3, (m, n)) * 1.0
    solution = solve(A, B)
    x, j = solution.strategy, solution.response
    assert np.all(x >= 0) and x.sum() == pytest.approx(1.0)
    assert x @ B[:, j] >= (x @ B).max() - 1e-9  # the response is a best response to x
    assert solution.value == pytest.approx(x @ A[:, j])
    assert solution.value == pytest.approx(all_programs_value(A, B), abs=1e-8)
    samples = np.vstack([np.eye(m), rng.dirichlet(np.ones(m), size=3000),
                         rng.dirichlet(np.full(m, 0.2), size=3000)])
    assert strong_response_values(A, B, samples).max() <= solution.value + 1e-9
    if solution.nash_value is not None:
        assert solution.value >= solution.nash_value - 1e-12


@pytest.mark.parametrize("shape", [(1, 2), (2, 2), (3, 3), (2, 5), (5, 3), (4, 4), (7, 7)])
def test_batched_equilibrium_values_equal_the_solver(shape):
    rng = np.random.default_rng(sum(shape))
    games = 40
    A, B = rng.random((games, *shape)), rng.random((games, *shape))
    A[:10], B[:10] = rng.integers(0, 3, (2, 10, *shape))  # degenerate: many ties
    B[10:15] = -A[10:15]  # zero-sum
    B[15:18] = 0.0  # an indifferent agent
    expected = [solve(A[g], B[g]).value for g in range(games)]
    np.testing.assert_allclose(equilibrium_values(A, B), expected, rtol=0, atol=1e-9)


def test_batched_equilibrium_values_refuse_bad_matrices():
    with pytest.raises(ValueError, match="shape \\(G, m, n\\)"):
        equilibrium_values(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="shape \\(G, m, n\\)"):
        equilibrium_values(np.zeros((1, 2, 2)), np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="finite"):
        equilibrium_values(np.full((1, 2, 2), np.nan), np.zeros((1, 2, 2)))


def test_indifferent_agent_gives_the_principal_its_best_cell():
    A = np.array([[0.1, 0.7, 0.3], [0.9, 0.2, 0.4]])
    solution = solve(A, np.zeros((2, 3)))
    assert solution.value == 0.9 and solution.response == 0
    np.testing.assert_array_equal(solution.strategy, [0.0, 1.0])


def test_classic_games_nash_structure():
    assert pure_nash_equilibria(*CLASSIC_GAMES["battle-of-the-sexes"]) == [(0, 0), (1, 1)]
    assert pure_nash_equilibria(*CLASSIC_GAMES["prisoners-dilemma"]) == [(1, 1)]
    dilemma = solve(*CLASSIC_GAMES["prisoners-dilemma"])
    assert dilemma.commitment_gain == pytest.approx(0.0)  # defecting dominates: no gain
    sexes = solve(*CLASSIC_GAMES["battle-of-the-sexes"])
    assert sexes.value == 2.0 and sexes.nash_value == 2.0 and sexes.nash_value_worst == 1.0


def test_best_response_tie_breaks():
    agent = np.array([[1.0, 1.0, 0.5], [1.0, 1.0 - 1e-8, 0.0]])
    principal = np.array([[0.2, 0.9, 1.0], [0.2, 0.9, 1.0]])
    np.testing.assert_array_equal(best_response(agent, principal, "principal"), [1, 1])
    np.testing.assert_array_equal(best_response(agent, principal, "adversarial"), [0, 0])
    np.testing.assert_array_equal(best_response(agent, principal, "principal", 0.0), [1, 0])

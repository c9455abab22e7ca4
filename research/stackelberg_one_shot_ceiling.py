"""The Bayes-optimal ceiling of one-shot adaptation in the one-round Stackelberg game.

Any principal that sees A, plays one adaptation episode (a probe commitment p, observing the
follower's response j = argmax p @ B) and then commits to some x, earns at most

    max_p  sum_j  P(j | A, p)  max_x  E[ x @ A[:, BR_B(x)] | A, response to p is j ]

on average, the expectation over the population's posterior of B given A. This script
estimates it by Monte Carlo for the ``game_population("train")`` preset (B given A drawn from
the preset's Gaussian copula, rho ~ U[0, 0.8]), with p and x on a simplex grid, and reports it
as a fraction of the equilibrium value ``solve(A, B).value`` on held-out games, next to the
zero-shot ceiling (no probe) and the uniform commitment.

    python research/stackelberg_one_shot_ceiling.py --games 40 --grid 20
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.special import ndtr, ndtri

from mermaide.envs.commitment_grid import simplex_grid
from mermaide.envs.games import game_population
from mermaide.envs.stackelberg import solve


def ceilings(A: np.ndarray, B_true: np.ndarray, grid: np.ndarray, samples: int,
             rng: np.random.Generator) -> tuple[float, float, float]:
    """(zero-shot, one-shot, uniform) values for the game (A, B_true) (one-shot: expected
    over the true game's response to the chosen probe, i.e. the value actually earned)."""
    rho = rng.uniform(0.0, 0.8, size=(samples, 1, 1))
    z1 = ndtri(np.clip(A, 1e-12, 1 - 1e-12))
    B = ndtr(rho * z1 + np.sqrt(1.0 - rho ** 2) * rng.standard_normal((samples, *A.shape)))
    # values[s, x]: what commitment x earns against posterior sample s.
    responses = np.argmax(np.einsum("xm,smn->sxn", grid, B), axis=2)       # (S, X)
    values = np.einsum("xm,msx->sx", grid, A[:, responses])                # (S, X)
    zero_shot = int(np.argmax(values.mean(axis=0)))
    # For each probe p (a grid point) and response j: the best commitment given (p, j).
    onehot = np.eye(A.shape[1])[responses]                                 # (S, P, n)
    sums = np.einsum("spj,sx->pjx", onehot, values)                        # (P, n, X)
    best_x = np.argmax(sums, axis=2)                                       # (P, n)
    posterior_value = sums.max(axis=2).sum(axis=1) / samples               # (P,)
    probe = int(np.argmax(posterior_value))
    j_true = int(np.argmax(grid[probe] @ B_true))

    def earned(x: np.ndarray) -> float:
        agent = x @ B_true
        ties = agent >= agent.max() - 1e-9
        return float(np.max(np.where(ties, x @ A, -np.inf)))

    uniform = np.full(A.shape[0], 1.0 / A.shape[0])
    return (earned(grid[zero_shot]), earned(grid[best_x[probe, j_true]]), earned(uniform))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=40)
    parser.add_argument("--grid", type=int, default=20, help="simplex grid steps")
    parser.add_argument("--samples", type=int, default=4000, help="posterior samples of B")
    parser.add_argument("--seed", type=int, default=1234, help="posterior sampling seed")
    parser.add_argument("--games-seed", type=int, default=None,
                        help="draw the games from their own generator (777 = the held-out "
                             "games of stackelberg_one_shot_rl.py); default: from --seed")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    population = game_population("train")
    grid = simplex_grid(3, args.grid)
    rows, values = [], []
    games_rng = rng if args.games_seed is None else np.random.default_rng(args.games_seed)
    for game in population.sample_many(args.games, games_rng):
        values.append(solve(game.A, game.B).value)
        rows.append(ceilings(game.A, game.B, grid, args.samples, rng))
    earned, equilibrium = np.array(rows), np.array(values)
    fractions = earned / equilibrium[:, None]
    print(f"{args.games} games, grid 1/{args.grid}, {args.samples} posterior samples; fractions "
          f"of the equilibrium value")
    for name, column, total in zip(("zero-shot ceiling", "one-shot ceiling", "uniform"),
                                   fractions.T, earned.T, strict=True):
        print(f"{name:18s} mean of fractions {column.mean():.3f}  ratio of means "
              f"{total.mean() / equilibrium.mean():.3f}  median {np.median(column):.3f}  "
              f"games within 10%: {np.mean(column >= 0.9):.2f}")


if __name__ == "__main__":
    main()

"""``"dogan-eps"``: the epsilon-greedy principal of Dogan, Shen & Aswani, "Repeated
Principal-Agent Games with Unobserved Agent Rewards and Perfect-Knowledge Agents" (2023,
arXiv 2304.07407), for ``Mermaide/IncentiveBandit-v0`` with incentives on every arm.

The algorithm, per episode (one ``DoganRun`` over B games at once):

* Every round reveals a preference: the agent took A under the offered vector pi, so
  s_A + pi_A >= s_b + pi_b for every b, i.e. the cut s_b - s_A <= pi_A - pi_b. The principal
  keeps the tightest cut U[a, b] per pair (initially 1, since s is in [0, 1]^K).
* The feasible set of s is the polytope of these cuts. The paper finds a feasible s-hat by a
  linear program; here the cuts are difference constraints, whose LP bounds are shortest
  paths: D[a, b] = max over feasible s of s_b - s_a is the shortest a -> b path over the
  edges U (Floyd-Warshall, exact, batched over games), and tau_hat_a = max_b D[a, b] is the
  least incentive on a alone that every feasible s accepts.
* With probability eps_t = min(1, explore / sqrt(t)) the principal explores: it offers an
  incentive vector drawn uniformly from [0, max_transfer]^K. Otherwise it exploits: it offers
  tau_hat_a + margin_t on a_hat = argmax_a theta_hat_a - tau_hat_a (theta_hat: the mean of
  its gross rewards on a, 1 for an arm never seen), margin_t = margin / sqrt(t).
* Cuts that no s satisfies (a negative cycle: an agent that is not the perfect-knowledge one
  of the model) are dropped and the cut set starts afresh for that game.

Guarantee (the paper's abstract: square-root regret up to a log factor) for the
perfect-knowledge agent (``agent="oracle"``), which best-responds to s + pi exactly; with an
imperfect-knowledge (learning) agent the cuts are not valid, and Liu & Ratliff (arXiv
2412.16318) cite the later imperfect-knowledge version's bound as O(T^(11/12)). What this
implementation keeps of the paper, and what it replaces (the LP by its shortest-path
solution, the schedules of eps_t and of the margin), is stated above.

What was checked, and against what. Dogan et al.'s body was not readable here (its abstract
was: an estimator of s from the offered incentives and the chosen arms, "online inverse
optimization", and square-root regret up to a log factor for the perfect-knowledge agent).
Scheid et al.'s experiments run this policy as their baseline, and their notebook was
readable (``incentivizedlearningbis/Additional-experiments-bis``, ``experiments.ipynb``,
"Principal's epsilon-greedy"). Their reading agrees with this one on: exploration offers an
incentive vector uniform in [s_min, s_max]^K, each observed choice gives the cuts s_b - s_A
<= pi_A - pi_b, a feasible s-hat comes from a linear program over those cuts, and
exploitation pays, on the arm of the best estimated net reward, the estimated incentive plus
a margin. It differs in its constants and schedules, which this one does not copy: eps_t =
min(1, m / t) with m chosen per experiment (100 to 5000; their notes report linear regret at
m = 100, T = 40,000), one round of s_max on each arm first, cuts from exploration rounds only,
any feasible point of the LP (a zero objective) as s-hat, and the margin 2 beta with beta =
sqrt(log(eta) / eta) after eta exploration rounds. Here: eps_t = min(1, explore / sqrt(t)),
cuts from every round (all are valid against the perfect-knowledge agent), the incentive
that every feasible s accepts (not one feasible point's), and margin / sqrt(t). Which of the
two schedules Dogan et al.'s analysis uses could not be checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mermaide.checks import check_int, check_number
from mermaide.principal.incentives import ArmMeans, Game, IncentivePrincipal, one_arm


@dataclass(frozen=True)
class DoganConfig:
    explore: float = 1.0  # eps_t = min(1, explore / sqrt(t)): the exploration rate
    margin: float = 0.01  # margin_t = margin / sqrt(t) added to tau_hat when exploiting
    seed: int = 0  # the principal's random draws (exploration rounds, random incentives)

    def __post_init__(self) -> None:
        check_number("explore", self.explore, low=0.0)
        check_number("margin", self.margin, low=0.0)
        check_int("seed", self.seed, 0)


def shortest_paths(cuts: np.ndarray) -> np.ndarray:
    """(B, K, K) edge weights -> (B, K, K) shortest path lengths (Floyd-Warshall)."""
    distance = cuts.copy()
    for via in range(cuts.shape[1]):
        np.minimum(distance, distance[:, :, via:via + 1] + distance[:, via:via + 1, :],
                   out=distance)
    return distance


class DoganRun:
    """Dogan et al.'s policy over B games of one episode (see the module docstring)."""

    def __init__(self, batch: int, game: Game, config: DoganConfig, rng: np.random.Generator):
        self.batch, self.game, self.config, self.rng = batch, game, config, rng
        k = game.n_arms
        self.cuts = self._fresh_cuts(batch)
        self.means = ArmMeans(batch, k)
        self._rows = np.arange(batch)
        self._stale = True
        self.t = 0

    def _fresh_cuts(self, batch: int) -> np.ndarray:
        k = self.game.n_arms
        cuts = np.ones((batch, k, k))
        cuts[:, np.arange(k), np.arange(k)] = 0.0
        return cuts

    def incentives(self) -> np.ndarray:
        """(B, K) tau_hat_a = max_b D[a, b], the least incentive every feasible s accepts."""
        if self._stale:
            distance = shortest_paths(self.cuts)
            broken = (np.diagonal(distance, axis1=1, axis2=2) < -1e-12).any(axis=1)
            if broken.any():
                self.cuts[broken] = self._fresh_cuts(int(broken.sum()))
                distance[broken] = shortest_paths(self.cuts[broken])
            self._tau = np.clip(distance.max(axis=2), 0.0, None)
            self._stale = False
        return self._tau

    def offers(self) -> np.ndarray:
        k, t = self.game.n_arms, self.t + 1
        tau = self.incentives()
        theta = self.means.means(1.0)
        arms = np.argmax(theta - tau, axis=1)
        amounts = tau[self._rows, arms] + self.config.margin / math.sqrt(t)
        offered = one_arm(self.game, arms, amounts)
        explore = self.rng.random(self.batch) < min(1.0, self.config.explore / math.sqrt(t))
        random = self.rng.uniform(0.0, self.game.max_transfer, size=(self.batch, k))
        return np.where(explore[:, None], random, offered)

    def update(self, arms: np.ndarray, rewards: np.ndarray, transfers: np.ndarray) -> None:
        # The cuts use what the game applied (``transfers``), not what was asked for.
        pi = transfers
        # The cut of each game: s_b - s_A <= pi_A - pi_b for every b.
        bound = pi[self._rows, arms][:, None] - pi
        row = self.cuts[self._rows, arms]
        tighter = bound < row
        if tighter.any():
            self.cuts[self._rows, arms] = np.minimum(row, bound)
            self._stale = True
        self.means.add(arms, rewards)
        self.t += 1


class DoganEpsilon(IncentivePrincipal):
    """``"dogan-eps"``: Dogan et al.'s epsilon-greedy principal (see the module docstring).
    It plays every action type; its exploration offers a vector, which ``"single"`` and
    ``"discrete"`` reduce to its largest entry: the cut is then that of the offer applied."""

    name = "dogan-eps"
    config_class = DoganConfig

    def new_run(self, batch: int, game: Game, rng: np.random.Generator,
                info: dict[str, Any]) -> DoganRun:
        return DoganRun(batch, game, self.config, rng)

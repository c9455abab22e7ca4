"""``"steer-margin"``: estimate the incentive of the best net arm, then pay it plus a margin
chosen from the horizon, so that a no-regret learner is steered onto that arm; after the
reduction of Zhang, Farina, Anagnostides, Cacciamani, McAleer, Haupt, Celli, Gatti, Conitzer
& Sandholm, "Steering No-Regret Learners to a Desired Equilibrium" (arXiv 2306.05221), for
``Mermaide/IncentiveBandit-v0``.

The algorithm, per episode of T rounds over K arms (one ``SteerRun`` over B games at once):

1. Estimation: for each arm k in turn, a binary search for tau_k to the precision of the
   margin, depth ceil(log2(max_transfer / alpha)), in which each step is a block of
   ``block`` rounds offering the midpoint on k alone and reads "k is accepted" as "the agent
   took k in at least half of the block": a learner answers an incentive over several rounds,
   not at once. The principal's gross rewards on every arm it sees are averaged (theta_hat).
2. Steering: a* = argmax_a theta_hat_a - tau_hat_a (theta_hat 1 for an arm never seen);
   every remaining round it pays tau_hat_{a*} + alpha on a*, alpha = margin * T^(-1/4).

Why alpha ~ T^(-1/4): with the payment, a* beats every other arm by at least alpha in the
agent's (transfer-included) reward, so a learner with regret R(T) plays another arm at most
R(T) / alpha times; for R(T) ~ sqrt(T) (Exp3, Hedge) that is T^(3/4), and the margin costs
alpha T = T^(3/4) too, the balance of the two. The guarantee assumes a no-regret (Exp3 /
Hedge-like) agent whose regret bound holds against the transfer-included rewards; it also
steers the perfect-knowledge agent (which has no regret), at the price of the margin and the
longer estimation.

Checked against Zhang et al.'s abstract (arXiv 2306.05221, v2 to v4; the body was not read):
a finite total budget cannot steer no-regret learners, vanishing average payments can, and
when only the actions taken are observed, constant per-round payments suffice in normal-form
games (a one-shot choice among arms is one). Their mediator knows the game it steers; this
principal estimates tau first, the problem that Zhang, Lin, Chen & Sandholm (arXiv
2503.01976) later solve for arbitrary no-regret learners by learning the agents' utilities
with payments. The block test, the T^(-1/4) margin and the constants are this
implementation's, not theirs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mermaide.checks import check_int, check_number
from mermaide.principal.incentives import ArmMeans, Game, IncentivePrincipal, one_arm


@dataclass(frozen=True)
class SteerConfig:
    margin: float = 1.0  # alpha = margin * T^(-1/4), the payment above tau_hat
    block: int = 5  # rounds per step of the search; accepted = taken in at least half
    seed: int = 0  # unused by the algorithm (it draws nothing); kept for the common protocol

    def __post_init__(self) -> None:
        check_number("margin", self.margin, low=0.0)
        check_int("block", self.block, 1)
        check_int("seed", self.seed, 0)


class SteerRun:
    """The estimate-then-steer policy over B games of one episode (module docstring)."""

    def __init__(self, batch: int, game: Game, config: SteerConfig):
        self.batch, self.game, self.config = batch, game, config
        k = game.n_arms
        self.alpha = config.margin * game.horizon ** -0.25
        precision = max(self.alpha, game.max_transfer / game.horizon)
        self.depth = max(1, math.ceil(math.log2(game.max_transfer / precision)))
        self.low = np.zeros((batch, k))
        self.high = np.full((batch, k), game.max_transfer)
        self.taken = np.zeros(batch)
        self.means = ArmMeans(batch, k)
        self._rows = np.arange(batch)
        self.t = 0

    @property
    def estimation_rounds(self) -> int:
        return self.game.n_arms * self.depth * self.config.block

    def _searched_arm(self) -> int:
        return self.t // (self.depth * self.config.block)

    def offers(self) -> np.ndarray:
        if self.t < self.estimation_rounds:
            arm = self._searched_arm()
            middle = (self.low[:, arm] + self.high[:, arm]) / 2.0
            return one_arm(self.game, np.full(self.batch, arm), middle)
        theta = self.means.means(1.0)
        arms = np.argmax(theta - self.high, axis=1)
        return one_arm(self.game, arms, self.high[self._rows, arms] + self.alpha)

    def update(self, arms: np.ndarray, rewards: np.ndarray, transfers: np.ndarray) -> None:
        if self.t < self.estimation_rounds:
            arm = self._searched_arm()
            self.taken += arms == arm
            if (self.t + 1) % self.config.block == 0:
                middle = (self.low[:, arm] + self.high[:, arm]) / 2.0
                accepted = 2 * self.taken >= self.config.block
                self.high[:, arm] = np.where(accepted, middle, self.high[:, arm])
                self.low[:, arm] = np.where(accepted, self.low[:, arm], middle)
                self.taken = np.zeros(self.batch)
        self.means.add(arms, rewards)
        self.t += 1


class SteerMargin(IncentivePrincipal):
    """``"steer-margin"``: estimate tau, then steer with a margin (see the module docstring)."""

    name = "steer-margin"
    config_class = SteerConfig

    def new_run(self, batch: int, game: Game, rng: np.random.Generator,
                info: dict[str, Any]) -> SteerRun:
        return SteerRun(batch, game, self.config)

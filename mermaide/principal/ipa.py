"""``"ipa"``: the Incentivized Principal Algorithm of Scheid, Tiapkin, Boursier, Capitaine,
El-Mhamdi, Moulines, Jordan & Durmus, "Incentivized Learning in Principal-Agent Bandit Games"
(ICML 2024, arXiv 2403.03811), for ``Mermaide/IncentiveBandit-v0``.

The algorithm, per episode of T rounds over K arms (one ``IPARun`` over B games at once):

1. Search: for each arm k in turn, ceil(log2 T) rounds of binary search for the least
   incentive that makes the agent take k. The interval starts at [0, max_transfer]; each
   round offers its midpoint on k alone; the agent taking k lowers the upper end to it,
   any other arm raises the lower end. After the search the upper end tau_hat_k is an
   incentive the agent was seen to accept, within max_transfer / T of the least one.
2. Exploitation: UCB on the principal's net reward. Arm k's index is
   mean_k - tau_hat_k + sqrt(2 log T / n_k), where mean_k is the mean of the principal's
   gross rewards (theta draws) seen on k, search rounds included; each round the principal
   offers tau_hat_k + 1/T^2 on the arm with the largest index.

Guarantee (as stated by the paper's abstract and the issue that asked for it: regret nearly
optimal in T; the K * ceil(log2 T) search rounds plus UCB's O(sqrt(K T log T))): regret
against max_a (theta_a - tau_a) with tau_a = max s - s_a. It assumes the perfect-knowledge
agent (the game's ``agent="oracle"``): it plays argmax_a s_a + pi_a every round, without
noise or learning. Against a learning agent the search reads a learner's momentary choice as
its preference, which it is not; the game lets one measure what that costs.

``search=False`` skips the search (every tau_hat is 0: UCB alone, paying nothing): the
ablation that the tests use to show that the regret test can fail.

What was checked, and against what. The paper's body was not readable here (its abstract
and introduction were); the authors' own experiments were: a notebook that runs IPA next to
Dogan et al.'s epsilon-greedy and UCB (``incentivizedlearningbis/Additional-experiments-bis``,
``experiments.ipynb``, the perfect-knowledge agent argmax(s + pi), theta drawn N(theta, 1)).
It confirms the steps above: the search interval [0, s_max - s_min] (here [0,
max_transfer]), K * ceil(log2 T) search rounds offering the interval's midpoint on one arm,
the upper end lowered to the midpoint when the agent takes that arm and the lower end
raised otherwise, then UCB with every arm tried first, paying the upper end + 1/T^2 on the
chosen arm. It differs in three places, kept here on purpose: (1) it visits the arms
round-robin (arm t mod K) where this one searches arm by arm (the same halvings; against the
perfect-knowledge agent the same tau_hat); (2) its UCB restarts its counts when the search
ends and averages net rewards, where this one keeps the search rounds' draws of theta and
subtracts tau_hat (the same index up to the common 1/T^2, from more samples); (3) its UCB
constant is c = 4 in sqrt(c log T / n) ("for 1-subgaussian" noise), this one's default is
c = 2, UCB1's for rewards in [0, 1] (the game's draws are theta in [0, 1] plus noise of std
0.1 by default); ``exploration=4`` is theirs. The paper's exact regret bound and constants
were not checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mermaide.checks import check_bool, check_int, check_number
from mermaide.principal.incentives import (
    ArmMeans,
    Game,
    IncentivePrincipal,
    one_arm,
    search_rounds,
)


@dataclass(frozen=True)
class IPAConfig:
    search: bool = True  # the binary search for tau (False: the ablation, tau_hat = 0)
    exploration: float = 2.0  # UCB's c in sqrt(c log T / n)
    margin_power: float = 2.0  # the exploitation margin 1 / T^margin_power (the paper's 1/T^2)
    seed: int = 0  # unused by the algorithm (it draws nothing); kept for the common protocol

    def __post_init__(self) -> None:
        check_bool("search", self.search)
        check_number("exploration", self.exploration, low=0.0)
        check_number("margin_power", self.margin_power, low=0.0)
        check_int("seed", self.seed, 0)


class IPARun:
    """IPA over B games of one episode (see the module docstring)."""

    def __init__(self, batch: int, game: Game, config: IPAConfig):
        self.batch, self.game, self.config = batch, game, config
        k, horizon = game.n_arms, game.horizon
        self.depth = search_rounds(horizon) if config.search else 0
        self.low = np.zeros((batch, k))
        self.high = np.full((batch, k), game.max_transfer)
        if not config.search:
            self.high[:] = 0.0
        self.means = ArmMeans(batch, k)
        self.margin = horizon ** -config.margin_power
        self.log_horizon = math.log(max(horizon, 2))
        self._rows = np.arange(batch)
        self.t = 0

    @property
    def searching(self) -> bool:
        return self.t < self.game.n_arms * self.depth

    def offers(self) -> np.ndarray:
        if self.searching:
            arm = self.t // self.depth
            arms = np.full(self.batch, arm)
            return one_arm(self.game, arms, (self.low[:, arm] + self.high[:, arm]) / 2.0)
        arms = self.chosen_arms()
        amounts = self.high[self._rows, arms]
        amounts = np.where(amounts > 0.0, amounts + self.margin, 0.0)
        return one_arm(self.game, arms, amounts)

    def chosen_arms(self) -> np.ndarray:
        """(B,) the UCB arm on the net reward mean - tau_hat (untried arms first)."""
        counts = self.means.counts
        bonus = np.sqrt(self.config.exploration * self.log_horizon / np.maximum(counts, 1.0))
        index = self.means.means(0.0) - self.high + bonus
        return np.argmax(np.where(counts > 0, index, np.inf), axis=1)

    def update(self, arms: np.ndarray, rewards: np.ndarray, transfers: np.ndarray) -> None:
        if self.searching:
            arm = self.t // self.depth
            middle = (self.low[:, arm] + self.high[:, arm]) / 2.0
            took = arms == arm
            self.high[:, arm] = np.where(took, middle, self.high[:, arm])
            self.low[:, arm] = np.where(took, self.low[:, arm], middle)
        self.means.add(arms, rewards)
        self.t += 1


class IPA(IncentivePrincipal):
    """``"ipa"``: Scheid et al.'s IPA (see the module docstring); ``IPA(search=False)`` is the
    ablation without the search."""

    name = "ipa"
    config_class = IPAConfig

    def new_run(self, batch: int, game: Game, rng: np.random.Generator,
                info: dict[str, Any]) -> IPARun:
        return IPARun(batch, game, self.config)

"""``"oracle"``: the reference principal of ``Mermaide/IncentiveBandit-v0``, which knows the
agent's means s and its own means theta.

The benchmark of Dogan et al. (arXiv 2304.07407) and Scheid et al. (ICML 2024, arXiv
2403.03811): the principal that knows s and theta pays tau_{a*} = max s - s_{a*} on
a* = argmax_a theta_a - tau_a every round and nothing elsewhere. The perfect-knowledge agent
then takes a* (the game breaks its tie between a* and its own best arm in favour of the arm
with the larger transfer), so the regret against max_a (theta_a - tau_a) is 0 in every round:
in expectation exactly, and its realised return differs from the benchmark by the noise of
theta's draws only. (The benchmark and the per-round regret max_a (theta_a - tau_a) -
(theta_A - tau_A) are those of Scheid et al.'s experiments notebook,
``incentivizedlearningbis/Additional-experiments-bis``, which was readable; the papers'
bodies were not.) Against a learning agent the same payments need not move the agent, and
the regret can be positive (or negative: a learner may take a* for free).

It is a white-box principal: it reads the episode's task from the reset info (``info["agent"]``,
an ``IncentiveTask`` whose ``agent_means`` and ``principal_means`` the game documents as its
model); for the native vector env, ``OracleRun`` takes the reset info's (N, K)
``agent_means`` and ``principal_means``. With the ``"discrete"`` action type the payment is
rounded up to the grid, which costs up to one grid step per round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mermaide.checks import check_int
from mermaide.principal.incentives import Game, IncentivePrincipal, one_arm


@dataclass(frozen=True)
class OracleConfig:
    seed: int = 0  # unused (the oracle draws nothing); kept for the common protocol

    def __post_init__(self) -> None:
        check_int("seed", self.seed, 0)


class OracleRun:
    """Pays tau_{a*} on a* in each of B games, given their means s and theta (B, K)."""

    def __init__(self, game: Game, agent_means: np.ndarray, principal_means: np.ndarray):
        s = np.atleast_2d(np.asarray(agent_means, dtype=np.float64))
        theta = np.atleast_2d(np.asarray(principal_means, dtype=np.float64))
        tau = s.max(axis=1, keepdims=True) - s
        arms = np.argmax(theta - tau, axis=1)
        self.transfers = one_arm(game, arms, tau[np.arange(s.shape[0]), arms])

    def offers(self) -> np.ndarray:
        return self.transfers

    def update(self, arms: np.ndarray, rewards: np.ndarray, transfers: np.ndarray) -> None:
        """Nothing to learn: the oracle knows the game."""


class Oracle(IncentivePrincipal):
    """``"oracle"``: pays tau_{a*} on a* (see the module docstring)."""

    name = "oracle"
    config_class = OracleConfig

    def new_run(self, batch: int, game: Game, rng: np.random.Generator,
                info: dict[str, Any]) -> OracleRun:
        task = info.get("agent")
        means = (getattr(task, "agent_means", None), getattr(task, "principal_means", None))
        if means[0] is None or means[1] is None:
            raise ValueError("'oracle' reads the task's agent_means and principal_means from "
                             "the reset info['agent'] (an IncentiveTask); this game's reset "
                             "info has none")
        return OracleRun(game, means[0], means[1])

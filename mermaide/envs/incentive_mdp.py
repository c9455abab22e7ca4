"""Incentive design on a gridworld, ``Mermaide/IncentiveMDP-v0`` (the incentive-design problem
of Shen, Yang, Chen, ICML 2024, arXiv 2402.06886): the principal pays costed, budgeted
incentives per (state, action) of a follower's MDP; the follower answers with the
entropy-regularised optimal policy on its reward plus the incentives; the principal earns its
own reward for the follower's behaviour minus what the incentives cost it.

``IncentiveGame`` is one game (the two reward tables on a grid's dynamics),
``IncentiveMDPKnobs`` its knob signature, ``IncentiveMDPFamily`` its rules for
``mermaide.envs.bilevel_forms``'s batched core (in numpy: playing the game does not import
torch), whose ``problem`` builds the white-box model ``mermaide.bilevel.IncentiveModel`` that
the forms' public ``bilevel_model()`` returns; ``IncentiveMDPEnv`` (Gymnasium),
``IncentiveMDPVectorEnv`` (``gym.make_vec``) and ``IncentiveMDPParallelEnv`` (PettingZoo,
``parallel_env()``) are its forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from mermaide.checks import check_int, check_number, check_size
from mermaide.envs.bilevel_forms import (
    BilevelEnv,
    BilevelFamily,
    BilevelParallelEnv,
    BilevelVectorEnv,
    FollowerMDPs,
    check_follower_knobs,
    check_reset_game,
    set_game_tables,
    stack_tables,
)
from mermaide.envs.knobs import NUM_ENVS, Knobs, knob_signature

if TYPE_CHECKING:
    from mermaide.bilevel import IncentiveModel

__all__ = [
    "MOVES",
    "IncentiveGame",
    "IncentiveMDPEnv",
    "IncentiveMDPFamily",
    "IncentiveMDPKnobs",
    "IncentiveMDPParallelEnv",
    "IncentiveMDPVectorEnv",
    "grid_transitions",
    "incentive_mdp_parallel",
    "parallel_env",
]

# The follower's actions: (row, column) steps; a move into the border stays in place.
MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))
# A game's tables, in the order of its fields.
TABLES = ("follower_rewards", "principal_rewards", "transitions", "initial")


def grid_transitions(rows: int, cols: int, slip: float) -> np.ndarray:
    """(S, 4, S) dynamics of a rows x cols grid (state = row * cols + col): the chosen move
    with probability 1 - slip, else a uniformly drawn move of the four (itself included)."""
    s = rows * cols
    moved = np.zeros((s, len(MOVES), s))
    for state in range(s):
        r, c = divmod(state, cols)
        for a, (dr, dc) in enumerate(MOVES):
            nr, nc = min(max(r + dr, 0), rows - 1), min(max(c + dc, 0), cols - 1)
            moved[state, a, nr * cols + nc] = 1.0
    return (1.0 - slip) * moved + slip * moved.mean(axis=1, keepdims=True)


@dataclass(frozen=True, eq=False)
class IncentiveGame:
    """One incentive-design game: follower_rewards r and principal_rewards u, both (S, A),
    on the dynamics transitions (S, A, S) from the start distribution initial (S,)."""

    follower_rewards: np.ndarray
    principal_rewards: np.ndarray
    transitions: np.ndarray
    initial: np.ndarray

    def __post_init__(self) -> None:
        set_game_tables(self, TABLES, ("S", "A"), lambda s, a: ((s, a), (s, a, s), (s,)))

    @property
    def shape(self) -> tuple[int, int]:
        """(S, A)."""
        s, a = self.follower_rewards.shape
        return int(s), int(a)

    @staticmethod
    def random(rows: int, cols: int, slip: float, rng: np.random.Generator) -> IncentiveGame:
        """A grid whose cells pay the follower and the principal rewards uniform in [0, 1]
        (each for being in the cell, whatever the move), starting in the top-left cell."""
        s = rows * cols
        follower = np.repeat(rng.random(s)[:, None], len(MOVES), axis=1)
        principal = np.repeat(rng.random(s)[:, None], len(MOVES), axis=1)
        initial = np.zeros(s)
        initial[0] = 1.0
        return IncentiveGame(follower, principal, grid_transitions(rows, cols, slip), initial)


@dataclass(frozen=True, kw_only=True)
class IncentiveMDPKnobs(Knobs):
    """Every knob of ``Mermaide/IncentiveMDP-v0``. ``intervention_cost`` is the principal's
    price of a unit of incentive that the follower collects; the budget is
    ``incentive_budget`` (a total of incentives, not a count), so the shared count budget,
    observation noise and visibility are fixed."""

    rows: int = 3
    cols: int = 3
    slip: float = 0.1
    gamma: float = 0.9
    tau: float = 0.1
    max_incentive: float = 1.0
    incentive_budget: float | None = None
    instance: int = 0
    intervention_cost: float = 1.0
    intervention_budget: int | None = field(default=None, init=False)
    observation_noise: float = field(default=0.0, init=False)
    principal_observes: str = field(default="actions", init=False)

    def __post_init__(self) -> None:
        check_size("rows", self.rows)
        check_size("cols", self.cols)
        check_number("slip", self.slip, low=0.0, high=1.0)
        check_follower_knobs(self.gamma, self.tau)
        check_number("max_incentive", self.max_incentive, low=0.0, low_open=True)
        if self.incentive_budget is not None:
            check_number("incentive_budget", self.incentive_budget, low=0.0, low_open=True)
        check_int("instance", self.instance, 0)
        super().__post_init__()


def paid_incentives(offer: np.ndarray, budget: float | None) -> np.ndarray:
    """The incentives (B, S, A) the game pays for offers: each offer itself, or scaled down
    to total ``budget`` when it asks for more (``mermaide.bilevel.paid_incentives`` in
    numpy)."""
    if budget is None:
        return offer
    total = offer.sum(axis=(-2, -1), keepdims=True)
    return offer * np.minimum(budget / np.maximum(total, 1e-300), 1.0)


class IncentiveMDPFamily(BilevelFamily):
    """The rules of ``Mermaide/IncentiveMDP-v0`` for the shared bilevel forms."""

    def __init__(self, **knobs: Any):
        self.knobs: IncentiveMDPKnobs = IncentiveMDPKnobs(**knobs)
        rows, cols, slip = self.knobs.rows, self.knobs.cols, float(self.knobs.slip)
        self.game = IncentiveGame.random(rows, cols, slip,
                                         np.random.default_rng(self.knobs.instance))
        self.gamma, self.tau = float(self.knobs.gamma), float(self.knobs.tau)
        self.n_states, self.n_actions = self.game.shape

    def default_game(self) -> IncentiveGame:
        return self.game

    def check_game(self, game: Any) -> IncentiveGame:
        return check_reset_game(game, self.game, "an IncentiveGame",
                                ("follower_rewards", "principal_rewards"), 0.0, 1.0,
                                "the observation space's bounds")

    def follower_reward_bounds(self) -> tuple[float, float]:
        return 0.0, 1.0 + float(self.knobs.max_incentive)

    def observation_space(self) -> spaces.Box:
        return spaces.Box(0.0, 1.0, shape=(2 * self.n_states * self.n_actions,),
                          dtype=np.float32)

    def action_space(self) -> spaces.Box:
        return spaces.Box(0.0, float(self.knobs.max_incentive),
                          shape=(self.n_states * self.n_actions,), dtype=np.float32)

    def observe(self, games: Sequence[IncentiveGame]) -> np.ndarray:
        return np.stack([np.concatenate([g.follower_rewards.ravel(),
                                         g.principal_rewards.ravel()])
                         for g in games]).astype(np.float32)

    def decode(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        offer = actions.reshape(-1, self.n_states, self.n_actions)
        budget = self.knobs.incentive_budget
        refused = (np.zeros(len(actions), dtype=bool) if budget is None
                   else offer.sum(axis=(-2, -1)) > budget)
        return offer, refused

    def lower(self, games: Sequence[IncentiveGame], x: np.ndarray) -> FollowerMDPs:
        r, _, P, rho = stack_tables(games, TABLES)
        return FollowerMDPs(r + paid_incentives(x, self.knobs.incentive_budget), P, rho)

    def upper_rewards(self, games: Sequence[IncentiveGame], x: np.ndarray) -> np.ndarray:
        (u,) = stack_tables(games, ("principal_rewards",))
        return u - float(self.knobs.intervention_cost) * paid_incentives(
            x, self.knobs.incentive_budget)

    def problem(self, game: IncentiveGame) -> IncentiveModel:
        # mermaide.bilevel is torch: imported by the white-box door only.
        from mermaide.bilevel import IncentiveModel

        knobs = self.knobs
        return IncentiveModel(game.follower_rewards, game.principal_rewards, game.transitions,
                              game.initial, self.gamma, self.tau, float(knobs.max_incentive),
                              knobs.incentive_budget, float(knobs.intervention_cost))

    def step_info(self, x: np.ndarray) -> dict[str, np.ndarray]:
        paid = paid_incentives(x, self.knobs.incentive_budget)
        return {"incentives": paid.copy(), "incentive_total": paid.sum(axis=(-2, -1))}


# --- the forms --------------------------------------------------------------------------------


class IncentiveMDPEnv(BilevelEnv):
    """Incentive design: the principal posts per-(state, action) incentives on a follower's
    gridworld MDP, the follower answers with its entropy-regularised optimal policy, the
    principal earns its own reward for that behaviour minus the incentives' cost.

    ## Description
    The follower moves on a rows x cols grid (state = row * cols + col; four moves up, down,
    left, right, a move into the border stays; with probability ``slip`` a uniformly drawn
    move replaces the chosen one), from the top-left cell, discount gamma. Each cell pays the
    follower r(s) and the principal u(s), both uniform in [0, 1] (drawn from ``instance``).
    The principal offers an incentive x(s, a) in [0, max_incentive] on every (state, action);
    with ``incentive_budget`` an offer whose total exceeds it is scaled down to it. The
    follower plays the unique optimal policy pi*_x of its entropy-regularised MDP on r + x
    (temperature tau, by soft value iteration to 1e-10). White-box principals read the game
    through ``bilevel_model()`` (a ``mermaide.bilevel.IncentiveModel``; through wrappers
    ``env.get_wrapper_attr("bilevel_model")()``).

    ## Action Space
    ``Box(0, max_incentive, (S * 4,), float32)``: x(s, a), row-major by state.

    ## Observation Space
    ``Box(0, 1, (2 S * 4,), float32)``: the follower's reward table, then the principal's,
    flattened; the same at reset and after the step (the game is the task).

    ## Rewards
    The principal's normalised value (1 - gamma) E[sum_t gamma^t (u(s_t, a_t) -
    intervention_cost * x(s_t, a_t))] with the follower on pi*_x, computed exactly (a linear
    solve, no sampling): it pays the incentive of every (state, action) the follower takes.

    ## Starting State
    The knobs' game; ``reset(options={"game": IncentiveGame(...)})`` plays another of the
    same shape (rewards in [0, 1]).

    ## Episode End
    Terminates after the one offer.

    ## Arguments
    rows, cols (>= 1, default 3 x 3), slip ([0, 1], default 0.1), gamma ([0, 1), default 0.9),
    tau (> 0, default 0.1), max_incentive (> 0, default 1.0), incentive_budget (None =
    unlimited, or > 0: the most total incentive paid), intervention_cost (>= 0, default 1.0:
    the principal's price of a unit of incentive collected), instance (>= 0, default 0: the
    seed of the reward tables).

    ## Info
    ``reset``: ``game`` (the IncentiveGame). ``step``: ``leader_value`` (= the reward),
    ``follower_value`` (its normalised regularised value (1 - gamma) J_x(pi)),
    ``follower_gap`` (0 here: the follower is exact), ``policy`` (pi*_x, (S, 4)),
    ``incentives`` (the paid table, (S, 4)), ``incentive_total`` and ``refused`` (the offer
    exceeded the budget and was scaled down).

    ## Version History
    * v0: initial version.
    """

    @knob_signature(IncentiveMDPKnobs)
    def __init__(self, **knobs: Any):
        super().__init__(IncentiveMDPFamily, knobs)


class IncentiveMDPVectorEnv(BilevelVectorEnv):
    """``IncentiveMDPEnv`` (same arguments) as ``gym.make_vec``'s native form; its reset
    option ``{"games": [IncentiveGame, ...]}`` plays a game per sub-environment."""

    @knob_signature(IncentiveMDPKnobs, NUM_ENVS)
    def __init__(self, num_envs: int = 1, **knobs: Any):
        super().__init__(num_envs, IncentiveMDPFamily, knobs)


class IncentiveMDPParallelEnv(BilevelParallelEnv):
    """Incentive design with the follower played from outside, in PettingZoo's parallel form
    (``parallel_env()``).

    ## Description
    The game of ``IncentiveMDPEnv`` in two rounds. Round 1: the principal offers x; the
    agent's action is checked and not played (it has not seen x yet). Round 2: the agent,
    having seen its MDP (r + x, the grid's dynamics, the start), answers with a policy; the
    principal's action is checked and not played. An agent that answers pi*_x is the
    Gymnasium form's follower.

    ## Action Space
    ``"principal"``: ``IncentiveMDPEnv``'s. ``"agent"``: ``Box(0, 1, (S * 4,), float32)``:
    weights per state, normalised (all 0: uniform).

    ## Observation Space
    ``"principal"``: ``IncentiveMDPEnv``'s. ``"agent"``: ``Box`` of shape
    (1 + 4 S + 4 S^2 + S,): the round flag (1 once x is offered), then r + x, the dynamics and
    the start; all zeros in round 1 and after the end.

    ## Rewards
    0 in round 1. Round 2: ``"principal"`` its normalised value against the agent's policy
    (incentives paid on what the agent does), ``"agent"`` its normalised regularised value.

    ## Starting State
    As ``IncentiveMDPEnv`` (reset option ``{"game": IncentiveGame(...)}``).

    ## Episode End
    Both players terminate after round 2; there is no truncation.

    ## Arguments
    The knobs of ``IncentiveMDPEnv``, with the same defaults and checks.

    ## Info
    Round 1: the principal gets ``refused``. Round 2: ``leader_value`` and ``refused``; the
    agent nothing. ``env.game_info`` holds the Gymnasium form's step info for harnesses.

    ## Version History
    * v0: initial version.
    """

    @knob_signature(IncentiveMDPKnobs)
    def __init__(self, **knobs: Any):
        super().__init__(IncentiveMDPFamily, knobs, "mermaide_incentive_mdp_v0")


def parallel_env(**knobs: Any) -> IncentiveMDPParallelEnv:
    """Incentive design as a PettingZoo parallel env; knobs as ``IncentiveMDPEnv``."""
    return IncentiveMDPParallelEnv(**knobs)


# The name mermaide.envs exports.
incentive_mdp_parallel = parallel_env

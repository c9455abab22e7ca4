"""The Stackelberg Markov game ``Mermaide/StackelbergMarkov-v0`` (Shen, Yang, Chen, ICML 2024,
arXiv 2402.06886): the leader commits to a state-dependent mixed policy, the follower answers
with the entropy-regularised optimal policy of the MDP that the commitment induces.

``MarkovGame`` is one game (payoffs, transitions, start), ``StackelbergMarkovKnobs`` its knob
signature, ``StackelbergMarkovFamily`` its rules for ``mermaide.envs.bilevel_forms``'s
batched core (in numpy: playing the game does not import torch), whose ``problem`` builds
the white-box model ``mermaide.bilevel.CommitmentModel`` that the forms' public
``bilevel_model()`` returns; ``StackelbergMarkovEnv`` (Gymnasium), ``StackelbergMarkovVectorEnv``
(``gym.make_vec``) and ``StackelbergMarkovParallelEnv`` (PettingZoo, ``parallel_env()``) are
its forms. With one state the game is the bimatrix game (A, B) whose strong Stackelberg value
``mermaide.envs.solve`` computes, which the follower's answer approaches as tau -> 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from mermaide.checks import check_int, check_size
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
from mermaide.envs.equilibrium import solve
from mermaide.envs.knobs import NUM_ENVS, Knobs, knob_signature

if TYPE_CHECKING:
    from mermaide.bilevel import CommitmentModel

__all__ = [
    "MarkovGame",
    "StackelbergMarkovEnv",
    "StackelbergMarkovFamily",
    "StackelbergMarkovKnobs",
    "StackelbergMarkovParallelEnv",
    "StackelbergMarkovVectorEnv",
    "parallel_env",
    "stackelberg_markov_parallel",
]


# A game's tables, in the order of its fields.
TABLES = ("leader_payoffs", "follower_payoffs", "transitions", "initial")


@dataclass(frozen=True, eq=False)
class MarkovGame:
    """One Stackelberg Markov game with S states, m leader and n follower actions.

    leader_payoffs A and follower_payoffs B: (S, m, n), the stage payoffs when the leader
    plays i and the follower j in state s; transitions P: (S, m, n, S), rows summing to 1;
    initial: (S,) the start distribution. ``MarkovGame.bimatrix(A, B)`` is the one-state game
    of a bimatrix game, ``MarkovGame.random(...)`` a game drawn from a generator.
    """

    leader_payoffs: np.ndarray
    follower_payoffs: np.ndarray
    transitions: np.ndarray
    initial: np.ndarray

    def __post_init__(self) -> None:
        set_game_tables(self, TABLES, ("S", "m", "n"),
                        lambda s, m, n: ((s, m, n), (s, m, n, s), (s,)))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(S, m, n)."""
        s, m, n = self.leader_payoffs.shape
        return int(s), int(m), int(n)

    @staticmethod
    def bimatrix(A: Any, B: Any) -> MarkovGame:
        """The one-state game of the bimatrix game (A, B) (m x n each)."""
        A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
        if A.ndim != 2 or A.shape != B.shape:
            raise ValueError(f"a bimatrix game is two m x n arrays, got shapes {A.shape} and "
                             f"{B.shape}")
        m, n = A.shape
        return MarkovGame(A[None], B[None], np.ones((1, m, n, 1)), np.ones(1))

    @staticmethod
    def random(n_states: int, leader_actions: int, follower_actions: int,
               rng: np.random.Generator) -> MarkovGame:
        """Payoffs uniform in [0, 1], each transition row a flat Dirichlet draw, a uniform
        start: every draw from ``rng``."""
        shape = (n_states, leader_actions, follower_actions)
        A, B = rng.random(shape), rng.random(shape)
        P = rng.dirichlet(np.ones(n_states), size=shape)
        return MarkovGame(A, B, P, np.full(n_states, 1.0 / n_states))

    @cached_property
    def equilibrium_value(self) -> float | None:
        """The strong Stackelberg value of a one-state game (``solve``); None with more
        states (the solver is for bimatrix games)."""
        if self.shape[0] != 1:
            return None
        return float(solve(self.leader_payoffs[0], self.follower_payoffs[0]).value)


@dataclass(frozen=True, kw_only=True)
class StackelbergMarkovKnobs(Knobs):
    """Every knob of ``Mermaide/StackelbergMarkov-v0``. The commitment is the only lever: the
    shared knobs are fixed (no interventions, no observation noise; the principal sees the
    game)."""

    game: Any = "random"
    n_states: int = 3
    leader_actions: int = 2
    follower_actions: int = 2
    gamma: float = 0.9
    tau: float = 0.1
    instance: int = 0
    intervention_budget: int | None = field(default=0, init=False)
    intervention_cost: float = field(default=0.0, init=False)
    observation_noise: float = field(default=0.0, init=False)
    principal_observes: str = field(default="actions", init=False)

    def __post_init__(self) -> None:
        check_size("n_states", self.n_states)
        check_size("leader_actions", self.leader_actions)
        check_size("follower_actions", self.follower_actions)
        check_follower_knobs(self.gamma, self.tau)
        check_int("instance", self.instance, 0)
        game = self.game
        if isinstance(game, str):
            if game != "random":
                raise ValueError(f"game must be 'random', a pair (A, B) or a MarkovGame, got "
                                 f"{game!r}")
        elif not isinstance(game, MarkovGame):
            if not (isinstance(game, tuple | list) and len(game) == 2):
                raise ValueError(f"game must be 'random', a pair (A, B) or a MarkovGame, got "
                                 f"{game!r}")
            try:
                MarkovGame.bimatrix(*game)
            except (TypeError, ValueError) as error:
                raise ValueError(f"game must be 'random', a pair (A, B) of m x n payoff "
                                 f"arrays or a MarkovGame, got {game!r} ({error})") from None
        super().__post_init__()

    def make_game(self) -> MarkovGame:
        """The game the knobs name: drawn from ``instance`` for "random"."""
        if isinstance(self.game, MarkovGame):
            return self.game
        if isinstance(self.game, str):
            return MarkovGame.random(self.n_states, self.leader_actions,
                                     self.follower_actions, np.random.default_rng(self.instance))
        return MarkovGame.bimatrix(*self.game)


class StackelbergMarkovFamily(BilevelFamily):
    """The rules of ``Mermaide/StackelbergMarkov-v0`` for the shared bilevel forms."""

    def __init__(self, **knobs: Any):
        self.knobs: StackelbergMarkovKnobs = StackelbergMarkovKnobs(**knobs)
        self.game = self.knobs.make_game()
        self.gamma, self.tau = float(self.knobs.gamma), float(self.knobs.tau)
        self.n_states, self.m, self.n_actions = self.game.shape
        # The observation's payoff bounds: [0, 1] (the random games' range) widened to the
        # knobs' game; a game reset in must fit them (check_game).
        tables = np.concatenate([self.game.leader_payoffs.ravel(),
                                 self.game.follower_payoffs.ravel()])
        self.low, self.high = min(0.0, float(tables.min())), max(1.0, float(tables.max()))

    def default_game(self) -> MarkovGame:
        return self.game

    def check_game(self, game: Any) -> MarkovGame:
        return check_reset_game(game, self.game, "a MarkovGame",
                                ("leader_payoffs", "follower_payoffs"), self.low, self.high,
                                "the observation space's bounds: the knobs' game and [0, 1]")

    def follower_reward_bounds(self) -> tuple[float, float]:
        return self.low, self.high

    def observation_space(self) -> spaces.Box:
        s, m, n = self.game.shape
        payoffs = 2 * s * m * n
        probabilities = s * m * n * s + s
        low = np.concatenate([np.full(payoffs, self.low), np.zeros(probabilities)])
        high = np.concatenate([np.full(payoffs, self.high), np.ones(probabilities)])
        return spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)

    def action_space(self) -> spaces.Box:
        return spaces.Box(0.0, 1.0, shape=(self.n_states * self.m,), dtype=np.float32)

    def observe(self, games: Sequence[MarkovGame]) -> np.ndarray:
        return np.stack([np.concatenate([g.leader_payoffs.ravel(), g.follower_payoffs.ravel(),
                                         g.transitions.ravel(), g.initial])
                         for g in games]).astype(np.float32)

    def decode(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        weights = actions.reshape(-1, self.n_states, self.m)
        total = weights.sum(axis=-1, keepdims=True)
        x = np.where(total > 0, weights / np.where(total > 0, total, 1.0), 1.0 / self.m)
        return x, np.zeros(len(actions), dtype=bool)

    def lower(self, games: Sequence[MarkovGame], x: np.ndarray) -> FollowerMDPs:
        """r_x(s, j) = sum_i x(i | s) B(s, i, j), P_x(s' | s, j) = sum_i x(i | s)
        P(s' | s, i, j) for the commitments x (B, S, m)."""
        _, B, P, rho = stack_tables(games, TABLES)
        return FollowerMDPs(np.einsum("bsi,bsij->bsj", x, B),
                            np.einsum("bsi,bsijt->bsjt", x, P), rho)

    def upper_rewards(self, games: Sequence[MarkovGame], x: np.ndarray) -> np.ndarray:
        """The leader's sum_i x(i | s) A(s, i, j)."""
        (A,) = stack_tables(games, ("leader_payoffs",))
        return np.einsum("bsi,bsij->bsj", x, A)

    def problem(self, game: MarkovGame) -> CommitmentModel:
        # mermaide.bilevel is torch: imported by the white-box door only.
        from mermaide.bilevel import CommitmentModel

        return CommitmentModel(game.leader_payoffs, game.follower_payoffs, game.transitions,
                               game.initial, self.gamma, self.tau)

    def reset_info(self, game: MarkovGame) -> dict[str, Any]:
        value = game.equilibrium_value
        return {} if value is None else {"equilibrium_value": value}

    def step_info(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {"strategy": x.copy()}


# --- the forms --------------------------------------------------------------------------------


class StackelbergMarkovEnv(BilevelEnv):
    """A Stackelberg Markov game: the leader commits to a policy, the follower answers with
    its entropy-regularised optimal policy, the leader is paid its value.

    ## Description
    A game has S states, m leader and n follower actions, stage payoffs A (leader) and B
    (follower) of shape (S, m, n), transitions P(s' | s, i, j) and a start distribution rho.
    The principal (leader) commits to a mixed policy x(. | s) over its m actions in every
    state. The follower knows x and plays the unique optimal policy pi*_x of its
    entropy-regularised MDP M_tau(x): rewards r_x(s, j) = sum_i x(i | s) B(s, i, j),
    transitions P_x(s' | s, j) = sum_i x(i | s) P(s' | s, i, j), discount gamma, entropy
    temperature tau (pi*_x = softmax(Q*/tau), by soft value iteration to 1e-10). With one
    state it is the bimatrix game (A, B): pi*_x = softmax(x @ B / tau) approaches the best
    response as tau -> 0, and the leader's best value the strong Stackelberg value of
    ``mermaide.envs.solve``. White-box principals read the game through ``bilevel_model()``
    (a ``mermaide.bilevel.CommitmentModel``, x the leader's logits; through wrappers
    ``env.get_wrapper_attr("bilevel_model")()``).

    ## Action Space
    ``Box(0, 1, (S * m,), float32)``: weights w, row-major by state; x(. | s) = w[s] /
    sum(w[s]) (a state whose weights are all 0 plays uniformly).

    ## Observation Space
    ``Box`` of shape (2 S m n + S^2 m n + S,), float32: A, B, P and rho, flattened
    row-major; the same at reset and after the step (the game is the task). Payoff bounds:
    [0, 1] widened to the knobs' game; a game reset in must fit them.

    ## Rewards
    The leader's normalised value (1 - gamma) E_rho[sum_t gamma^t sum_i x(i | s_t)
    A(s_t, i, j_t)] with the follower on pi*_x, computed exactly (a linear solve, no sampling).

    ## Starting State
    The knobs' game; ``reset(options={"game": MarkovGame(...)})`` plays another of the same
    shape (``MarkovGame.bimatrix(A, B)``: a bimatrix game).

    ## Episode End
    Terminates after the one commitment.

    ## Arguments
    game (``"random"``: drawn from ``instance``; a pair (A, B): the one-state bimatrix game,
    whose shape replaces n_states, leader_actions and follower_actions; or a MarkovGame),
    n_states (>= 1, default 3), leader_actions (>= 1, default 2), follower_actions (>= 1,
    default 2), gamma ([0, 1), default 0.9), tau (> 0, default 0.1), instance (>= 0, default
    0: the seed of the random game; payoffs uniform in [0, 1], Dirichlet(1) transitions,
    uniform start).

    ## Info
    ``reset``: ``game`` (the MarkovGame) and, with one state, ``equilibrium_value`` (the strong
    Stackelberg value). ``step``: ``leader_value`` (= the reward), ``follower_value`` (its
    normalised regularised value (1 - gamma) J_x(pi)), ``follower_gap`` (0 here: the
    follower is exact; the PettingZoo form's external agent can fall short), ``policy`` (the
    follower's pi*_x, (S, n)), ``strategy`` (the decoded x, (S, m)), ``refused`` (always
    False) and, with one state, ``equilibrium_value``.

    ## Version History
    * v0: initial version.
    """

    @knob_signature(StackelbergMarkovKnobs)
    def __init__(self, **knobs: Any):
        super().__init__(StackelbergMarkovFamily, knobs)


class StackelbergMarkovVectorEnv(BilevelVectorEnv):
    """``StackelbergMarkovEnv`` (same arguments) as ``gym.make_vec``'s native form; its reset
    option ``{"games": [MarkovGame, ...]}`` plays a game per sub-environment."""

    @knob_signature(StackelbergMarkovKnobs, NUM_ENVS)
    def __init__(self, num_envs: int = 1, **knobs: Any):
        super().__init__(num_envs, StackelbergMarkovFamily, knobs)


class StackelbergMarkovParallelEnv(BilevelParallelEnv):
    """The Stackelberg Markov game with the follower played from outside, in PettingZoo's
    parallel form (``parallel_env()``).

    ## Description
    The game of ``StackelbergMarkovEnv`` in two rounds. Round 1: the principal commits to x;
    the agent's action is checked and not played (it has not seen x yet). Round 2: the agent,
    having seen its MDP M_tau(x), answers with a policy; the principal's action is checked and
    not played. An agent that answers pi*_x is the Gymnasium form's follower.

    ## Action Space
    ``"principal"``: ``StackelbergMarkovEnv``'s ``Box(0, 1, (S * m,))``. ``"agent"``:
    ``Box(0, 1, (S * n,), float32)``: weights per state, normalised (all 0: uniform).

    ## Observation Space
    ``"principal"``: ``StackelbergMarkovEnv``'s. ``"agent"``: ``Box`` of shape
    (1 + S n + S^2 n + S,): the round flag (1 once x is committed), then r_x, P_x and rho;
    all zeros in round 1 and after the end.

    ## Rewards
    0 in round 1. Round 2: ``"principal"`` its normalised value against the agent's policy,
    ``"agent"`` its normalised regularised value (1 - gamma) J_x(pi).

    ## Starting State
    As ``StackelbergMarkovEnv`` (reset option ``{"game": MarkovGame(...)}``).

    ## Episode End
    Both players terminate after round 2; there is no truncation.

    ## Arguments
    The knobs of ``StackelbergMarkovEnv``, with the same defaults and checks.

    ## Info
    Round 1: the principal gets ``refused``. Round 2: ``leader_value`` and ``refused``; the
    agent nothing. ``env.game_info`` holds the Gymnasium form's step info for harnesses
    (``follower_gap`` is the agent's shortfall from pi*_x).

    ## Version History
    * v0: initial version.
    """

    @knob_signature(StackelbergMarkovKnobs)
    def __init__(self, **knobs: Any):
        super().__init__(StackelbergMarkovFamily, knobs, "mermaide_stackelberg_markov_v0")


def parallel_env(**knobs: Any) -> StackelbergMarkovParallelEnv:
    """The Stackelberg Markov game as a PettingZoo parallel env; knobs as
    ``StackelbergMarkovEnv``."""
    return StackelbergMarkovParallelEnv(**knobs)


# The name mermaide.envs exports.
stackelberg_markov_parallel = parallel_env

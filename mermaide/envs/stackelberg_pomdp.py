"""The Stackelberg POMDP ``Mermaide/StackelbergPOMDP-v0`` (Brero, Eden, Chakrabarti,
Gerstgrasser, Greenwald, Li, Parkes, arXiv 2210.03852; code GlcBrero/StackelbergPOMDP): the
leader commits to a policy, the follower learns a response to it inside the episode, and only
then is the leader scored.

Each episode has two phases. In the *response phase* the follower runs a no-regret learner
(multiplicative weights) against the leader's commitment, in full sweeps over its actions, and
the leader's reward is 0. In the *reward phase* the leader is scored on games against the
strategy the follower has learnt. Because the leader's actor sees nothing that tells the
phases apart, its policy is one commitment for the whole episode, and the optimal policy of
this POMDP is the Stackelberg commitment (the paper's Theorem; the repository's "StackPOMDP").

``StackelbergPOMDPKnobs`` is the game's knob signature, written once for all its forms.
``StackelbergPOMDPCore`` simulates N episodes in lockstep with (N, ...) arrays;
``StackelbergPOMDPEnv`` is its N = 1 Gymnasium form, ``StackelbergPOMDPVectorEnv`` its native
``gym.make_vec`` form and ``StackelbergPOMDPParallelEnv`` its PettingZoo form with the
follower as a player (``parallel_env()`` and, AEC, ``env()``); a message game's PettingZoo form
is ``MessagePOMDPParallelEnv``, the leader alone (``parallel_env(game=...)`` chooses the form
by the game). ``ActorObservation`` strips the critic's privileged ``critic:`` keys, so that
any Gymnasium learner sees the plain POMDP.
``POMDP_GAMES`` holds the presets and ``preset_values`` their exact values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv, ParallelEnv

from mermaide.agents.base import softmax_rows
from mermaide.checks import check_bool, check_choice, check_number, check_size
from mermaide.envs.equilibrium import best_response, solve
from mermaide.envs.games import MatrixGame
from mermaide.envs.knobs import NUM_ENVS, Knobs, knob_signature, misreport_actions
from mermaide.envs.message_games import (
    MECHANISM,
    MESSAGE_GAMES,
    MessageGame,
    MessageGameValues,
    message_game,
    message_game_values,
)
from mermaide.envs.parallel import PRINCIPAL, TwoPlayerParallelEnv, aec_env, valid_action
from mermaide.envs.repeated_stackelberg import (
    ACTION_TYPES,
    strategies_from,
    strategy_bounds,
    strategy_parameters,
)
from mermaide.envs.vector import LockstepVectorEnv, single_info

__all__ = [
    "CRITIC_PREFIX",
    "POMDP_GAMES",
    "ActorObservation",
    "MessagePOMDPParallelEnv",
    "PresetValues",
    "StackelbergPOMDPCore",
    "StackelbergPOMDPEnv",
    "StackelbergPOMDPKnobs",
    "StackelbergPOMDPParallelEnv",
    "StackelbergPOMDPVectorEnv",
    "env",
    "is_critic_key",
    "parallel_env",
    "pomdp_game",
    "preset_values",
    "pure_commitment",
    "raw_env",
]

# --- the presets ------------------------------------------------------------------------------

# Textbook payoffs (A: leader, B: follower; rows: leader actions, columns: follower actions).
# ``pomdp_game`` plays them divided by their largest entry (of either matrix), as
# GlcBrero/StackelbergPOMDP's ``MatrixGame`` does, so that ``epsilon`` means what it means there.
POMDP_GAMES: dict[str, tuple[list[list[float]], list[list[float]]]] = {
    # Conitzer, "On Stackelberg mixed strategies" (Synthese, 2016; the repository's comment
    # says 2017), the repository's "game_3":
    # row 0 dominates for the leader, so Nash gives it 1; committing to row 1 gives 2, and
    # committing to (1/2, 1/2) (the follower breaking its tie for the leader) gives 2.5.
    "conitzer": ([[1.0, 3.0], [0.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]]),
    # The repository's "game_4", next to Conitzer's game and unattributed there (issue 18 calls
    # it the Conitzer game's companion): column 1 is dominant for the follower, so committing,
    # pure or mixed, earns what Nash does, 1 (row 0): a control where leadership gains nothing.
    "brero-game-4": ([[3.0, 1.0], [2.0, 0.0]], [[2.0, 3.0], [0.0, 1.0]]),
    # The two 3x3 games of Zhang et al. 2020 (Bi-level Actor-Critic), the repository's "game_1"
    # and "game_2"; BiAC's own code (laonahongchen/Bilevel-Optimization-in-Coordination-Game,
    # bilevel_pg/bilevelpg/environment/matrix_game.py) has the same matrices as "penalty" and
    # "climbing". The names "Escape" and "Maintain" (issue 18) are not found in either code, and
    # the paper's text was not readable here: unconfirmed, so the presets keep neutral names.
    # Game 1, common interest: a Nash equilibrium worth 15 to both at (0, 0), the best cell
    # (2, 2) worth 30 (itself a Nash equilibrium and the Stackelberg outcome).
    "zhang2020-game-1": ([[15.0, 10.0, 0.0], [10.0, 10.0, 0.0], [0.0, 0.0, 30.0]],
                         [[15.0, 10.0, 0.0], [10.0, 10.0, 0.0], [0.0, 0.0, 30.0]]),
    # Game 2: the Nash equilibria are worth 10 and 5 to the leader; committing to row 0 is worth
    # 20 (not a Nash equilibrium: against column 0 the leader would rather play row 1, worth
    # 30) and the mixed commitment (1/4, 3/4, 0) 27.5.
    "zhang2020-game-2": ([[20.0, 0.0, 0.0], [30.0, 10.0, 0.0], [0.0, 0.0, 5.0]],
                         [[15.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 10.0]]),
}


def pomdp_game(name: str) -> MatrixGame:
    """The preset ``name`` as played: both matrices divided by their largest entry."""
    check_choice("game", name, tuple(POMDP_GAMES))
    A, B = (np.array(matrix, dtype=np.float64) for matrix in POMDP_GAMES[name])
    scale = max(np.abs(A).max(), np.abs(B).max())
    return MatrixGame(A / scale, B / scale, name=name)


def pure_commitment(A: Any, B: Any) -> tuple[int, float]:
    """(leader action, value) of the best pure commitment: every row i against the follower's
    best response to it, ties broken in the leader's favour (the strong convention of
    ``solve``; then the lowest index), the best row first on ties."""
    game = MatrixGame(A, B)
    responses = best_response(game.B, game.A, "principal", 0.0)
    values = game.A[np.arange(game.shape[0]), responses]
    row = int(np.argmax(values))
    return row, float(values[row])


@dataclass(frozen=True)
class PresetValues:
    """The exact values of a game to the leader (in the played, scaled payoffs).

    mixed: the strong Stackelberg value of committing to a mixed strategy (``solve``), reached
    by ``mixed_strategy``. pure: the best pure commitment's value, reached by ``pure_action``.
    """

    mixed: float
    mixed_strategy: np.ndarray
    pure: float
    pure_action: int


def preset_values(game: str | MatrixGame | MessageGame) -> PresetValues | MessageGameValues:
    """The mixed- and pure-commitment values of a preset (by name), of a MatrixGame, or of a
    MessageGame (its exact optimum, ``message_game_values``)."""
    if isinstance(game, str) and game in MESSAGE_GAMES:
        game = message_game(game)
    if isinstance(game, MessageGame):
        return message_game_values(game)
    played = pomdp_game(game) if isinstance(game, str) else game
    solution = solve(played.A, played.B)
    action, value = pure_commitment(played.A, played.B)
    return PresetValues(solution.value, np.array(solution.strategy), value, action)


# --- the knobs --------------------------------------------------------------------------------

FOLLOWERS = ("mw", "quantal", "q_learning")
COMMITMENTS = ("mixed", "pure")
# What of the follower the leader's actor sees before it acts in a game: "nothing" (the
# paper's matrix games, one commitment per episode) or "actions" (the follower's action in
# this game, flipped with probability observation_noise: a reactive leader, one commitment per
# observed action, as the repository's reactive leader observation).
OBSERVES_NOTHING, OBSERVES_FOLLOWER_ACTIONS = "nothing", "actions"
OBSERVES = (OBSERVES_NOTHING, OBSERVES_FOLLOWER_ACTIONS)
DEVIATIONS = ("replace", "raise")
# Shared knobs this game has no use for: it has no interventions.
NO_INTERVENTIONS = ("intervention_budget", "intervention_cost")
GameArgument = str | MatrixGame | MessageGame | tuple[Any, Any]


PRESETS = (*POMDP_GAMES, *MESSAGE_GAMES)


def is_message_game(game: object) -> bool:
    """Whether ``game`` is a ``MessageGame`` or names one (``MESSAGE_GAMES``)."""
    return isinstance(game, MessageGame) or (isinstance(game, str) and game in MESSAGE_GAMES)


def game_from_argument(game: GameArgument) -> MatrixGame | MessageGame:
    if isinstance(game, MessageGame):
        return game
    if isinstance(game, str):
        if game in MESSAGE_GAMES:
            return message_game(game)
        if game not in POMDP_GAMES:
            raise ValueError(f"game must be a preset ({', '.join(PRESETS)}), a MatrixGame, "
                             f"a MessageGame or a pair (A, B), got {game!r}")
        return pomdp_game(game)
    if isinstance(game, MatrixGame):
        return game
    if isinstance(game, tuple) and len(game) == 2:
        return MatrixGame(*game)
    raise ValueError(f"game must be a preset ({', '.join(PRESETS)}), a MatrixGame, a "
                     f"MessageGame or a pair (A, B), got {game!r}")


def matrix_game_from_argument(game: GameArgument) -> MatrixGame:
    """The matrix game of a knob that is known not to name a message game."""
    played = game_from_argument(game)
    assert isinstance(played, MatrixGame)
    return played


@dataclass(frozen=True, kw_only=True)
class StackelbergPOMDPKnobs(Knobs):
    """Every knob of ``Mermaide/StackelbergPOMDP-v0`` (see ``StackelbergPOMDPEnv``'s
    Arguments), validated once for all its forms."""

    OBSERVES: ClassVar[tuple[str, ...]] = OBSERVES

    game: GameArgument = "conitzer"
    follower: str = "mw"
    epsilon: float = 0.1
    temperature: float = 0.05
    alpha: float = 0.1
    response_steps: int = 100
    reward_steps: int = 1
    commitment: str = "mixed"
    action_type: str = "weights"
    on_deviation: str = "replace"
    hide_response_phase: bool = False
    principal_observes: str = OBSERVES_NOTHING

    def __post_init__(self) -> None:
        game_from_argument(self.game)
        check_choice("follower", self.follower, FOLLOWERS)
        check_number("epsilon", self.epsilon, low=0.0, low_open=True)
        check_number("temperature", self.temperature, low=0.0, low_open=True)
        check_number("alpha", self.alpha, low=0.0, high=1.0, low_open=True)
        # Sizes: an episode of response_steps * n + reward_steps games (times the message
        # profiles) must stay within numpy's int64, or it overflows into a negative length.
        check_size("response_steps", self.response_steps, 0)
        check_size("reward_steps", self.reward_steps, 1)
        check_choice("commitment", self.commitment, COMMITMENTS)
        check_choice("action_type", self.action_type, ACTION_TYPES)
        check_choice("on_deviation", self.on_deviation, DEVIATIONS)
        check_bool("hide_response_phase", self.hide_response_phase)
        super().__post_init__()
        if is_message_game(self.game):
            self._check_message_game()
        if self.hide_response_phase and self.principal_observes != OBSERVES_NOTHING:
            raise ValueError(f"hide_response_phase=True needs principal_observes="
                             f"{OBSERVES_NOTHING!r} (the env plays the response phase itself "
                             f"and cannot ask the leader what it commits to at observations it "
                             f"has not yet seen), got principal_observes="
                             f"{self.principal_observes!r}")

    def _check_message_game(self) -> None:
        """What a message game cannot take: its leader always sees the message profile (the
        mechanism reads it), so there is nothing to misreport, and a posted-price mechanism is
        not a choice among actions."""
        game = self.game.name if isinstance(self.game, MessageGame) else self.game
        why = "the leader's signal is the followers' message profile, by the game's rules"
        if self.principal_observes != OBSERVES_NOTHING:
            raise ValueError(f"principal_observes must be {OBSERVES_NOTHING!r} with game="
                             f"{game!r} ({why}), got {self.principal_observes!r}")
        if self.observation_noise != 0.0:
            raise ValueError(f"observation_noise must be 0 with game={game!r} ({why}), got "
                             f"{self.observation_noise!r}")
        if game == "spm-pi" and self.commitment != "mixed":
            raise ValueError(f"commitment must be 'mixed' with game='spm-pi' (its action is a "
                             f"mechanism, Box [0, 1]^4), got {self.commitment!r}")


# --- the batched core -------------------------------------------------------------------------

RESPONSE, REWARD = 0, 1


def learn_from_sweep(knobs: StackelbergPOMDPKnobs, log_weights: np.ndarray,
                     totals: np.ndarray, utilities: np.ndarray, sweeps: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The built-in follower's update after its ``sweeps``-th sweep, on arrays of any shape
    whose last axis holds its actions: ``(log_weights, totals)`` from the sweep's expected
    ``utilities`` (the strategy is the softmax of the log-weights over the last axis)."""
    if knobs.follower == "mw":
        return log_weights + knobs.epsilon * utilities, totals
    if knobs.follower == "q_learning":
        # The values move a step alpha towards this sweep's utilities; the strategy is
        # Boltzmann over them (log-weights Q / temperature).
        totals = totals + knobs.alpha * (utilities - totals)
        return totals / knobs.temperature, totals
    totals = totals + utilities
    return totals / (sweeps * knobs.temperature), totals


def commit(commitments: np.ndarray, committed: np.ndarray, signal: np.ndarray,
           actions: np.ndarray, on_deviation: str) -> tuple[np.ndarray, np.ndarray]:
    """Record or enforce the commitment: ``commitments`` (N, signals, d) and ``committed``
    (N, signals) are updated in place with the leader's ``actions`` (N, d) at each episode's
    ``signal`` (N,) where none is recorded yet; returns the actions played (the recorded ones)
    and which sub-envs deviated from theirs (more than 1e-9 apart)."""
    rows = np.arange(len(signal))
    known = committed[rows, signal]
    recorded = commitments[rows, signal]
    deviated = known & ~np.all(np.abs(recorded - actions) <= 1e-9, axis=1)
    if on_deviation == "raise" and deviated.any():
        index = int(np.flatnonzero(deviated)[0])
        raise ValueError(f"the leader must keep its commitment for the episode: at signal "
                         f"{int(signal[index])} it committed to {recorded[index].tolist()} "
                         f"and now plays {actions[index].tolist()} (sub-env {index}; "
                         f"on_deviation='replace' plays the commitment instead)")
    new = ~known
    commitments[rows[new], signal[new]] = actions[new]
    committed[rows[new], signal[new]] = True
    return commitments[rows, signal].copy(), deviated


class PhasedCore:
    """What the two cores share: an episode of ``horizon`` games, the first
    ``response_games`` the response phase (the followers learn, the leader is paid 0), the
    ``reward_games`` after it the reward phase (the leader is paid its value); the leader's
    commitment recorded per signal (``commit``); and the critic's view of the phase. A core
    sets ``batch``, ``knobs``, ``signals``, ``response_games``, ``reward_games`` and
    ``horizon`` when it is built, and ``t``, ``signal``, ``commitments``, ``committed`` and
    ``reward_sum`` at every reset."""

    batch: int
    knobs: StackelbergPOMDPKnobs
    signals: int
    response_games: int
    reward_games: int
    horizon: int
    t: int
    signal: np.ndarray
    commitments: np.ndarray
    committed: np.ndarray
    reward_sum: np.ndarray
    _rows: np.ndarray

    def _phase_space(self, weights: int) -> spaces.Dict:
        """The observation space, ``weights`` numbers of the followers' strategies."""
        return spaces.Dict({
            "signal": spaces.Discrete(self.signals),
            "critic:phase": spaces.Discrete(2),
            "critic:phase_progress": spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32),
            "critic:follower_weights": spaces.Box(0.0, 1.0, shape=(weights,), dtype=np.float32),
        })

    def in_response_phase(self) -> bool:
        return self.t < self.response_games

    def _observe(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The observation before game t, the followers' strategies ``weights`` (N, ...)."""
        if self.in_response_phase():
            phase, progress = RESPONSE, self.t / self.response_games
        else:
            phase = REWARD
            progress = min(1.0, (self.t - self.response_games) / self.reward_games)
        return {
            "signal": self.signal.astype(np.int64),
            "critic:phase": np.full(self.batch, phase, dtype=np.int64),
            "critic:phase_progress": np.full((self.batch, 1), progress, dtype=np.float32),
            "critic:follower_weights": weights.astype(np.float32),
        }

    def action_mask(self) -> np.ndarray:
        """(N, d) bool, pure commitments: the actions that still have an effect in the coming
        game (all before the commitment at its signal is recorded, the committed one after)."""
        rows = self._rows
        known = self.committed[rows, self.signal]
        return np.where(known[:, None], self.commitments[rows, self.signal] > 0.5, True)

    def _settle(self, response: bool, leader_value: np.ndarray, outcome: dict[str, np.ndarray]
                ) -> tuple[np.ndarray, bool, dict[str, np.ndarray]]:
        """End game t, its phase ``response``: the leader's reward (its value in the reward
        phase, summed for the episode's ``reward_phase_mean``), whether the episode is done,
        and the step info: the phase and signal, then the game's ``outcome``."""
        if response:
            reward = np.zeros(self.batch)
        else:
            reward = leader_value
            self.reward_sum += reward
        info = {"reward_phase": np.full(self.batch, not response),
                "signal": self.signal.copy(), **outcome}
        self.t += 1
        done = self.t >= self.horizon
        if done:
            info["reward_phase_mean"] = self.reward_sum / self.knobs.reward_steps
        return reward, done, info


class StackelbergPOMDPCore(PhasedCore):
    """N episodes of one game (m leader actions, n follower actions) in lockstep.

    Game t of an episode is a response game while ``t < response_steps * n`` (unless the
    response phase is hidden), a reward game after. Response game t queries follower action
    ``k = t % n``: the leader plays its commitment x, the follower records its expected
    utility ``x @ B[:, k]``; after the sweep's n-th game it updates its strategy once from the
    whole vector u (n,): multiplicative weights ``w *= exp(epsilon * u)``, normalised (so
    after t sweeps of a fixed commitment ``w = softmax(epsilon * t * u)``), or the quantal
    (logit) response ``softmax(mean u / temperature)`` to the mean utility of the sweeps so
    far, or Q-learning: values ``Q += alpha * (u - Q)`` from 0, played as
    ``softmax(Q / temperature)``. Reward games leave the strategy p as it is and pay the leader
    ``x @ A @ p``, expected over both players' mixed strategies; when the leader observes the
    follower's action, the follower's action j is drawn from p (the leader reacts to it) and
    the leader gets ``x @ A[:, j]``.

    The commitment: per episode and per leader observation (its ``"signal"``), the first
    strategy the leader plays is recorded; a later different one (more than 1e-9 apart) is
    replaced by the recorded one and flagged in ``info["deviated"]``, or refused with a
    ValueError (``on_deviation="raise"``).

    ``external_follower``: the follower's actions come from outside (``step(...,
    follower_actions)``), one per game; its strategy (in the critic's observation) is then the
    empirical frequency of its response-phase actions.
    """

    def __init__(self, game: MatrixGame, batch: int, knobs: StackelbergPOMDPKnobs,
                 external_follower: bool = False):
        self.game, self.batch, self.knobs = game, batch, knobs
        self.A, self.B = game.A, game.B
        self.m, self.n = game.shape
        self.external_follower = external_follower
        self.hidden = knobs.hide_response_phase
        self.reactive = knobs.principal_observes == OBSERVES_FOLLOWER_ACTIONS
        self.signals = self.n if self.reactive else 1
        self.response_games = 0 if self.hidden else knobs.response_steps * self.n
        self.reward_games = knobs.reward_steps
        self.horizon = self.response_games + self.reward_games
        self._rows = np.arange(batch)

    def observation_space(self) -> spaces.Dict:
        return self._phase_space(self.n)

    # --- the episode --------------------------------------------------------------------------

    def reset(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        batch, n = self.batch, self.n
        self.t = 0
        self.log_weights = np.zeros((batch, n))
        self.sweep_utilities = np.zeros((batch, n))
        self.total_utilities = np.zeros((batch, n))
        self.counts = np.zeros((batch, n))
        self.sweeps = 0
        self.commitments = np.zeros((batch, self.signals, self.m))
        self.committed = np.zeros((batch, self.signals), dtype=bool)
        self.reward_sum = np.zeros(batch)
        self._next_game(rng)
        return self.observation()

    def strategy(self) -> np.ndarray:
        """(N, n) the follower's current mixed strategy."""
        if self.external_follower:
            seen = self.counts.sum(axis=1, keepdims=True)
            return np.where(seen > 0, self.counts / np.maximum(seen, 1.0), 1.0 / self.n)
        return softmax_rows(self.log_weights)

    def _next_game(self, rng: np.random.Generator) -> None:
        """Draw what the leader sees before the coming game (t): the follower's action."""
        if self.t >= self.horizon:
            self.follower_action = np.full(self.batch, -1)
        elif self.in_response_phase():
            self.follower_action = np.full(self.batch, self.t % self.n)
        elif self.reactive:
            cumulative = np.cumsum(self.strategy(), axis=1)
            draws = rng.random((self.batch, 1))
            self.follower_action = np.minimum((draws > cumulative).sum(axis=1), self.n - 1)
        else:
            self.follower_action = np.full(self.batch, -1)
        if self.reactive and self.t < self.horizon:
            self.signal = misreport_actions(self.follower_action, self.n,
                                            self.knobs.observation_noise, rng)
        else:
            self.signal = np.zeros(self.batch, dtype=np.int64)

    def observation(self) -> dict[str, np.ndarray]:
        return self._observe(self.strategy())

    def _commit(self, strategies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return commit(self.commitments, self.committed, self.signal, strategies,
                      self.knobs.on_deviation)

    def _update_follower(self, utilities: np.ndarray) -> None:
        self.sweeps += 1
        self.log_weights, self.total_utilities = learn_from_sweep(
            self.knobs, self.log_weights, self.total_utilities, utilities, self.sweeps)

    def step(self, strategies: np.ndarray, rng: np.random.Generator,
             follower_actions: np.ndarray | None = None
             ) -> tuple[dict[str, np.ndarray], np.ndarray, bool, dict[str, np.ndarray]]:
        """Play game t of all N episodes with the leaders' (N, m) strategies (rows in the
        simplex); ``follower_actions`` (N,) exactly when the follower is external."""
        if (follower_actions is None) == self.external_follower:
            raise ValueError("follower_actions must be given exactly when "
                             "external_follower=True")
        if self.t >= self.horizon:
            raise RuntimeError("step() called after the episode ended")
        rows = self._rows
        x, deviated = self._commit(strategies)
        if self.hidden and self.t == 0:
            # The basic POMDP: the response phase runs here, against the first commitment.
            for _ in range(self.knobs.response_steps):
                self._update_follower(x @ self.B)
        response = self.in_response_phase()
        strategy = self.strategy()
        if follower_actions is not None:
            action = np.asarray(follower_actions, dtype=np.int64)
        else:
            action = self.follower_action
        if response or action[0] >= 0:
            follower_reward = np.einsum("bm,mb->b", x, self.B[:, action])
            leader_value = np.einsum("bm,mb->b", x, self.A[:, action])
        else:
            follower_reward = np.einsum("bm,mn,bn->b", x, self.B, strategy)
            leader_value = np.einsum("bm,mn,bn->b", x, self.A, strategy)
        outcome = {
            "follower_action": action.copy(),
            "commitment": x,
            "deviated": deviated,
            "follower_reward": follower_reward,
            "leader_value": leader_value,
            "follower_strategy": strategy,
        }
        if response:
            if self.external_follower:
                self.counts[rows, action] += 1.0
            else:
                self.sweep_utilities[:, self.t % self.n] = follower_reward
                if self.t % self.n == self.n - 1:
                    self._update_follower(self.sweep_utilities)
                    self.sweep_utilities = np.zeros_like(self.sweep_utilities)
        reward, done, info = self._settle(response, leader_value, outcome)
        self._next_game(rng)
        return self.observation(), reward, done, info


class MessagePOMDPCore(PhasedCore):
    """N episodes of a ``MessageGame`` (followers with private types send messages, the
    leader acts on the message profile) in lockstep.

    Each follower type starts with a uniform strategy over the messages. Games are played in
    sweeps over the S signals (message profiles), in order: game t shows signal ``t % S``.
    The first ``response_steps`` sweeps are the response phase (leader reward 0): after each
    one, every type of every follower updates its strategy once, from the expected utility of
    each of its messages against the leader's commitments and the other followers' current
    strategies (their types drawn from their priors), by the built-in learner of the matrix
    games (``learn_from_sweep``). The ``reward_steps`` sweeps after it pay the leader, at signal
    s, its payoff expected over the type profiles and messages that give s, so that a sweep
    pays exactly the leader's expected payoff against the learnt strategies. The commitment
    is recorded and enforced per signal as in ``StackelbergPOMDPCore``.

    ``hide_response_phase`` (the basic POMDP): the leader cannot be asked for its commitments
    before it has seen every signal, so one sweep (leader reward 0) records them, the whole
    response phase then runs at once at its end, and the reward sweeps follow.
    """

    def __init__(self, game: MessageGame, batch: int, knobs: StackelbergPOMDPKnobs):
        self.game, self.batch, self.knobs = game, batch, knobs
        self.signals, self.d = game.signals, game.action_dim
        self.hidden = knobs.hide_response_phase
        sweeps = 1 if self.hidden else knobs.response_steps
        self.response_games = sweeps * self.signals
        self.reward_games = knobs.reward_steps * self.signals
        self.horizon = self.response_games + self.reward_games
        self._bounds = np.cumsum((0, *game.types))
        self._rows = np.arange(batch)

    def observation_space(self) -> spaces.Dict:
        return self._phase_space(sum(self.game.types) * self.game.messages)

    def reset(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        shape = (self.batch, sum(self.game.types), self.game.messages)
        self.t, self.sweeps = 0, 0
        self.log_weights, self.totals = np.zeros(shape), np.zeros(shape)
        self.commitments = np.zeros((self.batch, self.signals, self.d))
        self.committed = np.zeros((self.batch, self.signals), dtype=bool)
        self.reward_sum = np.zeros(self.batch)
        self.signal = np.zeros(self.batch, dtype=np.int64)
        return self.observation()

    def strategies(self) -> list[np.ndarray]:
        """Follower f's strategy (N, types_f, messages), for each follower."""
        weights = np.exp(self.log_weights - self.log_weights.max(axis=2, keepdims=True))
        weights /= weights.sum(axis=2, keepdims=True)
        return [weights[:, low:high] for low, high in
                zip(self._bounds[:-1], self._bounds[1:], strict=True)]

    def observation(self) -> dict[str, np.ndarray]:
        return self._observe(self._flat(self.strategies()))

    def _flat(self, strategies: list[np.ndarray]) -> np.ndarray:
        """(N, sum of types x messages): every follower type's strategy, in a row."""
        return np.concatenate([s.reshape(self.batch, -1) for s in strategies], axis=1)

    def _update_followers(self) -> None:
        _, followers = self.game.payoffs(self.commitments)
        utilities = self.game.follower_utilities(followers, self.strategies())
        self.sweeps += 1
        self.log_weights, self.totals = learn_from_sweep(
            self.knobs, self.log_weights, self.totals, np.concatenate(utilities, axis=1),
            self.sweeps)

    def step(self, actions: np.ndarray, rng: np.random.Generator
             ) -> tuple[dict[str, np.ndarray], np.ndarray, bool, dict[str, np.ndarray]]:
        """Play game t of all N episodes with the leaders' (N, d) actions at its signal."""
        if self.t >= self.horizon:
            raise RuntimeError("step() called after the episode ended")
        played, deviated = commit(self.commitments, self.committed, self.signal, actions,
                                  self.knobs.on_deviation)
        strategies = self.strategies()
        # The signal's share of the leader's expected payoff (the commitments at the other
        # signals play no part in it, so the table may still be filling up).
        leader, _ = self.game.payoffs(self.commitments)
        chances = self.game.profile_probabilities(strategies)[self._rows, self.signal]
        leader_value = np.einsum("nt,nt->n", leader[self._rows, self.signal], chances)
        response = self.in_response_phase()
        outcome = {"commitment": played, "deviated": deviated, "leader_value": leader_value,
                   "follower_strategy": self._flat(strategies)}
        if response and self.t % self.signals == self.signals - 1:
            for _ in range(self.knobs.response_steps if self.hidden else 1):
                self._update_followers()
        reward, done, info = self._settle(response, leader_value, outcome)
        self.signal = np.full(self.batch, self.t % self.signals, dtype=np.int64)
        return self.observation(), reward, done, info


# --- actions: how the leader's action becomes a strategy ------------------------------------


class LeaderActions:
    """The leader's action space and its decoding, shared by the forms."""

    def __init__(self, m: int, knobs: StackelbergPOMDPKnobs):
        self.m, self.commitment, self.action_type = m, knobs.commitment, knobs.action_type
        self.space: spaces.Space[Any]
        if self.commitment == "pure":
            self.space = spaces.Discrete(m)
        else:
            low, high = strategy_bounds(self.action_type)
            self.space = spaces.Box(low, high, shape=(m,), dtype=np.float32)

    def decode(self, actions: Any, batch: int) -> np.ndarray:
        """``batch`` actions (a single one when ``batch`` is 0) -> (max(batch, 1), m)
        strategies; refused with a ValueError unless in the action space."""
        if batch == 0:
            if not valid_action(self.space, actions):
                raise ValueError(f"action must be in {self.space}, got {actions!r} "
                                 f"({type(actions).__name__})")
        elif not valid_action(self.space, actions, batch):
            shape = (batch, *(self.space.shape or ()))
            raise ValueError(f"actions must be an array of shape {shape} (one leader action "
                             f"per sub-env, each in {self.space}), got {actions!r}")
        rows = max(batch, 1)
        if self.commitment == "pure":
            return np.eye(self.m)[np.asarray(actions, dtype=np.int64).reshape(rows)]
        # The repeated game's reading of weights and logits (all-zero weights: uniform).
        return strategies_from(np.asarray(actions).reshape(rows, self.m), self.action_type)

    def encode(self, strategy: Any) -> Any:
        """The action that commits to ``strategy`` (m,) (a pure one: its action index)."""
        x = np.asarray(strategy, dtype=np.float64)
        if x.shape != (self.m,) or not np.all(np.isfinite(x)) or np.any(x < 0) or x.sum() <= 0:
            raise ValueError(f"strategy must be a vector of {self.m} non-negative weights, got "
                             f"{strategy!r}")
        x = x / x.sum()
        if self.commitment == "pure":
            if np.count_nonzero(x) != 1:
                raise ValueError(f"a pure commitment needs a pure strategy, got {strategy!r}")
            return int(np.argmax(x))
        return strategy_parameters(x, self.action_type).astype(np.float32)


class MechanismActions:
    """A message game's mechanism action: ``Box`` [0, 1]^d, read by the mechanism as it is
    (``MessageGame.payoffs``)."""

    def __init__(self, d: int):
        self.d = d
        self.space = spaces.Box(0.0, 1.0, shape=(d,), dtype=np.float32)

    def decode(self, actions: Any, batch: int) -> np.ndarray:
        """As ``LeaderActions.decode``: (max(batch, 1), d) mechanism vectors."""
        if not valid_action(self.space, actions, batch or None):
            shape = (batch, self.d) if batch else (self.d,)
            raise ValueError(f"actions must be an array of shape {shape} in {self.space}, got "
                             f"{actions!r}")
        return np.asarray(actions, dtype=np.float64).reshape(max(batch, 1), self.d)

    def encode(self, mechanism: Any) -> Any:
        """The action playing ``mechanism`` (d,) in [0, 1]^d."""
        x = np.asarray(mechanism, dtype=np.float64)
        if x.shape != (self.d,) or not np.all((x >= 0) & (x <= 1)):
            raise ValueError(f"mechanism must be a vector of {self.d} numbers in [0, 1], got "
                             f"{mechanism!r}")
        return x.astype(np.float32)


# The prefix of the observation keys only a critic may read (GlcBrero/StackelbergPOMDP's
# "critic:" keys): ActorObservation strips them, the learned principals' ObservationLayout
# keeps them from the actor.
CRITIC_PREFIX = "critic:"


def is_critic_key(key: str | None) -> bool:
    """Whether an observation key is one only a critic may read."""
    return key is not None and key.startswith(CRITIC_PREFIX)


class ActorObservation(gym.ObservationWrapper[dict[str, Any], Any, dict[str, Any]]):
    """What the leader's actor may see: the observation without its ``critic:`` keys (the
    follower's strategy, the phase and its progress), so that the env is a plain POMDP for any
    Gymnasium learner."""

    def __init__(self, env: gym.Env[Any, Any]):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Dict):
            raise ValueError(f"ActorObservation needs a Dict observation space, got {space}")
        self.observation_space = spaces.Dict(
            {key: value for key, value in space.spaces.items() if not is_critic_key(key)})

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in observation.items() if not is_critic_key(key)}


# --- the Gymnasium forms ----------------------------------------------------------------------


class StackelbergPOMDPForm:
    """What the Gymnasium forms share: the validated knobs, the game, the core, the actions.

    Public, for wrappers and harnesses: ``knobs``, ``game`` (the MatrixGame played), ``m`` and
    ``n``, ``horizon`` (games per episode), ``values`` (``PresetValues`` of the game) and
    ``encode_action``.
    """

    game: MatrixGame | MessageGame
    core: StackelbergPOMDPCore | MessagePOMDPCore
    actions: LeaderActions | MechanismActions

    def _setup(self, batch: int, knobs: StackelbergPOMDPKnobs) -> None:
        self.knobs = knobs
        self.game = game_from_argument(knobs.game)
        self.values = preset_values(self.game)
        if isinstance(self.game, MessageGame):
            self.m, self.n = self.game.action_dim, self.game.messages
            self.core = MessagePOMDPCore(self.game, batch, knobs)
            if self.game.action == MECHANISM:
                self.actions = MechanismActions(self.m)
            else:
                self.actions = LeaderActions(self.m, knobs)
        else:
            self.m, self.n = self.game.shape
            self.core = StackelbergPOMDPCore(self.game, batch, knobs)
            self.actions = LeaderActions(self.m, knobs)
        self.horizon = self.core.horizon

    def encode_action(self, strategy: Any) -> Any:
        """The leader action committing to ``strategy`` (m,)."""
        return self.actions.encode(strategy)

    def _reset_info(self) -> dict[str, Any]:
        return {"stackelberg_value": self.values.mixed, "pure_commitment_value": self.values.pure}


class StackelbergPOMDPEnv(StackelbergPOMDPForm, gym.Env[dict[str, Any], Any]):
    """The Stackelberg POMDP of Brero et al.: the leader's commitment, a learning follower's
    response phase, then the reward phase.

    ## Description
    A bimatrix game: payoffs A (leader) and B (follower), both m x n. Each episode the
    follower's strategy starts uniform. *Response phase*: ``response_steps`` sweeps over the
    follower's n actions, one game each (the repository's enumeration of action profiles): in
    the game of follower action k the leader plays its commitment x and the follower records
    ``x @ B[:, k]``; after a sweep it updates once from the whole vector u: multiplicative
    weights ``w *= exp(epsilon * u)``, normalised (so a fixed commitment gives
    ``softmax(epsilon * t * u)`` after t sweeps; the repository's ``(1 + eps) ** u`` is
    ``epsilon = log(1 + eps)``), or, ``follower="quantal"``, the logit response
    ``softmax(mean u / temperature)`` to the sweeps so far, or, ``follower="q_learning"``,
    ``softmax(Q / temperature)`` with ``Q += alpha * (u - Q)`` per sweep. The leader gets 0. *Reward
    phase*: ``reward_steps`` games against the follower's learnt strategy p, which no longer
    changes. With ``hide_response_phase`` (the paper's "basic POMDP" ablation) the env plays
    the response phase itself, against the leader's first action, and the episode is the
    reward phase only.

    The commitment is fixed per leader observation for the whole episode: the first strategy
    the leader plays at each ``signal`` value is recorded, and a later different one (more
    than 1e-9 apart) is *replaced* by it and flagged (``info["deviated"]``), or refused with a
    ValueError when ``on_deviation="raise"``. A stochastic policy therefore commits with its
    first sample. The actor sees no clock: a clock would let it play one strategy to the
    learner and another in the reward phase, which is what the POMDP rules out.

    *Message games* (``game="simple-allocation"``, ``"spm-pi"`` or a ``MessageGame`` from
    ``mermaide.envs.message_games.message_game(name, messages)``: the paper's economic-design
    games): followers with private types (drawn from their priors) send messages, and the
    leader's action at each message profile (its ``signal``) is an allocation or a mechanism.
    Games run in sweeps over the S message profiles: ``response_steps`` sweeps in which every
    type of every follower updates its strategy over the messages once per sweep, by the same
    learner, from the exact expected utility of each message (over the other followers' types
    and messages), then ``reward_steps`` sweeps that pay the leader, at each profile, its
    expected payoff over the type profiles and messages that give it (a sweep pays exactly
    its expected payoff against the learnt strategies). Their basic POMDP
    (``hide_response_phase``): one sweep (reward 0) records the leader's commitments, the
    whole response phase runs at its end, then the reward sweeps.

    ## Action Space
    ``commitment="mixed"``: ``Box`` of shape (m,), weights in [0, 1] with x = w / sum(w) (all
    zero = uniform; ``action_type="weights"``) or logits l in [-1, 1] with x = softmax(10 l)
    (``"logits"``), as ``Mermaide/RepeatedStackelberg-v0`` encodes commitments.
    ``commitment="pure"``: ``Discrete(m)``. ``env.unwrapped.encode_action(x)`` builds one.
    Message games: ``"simple-allocation"`` as above with m = 3 items; ``"spm-pi"`` a ``Box``
    [0, 1]^4, the mechanism ``(score_0, score_1, price_first, price_second)``.

    ## Observation Space
    ``Dict``. The actor's key: ``"signal"``, ``Discrete(1)`` (always 0) when
    ``principal_observes="nothing"``; ``Discrete(n)`` when ``"actions"``: the follower's action
    in the coming game (the queried one in the response phase, one drawn from p in the reward
    phase), a uniformly drawn other one with probability ``observation_noise``. The critic's
    privileged keys: ``"critic:phase"`` (0 response, 1 reward, for the coming game),
    ``"critic:phase_progress"`` (fraction of that phase played) and
    ``"critic:follower_weights"`` (the follower's strategy p). ``ActorObservation(env)``
    removes the ``critic:`` keys. Message games: ``"signal"`` is ``Discrete(S)``, the message
    profile of the coming game, and ``"critic:follower_weights"`` every type's strategy over
    the messages, follower after follower.

    ## Rewards
    0 in the response phase. In the reward phase the leader's payoff expected over both mixed
    strategies, ``x @ A @ p``; with ``principal_observes="actions"`` the follower's action j is
    drawn from p (the leader reacts to it) and the reward is ``x @ A[:, j]``. (The
    repository scores matrix games against the argmax of the weights; the expectation under p
    has no sampling noise and is continuous in x.) At a Stackelberg strategy itself the
    follower is indifferent between actions and multiplicative weights stay uniform over them,
    so the value is approached by commitments just inside the region, not reached. Message
    games: 0, then the share of the leader's expected payoff of the coming profile (welfare,
    or allocated value minus the best possible value for ``"spm-pi"``).

    ## Starting State
    A uniform follower strategy, no commitment recorded.

    ## Episode End
    Terminates after ``response_steps * n + reward_steps`` games (``reward_steps`` with
    ``hide_response_phase``; ``(response_steps + reward_steps) * S`` in message games,
    ``(1 + reward_steps) * S`` with ``hide_response_phase``); no truncation.

    ## Arguments
    game (a preset of ``POMDP_GAMES`` or ``MESSAGE_GAMES``, default "conitzer", a
    MatrixGame, a MessageGame or a pair (A, B); message games refuse principal_observes
    "actions" and observation_noise, and "spm-pi" a pure commitment),
    follower ("mw", "quantal" or "q_learning"), epsilon (> 0, default 0.1, MW step),
    temperature (> 0, default 0.05, quantal and q_learning), alpha (in (0, 1], default 0.1,
    q_learning's step), response_steps (>= 0, default 100 sweeps), reward_steps (>= 1,
    default 1), commitment ("mixed" or "pure"), action_type ("weights" or "logits", mixed
    only), on_deviation ("replace" or "raise"), hide_response_phase (default False),
    observation_noise ([0, 1], default 0; no effect with "nothing", where the leader sees
    nothing of the follower), principal_observes ("nothing" or "actions").

    ## Info
    ``reset``: ``stackelberg_value`` (``solve``'s mixed-commitment value of the game; a
    message game's optimum, ``message_game_values``) and ``pure_commitment_value``.
    ``step``: ``reward_phase``, ``signal``, ``follower_action`` (the game's follower action;
    -1 in reward games scored in expectation), ``commitment``
    (the strategy played), ``deviated``, ``follower_reward``, ``leader_value`` (the leader's
    payoff of this game, also in the response phase), ``follower_strategy`` (p before this
    game), ``action_mask`` (pure commitments: the actions that can still have an effect); on
    the last game ``reward_phase_mean``. Message games have no ``follower_action`` and
    ``follower_reward``.

    ## Version History
    * v0: initial version.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    @knob_signature(StackelbergPOMDPKnobs, without=NO_INTERVENTIONS)
    def __init__(self, **knobs: Any):
        self._setup(1, StackelbergPOMDPKnobs(**knobs))
        self.action_space = self.actions.space
        self.observation_space = self.core.observation_space()
        self._needs_reset = True

    def _single(self, observation: dict[str, np.ndarray]) -> dict[str, Any]:
        return {key: value[0] for key, value in observation.items()}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        obs = self.core.reset(self.np_random)
        self._needs_reset = False
        info = self._reset_info()
        if self.knobs.commitment == "pure":
            info["action_mask"] = self.core.action_mask()[0]
        return self._single(obs), info

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError("step() called before reset() or after the episode ended")
        strategies = self.actions.decode(action, 0)
        obs, reward, done, info = self.core.step(strategies, self.np_random)
        self._needs_reset = done
        step_info = single_info(info)
        if self.knobs.commitment == "pure":
            step_info["action_mask"] = self.core.action_mask()[0]
        return self._single(obs), float(reward[0]), done, False, step_info


class StackelbergPOMDPVectorEnv(StackelbergPOMDPForm, LockstepVectorEnv):
    """``num_envs`` Stackelberg POMDPs in one core: the native ``gym.make_vec`` form of
    ``StackelbergPOMDPEnv`` (same arguments). Observations are dicts of (num_envs, ...) arrays,
    info holds (num_envs, ...) arrays under the single form's keys; all sub-environments end
    together and the next ``step`` resets them (next-step autoreset)."""

    @knob_signature(StackelbergPOMDPKnobs, NUM_ENVS, without=NO_INTERVENTIONS)
    def __init__(self, num_envs: int = 1, **knobs: Any):
        check_size("num_envs", num_envs)
        self._setup(num_envs, StackelbergPOMDPKnobs(**knobs))
        self._set_spaces(num_envs, self.actions.space, self.core.observation_space())

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        self._reset_generator(seed)
        obs = self.core.reset(self.np_random)
        info: dict[str, Any] = {key: np.full(self.num_envs, value)
                                for key, value in self._reset_info().items()}
        if self.knobs.commitment == "pure":
            info["action_mask"] = self.core.action_mask()
        return obs, info

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        strategies = self.actions.decode(actions, self.num_envs)

        def play() -> tuple[Any, np.ndarray, bool, dict[str, Any]]:
            obs, reward, done, info = self.core.step(strategies, self.np_random)
            if self.knobs.commitment == "pure":
                info["action_mask"] = self.core.action_mask()
            return obs, reward, done, info

        return self._lockstep_step(play)


# --- the PettingZoo form: the leader and the follower as two players -------------------------

# Knobs of the Gymnasium forms that the two-player form refuses: the follower plays from
# outside, so the env cannot run a hidden response phase for it.
PARALLEL_REFUSED = (*NO_INTERVENTIONS, "hide_response_phase")


class StackelbergPOMDPParallelEnv(TwoPlayerParallelEnv):
    """The Stackelberg POMDP with the follower as a player (``parallel_env()``).

    ## Description
    The game of ``Mermaide/StackelbergPOMDP-v0`` (see ``StackelbergPOMDPEnv``), with the
    built-in learner replaced by the ``"agent"`` player: each game the ``"principal"`` (the
    leader) plays its commitment and the follower, at the same time, one of its n actions j.
    The episode has as many games as the Gymnasium form: ``response_steps * n`` response games
    (leader reward 0), then ``reward_steps`` reward games. The commitment is recorded and
    enforced as in the Gymnasium form. Because the players move at once, the leader cannot see
    the follower's action of the coming game: only ``principal_observes="nothing"`` is allowed.

    ## Action Space
    ``"principal"``: the Gymnasium form's (``Box`` of shape (m,) or ``Discrete(m)``).
    ``"agent"``: ``Discrete(n)``.

    ## Observation Space
    ``"principal"``: the Gymnasium form's ``Dict``; ``"critic:follower_weights"`` is here the
    empirical frequency of the follower's response-phase actions (uniform before the first).
    ``"agent"``: ``mermaide.agents.observation``: its last action, its payoff, time left.

    ## Rewards
    ``"principal"``: 0 in response games, ``x @ A[:, j]`` in reward games. ``"agent"``:
    ``x @ B[:, j]`` in every game.

    ## Starting State
    No commitment recorded, no follower action seen.

    ## Episode End
    Both players terminate after the last game; no truncation.

    ## Arguments
    The Gymnasium form's, less hide_response_phase. The built-in follower (follower, epsilon,
    temperature) is not played here: it learns from whole sweeps of expected utilities, which
    a player acting once per game does not give, so ``as_principal_env`` needs an agent
    policy.

    ## Info
    ``"principal"``: ``signal``, ``commitment``, ``deviated``. ``env.game_info``: the whole
    step info of the core (``reward_phase``, ``follower_action``, ``follower_reward``,
    ``leader_value``, ...) and after ``reset`` the game's values, for harnesses.

    ## Version History
    * v0: initial version.
    """

    @knob_signature(StackelbergPOMDPKnobs, without=PARALLEL_REFUSED)
    def __init__(self, **knobs: Any):
        self.knobs = StackelbergPOMDPKnobs(**knobs)
        if self.knobs.principal_observes != OBSERVES_NOTHING:
            raise ValueError(f"principal_observes must be {OBSERVES_NOTHING!r} in the "
                             f"two-player form (the players move at once, so the leader cannot "
                             f"see the follower's coming action), got "
                             f"{self.knobs.principal_observes!r}")
        if is_message_game(self.knobs.game):
            raise ValueError(f"game={self.knobs.game!r} is a message game (followers with "
                             f"private types send messages); the two-player form plays matrix "
                             f"games (one follower, no types): a message game's PettingZoo "
                             f"form is MessagePOMDPParallelEnv, which parallel_env(game=...) "
                             f"chooses for it")
        self.game = matrix_game_from_argument(self.knobs.game)
        self.m, self.n = self.game.shape
        self.values = preset_values(self.game)
        self.actions = LeaderActions(self.m, self.knobs)
        core = StackelbergPOMDPCore(self.game, 1, self.knobs, external_follower=True)
        super().__init__(core, name="mermaide_stackelberg_pomdp_v0",
                         principal_action_space=self.actions.space, n_agent_actions=self.n,
                         horizon=core.horizon,
                         principal_info_keys=("signal", "commitment", "deviated"))

    def encode_action(self, strategy: Any) -> Any:
        """The leader action committing to ``strategy`` (m,)."""
        return self.actions.encode(strategy)

    # The base types the principal's observation as an array; this game's is a Dict.
    def _reset_core(self, options: Mapping[str, Any],  # type: ignore[override]
                    rng: np.random.Generator
                    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        obs = self.core.reset(rng)
        values = {"stackelberg_value": self.values.mixed,
                  "pure_commitment_value": self.values.pure}
        return {key: value[0] for key, value in obs.items()}, {}, values

    def _step_core(self, principal_action: Any, agent_actions: np.ndarray,
                   rng: np.random.Generator) -> tuple[Any, np.ndarray, bool, dict[str, Any]]:
        strategies = self.actions.decode(principal_action, 0)
        obs, reward, done, info = self.core.step(strategies, rng, follower_actions=agent_actions)
        info["agent_reward"] = info["follower_reward"]
        # The base reads row 0 of a batch of one observation: here a batch of one Dict.
        batch = np.empty(1, dtype=object)
        batch[0] = {key: value[0] for key, value in obs.items()}
        return batch, reward, done, info

    def episode_learner(self) -> tuple[str, dict[str, Any]]:
        raise ValueError(f"the built-in {self.knobs.follower!r} follower learns from whole "
                         f"sweeps of expected utilities, which the two-player form (one action "
                         f"and its payoff per game) does not give; play the Gymnasium form "
                         f"Mermaide/StackelbergPOMDP-v0 for it, or give an agent policy")


class MessagePOMDPParallelEnv(StackelbergPOMDPForm, ParallelEnv[str, dict[str, Any], Any]):
    """The Stackelberg POMDP of a message game with the leader as the one player
    (``parallel_env(game=...)`` with a message game).

    ## Description
    The message game of ``Mermaide/StackelbergPOMDP-v0`` (see ``StackelbergPOMDPEnv``: its
    core, its sweeps over the message profiles, its commitment per profile), played by the
    ``"principal"`` (the leader: the allocation rule or the mechanism). Every type of every
    follower keeps its built-in learner inside the env, as in the Gymnasium form: a type
    learns from the exact expected utility of each of its messages over the other followers'
    types and messages, which a player sending one message per game would not give. So the
    episode, its rewards and the leader's observations are the Gymnasium form's, step for
    step, under PettingZoo's API (and, AEC, ``env()``).

    ## Action Space
    ``"principal"``: the Gymnasium form's (``Box`` of shape (3,) or ``Discrete(3)`` for
    ``"simple-allocation"``, ``Box`` [0, 1]^4 for ``"spm-pi"``).

    ## Observation Space
    ``"principal"``: the Gymnasium form's ``Dict`` (``"signal"``, the coming message profile,
    and the ``critic:`` keys).

    ## Rewards
    The Gymnasium form's: 0 in the response phase, then each reward game's share of the
    leader's expected payoff.

    ## Starting State
    Every type's strategy uniform, no commitment recorded.

    ## Episode End
    The player terminates after the Gymnasium form's number of games; no truncation.

    ## Arguments
    The Gymnasium form's, with a message game (hide_response_phase included: the env plays
    the response phase itself either way).

    ## Info
    ``"principal"``: ``signal``, ``commitment``, ``deviated`` (and ``action_mask``, int8, with
    ``commitment="pure"``, also after ``reset``). ``env.game_info``: the whole step info of the
    core (``reward_phase``, ``leader_value``, ``follower_strategy``, ...) and after ``reset``
    the game's values, for harnesses.

    ## Version History
    * v0: initial version.
    """

    render_mode = None

    @knob_signature(StackelbergPOMDPKnobs, without=NO_INTERVENTIONS)
    def __init__(self, **knobs: Any):
        checked = StackelbergPOMDPKnobs(**knobs)
        if not is_message_game(checked.game):
            raise ValueError(f"game must be a message game ({', '.join(MESSAGE_GAMES)} or a "
                             f"MessageGame) in the one-player form, got {checked.game!r}; a "
                             f"matrix game's PettingZoo form is StackelbergPOMDPParallelEnv, "
                             f"with the follower as a player")
        self._setup(1, checked)
        self.metadata = {"name": "mermaide_stackelberg_pomdp_v0", "render_modes": [],
                         "is_parallelizable": True}
        self.possible_agents = [PRINCIPAL]
        # Built once: PettingZoo requires the same space object on every call (seeding).
        self._observation_space = self.core.observation_space()
        self.np_random: np.random.Generator | None = None
        self.agents: list[str] = []
        self.game_info: dict[str, Any] = {}

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        self._check_player(agent)
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Space[Any]:
        self._check_player(agent)
        return self.actions.space

    def _check_player(self, agent: str) -> None:
        if agent != PRINCIPAL:
            raise ValueError(f"agent must be {PRINCIPAL!r} (the followers' types learn inside "
                             f"the env), got {agent!r}")

    def _principal_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {key: self.game_info[key]
                                for key in ("signal", "commitment", "deviated")
                                if key in self.game_info}
        if self.knobs.commitment == "pure":
            # PettingZoo's mask dtype (its samplers take int8 masks only).
            info["action_mask"] = self.core.action_mask()[0].astype(np.int8)
        return info

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        if seed is not None or self.np_random is None:
            self.np_random, _ = seeding.np_random(seed)
        obs = self.core.reset(self.np_random)
        self.agents = [PRINCIPAL]
        self.game_info = self._reset_info()
        return ({PRINCIPAL: {key: value[0] for key, value in obs.items()}},
                {PRINCIPAL: self._principal_info()})

    def step(self, actions: Mapping[str, Any]) -> tuple[
            dict[str, dict[str, Any]], dict[str, float], dict[str, bool], dict[str, bool],
            dict[str, dict[str, Any]]]:
        if not self.agents or self.np_random is None:
            raise RuntimeError("step() called before reset() or after the episode ended")
        if not isinstance(actions, Mapping) or set(actions) != {PRINCIPAL}:
            raise ValueError(f"actions must map {PRINCIPAL!r} (the one player) to its action, "
                             f"got {actions!r}")
        played = self.actions.decode(actions[PRINCIPAL], 0)
        obs, reward, done, info = self.core.step(played, self.np_random)
        self.game_info = single_info(info)
        if done:
            self.agents = []
        return ({PRINCIPAL: {key: value[0] for key, value in obs.items()}},
                {PRINCIPAL: float(reward[0])}, {PRINCIPAL: bool(done)}, {PRINCIPAL: False},
                {PRINCIPAL: self._principal_info()})

    def render(self) -> None:
        gym.logger.warn("the mermaide games have no rendering; nothing was drawn")
        return None


def parallel_env(**knobs: Any) -> StackelbergPOMDPParallelEnv | MessagePOMDPParallelEnv:
    """The Stackelberg POMDP as a ``pettingzoo.ParallelEnv``; knobs as
    ``StackelbergPOMDPEnv``. A matrix game: ``StackelbergPOMDPParallelEnv``, the follower as
    a player (without hide_response_phase); a message game: ``MessagePOMDPParallelEnv``, the
    leader alone, the followers' learners inside."""
    if is_message_game(knobs.get("game")):
        return MessagePOMDPParallelEnv(**knobs)
    return StackelbergPOMDPParallelEnv(**knobs)


def env(**knobs: Any) -> AECEnv[str, Any, Any]:
    """The Stackelberg POMDP as a PettingZoo AEC env."""
    return aec_env(parallel_env(**knobs))


# PettingZoo's names for a game module's forms, and the names mermaide.envs exports.
raw_env = StackelbergPOMDPParallelEnv
stackelberg_pomdp_parallel, stackelberg_pomdp_aec = parallel_env, env

"""The repeated Stackelberg game ``Mermaide/RepeatedStackelberg-v0``: a principal commits to a
mixed strategy round after round against a learning agent, and may pay for bonuses on the
agent's actions.

The principal (leader) commits to a mixed strategy x over its m actions; the agent (follower)
responds with one of its n actions; payoffs are A[i, j] to the principal and B[i, j] to the
agent. Payoffs are *expected* over the principal's commitment: the principal's action is never
sampled, so the agent's payoff for action j is ``x @ B[:, j]`` and the principal's is
``x @ A[:, j]``, as in the game that ``mermaide.envs.equilibrium.solve`` solves.

``RepeatedStackelbergKnobs`` is the game's knob signature, written once for all its forms.
``RepeatedStackelbergCore`` simulates B games at once with (B, m, n) arrays;
``RepeatedStackelbergEnv`` is its B = 1 Gymnasium form, ``RepeatedStackelbergVectorEnv`` its
native ``gym.make_vec`` form (B = num_envs) and ``RepeatedStackelbergParallelEnv`` its
PettingZoo form with the agent as a second player (``parallel_env()`` and, AEC, ``env()``).
The one-round game ``mermaide.envs.stackelberg`` is the T = 1 case of this core and of these
forms, against the exact follower.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv

from mermaide.agents import make as make_learner
from mermaide.agents.base import Learner, is_learner_name, learner_names
from mermaide.agents.population import LearnerFamily, group_specs
from mermaide.checks import check_choice, check_int, check_number, check_size
from mermaide.envs.equilibrium import TIE_BREAKS, best_response, game_values
from mermaide.envs.games import (
    FOLLOWER,
    BayesianGamePopulation,
    Follower,
    GameDistribution,
    GamePopulation,
    MatrixGame,
    check_learner_params,
    game_population,
    game_population_names,
)
from mermaide.envs.knobs import (
    NUM_ENVS,
    OBSERVES_ACTIONS,
    OBSERVES_PAYOFFS,
    OBSERVES_REWARDS,
    BudgetLedger,
    Knobs,
    knob_signature,
    misreport_actions,
)
from mermaide.envs.parallel import (
    FOLLOWER_KNOBS,
    TwoPlayerParallelEnv,
    aec_env,
    task_learner,
    valid_action,
)
from mermaide.envs.vector import LockstepVectorEnv, single_info

__all__ = [
    "LOGIT_SCALE",
    "RepeatedStackelbergCore",
    "RepeatedStackelbergEnv",
    "RepeatedStackelbergKnobs",
    "RepeatedStackelbergParallelEnv",
    "RepeatedStackelbergVectorEnv",
    "env",
    "parallel_env",
    "raw_env",
]

# --- actions: how a flat Box becomes a commitment and an intervention ------------------------

# Logits live in [-1, 1] (the normalised Box SB3 recommends) and are scaled before the
# softmax, so a strategy can still put as little as e^-20 on an action.
LOGIT_SCALE = 10.0


def _from_weights(params: np.ndarray) -> np.ndarray:
    total = params.sum(axis=-1, keepdims=True)
    uniform = np.full_like(params, 1.0 / params.shape[-1])
    # All-zero weights have no direction: read them as the uniform strategy.
    return np.where(total > 0, params / np.where(total > 0, total, 1.0), uniform)


def _from_logits(params: np.ndarray) -> np.ndarray:
    shifted = np.exp(LOGIT_SCALE * (params - params.max(axis=-1, keepdims=True)))
    return shifted / shifted.sum(axis=-1, keepdims=True)


# action_type -> (low, high, params -> strategies, strategy -> params)
_ACTION_TYPES: dict[str, tuple[float, float, Callable[[np.ndarray], np.ndarray],
                               Callable[[np.ndarray], np.ndarray]]] = {
    "weights": (0.0, 1.0, _from_weights, lambda x: x),
    "logits": (-1.0, 1.0, _from_logits,
               lambda x: np.clip(np.log(np.maximum(x, 1e-300)) / LOGIT_SCALE, -1.0, 1.0)),
}
ACTION_TYPES = tuple(_ACTION_TYPES)


def strategy_bounds(action_type: str) -> tuple[float, float]:
    """The Box bounds of a strategy's parameters: [0, 1] weights or [-1, 1] logits."""
    low, high = _ACTION_TYPES[action_type][:2]
    return low, high


def strategies_from(params: np.ndarray, action_type: str) -> np.ndarray:
    """(B, m) strategy parameters -> (B, m) mixed strategies (rows in the simplex)."""
    return _ACTION_TYPES[action_type][2](params.astype(np.float64))


def strategy_parameters(strategy: np.ndarray, action_type: str) -> np.ndarray:
    """A normalised strategy (m,) -> the parameters that ``strategies_from`` maps to it."""
    return _ACTION_TYPES[action_type][3](strategy)


def action_space(m: int, n: int, action_type: str) -> spaces.Box:
    """``Box`` of shape (m + n + 1,): m strategy parameters, then n + 1 intervention scores."""
    low, high = strategy_bounds(action_type)
    return spaces.Box(low, high, shape=(m + n + 1,), dtype=np.float32)


def decode_actions(actions: np.ndarray, m: int, action_type: str
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(B, m + n + 1) flat actions -> strategies (B, m) and bonus actions (B,), -1 = none.

    The intervention is the argmax of the n + 1 scores (first on ties): 0 = none, j + 1 = a
    bonus on agent action j.
    """
    strategies = strategies_from(actions[:, :m], action_type)
    return strategies, np.argmax(actions[:, m:], axis=1) - 1


def encode_action(strategy: Any, n: int, bonus_action: int | None = None,
                  action_type: str = "weights") -> np.ndarray:
    """The flat float32 action that commits to ``strategy`` (m,) and puts the bonus on agent
    action ``bonus_action`` (None = no intervention): the inverse of ``decode_actions``."""
    check_choice("action_type", action_type, ACTION_TYPES)
    x = np.asarray(strategy, dtype=np.float64)
    if x.ndim != 1 or not np.all(np.isfinite(x)) or np.any(x < 0) or x.sum() <= 0:
        raise ValueError(f"strategy must be a vector of non-negative weights, got {strategy!r}")
    if bonus_action is not None and not 0 <= bonus_action < n:
        raise ValueError(f"bonus_action must be None or in [0, {n - 1}], got {bonus_action!r}")
    scores = np.zeros(n + 1)
    scores[0 if bonus_action is None else bonus_action + 1] = 1.0
    low, high = strategy_bounds(action_type)
    scores = np.where(scores > 0, high, low)
    params = strategy_parameters(x / x.sum(), action_type)
    return np.concatenate([params, scores]).astype(np.float32)


# --- the batched core ------------------------------------------------------------------------

OBSERVES = (OBSERVES_ACTIONS, OBSERVES_REWARDS, OBSERVES_PAYOFFS)
_LARGEST = float(np.finfo(np.float32).max)


class RepeatedStackelbergCore:
    """B matrix games of shape (m, n) played for T rounds together; no Python work per agent
    in ``step``.

    Each round every principal commits to x (m,) and may request a bonus on one agent action.
    The agent's payoff vector is ``x @ B + bonus * onehot(bonus action)`` (n,). A follower
    best-responds to it at once (``best_response`` with ``tie_break``); a learner acts from
    what it has learnt so far and then learns from it: full-information learners (``hedge``,
    ``best_response``) from the whole vector, bandit learners from the entry of their action.

    Observation layout (float32; m, n = the game's size; ``obs_dim`` = 2n + m + 3 + mn, plus 1
    when rewards are visible, plus 1 + mn when payoffs are visible):

    ============================  ==================================================
    ``[0, n)``                    one-hot of the agent's last response as observed (noisy);
                                  0 before the first round
    ``[n, n + m)``                the principal's last commitment x; 0 before the first round
    ``[n + m, 2n + m + 1)``       one-hot of the last intervention requested (0 = none);
                                  0 before the first round
    ``2n + m + 1``                fraction of the horizon left, 1 - t / T
    ``2n + m + 2``                fraction of the intervention budget left (1 when unlimited)
    ``[2n + m + 3, +mn)``         the principal's own payoffs A, row-major
    next 1 (rewards, payoffs)     the agent's last payoff received, + N(0, noise^2)
    next mn (payoffs)             the agent's payoffs B, row-major, + N(0, noise^2) drawn once
                                  per episode
    ============================  ==================================================
    """

    def __init__(self, shape: tuple[int, int], horizon: int, batch: int, knobs: Knobs,
                 bonus: float, tie_break: str = "principal", tie_tolerance: float = 1e-6,
                 external_agent: bool = False):
        # external_agent: the agents' actions come from outside (``step(..., agent_actions)``),
        # e.g. another player of a PettingZoo game; no built-in agent is created.
        self.external_agent = external_agent
        self.m, self.n = shape
        self.horizon, self.batch = horizon, batch
        self.knobs, self.bonus = knobs, bonus
        self.tie_break, self.tie_tolerance = tie_break, tie_tolerance
        self.rewards_visible = knobs.principal_observes in (OBSERVES_REWARDS, OBSERVES_PAYOFFS)
        self.payoffs_visible = knobs.principal_observes == OBSERVES_PAYOFFS
        m, n = shape
        self._a_start = 2 * n + m + 3
        self.obs_dim = (self._a_start + m * n + int(self.rewards_visible)
                        + m * n * int(self.payoffs_visible))
        self.ledger = BudgetLedger(batch, knobs.intervention_budget)
        self._rows = np.arange(batch)
        self._obs = np.zeros((batch, self.obs_dim), dtype=np.float32)
        self.t = 0
        self.games: list[MatrixGame] = []

    @classmethod
    def from_knobs(cls, knobs: RepeatedStackelbergKnobs,
                   shape: tuple[int, int], batch: int, external_agent: bool = False
                   ) -> RepeatedStackelbergCore:
        return cls(shape, knobs.horizon, batch, knobs, float(knobs.bonus), knobs.tie_break,
                   float(knobs.tie_tolerance), external_agent=external_agent)

    @property
    def budget_used(self) -> np.ndarray:
        """(B,) interventions applied so far this episode."""
        return self.ledger.used

    def can_intervene(self) -> np.ndarray:
        """(B,) bool: whether an intervention requested now would be applied (budget left)."""
        return self.ledger.allows()

    def observation_space(self) -> spaces.Box:
        low = np.zeros(self.obs_dim, dtype=np.float32)
        high = np.ones(self.obs_dim, dtype=np.float32)
        # Payoffs and noisy observations are unbounded: allow every finite float32.
        low[self._a_start:], high[self._a_start:] = -_LARGEST, _LARGEST
        return spaces.Box(low, high, dtype=np.float32)

    def reset(self, games: Sequence[MatrixGame], rng: np.random.Generator) -> np.ndarray:
        """Start B games with fresh agents; returns the first observations (B, obs_dim)."""
        if len(games) != self.batch:
            raise ValueError(f"games must hold {self.batch} games, got {len(games)}")
        for game in games:
            if game.shape != (self.m, self.n):
                raise ValueError(f"every game must be {self.m}x{self.n}, got {game.name!r} of "
                                 f"shape {game.shape}")
        self.games = list(games)
        self.A = np.stack([g.A for g in games])
        self.B = np.stack([g.B for g in games])
        self.equilibrium_values = game_values(self.games)
        kinds = np.array([g.learner for g in games])
        self._followers = (np.zeros(0, dtype=np.int64) if self.external_agent
                           else np.flatnonzero(kinds == FOLLOWER))
        learners = (np.zeros(0, dtype=np.int64) if self.external_agent
                    else np.flatnonzero(kinds != FOLLOWER))
        self._groups: list[tuple[Learner, np.ndarray]] = []
        for kind, params, members in group_specs([games[int(i)] for i in learners]):
            learner = make_learner(kind, **params)
            learner.reset(len(members), self.n, rng)
            self._groups.append((learner, learners[members]))
        self.ledger.reset()
        self.t = 0
        self.episode_value = np.zeros(self.batch)
        self.episode_cost = np.zeros(self.batch)
        m, n, start = self.m, self.n, self._a_start
        obs = self._obs
        obs[:] = 0.0
        obs[:, 2 * n + m + 1] = 1.0
        obs[:, 2 * n + m + 2] = 1.0
        obs[:, start:start + m * n] = self.A.reshape(self.batch, m * n)
        if self.payoffs_visible:
            noise = self.knobs.observation_noise
            seen = self.B.reshape(self.batch, m * n)
            if noise:
                seen = seen + noise * rng.standard_normal(seen.shape)
            obs[:, -m * n:] = seen
        return obs.copy()

    def _respond(self, agent_payoffs: np.ndarray, principal_payoffs: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
        actions = np.empty(self.batch, dtype=np.int64)
        for learner, index in self._groups:
            actions[index] = learner.act(rng)
        f = self._followers
        if f.size:
            actions[f] = best_response(agent_payoffs[f], principal_payoffs[f], self.tie_break,
                                       self.tie_tolerance)
        return actions

    def step(self, strategies: np.ndarray, bonus_actions: np.ndarray, rng: np.random.Generator,
             agent_actions: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, bool, dict[str, np.ndarray]]:
        """Play one round of all B games.

        ``strategies``: (B, m) commitments, rows in the simplex. ``bonus_actions``: (B,) ints
        in [-1, n): the agent action to put the bonus on, -1 = no intervention.
        ``agent_actions`` (B,) is required when the core was built with ``external_agent``
        (and refused otherwise): the external agents choose and learn on their own, from the
        ``agent_payoffs`` / ``agent_reward`` in the returned info.
        """
        if (agent_actions is None) == self.external_agent:
            raise ValueError("agent_actions must be given exactly when external_agent=True")
        rows = self._rows
        applied, refused = self.ledger.spend(bonus_actions >= 0)
        cost = applied * self.knobs.intervention_cost
        agent_payoffs = np.einsum("bm,bmn->bn", strategies, self.B)
        agent_payoffs[rows[applied], bonus_actions[applied]] += self.bonus
        principal_payoffs = np.einsum("bm,bmn->bn", strategies, self.A)
        if agent_actions is None:
            actions = self._respond(agent_payoffs, principal_payoffs, rng)
        else:
            actions = np.asarray(agent_actions, dtype=np.int64)
        agent_reward = agent_payoffs[rows, actions]
        for learner, index in self._groups:
            learner.update(actions[index], agent_reward[index],
                           agent_payoffs[index] if learner.feedback == "full" else None)
        self.t += 1
        value = principal_payoffs[rows, actions]
        self.episode_value += value
        self.episode_cost += cost

        observed = misreport_actions(actions, self.n, self.knobs.observation_noise, rng)
        m, n = self.m, self.n
        obs = self._obs
        obs[:, : 2 * n + m + 1] = 0.0
        obs[rows, observed] = 1.0
        obs[:, n:n + m] = strategies
        obs[rows, n + m + bonus_actions + 1] = 1.0
        obs[:, 2 * n + m + 1] = 1.0 - self.t / self.horizon
        obs[:, 2 * n + m + 2] = self.ledger.fraction_left()
        if self.rewards_visible:
            noise = self.knobs.observation_noise
            obs[:, self._a_start + m * n] = agent_reward + (
                noise * rng.standard_normal(self.batch) if noise else 0.0)
        info = {
            "agent_action": actions,
            "observed_action": observed,
            "intervened": applied,
            "refused": refused,
            "interventions_used": self.ledger.used.copy(),
            "cost": cost,
            "agent_reward": agent_reward,
            "agent_payoffs": agent_payoffs,
            "principal_value": value,
            "equilibrium_value": self.equilibrium_values.copy(),
        }
        done = self.t >= self.horizon
        if done:
            info["average_value"] = self.episode_value / self.horizon
            info["episode_cost"] = self.episode_cost.copy()
        return obs.copy(), value - cost, done, info


# --- what the forms of both matrix games share: the game source, the knobs, the forms -------

GameSource = str | MatrixGame | GamePopulation | BayesianGamePopulation | tuple[Any, Any]


def game_source(game: GameSource, agent: str | None = None,
                agent_kwargs: dict[str, Any] | None = None, batch: int = 1
                ) -> MatrixGame | GameDistribution:
    """Normalise the ``game`` argument: a preset name becomes its population, (A, B) a
    ``MatrixGame``. ``agent`` (a learner name or "follower") replaces the agents' kind; its
    ``batch`` agents, one per game of the form, are one learner (a per-agent parameter array
    has ``batch`` entries)."""
    if isinstance(game, str):
        source: MatrixGame | GameDistribution = game_population(game)
    elif isinstance(game, tuple) and len(game) == 2:
        source = MatrixGame(*game)
    elif isinstance(game, (MatrixGame, GamePopulation, BayesianGamePopulation)):
        source = game
    else:
        raise ValueError(f"game must be a population name ({', '.join(game_population_names())})"
                         f", a MatrixGame, a GamePopulation, a BayesianGamePopulation or a "
                         f"pair (A, B), got {game!r}")
    if agent is None:
        if agent_kwargs:
            raise ValueError(f"agent_kwargs apply only with an agent name, got "
                             f"agent_kwargs={agent_kwargs!r}")
        return source
    if agent != FOLLOWER and not is_learner_name(agent):
        raise ValueError(f"agent must be {FOLLOWER!r}, a registered learner or \"sb3:<Algorithm>\" "
                         f"({', '.join(learner_names())}), got {agent!r}")
    params = dict(agent_kwargs or {})
    if agent == FOLLOWER and params:
        raise ValueError(f"the follower takes no agent_kwargs, got {params!r}")
    if agent != FOLLOWER:
        check_learner_params(agent, params, argument="agent_kwargs",
                             batch=(batch, source_shape(source)[1]))
    if isinstance(source, MatrixGame):
        return dataclasses.replace(source, learner=agent, params=params)
    family = Follower() if agent == FOLLOWER else LearnerFamily(agent, params)
    return source.with_agents(family)


def source_shape(source: MatrixGame | GameDistribution) -> tuple[int, int]:
    return source.shape if isinstance(source, MatrixGame) else source.size


def draw_game(source: MatrixGame | GameDistribution, rng: np.random.Generator) -> MatrixGame:
    return source if isinstance(source, MatrixGame) else source.sample(rng)


@dataclass(frozen=True, kw_only=True)
class RepeatedStackelbergKnobs(Knobs):
    """Every knob of ``Mermaide/RepeatedStackelberg-v0``: the shared ones and the game's own,
    validated once for all its forms (see ``RepeatedStackelbergEnv``'s Arguments). The
    one-round game's ``StackelbergKnobs`` are these with the horizon and the agent fixed."""

    OBSERVES: ClassVar[tuple[str, ...]] = OBSERVES

    game: GameSource = "train"
    horizon: int = 100
    agent: str | None = None
    agent_kwargs: dict[str, Any] | None = None
    action_type: str = "weights"
    bonus: float = 1.0
    tie_break: str = "principal"
    tie_tolerance: float = 1e-6

    def __post_init__(self) -> None:
        check_int("horizon", self.horizon, 1)
        check_number("bonus", self.bonus, low=0.0, low_open=True)
        check_number("tie_tolerance", self.tie_tolerance, low=0.0)
        check_choice("action_type", self.action_type, ACTION_TYPES)
        check_choice("tie_break", self.tie_break, TIE_BREAKS)
        super().__post_init__()


class MatrixGameForm:
    """What the Gymnasium forms of the matrix games share: one core built from the validated
    knobs, actions in and games drawn.

    Public, for wrappers (``CommitmentGrid``) and harnesses: ``knobs`` (the validated
    ``RepeatedStackelbergKnobs``, or the one-round game's ``StackelbergKnobs``), ``game``
    (the MatrixGame or the distribution games are drawn from), ``m`` and ``n`` (the
    principal's and the agent's numbers of actions), ``horizon``, ``action_type`` and
    ``encode_action``.
    """

    follower_only = False  # the one-round game: the agent is always the exact follower

    def _setup(self, batch: int, knobs: RepeatedStackelbergKnobs) -> None:
        self.knobs = knobs
        self.game = game_source(knobs.game, knobs.agent, knobs.agent_kwargs, batch)
        self.m, self.n = source_shape(self.game)
        self.horizon, self.action_type = knobs.horizon, knobs.action_type
        self.core = RepeatedStackelbergCore.from_knobs(knobs, (self.m, self.n), batch)
        self._box = action_space(self.m, self.n, knobs.action_type)

    def encode_action(self, strategy: Any, bonus_action: int | None = None) -> np.ndarray:
        """The action committing to ``strategy`` (m,), with a bonus on ``bonus_action``."""
        return encode_action(strategy, self.n, bonus_action, self.action_type)

    def _games(self, given: Sequence[Any] | None, count: int, rng: np.random.Generator,
               option: str) -> list[MatrixGame]:
        if given is None:
            games = [draw_game(self.game, rng) for _ in range(count)]
        else:
            games = list(given)
            if len(games) != count or not all(isinstance(g, MatrixGame)
                                               and g.shape == (self.m, self.n) for g in games):
                raise ValueError(f"options[{option!r}] must be {count} {self.m}x{self.n} "
                                 f"MatrixGame(s), got {given!r}")
        if self.follower_only:
            games = [g if g.learner == FOLLOWER
                     else dataclasses.replace(g, learner=FOLLOWER, params={}) for g in games]
        return games

    def _decode(self, actions: Any, batch_shape: tuple[int, ...]
                ) -> tuple[np.ndarray, np.ndarray]:
        space = self._box
        if not valid_action(space, actions, batch_shape[0] if batch_shape else None):
            raise ValueError(f"action must be an array of shape {batch_shape + space.shape} in "
                             f"[{space.low[0]:g}, {space.high[0]:g}] ({self.m} strategy "
                             f"{self.action_type}, then {self.n + 1} intervention scores), got "
                             f"{actions!r} ({type(actions).__name__})")
        flat = np.asarray(actions, dtype=np.float64).reshape(-1, space.shape[0])
        return decode_actions(flat, self.m, self.action_type)


class MatrixGameEnv(MatrixGameForm, gym.Env[np.ndarray, np.ndarray]):
    """The B = 1 Gymnasium form of a matrix game (one round or repeated)."""

    # Gymnasium declares metadata as a class-level dict; ClassVar would clash with its typing.
    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, knobs: RepeatedStackelbergKnobs):
        self._setup(1, knobs)
        self.action_space = self._box
        self.observation_space = self.core.observation_space()
        self._needs_reset = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        given = (options or {}).get("game")
        (game,) = self._games(None if given is None else [given], 1, self.np_random, "game")
        obs = self.core.reset([game], self.np_random)
        self._needs_reset = False
        return obs[0], {"game": game, "equilibrium_value": float(self.core.equilibrium_values[0])}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError("step() called before reset() or after the episode ended")
        strategies, bonus_actions = self._decode(action, ())
        obs, reward, done, info = self.core.step(strategies, bonus_actions, self.np_random)
        self._needs_reset = done
        step_info = single_info(info)
        step_info["strategy"] = strategies[0]
        step_info["bonus_action"] = int(bonus_actions[0])
        return obs[0], float(reward[0]), done, False, step_info


class MatrixGameVectorEnv(MatrixGameForm, LockstepVectorEnv):
    """``num_envs`` matrix games in one ``RepeatedStackelbergCore``: the native
    ``gym.make_vec`` form.

    All sub-environments share the horizon, so they end together; the next ``step`` after the
    end resets them all (Gymnasium's next-step autoreset) and returns the first observations
    with zero rewards. Each sub-environment draws its own game at every reset;
    ``reset(options={"games": [...]})`` plays given ones. Info holds (num_envs, ...) arrays
    under the single form's keys.
    """

    def __init__(self, num_envs: int, knobs: RepeatedStackelbergKnobs):
        check_size("num_envs", num_envs)
        self._setup(num_envs, knobs)
        self._set_spaces(num_envs, self._box, self.core.observation_space())

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        self._reset_generator(seed)
        games = self._games((options or {}).get("games"), self.num_envs, self.np_random,
                            "games")
        obs = self.core.reset(games, self.np_random)
        return obs, {"equilibrium_value": self.core.equilibrium_values.copy()}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        strategies, bonus_actions = self._decode(actions, (self.num_envs,))

        def play() -> tuple[np.ndarray, np.ndarray, bool, dict[str, Any]]:
            obs, reward, done, info = self.core.step(strategies, bonus_actions, self.np_random)
            info["strategy"], info["bonus_action"] = strategies, bonus_actions
            return obs, reward, done, info

        return self._lockstep_step(play)


# --- the repeated game's Gymnasium forms ----------------------------------------------------


class RepeatedStackelbergEnv(MatrixGameEnv):
    """T rounds of a Stackelberg matrix game against a learning agent.

    ## Description
    Each episode a game is drawn: payoffs A (principal) and B (agent), both m x n, and the
    agent's kind: the exact ``"follower"`` (best response to the current commitment), or a
    learner from ``mermaide.agents`` over its n actions: ``best_response`` (fictitious play
    with ``memory="mean"``, best response to the last round with ``"last"``), ``hedge`` and
    ``exp3`` (no-regret), ``epsilon_greedy``, ``ucb``, ... Each round the principal commits to
    a mixed strategy x and may request a costed bonus on one agent action. The agent's payoff
    for action j this round is ``x @ B[:, j]`` (+ the bonus on the bonus action): payoffs are
    expected over x, the principal's action is not sampled. The follower sees the commitment
    and best-responds; a learner acts from what it has learnt, then learns from this round's
    payoffs (full-information learners the whole vector, bandit learners their own entry).

    ## Action Space
    ``Box`` of shape (m + n + 1,), as in ``StackelbergEnv``: m strategy weights in [0, 1]
    (``action_type="weights"``, x = w / sum(w), all zero = uniform) or logits l in [-1, 1]
    (``"logits"``, x = softmax(10 l)), then n + 1 intervention scores whose argmax is 0 = no
    bonus or j + 1 = a bonus on agent action j. ``env.encode_action(x, bonus_action)`` builds one.

    ## Observation Space
    ``Box`` laid out in ``RepeatedStackelbergCore``: one-hot of the last response as observed
    (flipped to a random other action with probability ``observation_noise``), the last
    commitment, the one-hot of the last intervention, the fractions of time and budget left,
    the principal's own A, and, as ``principal_observes`` allows, the agent's last payoff
    received and its matrix B (+ Gaussian noise of std ``observation_noise``).

    ## Rewards
    Each round ``x @ A[:, j] - cost`` for the agent's action j; cost is ``intervention_cost``
    when a bonus was applied. A refused intervention (budget spent) is neither applied nor
    charged.

    ## Starting State
    A fresh agent (no experience) in a game from ``game``; the first three observation blocks
    are 0. ``reset(options={"game": MatrixGame(...)})`` plays a given game.

    ## Episode End
    Terminates after ``horizon`` rounds (time left is observed).

    ## Arguments
    game (population preset name, default "train"; a MatrixGame, a GamePopulation, a
    BayesianGamePopulation or a pair (A, B)), horizon (>= 1, default 100), agent (None = as the
    game says; a learner name or "follower" overrides it), agent_kwargs (the learner's
    parameters, with agent), action_type ("weights" or "logits"), intervention_budget (None =
    unlimited, default), intervention_cost (>= 0, default 0.1), bonus (> 0, default 1.0),
    observation_noise ([0, 1], default 0), principal_observes ("actions", "actions+rewards" or
    "actions+payoffs"), tie_break ("principal" or "adversarial", for the follower),
    tie_tolerance (default 1e-6).

    ## Info
    As ``StackelbergEnv`` every round: ``agent_action``, ``observed_action``, ``intervened``,
    ``refused``, ``interventions_used``, ``cost``, ``agent_reward``, ``agent_payoffs``,
    ``principal_value``, ``equilibrium_value``, ``strategy``, ``bonus_action``; on the last
    round also ``average_value`` (mean principal value over the episode, before costs) and
    ``episode_cost``.

    ## Version History
    * v0: initial version.
    """

    @knob_signature(RepeatedStackelbergKnobs)
    def __init__(self, **knobs: Any):
        super().__init__(RepeatedStackelbergKnobs(**knobs))


class RepeatedStackelbergVectorEnv(MatrixGameVectorEnv):
    """``num_envs`` repeated Stackelberg games in one core (``gym.make_vec`` form of
    ``RepeatedStackelbergEnv``, same arguments)."""

    @knob_signature(RepeatedStackelbergKnobs, NUM_ENVS)
    def __init__(self, num_envs: int = 1, **knobs: Any):
        super().__init__(num_envs, RepeatedStackelbergKnobs(**knobs))


# --- the PettingZoo form: the principal and the agent as two players -------------------------


class RepeatedStackelbergParallelEnv(TwoPlayerParallelEnv):
    """The repeated Stackelberg game with the principal and the agent as two players
    (``repeated_stackelberg_parallel``).

    ## Description
    The game of ``Mermaide/RepeatedStackelberg-v0`` (see ``RepeatedStackelbergEnv``), but the
    agent is a player: each round the principal commits to a mixed strategy x over its m
    actions and may request a costed bonus on one agent action, and at the same time (without
    seeing this round's commitment) the agent picks one of its n actions j. The agent receives
    ``x @ B[:, j]`` plus the bonus if it was on j; payoffs are expected over x. Because the
    agent moves simultaneously, it is a *learning* agent here, as the repeated game's learners
    are; the exact follower, which sees the current commitment, is not a player of this form.

    ## Action Space
    ``"principal"``: ``Box`` of shape (m + n + 1,), exactly ``RepeatedStackelbergEnv``'s (m
    strategy weights or logits, then n + 1 intervention scores); ``env.encode_action(x,
    bonus_action)`` builds one. ``"agent"``: ``Discrete(n)``.

    ## Observation Space
    ``"principal"``: exactly ``RepeatedStackelbergEnv``'s (see ``RepeatedStackelbergCore``):
    the agent's last action as observed (wrong with probability ``observation_noise``), its
    own last commitment and intervention, time and budget left, its own payoffs A, and as
    ``principal_observes`` allows the agent's last payoff and its matrix B (+ Gaussian noise
    of std ``observation_noise``). ``"agent"``: ``Box`` of shape (n + 2,), see
    ``mermaide.agents.observation``: one-hot of its own last action, the payoff it received
    (bonus included, no noise added) and the fraction of time left. It sees neither matrix nor
    the principal's commitments; they show only in its payoffs.

    ## Rewards
    ``"principal"``: ``x @ A[:, j] - cost``. ``"agent"``: ``x @ B[:, j]`` + the bonus when the
    applied intervention was on j.

    ## Starting State
    A game from ``game``; ``reset(options={"game": MatrixGame(...)})`` plays a given one. The
    learner the game names is what ``as_principal_env(env)`` plays when no agent policy is
    given (a game whose agent is the follower needs an agent policy there).

    ## Episode End
    Both players terminate after ``horizon`` rounds; there is no truncation.

    ## Arguments
    The knobs of ``RepeatedStackelbergEnv`` with the same defaults and checks: game, horizon,
    agent, agent_kwargs, action_type, intervention_budget, intervention_cost, bonus,
    observation_noise, principal_observes; not tie_break and tie_tolerance, which only the
    follower uses.

    ## Info
    ``step``: the principal gets ``observed_action``, ``intervened``, ``refused``,
    ``interventions_used``, ``cost``, ``strategy`` (its decoded x) and ``bonus_action``; the
    agent nothing. ``env.game_info`` holds the whole step info of ``RepeatedStackelbergEnv``
    (true agent action and payoffs, ``principal_value``, ``equilibrium_value``, and at the end
    ``average_value`` and ``episode_cost``), and after ``reset`` the episode's ``game`` and
    ``equilibrium_value``, for harnesses; it is part of neither player's view.

    ## Version History
    * v0: initial version.
    """

    @knob_signature(RepeatedStackelbergKnobs, without=FOLLOWER_KNOBS)
    def __init__(self, **knobs: Any):
        self.knobs = RepeatedStackelbergKnobs(**knobs)
        self.action_type, horizon = self.knobs.action_type, self.knobs.horizon
        self.game = game_source(self.knobs.game, self.knobs.agent, self.knobs.agent_kwargs)
        self.m, self.n = source_shape(self.game)
        core = RepeatedStackelbergCore.from_knobs(self.knobs, (self.m, self.n), 1,
                                                  external_agent=True)
        super().__init__(
            core, name="mermaide_repeated_stackelberg_v0",
            principal_action_space=action_space(self.m, self.n, self.action_type),
            n_agent_actions=self.n, horizon=horizon,
            principal_info_keys=("observed_action", "intervened", "refused",
                                 "interventions_used", "cost", "strategy", "bonus_action"))
        self.matrix_game: MatrixGame | None = None

    def encode_action(self, strategy: Any, bonus_action: int | None = None) -> np.ndarray:
        """The principal's action committing to ``strategy`` (m,), bonus on ``bonus_action``."""
        return encode_action(strategy, self.n, bonus_action, self.action_type)

    def _reset_core(self, options: Mapping[str, Any], rng: np.random.Generator
                    ) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
        """``options={"game": MatrixGame(...)}`` plays a given game; others are ignored."""
        game = options.get("game")
        if game is None:
            game = draw_game(self.game, rng)
        elif not isinstance(game, MatrixGame) or game.shape != (self.m, self.n):
            raise ValueError(f"options['game'] must be a {self.m}x{self.n} MatrixGame, got "
                             f"{game!r}")
        self.matrix_game = game
        obs = self.core.reset([game], rng)
        return obs[0], {}, {"game": game,
                            "equilibrium_value": float(self.core.equilibrium_values[0])}

    def _step_core(self, principal_action: Any, agent_actions: np.ndarray,
                   rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, bool, dict[str, np.ndarray]]:
        strategies, bonus_actions = decode_actions(
            np.asarray(principal_action, dtype=np.float64)[None], self.m, self.action_type)
        obs, reward, done, info = self.core.step(strategies, bonus_actions, rng,
                                                 agent_actions=agent_actions)
        info["strategy"], info["bonus_action"] = strategies, bonus_actions
        return obs, reward, done, info

    def episode_learner(self) -> tuple[str, dict[str, Any]]:
        learner, params = task_learner(self.matrix_game)
        if learner == FOLLOWER:
            raise ValueError(f"this episode's agent is the {FOLLOWER!r}, which sees the current "
                             f"commitment and so cannot play the simultaneous two-player form; "
                             f"give an agent policy, or a game whose agent is a learner "
                             f"(agent='hedge', ...)")
        return learner, params


def parallel_env(**knobs: Any) -> RepeatedStackelbergParallelEnv:
    """The repeated Stackelberg game as a ``pettingzoo.ParallelEnv``; knobs as
    ``RepeatedStackelbergEnv`` (without the follower's tie_break and tie_tolerance)."""
    return RepeatedStackelbergParallelEnv(**knobs)


def env(**knobs: Any) -> AECEnv[str, np.ndarray, Any]:
    """The repeated Stackelberg game as a PettingZoo AEC env."""
    return aec_env(parallel_env(**knobs))


# PettingZoo's names for a game module's forms (raw_env: the unwrapped class, parallel here), and
# the names mermaide.envs exports.
raw_env = RepeatedStackelbergParallelEnv
repeated_stackelberg_parallel, repeated_stackelberg_aec = parallel_env, env
